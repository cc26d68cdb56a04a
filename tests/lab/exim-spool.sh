#!/bin/bash
# tests/lab/exim-spool.sh NAME [--force] -- build an Exim spool with the REAL exim (lab sandbox of
# exim-setup.sh) under a fixed clock, then capture exim's own tools' view of it as goldens.
#
#   NAME = main        the rich sample (about 50 messages + 2 in the named queue "slow")
#          split       the same kind of content, split_spool_directory=true, no MB-sized messages
#          frozenmove  a small spool with move_frozen_messages=true (Finput/ and Fmsglog/ exist)
#
# Results (QT_LAB defaults to <repo>/build/lab):
#   $QT_LAB/exim/spools/NAME/          the spool (input/, msglog/, db/, slow/input ...)
#   $QT_LAB/exim/logs/NAME/mainlog     exim's log of everything that happened to it
#   $QT_LAB/exim/bin/exim-NAME         exim on this spool; exiqgrep-NAME, exipick-NAME likewise
#   $QT_LAB/exim/golden/NAME/          goldens, see capture_goldens below:
#       COMMANDS   one line per golden: FILE <TAB> EXIT-CODE <TAB> COMMAND, the command in
#                  symbolic form (exim, exiqgrep, exiqsumm, exipick all mean "on this spool")
#       FILE       its stdout; FILE.err its stderr, present only when non-empty
#       T0         the epoch all goldens were captured at (FAKETIME=@T0, TZ=UTC)
#       MESSAGES   LABEL <TAB> ID <TAB> QUEUE (input | slow | Finput) of every message left
#   $QT_LAB/exim/stamp.spool-NAME      rebuilt only when a lab script (or T0) changed, or --force
#
# Clock: every exim call runs under libfaketime with an offset that puts it at "T0 - AGE"
# (10 ms past the start of that second). Every call that can create a message gets its own
# arrival second, with a free second on either side, so no two messages share an arrival second
# (exim -bp sorts on second+fraction, exiqgrep on the second only, then Perl hash order).
# Ports (loopback only): main 29425/29426, split 29427/29428, frozenmove 29429/29430
# (exim daemon / tarpit); the daemon is stopped by PID, also on failure.
set -euo pipefail
shopt -s lastpipe
PROG=exim-spool
. "$(dirname "${BASH_SOURCE[0]}")/exim-lib.sh"

NAME=${1:-}; FORCE=0
[ $# -gt 0 ] && shift
for a in "$@"; do
  case $a in
    --force) FORCE=1 ;;
    *) die "unknown argument: $a" ;;
  esac
done
case $NAME in
  main)       SPLIT=false FROZENMOVE=false PORT=29425 ;;
  split)      SPLIT=true  FROZENMOVE=false PORT=29427 ;;
  frozenmove) SPLIT=false FROZENMOVE=true  PORT=29429 ;;
  -h|--help|'') sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2 ;;
  *) die "unknown spool '$NAME' (main, split, frozenmove)" ;;
esac
TARPIT=$((PORT + 1))

[ "$(id -u)" = 0 ] || die "must run as root"
bash "$LAB_SRC/exim-setup.sh"

SPOOL=$X/spools/$NAME
LOG=$X/logs/$NAME
GOLD=$X/golden/$NAME
STAMP=$X/stamp.spool-$NAME
EU=$(cat "$X/etc/exim_uid")
EX=$X/bin/exim-$NAME
PIDS=$X/run/pids-$NAME           # every background process we started (checked by the tests)

exec 9>"$X/.spool-$NAME.lock"
flock 9
WANT="$(setup_hash) $(lab_hash "$LAB_SRC/exim-spool.sh" "$LAB_SRC/exim-lab.py") T0=$QT_T0"
if [ "$FORCE" = 0 ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] \
   && [ -d "$SPOOL/input" ] && [ -s "$GOLD/COMMANDS" ]; then
  say "$NAME: up to date ($SPOOL)"
  exit 0
fi
START=$EPOCHREALTIME
rm -f "$STAMP"
for p in $PORT $TARPIT; do
  port_busy "$p" && die "something already listens on 127.0.0.1:$p"
done

# ------------------------------------------------------------------ fresh spool, log, goldens
rm -rf "$SPOOL" "$LOG" "$GOLD"
mkdir -p "$SPOOL" "$LOG" "$GOLD"
chown "$EU:$EU" "$SPOOL" "$LOG"
chmod 0750 "$SPOOL" "$LOG"
: > "$PIDS"
"$X/bin/mkspoolwrap" "$NAME" "$SPOOL" -DLOGDIR="$LOG" -DSPLIT="$SPLIT" \
  -DFROZENMOVE="$FROZENMOVE" -DPORT="$PORT" -DTARPIT="$TARPIT"
DPID=
cleanup() {
  if [ -n "$DPID" ] && kill -0 "$DPID" 2>/dev/null; then kill "$DPID"; wait "$DPID" 2>/dev/null || true; fi
}
trap cleanup EXIT
say "$NAME: building $SPOOL (split=$SPLIT, move_frozen=$FROZENMOVE, T0=$QT_T0 $(t0_string))"

# ------------------------------------------------------------------ clock and bookkeeping
declare -A TAKEN=() IDS=() SEEN_CHILD=()
LABELS=()
AGE=0 FT='' ID=''

# slot NOMINAL [SPREAD]: AGE := the free second closest to NOMINAL (seconds before T0) whose
# neighbours are free too. Ages are chosen well inside exim's -bp age buckets.
slot() {
  local n=$1 r=${2:-20} d a
  for ((d = 0; d <= r; d++)); do
    for a in $((n + d)) $((n - d)); do
      if [ "$a" -gt 1 ] && [ -z "${TAKEN[$a]-}${TAKEN[$((a - 1))]-}${TAKEN[$((a + 1))]-}" ]; then
        TAKEN[$a]=1; AGE=$a; return 0
      fi
    done
  done
  die "no free arrival second within $r s of age $n"
}
# ftoff AGE: FT := libfaketime offset making "now" = T0 - AGE + 10 ms
ftoff() {
  local now=${EPOCHREALTIME/./} d s=-
  d=$(( (QT_T0 - $1) * 1000000 + 10000 - 10#$now ))
  if [ "$d" -ge 0 ]; then s=+; else d=$((-d)); fi
  printf -v FT '%s%d.%06d' "$s" $((d / 1000000)) $((d % 1000000))
}
at() { ftoff "$1"; shift; FAKETIME=$FT "$@"; }          # at AGE CMD...
last_arrival() { tail -n 40 "$LOG/mainlog" | awk '$4 == "<=" { id = $3 } END { print id }'; }
register() {                                             # register LABEL ID
  [ -n "${IDS[$1]-}" ] || LABELS+=("$1")
  IDS[$1]=$2
}
# submit LABEL NOMINAL-AGE[:SPREAD] EXIM-ARGS... (message on stdin): ID := the new message
submit() {
  local label=$1 nominal=${2%%:*} spread=20 before
  if [ "$nominal" != "$2" ]; then spread=${2#*:}; fi
  slot "$nominal" "$spread"; shift 2
  before=$(last_arrival 2>/dev/null || true)
  at "$AGE" "$EX" -odq -oi "$@" > /dev/null 2> "$X/run/submit-$NAME.err" \
    || die "submission '$label' failed: $(head -5 "$X/run/submit-$NAME.err")"
  ID=$(last_arrival)
  [ -n "$ID" ] && [ "$ID" != "$before" ] || die "submission '$label': no new message in the log"
  register "$label" "$ID"
}
child_of() {      # child_of ID -> the last message exim generated about ID (bounce, warning)
  awk -v id="$1" '$4 == "<=" && $5 == "<>" && $6 == "R=" id { b = $3 } END { print b }' "$LOG/mainlog"
}
# deliver NOMINAL-AGE ID [BOUNCE-LABEL]: a forced delivery attempt (exim -M); registers the
# bounce it produced, if any
deliver() {
  local id=$2 b
  slot "$1"
  at "$AGE" "$EX" -M "$id" >/dev/null 2>&1 || true
  b=$(child_of "$id")
  if [ -n "${3-}" ]; then
    [ -n "$b" ] || die "delivery of $id did not produce the expected bounce"
    register "$3" "$b"; ID=$b
  elif [ -n "$b" ] && [ -z "${SEEN_CHILD[$b]-}" ]; then
    die "delivery of $id produced an unexpected message $b (see $LOG/mainlog)"
  fi
  [ -z "$b" ] || SEEN_CHILD[$b]=1
}
admin() { local a=$1; shift; at "$a" "$EX" "$@" >/dev/null || die "exim $* failed"; }  # admin AGE ARGS
spoolfile() {                                            # spoolfile ID SUFFIX -> path
  if [ "$SPLIT" = true ]; then echo "$SPOOL/input/${1:5:1}/$1-$2"; else echo "$SPOOL/input/$1-$2"; fi
}
# body N: exactly N bytes of text (76-byte lines, a shorter last one)
body() {
  perl -e 'my $n = shift; my $l = "Queue spool lab text, line after line, nothing to see here. 0123456789 xyz\n";
           while ($n >= length $l) { print $l; $n -= length $l }
           if ($n > 1) { print "z" x ($n - 1), "\n" } elsif ($n == 1) { print "\n" }' "$1"
}
hdrs() { printf 'From: %s\nTo: %s\nSubject: %s\n' "$1" "$2" "$3"; }

M=60 H=3600 D=86400
# nominal ages, each in the middle of the exim -bp age bucket it is named after
A0=30 A5=330 A59=3570 A89=5370 A90=5430 A91=5490 A149=8970 A150=9030
H3=$((3 * H)) H26=$((26 * H)) H72=$((71 * H + 40 * M)) D3=$((78 * H)) D10=$((10 * D)) D100=$((100 * D))
SMTPAGE=$((2 * H + 10))      # arrival seconds of the SMTP/daemon messages: [SMTPAGE-20, SMTPAGE]

# ------------------------------------------------------------------ content
plain_mail() {    # plain_mail LABEL AGE FROM "RCPT..." SUBJECT BODYSIZE
  local rc=$4
  { hdrs "<$3>" "${rc// /, }" "$5"; printf 'Message-ID: <%s@%s>\n\n' "$1" "${3#*@}"; body "$6"; } \
    | submit "$1" "$2" -f "$3" $rc
}

plain_set() {     # one message in every age bucket the goldens care about
  plain_mail p-0m    $A0   alice@example.org       bob@remote.example "Lunch tomorrow?" 240
  plain_mail p-5m    $A5   bob@corp.example        "carol@partner.example dave@partner.example" "Q3 numbers" 410
  plain_mail p-59m   $A59  newsletter@news.example "u1@gmail.example u2@yahoo.example u3@remote.example u4@corp.example u5@partner.example" "Weekly newsletter #42" 3000
  plain_mail p-89m   $A89  carol@shop.example      frank@gmail.example "Your order has shipped" 520
  deliver $((A89 - 12)) "${IDS[p-89m]}"                 # deferred: msglog, retry data
  plain_mail p-90m   $A90  dave@lists.example      list1@lists.remote.example "[list] digest" 800
  plain_mail p-91m   $A91  eve@example.net         grace@yahoo.example "re: meeting" 330
  deliver $((A91 - 12)) "${IDS[p-91m]}"
  plain_mail p-149m  $A149 frank@example.com       heidi@remote.example "invoice 2025-0042" 610
  plain_mail p-150m  $A150 grace@example.org       ivan@corp.example "holiday pictures" 700
  deliver $((A150 - 12)) "${IDS[p-150m]}"
  plain_mail p-26h   $H26  heidi@example.net       judy@remote.example "follow-up" 350
  deliver $((H26 - 12)) "${IDS[p-26h]}"
  plain_mail p-72h   $H72  ivan@example.com        mallory@remote.example "password reset" 290
  plain_mail p-3d    $D3   judy@oldmail.example    oscar@remote.example "old message" 450
  deliver $((D3 - 12)) "${IDS[p-3d]}"
  plain_mail p-10d   $D10  ancient@oldmail.example peggy@remote.example "ten days old" 380
  plain_mail p-100d  $D100 fossil@oldmail.example  trent@remote.example "a hundred days old" 360
}

bounces_in() {    # bounces submitted with -f '' (sender <>)
  local spec age to subj
  for spec in "$A5|alice@example.org|Undelivered Mail Returned to Sender" \
              "$H26|bob@corp.example|Delivery Status Notification (Failure)" \
              "$D10|carol@shop.example|Mail delivery failed: returning message to sender"; do
    IFS='|' read -r age to subj <<<"$spec"
    { printf 'From: Mail Delivery System <MAILER-DAEMON@mx.elsewhere.example>\nTo: %s\nSubject: %s\n' "$to" "$subj"
      printf 'Auto-Submitted: auto-replied\nMIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; boundary="qt"\n\n'
      printf -- '--qt\nContent-Type: text/plain\n\nYour message could not be delivered.\n\n--qt\nContent-Type: message/delivery-status\n\n'
      printf 'Reporting-MTA: dns; mx.elsewhere.example\n\nFinal-Recipient: rfc822; nobody@elsewhere.example\nAction: failed\nStatus: 5.1.1\n\n--qt--\n'
    } | submit "bounce-in-$age" "$age" -f '' "$to"
  done
}

state_set() {     # partial deliveries, real bounces, freezes, admin actions
  # a and b blackholed (D), d fails (real bounce), c deferred
  { hdrs '<alice@example.org>' 'a@deliver.example, b@deliver.example, c@remote.example, d@fail.example' 'partly delivered'; echo; body 500; } \
    | submit partial $A149 -f alice@example.org a@deliver.example b@deliver.example c@remote.example d@fail.example
  deliver $((A149 - 20)) "$ID" partial-bounce
  # 20 recipients, 10 blackholed: a non-trivial non-recipients tree
  local r="" n
  for n in $(seq 1 10); do r="$r r$n@deliver.example s$n@remote.example"; done
  { hdrs '<sales@shop.example>' 'undisclosed-recipients:;' 'Spring sale'; echo; body 2000; } \
    | submit half-delivered $H26 -f sales@shop.example $r
  deliver $((H26 - 20)) "$ID"
  # a bounce to a dead sender fails again: "Frozen (delivery error message)"
  { hdrs '<someone@bounce.invalid>' 'x@fail.example, y@remote.example' 'will bounce to a dead sender'; echo; body 400; } \
    | submit dead-sender $H72 -f someone@bounce.invalid x@fail.example y@remote.example
  deliver $((H72 - 20)) "$ID" frozen-bounce
  deliver $((H72 - 40)) "$ID"
  # routing freezes: "remote host address is the local host"
  { hdrs '<carol@shop.example>' 'postmaster@loop.example' 'routed to myself'; echo; body 300; } \
    | submit frozen-loop $A90 -f carol@shop.example postmaster@loop.example
  deliver $((A90 - 12)) "$ID"
  { hdrs '<dave@lists.example>' 'admin@loop.example' 'also routed to myself'; echo; body 300; } \
    | submit frozen-loop-old $D10 -f dave@lists.example admin@loop.example
  deliver $((D10 - 20)) "$ID"
  # frozen by the admin; frozen then thawed (-manual_thaw)
  { hdrs '<eve@example.net>' 'spam-trap@remote.example' 'suspicious (frozen by admin)'; echo; body 300; } \
    | submit frozen-admin $A59 -f eve@example.net spam-trap@remote.example
  admin $((AGE - 9)) -Mf "$ID"
  { hdrs '<frank@example.com>' 'legal@corp.example' 'frozen then thawed'; echo; body 300; } \
    | submit thawed $A5 -f frank@example.com legal@corp.example
  admin $((AGE - 5)) -Mf "$ID"; admin $((AGE - 9)) -Mt "$ID"
  # -Mmd, -Mar, -Mes
  { hdrs '<grace@example.org>' 'one@remote.example, two@remote.example, three@remote.example' 'one marked delivered by admin'; echo; body 300; } \
    | submit marked-delivered $H26 -f grace@example.org one@remote.example two@remote.example three@remote.example
  admin $((AGE - 9)) -Mmd "$ID" two@remote.example
  { hdrs '<heidi@example.net>' 'first@remote.example' 'recipient added by admin'; echo; body 300; } \
    | submit recipient-added $A0 -f heidi@example.net first@remote.example
  admin $((AGE - 5)) -Mar "$ID" added@partner.example
  { hdrs '<wrong@example.net>' 'boss@corp.example' 'sender edited by admin'; echo; body 300; } \
    | submit sender-edited $A5 -f wrong@example.net boss@corp.example
  admin $((AGE - 5)) -Mes "$ID" right@example.net
}

large_set() {     # $1 = 1: also the MB-sized ones
  { hdrs '<carol@shop.example>' 'archive@remote.example' 'base64 attachment (150 KB)'
    printf 'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="zz"\n\n--zz\nContent-Type: text/plain\n\nsee attachment\n'
    printf -- '--zz\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\nContent-Disposition: attachment; filename="blob.bin"\n\n'
    head -c 112000 /dev/urandom | base64 -w 76; printf -- '--zz--\n'; } \
    | submit base64-150k $A0 -f carol@shop.example archive@remote.example
  local targets="1023 1024 10239 10240"
  if [ "$1" = 1 ]; then
    { hdrs '<reports@corp.example>' 'bigbox@remote.example' 'monthly report 1.5 MB'; echo; body 1572864; } \
      | submit report-1.5m $A89 -f reports@corp.example bigbox@remote.example
    targets="$targets 1048575 1048576 10485759 10485760"
  fi
  # exactly TARGET bytes by exim's own count ($message_size, which is what -bp shows): the header
  # overhead is measured on the first one; a miss is removed and resubmitted
  local t pad s over=400 try
  for t in $targets; do
    pad=$((t - over))
    for _ in 1 2 3; do
      { hdrs '<sizer@example.org>' 'sizes@remote.example' "$(printf 'exact size %08d' "$t")"; echo; body "$pad"; } \
        | submit "size-$t" "$H3:600" -f sizer@example.org sizes@remote.example
      s=$("$EX" -Mset "$ID" -be '$message_size')
      [ "$s" = "$t" ] && break
      "$EX" -Mrm "$ID" >/dev/null
      pad=$((pad + t - s))
    done
    [ "$s" = "$t" ] || die "could not make a message of exactly $t bytes (last: $s)"
    over=$((t - pad))
  done
}

charset_set() {   # encoded and raw 8-bit headers, a NUL in a body
  { printf 'From: =?ISO-8859-1?Q?J=F6rg_M=FCller?= <joerg@umlaut.example>\nTo: =?UTF-8?B?w4lsb2RpZQ==?= <elodie@remote.example>\n'
    printf 'Subject: =?UTF-8?B?w5xiZXJwcsO8ZnVuZyBkZXIgV2FyZXRlc3Q=?=\nMIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\n'
    printf 'Content-Transfer-Encoding: quoted-printable\n\nGr=C3=BC=C3=9Fe\n'; } \
    | submit rfc2047 $A5 -f joerg@umlaut.example elodie@remote.example
  { printf 'From: Jörg Müller <joerg@umlaut.example>\nTo: elodie@remote.example\nSubject: Grüße aus Köln ✓ raw 8-bit\n'
    printf 'Content-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit\n\nÄÖÜ äöü ß € 日本語\n'; } \
    | submit utf8-raw $A59 -f joerg@umlaut.example elodie@remote.example
  { printf 'From: latin1@example.org\nTo: x@remote.example\nSubject: Caf\xe9 cr\xe8me (a raw latin-1 byte)\n\n'
    printf 'a binary zero follows: \0 and the text goes on\n'; } \
    | submit latin1-nul $A91 -f latin1@example.org x@remote.example
}

headers_set() {   # many recipients, long headers, '*' headers, -t, -N, rewriting, -bs
  local to="" rc="" refs="" n
  for n in $(seq 1 60); do to="$to${to:+, }user$n@many.example"; rc="$rc user$n@many.example"; done
  for n in $(seq 1 40); do refs="$refs <thread-$n-$(printf '%06d' "$n").qtools@lists.example>"; done
  { printf 'From: <bulk@example.org>\nTo: %s\nSubject: sixty recipients and long headers\n' "$to"
    printf 'References:%s\n' "$(echo "$refs" | fold -w 72 | sed '2,$s/^/\t/')"
    printf 'X-Long-Unfolded: %s\n\n' "$(printf 'L%.0s' $(seq 1 1500))"; body 800; } \
    | submit sixty $A150 -f bulk@example.org $rc '"john smith"@quoted.example' "o'brien@irish.example" UPPER.Case@Example.COM
  { for n in $(seq 40 -1 1); do
      printf 'Received: from hop%d.example (hop%d.example [192.0.2.%d])\n\tby hop%d.example with ESMTP id HOP%04d; Thu, 1 Jan 2026 00:%02d:00 +0000\n' \
        "$n" "$n" "$n" $((n + 1)) "$n" $((n % 60))
    done
    printf 'From: <traveller@example.org>\nTo: <hops@remote.example>\nSubject: forty Received lines\n\n'; body 300; } \
    | submit forty-received $H26 -t -f traveller@example.org
  # -t: Bcc kept as '*'; Return-Path/Envelope-To/Delivery-Date dropped ('*'); X-Lab-Strip removed
  # by the ACL ('*'); Sender/Reply-To/Cc typed S/R/C
  { printf 'Return-Path: <forged@evil.example>\nEnvelope-To: someone@else.example\nDelivery-Date: Thu, 1 Jan 2026 00:00:00 +0000\n'
    printf 'From: Manager <manager@corp.example>\nSender: assistant@corp.example\nReply-To: replies@corp.example\n'
    printf 'To: team@corp.example\nCc: cc1@partner.example, cc2@partner.example\nBcc: hidden@partner.example\n'
    printf 'X-Lab-Strip: yes\nSubject: header flag zoo\n\nbody\n'; } \
    | submit hdr-flags $A89 -t -f manager@corp.example
  # sender and From: rewritten (old From: kept as '*', X-rewrote-sender added)
  printf 'From: Legacy User <olduser@legacy.example>\nTo: friend@remote.example\nSubject: rewritten sender\n\nhi\n' \
    | submit rewritten $A91 -f olduser@legacy.example friend@remote.example
  { hdrs '<tester@example.org>' 'never@remote.example' 'submitted with -N'; echo; body 100; } \
    | submit dont-deliver $A59 -N -f tester@example.org never@remote.example
  # SMTP on stdin (-bs) with faked remote host and authentication (-oM*, trusted caller)
  printf '%s\r\n' 'EHLO mx.client.example' 'MAIL FROM:<authuser@client.example>' 'RCPT TO:<someone@remote.example>' \
    'RCPT TO:<other@deliver.example>' DATA 'From: authuser@client.example' 'To: someone@remote.example, other@deliver.example' \
    'Subject: via -bs with -oMa/-oMs' 'X-Lab-Strip: gone' '' 'hello' . QUIT \
    | submit bs-oMa $A150 -bs -oMa 192.0.2.10.4242 -oMs mx.client.example -oMr esmtpa -oMaa PLAIN \
        -oMai authuser -oMas authuser@client.example -oMi 192.0.2.1.25
}

journal_set() {   # a delivery killed after its local part was journalled: a real leftover -J
  { hdrs '<journal@example.org>' 'kept@file.example, hang@crash.example, later@remote.example' 'delivery crashed (leftover -J)'; echo; body 300; } \
    | submit journal $A149 -f journal@example.org kept@file.example hang@crash.example later@remote.example
  local r
  ftoff $((AGE - 25))
  r=$(FAKETIME=$FT python3 "$LAB_SRC/exim-lab.py" crash "$(spoolfile "$ID" J)" "$TARPIT" 20 -- "$EX" -M "$ID") || true
  [ "$r" = journal-left ] || die "the crashed delivery left no -J journal ($r)"
  [ -s "$(spoolfile "$ID" J)" ] || die "the -J journal of $ID vanished"
}

slow_set() {      # two messages moved to the named queue "slow"
  local n
  for n in 1 2; do
    { hdrs '<bulk@example.org>' "slow$n@remote.example" "named queue message $n"; echo; body 200; } \
      | submit "slow-$n" $A5 -f bulk@example.org "slow$n@remote.example"
    admin $((AGE - 5)) -MG slow "$ID"
  done
}

smtp_set() {      # SMTP over loopback to a temporary daemon: TLS, AUTH, DSN, SMTPUTF8, BDAT
  local a before lab sec lines id
  { hdrs '<relay@local.example>' 'u@relay.example' 'relayed via BDAT'; echo; printf 'line one\n.line starting with a dot\nlast line\n'; } \
    | submit relay-source $((SMTPAGE + 300)) -f relay@local.example u@relay.example
  for ((a = SMTPAGE - 21; a <= SMTPAGE + 1; a++)); do TAKEN[$a]=1; done
  ftoff "$SMTPAGE"
  local dft=$FT
  FAKETIME=$dft "$EX" -bdf -oX "$PORT" -oP "$X/run/exim-$NAME.pid" -DWIREFMT=true &
  DPID=$!
  echo "$DPID exim-daemon" >> "$PIDS"
  for a in $(seq 1 100); do port_busy "$PORT" && break; sleep 0.05; done
  port_busy "$PORT" || die "the exim daemon did not start on port $PORT (see $LOG/)"
  lines=$(wc -l < "$LOG/mainlog")
  python3 "$LAB_SRC/exim-lab.py" smtp "$PORT" "$dft" > "$X/run/smtp-$NAME.out" || die "SMTP session failed"
  # the daemon logged the arrivals in the order the client sent them
  tail -n +"$((lines + 1))" "$LOG/mainlog" | awk '$4 == "<=" { print $3 }' > "$X/run/smtp-$NAME.ids"
  paste "$X/run/smtp-$NAME.out" "$X/run/smtp-$NAME.ids" | while read -r lab sec id; do
    [ -n "$id" ] || die "no arrival logged for SMTP message $lab"
    register "$lab" "$id"
  done
  # exim -> our daemon with TLS + CHUNKING: stored with -spool_file_wireformat (CRLF body)
  before=$(last_arrival)
  FAKETIME=$dft "$EX" -M "${IDS[relay-source]}" >/dev/null 2>&1 || true
  id=$(last_arrival)
  [ "$id" != "$before" ] || die "the BDAT relay did not arrive"
  register bdat-wire "$id"
  sleep 0.3
  kill "$DPID"; wait "$DPID" 2>/dev/null || true
  kill -0 "$DPID" 2>/dev/null && die "exim daemon $DPID did not stop"
  DPID=
  rm -f "$X/run/exim-$NAME.pid"
}

frozenmove_set() {  # move_frozen_messages: frozen messages go to Finput/, Fmsglog/
  plain_mail p-26h  $H26  heidi@example.net judy@remote.example "follow-up" 350
  { hdrs '<someone@bounce.invalid>' 'x@fail.example' 'will bounce to a dead sender'; echo; body 400; } \
    | submit dead-sender $H72 -f someone@bounce.invalid x@fail.example
  deliver $((H72 - 20)) "$ID" frozen-bounce      # the message completes; its bounce is queued
  deliver $((H72 - 40)) "$ID"                    # the bounce fails: frozen, moved at once
  { hdrs '<carol@shop.example>' 'postmaster@loop.example' 'routed to myself'; echo; body 300; } \
    | submit frozen-loop $A90 -f carol@shop.example postmaster@loop.example
  deliver $((A90 - 12)) "$ID"                    # frozen at routing: moved at once
  { hdrs '<eve@example.net>' 'spam-trap@remote.example' 'suspicious (frozen by admin)'; echo; body 300; } \
    | submit frozen-admin $A59 -f eve@example.net spam-trap@remote.example
  admin $((AGE - 9)) -Mf "$ID"                   # stays in input/ until a queue run meets it
  plain_mail p-5m   $A5   bob@corp.example  "carol@partner.example dave@partner.example" "Q3 numbers" 410
  slot 200
  at "$AGE" "$EX" -q >/dev/null 2>&1 || true     # moves frozen-admin; p-5m, p-26h deferred
  ID=$(child_of "${IDS[p-26h]}")                 # p-26h is over delay_warning (24h): a warning
  [ -n "$ID" ] || die "the queue run sent no delay warning for p-26h"
  register delay-warning "$ID"
  { hdrs '<frank@example.com>' 'legal@corp.example' 'frozen after the queue run'; echo; body 300; } \
    | submit frozen-admin-2 150 -f frank@example.com legal@corp.example
  admin $((AGE - 5)) -Mf "$ID"                   # frozen but never met by a queue run: stays
  plain_mail p-0m   $A0   alice@example.org bob@remote.example "Lunch tomorrow?" 240
}

# ------------------------------------------------------------------ build
case $NAME in
  main)  plain_set; bounces_in; state_set; large_set 1; charset_set; headers_set; journal_set; slow_set; smtp_set ;;
  split) plain_set; bounces_in; state_set; large_set 0; charset_set; headers_set; journal_set; slow_set; smtp_set ;;
  frozenmove) frozenmove_set ;;
esac

# ------------------------------------------------------------------ sanity of what exim wrote
[ ! -s "$LOG/paniclog" ] || die "exim wrote a paniclog: $(head -5 "$LOG/paniclog")"
# no two messages (any queue) may share an arrival second
dup=$(find "$SPOOL" -name '??????-??????-??-H' -printf '%f\n' | cut -c1-6 | sort | uniq -d)
[ -z "$dup" ] || die "messages share an arrival second: $(for t in $dup; do find "$SPOOL" -name "$t-*-H" -printf '%f '; done)"
# the message registry: LABEL ID QUEUE, for the messages still on the spool
: > "$GOLD/MESSAGES"
for l in "${LABELS[@]}"; do
  id=${IDS[$l]}
  h=$(find "$SPOOL" -name "$id-H" -printf '%P\n' | head -1)
  [ -n "$h" ] || continue
  case $h in input/*) q=input ;; Finput/*) q=Finput ;; *) q=${h%%/*} ;; esac
  printf '%s\t%s\t%s\n' "$l" "$id" "$q" >> "$GOLD/MESSAGES"
done
echo "$QT_T0" > "$GOLD/T0"

# ------------------------------------------------------------------ goldens
# Every command runs at FAKETIME=@T0 (the clock starts at T0 in every process), TZ=UTC, and a
# fixed Perl hash seed (exiqgrep and exipick iterate hashes).
exim()     { "$X/bin/exim-$NAME" "$@"; }
exiqgrep() { "$X/bin/exiqgrep-$NAME" "$@"; }
exipick()  { "$X/bin/exipick-$NAME" "$@"; }
exiqsumm() { "$X/bin/exiqsumm" "$@"; }
cap() {   # cap FILE COMMAND  (COMMAND in symbolic form, eval'ed with the functions above)
  local f=$1 c=$2 rc=0
  ( eval "$c" ) > "$GOLD/$f" 2> "$GOLD/$f.err" || rc=$?
  [ -s "$GOLD/$f.err" ] || rm -f "$GOLD/$f.err"
  printf '%s\t%s\t%s\n' "$f" "$rc" "$c" >> "$GOLD/COMMANDS"
}
capture_goldens() {
  export TZ=UTC PERL_HASH_SEED=0 PERL_PERTURB_KEYS=0
  export FAKETIME="@$(t0_string)"
  : > "$GOLD/COMMANDS"
  local in_input=() l a b v n i
  for l in "${LABELS[@]}"; do
    grep -q "^$l	[^	]*	input\$" "$GOLD/MESSAGES" && in_input+=("$l")
  done
  pick() { local w; for w in "$@"; do grep -q "^$w	[^	]*	input\$" "$GOLD/MESSAGES" && { echo "${IDS[$w]}"; return; }; done
           echo "${IDS[${in_input[0]}]}"; }
  a=$(pick partial p-5m); b=$(pick frozen-bounce frozen-admin p-26h)

  cap exim-bp.out            'exim -bp'
  cap exim-bpa.out           'exim -bpa'
  cap exim-bpu.out           'exim -bpu'
  cap exim-bpc.out           'exim -bpc'
  cap exim-bp-2ids.out       "exim -bp $a $b"
  cap exim-bp-missing.out    'exim -bp 1vaaaa-000001-00'
  cap exim-qGslow-bp.out     'exim -qGslow -bp'
  cap exim-qGslow-bpc.out    'exim -qGslow -bpc'

  cap exiqgrep-c-f-dot.out        "exiqgrep -c -f ."
  cap exiqgrep-i-f-alice.out      "exiqgrep -i -f alice"
  cap exiqgrep-f-alice.out        "exiqgrep -f alice"
  cap exiqgrep-f-null.out         "exiqgrep -f '^<>\$'"
  cap exiqgrep-i-r-remote.out     "exiqgrep -i -r 'remote\\.example\$'"
  cap exiqgrep-r-deliver.out      "exiqgrep -r 'deliver\\.example'"
  cap exiqgrep-a-r-deliver.out    "exiqgrep -a -r 'deliver\\.example'"
  cap exiqgrep-z.out              "exiqgrep -z"
  cap exiqgrep-z-i.out            "exiqgrep -z -i"
  cap exiqgrep-z-c.out            "exiqgrep -z -c"
  cap exiqgrep-x-i.out            "exiqgrep -x -i"
  cap exiqgrep-x-c.out            "exiqgrep -x -c"
  cap exiqgrep-y3600-i.out        "exiqgrep -y 3600 -i"
  cap exiqgrep-o86400-i.out       "exiqgrep -o 86400 -i"
  cap exiqgrep-o259200-b.out      "exiqgrep -o 259200 -b"
  cap exiqgrep-s-M.out            "exiqgrep -s 'M\$'"
  cap exiqgrep-s-K-i.out          "exiqgrep -s 'K\$' -i"
  cap exiqgrep-b-f-example.out    "exiqgrep -b -f 'example\\.(org|net)'"
  cap exiqgrep-R-i-f-dot.out      "exiqgrep -R -i -f ."
  cap exiqgrep-G-slow-f-dot.out   "exiqgrep -G slow -f ."

  cap exiqsumm.out                'exim -bp | exiqsumm'
  cap exiqsumm-c.out              'exim -bp | exiqsumm -c'
  cap exiqsumm-a.out              'exim -bp | exiqsumm -a'
  cap exiqsumm-b-f.out            'exim -bp | exiqsumm -b -f'
  cap exiqsumm-s.out              'exim -bp | exiqsumm -s'

  cap exipick-i-subject.out       "exipick -i '\$h_subject: =~ /long|size/'"
  cap exipick-bpc.out             'exipick -bpc'
  [ "$NAME" = frozenmove ] && cap exipick-finput-i.out 'exipick --finput -i'

  n=0
  for v in $(pick hdr-flags p-0m) $(pick latin1-nul p-5m) $(pick bdat-wire sixty p-26h); do
    n=$((n + 1))
    cap "exim-Mvc-$n.out" "exim -Mvc $v"
    cap "exim-Mvh-$n.out" "exim -Mvh $v"
    cap "exim-Mvb-$n.out" "exim -Mvb $v"
  done
  unset FAKETIME
}
BUILT=$EPOCHREALTIME
capture_goldens

# the Perl tools must have run cleanly (a missing Perl module would otherwise become a golden)
bad=$(awk -F '\t' '$3 ~ /exiqgrep|exiqsumm|exipick/ && $2 != 0 { print $1 }' "$GOLD/COMMANDS")
for f in "$GOLD"/*.err; do [ -e "$f" ] && bad="$bad ${f##*/}"; done
[ -z "$bad" ] || die "goldens with errors: $bad"
# what exim thinks of the result
n=$("$EX" -bpc); s=$("$EX" -qGslow -bpc)
# the goldens must not depend on when they were captured
cmp -s "$GOLD/exim-bp.out" <(TZ=UTC FAKETIME="@$(t0_string)" "$EX" -bp) || die "exim -bp is not reproducible at T0"
echo "$WANT" > "$STAMP"
say "$NAME: $n messages in input, $s in queue 'slow', $(wc -l < "$GOLD/COMMANDS") goldens in $GOLD ($(awk -v a="$START" -v b="$BUILT" -v c="$EPOCHREALTIME" 'BEGIN { printf "%.1f s: build %.1f, goldens %.1f", c - a, b - a, c - b }'))"
