#!/bin/bash
# 75-prom.t -- qsumm --prom as Prometheus' node_exporter serves it. Debian's real
# prometheus-node-exporter runs from its binary as nobody on a loopback port (29600-29619,
# the first free one), with only its textfile collector, on a temporary directory; it is
# stopped by PID, also on failure. For each lab spool (Exim main, its named queue, split;
# Postfix short and long, and two of short's queues alone with -G) and each qmail fixture
# (a, b, d, d-stopped), qsumm --prom --by domain --top 3 --output DIR/qtools.prom writes the
# file, Debian's promtool (package prometheus) checks it, and curl fetches /metrics: every
# qtools series served must be what is computed here from the tools already checked against
# the MTAs (qls --json for the messages, their queues, sizes, arrival times and recipients;
# qgrep -z, --bounce, --active for the flags), and the queues' sums must be what qls -c,
# qgrep -z -c, qgrep --bounce -c and qsumm --json say. Then: a message whose lock is held
# (Exim, Postfix) is the active one; the selection applies (-o 1d... under the lab's clock);
# 100 rewrites of the file while a reader reads it all the time, never seeing a part; and
# the bad input of the issue: a directory that is missing or not writable, a rename that
# fails, --json and --merge, --top 0 and x, a spool that cannot be read at all.
# shellcheck shell=bash
. "$(dirname "$0")/../lib.sh"
export LC_ALL=C TZ=UTC
umask 022
PY=$(command -v /usr/bin/python3 || command -v python3)
NE=/usr/bin/prometheus-node-exporter

for c in "$NE" promtool curl jq setpriv; do
    command -v "$c" >/dev/null || bail_out "$c is missing: run scripts/install-deps as root"
done
qt_labs exim main split
qt_labs postfix short long

tmp=$(mktemp -d)
nepid=
cleanup() { [ -n "$nepid" ] && kill "$nepid" 2>/dev/null && wait "$nepid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
TD=$tmp/textfile
mkdir -p "$TD" && chmod 755 "$tmp" "$TD"
Q=$QT_BIN/qsumm

# ---------------------------------------------------------------- node_exporter
for port in $(seq 29600 29619); do
    setpriv --reuid=65534 --regid=65534 --clear-groups "$NE" \
        --web.listen-address="127.0.0.1:$port" --collector.disable-defaults \
        --collector.textfile --collector.textfile.directory="$TD" >"$tmp/ne.log" 2>&1 &
    nepid=$!
    for _ in $(seq 50); do
        curl -sf "http://127.0.0.1:$port/metrics" >/dev/null 2>&1 && break 2
        kill -0 "$nepid" 2>/dev/null || break
        sleep 0.1
    done
    kill "$nepid" 2>/dev/null; wait "$nepid" 2>/dev/null; nepid=
done
[ -n "$nepid" ] || bail_out "node_exporter did not start on 127.0.0.1:29600-29619: $(tail -3 "$tmp/ne.log")"
URL=http://127.0.0.1:$port/metrics
is "$(ps -o user= -p "$nepid" | tr -d ' ')" nobody "node_exporter runs as nobody on 127.0.0.1:$port"

# ---------------------------------------------------------------- what must be served
# want.py MTA QUEUES DIR: the qtools series, from DIR/{qls.jsonl,z.ids,bounce.ids,active.ids,
# errors,scraped}: "name{sorted labels} value", sorted; the scan's time from the scrape
cat >"$tmp/want.py" <<'PY'
import json, re, sys
mta, queues, d = sys.argv[1], sys.argv[2].split(','), sys.argv[3]
def ids(n): return set(open('%s/%s.ids' % (d, n)).read().split())
frozen, bounce, active = ids('z'), ids('bounce'), ids('active')
msgs = [json.loads(l) for l in open(d + '/qls.jsonl', encoding='utf-8', errors='surrogateescape')]
msgs = [m for m in msgs if m['type'] == 'message']
errors = int(open(d + '/errors').read())
ts = None
for l in open(d + '/scraped'):
    m = re.match(r'qtools_queue_scan_timestamp_seconds\{.*\} (\S+)$', l)
    if m: ts = int(float(m.group(1)))
bounds = [300, 3600, 14400, 86400, 259200, 604800]
def domain(a):
    at = a.find('@')
    if at < 0: return None
    m = re.match(r'[A-Za-z0-9_.-]+', a[at+1:]) or re.match(r'\[\d+\.\d+\.\d+\.\d+\]', a[at+1:])
    return m.group(0).lower() if m else None
out = []
def put(name, labels, v):
    labels = dict(labels, mta=mta)
    out.append('%s{%s} %s' % (name, ','.join('%s="%s"' % (k, labels[k]) for k in sorted(labels)), v))
for q in queues:
    ms = [m for m in msgs if m['queue_name'] == q]
    ages = [max(0, ts - m['arrival_time']) for m in ms]
    L = {'queue': q}
    put('qtools_queue_messages', L, len(ms))
    put('qtools_queue_bytes', L, sum(m['message_size'] for m in ms))
    put('qtools_queue_oldest_message_age_seconds', L, max(ages + [0]))
    put('qtools_queue_frozen_messages', L, sum(m['queue_id'] in frozen for m in ms))
    put('qtools_queue_bounce_messages', L, sum(m['queue_id'] in bounce for m in ms))
    put('qtools_queue_active_messages', L, sum(m['queue_id'] in active for m in ms))
    for b in bounds:
        put('qtools_queue_message_age_seconds_bucket', dict(L, le=str(b)), sum(a <= b for a in ages))
    put('qtools_queue_message_age_seconds_bucket', dict(L, le='+Inf'), len(ms))
    put('qtools_queue_message_age_seconds_sum', L, sum(ages))
    put('qtools_queue_message_age_seconds_count', L, len(ms))
    doms = {}
    for m in ms:
        for x in set(filter(None, (domain(r['address']) for r in m['recipients']))):
            doms[x] = doms.get(x, 0) + 1
    for x in sorted(doms, key=lambda k: (-doms[k], k))[:3]:
        put('qtools_queue_domain_messages', dict(L, domain=x), doms[x])
    put('qtools_queue_scan_errors', L, errors)
    put('qtools_queue_scan_duration_seconds', L, 'D')
    put('qtools_queue_scan_timestamp_seconds', L, ts)
print('\n'.join(sorted(out)))
PY
# got.py FILE: the qtools series of a scrape in the same form (a duration: D when >= 0)
cat >"$tmp/got.py" <<'PY'
import re, sys
out = []
for l in open(sys.argv[1]):
    m = re.match(r'(qtools_\w+)\{(.*)\} (\S+)$', l)
    if not m: continue
    labels = sorted(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2)))
    v = float(m.group(3))
    v = 'D' if m.group(1).endswith('_duration_seconds') and v >= 0 else int(v) if v == int(v) else v
    out.append('%s{%s} %s' % (m.group(1), ','.join('%s="%s"' % kv for kv in labels), v))
print('\n'.join(sorted(out)))
PY

# sum NAME FILE: the values of NAME's series added up; count TOOL ARGS...: the number TOOL -c
# prints first ("13 matches out of 52 messages")
sum() { awk -v n="$1" 'index($0, n "{") == 1 { s += $NF } END { print s + 0 }' "$2"; }
count() { local t=$1; shift; "$QT_BIN/$t" "$@" 2>/dev/null | grep -o '^[0-9]*'; }

# check NAME MTA QUEUES SPOOL [-G NAME]: write, lint, scrape, compare
check() {
    local name=$1 mta=$2 queues=$3 d=$tmp/$1 rc n
    shift 3
    mkdir -p "$d"
    "$QT_BIN/qls" --json "$@" >"$d/qls.jsonl" 2>"$d/qls.err"
    wc -l <"$d/qls.err" >"$d/errors"
    "$QT_BIN/qgrep" -z -i "$@" >"$d/z.ids" 2>/dev/null
    "$QT_BIN/qgrep" --bounce -i "$@" >"$d/bounce.ids" 2>/dev/null
    "$QT_BIN/qgrep" --active -i "$@" >"$d/active.ids" 2>/dev/null
    "$Q" --prom --by domain --top 3 --output "$TD/qtools.prom" "$@" 2>"$d/prom.err"
    rc=$?
    n=$(cat "$d/errors")
    is "$rc:$(wc -l <"$d/prom.err")" "$([ "$n" = 0 ] && echo 0 || echo 2):$n" \
        "$name: qsumm --prom --output: exit $([ "$n" = 0 ] && echo 0 || echo 2), the $n messages qls cannot read reported"
    run_ok "$name: promtool check metrics accepts the file" promtool check metrics <"$TD/qtools.prom"
    curl -sf "$URL" >"$d/scraped"
    ok $? "$name: node_exporter serves /metrics"
    grep -q '^node_textfile_scrape_error 0$' "$d/scraped"
    ok $? "$name: node_exporter read the file without error" || diag "$(grep -i textfile "$d/scraped" | head -5)"
    "$PY" "$tmp/want.py" "$mta" "$queues" "$d" >"$d/want" 2>&1
    "$PY" "$tmp/got.py" "$d/scraped" >"$d/got"
    grep -q '^qtools_queue_messages{' "$d/want"; ok $? "$name: there are series to compare"
    is_same_file "$d/want" "$d/got" "$name: every qtools series is served, with the values from qls --json and qgrep"
    is "$(sum qtools_queue_messages "$d/got")" "$(count qls -c "$@")" "$name: the queues' messages add up to qls -c"
    is "$(sum qtools_queue_frozen_messages "$d/got")" "$(count qgrep -z -c "$@")" "$name: frozen add up to qgrep -z -c"
    is "$(sum qtools_queue_bounce_messages "$d/got")" "$(count qgrep --bounce -c "$@")" "$name: bounces add up to qgrep --bounce -c"
    is "$(sum qtools_queue_messages "$d/got") $(sum qtools_queue_frozen_messages "$d/got") $(sum qtools_queue_bytes "$d/got")" \
        "$("$Q" --json "$@" 2>/dev/null | jq -r 'select(.type == "host") | "\(.matched) \(.frozen) \(.bytes)"')" \
        "$name: messages, frozen and bytes add up to qsumm --json's"
}

EL=$QT_LAB/exim/spools PL=$QT_LAB/postfix QF=$QT_ROOT/tests/fixtures/qmail
PQ=maildrop,incoming,active,deferred,hold
check exim-main exim input --spool "$EL/main"
check exim-slow exim slow --spool "$EL/main" -G slow
check exim-split exim input --spool "$EL/split"
check postfix-short postfix "$PQ" --spool "$PL/short/queue"
check postfix-long postfix "$PQ" --spool "$PL/long/queue"
check postfix-deferred,hold postfix deferred,hold --spool "$PL/short/queue" -G deferred,hold
for st in a b d d-stopped; do
    mkdir -p "$tmp/q-$st" && tar -C "$tmp/q-$st" -xzf "$QF/state-$st.tar.gz" || bail_out "qmail state $st"
    check "qmail-$st" qmail queue,todo,hold --spool "$tmp/q-$st/queue"
done
grep -q 'qtools_queue_messages{mta="qmail",queue="todo"} [1-9]' "$tmp/qmail-a/got"
ok $? "qmail a: its messages are in todo (a queue with messages besides queue)"
grep -q 'qtools_queue_domain_messages{' "$tmp/exim-main/got"
ok $? "exim main: the top domains are served"

# ---------------------------------------------------------------- being delivered
# a message whose lock is held, as a delivery holds it (Exim: fcntl on the -D's first bytes;
# Postfix: flock on the file in active/), on a copy of the spool: qtools_queue_active_messages
# hold LOCK FILE: lock FILE until killed (the background process is python itself)
hold() {
    exec "$PY" - "$1" "$2" "$tmp/locked" <<'PY'
import fcntl, os, sys, time
fd = os.open(sys.argv[2], os.O_RDWR)
if sys.argv[1] == "flock":
    fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
else:
    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, len(os.path.basename(sys.argv[2])) + 1, 0)
open(sys.argv[3], "w").close()
time.sleep(60)
PY
}
cp -a "$EL/main" "$tmp/ex-act" && cp -a "$PL/short/queue" "$tmp/pf-act" || bail_out "copies"
id=$("$QT_BIN/qgrep" -x -i --spool "$tmp/ex-act" | head -n 1)
pf=$(find "$tmp/pf-act/active" -type f | head -n 1)
[ -n "$id" ] && [ -n "$pf" ]; ok $? "a message to lock in each copy ($id, ${pf##*/})"
for x in "exim:fcntl:$tmp/ex-act/input/$id-D:input:$tmp/ex-act" "postfix:flock:$pf:active:$tmp/pf-act"; do
    IFS=: read -r mta how file queue spool <<<"$x"
    rm -f "$tmp/locked"
    hold "$how" "$file" &
    hpid=$!
    for _ in $(seq 50); do [ -e "$tmp/locked" ] && break; sleep 0.1; done
    "$Q" --prom --spool "$spool" >"$tmp/act.prom" 2>/dev/null
    got=$(sed -n "s/^qtools_queue_active_messages{mta=\"$mta\",queue=\"$queue\"} //p" "$tmp/act.prom")
    is "$got:$(sum qtools_queue_active_messages "$tmp/act.prom")" "1:1" "$mta: the locked message is the one active message, in $queue"
    is "$(count qgrep --active -c --spool "$spool")" 1 "... as qgrep --active -c says"
    kill "$hpid"; wait "$hpid" 2>/dev/null
done

# ---------------------------------------------------------------- the selection applies
T0=$(cat "$QT_LAB/exim/golden/main/T0")
for sel in '-o 1d' '-y 1d' '--larger 2k' '-z'; do
    # shellcheck disable=SC2086
    QT_T0=$T0 qt_faketime "$Q" --prom $sel --spool "$EL/main" >"$tmp/sel.prom" 2>/dev/null
    # shellcheck disable=SC2086
    want=$(QT_T0=$T0 qt_faketime "$QT_BIN/qgrep" -c $sel --spool "$EL/main" 2>/dev/null | grep -o '^[0-9]*')
    [ -n "$want" ] && [ "$want" -gt 0 ]; ok $? "qgrep $sel -c selects some messages ($want)"
    is "$(sum qtools_queue_messages "$tmp/sel.prom")" "$want" \
        "qsumm --prom $sel: the messages are qgrep $sel -c's ($want)"
done

# ---------------------------------------------------------------- the atomic write
# a reader reads the file all the time while it is written 100 times: never a part of one
F=$TD/qtools.prom
"$Q" --prom --by domain --top 50 --spool "$PL/long/queue" --output "$F"
lines=$(wc -l <"$F")
cat >"$tmp/reader.py" <<'PY'
import os, sys
path, lines, stop = sys.argv[1], int(sys.argv[2]), sys.argv[3]
reads = bad = 0
while not os.path.exists(stop):
    with open(path) as f:
        t = f.read()
    reads += 1
    if t.count('\n') != lines or not t.endswith('\n') or 'scan_timestamp_seconds{' not in t.splitlines()[-1]:
        bad += 1
print(reads, bad)
PY
"$PY" "$tmp/reader.py" "$F" "$lines" "$tmp/stop" >"$tmp/reader.out" &
rpid=$!
fails=0
for _ in $(seq 100); do
    "$Q" --prom --by domain --top 50 --spool "$PL/long/queue" --output "$F" || fails=$((fails + 1))
done
touch "$tmp/stop"; wait "$rpid"
read -r reads bad <"$tmp/reader.out"
is "$fails" 0 "100 rewrites of --output: each exits 0"
[ "${reads:-0}" -ge 100 ]; ok $? "the reader read the file $reads times meanwhile"
is "$bad" 0 "... and never saw a part of it"
is "$(ls -A "$TD")" qtools.prom "no temporary file is left beside it"

# ---------------------------------------------------------------- bad input
# refused NAME REGEX CMD...: exit 2, nothing on stdout, one line on stderr matching REGEX
refused() {
    local name=$1 re=$2 rc
    shift 2
    "$@" >"$tmp/r.out" 2>"$tmp/r.err"
    rc=$?
    [ "$rc" = 2 ] && [ ! -s "$tmp/r.out" ] && [ "$(wc -l <"$tmp/r.err")" = 1 ] && grep -Eq "$re" "$tmp/r.err"
    ok $? "refused: $name" || diag "exit $rc" "stderr: $(cat "$tmp/r.err")" "stdout: $(head -3 "$tmp/r.out")"
}
S=(--spool "$EL/main")
cp "$F" "$tmp/before"
refused "--output in a directory that does not exist" "^qsumm: --output $tmp/none/q.prom: .*No such file" \
    "$Q" --prom --output "$tmp/none/q.prom" "${S[@]}"
[ ! -e "$tmp/none" ]; ok $? "... nothing made"
refused "--output in a directory nobody may not write" "^qsumm: --output $F: .*Permission denied" \
    setpriv --reuid=65534 --regid=65534 --clear-groups "$Q" --prom --output "$F" "${S[@]}"
cmp -s "$tmp/before" "$F" && [ "$(ls -A "$TD")" = qtools.prom ]
ok $? "... the file is as it was, nothing beside it"
mkdir "$TD/adir"
refused "--output naming a directory (the rename fails)" "^qsumm: --output $TD/adir: " \
    "$Q" --prom --output "$TD/adir" "${S[@]}"
[ -d "$TD/adir" ] && [ "$(ls -A "$TD" | tr '\n' ' ')" = "adir qtools.prom " ]
ok $? "... it is as it was, no temporary file left"
rmdir "$TD/adir"
refused "--prom --json" "choose one" "$Q" --prom --json "${S[@]}"
refused "--prom --merge" "choose one" "$Q" --prom --merge
refused "--top 0" "^qsumm: --top 0: " "$Q" --prom --by domain --top 0 "${S[@]}"
refused "--top x" "^qsumm: --top x: " "$Q" --prom --by domain --top x "${S[@]}"
refused "--by sender" "^qsumm: --by sender: " "$Q" --prom --by sender "${S[@]}"
refused "--output without --prom" "go with --prom" "$Q" --output "$F" "${S[@]}"
"$Q" --prom "${S[@]}" >/dev/full 2>"$tmp/r.err"
is "$?:$(wc -l <"$tmp/r.err")" "2:1" "--prom to a full disk (/dev/full): exit 2, one line"
# a spool that cannot be read at all: the metrics say so, never "empty"
for bad in "$tmp/nospool" "$TD"; do
    "$Q" --prom --output "$F" --spool "$bad" 2>"$tmp/r.err"
    rc=$?
    is "$rc:$(wc -l <"$tmp/r.err")" "2:1" "--spool $bad (cannot be read): exit 2, one line"
    grep -Eq '^qtools_queue_scan_errors\{mta="any"\} [1-9]' "$F" && ! grep -q '^qtools_queue_messages{' "$F"
    ok $? "... the file says qtools_queue_scan_errors 1, and no queue is said to be empty" || diag "$(grep -v '^#' "$F")"
done
cp -a "$EL/main" "$tmp/unreadable" && chmod 700 "$tmp/unreadable/input"
setpriv --reuid=65534 --regid=65534 --clear-groups "$Q" --prom --spool "$tmp/unreadable" >"$tmp/u.prom" 2>"$tmp/r.err"
is "$?" 2 "an Exim spool whose input/ nobody may not read: exit 2"
grep -Eq '^qtools_queue_scan_errors\{mta="any"\} 1' "$tmp/u.prom" && ! grep -q '^qtools_queue_messages{' "$tmp/u.prom"
ok $? "... scan_errors 1, no queue said to be empty" || diag "$(grep -v '^#' "$tmp/u.prom")"

kill "$nepid" && wait "$nepid" 2>/dev/null
nepid=
done_testing
