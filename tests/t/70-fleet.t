#!/bin/bash
# 70-fleet.t -- the tools across many hosts, with the real ClusterShell (clush) and pdsh from
# Debian, through their local exec workers instead of ssh: each "host" mxN is a spool of its
# own (Exim and Postfix lab spools, qmail fixtures), run under its own clock. The fleet:
#   mx1  Exim lab spool (main)        mx4  no spool at all: the command fails, prints nothing
#   mx2  Postfix lab queue (short)    mx5  qmail state d, a message damaged: errors (and
#   mx3  qmail state b, leftovers out      old crash leftovers: notices, no errors)
#                                     mx6  Exim lab spool (split), output cut after 2 lines
# qsumm --merge's whole output is compared with one computed here, independently, from each
# host's messages: Postfix's from postqueue -j's golden, Exim's and qmail's from qls --json
# (which 20-exim-read.t and 30-qmail.t check against exim -bp and the qmail decode); for
# Exim, the merged domain table is also checked against exiqsumm's golden. Then what must be
# refused: cut and run-together lines, a newer version, two hosts of one name, other age
# buckets; and acting where the data lives (clush ... 'qgrep ... -i | qrm -n -').
# shellcheck shell=bash
. "$(dirname "$0")/../lib.sh"
export LC_ALL=C TZ=UTC
shopt -s lastpipe     # "... | refused": the TAP counter lives in this shell
PY=$(command -v /usr/bin/python3 || command -v python3)

for c in clush pdsh jq; do
    command -v "$c" >/dev/null || bail_out "$c is missing: run scripts/install-deps as root"
done
pdsh -L 2>/dev/null | grep -q '^Module: rcmd/exec' || bail_out "pdsh has no rcmd/exec module"
qt_labs exim main split
qt_labs postfix short

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
F=$tmp/fleet
mkdir -p "$F/spool" "$F/clock" "$F/bin" "$F/truth" "$F/out"
EG=$QT_LAB/exim/golden PG=$QT_LAB/postfix/golden/short QF=$QT_ROOT/tests/fixtures/qmail

# ---------------------------------------------------------------- the hosts
ln -s "$QT_LAB/exim/spools/main" "$F/spool/mx1";   cat "$EG/main/T0"  >"$F/clock/mx1"
ln -s "$QT_LAB/postfix/short/queue" "$F/spool/mx2"; cat "$PG/T0"      >"$F/clock/mx2"
ln -s "$QT_LAB/exim/spools/split" "$F/spool/mx6";  cat "$EG/split/T0" >"$F/clock/mx6"
leftovers() { awk '/^ID [0-9]+ / && !/\[S[45] / { print $2 }' "$QF/$1/decoded.txt"; }
for x in b:mx3 d:mx5; do
    st=${x%%:*} h=${x#*:}
    mkdir -p "$tmp/$h" && tar -C "$tmp/$h" -xzf "$QF/state-$st.tar.gz" || bail_out "qmail state $st"
    ln -s "$tmp/$h/queue" "$F/spool/$h"
    echo $(( $(cat "$QF/$st/captured-at.epoch") + 7200 )) >"$F/clock/$h"
done
[ -n "$(leftovers b)" ] || bail_out "qmail state b has no crash leftovers to take out"
for id in $(leftovers b); do rm -f "$tmp/mx3"/queue/{mess/$((id % 23)),intd,todo}/"$id"; done
# mx5: its leftovers 3 days old by its clock (qmail-send's cleanup is due: a notice each, not
# an error), and one message's mess/ emptied (qmail-queue always writes one line: damage)
[ -n "$(leftovers d)" ] || bail_out "qmail state d has no crash leftovers"
for id in $(leftovers d); do touch -d "@$(( $(cat "$F/clock/mx5") - 3 * 86400 ))" "$tmp/mx5/queue/mess/$((id % 23))/$id"; done
mx5bad=$(awk '/^ID [0-9]+ .*\[S5 / { print $2; exit }' "$QF/d/decoded.txt")
[ -n "$mx5bad" ] || bail_out "qmail state d has no message to damage"
: >"$tmp/mx5/queue/mess/$((mx5bad % 23))/$mx5bad"
echo 2 >"$F/cut-mx6"

# on HOST CMD...: CMD as it runs on HOST: under HOST's clock; on mx6 only 2 lines get out
cat >"$F/bin/on" <<EOF
#!/bin/bash
h=\$1; shift
. "$QT_ROOT/tests/lib.sh"
[ -s "$F/clock/\$h" ] && QT_T0=\$(cat "$F/clock/\$h") && set -- qt_faketime "\$@"
if [ -s "$F/cut-\$h" ]; then "\$@" | head -n "\$(cat "$F/cut-\$h")"; exit 1; fi
"\$@"
EOF
chmod +x "$F/bin/on"
export PATH=$F/bin:$QT_BIN:$PATH

# ---------------------------------------------------------------- what each host holds
# truth/HOST: now, then one line per message: {arrival_time, message_size, frozen,
# recipients: [address...]} (the recipients still to deliver)
truth_of() {  # truth_of HOST JQ-FILTER-FOR-FROZEN < MESSAGES
    { cat "$F/clock/$1"; jq -c "select(.queue_id != null) | {arrival_time, message_size,
        frozen: ($2), recipients: [.recipients[].address]}"; } >"$F/truth/$1"
}
truth_of mx2 '.queue_name == "hold"' <"$PG/postqueue-j.jsonl"
for h in mx1 mx3 mx5 mx6; do
    on "$h" qls --json --spool "$F/spool/$h" 2>"$F/truth/$h.err" >"$F/truth/$h.qls"
    truth_of "$h" '.state == "frozen" or .state == "hold"' <"$F/truth/$h.qls"
done
is "$(grep -v 'qmail-send will remove' "$F/truth/mx5.err" | grep -o '^qls: [0-9]*:')" "qls: $mx5bad:" \
    "mx5: qls reports its damaged message"
is "$(grep -c 'qmail-send will remove' "$F/truth/mx5.err")" "$(leftovers d | wc -l)" \
    "mx5: ... and a notice for each old crash leftover"
is "$(cat "$F/truth/mx1.err" "$F/truth/mx3.err" "$F/truth/mx6.err")" "" "mx1, mx3, mx6: qls reads them cleanly"
is "$(($(wc -l <"$F/truth/mx2") - 1))" "$(grep -c . "$PG/postqueue-j.jsonl")" "mx2: a message per postqueue -j line"

# expect [-c] [-z] [--buckets B] HOST:STATE...: the output qsumm --merge must print.
# STATE: ok, errors=N, missing, cut, unexpected
expect() {
    "$PY" - "$F/truth" "$@" <<'PY'
import json, re, sys
tdir, args = sys.argv[1], sys.argv[2:]
by_count = frozen_only = False
bounds = [300, 3600, 14400, 86400, 259200, 604800]
hosts = []
while args:
    a = args.pop(0)
    if a == '-c': by_count = True
    elif a == '-z': frozen_only = True
    elif a == '--buckets': bounds = [int(x) for x in args.pop(0).split(',')]
    else: hosts.append(a.split(':', 1))

def fmt_age(age):
    i = age // 60
    if i > 90:
        i = (i + 30) // 60
        return '%2dd' % ((i + 12) // 24) if i > 72 else '%2dh' % i
    return '%2dm' % i
def volume(x):
    if x < 10000: v = '%6d' % x
    elif x < 10000000: v = '%4dKB' % ((x + 512) // 1024)
    else: v = '%4dMB' % ((x + 512 * 1024) // (1024 * 1024))
    return v[:6]
def domain(addr):
    at = addr.find('@')
    if at < 0: return None
    rest = addr[at + 1:]
    m = re.match(r'[A-Za-z0-9_.-]+', rest) or re.match(r'\[\d+\.\d+\.\d+\.\d+\]', rest)
    return m.group(0).lower() if m else None
def label(t, rel):
    for secs, u in ((604800, 'w'), (86400, 'd'), (3600, 'h'), (60, 'm'), (1, 's')):
        if t % secs == 0: return '%s%d%s' % (rel, t // secs, u)

rows, doms, ages_total = [], {}, [0] * (len(bounds) + 1)
tot = [0, 0, 0, 0]
for name, state in hosts:
    if state in ('missing', 'cut'):
        rows.append((name, None, 'no answer' if state == 'missing' else 'cut short: not counted'))
        continue
    lines = open('%s/%s' % (tdir, name), encoding='utf-8', errors='surrogateescape').read().splitlines()
    now, msgs = int(lines[0]), [json.loads(l) for l in lines[1:]]
    sel = [m for m in msgs if m['frozen'] or not frozen_only]
    ages = [0] * (len(bounds) + 1)
    for m in sel:
        age = now - m['arrival_time']
        ages[sum(1 for b in bounds if age >= b)] += 1
        for r in m['recipients']:
            d = domain(r)
            if d is None: continue
            e = doms.setdefault(d, [0, 0, None, None])
            e[0] += 1; e[1] += m['message_size']
            e[2] = age if e[2] is None else max(e[2], age)
            e[3] = age if e[3] is None else min(e[3], age)
    counts = (len(msgs), len(sel), sum(1 for m in sel if m['frozen']), sum(m['message_size'] for m in sel))
    tot = [a + b for a, b in zip(tot, counts)]
    ages_total = [a + b for a, b in zip(ages_total, ages)]
    note = None
    if state.startswith('errors='):
        n = int(state[7:]); note = '%d error%s' % (n, '' if n == 1 else 's')
    elif state == 'unexpected':
        note = 'not expected'
    rows.append((name, (counts, ages), note))
rows.sort(key=lambda r: r[0].encode())
out = []
wname = max([5] + [len(r[0]) for r in rows])
wnum, wbytes = max(7, len(str(tot[0]))), max(5, len(str(tot[3])))
out.append('%-*s  %*s  %*s  %*s  %*s' % (wname, 'Host', wnum, 'Total', wnum, 'Matched', wnum, 'Frozen', wbytes, 'Bytes'))
for name, data, note in rows:
    if data:
        c = data[0]
        line = '%-*s  %*d  %*d  %*d  %*d' % (wname, name, wnum, c[0], wnum, c[1], wnum, c[2], wbytes, c[3])
    else:
        line = '%-*s  %*s  %*s  %*s  %*s' % (wname, name, wnum, '-', wnum, '-', wnum, '-', wbytes, '-')
    out.append(line + ('  ' + note if note else ''))
out.append('%-*s  %*d  %*d  %*d  %*d' % (wname, 'TOTAL', wnum, tot[0], wnum, tot[1], wnum, tot[2], wbytes, tot[3]))
out += ['', 'Count  Volume  Oldest  Newest  Domain', '-----  ------  ------  ------  ------', '']
keys = sorted(doms, key=lambda k: ((-doms[k][0] if by_count else 0), k.encode()))
for k in keys:
    c, b, old, new = doms[k]
    out.append('%5d  %s  %6s  %6s  %.80s' % (c, volume(b), fmt_age(old), fmt_age(new), k))
out.append('-' * 63)
maxold = max([doms[k][2] for k in keys] + [0])
newest = fmt_age(min(doms[k][3] for k in keys)) if keys else '0000d'
out.append('%5d  %s  %6s  %6s  %.80s' % (sum(d[0] for d in doms.values()), volume(sum(d[1] for d in doms.values())),
                                         fmt_age(maxold), newest, 'TOTAL'))
out.append('')
labels = [label(b, '<') for b in bounds] + [label(bounds[-1], '>=')]
w = [max(len(l), len(str(n))) for l, n in zip(labels, ages_total)]
out.append('%-*s' % (wname, 'Age') + ''.join('  %*s' % (x, l) for x, l in zip(w, labels)))
for name, data, note in rows:
    if data:
        out.append('%-*s' % (wname, name) + ''.join('  %*d' % (x, n) for x, n in zip(w, data[1])))
out.append('%-*s' % (wname, 'TOTAL') + ''.join('  %*d' % (x, n) for x, n in zip(w, ages_total)))
sys.stdout.write('\n'.join(out) + '\n')
PY
}

nerr=1		# mx5's damaged message; its leftovers are skipped, not errors
FLEET=(mx1:ok mx2:ok mx3:ok mx4:missing mx5:errors=$nerr mx6:cut)
# the stderr --merge must print for the fleet, in host order
fleet_err() {
    printf '%s\n' 'qsumm: mx4: no answer' \
        'qsumm: mx5: reported errors: what it could not read is not counted' \
        'qsumm: mx6: its output was cut short (no end record): not counted'
}
sortlines() { LC_ALL=C sort "$@"; }

# ---------------------------------------------------------------- clush -R exec
clush -R exec -w 'mx[1-6]' -N -S 'on %h qsumm --json --host %h --spool '"$F"'/spool/%h' \
    >"$F/out/clush.jsonl" 2>"$F/out/clush.err"
is "$?" 2 "clush -S: the fleet's largest exit code is 2 (mx4 and mx5 fail)"
is "$(jq -r 'select(.type == "end") | .host' "$F/out/clush.jsonl" | sortlines | tr '\n' ' ')" \
    "mx1 mx2 mx3 mx5 " "clush: an end record from each host that ran to the end (not mx4, not mx6)"
is "$(jq -r 'select(.type == "end" and .host == "mx5") | "\(.errors) \(.skipped)"' "$F/out/clush.jsonl")" \
    "$nerr $(leftovers d | wc -l)" "clush: mx5's end record counts its errors, and its leftovers as skipped"
is "$(jq -r 'select(.type == "end") | "\(.host) \(.now)"' "$F/out/clush.jsonl" | sortlines)" \
    "$(for h in mx1 mx2 mx3 mx5; do echo "$h $(cat "$F/clock/$h")"; done)" \
    "clush: each end record carries its host's clock"
expect "${FLEET[@]}" >"$F/out/fleet.want"
qsumm --merge --expect 'mx[1-6]' <"$F/out/clush.jsonl" >"$F/out/fleet.got" 2>"$F/out/fleet.err"
is "$?" 2 "clush | qsumm --merge --expect mx[1-6]: exit 2 (a host missing, one with errors, one cut short)"
is_same_file "$F/out/fleet.want" "$F/out/fleet.got" "clush | qsumm --merge: hosts, domains, ages as computed from each host's messages"
is "$(cat "$F/out/fleet.err")" "$(fleet_err)" "clush | qsumm --merge: names mx4 (no answer), mx5 (errors), mx6 (cut short)"
qsumm --merge --expect 'mx[1-6]' - <"$F/out/clush.jsonl" 2>/dev/null | cmp -s - "$F/out/fleet.want"
ok $? "qsumm --merge - reads stdin too"
# the order of the lines does not matter: each names its host
tac "$F/out/clush.jsonl" | awk '/"type": "end"/ { e[++n] = $0; next } { print } END { for (i = 1; i <= n; i++) print e[i] }' |
    qsumm --merge --expect 'mx[1-6]' 2>/dev/null | cmp -s - "$F/out/fleet.want"
ok $? "qsumm --merge: the same from the lines in another order"

# the hosts that answer, and nothing else expected: exit 0, nothing on stderr
clush -R exec -w 'mx[1-3]' -N -S 'on %h qsumm --json --host %h --spool '"$F"'/spool/%h' 2>/dev/null |
    qsumm --merge --expect 'mx1,mx2 mx3' >"$F/out/ok.got" 2>"$F/out/ok.err"
is "$?" 0 "clush -w mx[1-3] | qsumm --merge: exit 0"
expect mx1:ok mx2:ok mx3:ok >"$F/out/ok.want"
is_same_file "$F/out/ok.want" "$F/out/ok.got" "clush -w mx[1-3] | qsumm --merge: as computed"
is "$(cat "$F/out/ok.err")" "" "clush -w mx[1-3] | qsumm --merge: nothing on stderr"

# the hosts' own selection (frozen only), and the domains by count
clush -R exec -w 'mx[1-3]' -N 'on %h qsumm --json -z --host %h --spool '"$F"'/spool/%h' 2>/dev/null |
    qsumm --merge -c >"$F/out/z.got" 2>&1
is "$?" 0 "clush 'qsumm --json -z' | qsumm --merge -c: exit 0"
expect -z -c mx1:ok mx2:ok mx3:ok >"$F/out/z.want"
is_same_file "$F/out/z.want" "$F/out/z.got" "... Total is every message, Matched the frozen ones, domains by count"

# ---------------------------------------------------------------- pdsh -R exec
pdsh -R exec -w 'mx[1-6]' on %h qsumm --json --host %h --spool "$F/spool/%h" \
    >"$F/out/pdsh.txt" 2>"$F/out/pdsh.err"
is "$(grep -vc '^mx[1-6]: {' "$F/out/pdsh.txt")" 0 "pdsh: every line is \"host: \" and JSON"
qsumm --merge --expect 'mx[1-6]' <"$F/out/pdsh.txt" >"$F/out/pdsh.got" 2>"$F/out/pdsh.merr"
is "$?" 2 "pdsh | qsumm --merge: exit 2"
is_same_file "$F/out/fleet.want" "$F/out/pdsh.got" "pdsh | qsumm --merge: the same tables as with clush"
is "$(cat "$F/out/pdsh.merr")" "$(fleet_err)" "pdsh | qsumm --merge: the same hosts named"
grep -q 'mx4: .*No such file or directory' "$F/out/pdsh.err"
ok $? "pdsh: mx4's own complaint reached stderr" || diag "$(cat "$F/out/pdsh.err")"
# pdsh's prefix is the name --expect knows; the host may report its FQDN
pdsh -R exec -w 'mx[1-3]' on %h qsumm --json --host %h.fleet.test --spool "$F/spool/%h" 2>/dev/null |
    qsumm --merge --expect 'mx[1-3]' >"$F/out/fqdn.got" 2>"$F/out/fqdn.err"
is "$?" 0 "pdsh, hosts reporting FQDNs: --expect mx[1-3] finds them (exit 0)"
for h in mx1 mx2 mx3; do ln -s "$h" "$F/truth/$h.fleet.test"; done
expect mx1.fleet.test:ok mx2.fleet.test:ok mx3.fleet.test:ok >"$F/out/fqdn.want"
is_same_file "$F/out/fqdn.want" "$F/out/fqdn.got" "... the tables name the FQDNs"

# ---------------------------------------------------------------- one host against exiqsumm
on mx1 qsumm --json --host mx1 --spool "$F/spool/mx1" | qsumm --merge >"$F/out/mx1.got"
is "$?" 0 "mx1 alone: exit 0"
cut_vol() { awk '/^ *[0-9]+  / { $2 = "" } { print }' "$1"; }
sed -n '/^Count/,/TOTAL/p' "$F/out/mx1.got" >"$F/out/mx1.dom"
is_same_file <(cut_vol "$EG/main/exiqsumm.out" | sed '/^$/d') <(cut_vol "$F/out/mx1.dom" | sed '/^$/d') \
    "mx1 alone: count, oldest, newest of every domain = exim -bp | exiqsumm (the golden)"
is "$(sed -n 2p "$F/out/mx1.got" | awk '{ print $2, $4 }')" \
    "$(cat "$EG/main/exim-bpc.out") $(grep -o '^[0-9]*' "$EG/main/exiqgrep-z-c.out")" \
    "mx1 alone: Total = exim -bpc, Frozen = exiqgrep -z -c"

# ---------------------------------------------------------------- what is refused
J=$F/out/clean.jsonl
for h in mx1 mx2 mx3; do on "$h" qsumm --json --host "$h" --spool "$F/spool/$h" >"$F/out/$h.jsonl"; done
cat "$F/out/mx1.jsonl" "$F/out/mx2.jsonl" "$F/out/mx3.jsonl" >"$J"
n1=$(wc -l <"$F/out/mx1.jsonl") n2=$(wc -l <"$F/out/mx2.jsonl")
refused() {  # refused NAME WANT-REGEX: stdin to qsumm --merge: exit 2, no stdout, one line naming it
    qsumm --merge "${@:3}" >"$F/out/r.out" 2>"$F/out/r.err"
    local rc=$?
    [ "$rc" = 2 ] && [ ! -s "$F/out/r.out" ] && [ "$(wc -l <"$F/out/r.err")" = 1 ] &&
        grep -Eq "$2" "$F/out/r.err"
    ok $? "refused: $1" || diag "exit $rc" "stderr: $(cat "$F/out/r.err")" "stdout: $(head -3 "$F/out/r.out")"
}
head -c -30 "$J" | refused "the output cut in its last line" \
    "^qsumm: stdin:$(wc -l <"$J"): host probably mx3: the last line is cut short"
{ head -n 3 "$F/out/mx1.jsonl" | head -c -1; sed -n 5p "$F/out/mx2.jsonl"; tail -n +4 "$F/out/mx1.jsonl"; } |
    refused "two hosts' lines run together" "^qsumm: stdin:3: host probably mx1: not one whole JSON object .*byte"
sed "$((n1 + 2))s/\"v\": 1,/\"v\": 2,/" "$J" |
    refused "a line of a newer version" "^qsumm: stdin:$((n1 + 2)): host mx2: schema version 2, newer"
clush -R exec -w 'mx[1-2]' -N 'on %h qsumm --json --host mx1 --spool '"$F"'/spool/%h' 2>/dev/null |
    refused "two hosts that answer as mx1 (clush)" "^qsumm: stdin:[0-9]+: host mx1: .*two hosts answer as mx1"
cat "$F/out/mx1.jsonl" "$F/out/mx1.jsonl" |
    refused "one host's output twice" "^qsumm: stdin:$((n1 + 1)): host mx1: a record after its end record \(stdin:$n1\): two hosts answer as mx1"
{ sed 's/^/mx1: /' "$F/out/mx1.jsonl"; sed 's/^/mx9: /' "$F/out/mx1.jsonl"; } |
    refused "two pdsh hosts that answer as mx1" "^qsumm: stdin:$((n1 + 1)): host mx1: two hosts answer as mx1: .*under \"mx1: \".*under \"mx9: \" here"
on mx2 qsumm --json --host mx2 --age-buckets 1m,1h,1d --spool "$F/spool/mx2" >"$F/out/mx2-b.jsonl"
refused "age buckets that differ" \
    "^qsumm: $F/out/mx2-b.jsonl:$((n2 - 1)): host mx2: age buckets \[60,3600,86400\] differ from host mx1's \[300,3600,14400,86400,259200,604800\] \($F/out/mx1.jsonl:$((n1 - 1))\)" \
    "$F/out/mx1.jsonl" "$F/out/mx2-b.jsonl" </dev/null
on mx1 qls --json --host mx1 --spool "$F/spool/mx1" |
    refused "qls --json (message records)" "^qsumm: stdin:1: host mx1: a message record"
printf 'mx1: hello\n' | refused "a line that is not JSON" "^qsumm: stdin:1: host mx1: not one whole JSON object"
printf 'hello\n' | refused "a line that is neither JSON nor host: JSON" "^qsumm: stdin:1: host unknown: neither a JSON object"
sed "$((n1 + 3))s/\"count\": \([0-9]*\)/\"count\": \1, \"count\": 1/" "$J" |
    refused "a member given twice" "^qsumm: stdin:$((n1 + 3)): host probably mx2: .*member \"count\" given twice"
sed "$((n1 - 1))s/\"ages\": \[/\"ages\": [1, /" "$J" |
    refused "ages that do not add up" "^qsumm: stdin:$((n1 - 1)): host mx1: .*\"ages\""
printf '{"v": 1, "type": "domain", "host": "mx1", "mta": "exim", "domain": "a\\ud800b", "count": 1, "bytes": 1, "oldest": 1, "newest": 1}\n' |
    refused "a lone surrogate" "^qsumm: stdin:1: host probably mx1: not one whole JSON object .*surrogate"
printf '%s\n' '{"v": 1, "type": "end", "host": "mx1", "mta": "exim", "now": 1, "scanned": 0, "matched": 0, "skipped": 0, "errors": 0}' |
    refused "an end record without a host record" "^qsumm: stdin:1: host mx1: an end record without a host record"
awk '{ printf "%s", $0; for (i = 0; i < 20; i++) printf "["; print "" }' "$F/out/mx1.jsonl" | head -n 1 |
    refused "garbage after the object" "^qsumm: stdin:1: host probably mx1: not one whole JSON object .*more after the end"
perl -e 'print "{\"v\": 1, \"x\": ", "[" x 40, "]" x 40, "}\n"' |
    refused "nesting too deep" "nested too deep"

# a host cut short while the others are fine: the others are counted, it is named
{ cat "$F/out/mx1.jsonl" "$F/out/mx3.jsonl"; head -n -1 "$F/out/mx2.jsonl"; } |
    qsumm --merge >"$F/out/cut.got" 2>"$F/out/cut.err"
is "$?" 2 "a host without its end record: exit 2"
expect mx1:ok mx2:cut mx3:ok >"$F/out/cut.want"
is_same_file "$F/out/cut.want" "$F/out/cut.got" "... the others counted, it shown cut short"
# an empty queue answers: "nothing" is not "no answer"
mkdir -p "$F/empty" && for q in maildrop incoming active deferred hold; do mkdir -p "$F/empty/$q"; done
qsumm --json --host mx7 --spool "$F/empty" >"$F/out/empty.jsonl"
is "$?" 1 "qsumm --json on an empty queue: exit 1, as grep"
is "$(tail -n 1 "$F/out/empty.jsonl" | jq -r '"\(.type) \(.scanned) \(.matched) \(.errors)"')" "end 0 0 0" \
    "... and its end record says it answered, with nothing"
qsumm --merge --expect mx7 "$F/out/empty.jsonl" >/dev/null 2>"$F/out/empty.err"
is "$?" 1 "qsumm --merge of a host with an empty queue: exit 1, no host missing"
is "$(cat "$F/out/empty.err")" "" "... nothing on stderr"
qsumm --merge --expect 'mx[1-3],mx8' "$J" >/dev/null 2>"$F/out/x.err"
is "$?:$(cat "$F/out/x.err")" "2:qsumm: mx8: no answer" "--expect: a host that sent nothing is named"
qsumm --merge --expect 'mx[1-2]' "$J" >"$F/out/x.out" 2>"$F/out/x.err"
is "$?:$(cat "$F/out/x.err")" "0:qsumm: mx3: answered, but is not in --expect (counted)" \
    "--expect: a host not expected is counted, and said so"

# ---------------------------------------------------------------- --expect's nodesets
ZEROS=$(printf "0%.0s" {1..38})	# pads to a width of 40 digits, wider than any number: fuzz_merge found it
for x in 'mx[1-3]:mx1 mx2 mx3' 'mx[1-2,5],mx9:mx1 mx2 mx5 mx9' 'n[01-10/3]:n01 n04 n07 n10' \
         'r[1-2]-mx[1-2]:r1-mx1 r1-mx2 r2-mx1 r2-mx2' 'a b,,c:a b c' 'mx1,mx1:mx1' \
         "n[${ZEROS}12-${ZEROS}13]:n${ZEROS}12 n${ZEROS}13"; do
    set="${x%%:*}" want="${x#*:}"
    got=$(qsumm --merge --expect "$set" /dev/null 2>&1 >/dev/null | sed -n 's/^qsumm: \(.*\): no answer$/\1/p' | tr '\n' ' ')
    is "$got" "$want " "--expect '$set' is $want"
done
for set in '@mx' 'mx[1-' 'mx[3-1]' 'mx[a-b]' 'mx1]' '!mx1' '' "n[$(printf '0%.0s' {1..300})1]"; do
    # (a host with no answer exits 2 as well, but after the table: refused means no table)
    out=$(qsumm --merge --expect "$set" /dev/null 2>&1 >/dev/null)
    is "$?:$(wc -l <<<"$out"):${out%%: no answer}" "2:1:$out" "--expect '$set': refused ($out)"
done

# ---------------------------------------------------------------- acting where the data lives
clush -R exec -w 'mx[1-3]' 'qgrep --spool '"$F"'/spool/%h --larger 2k -i | qrm -n --spool '"$F"'/spool/%h -' \
    2>/dev/null | sortlines >"$F/out/act.got"
for h in mx1 mx2 mx3; do
    qgrep --spool "$F/spool/$h" --larger 2k -i | sed "s/^/$h: would remove /"
done | sortlines >"$F/out/act.want"
[ -s "$F/out/act.want" ]; ok $? "clush 'qgrep ... -i | qrm -n -': there is something to act on"
is_same_file "$F/out/act.want" "$F/out/act.got" "clush 'qgrep ... -i | qrm -n -': each host, its own messages"

done_testing
