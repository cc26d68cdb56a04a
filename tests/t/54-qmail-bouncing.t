#!/bin/bash
# qrm while qmail-send runs, of a message whose every recipient is done but which is still
# bouncing (bounce/ID: qmail-send is about to tell the sender): it is removed as any other,
# bounce/ID first, so that the sender is not told -- not refused as "already removed" (which
# left bounce/ID to qmail-send). On the notqmail fixture of 55-qmail-act.t.
. "$(dirname "$0")/../lib.sh"

F=$QT_ROOT/tests/fixtures/qmail
tmp=$(mktemp -d); hp=
trap '[ -n "$hp" ] && kill "$hp" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
B=$QT_BIN
mkdir -p "$tmp/q" && tar -C "$tmp/q" -xzf "$F/state-d.tar.gz" || bail_out "cannot extract state d"
Q=$tmp/q/queue
ID=10971601	# bob's, one local recipient still to do (T)
f=$(cd "$Q" && find local remote -name "$ID" -type f)
[ -n "$f" ] || bail_out "no channel file for $ID"
# qmail-send tried it and failed for good: the recipient done, the failure in bounce/ID
perl -0pi -e 's/^T/D/' "$Q/$f"
printf 'Ddefer@lab.example\0Sorry, no mailbox here by that name.\n\0' >"$Q/bounce/$ID"
chown --reference="$Q/bounce" "$Q/bounce/$ID"

# a fake qmail-send: holds flock(LOCK_EX) on lock/sendmutex, survives its ALRMs
mkdir -p "$tmp/bin" && ln -s "$(command -v perl)" "$tmp/bin/qmail-send"
cat >"$tmp/holder.pl" <<'PL'
use strict; use Fcntl qw(:flock O_RDONLY);
sysopen(my $fh, $ARGV[0], O_RDONLY) or die "$ARGV[0]: $!";
flock($fh, LOCK_EX | LOCK_NB) or die "flock: $!";
$SIG{ALRM} = sub { }; $SIG{TERM} = sub { exit 0 };
open my $r, '>', $ARGV[1] or die; close $r;
my $end = time + 120; sleep 1 while time < $end;
PL
chmod o+x "$tmp"; mkdir -m 1777 "$tmp/sig"
setpriv --reuid="$(stat -c %u "$Q/lock/sendmutex")" --regid="$(stat -c %g "$Q/lock/sendmutex")" \
    --clear-groups "$tmp/bin/qmail-send" "$tmp/holder.pl" "$Q/lock/sendmutex" "$tmp/sig/ready" &
hp=$!
for _ in $(seq 100); do [ -e "$tmp/sig/ready" ] && break; sleep 0.05; done
[ -e "$tmp/sig/ready" ] || bail_out "the fake qmail-send did not start"

"$B/qls" --spool "$Q" "$ID" | grep -q bouncing; ok $? "$ID is listed as bouncing, every recipient done"
"$B/qrm" --spool "$Q" -n "$ID" >"$tmp/out" 2>"$tmp/err"
is "$?:$(cat "$tmp/out")" "0:would remove $ID" "qrm -n: would remove it" || diag "$(cat "$tmp/err")"
"$B/qrm" --spool "$Q" "$ID" 2>"$tmp/err"
is "$?:$(cat "$tmp/err")" "0:qrm: 1 removed" "qrm: removed ..."
[ ! -e "$Q/bounce/$ID" ]; ok $? "... its bounce/ is gone: the sender is not told"
"$B/qrm" --spool "$Q" "$ID" 2>"$tmp/err"
is "$?" 1 "a second qrm: already removed, exit 1"
grep -q "already removed, waiting for qmail-send" "$tmp/err"; ok $? "... and says so" || diag "$(cat "$tmp/err")"
done_testing
