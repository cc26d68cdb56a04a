#!/bin/bash
# tests/t/22-exim-reasons.t -- Exim's delay reasons against the message logs as Exim itself
# shows them (exim -Mvl), on the lab's spools (main, split, split's named queue "slow"):
# each pending recipient's delay_reason in qls --json is the text of its last deferral line
# (a frozen message's: its last freezing line); a recipient without one has none;
# qcat --log ID is exim -Mvl ID byte for byte; qsumm --by reason and qgrep --reason count
# what the logs say (computed here from exim -bp and -Mvl); --merge of three hosts adds up;
# hostile logs (symlink, over 1 MiB, control bytes, bad UTF-8) on a copy; real SMTP
# deferrals (451 after RCPT, 452 after the data, two attempts) that the lab's exim makes on
# a copy against a loopback sink on a free port of 29490-29499 (HACKING: the labs' ports);
# and, on the same copy, deferrals of several causes that the lab's exim makes in two queue
# runs on the test's own configuration (the lab's plus a few routers and transports): the
# sink answering 451 with each domain's own text (after the data; one domain after RCPT),
# a router's :defer:, an appendfile transport whose directory is missing then unwritable,
# connection refused, a routing freeze. There, each recipient's delay_reason equals exim
# -Mvl's text exactly, qcat --log is exim -Mvl, qsumm --by reason and --by reason,domain
# count what the logs say, and qgrep --reason of each domain's text and of the local ones
# selects the messages the logs name (all computed here from exim -bp and -Mvl).
. "$(dirname "$0")/../lib.sh"
export LC_ALL=C TZ=UTC
PY=$(command -v /usr/bin/python3 || command -v python3)
LAB=$QT_ROOT/tests/lab
T=$QT_BIN

qt_labs exim
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
EXIM=$QT_LAB/exim/bin/exim

# expect_reasons MVL_DIR JSON: every recipient of every message record in JSON, checked
# against DIR/ID (exim -Mvl's output). Prints one line per failure, then "checked N".
expect_reasons() {
    "$PY" - "$1" "$2" <<'PY'
import json, re, sys
d, bad, n, with_reason = sys.argv[1], 0, 0, 0
stamp = re.compile(r'^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (?:[+-]\d{4} )?')
for line in open(sys.argv[2], encoding='utf-8'):
    m = json.loads(line)
    if m['type'] != 'message':
        continue
    try:
        log = open(d + '/' + m['queue_id'], 'rb').read().decode('utf-8', 'replace').split('\n')
    except FileNotFoundError:
        log = []
    frozen = [l[4:] for l in log if l.startswith('*** Frozen')]
    for r in m['recipients']:
        n += 1
        a = r['address']
        last = None
        for l in log:
            s = stamp.sub('', l, count=1)
            if s == l or ' defer (' not in s:
                continue
            w = s.split(' ')
            if w[0] == a or (len(w) > 1 and w[1] == '<' + a + '>'):
                last = s
        got = r.get('delay_reason')
        if m['state'] == 'frozen' and frozen:
            want_ok = got == frozen[-1]
            what = 'the freezing line ' + repr(frozen[-1])
        elif last is None:
            want_ok = got is None
            what = 'no reason'
        else:
            # the text as Exim logged it, without the fields: in the line, after "defer (N)"
            tail = last.split(' defer (', 1)[1]
            want_ok = got is not None and got != '' and all(
                part in tail for part in got.split(': ')) and \
                not re.search(r'(^| )(R|T|H|DT)=', got)
            what = 'from ' + repr(last)
        if got is not None:
            with_reason += 1
        if not want_ok:
            bad += 1
            print('%s %s: got %r, want %s' % (m['queue_id'], a, got, what))
print('checked %d recipients, %d with a reason' % (n, with_reason))
sys.exit(1 if bad else 0)
PY
}

# mvl_all SPOOL [-qGNAME] JSON DIR: exim -Mvl of every message of JSON into DIR/ID
mvl_all() {
    local spool=$1 q=$2 json=$3 dir=$4 id
    mkdir -p "$dir"
    for id in $(jq -r 'select(.type == "message") | .queue_id' "$json"); do
        "$EXIM" -DSPOOL="$spool" $q -Mvl "$id" >"$dir/$id" 2>/dev/null || rm -f "$dir/$id"
    done
}

# check_logs SPOOL QARG JSON MVL_DIR LABEL: qcat --log = exim -Mvl (MVL_DIR/ID), byte for
# byte, for every message of JSON; where exim -Mvl finds no log, exit 2 and one line
check_logs() {
    local bad= nlog=0 id rc
    for id in $(jq -r 'select(.type == "message") | .queue_id' "$3"); do
        "$T/qcat" --spool "$1" --mta exim $2 --log "$id" >"$tmp/log" 2>"$tmp/err"; rc=$?
        if [ -e "$4/$id" ]; then
            nlog=$((nlog + 1))
            { [ $rc = 0 ] && cmp -s "$4/$id" "$tmp/log"; } || bad="$bad $id"
        else
            [ $rc = 2 ] && [ ! -s "$tmp/log" ] && [ "$(grep -c . "$tmp/err")" = 1 ] || bad="$bad $id(no log)"
        fi
    done
    is "$bad" "" "$5: qcat --log is exim -Mvl byte for byte ($nlog logs)"
}

n=0
for spool in main split split:slow; do
    s=${spool%%:*} q= qarg=
    [ "$spool" != "$s" ] && q=-qG${spool#*:} qarg="-G ${spool#*:}"
    "$LAB/exim-spool.sh" "$s" >"$tmp/lab.log" 2>&1 ||
        { cat "$tmp/lab.log" >&2; bail_out "exim lab spool $s failed"; }
    S=$QT_LAB/exim/spools/$s
    tag=${spool/:/-}
    "$T/qls" --spool "$S" --mta exim $qarg --json >"$tmp/$tag.json"
    ok $? "$spool: qls --json"
    mvl_all "$S" "$q" "$tmp/$tag.json" "$tmp/mvl-$tag"
    out=$(expect_reasons "$tmp/mvl-$tag" "$tmp/$tag.json")
    ok $? "$spool: every recipient's delay_reason is its last deferral (or freezing) line's text" ||
        diag "$out"
    diag "$spool: $(echo "$out" | tail -1)"
    n=$((n + $(echo "$out" | tail -1 | awk '{print $4}')))
    jq -e . "$tmp/$tag.json" >/dev/null; ok $? "$spool: valid JSON"
    check_logs "$S" "$qarg" "$tmp/$tag.json" "$tmp/mvl-$tag" "$spool"
done
[ "$n" -gt 10 ]; ok $? "the lab's logs gave reasons to compare ($n > 10)"

# rcpt_reasons_from_exim SPOOL [-qGNAME]: "ID<TAB>ADDRESS<TAB>REASON" for each pending
# recipient of each message, computed from exim -bp (the messages, their pending recipients,
# frozen or not) and exim -Mvl (the logs), with none of libqueue ("" for a recipient without
# a reason)
rcpt_reasons_from_exim() {
    local spool=$1 q=$2
    "$EXIM" -DSPOOL="$spool" $q -bp | "$PY" -c '
import re, subprocess, sys
exim, spool, q = sys.argv[1], sys.argv[2], sys.argv[3:]
msgs, cur = [], None
for l in sys.stdin.read().split("\n"):
    m = re.match(r"^ *\d+[mhdw] +\S* +(\S+) <.*?>( \*\*\* frozen \*\*\*)?$", l)
    if m:
        cur = [m.group(1), bool(m.group(2)), []]; msgs.append(cur)
    elif cur and re.match(r"^ {10}\S", l):
        cur[2].append(l.strip())
for mid, frozen, rcpts in msgs:
    r = subprocess.run([exim, "-DSPOOL=" + spool] + q + ["-Mvl", mid], capture_output=True)
    log = r.stdout.decode("utf-8", "replace").split("\n") if r.returncode == 0 else []
    freeze = [l[4:] for l in log if l.startswith("*** Frozen")]
    for a in rcpts:
        why = ""
        for l in log:
            m = re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (\S+)(?: <(\S+)>)? .*? defer \((-?\d+)\)(.*)$", l)
            if not m or a not in (m.group(1), m.group(2)):
                continue
            rest, parts = m.group(4), []
            if int(m.group(3)) > 0 and rest.startswith(": "):
                e = re.match(r": (.*?)(?= H=| DT=|: |$)", rest)
                parts.append(e.group(1)); rest = rest[e.end():]
            if ": " in rest:
                parts.append(rest.split(": ", 1)[1])
            why = ": ".join(parts)
        if frozen and freeze:
            why = freeze[-1]
        print("%s\t%s\t%s" % (mid, a, why))
' "$EXIM" "$spool" $q
}

# reasons_from_exim SPOOL [-qGNAME]: "ID<TAB>REASON" for each reason of each message
reasons_from_exim() { rcpt_reasons_from_exim "$@" | cut -f1,3 | sort -u; }

for spool in main split; do
    S=$QT_LAB/exim/spools/$spool
    reasons_from_exim "$S" >"$tmp/reasons-$spool"
    cut -f2 "$tmp/reasons-$spool" | sort | uniq -c |
        awk '{ n = $1; sub(/^ *[0-9]+ ?/, ""); print n "\t" $0 }' >"$tmp/want-$spool"
    "$T/qsumm" --spool "$S" --mta exim --by reason --json |
        jq -r 'select(.type == "group") | "\(.count)\t\(.reason)"' | sort -t "$(printf '\t')" -k2 >"$tmp/got-$spool"
    sort -t "$(printf '\t')" -k2 "$tmp/want-$spool" -o "$tmp/want-$spool"
    [ "$(grep -c . "$tmp/want-$spool")" -ge 3 ]
    ok $? "$spool: exim -bp and -Mvl give several reasons to count ($(grep -c . "$tmp/want-$spool"))"
    is_same_file "$tmp/want-$spool" "$tmp/got-$spool" "$spool: qsumm --by reason counts what exim -Mvl says"
    for re in refused '^Frozen' 'local host' 'nothing like it'; do
        awk -F '\t' -v re="$re" 'tolower($2) ~ tolower(re) && $2 != "" { print $1 }' "$tmp/reasons-$spool" |
            sort -u >"$tmp/want"
        "$T/qgrep" --spool "$S" --mta exim --reason "$re" -i | sort >"$tmp/got"
        is_same_file "$tmp/want" "$tmp/got" "$spool: qgrep --reason '$re' = exim -Mvl's ($(grep -c . "$tmp/want") messages)"
    done
done

# ---- --merge of --by reason --json from 3 hosts (two spools, one of them twice)
"$T/qsumm" --spool "$QT_LAB/exim/spools/main" --by reason --json --host mx1 >"$tmp/mx1"
"$T/qsumm" --spool "$QT_LAB/exim/spools/split" --by reason --json --host mx2 >"$tmp/mx2"
"$T/qsumm" --spool "$QT_LAB/exim/spools/main" --by reason --json --host mx3 >"$tmp/mx3"
cat "$tmp/mx1" "$tmp/mx2" "$tmp/mx3" | jq -rs '[.[] | select(.type == "group")] |
    group_by(.reason)[] | "\(map(.count) | add)\t\(.[0].reason | if . == "" then "-" else . end)"' |
    sort >"$tmp/merge-want"
[ "$(grep -c . "$tmp/merge-want")" -ge 3 ]; ok $? "three hosts have rows to merge"
cat "$tmp/mx1" "$tmp/mx2" "$tmp/mx3" | "$T/qsumm" --merge --expect 'mx[1-3]' >"$tmp/merged"
ok $? "qsumm --merge of --by reason --json"
awk '/^-----  ------/ { on = 1; next } /^-------------------/ { on = 0 }
    on && NF { print $1 "\t" substr($0, 32) }' \
    "$tmp/merged" | sort >"$tmp/merge-got"
is_same_file "$tmp/merge-want" "$tmp/merge-got" "the merged table's counts per reason are the hosts' sums"
"$T/qsumm" --spool "$QT_LAB/exim/spools/main" --json --host mx4 >"$tmp/mx4"
cat "$tmp/mx1" "$tmp/mx4" | "$T/qsumm" --merge >/dev/null 2>"$tmp/err"
is "$?:$(grep -c . "$tmp/err")" "2:1" "hosts summarized by different keys: one line, exit 2"

# ---- bad --by
for bad in nosuch reason,reason reason,nosuch ""; do
    "$T/qsumm" --spool "$QT_LAB/exim/spools/main" --by "$bad" >"$tmp/out" 2>"$tmp/err"
    is "$?:$(grep -c . "$tmp/err"):$(grep -c . "$tmp/out")" "2:1:0" "qsumm --by '$bad': one line, exit 2"
done

# ---- hostile message logs, on a copy: a symlink, a huge one, control bytes and bad UTF-8
C=$tmp/copy; cp -a "$QT_LAB/exim/spools/main" "$C"
mapfile -t ids < <(jq -r 'select(.type == "message" and
    any(.recipients[]; .delay_reason == "Connection refused")) | .queue_id' "$tmp/main.json" | head -3)
[ "${#ids[@]}" = 3 ]; ok $? "three messages deferred with Connection refused to spoil"
rcpt2=$(jq -r --arg id "${ids[2]}" 'select(.queue_id == $id) | .recipients[0].address' "$tmp/main.json")
ln -sf "${ids[1]}" "$C/msglog/${ids[0]}"
{ awk 'BEGIN { for (i = 0; i < 30000; i++) printf "2025-12-30 22:00:00 filler line %05d of a long log\n", i }'
  cat "$QT_LAB/exim/spools/main/msglog/${ids[1]}"; } >"$C/msglog/${ids[1]}.new"
mv "$C/msglog/${ids[1]}.new" "$C/msglog/${ids[1]}"
printf '2026-01-01 00:00:00 %s R=lab_smarthost T=lab_smtp defer (-1): tab\there, bell\a, bytes \xff\xfe, caf\xc3\xa9\n' \
    "$rcpt2" >>"$C/msglog/${ids[2]}"
"$T/qls" --spool "$C" --mta exim --json >"$tmp/copy.json" 2>"$tmp/err"
is "$?:$(cat "$tmp/err")" "0:" "hostile logs: qls --json reads the queue, no trouble"
"$PY" -c '
import json, sys
for l in open(sys.argv[1], "rb"):
    json.loads(l.decode("utf-8"))' "$tmp/copy.json"
ok $? "hostile logs: every line is valid JSON (strict UTF-8)"
reason_of() { jq -r --arg id "$1" 'select(.queue_id == $id) | .recipients[0].delay_reason // "(none)"' "$tmp/copy.json"; }
is "$(reason_of "${ids[0]}")" "(none)" "a message log that is a symlink is not followed: no reason"
"$T/qcat" --spool "$C" --mta exim --log "${ids[0]}" >"$tmp/out" 2>"$tmp/err"
is "$?:$(grep -c . "$tmp/err"):$(grep -c . "$tmp/out")" "2:1:0" "qcat --log of a symlink: one line, exit 2"
grep -q "${ids[0]}" "$tmp/err"; ok $? "... naming the message" || diag "$(cat "$tmp/err")"
[ "$(stat -c %s "$C/msglog/${ids[1]}")" -gt 1048576 ]; ok $? "a message log over 1 MiB"
is "$(reason_of "${ids[1]}")" "Connection refused" "its reason comes from its last MiB"
"$T/qcat" --spool "$C" --mta exim --log "${ids[1]}" | cmp -s - "$C/msglog/${ids[1]}"
ok $? "qcat --log shows all of it"
is "$(reason_of "${ids[2]}")" "$(printf 'tab\there, bell\a, bytes \\xff\\xfe, caf\xc3\xa9')" \
    "control bytes stay JSON escapes, bytes that are not UTF-8 are written \\xNN"
"$T/qsumm" --spool "$C" --mta exim --by reason | grep -a 'bell' >"$tmp/out"
is "$(cut -c32- "$tmp/out")" "$(printf 'tab\\x09here, bell\\x07, bytes \\xff\\xfe, caf\xc3\xa9')" \
    "qsumm --by reason shows them escaped"
"$T/qsumm" --spool "$C" --mta exim --by reason --json --host h1 >"$tmp/h1"
"$T/qsumm" --spool "$C" --mta exim --by reason --json --host h2 >"$tmp/h2"
cat "$tmp/h1" "$tmp/h2" | "$T/qsumm" --merge | grep -a 'bell' | cut -c1-5 >"$tmp/out"
is "$(tr -d ' ' <"$tmp/out")" 2 "... and --merge adds them up"

# ---- real SMTP deferrals, on a copy: the lab's exim delivers crash.example to -DTARPIT's port,
# where a loopback sink answers 451 after RCPT (grey*) or 452 after the data (full*), its text
# naming the attempt; two attempts, so that the reason must be the last one. The same sink
# later answers the domains of sink.texts (the causes, below) with each domain's own text.
C2=$tmp/sinkcopy; cp -a "$QT_LAB/exim/spools/main" "$C2"
chmod 755 "$tmp"                   # exim runs as its own user in the copy
sinkport=
for p in $(seq 29490 29499); do (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { sinkport=$p; break; }; done
[ -n "$sinkport" ] || bail_out "no free port in 29490-29499 for the SMTP sink"
# DOMAIN <TAB> when the sink refuses it (rcpt: its RCPT, data: the end of the data of a
# transaction with one of its recipients) <TAB> the reply
printf '%s\t%s\t%s\n' \
    alpha.example data '451 4.3.0 alpha.example: mailbox busy, try later' \
    beta.example data '451 4.4.5 beta.example: too many connections from you' \
    gamma.example data '451 4.7.0 gamma.example: temporary policy failure' \
    delta.example rcpt '451 4.2.1 delta.example: user over quota' >"$tmp/sink.texts"
"$PY" - "$sinkport" "$tmp/sink.texts" >"$tmp/sink.log" 2>&1 <<'PY' &
import socket, sys, threading
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", int(sys.argv[1]))); srv.listen(8)
texts = {}
for l in open(sys.argv[2]):
    d, when, reply = l.rstrip("\n").split("\t")
    texts[(d, when)] = reply
print("ready", flush=True)
attempt = 0
def serve(c, n):
    f = c.makefile("rb")
    w = lambda s: c.sendall(s.encode() + b"\r\n")
    w("220 sink.example ESMTP lab sink")
    doms = set()
    while True:
        l = f.readline()
        if not l:
            break
        u = l.decode("latin-1").strip(); cmd = u[:4].upper()
        if cmd in ("EHLO", "HELO"): w("250 sink.example")
        elif cmd in ("MAIL", "RSET"): doms = set(); w("250 OK")
        elif cmd == "RCPT":
            a = u[u.find("<") + 1:u.find(">")]
            d = a.rsplit("@", 1)[-1].lower()
            if a.startswith("grey"):
                w("451 4.7.1 <%s>: greylisted by the lab sink (attempt %d)" % (a, n))
            elif (d, "rcpt") in texts:
                w(texts[(d, "rcpt")])
            else:
                doms.add(d); w("250 OK")
        elif cmd == "DATA":
            w("354 go")
            while f.readline() not in (b".\r\n", b""):
                pass
            t = [texts[(d, "data")] for d in sorted(doms) if (d, "data") in texts]
            w(t[0] if t else "452 4.3.1 lab sink: insufficient system storage (attempt %d)" % n)
        elif cmd == "QUIT": w("221 bye"); break
        else: w("500 what")
    c.close()
while True:
    c, _ = srv.accept(); attempt += 1
    threading.Thread(target=serve, args=(c, attempt), daemon=True).start()
PY
sinkpid=$!
trap 'kill $sinkpid 2>/dev/null; rm -rf "$tmp"' EXIT
for i in 1 2 3 4 5 6 7 8 9 10; do grep -q ready "$tmp/sink.log" && break; sleep 0.2; done
printf 'From: lab@example.org\nSubject: to the sink\n\nhello\n' |
    "$EXIM" -DSPOOL="$C2" -odq -oi -f sinktest@example.org grey1@crash.example full1@crash.example
sid=$("$EXIM" -DSPOOL="$C2" -bp | awk '/<sinktest@example.org>/ { print $3 }')
[ -n "$sid" ]; ok $? "a message for the sink ($sid)"
"$EXIM" -DSPOOL="$C2" -DTARPIT="$sinkport" -M "$sid"
"$EXIM" -DSPOOL="$C2" -DTARPIT="$sinkport" -M "$sid"
"$EXIM" -DSPOOL="$C2" -Mvl "$sid" >"$tmp/sink.mvl"
[ "$(grep ' defer (' "$tmp/sink.mvl" | grep -c 'attempt 2')" = 2 ]; ok $? "exim logged two attempts' deferrals with SMTP errors" ||
    diag "$(cat "$tmp/sink.mvl")"
"$T/qls" --spool "$C2" --mta exim --json "$sid" >"$tmp/sink.json"
mkdir -p "$tmp/mvl-sink"; cp "$tmp/sink.mvl" "$tmp/mvl-sink/$sid"
out=$(expect_reasons "$tmp/mvl-sink" "$tmp/sink.json")
ok $? "SMTP errors: each reason is the text of the recipient's last deferral line" || diag "$out"
is "$(jq -r '.recipients[]? | "\(.address) \(.delay_reason)"' "$tmp/sink.json")" \
"grey1@crash.example SMTP error from remote mail server after RCPT TO:<grey1@crash.example>: 451 4.7.1 <grey1@crash.example>: greylisted by the lab sink (attempt 2)
full1@crash.example SMTP error from remote mail server after end of data: 452 4.3.1 lab sink: insufficient system storage (attempt 2)" \
    "SMTP errors: a 4xx after RCPT and one after the data, from the last attempt"
"$T/qcat" --spool "$C2" --mta exim --log "$sid" | cmp -s - "$tmp/sink.mvl"
ok $? "SMTP errors: qcat --log is exim -Mvl"
n=$("$T/qgrep" --spool "$C2" --mta exim --reason '^SMTP error .* 45[12] 4\.' -c)
is "$n" "1 matches out of $(("$(grep -c '"type": "message"' "$tmp/main.json")" + 1)) messages" "qgrep --reason finds it"

# ---- the causes of deferral, made by the lab's exim in two queue runs on the same copy, on
# a configuration of our own (the lab's, plus what is said below; the shared lab is untouched):
# alpha/beta/gamma.example go to the sink, which refuses the end of their data with each
# domain's text (one domain per transaction: multi_domain = false), delta.example's RCPT with
# its own; hold.example is deferred by its router (":defer:"), nodir.example by its appendfile
# transport (its directory does not exist), refused.example by a closed port (the lab's
# smarthost), loop.example freezes the message (self = freeze). Then the reasons of every
# message of the copy are computed from exim -bp and -Mvl, and the tools must agree.
awk -v nodir="$tmp/nodir/mbox" '
/^begin routers$/ { print; print "\nlab_sinkdomains:\n  driver = manualroute\n" \
    "  domains = alpha.example : beta.example : gamma.example : delta.example\n" \
    "  route_list = * 127.0.0.1::TARPIT byname\n  self = send\n  transport = lab_sink\n\n" \
    "lab_hold:\n  driver = redirect\n  domains = hold.example\n  allow_defer\n" \
    "  data = :defer: mailbox on hold (qtools lab)\n\n" \
    "lab_nodir:\n  driver = accept\n  domains = nodir.example\n  transport = lab_nodir\n"; next }
/^begin transports$/ { print; print "\nlab_sink:\n  driver = smtp\n  allow_localhost = true\n" \
    "  multi_domain = false\n  hosts_try_fastopen =\n\n" \
    "lab_nodir:\n  driver = appendfile\n  file = " nodir "\n  create_directory = false\n" \
    "  use_lockfile = false\n  user = Debian-exim\n"; next }
{ print }' "$QT_LAB/exim/exim.conf" >"$tmp/causes.conf"
printf '#!/bin/sh\n. %s/exim/bin/exim-env\nexec %s/exim/bin/exim4-nosuid -C %s "$@"\n' \
    "$QT_LAB" "$QT_LAB" "$tmp/causes.conf" >"$tmp/exim-causes"
chmod 755 "$tmp/exim-causes"
EXC="$tmp/exim-causes -DSPOOL=$C2 -DTARPIT=$sinkport"
$EXC -bV >/dev/null 2>"$tmp/err"; ok $? "causes: exim takes the test's configuration" || diag "$(cat "$tmp/err")"
i=0
for rc in "u1@alpha.example u2@beta.example x@hold.example" \
          "u3@alpha.example q1@delta.example z1@nodir.example w1@refused.example" \
          "u4@gamma.example admin@loop.example" \
          "u5@beta.example u6@beta.example v1@gamma.example y1@hold.example" \
          "u7@alpha.example q2@delta.example z2@nodir.example" \
          "w2@refused.example w3@refused.example"; do
    i=$((i + 1))
    printf 'From: c%d@causes.example\nSubject: cause %d\n\nhello\n' $i $i |
        $EXC -odq -oi -f "c$i@causes.example" $rc
done
# two queue runs of these messages alone (-S: their sender), retry times ignored (-qf);
# between them nodir.example's directory appears, root's: its cause changes (ENOENT, then
# EACCES), and the reason must be the last one
$EXC -qf -S '@causes.example' 2>"$tmp/err"
mkdir -m 755 "$tmp/nodir"
$EXC -qf -S '@causes.example' 2>>"$tmp/err"
kill $sinkpid
is "$(cat "$tmp/err")" "" "causes: two queue runs, no complaint"
mapfile -t cids < <("$EXIM" -DSPOOL="$C2" -bp | awk '/<c[0-9]@causes\.example>/ { print $3 }')
is "${#cids[@]}" "$i" "causes: all $i messages still queued"
[ ! -s "$C2/log/paniclog" ]; ok $? "causes: no paniclog" || diag "$(head -5 "$C2/log/paniclog")"

"$T/qls" --spool "$C2" --mta exim --json >"$tmp/c2.json"
ok $? "causes: qls --json of the copy"
mvl_all "$C2" "" "$tmp/c2.json" "$tmp/mvl-c2"
out=$(expect_reasons "$tmp/mvl-c2" "$tmp/c2.json")
ok $? "causes: every recipient's delay_reason is its last deferral (or freezing) line's text" ||
    diag "$out"
rcpt_reasons_from_exim "$C2" >"$tmp/c2-rcpt"
jq -r 'select(.type == "message") | .queue_id as $id | .recipients[] |
    "\($id)\t\(.address)\t\(.delay_reason // "")"' "$tmp/c2.json" | sort >"$tmp/got"
sort "$tmp/c2-rcpt" >"$tmp/want"
is_same_file "$tmp/want" "$tmp/got" \
    "causes: each recipient's delay_reason is exim -Mvl's text, exactly ($(grep -c . "$tmp/got") recipients)"
check_logs "$C2" "" "$tmp/c2.json" "$tmp/mvl-c2" causes

# what exim logged: every cause is there, so that the comparisons below mean something
for id in "${cids[@]}"; do cat "$tmp/mvl-c2/$id"; done >"$tmp/c-mvl"
while IFS="$(printf '\t')" read -r d when reply; do
    [ "$(grep -F " defer (" "$tmp/c-mvl" | grep -F "@$d " | grep -cF ": $reply")" -ge 1 ]
    ok $? "causes: exim logged $d's deferral with the sink's text ($when)"
done <"$tmp/sink.texts"
for what in ' R=lab_hold defer (' ' T=lab_nodir defer (2)' ' T=lab_nodir defer (13)' ' T=lab_smtp defer (111): Connection refused' '*** Frozen'; do
    grep -qF "$what" "$tmp/c-mvl"; ok $? "causes: exim logged '$what'"
done

# counts: messages per reason, and per (reason, domain) of their pending recipients
tab=$(printf '\t')
count_rows() { sort -u | cut -f2- | sort | uniq -c | awk '{ n = $1; sub(/^ *[0-9]+ ?/, ""); print n "\t" $0 }' | sort; }
cut -f1,3 "$tmp/c2-rcpt" | count_rows >"$tmp/want"
"$T/qsumm" --spool "$C2" --mta exim --by reason --json |
    jq -r 'select(.type == "group") | "\(.count)\t\(.reason)"' | sort >"$tmp/got"
[ "$(grep -c . "$tmp/want")" -ge 10 ]; ok $? "causes: several reasons to count ($(grep -c . "$tmp/want"))"
is_same_file "$tmp/want" "$tmp/got" "causes: qsumm --by reason counts what exim -Mvl says"
awk -F '\t' '{ d = $2; sub(/.*@/, "", d); print $1 "\t" $3 "\t" tolower(d) }' "$tmp/c2-rcpt" |
    count_rows >"$tmp/want"
"$T/qsumm" --spool "$C2" --mta exim --by reason,domain --json |
    jq -r 'select(.type == "group") | "\(.count)\t\(.reason)\t\(.domain)"' | sort >"$tmp/got"
is_same_file "$tmp/want" "$tmp/got" "causes: qsumm --by reason,domain pairs them as exim -Mvl does"
# qgrep --reason: each domain's text, and the local ones, select what the logs say (a
# reason that starts with the text, for ^Frozen; one that holds it, for the others)
while IFS= read -r text; do
    re=$(printf '%s' "$text" | sed 's/[].[\*+?(){}|$]/\\&/g')
    awk -F '\t' -v t="${text#^}" -v anchored="$([ "${text#^}" = "$text" ] || echo 1)" '
        (anchored ? index($3, t) == 1 : index($3, t) > 0) { print $1 }' "$tmp/c2-rcpt" |
        sort -u >"$tmp/want"
    "$T/qgrep" --spool "$C2" --mta exim --reason "$re" --case-sensitive -i | sort >"$tmp/got"
    grep -qF -f <(printf '%s\n' "${cids[@]}") "$tmp/want"
    ok $? "causes: '$text' is the reason of some of their recipients"
    is_same_file "$tmp/want" "$tmp/got" "causes: qgrep --reason '$re' = exim -Mvl's ($(grep -c . "$tmp/want") messages)"
done < <(cut -f3 "$tmp/sink.texts"; printf '%s\n' 'mailbox on hold' '^Permission denied: while creating mailbox' '^Frozen')
n=$("$T/qgrep" --spool "$C2" --mta exim --reason '^No such file or directory' -c)
is "$n" "0 matches out of $(grep -c '"type": "message"' "$tmp/c2.json") messages" \
    "causes: nodir.example's first cause (ENOENT) is no one's reason any more"

# ---- the rule of reading: only when the output or the selection needs them
# (LeakSanitizer cannot run under ptrace: no leak check for these two runs under run-asan)
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
out=$(strace -f -e trace=openat "$T/qls" --spool "$QT_LAB/exim/spools/main" 2>&1 >/dev/null | grep -c msglog)
is "$out" 0 "qls (exim -bp's listing) reads no message log"
out=$(strace -f -e trace=openat "$T/qsumm" --spool "$QT_LAB/exim/spools/main" 2>&1 >/dev/null | grep -c msglog)
is "$out" 0 "qsumm (by domain) reads no message log"

done_testing
