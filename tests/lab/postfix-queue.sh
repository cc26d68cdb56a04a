#!/bin/bash
# tests/lab/postfix-queue.sh INST - fill instance INST's private queue with REAL submissions
# to Debian's Postfix (sendmail/postdrop, SMTP over loopback, a milter), stop Postfix, then
# capture the goldens: what Postfix's own tools print for that queue.
#
# usage: postfix-queue.sh short|long       (QT_PFX_REBUILD=1 rebuilds even if up to date)
#
# Result (QT_LAB defaults to <repo>/build/lab):
#   $QT_LAB/postfix/INST/queue/          the queue_directory, left in place, Postfix stopped
#   $QT_LAB/postfix/INST/conf/           its config_directory (main.cf, master.cf)
#   $QT_LAB/postfix/golden/INST/
#       COMMANDS      one line per golden: FILE<TAB>RC<TAB>ARGS  (FILE relative to this
#                     directory, RC the exit status, ARGS the command line without the
#                     "-c $QT_LAB/postfix/INST/conf" that every command also had)
#       T0            the capture time, epoch seconds. The queue's arrival times are the REAL
#                     submission times (seconds before T0), so T0 is per build, not lib.sh's
#                     fixed QT_T0: run tools under test as  QT_T0=$(cat T0) qt_faketime CMD
#       ENV           the environment of the captures: TZ=UTC LC_ALL=C PERL_HASH_SEED=0
#                     PERL_PERTURB_KEYS=0, and for qshape only libfaketime with
#                     FAKETIME="@<T0 as %Y-%m-%d %H:%M:%S UTC>" (what qt_faketime sets)
#       INFO          queue_directory, config_directory, long ids, per-queue file counts
#       postqueue-p.txt postqueue-j.jsonl qshape-*.txt postcat/ID.{q,e,h,b}.txt
#       FILE.stderr   a command's stderr, only where it printed something
#       maillog       Postfix's log of the build
#       .stamp        checksum of the lab scripts: the build is skipped while it matches
#
# Queues afterwards: maildrop (pickup disabled), incoming (queue manager disabled), active
# (deliveries hanging on a loopback tarpit when Postfix was stopped), deferred (relayhost is
# a closed loopback port), hold (header_checks HOLD, milter quarantine, postsuper -h), with
# bounces (sender <>), done recipients, a forced expiry (postsuper -f), milter-edited files,
# persistent bounce/ and defer/ logs. Run as root; never leaves a daemon running.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
export QT_LAB=${QT_LAB:-$REPO/build/lab}
mkdir -p "$QT_LAB"; QT_LAB=$(cd "$QT_LAB" && pwd)
SETUP=$HERE/postfix-setup.sh
TOOLS=$HERE/postfix-tools
INST=${1:-}
case $INST in short|long) ;; *) echo "usage: $0 short|long" >&2; exit 2;; esac
[ "$(id -u)" = 0 ] || { echo "postfix-queue: must run as root" >&2; exit 1; }
export LC_ALL=C TZ=UTC
GOLD=$QT_LAB/postfix/golden/$INST
say() { echo "postfix-queue[$INST]: $*" >&2; }

# ---------------------------------------------------------------- up to date?
STAMP_SUM=$(cat "$SETUP" "$HERE/postfix-queue.sh" "$TOOLS"/* | sha256sum | cut -c1-64)
if [ "${QT_PFX_REBUILD:-0}" != 1 ] && [ -f "$GOLD/.stamp" ] &&
   [ "$(cat "$GOLD/.stamp")" = "$STAMP_SUM" ] && [ -d "$QT_LAB/postfix/$INST/queue/deferred" ]; then
    say "up to date ($GOLD)"; exit 0
fi

START_TIME=$(date +%s)
mkdir -p "$QT_LAB/postfix"
exec 8>"$QT_LAB/postfix/.build-$INST.lock"      # one build of an instance at a time
flock 8
bash "$SETUP" prepare
eval "$(bash "$SETUP" env "$INST")"
C=$PFX_CONF Q=$PFX_QDIR
# leftovers of an interrupted build: its master and our helpers, by their recorded PIDs
bash "$SETUP" stop "$INST"
for f in "$PFX_RUN"/tarpit.pid "$PFX_RUN"/milter.pid; do
    p=$(tr -dc 0-9 2>/dev/null < "$f") || continue
    [ -n "$p" ] && tr '\0' ' ' 2>/dev/null < "/proc/$p/cmdline" | grep -q "postfix-tools/" && kill "$p" 2>/dev/null || true
done
rm -rf "$GOLD" "$QT_LAB/postfix/$INST"
bash "$SETUP" init "$INST"

# ---------------------------------------------------------------- helpers, cleanup
TARPIT_PID='' MILTER_PID=''
on_exit() {
    local rc=$?
    bash "$SETUP" stop "$INST" || true
    [ -n "$TARPIT_PID" ] && kill "$TARPIT_PID" 2>/dev/null || true
    [ -n "$MILTER_PID" ] && kill "$MILTER_PID" 2>/dev/null || true
    [ -n "$TARPIT_PID$MILTER_PID" ] && wait 2>/dev/null || true
    [ $rc -ne 0 ] && say "FAILED (rc=$rc); log: $PFX_LOG"
    return 0
}
trap on_exit EXIT
trap 'exit 130' INT TERM

for p in "$PFX_SMTPD_PORT" "$PFX_MSMTPD_PORT" "$PFX_DEAD_PORT" "$PFX_TARPIT_PORT" "$PFX_MILTER_PORT"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
        say "127.0.0.1:$p is in use (set QT_PFX_PORT_BASE)"; exit 1
    fi
done

bg_tool() {             # bg_tool NAME PORT: start a helper, wait until it listens, echo its pid
    local name=$1 port=$2 pidf=$PFX_RUN/$1.pid i
    rm -f "$pidf"
    perl "$TOOLS/$name.pl" "$port" "$pidf" </dev/null >>"$PFX_RUN/$name.log" 2>&1 &
    local pid=$!
    for i in $(seq 1 50); do [ -s "$pidf" ] && { echo "$pid"; return 0; }; sleep 0.1; done
    say "$name did not start (see $PFX_RUN/$name.log)"; kill "$pid" 2>/dev/null; return 1
}
TARPIT_PID=$(bg_tool tarpit "$PFX_TARPIT_PORT")
MILTER_PID=$(bg_tool milter "$PFX_MILTER_PORT")

sm()     { sendmail -C "$C" "$@"; }                                    # sendmail -> postdrop
smtp()   { perl "$TOOLS/smtp-send.pl" "$PFX_SMTPD_PORT" "$@" >/dev/null; }  # smtpd
msmtp()  { perl "$TOOLS/smtp-send.pl" "$PFX_MSMTPD_PORT" "$@" >/dev/null; } # smtpd + milter
echo 0 > "$PFX_RUN/nmsg"
msg() {  # msg FROM TO SUBJECT [EXTRA-HEADER-LINES]   (body from $BODY, else a default)
    # (runs in a pipeline's subshell: the message counter lives in a file)
    local NMSG; NMSG=$(( $(cat "$PFX_RUN/nmsg") + 1 )); echo "$NMSG" > "$PFX_RUN/nmsg"
    printf 'From: %s\nTo: %s\nSubject: %s\nDate: %s\nMessage-ID: <lab-%s-%d@%s>\n%s%s\n%s\n' \
        "$1" "$2" "$3" "$(date -R)" "$INST" "$NMSG" "${1##*@}" "${4:-}" "${4:+
}" "${BODY:-Hello,
this message was submitted by the qtools Postfix lab.
--
lab}"
}
count() { find "$@" -type f 2>/dev/null | wc -l; }
master_children() { bash "$SETUP" procs "$INST" | awk -v n="$1" '$2 == n { print $1 }'; }

# wait until nothing moves: maildrop and incoming as given, active holds exactly $3 files,
# and the counts are the same on consecutive looks
settle() {
    local want_md=$1 want_in=$2 want_act=$3 i last='' now
    for i in $(seq 1 300); do
        now="$(count "$Q/maildrop") $(count "$Q/incoming") $(count "$Q/active") $(count "$Q/deferred") $(count "$Q/hold")"
        if [ "$now" = "$last" ] && [ "${now%% *}" -eq "$want_md" ] &&
           [ "$(echo "$now" | cut -d' ' -f2)" -eq "$want_in" ] &&
           [ "$(echo "$now" | cut -d' ' -f3)" -eq "$want_act" ]; then
            return 0
        fi
        last=$now; sleep 0.2
    done
    say "queue did not settle: maildrop incoming active deferred hold = $now (want $want_md $want_in $want_act)"
    return 1
}
# postfix reload, and wait until the master has re-read its configuration
reload() {
    local n i
    n=$(grep -c 'reload -- version' "$PFX_LOG" || true)
    postfix -c "$C" reload 2>/dev/null
    for i in $(seq 1 100); do
        [ "$(grep -c 'reload -- version' "$PFX_LOG" || true)" -gt "$n" ] && return 0
        sleep 0.1
    done
    say "reload not logged"; return 1
}
svc_off() {             # comment out a master.cf service, reload, wait until its process is gone
    sed -i "s/^$1 /#$1 /" "$C/master.cf"
    reload
    local i
    for i in $(seq 1 100); do [ -z "$(master_children "$1")" ] && return 0; sleep 0.1; done
    say "$1 still running after reload"; return 1
}
ids_where() {           # ids_where QUEUE REGEX: queue ids in QUEUE whose postqueue -j line matches
    postqueue -c "$C" -j 2>/dev/null | grep "\"queue_name\": \"$1\"" | grep -E -- "$2" |
        sed 's/.*"queue_id": "\([A-Za-z0-9]*\)".*/\1/'
}

bash "$SETUP" start "$INST"
MPID=$(tr -dc 0-9 < "$Q/pid/master.pid")
say "Postfix started (master $MPID); submitting"

# ================================================================ phase 1: everything runs
# --- local submissions (sendmail -> postdrop -> maildrop -> pickup -> cleanup)
msg alice@example.org bob@remote.example "Quarterly report" | sm -f alice@example.org bob@remote.example
msg newsletter@lists.example.net "subscribers:;" "Weekly digest #42" "List-Id: <weekly.lists.example.net>
Precedence: bulk" | sm -f newsletter@lists.example.net u1@example.org u2@example.org u3@remote.example u4@customer.example
msg root ops "cron: backup finished" | sm ops                      # sender root, bare recipient
msg '"john doe"@example.org' frank@example.net "quoted local part" | sm -f '"john doe"@example.org' frank@example.net
# sendmail -t: the recipients are extracted from the headers and stored after the body ('X'),
# plus one recipient given on the command line (stored before the body)
msg grace@example.org "heidi@remote.example, ivan@customer.example" "recipients from headers (sendmail -t)" \
    "Cc: judy@example.net" | sm -t -F "Grace Hopper" -f grace@example.org extra@example.org
msg list-owner@lists.example.net members "VERP" | sm -XV -f list-owner@lists.example.net m1@example.org m2@example.net
msg karl@example.org leo@remote.example "DSN via sendmail" |
    sm -N success,delay,failure -R hdrs -V env-sendmail-1 -f karl@example.org leo@remote.example
msg MAILER-DAEMON mallory@example.net "null sender, submitted locally" | sm -f '' mallory@example.net
msg oscar@example.org peggy@tempfail.test "retry transport" | sm -f oscar@example.org peggy@tempfail.test
msg no-reply@shop.example erin@example.net "Your order has shipped" | sm -f no-reply@shop.example erin@example.net
printf 'From: olga@example.org\nTo: pia@example.net\nSubject: caf\xe9 cr\xe8me br\xfbl\xe9e (raw latin-1)\n\nlatin-1 body \xe9\n' |
    sm -f olga@example.org pia@example.net
# many recipients over sub-domains (qshape -p shows parent domains with >= 5 (or -m) subdomains)
RCPTS=$(for i in 1 2 3 4 5 6; do for u in a b; do printf '%s@h%d.corp.example ' "$u" "$i"; done; done
        for i in 1 2 3; do printf 'x@s%d.shop.example ' "$i"; done; printf 'y@mail.example.de z@mail.example.de')
TOHDR=$(printf '%s\n' $RCPTS | paste -sd, | sed 's/,/,\n /g')
msg xavier@example.org "$TOHDR" "many recipients" | sm -f xavier@example.org $RCPTS
# a 5000-byte header line, a 10000-byte body line (L records) and a ~100 KB body
LONGX=$(head -c 5000 /dev/zero | tr '\0' x)
{ printf 'From: yvonne@example.org\nTo: zach@remote.example\nSubject: long lines and a big body\nX-Long: %s\n' "$LONGX"
  printf 'References:'; for i in $(seq 1 30); do printf ' <ref%d@example.org>\n' "$i"; done
  printf '\n'; head -c 10000 /dev/zero | tr '\0' y; printf '\n'
  awk 'BEGIN { for (i = 0; i < 2400; i++) printf "line %05d of the quick brown fox jumping over the lazy dog\n", i }'
} | sm -f yvonne@example.org zach@remote.example

# --- SMTP (smtpd -> cleanup): client attributes, DSN, 8BITMIME, SMTPUTF8
msg sybil@example.org "trent@remote.example, victor@example.net" "via SMTP with DSN" |
    smtp sybil@example.org 'RET=FULL ENVID=smtp-env-1' \
        'trent@remote.example|NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;trent@remote.example' 'victor@example.net|NOTIFY=NEVER'
printf 'From: =?UTF-8?Q?Ren=C3=A9?= <rene@example.fr>\nTo: walter@example.net\nSubject: Gr\xc3\xbc\xc3\x9fe aus K\xc3\xb6ln\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\nGr\xc3\xbc\xc3\x9fe! \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\n' |
    smtp rene@example.fr 'BODY=8BITMIME' 'walter@example.net|NOTIFY=DELAY,FAILURE'
printf 'From: \xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.example\nTo: \xce\xb4\xce\xbf\xce\xba\xce\xb9\xce\xbc\xce\xae@\xcf\x80\xce\xb1\xcf\x81\xce\xac\xce\xb4\xce\xb5\xce\xb9\xce\xb3\xce\xbc\xce\xb1.example\nSubject: SMTPUTF8 \xe2\x9c\x93\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\nutf-8 envelope\n' |
    smtp "$(printf '\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.example')" 'SMTPUTF8 BODY=8BITMIME' \
        "$(printf '\xce\xb4\xce\xbf\xce\xba\xce\xb9\xce\xbc\xce\xae@\xcf\x80\xce\xb1\xcf\x81\xce\xac\xce\xb4\xce\xb5\xce\xb9\xce\xb3\xce\xbc\xce\xb1.example')"
msg nora@example.org "ops@customer.example" "SMTP, plain" | smtp nora@example.org '' ops@customer.example

# --- milter edits (pointer records, a canceled recipient, records after E, new sender)
msg quentin@example.org "keep@remote.example" "milter edited" |
    msmtp quentin@example.org '' keep@remote.example cancel-me@remote.example newbody@example.net
msg chg-sender@example.org "keep2@customer.example" "milter changes the sender" |
    msmtp chg-sender@example.org 'RET=HDRS' 'keep2@customer.example|NOTIFY=FAILURE'
msg rita@example.org "sam@remote.example" "please quarantine this" | msmtp rita@example.org '' sam@remote.example

# --- real bounces (sender <>) and partly delivered mail ('D' recipients)
msg carol@example.net nobody@nouser.test "to an unknown user" | sm -f carol@example.net nobody@nouser.test
msg dave@customer.example x@bounce.test "bounce with headers only" | smtp dave@customer.example 'RET=HDRS' 'x@bounce.test|NOTIFY=FAILURE'
msg frank@example.net "team" "partly delivered" |
    sm -f frank@example.net a@discard.test b@bounce.test c@tempfail.test d@remote.example e@discard.test
msg MAILER-DAEMON y@bounce.test "null sender to a failing recipient (dropped)" | sm -f '' y@bounce.test

# --- hold by header_checks
msg ivan@customer.example judy@example.net "held by header_checks" "X-Lab-Hold: sendmail" | sm -f ivan@customer.example judy@example.net
printf 'From: louise@example.org\nTo: mike@remote.example\nSubject: held via SMTP\nX-Lab-Hold: smtp\n\nx\n' |
    smtp louise@example.org '' mike@remote.example

settle 0 0 0

# ================================================================ phase 2: bounce logs that stay
# the bounce daemon cannot reach cleanup: the non-delivery report fails and bounce/ID remains
say "phase 2: bounce service without cleanup"
sed -i 's/^\(bounce .*bounce\)$/\1 -o cleanup_service_name=nocleanup/' "$C/master.cf"
reload
msg grace@example.org z@bounce.test "all recipients done, the bounce failed" | sm -f grace@example.org z@bounce.test
msg heidi@remote.example "q@bounce.test, r@remote.example" "bounce log and defer log" |
    sm -f heidi@remote.example q@bounce.test r@remote.example
# --- active: deliveries that hang on the tarpit until Postfix is stopped. Only after the last
# reload that keeps the queue manager: a new qmgr moves active files back to incoming.
msg nina@example.org a1@tarpit.test "stuck in active (sendmail)" | sm -f nina@example.org a1@tarpit.test
msg nina@example.org "a2@tarpit.test, a3@remote.example" "stuck in active, one recipient deferred" |
    smtp nina@example.org 'RET=HDRS' 'a2@tarpit.test|NOTIFY=DELAY,FAILURE' a3@remote.example
N_ACTIVE=2
settle 0 0 $N_ACTIVE
sed -i 's/ -o cleanup_service_name=nocleanup$//' "$C/master.cf"

# ================================================================ phase 3: incoming
say "phase 3: queue manager off (incoming)"
svc_off qmgr
# postsuper while the queue manager is off: hold two deferred messages, force-expire one
# deferred and one held message (-f also releases it from hold, into deferred)
ids_where deferred '"sender": "\\"john doe\\"@example.org"|"sender": "olga@example.org"' > "$PFX_RUN/to-hold"
[ "$(wc -l < "$PFX_RUN/to-hold")" -eq 2 ] || { say "expected 2 messages to hold"; exit 1; }
postsuper -c "$C" -h - < "$PFX_RUN/to-hold" 2>/dev/null
ids_where deferred '"sender": "no-reply@shop.example"' > "$PFX_RUN/to-expire"
ids_where hold '"sender": "ivan@customer.example"' >> "$PFX_RUN/to-expire"
[ "$(wc -l < "$PFX_RUN/to-expire")" -eq 2 ] || { say "expected 2 messages to expire"; exit 1; }
postsuper -c "$C" -f - < "$PFX_RUN/to-expire" 2>/dev/null
msg paul@example.org quinn@example.net "waiting in incoming (sendmail)" | sm -f paul@example.org quinn@example.net rosa@remote.example
msg root sam@customer.example "waiting in incoming (root, -t)" | sm -t
msg tina@example.org uma@remote.example "waiting in incoming (SMTP)" |
    smtp tina@example.org 'RET=HDRS ENVID=incoming-1' 'uma@remote.example|NOTIFY=DELAY,FAILURE'
msg victor@example.org "wanda@remote.example" "waiting in incoming (milter)" |
    msmtp victor@example.org '' wanda@remote.example cancel-too@remote.example
msg tina@example.org held@remote.example "header hold while the queue manager is off" "X-Lab-Hold: incoming" |
    smtp tina@example.org '' held@remote.example
N_INCOMING=4
settle 0 $N_INCOMING $N_ACTIVE

# ================================================================ phase 4: maildrop
say "phase 4: pickup off (maildrop)"
svc_off pickup
msg vera@example.org walt@example.net "in maildrop" | sm -f vera@example.org walt@example.net
msg vera@example.org "walt@example.net, xena@remote.example" "in maildrop, full name" |
    sm -F "Vera V." -f vera@example.org walt@example.net xena@remote.example
msg root yusuf@customer.example "in maildrop (-t)" "Cc: zoe@example.org" | sm -t
msg nobody@example.org a@remote.example "in maildrop, null sender" | sm -f '' a@remote.example
msg karl@example.org c@remote.example "in maildrop with DSN" | sm -N success -V env-maildrop -f karl@example.org c@remote.example
N_MAILDROP=5
settle $N_MAILDROP $N_INCOMING $N_ACTIVE

# ================================================================ stop, capture
bash "$SETUP" stop "$INST"
kill "$TARPIT_PID" "$MILTER_PID" 2>/dev/null || true
wait 2>/dev/null || true
TARPIT_PID='' MILTER_PID=''
BUILD_END=$(date +%s)
say "Postfix stopped after $((BUILD_END - START_TIME)) s; capturing goldens"

mkdir -p "$GOLD/postcat"
T0=$(date +%s)
echo "$T0" > "$GOLD/T0"
export PERL_HASH_SEED=0 PERL_PERTURB_KEYS=0     # qshape breaks ties in hash order
[ -n "$PFX_PERL5LIB" ] && export PERL5LIB=$PFX_PERL5LIB
# the same clock as tests/lib.sh's qt_faketime with QT_T0=T0 (libfaketime: "@" = start at)
FT="@$(date -u -d "@$T0" '+%Y-%m-%d %H:%M:%S')"
cat > "$GOLD/ENV" <<EOF
TZ=UTC
LC_ALL=C
PERL_HASH_SEED=0
PERL_PERTURB_KEYS=0
FAKETIME=$FT
EOF
: > "$GOLD/COMMANDS"
# golden FILE PROG ARGS...: run PROG -c CONF ARGS..., stdout to FILE, record the line
golden() {
    local file=$1 prog=$2 rc=0; shift 2
    local pre=()
    [ "$prog" = qshape ] && pre=(env LD_PRELOAD="$PFX_FAKETIME_LIB" FAKETIME="$FT")
    "${pre[@]}" "$prog" -c "$C" "$@" > "$GOLD/$file" 2> "$GOLD/$file.stderr" || rc=$?
    [ -s "$GOLD/$file.stderr" ] || rm -f "$GOLD/$file.stderr"
    printf '%s\t%s\t%s\n' "$file" "$rc" "$prog${*:+ $*}" >> "$GOLD/COMMANDS"
}
[ -n "$PFX_FAKETIME_LIB" ] || { say "no libfaketime"; exit 1; }
# Postfix is down: root's postqueue runs showq itself ("Mail system is down" on stderr)
golden postqueue-p.txt    postqueue -p
golden postqueue-j.jsonl  postqueue -j
golden qshape-deferred.txt            qshape deferred
golden qshape-hold.txt                qshape hold
golden qshape-active-incoming.txt     qshape active incoming
golden qshape.txt                     qshape
golden qshape-deferred-hold.txt       qshape deferred hold
golden qshape-s-deferred.txt          qshape -s deferred
golden qshape-s-hold.txt              qshape -s hold
golden qshape-p-deferred.txt          qshape -p deferred
golden qshape-s-p-deferred.txt        qshape -s -p deferred
golden qshape-p-m5-deferred.txt       qshape -p -m 5 deferred
golden qshape-p-m3-deferred.txt       qshape -p -m 3 deferred
golden qshape-b5-t10-deferred.txt     qshape -b 5 -t 10 deferred
golden qshape-l-deferred.txt          qshape -l deferred
golden qshape-l-b5-t10-deferred.txt   qshape -l -b 5 -t 10 deferred
golden qshape-w100-deferred.txt       qshape -w 100 deferred
# 3-second buckets: the messages' real ages (seconds) spread over several buckets
golden qshape-b6-t0.05-deferred.txt   qshape -b 6 -t 0.05 deferred
golden qshape-l-b6-t0.05-deferred.txt qshape -l -b 6 -t 0.05 deferred
sed 's/.*"queue_id": "\([A-Za-z0-9]*\)".*/\1/' "$GOLD/postqueue-j.jsonl" > "$GOLD/ids"
while read -r id; do
    golden "postcat/$id.q.txt" postcat -q "$id"
    golden "postcat/$id.e.txt" postcat -e -q "$id"
    golden "postcat/$id.h.txt" postcat -h -q "$id"
    golden "postcat/$id.b.txt" postcat -b -q "$id"
done < "$GOLD/ids"

{
    echo "queue_directory=$Q"
    echo "config_directory=$C"
    echo "enable_long_queue_ids=$PFX_LONG_IDS"
    for d in maildrop incoming active deferred hold corrupt defer bounce trace; do
        echo "files_$d=$(count "$Q/$d")"
    done
    echo "messages=$(wc -l < "$GOLD/ids")"
} > "$GOLD/INFO"
cp "$PFX_LOG" "$GOLD/maillog"
echo "$STAMP_SUM" > "$GOLD/.stamp"
say "done in $(( $(date +%s) - START_TIME )) s: $(wc -l < "$GOLD/ids") messages, $(wc -l < "$GOLD/COMMANDS") goldens in $GOLD"
sed 's/^/postfix-queue['"$INST"']:   /' "$GOLD/INFO" >&2
