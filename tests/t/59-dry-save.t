#!/bin/bash
# qrm -n --save DIR gives the real run's verdict: a DIR the real run cannot make or write
# into is refused by the dry run too (it used to say "would remove", exit 0, while the real
# run stopped with exit 2). On a copy of the Exim sample spool.
. "$(dirname "$0")/../lib.sh"

tmp=$(mktemp -d); trap 'chmod -R u+w "$tmp"; rm -rf "$tmp"' EXIT
tar -C "$tmp" -xzf "$QT_ROOT/tests/fixtures/exim/sample.tar.gz" || bail_out "exim sample"
S=$tmp/main; B=$QT_BIN
ID=$(cd "$S/input" && ls | sed -n 's/-H$//p' | head -1)
OWNER=$(stat -c %U "$S/input")
mkdir "$tmp/ro"; chmod 555 "$tmp/ro"; chmod o+x "$tmp"
verdict() {  # verdict NAME DIR: the dry run's exit and first error line equal the real run's
    "$B/qrm" --spool "$S" -n --save "$2" "$ID" >/dev/null 2>"$tmp/dry"; local d=$?
    cp -a "$S" "$tmp/real"
    "$B/qrm" --spool "$tmp/real" --save "${3:-$2}" "$ID" >/dev/null 2>"$tmp/real.err"; local r=$?
    rm -rf "$tmp/real"
    sed -i "s/ would be / /; s|$S/|SPOOL/|" "$tmp/dry"; sed -i "s|$tmp/real/|SPOOL/|; s|${3:-$2}|$2|" "$tmp/real.err"
    is "$d:$(head -1 "$tmp/dry")" "$r:$(head -1 "$tmp/real.err")" "$1: qrm -n --save gives the real run's verdict ($r)"
}
verdict "a DIR under a missing directory" "$tmp/no/such/dir"
[ "$(id -u)" = 0 ] && [ "$OWNER" != root ] && verdict "a DIR the spool's owner may not write" "$tmp/ro"
verdict "a DIR to be made" "$tmp/new" "$tmp/new2"
[ ! -e "$tmp/new" ]; ok $? "... which the dry run did not make"
done_testing
