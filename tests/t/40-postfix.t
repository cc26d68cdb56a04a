#!/bin/bash
# tests/t/40-postfix.t -- qtools on the queues the real Postfix 3.7 wrote (tests/lab/postfix-*):
# qls against postqueue -p (message by message: showq lists in readdir order) and -j (field
# by field), qsumm --shape against every qshape golden at the lab's clock, qcat against every
# postcat golden, qgrep's selectors against what postqueue -j says; then damaged copies of
# those queues: each damaged message is reported by ID, the rest listed as postqueue lists
# it, nothing hangs, nothing is changed. Needs root (the lab runs Postfix); fails, never
# skips, when the lab cannot be built.
. "$(dirname "$0")/../lib.sh"
export LC_ALL=C TZ=UTC
PY=$(command -v /usr/bin/python3 || command -v python3)   # a version manager's shim is slow
LAB=$QT_ROOT/tests/lab
PFX=$QT_LAB/postfix
T=$QT_BIN

qt_labs postfix short long
command -v jq >/dev/null || bail_out "jq is needed (scripts/install-deps)"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

# blocks FILE DIR: split a postqueue -p listing into DIR/head, DIR/tail, DIR/ids (in order)
# and one file per message, DIR/m.ID (its lines, without the blank line after it)
blocks() {
    mkdir -p "$2"
    "$PY" - "$1" "$2" <<'PY'
import sys, re, os
text = open(sys.argv[1], 'rb').read().decode('latin-1')
d = sys.argv[2]
lines = text.split('\n')
if lines and lines[-1] == '': lines.pop()
head = lines[0] if lines and lines[0].startswith('-') and 'Queue ID' in lines[0] else ''
body = lines[1:] if head else lines
tail = body.pop() if body and (body[-1].startswith('-- ') or body[-1] == 'Mail queue is empty') else ''
open(os.path.join(d, 'head'), 'w', encoding='latin-1').write(head + '\n')
open(os.path.join(d, 'tail'), 'w', encoding='latin-1').write(tail + '\n')
ids, cur = [], []
for l in body + ['']:
    if l == '':
        if cur:
            mid = re.match(r'[A-Za-z0-9]+', cur[0]).group(0)
            ids.append(mid)
            open(os.path.join(d, 'm.' + mid), 'w', encoding='latin-1').write('\n'.join(cur) + '\n')
        cur = []
    else:
        cur.append(l)
open(os.path.join(d, 'ids'), 'w').write(''.join(i + '\n' for i in ids))
PY
}

# json_same GOLDEN OURS [IDS-TO-SKIP]: every member postqueue -j prints, equal; same order;
# ours add only the members of qtools' --json shape, and end with the end record
json_same() {
    "$PY" - "$@" <<'PY'
import json, sys
g = [json.loads(l) for l in open(sys.argv[1], encoding='utf-8', errors='surrogateescape')]
m = [json.loads(l) for l in open(sys.argv[2], encoding='utf-8', errors='surrogateescape')]
skip = set(sys.argv[3].split()) if len(sys.argv) > 3 else set()
g = [x for x in g if x['queue_id'] not in skip]
ADDED = {'v', 'type', 'host', 'mta', 'delivered', 'state'}
bad = []
end = m.pop() if m and m[-1].get('type') == 'end' else None
if end is None:
    bad.append('no end record last')
elif end.get('matched') != len(m) or end.get('v') != 1:
    bad.append('end record: %r for %d messages' % (end, len(m)))
bad += ['line %d: type %r' % (i + 1, x.get('type')) for i, x in enumerate(m) if x.get('type') != 'message']
mine = {x['queue_id']: x for x in m}
for x in g:
    y = mine.get(x['queue_id'])
    if y is None:
        bad.append('missing %s' % x['queue_id']); continue
    for k, v in x.items():
        if y.get(k) != v:
            bad.append('%s %s: postqueue %r, qls %r' % (x['queue_id'], k, v, y.get(k)))
    more = set(y) - set(x) - ADDED
    if more:
        bad.append('%s: members postqueue -j does not have: %s' % (x['queue_id'], ' '.join(sorted(more))))
extra = set(mine) - {x['queue_id'] for x in g}
bad += ['extra %s' % i for i in sorted(extra)]
if not bad and [x['queue_id'] for x in g] != [x['queue_id'] for x in m]:
    bad.append('order differs')
print('\n'.join(bad[:20]))
sys.exit(1 if bad else 0)
PY
}

# ties: qshape orders rows by count, then name length, and leaves equal ones in Perl's hash
# order; sort each such run by the line itself, so the rest must be byte-identical
ties() {
    awk 'NR == 1 { print; next }
         { k = $2 " " length($1) }
         k != key { flush() } { run[++n] = $0; key = k }
         function flush(   i, j, t) {
             for (i = 2; i <= n; i++) for (j = i; j > 1 && run[j - 1] > run[j]; j--) {
                 t = run[j]; run[j] = run[j - 1]; run[j - 1] = t }
             for (i = 1; i <= n; i++) print run[i]
             n = 0 }
         END { flush() }'
}

snapshot() { (cd "$1" && find . -printf '%p %y %m %U %G %s %T@ %l\n' | sort); }

for inst in short long; do
    G=$PFX/golden/$inst
    Q=$PFX/$inst/queue
    [ -s "$G/COMMANDS" ] || bail_out "$inst: no goldens in $G"
    t0=$(cat "$G/T0")
    lib=$(bash "$LAB/postfix-setup.sh" env "$inst" | sed -n 's/^PFX_FAKETIME_LIB=//p')
    at_t0() { QT_T0=$t0 QT_FAKETIME_LIB=$lib qt_faketime "$@"; }
    W=$tmp/$inst; mkdir -p "$W"
    snapshot "$Q" >"$W/before"
    n=$(grep -c . "$G/ids")

    # ---------------------------------------------------------------- qls = postqueue -p
    "$T/qls" --spool "$Q" >"$W/qls.txt" 2>"$W/qls.err"
    is "$?" 0 "$inst: qls exits 0"
    is "$(cat "$W/qls.err")" "" "$inst: qls says nothing on stderr"
    blocks "$G/postqueue-p.txt" "$W/gold"
    blocks "$W/qls.txt" "$W/ours"
    is_same_file "$W/gold/head" "$W/ours/head" "$inst: qls heading = postqueue -p's"
    is_same_file "$W/gold/tail" "$W/ours/tail" "$inst: qls trailer (Kbytes, Requests) = postqueue -p's"
    is "$(sort "$W/ours/ids" | tr '\n' ' ')" "$(sort "$W/gold/ids" | tr '\n' ' ')" \
        "$inst: qls lists the same $n messages"
    bad=''
    while read -r id; do
        cmp -s "$W/gold/m.$id" "$W/ours/m.$id" || bad="$bad $id"
    done <"$W/gold/ids"
    is "$bad" "" "$inst: every message's lines = postqueue -p's"
    for id in $bad; do diag "$(diff -u "$W/gold/m.$id" "$W/ours/m.$id")"; done
    is_same_file "$W/gold/ids" "$W/ours/ids" "$inst: in postqueue -p's order (showq's readdir order)"
    # one message by ID: its block between the heading and a one-message trailer
    bad=''
    jq -r '"\(.queue_id) \(.message_size)"' "$G/postqueue-j.jsonl" >"$W/sizes"
    while read -r id; do
        size=$(awk -v id="$id" '$1 == id { print $2 }' "$W/sizes")
        { cat "$W/gold/head" "$W/gold/m.$id"; echo; echo "-- $((size / 1024)) Kbytes in 1 Request."; } >"$W/one.want"
        "$T/qls" --spool "$Q" "$id" >"$W/one.got" 2>&1 && cmp -s "$W/one.want" "$W/one.got" || bad="$bad $id"
    done <"$W/gold/ids"
    is "$bad" "" "$inst: qls ID lists each message as postqueue -p does"
    "$T/qls" --spool "$Q" -G hold,maildrop >"$W/hm.txt"
    want=$(jq -r 'select(.queue_name == "maildrop" or .queue_name == "hold") | .queue_id' "$G/postqueue-j.jsonl" | tr '\n' ' ')
    blocks "$W/hm.txt" "$W/hm"
    is "$(tr '\n' ' ' <"$W/hm/ids")" "$want" "$inst: qls -G hold,maildrop reads those queues only"
    is "$("$T/qls" --spool "$Q" -c)" "$n" "$inst: qls -c counts $n messages"
    # an empty queue
    mkdir -p "$W/empty"; for q in maildrop incoming active deferred hold; do mkdir -p "$W/empty/$q"; done
    is "$("$T/qls" --spool "$W/empty" 2>&1)" "Mail queue is empty" "$inst: an empty queue: \"Mail queue is empty\""

    # ---------------------------------------------------------------- qls --json = postqueue -j
    "$T/qls" --spool "$Q" --json >"$W/qls.jsonl"
    is "$?" 0 "$inst: qls --json exits 0"
    out=$(json_same "$G/postqueue-j.jsonl" "$W/qls.jsonl")
    ok $? "$inst: qls --json = postqueue -j, member for member, same order" || diag "$out"
    bad=$(jq -r 'select(.type == "message") | select(.mta != "postfix" or (.state | IN("maildrop","incoming","active","deferred","hold") | not)) | .queue_id' "$W/qls.jsonl")
    is "$bad" "" "$inst: qls --json's extras: mta postfix, state a queue name"

    # ---------------------------------------------------------------- qsumm --shape = qshape
    while IFS=$'\t' read -r f rc args; do
        case $args in qshape*) ;; *) continue ;; esac
        set -- ${args#qshape}
        opts=()
        while [ $# -gt 0 ]; do
            case $1 in
            -b) opts+=(--buckets "$2"); shift ;;
            -s) opts+=(--by-sender) ;;
            *) opts+=("$1") ;;
            esac
            shift
        done
        at_t0 "$T/qsumm" --spool "$Q" --shape "${opts[@]}" >"$W/shape.txt" 2>"$W/shape.err"
        is "$?" "$rc" "$inst: qsumm --shape ${opts[*]}: exit $rc like $args"
        if cmp -s "$G/$f" "$W/shape.txt"; then
            ok 0 "$inst: qsumm --shape ${opts[*]} = $args (byte for byte)"
        else
            is_same_file <(ties <"$G/$f") <(ties <"$W/shape.txt") \
                "$inst: qsumm --shape ${opts[*]} = $args (rows tied in Perl's hash order sorted)"
        fi
    done <"$G/COMMANDS"
    # the bucket headings where Perl's numbers show: qshape itself, run now on the same queue
    # at the same clock. An integer prints in full up to 2^64 (1677721600000000, where "%.15g"
    # would say 1.6777216e+15), a double as "%.15g" until it holds an integer, then Inf.
    qshape_now() {
        ( eval "$(bash "$LAB/postfix-setup.sh" env "$inst")" || exit 1
          [ -n "$PFX_PERL5LIB" ] && export PERL5LIB=$PFX_PERL5LIB
          PATH=$PATH PERL_HASH_SEED=0 PERL_PERTURB_KEYS=0 QT_T0=$t0 QT_FAKETIME_LIB=$PFX_FAKETIME_LIB \
              qt_faketime qshape -c "$PFX_CONF" "$@" )
    }
    for a in '30 100000000' '80 0.5' '70 0.05' '40 1e300' '-l 40 90000000000000'; do
        set -- $a; lin=(); [ "$1" = -l ] && { lin=(-l); shift; }; l=${lin[*]:+-l }
        qshape_now "${lin[@]}" -b "$1" -t "$2" deferred >"$W/qshape-now.txt" 2>"$W/qshape-now.err"
        [ -s "$W/qshape-now.txt" ] || bail_out "$inst: qshape $l-b $1 -t $2 printed nothing: $(head -3 "$W/qshape-now.err")"
        at_t0 "$T/qsumm" --spool "$Q" --shape "${lin[@]}" --buckets "$1" --bucket-time "$2" deferred >"$W/shape.txt"
        is_same_file <(ties <"$W/qshape-now.txt") <(ties <"$W/shape.txt") \
            "$inst: qsumm --shape $l--buckets $1 --bucket-time $2 = qshape $l-b $1 -t $2 (headings as Perl prints)"
    done
    at_t0 "$T/qsumm" --spool "$Q" --shape --buckets 30 --bucket-time 100000000 deferred | head -n 1 |
        grep -q ' 1677721600000000 3355443200000000 '
    ok $? "$inst: ... 100000000 minutes doubled 24 times is 1677721600000000"
    # a deliberate difference (VIOLATIONS): qshape -s counts each maildrop file as a message
    # from MAILER-DAEMON in its last bucket (its qenv() returns undef for such a file);
    # qsumm --shape --by-sender leaves them out, as qshape does without -s
    nmd=$(jq -r 'select(.queue_name == "maildrop") | .queue_id' "$G/postqueue-j.jsonl" | grep -c .)
    [ "$nmd" -gt 0 ] || bail_out "$inst: the lab queue has no maildrop file"
    is "$(qshape_now -s maildrop 2>/dev/null | awk '$1 == "MAILER-DAEMON" { print $2, $NF }')" "$nmd $nmd" \
        "$inst: qshape -s maildrop counts its $nmd files as from MAILER-DAEMON, in the last bucket"
    is_same_file <(qshape_now maildrop 2>/dev/null) <(at_t0 "$T/qsumm" --spool "$Q" --shape --by-sender maildrop) \
        "$inst: qsumm --shape --by-sender maildrop = qshape maildrop (no -s): no maildrop file counted"

    # ---------------------------------------------------------------- qcat = postcat -q
    bad='' nc=0
    while IFS=$'\t' read -r f rc args; do
        case $args in postcat*) ;; *) continue ;; esac
        set -- $args; shift
        opts=(); id=''
        while [ $# -gt 0 ]; do
            case $1 in -q) ;; -*) opts+=("$1") ;; *) id=$1 ;; esac
            shift
        done
        "$T/qcat" --spool "$Q" "${opts[@]}" "$id" >"$W/cat.txt" 2>"$W/cat.err"
        r=$?
        nc=$((nc + 1))
        if [ "$r" != "$rc" ] || ! cmp -s "$G/$f" "$W/cat.txt"; then
            bad="$bad $f"
            [ "$(wc -w <<<"$bad")" -le 3 ] && diag "$args: exit $r" "$(diff -u "$G/$f" "$W/cat.txt" | head -20)"
        fi
    done <"$G/COMMANDS"
    is "$bad" "" "$inst: qcat -e/-h/-b = postcat -q -e/-h/-b for all $nc goldens"
    # -m: the message as stored, header then body (postcat -h -b; postcat -b alone starts
    # the body inside a header line longer than one record, so take a message without one)
    id=$(while read -r i; do
             awk 'length > 2000 { exit 1 }' "$G/postcat/$i.h.txt" && { echo "$i"; break; }
         done <"$G/ids")
    is_same_file <(cat "$G/postcat/$id.h.txt" "$G/postcat/$id.b.txt") <("$T/qcat" --spool "$Q" -m "$id") \
        "$inst: qcat -m = postcat -h -b"

    # ---------------------------------------------------------------- qgrep selectors
    J=$G/postqueue-j.jsonl
    sel() { "$T/qgrep" --spool "$Q" -i "$@" | tr '\n' ' '; }
    exp() { jq -r "select($1) | .queue_id" "$J" | tr '\n' ' '; }
    nul='(if .sender == "MAILER-DAEMON" then "" else .sender end)'
    # (two empty selections agree whatever qgrep does: each of these selects something)
    is_sel() { [ -n "$2" ] || { ok 1 "$3"; diag "the expected side selects nothing"; return 1; }; is "$@"; }
    is_sel "$(sel -f 'example\.org>$')" "$(exp "(\"<\" + $nul + \">\") | test(\"example\\\\.org>$\"; \"i\")")" \
        "$inst: qgrep -f (sender) as postqueue -j says"
    is_sel "$(sel -f '^<>$')" "$(exp ".sender == \"MAILER-DAEMON\"")" "$inst: qgrep -f '^<>\$': the bounces"
    is_sel "$(sel --bounce)" "$(exp ".sender == \"MAILER-DAEMON\"")" "$inst: qgrep --bounce"
    is_sel "$(sel -r '@remote\.example$')" "$(exp 'any(.recipients[]; .address | test("@remote\\.example$"; "i"))')" \
        "$inst: qgrep -r (recipients still to do) as postqueue -j says"
    is_sel "$(sel -r 'TEMPFAIL\.TEST')" "$(exp 'any(.recipients[]; .address | test("tempfail\\.test"; "i"))')" \
        "$inst: qgrep -r is caseless (TEMPFAIL.TEST selects c@tempfail.test)"
    is_sel "$(sel -z)" "$(exp '.queue_name == "hold"')" "$inst: qgrep -z: on hold"
    is_sel "$(sel -x)" "$(exp '.queue_name != "hold"')" "$inst: qgrep -x: not on hold"
    is_sel "$(sel --queue deferred)" "$(exp '.queue_name == "deferred"')" "$inst: qgrep --queue deferred"
    is_sel "$(sel --queue active,incoming)" "$(exp '.queue_name == "active" or .queue_name == "incoming"')" \
        "$inst: qgrep --queue active,incoming"
    is_sel "$(sel -z -f 'example\.org')" "$(exp ".queue_name == \"hold\" and ((\"<\" + $nul + \">\") | test(\"example\\\\.org\"; \"i\"))")" \
        "$inst: qgrep -z -f together"
    is "$(sel --active)" "" "$inst: qgrep --active: nothing is being delivered (Postfix is stopped)"
    is_sel "$(sel --larger 10k)" "$(exp '.message_size >= 10240')" "$inst: qgrep --larger 10k by the size postqueue shows"

    snapshot "$Q" >"$W/after"
    is_same_file "$W/before" "$W/after" "$inst: reading changed nothing in the queue"

    # ---------------------------------------------------------------- damaged copies
    D=$W/damaged
    cp -a "$Q" "$D"
    mapfile -t plain < <(cd "$D" && find deferred -type f | sort)
    [ ${#plain[@]} -ge 10 ] || bail_out "$inst: too few deferred messages"
    # (each kind of damage takes the first file it can be done to; the files used are
    # printed, and the later kinds take from the others)
    mapfile -t used < <("$PY" - "$D" "${plain[@]}" <<'PY'
# five kinds of damage to real queue files: an impossible record length, a truncated file, a
# missing end record, a pointer loop, a pointer past the end of the file
import sys, os
def records(b):
    out, o = [], 0
    while o < len(b):
        t, l, sh, p = b[o], 0, 0, o + 1
        while True:
            c = b[p]; p += 1; l |= (c & 0x7f) << sh; sh += 7
            if not c & 0x80: break
        out.append((chr(t), o, p - o, l)); o = p + l
        if chr(t) == 'E': break
    return out
d, files = sys.argv[1], list(sys.argv[2:])
for how in ('length', 'truncate', 'noend', 'loop', 'pastend'):
    for rel in files:
        path = os.path.join(d, rel)
        b = bytearray(open(path, 'rb').read()); r = records(b)
        if how == 'length':
            s = [x for x in r if x[0] == 'S']
            if not s: continue
            o = s[0][1]
            b[o + 1:o + 5] = bytes([0xff, 0xff, 0xff, 0x0f])
        elif how == 'truncate':
            b = b[:len(b) * 2 // 3]
        elif how == 'noend':
            e = [x for x in r if x[0] == 'E']
            if not e: continue
            b = b[:e[0][1]]
        else:
            rr = [x for x in r if x[0] == 'R' and x[3] >= 12]
            if not rr: continue
            t, o, h, l = rr[0]
            b[o] = ord('p')
            b[o + h:o + h + l] = str(o if how == 'loop' else len(b) + 1000).rjust(l).encode()
        open(path, 'wb').write(b)
        print(rel)
        files.remove(rel)
        break
    else:
        sys.exit('no queue file to damage by ' + how)
PY
)
    [ ${#used[@]} = 5 ] || bail_out "$inst: could not damage five queue files"
    damaged=''
    for f in "${used[@]}"; do damaged="$damaged ${f##*/}"; done
    mapfile -t plain < <(printf '%s\n' "${plain[@]}" | grep -vxF -f <(printf '%s\n' "${used[@]}"))
    [ ${#plain[@]} -ge 6 ] || bail_out "$inst: too few deferred messages"
    # in the wrong hash directory
    f=${plain[0]}; id=${f##*/}
    for h in 0 1 2 3 4 5 6 7 8 9 A B C D E F; do [ "$D/deferred/$h" != "${D}/${f%/*}" ] && break; done
    mkdir -p "$D/deferred/$h"; mv "$D/$f" "$D/deferred/$h/"; damaged="$damaged $id"
    # a symbolic link with a queue file's name (to another real queue file)
    f=${plain[1]}; id=${f##*/}
    mv "$D/$f" "$W/elsewhere"; ln -s "$W/elsewhere" "$D/$f"; damaged="$damaged $id"
    # a FIFO with a queue file's name: named, never opened (opening what is no file can block)
    f=${plain[5]}; id=${f##*/}
    rm "$D/$f"; mkfifo "$D/$f"; damaged="$damaged $id"
    # a file Postfix set aside in corrupt/: reported, never read
    f=${plain[2]}; id=${f##*/}
    mv "$D/$f" "$D/corrupt/"; damaged="$damaged $id"
    # silently skipped, as showq skips them: a file still being written (mode 0600), a
    # temporary file (a name with a dot)
    f=${plain[3]}; unready=${f##*/}; chmod 0600 "$D/$f"
    cp -p "$D/${plain[4]}" "$D/incoming/12345.6789"
    snapshot "$D" >"$W/dbefore"

    timeout 20 "$T/qls" --spool "$D" >"$W/d.txt" 2>"$W/d.err"
    rc=$?
    is "$rc" 2 "$inst damaged: qls exits 2 (and does not hang)"
    for id in $damaged; do
        [ "$(grep -c "$id" "$W/d.err")" = 1 ]; ok $? "$inst damaged: one line on stderr names $id" || diag "$(cat "$W/d.err")"
    done
    is "$(grep -c . "$W/d.err")" "$(wc -w <<<"$damaged")" "$inst damaged: one line per damaged message, nothing else"
    blocks "$W/d.txt" "$W/d"
    bad=''
    while read -r id; do
        case " $damaged $unready " in *" $id "*) [ -e "$W/d/m.$id" ] && bad="$bad listed:$id"; continue ;; esac
        cmp -s "$W/gold/m.$id" "$W/d/m.$id" || bad="$bad $id"
    done <"$W/gold/ids"
    is "$bad" "" "$inst damaged: every other message listed exactly as postqueue -p lists it"
    is "$(grep -c . "$W/d/ids")" "$((n - $(wc -w <<<"$damaged") - 1))" "$inst damaged: the rest, all of them"
    ! grep -q "12345" "$W/d.txt" "$W/d.err"; ok $? "$inst damaged: a temporary file (name with a dot) is no message"
    timeout 20 "$T/qls" --spool "$D" --json >"$W/d.jsonl" 2>"$W/dj.err"
    is "$?" 2 "$inst damaged: qls --json exits 2"
    out=$(json_same "$G/postqueue-j.jsonl" "$W/d.jsonl" "$damaged $unready")
    ok $? "$inst damaged: qls --json = postqueue -j for the rest" || diag "$out"
    for id in $damaged; do
        timeout 10 "$T/qcat" --spool "$D" "$id" >/dev/null 2>"$W/dc.err"
        r=$?
        [ "$r" = 2 ] && grep -q "$id" "$W/dc.err"; ok $? "$inst damaged: qcat $id exits 2 naming it ($r)" ||
            diag "$(cat "$W/dc.err")"
    done
    timeout 10 "$T/qcat" --spool "$D" "$unready" >/dev/null 2>"$W/dc.err"
    is "$?:$(cat "$W/dc.err")" "2:qcat: $unready: no such message: ${plain[3]} is an incomplete queue file (cleanup did not finish it)" \
        "$inst damaged: qcat of a file cleanup did not finish (mode 0600): exit 2, saying so"
    timeout 20 "$T/qgrep" --spool "$D" -c >/dev/null 2>&1; is "$?" 2 "$inst damaged: qgrep exits 2"
    at_t0 timeout 20 "$T/qsumm" --spool "$D" --shape deferred >/dev/null 2>&1; is "$?" 2 "$inst damaged: qsumm --shape exits 2"
    snapshot "$D" >"$W/dafter"
    is_same_file "$W/dbefore" "$W/dafter" "$inst damaged: reading changed nothing"

    # ---------------------------------------------------------------- files that cannot be opened
    # a queue file that is there but cannot be opened is named, never left out in silence:
    # read by someone who may not (nobody: the files are mail_owner's, mode 0700), or with
    # too few file descriptors left (the lowest limit at which the spool still opens)
    N=$W/noread
    cp -a "$Q" "$N"; find "$N" -type d -exec chmod o+rx {} +; chmod o+x "$tmp" "$W"
    # (what it may not read is said once, not once per message, and counted)
    setpriv --reuid=65534 --regid=65534 --clear-groups "$T/qls" --spool "$N" -i >"$W/n.out" 2>"$W/n.err"
    rc=$?
    bad=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$T/qls" --spool "$N" --json 2>/dev/null |
        tail -n 1 | jq .errors)
    is "$rc:$(grep -c . "$W/n.err"):$(grep -c 'Permission denied (not said again' "$W/n.err")" "2:1:1" \
        "$inst: qls as nobody: exit 2, one line for what it may not read" || diag "$(head -n 5 "$W/n.err")"
    is "$(( $(sort -u "$W/n.out" | grep -c .) + bad ))" "$n" \
        "$inst: qls as nobody: each message listed or counted in --json's errors ($bad unreadable)"
    for lim in $(seq 8 40); do
        (ulimit -n "$lim"; exec "$T/qls" --spool "$Q" -i) >"$W/f.out" 2>"$W/f.err"
        rc=$?
        ! grep -q "^qls: $Q" "$W/f.err" && break	# every directory of the spool opened
    done
    named=$(sed -n 's/^qls: \([0-9A-Za-z]*\): [a-z]*\/[0-9A-Za-z/]*: Too many open files$/\1/p' "$W/f.err" | sort)
    [ "$rc" = 2 ] && [ -n "$named" ] && [ "$(sort -u "$W/f.out" - <<<"$named" | grep -c .)" = "$n" ]
    ok $? "$inst: qls with $lim file descriptors: exit 2, each message listed or named" ||
        diag "rc $rc: $(head -n 5 "$W/f.err")"

    # ---------------------------------------------------------------- being delivered
    # a delivery agent holds a shared flock() on its active file; qtools look it up in
    # /proc/locks and never lock anything themselves (an exclusive lock does not stop them)
    a=$(cd "$D/active" && ls | head -1)
    got=$(flock -x "$D/active/$a" timeout 20 "$T/qgrep" --spool "$D" --active -i 2>/dev/null)
    is "$got" "$a" "$inst: qgrep --active finds the message whose active file is locked"
    got=$(flock -s "$D/active/$a" timeout 20 "$T/qls" --spool "$D" --json 2>/dev/null |
          jq -r --arg a "$a" 'select(.queue_id == $a) | .state')
    is "$got" "active" "$inst: qls --json under a delivery agent's shared lock: state active"
    is "$("$T/qgrep" --spool "$D" --active -i 2>/dev/null)" "" "$inst: no lock, nothing being delivered"
done

# ---------------------------------------------------------------- IDs and names
Q=$PFX/short/queue
"$T/qls" --spool "$Q" ../../etc/passwd 'ABC/DEF' 'abcdef0123' >/dev/null 2>"$tmp/ids.err"
is "$?" 2 "invalid queue IDs: exit 2"
is "$(grep -c 'not a valid postfix queue ID' "$tmp/ids.err")" 3 "each invalid ID is named, none is used as a path"
"$T/qls" --spool "$Q" 0123456789AB >/dev/null 2>"$tmp/ids.err"
is "$?" 2 "a valid ID that is not queued: exit 2"
grep -q '0123456789AB: no such message' "$tmp/ids.err"; ok $? "and it says so"
"$T/qls" --spool "$Q" -G deferred,bogus >/dev/null 2>"$tmp/q.err"
is "$?" 2 "an unknown queue name: exit 2"
grep -q 'bogus: not a Postfix queue' "$tmp/q.err"; ok $? "naming it"

done_testing
