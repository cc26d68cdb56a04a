# tests/act-postfix.sh -- what the tests running a Postfix instance of their own share
# (57-postfix-act.t, 67-qedit-postfix.t, 42-postfix-bounce-log.t): source it after
# tests/lib.sh. It sets LAB, SETUP, TOOLS and B, checks that it can run (root, jq, the lab
# prepared), takes the test's own lock, sets the cleanup trap (the instances in insts, the
# helper PIDs in helpers), and defines the helpers (pj, settle, agrees, snap,
# new_instance...), which read C, Q and LOG.
# shellcheck shell=bash
export LC_ALL=C TZ=UTC
LAB=$QT_ROOT/tests/lab
SETUP=$LAB/postfix-setup.sh
TOOLS=$LAB/postfix-tools
B=$QT_BIN
[ "$(id -u)" = 0 ] || bail_out "${0##*/} runs Postfix: run it as root"
command -v jq >/dev/null || bail_out "jq is needed (scripts/install-deps)"
bash "$SETUP" prepare >/dev/null 2>&1 || bail_out "postfix lab: prepare failed"
# one run at a time: the instances and their ports are this test's own
exec 7>"$QT_LAB/postfix/.${0##*/}.lock"
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
    local p i
    export QT_PFX_PORT_BASE=$2 QT_PFX_LONG_IDS=$3
    bash "$SETUP" stop "$1" >/dev/null 2>&1            # left over from an interrupted run
    # a tarpit left over holds the port until it is gone: the new one could not listen,
    # and the messages meant to hang in active/ would be deferred (connection refused)
    if p=$(tr -dc 0-9 2>/dev/null <"$QT_LAB/postfix/$1/run/tarpit.pid") &&
        tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | grep -q 'postfix-tools/tarpit'; then
        kill "$p"
        for i in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -rf "${QT_LAB:?}/postfix/$1"
    bash "$SETUP" init "$1" >"$tmp/init.log" 2>&1 || { cat "$tmp/init.log" >&2; bail_out "init $1 failed"; }
    eval "$(bash "$SETUP" env "$1")"
    C=$PFX_CONF Q=$PFX_QDIR LOG=$PFX_LOG
    export MAIL_CONFIG=$C
    insts+=("$1 $2 $3")
    perl "$TOOLS/tarpit.pl" "$PFX_TARPIT_PORT" "$PFX_RUN/tarpit.pid" </dev/null >/dev/null 2>&1 &
    helpers+=($!)
    # (its PID file is written once it listens; a loaded machine may take a while)
    for p in $(seq 300); do [ -s "$PFX_RUN/tarpit.pid" ] && break; sleep 0.1; done
    [ -s "$PFX_RUN/tarpit.pid" ] || bail_out "$1: the tarpit does not listen on $PFX_TARPIT_PORT"
    bash "$SETUP" start "$1" >/dev/null 2>&1 || bail_out "postfix $1 did not start"
}

