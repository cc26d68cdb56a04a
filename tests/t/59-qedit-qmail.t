#!/bin/bash
# qedit on queues a real qmail wrote (tests/fixtures/qmail, notqmail 1.09): --mark-delivered
# and --mark-all-delivered turn T records into D in place, as qmail-send's own markdone does,
# whether qmail-send runs or not; --set-sender and --add-recipient are refused, nothing done.
# (The helpers, and the fake qmail-send, are 55-qmail-act.t's.)
#
# qmail-send "running" means: someone holds flock(LOCK_EX) on lock/sendmutex. Here that is a
# small helper (perl, started through a symlink named qmail-send so that its process name is
# qmail-send's) which holds the flock and writes one line to a file per SIGALRM it gets.
# "Stopped": nobody holds it. Nothing here runs qmail itself (Debian does not package it);
# the truth is the fixtures' own files: every file not acted on must keep its bytes and its
# inode, and what the tools list afterwards is qmail-qread's golden minus what was removed.
. "$(dirname "$0")/../lib.sh"

F=$QT_ROOT/tests/fixtures/qmail
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
export LC_ALL=C TZ=UTC
B=$QT_BIN

# extract STATE NAME: $tmp/NAME/queue; the two crash leftovers every state has are dropped
# (a scan reports them, which makes every selection exit 2) unless KEEP=1
extract() {
    rm -rf "${tmp:?}/$2"; mkdir -p "$tmp/$2" && tar -C "$tmp/$2" -xzf "$F/state-$1.tar.gz" ||
        bail_out "cannot extract state $1"
    [ "${KEEP:-0}" = 1 ] && return
    for id in $(leftovers "$1"); do rm -f "$tmp/$2"/queue/{mess/$((id % 23)),intd,todo}/"$id"; done
}
leftovers() { awk '/^ID [0-9]+ / && !/\[S[45] / { print $2 }' "$F/$1/decoded.txt"; }

# every file and symlink under DIR (the hold area too): path, inode, size, mode, owner, mtime,
# sha256 (a symlink: its target). Symlinks are never followed.
snap() {
    perl -MFile::Find -MDigest::SHA -e '
        my $top = shift; my @out;
        find({ no_chdir => 1, wanted => sub {
            my @s = lstat $_ or return; (my $p = $_) =~ s{^\Q$top\E/?}{};
            if (-l _) { push @out, "$p -> " . readlink($_); return }
            return unless -f _;
            push @out, sprintf "%s %d %d %o %d:%d %d %s", $p, $s[1], $s[7], $s[2] & 07777,
                $s[4], $s[5], $s[9], Digest::SHA->new(256)->addfile($_)->hexdigest;
        } }, $top);
        print "$_\n" for sort @out;' "$1"
}
without() {  # without SNAPFILE ID...: the snapshot lines of every other message
    local f=$1; shift
    awk -v ids="$*" 'BEGIN { n = split(ids, a, " "); for (i = 1; i <= n; i++) skip[a[i]] = 1 }
        { split($1, p, "/"); if (!(p[length(p)] in skip)) print }' "$f"
}
only() {  # only SNAPFILE ID...: the snapshot lines of those messages
    local f=$1; shift
    awk -v ids="$*" 'BEGIN { n = split(ids, a, " "); for (i = 1; i <= n; i++) keep[a[i]] = 1 }
        { split($1, p, "/"); if (p[length(p)] in keep) print }' "$f"
}
# one line per message block of a listing (message line + recipient lines), sorted
blocks() { awk '/^exit=/ { next } /^[0-9]/ { if (b != "") print b; b = $0; next }
                { b = b "\\n" $0 } END { if (b != "") print b }' "$1" | sort; }
drop_blocks() {  # drop_blocks BLOCKS ID...
    local f=$1; shift
    awk -v ids="$*" 'BEGIN { n = split(ids, a, " "); for (i = 1; i <= n; i++) skip["#" a[i]] = 1 }
        !($6 in skip)' "$f"
}
files_of() {  # files_of QUEUE ID: every path of that ID in the queue, hold area excluded
    (cd "$1" && find . -path ./qtools-hold -prune -o -name "$2" -print | sort)
}

# ---------------------------------------------------------------- a fake qmail-send
mkdir -p "$tmp/bin"
ln -s "$(command -v perl)" "$tmp/bin/qmail-send"
ln -s "$(command -v perl)" "$tmp/bin/not-qmail"
cat >"$tmp/holder.pl" <<'EOF'
use strict; use Fcntl qw(:flock O_RDONLY);
my ($lock, $rec) = @ARGV;
sysopen(my $fh, $lock, O_RDONLY) or die "$lock: $!";
flock($fh, LOCK_EX | LOCK_NB) or die "flock $lock: $!";
$SIG{ALRM} = sub { open my $o, '>>', $rec or die; print $o "ALRM\n"; close $o };
$SIG{TERM} = sub { exit 0 };
open my $r, '>', "$rec.ready" or die; close $r;
my $end = time + 120; sleep 1 while time < $end;
EOF
hp=
# it runs as the real one does, as the owner of lock/sendmutex (qmails): qrm and qrun, run as
# root, become qmails before they signal it (tests/t/60-privileges.t)
chmod o+x "$tmp"; mkdir -m 1777 "$tmp/sig"
start_send() {  # start_send QUEUE [NAME]: hold lock/sendmutex as process NAME (qmail-send)
    rm -f "$tmp/sig/alrm" "$tmp/sig/alrm.ready"
    setpriv --reuid="$(stat -c %u "$1/lock/sendmutex")" --regid="$(stat -c %g "$1/lock/sendmutex")" \
        --clear-groups "$tmp/bin/${2:-qmail-send}" "$tmp/holder.pl" "$1/lock/sendmutex" "$tmp/sig/alrm" &
    hp=$!; pids+=("$hp")
    for _ in $(seq 100); do [ -e "$tmp/sig/alrm.ready" ] && return; sleep 0.05; done
    bail_out "the fake qmail-send did not start"
}
stop_send() { kill "$hp" 2>/dev/null; wait "$hp" 2>/dev/null; hp=; }
alrms() { [ -e "$tmp/sig/alrm" ] && wc -l <"$tmp/sig/alrm" | tr -d ' ' || echo 0; }

rfile() { echo "$1/remote/$(($2 % 23))/$2"; }
done_in() {  # done_in ID ADDR... <BLOCKS: the blocks with those recipients of ID done
    local id=$1; shift
    perl -e '
        my ($id, @a) = @ARGV; @ARGV = ();
        while (<>) { if (/  #\Q$id\E  /) { for my $a (@a) { s/\\n\t(remote|local)\t\Q$a\E(?=\\n|$)/\\n  done\t$1\t$a/g } } print }' "$id" "$@"
}

# ================================================================ qmail-send stopped
extract d st
Q=$tmp/st/queue
snap "$Q" >"$tmp/before"
cp "$(rfile "$Q" 10971599)" "$tmp/r0"
ino=$(stat -c %i "$(rfile "$Q" 10971599)")
"$B/qedit" --spool "$Q" --mark-delivered tmp-cc@example.com 10971599 2>"$tmp/err"
is "$?" 0 "qedit --mark-delivered, qmail-send stopped: exit 0"
is "$(cat "$tmp/err")" "qedit: 1 changed (marked delivered)" "... the count on stderr"
snap "$Q" >"$tmp/after"
is_same_file <(without "$tmp/before" 10971599) <(without "$tmp/after" 10971599) "... every other message untouched"
at=$(grep -boa 'Ttmp-cc@example.com' "$tmp/r0" | cut -d: -f1)
is "$(cmp -l "$tmp/r0" "$(rfile "$Q" 10971599)" | awk '{ print $1, $2, $3 }')" "$((at + 1)) 124 104" \
    "... one byte of remote/ changed, T to D, at the record's offset"
is "$(stat -c %i "$(rfile "$Q" 10971599)")" "$ino" "... in place (same inode)"
is_same_file <(blocks "$F/d/qmail-qread.txt" | done_in 10971599 tmp-cc@example.com) <(blocks <("$B/qls" --spool "$Q")) \
    "qls = qmail-qread's listing with that recipient done"
# duplicates: both records of the address
"$B/qedit" --spool "$Q" --mark-delivered '<tmp-dup@example.com>' 10971621 2>/dev/null
is "$?" 0 "--mark-delivered of a duplicated recipient ..."
is "$(tr '\0' '\n' <"$(rfile "$Q" 10971621)")" "$(printf 'Dtmp-dup@example.com\nDtmp-dup@example.com')" "... marks both records"
"$B/qedit" --spool "$Q" --mark-delivered tmp-dup@example.com 10971621 2>"$tmp/err"
is "$?" 1 "marking it again: nothing to do, exit 1"
grep -q 'delivered already' "$tmp/err"; ok $? "... said"

# refusals leave every byte
snap "$Q" >"$tmp/before"
"$B/qedit" --spool "$Q" --mark-delivered nobody@example.com 10971599 2>"$tmp/err"
is "$?" 2 "a non-recipient: exit 2"
grep -q 'is not a recipient' "$tmp/err"; ok $? "... said"
"$B/qedit" --spool "$Q" --mark-delivered $'tmp-to@example.com\n' 10971599 2>"$tmp/err"
is "$?$(wc -l <"$tmp/err")" "21" "an address with a newline: exit 2, one line"
"$B/qedit" --spool "$Q" --set-sender x@example.com 10971599 2>"$tmp/err"
is "$?$(wc -l <"$tmp/err")" "21" "--set-sender: refused, one line"
"$B/qedit" --spool "$Q" --add-recipient x@example.com ALL 2>"$tmp/err"
is "$?$(wc -l <"$tmp/err")" "21" "--add-recipient: refused, one line"
is_same_file "$tmp/before" <(snap "$Q") "... and nothing changed"

# ================================================================ qmail-send running
extract d run
Q=$tmp/run/queue
start_send "$Q"
snap "$Q" >"$tmp/before"
"$B/qedit" --spool "$Q" -n --mark-all-delivered 10971609 >"$tmp/out" 2>/dev/null
is "$?:$(cat "$tmp/out")" "0:would mark all delivered in 10971609" "-n while qmail-send runs: what it would do"
is_same_file "$tmp/before" <(snap "$Q") "... and nothing changed"
"$B/qedit" --spool "$Q" --mark-all-delivered 10971609 10971599 2>"$tmp/err"
is "$?" 0 "--mark-all-delivered while qmail-send runs: exit 0"
is_same_file <(without "$tmp/before" 10971609 10971599) <(without "$(snap "$Q" >"$tmp/after"; echo "$tmp/after")" 10971609 10971599) \
    "... every other message untouched"
is "$(tr '\0' '\n' <"$(rfile "$Q" 10971609)")" "$(printf 'Dbad-1@example.com\nDtmp-2@example.com')" "... every record done"
[ -e "$Q/bounce/10971609" ]; ok $? "... bounce/ID kept: the earlier failure is still reported"
is "$(alrms)" 0 "... and qmail-send is not woken (it reads the records again at its next pass)"
is_same_file <(blocks "$F/d/qmail-qread.txt" | done_in 10971609 tmp-2@example.com |
    done_in 10971599 tmp-to@example.com tmp-cc@example.com tmp-bcc@example.com) <(blocks <("$B/qls" --spool "$Q")) \
    "qls = qmail-qread's listing with every recipient of both done"
"$B/qedit" --spool "$Q" --set-sender x@example.com 10971603 2>"$tmp/err"
is "$?$(wc -l <"$tmp/err")" "21" "--set-sender while qmail-send runs: refused, one line"
stop_send

done_testing
