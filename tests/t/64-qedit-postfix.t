#!/bin/bash
# tests/t/64-qedit-postfix.t -- qedit on the queue of a real Postfix 3.7 that runs, with
# Postfix as the judge: --mark-delivered overwrites the recipient record's type byte with D,
# as the queue manager marks a finished recipient; postcat -q then shows the record done,
# postqueue -j no longer lists the recipient, and a delivery run tries only the others;
# corrupt/ stays empty and Postfix logs no warning. --add-recipient and --set-sender are
# refused with one line that says how to get the effect, nothing changed. A fresh instance
# of our own ("qedit", ports 39490-39495); the helpers are 57-postfix-act.t's.
. "$(dirname "$0")/../lib.sh"
export LC_ALL=C TZ=UTC
LAB=$QT_ROOT/tests/lab
SETUP=$LAB/postfix-setup.sh
TOOLS=$LAB/postfix-tools
B=$QT_BIN

[ "$(id -u)" = 0 ] || bail_out "64-qedit-postfix.t runs Postfix: run it as root"
command -v jq >/dev/null || bail_out "jq is needed (scripts/install-deps)"
bash "$SETUP" prepare >/dev/null 2>&1 || bail_out "postfix lab: prepare failed"
# one run at a time: the instances and their ports are this test's own
exec 7>"$QT_LAB/postfix/.64-qedit-postfix.lock"
flock 7
tmp=$(mktemp -d)
insts=() helpers=()
cleanup() {
    local i
    for i in "${insts[@]}"; do
        # shellcheck disable=SC2086
        set -- $i
        QT_PFX_PORT_BASE=$2 QT_PFX_LONG_IDS=$3 bash "$SETUP" stop "$1" >/dev/null 2>&1
    done
    for i in "${helpers[@]}"; do kill "$i" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

# ---------------------------------------------------------------- helpers
pj() { postqueue -c "$C" -j 2>/dev/null | jq -r '"\(.queue_id) \(.queue_name)"' | sort; }
ids_of() { "$B/qgrep" --spool "$Q" -i "$@" | sort; }	# ids_of SELECTION...
queue_of() { pj | awk -v i="$1" '$1 == i { print $2 }'; }
count() { find "$@" -type f 2>/dev/null | wc -l; }
sm() { sendmail -C "$C" "$@"; }
msg() {  # msg FROM TO SUBJECT [HEADER-LINE]: a message with a body of its own
    printf 'From: %s\nTo: %s\nSubject: %s\nMessage-ID: <%s.%s@lab.test>\n%s%s\n%s\n' "$1" "$2" "$3" \
        "$RANDOM$RANDOM" "$(date +%s%N)" "${4:-}" "${4:+
}" "$(head -c 600 /dev/urandom | base64 -w 64)"
}
# wait until maildrop and incoming are empty, active holds $1 files, and nothing moved twice
settle() {
    local i last='' now
    for i in $(seq 1 300); do
        now="$(count "$Q/maildrop") $(count "$Q/incoming") $(count "$Q/active") $(count "$Q/deferred") $(count "$Q/hold") $(count "$Q/defer")"
        [ "$now" = "$last" ] && case $now in "0 0 $1 "*) return 0;; esac
        last=$now; sleep 0.3
    done
    diag "queue did not settle: maildrop incoming active deferred hold defer = $now"
    return 1
}
# every log (defer/, bounce/, trace/) whose message is in no queue
orphans() {
    local f id
    find "$Q/defer" "$Q/bounce" "$Q/trace" -type f 2>/dev/null | while read -r f; do
        id=${f##*/}
        [ -n "$(find "$Q/maildrop" "$Q/incoming" "$Q/active" "$Q/deferred" "$Q/hold" -name "$id" -type f)" ] ||
            echo "${f#"$Q"/}"
    done
}
# the maillog's complaints since line $1 (but cleanup's about the clock: on a loaded VM a
# file's timestamp can run a second ahead of time(), which says nothing about the queue)
complaints() {
    tail -n +"$(($1 + 1))" "$LOG" | grep -E 'warning:|fatal:|panic:|error:' |
        grep -vE 'warning: (file system clock is [0-9]+ seconds? ahead of local clock|resetting file time stamps - this hurts performance)$'
}
# postfix agrees NAME SINCE: what check-queue.sh checks after an external tool acted
agrees() {
    local name=$1 since=$2 bad
    postqueue -c "$C" -j >"$tmp/pj.json" 2>"$tmp/pj.err"
    ok $? "$name: postqueue -j works" || diag "$(cat "$tmp/pj.err")"
    is "$(grep -v 'Mail system is down' "$tmp/pj.err")" "" "$name: postqueue -j says nothing on stderr"
    bad=$(jq -r '"\(.queue_id) \(.queue_name)"' "$tmp/pj.json" | xargs -P 8 -L 1 sh -c \
        'postcat -c "$0" -q "$1" 2>&1 | head -1 | grep -qF "*** ENVELOPE RECORDS $2/" || echo "$1($2)"' "$C" | sort | tr '\n' ' ')
    is "$bad" "" "$name: postcat -q finds every message postqueue lists, in that queue"
    is "$(find "$Q/corrupt" -type f)" "" "$name: corrupt/ is empty"
    is "$(orphans)" "" "$name: no log without its message"
    is "$(find "$Q"/{maildrop,incoming,active,deferred,hold,defer,bounce,trace} -type d ! -user postfix)" "" \
        "$name: every queue directory is postfix's"
    "$B/qls" --spool "$Q" >/dev/null 2>"$tmp/qls.err"
    is "$?:$(cat "$tmp/qls.err")" "0:" "$name: qls reads every file, each in its right hash directory"
    is "$(complaints "$since")" "" "$name: no warning, error or fatal in Postfix's log"
}
# smtp_batch PORT N: N messages in one SMTP session with the smtpd on PORT, message i from
# t(i%10)@example.org to the tarpit, the retry transport or the closed port in turn, each
# with a body of its own; prints the queue IDs
smtp_batch() {
    perl -MIO::Socket::INET -e '
        my ($port, $n) = @ARGV;
        my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1", PeerPort => $port, Timeout => 60)
            or die "connect: $!\n";
        sub reply { my $t = ""; while (defined(my $l = <$s>)) { $t .= $l; return $t if $l =~ /^\d{3} / } die "closed\n" }
        sub cmd { print $s "$_[0]\r\n"; my $r = reply(); $r =~ /^$_[1]/ or die "$_[0]: $r"; $r }
        reply(); cmd("EHLO client.lab.test", 250);
        for my $i (0 .. $n - 1) {
            my $to = ("m$i\@tarpit.test", "m$i\@tempfail.test", "m$i\@remote.example")[$i % 3];
            my $from = "t" . ($i % 10) . "\@example.org";
            cmd("MAIL FROM:<$from>", 250); cmd("RCPT TO:<$to>", 250); cmd("DATA", 354);
            my $body = join("", map { chr(65 + int(rand(26))) } 1 .. 700);
            $body =~ s/(.{70})/$1\r\n/g;
            print $s "From: $from\r\nTo: $to\r\nSubject: trial $i\r\n\r\n$body\r\n.\r\n";
            my $r = reply(); $r =~ /^250 .*queued as (\w+)/ or die "DATA: $r"; print "$1\n";
        }
        cmd("QUIT", 221);' "$1" "$2"
}
# holdlock flock|ofd FILE: hold a shared flock() (as a delivery agent does) or an OFD write lock
# (as another qtools process does) on FILE, touch $tmp/locked, and wait to be killed (run it
# in the background: the background process is python itself, its PID in $!)
holdlock() {
    exec python3 - "$1" "$2" "$tmp/locked" <<'PY'
import fcntl, os, struct, sys, time
fd = os.open(sys.argv[2], os.O_RDWR)
if sys.argv[1] == "flock":
    fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
else:
    fcntl.fcntl(fd, getattr(fcntl, "F_OFD_SETLK", 37), struct.pack("hhqqi4x", fcntl.F_WRLCK, 0, 0, 0, 0))
open(sys.argv[3], "w").close()
time.sleep(60)
PY
}
# a snapshot of the queue: every file's path, inode, mode and size
snap() { (cd "$Q" && find maildrop incoming active deferred hold defer bounce trace -type f -printf '%p %i %m %s\n' | sort); }

# new_instance NAME PORT_BASE LONG: a fresh instance of our own, a tarpit on its port, started;
# sets C, Q, LOG and the PFX_* variables, PATH to the lab's Postfix, MAIL_CONFIG
new_instance() {
    local p
    export QT_PFX_PORT_BASE=$2 QT_PFX_LONG_IDS=$3
    bash "$SETUP" stop "$1" >/dev/null 2>&1            # left over from an interrupted run
    p=$(tr -dc 0-9 2>/dev/null <"$QT_LAB/postfix/$1/run/tarpit.pid") &&
        tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | grep -q 'postfix-tools/tarpit' && kill "$p"
    rm -rf "${QT_LAB:?}/postfix/$1"
    bash "$SETUP" init "$1" >"$tmp/init.log" 2>&1 || { cat "$tmp/init.log" >&2; bail_out "init $1 failed"; }
    eval "$(bash "$SETUP" env "$1")"
    C=$PFX_CONF Q=$PFX_QDIR LOG=$PFX_LOG
    export MAIL_CONFIG=$C
    insts+=("$1 $2 $3")
    perl "$TOOLS/tarpit.pl" "$PFX_TARPIT_PORT" "$PFX_RUN/tarpit.pid" </dev/null >/dev/null 2>&1 &
    helpers+=($!)
    for p in $(seq 50); do [ -s "$PFX_RUN/tarpit.pid" ] && break; sleep 0.1; done
    bash "$SETUP" start "$1" >/dev/null 2>&1 || bail_out "postfix $1 did not start"
}

new_instance qedit 39490 no
since=$(wc -l <"$LOG")
rcpts_of() { postqueue -c "$C" -j | jq -r --arg id "$1" 'select(.queue_id == $id) | .recipients[].address' | sort | paste -sd' '; }

# ---------------------------------------------------------------- on hold, then delivered
# three recipients: two in discard.test (delivered at once when tried), one to the closed port
msg alice@example.org a@discard.test "held" "X-Lab-Hold: yes" |
    sm -f alice@example.org a@discard.test b@discard.test c@remote.example
settle 0 || bail_out "the queue did not settle"
id=$(pj | awk '$2 == "hold" { print $1; exit }')
[ -n "$id" ] || bail_out "no message on hold"
is "$(rcpts_of "$id")" "a@discard.test b@discard.test c@remote.example" "postqueue -j: three recipients"
snap >"$tmp/s0"
"$B/qedit" --spool "$Q" --add-recipient d@discard.test "$id" 2>"$tmp/err"
is "$?:$(wc -l <"$tmp/err")" "2:1" "--add-recipient: refused, one line ..."
grep -q 'sendmail' "$tmp/err"; ok $? "... saying how to get the effect (re-inject a copy)"
"$B/qedit" --spool "$Q" --set-sender x@example.org "$id" 2>"$tmp/err"
is "$?:$(wc -l <"$tmp/err")" "2:1" "--set-sender: refused, one line"
"$B/qedit" --spool "$Q" --mark-delivered $'a@discard.test\n' "$id" 2>"$tmp/err"
is "$?:$(wc -l <"$tmp/err")" "2:1" "an address with a newline: refused, one line"
"$B/qedit" --spool "$Q" --mark-delivered nobody@discard.test "$id" 2>"$tmp/err"
is "$?" 2 "a non-recipient: exit 2"
is "$(snap)" "$(cat "$tmp/s0")" "... and the queue is byte for byte as it was"
f=$Q/hold/$id
cp "$f" "$tmp/f0"; t0=$(stat -c %Y "$f")
"$B/qedit" --spool "$Q" --mark-delivered a@discard.test "$id" 2>"$tmp/err"
is "$?:$(cat "$tmp/err")" "0:qedit: 1 changed (marked delivered)" "--mark-delivered a@discard.test: exit 0"
at=$(postcat -c "$C" -o -q "$id" 2>/dev/null | awk '$2 == "done_recipient:" && $3 == "a@discard.test" { print $1; exit }' | tr -d :)
is "$(cmp -l "$tmp/f0" "$f" | awk '{ print $1 - 1, $2, $3 }')" "$at 122 104" \
    "one byte changed, R to D, at the record's offset (postcat -o's)"
is "$(stat -c %Y "$f")" "$t0" "... the mtime kept"
postcat -c "$C" -q "$id" | grep -qx 'done_recipient: a@discard.test'; ok $? "postcat -q: done_recipient: a@discard.test"
is "$(rcpts_of "$id")" "b@discard.test c@remote.example" "postqueue -j no longer lists it"
"$B/qedit" --spool "$Q" --mark-delivered a@discard.test "$id" 2>"$tmp/err"
is "$?" 1 "marking it again: nothing to do, exit 1"
is "$("$B/qls" --spool "$Q" | grep -c 'a@discard.test')" 0 "qls does not list it either"
# release and deliver: b is discarded (delivered), c deferred, a never tried
"$B/qfreeze" --spool "$Q" -u "$id" 2>/dev/null
postqueue -c "$C" -i "$id"
settle 0
for _ in $(seq 50); do grep -q "$id: to=<c@remote.example>" "$LOG" && break; sleep 0.2; done
grep -q "$id: to=<b@discard.test>.*status=sent" "$LOG"; ok $? "maillog: b@discard.test delivered"
grep -q "$id: to=<c@remote.example>.*status=deferred" "$LOG"; ok $? "maillog: c@remote.example tried (deferred)"
grep -q "$id: to=<a@discard.test>" "$LOG"; [ $? -ne 0 ]; ok $? "maillog: a@discard.test never tried"
is "$(rcpts_of "$id")" "c@remote.example" "postqueue -j: only c left"

# ---------------------------------------------------------------- deferred, with its log
for i in 1 2 3; do msg bob@example.org "r$i@remote.example" "bob $i" | sm -f bob@example.org "r$i@remote.example" "s$i@remote.example"; done
settle 0
mapfile -t bob < <("$B/qgrep" --spool "$Q" -i -f '^<bob@')
is "${#bob[@]}" 3 "three deferred messages from bob"
"$B/qgrep" --spool "$Q" -f '^<bob@' -r '^r2@' -i | "$B/qedit" --spool "$Q" --mark-delivered r2@remote.example - 2>"$tmp/err"
is "$?:$(cat "$tmp/err")" "0:qedit: 1 changed (marked delivered)" "qgrep -r r2 -i | qedit --mark-delivered r2 -"
"$B/qedit" --spool "$Q" --mark-all-delivered -f '^<bob@' -r '^r1@' 2>"$tmp/err"
is "$?:$(cat "$tmp/err")" "0:qedit: 1 changed (all marked delivered)" "qedit --mark-all-delivered -r r1"
r2=$(postqueue -c "$C" -j | jq -r 'select(any(.recipients[]; .address == "s2@remote.example")) | .queue_id')
is "$(rcpts_of "$r2")" "r2@remote.example s2@remote.example" \
    "postqueue -j: r2 still listed, from the delay log of the last attempt (showq reads it)"
postqueue -c "$C" -p >"$tmp/pq"
"$B/qls" --spool "$Q" >"$tmp/qls"
is_same_file "$tmp/pq" "$tmp/qls" "qls = postqueue -p afterwards"
mark=$(wc -l <"$LOG")
postqueue -c "$C" -f
for _ in $(seq 50); do [ "$(tail -n +"$mark" "$LOG" | grep -c "to=<s[123]@remote.example>")" -ge 3 ] && break; sleep 0.2; done
settle 0
is "$(rcpts_of "$r2")" "s2@remote.example" "after the next attempt: r2 no longer listed"
tail -n +"$mark" "$LOG" | grep -q "to=<r2@remote.example>"; [ $? -ne 0 ]; ok $? "... and never tried"
tail -n +"$mark" "$LOG" | grep -q "to=<r1@remote.example>"; [ $? -ne 0 ]; ok $? "r1 (--mark-all-delivered) never tried ..."
is "$(postqueue -c "$C" -j | jq -r 'select(.sender == "bob@example.org") | .recipients[].address' | grep -c '^[rs]1@')" 0 \
    "... and its message is gone (every recipient done: the queue manager finished it)"
agrees "after qedit" "$since"

done_testing
