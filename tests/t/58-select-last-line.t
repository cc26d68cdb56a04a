#!/bin/bash
# A body whose last line has no newline: a regex that cannot be matched on that line (the
# engine's match limit) is "cannot tell", never "no match" -- under -v that would select, and
# qrm would remove, a message nobody could judge. On a copy of the Exim sample spool.
. "$(dirname "$0")/../lib.sh"

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
tar -C "$tmp" -xzf "$QT_ROOT/tests/fixtures/exim/sample.tar.gz" || bail_out "exim sample"
S=$tmp/main; B=$QT_BIN
ID=$(cd "$S/input" && ls | sed -n 's/-D$//p' | head -1)
[ -n "$ID" ] || bail_out "no message in the sample"
# 40 a's and a b, no newline: ^(a|aa)+$ backtracks past PCRE2's match limit on it
printf 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab' >>"$S/input/$ID-D"
RE='^(a|aa)+$'

"$B/qgrep" --spool "$S" -v --body "$RE" -i "$ID" >"$tmp/out" 2>"$tmp/err"
is "$?:$(wc -c <"$tmp/out")" "2:0" "qgrep -v --body on an unterminated last line the engine gives up on: not selected, exit 2"
grep -q "cannot tell whether it matches.*match limit" "$tmp/err"; ok $? "... and says why" || diag "$(cat "$tmp/err")"

"$B/qrm" --spool "$S" -n -v --body "$RE" "$ID" >"$tmp/out" 2>"$tmp/err"
is "$?:$(wc -c <"$tmp/out")" "2:0" "qrm -n -v --body: no 'would remove', exit 2"
"$B/qrm" --spool "$S" -n -e "not body ~ \"$RE\"" "$ID" >"$tmp/out" 2>/dev/null
is "$?:$(wc -c <"$tmp/out")" "2:0" "qrm -n -e 'not body ~ ...': the same through an expression"
"$B/qrm" --spool "$S" -v --body "$RE" "$ID" 2>"$tmp/err"
is "$?" 2 "qrm -v --body: exit 2 ..."
[ -e "$S/input/$ID-D" ] && [ -e "$S/input/$ID-H" ]; ok $? "... and the message is still there"
done_testing
