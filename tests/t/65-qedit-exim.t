#!/bin/bash
# qedit on spools the real Exim wrote, with Exim as the oracle: on twin copies of the lab
# spool, qedit on one and the real exim -Mmd/-Mmad/-Mar/-Mes on the other must leave the
# same -H files (byte for byte), the same exim -bp/-bpa/-Mvh and the same mainlog lines;
# then a real delivery goes to an added recipient and not to a marked one. Bad input
# (addresses, IDs, a locked message) leaves the spool byte-identical.
. "$(dirname "$0")/../lib.sh"

. "$QT_ROOT/tests/act-exim.sh"
qedit() { local s=$1; shift; "$QT_BIN/qedit" --spool "$s" --mainlog "$s/log/mainlog" "$@"; }
sums() { (cd "$1" && find . -path ./log -prune -o -type f -print0 | sort -z | xargs -0 sha256sum); }
rcpts() { exim_on "$1" -bp "$2" | awk 'NR > 1 && NF == 1 { print $1 }'; }  # pending ones
logs() { cut -c21- "$1/log/mainlog"; }   # without the time stamp
spool_clean() {  # spool_clean DIR NAME: what exim says after qedit acted
    local s=$1 name=$2
    exim_on "$s" -bp >"$tmp/bp" 2>&1
    ! grep -q 'spool \(format\|read\) error' "$tmp/bp"; ok $? "$name: exim -bp reads every message"
    is "$(find "$s" -name 'hdr.*')" "" "$name: no hdr.* left"
    ! grep -iE 'format error|spool (read )?error|panic' "$s/log/mainlog"
    ok $? "$name: mainlog free of spool errors"
    [ ! -s "$s/log/paniclog" ]; ok $? "$name: paniclog empty"
}
twins_agree() {  # twins_agree NAME: the two spools read the same to exim, byte for byte
    local name=$1 bad=0 h
    for h in "$A"/input/*-H; do
        cmp -s "$h" "$B/input/${h##*/}" || { diag "${h##*/} differs"; bad=1; }
    done
    ok $bad "$name: every -H is byte for byte what exim wrote"
    is "$(exim_on "$B" -bp)" "$(exim_on "$A" -bp)" "$name: exim -bp the same"
    is "$(exim_on "$B" -bpa)" "$(exim_on "$A" -bpa)" "$name: exim -bpa the same"
    bad=0
    for id in "${ids[@]}"; do
        cmp -s <(exim_on "$A" -Mvh "$id") <(exim_on "$B" -Mvh "$id") || { diag "$id: -Mvh differs"; bad=1; }
    done
    ok $bad "$name: exim -Mvh the same for every message"
    [ "$(stat -c '%U %G %a' "$B"/input/*-H | sort -u)" = "$(stat -c '%U %G %a' "$A"/input/*-H | sort -u)" ]
    ok $? "$name: owner and mode as exim leaves them"
}

A=$tmp/a B=$tmp/b
new_spool "$A"
mapfile -t ids < <(exim_on "$A" -bp | awk 'NF > 2 && /^ *[0-9]/ { print $3 }')
[ ${#ids[@]} -gt 20 ] || bail_out "the lab spool has too few messages"

# ---------------------------------------------------------------- the rails
S=$tmp/rails; new_spool "$S"; sums "$S" >"$tmp/sum0"
unchanged() { sums "$S" | cmp -s - "$tmp/sum0"; ok $? "... and the spool is byte-identical"; }
qedit "$S" "${ids[0]}" 2>"$tmp/err"; is "$?" 2 "no change asked for: exit 2"
grep -q 'what to change' "$tmp/err"; ok $? "... saying what it wants"
qedit "$S" --mark-all-delivered --set-sender x@y.example "${ids[0]}" 2>"$tmp/err"
is "$?" 2 "two kinds of change: exit 2"
qedit "$S" --mark-all-delivered 2>"$tmp/err"; is "$?" 2 "no selection: exit 2 ..."
grep -q 'ALL' "$tmp/err"; ok $? "... and says that everything is ALL"
qedit "$S" --mark-all-delivered all 2>/dev/null; is "$?" 2 "lower-case 'all' is not ALL"
printf '%s\n../x\n' "${ids[1]}" | qedit "$S" --mark-all-delivered - 2>"$tmp/err"
is "$?" 2 "a malformed ID on stdin: exit 2"; unchanged
qedit "$S" --max 1 --mark-all-delivered -f . 2>/dev/null; is "$?" 2 "--max 1 refuses a larger selection"
unchanged
for bad in $'new\n@x.example' 'two words@x.example' 'nodomain' 'a@' "$(head -c 1100 /dev/zero | tr '\0' a)@x.example" $'tab\t@x.example'; do
    qedit "$S" --add-recipient "$bad" "${ids[0]}" 2>"$tmp/err"
    rc=$?
    is "$rc $(wc -l <"$tmp/err")" "2 1" "--add-recipient $(printf %q "${bad:0:20}"): exit 2, one line"
done
qedit "$S" --set-sender $'x\n@y.example' ALL 2>"$tmp/err"; is "$?" 2 "--set-sender with a newline: exit 2"
grep -q 'control character' "$tmp/err"; ok $? "... naming what is wrong"
unchanged
qedit "$S" --add-recipient '"two words"@x.example' -n "${ids[0]}" >"$tmp/out" 2>/dev/null
is "$?" 0 "a space inside quotes is an address"
is "$(cat "$tmp/out")" "would add recipients to ${ids[0]}" "-n says what it would do ..."
unchanged
qedit "$S" -n --mark-all-delivered ALL >"$tmp/out" 2>/dev/null
pending=$(exim_on "$S" -bp | awk 'NF > 2 && /^ *[0-9]/ { id = $3; next } NF == 1 { p[id] = 1 } END { print length(p) }')
is "$(grep -c '^would mark all delivered in ' "$tmp/out")" "$pending" \
    "-n --mark-all-delivered ALL: one 'would' line per message with a recipient left"
unchanged

# ---------------------------------------------------------------- twins: exim -M* and qedit
# each action on every message, on one twin by exim, on the other by qedit
twin() {  # twin NAME EXIMFLAG "EXIM ARGS" QEDIT-OPTIONS...
    local name=$1 flag=$2 eargs=$3 rc=0 id
    shift 3
    new_spool "$A"; new_spool "$B"
    for id in "${ids[@]}"; do
        # shellcheck disable=SC2086
        exim_on "$A" "$flag" "$id" $eargs >/dev/null 2>&1
        qedit "$B" "$@" "$id" 2>>"$tmp/err" || rc=1
    done
    twins_agree "$name"
    is "$(logs "$B")" "$(logs "$A")" "$name: the mainlog lines exim writes"
}
twin "--set-sender" -Mes "fixed@sender.example" --set-sender '<fixed@sender.example>'
twin "--add-recipient" -Mar "new@deliver.example other@remote.example" \
    --add-recipient new@deliver.example --add-recipient other@remote.example
twin "--mark-all-delivered" -Mmad "" --mark-all-delivered
spool_clean "$B" "after qedit --mark-all-delivered"

# -Mmd on the messages with many recipients, a few at a time in a scrambled order: the
# non-recipients tree grows (and rebalances) as Exim's does
new_spool "$A"; new_spool "$B"
many=()
for id in "${ids[@]}"; do [ "$(rcpts "$A" "$id" | wc -l)" -ge 5 ] && many+=("$id"); done
[ ${#many[@]} -ge 2 ] || bail_out "no message with 5 recipients in the lab spool"
for id in "${many[@]}"; do
    mapfile -t R < <(rcpts "$A" "$id" | awk 'BEGIN { srand(7) } { print rand(), $0 }' | sort | cut -d' ' -f2)
    for ((i = 0; i + 1 < ${#R[@]}; i += 3)); do
        set -- "${R[@]:i:3}"
        exim_on "$A" -Mmd "$id" "$@" >/dev/null 2>&1
        args=(); for r in "$@"; do args+=(--mark-delivered "$r"); done
        qedit "$B" "${args[@]}" "$id" 2>/dev/null
    done
done
twins_agree "--mark-delivered on ${#many[@]} messages, ${#R[@]}+ recipients"
is "$(logs "$B")" "$(logs "$A")" "--mark-delivered: the mainlog lines exim writes"
spool_clean "$B" "after qedit --mark-delivered"
id=${many[0]}
exim_on "$B" -Mmd "$id" "$(rcpts "$B" "$id" | head -1)" >/dev/null
ok $? "exim -Mmd still works on a -H that qedit rewrote"

# ---------------------------------------------------------------- what is so already
S=$tmp/again; new_spool "$S"
id=${many[1]}
mapfile -t R < <(rcpts "$S" "$id")
cp "$S/input/$id-H" "$tmp/H0"
qedit "$S" --add-recipient "${R[0]}" "$id" 2>"$tmp/err"
is "$?" 1 "adding a pending recipient: nothing done, exit 1 ..."
grep -q "<${R[0]}> a pending recipient already" "$tmp/err"; ok $? "... said"
cmp -s "$tmp/H0" "$S/input/$id-H"; ok $? "... and the -H is untouched"
qedit "$S" --add-recipient "${R[1]}" --add-recipient fresh@deliver.example "$id" 2>"$tmp/err"
is "$?" 0 "a pending and a new one: the new one added"
grep -q "<${R[1]}> a pending recipient already: left out" "$tmp/err"; ok $? "... the pending one left out, said"
is "$(exim_on "$S" -bp "$id" | grep -c "^ *${R[1]}$")" 1 "... no duplicate (exim -bp)"
exim_on "$S" -bp "$id" | grep -q '^ *fresh@deliver.example$'; ok $? "... the new one pending (exim -bp)"
cp "$S/input/$id-H" "$tmp/H1"
qedit "$S" --mark-delivered nobody@nowhere.example "$id" 2>"$tmp/err"
is "$?" 2 "marking a non-recipient: exit 2 ..."
grep -q 'is not a recipient: message not updated' "$tmp/err"; ok $? "... as exim -Mmd says"
cmp -s "$tmp/H1" "$S/input/$id-H"; ok $? "... and the -H is untouched"
qedit "$S" --mark-delivered "${R[2]}" "$id" 2>/dev/null; is "$?" 0 "marking a recipient"
qedit "$S" --mark-delivered "${R[2]}" "$id" 2>"$tmp/err"; is "$?" 1 "marking it again: exit 1"
grep -q 'delivered already' "$tmp/err"; ok $? "... said"
qedit "$S" --set-sender "$(exim_on "$S" -bp "$id" | awk 'NR == 1 { print $4 }')" "$id" 2>/dev/null
is "$?" 1 "setting the sender it has: exit 1"
spool_clean "$S" "after the repeated changes"

# --save keeps the message as it was; syslog-free checks of -i
cp "$S/input/$id-H" "$tmp/H2"
qedit "$S" -i --save "$tmp/saved" --set-sender '<>' "$id" >"$tmp/out" 2>/dev/null
is "$(cat "$tmp/out")" "$id" "-i prints the ID changed"
cmp -s "$tmp/H2" "$tmp/saved/input/$id-H"; ok $? "--save kept the -H as it was"
"$QT_BIN/qcat" --spool "$tmp/saved" -m "$id" | cmp -s - <(exim_on "$S" -Mvc "$id"); ok $? "... and the message whole"
exim_on "$S" -bp "$id" | head -1 | grep -q ' <>$'; ok $? "... and exim sees the null sender now"

# a locked message (a delivery holds Exim's lock): skipped, never waited for, untouched
locked=${ids[2]}
hold_lock "$S" "$locked"
sums "$S" >"$tmp/sum1"
timeout 10 "$QT_BIN/qedit" --spool "$S" --set-sender x@y.example "$locked" 2>"$tmp/err"
is "$?" 2 "a locked message: exit 2, no waiting"
grep -q "$locked: locked" "$tmp/err"; ok $? "... reported as locked"
sums "$S" | cmp -s - "$tmp/sum1"; ok $? "... and the spool is byte-identical"
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null

# ---------------------------------------------------------------- a real delivery
# a message with a remote recipient: add one in deliver.example (the lab's blackhole), mark
# the remote one delivered; exim -M on the copy delivers to the first, never tries the other
S=$tmp/run; new_spool "$S"
id=$(exim_on "$S" -bp | awk '/^ *[a-z0-9.]+@remote\.example$/ && prev { print prev; exit } NF > 2 && /^ *[0-9]/ { prev = $3 }')
[ -n "$id" ] || bail_out "no message to a remote.example recipient"
mapfile -t R < <(rcpts "$S" "$id")
qedit "$S" --add-recipient added@deliver.example "$id" 2>/dev/null; is "$?" 0 "run: recipient added"
args=(); for r in "${R[@]}"; do args+=(--mark-delivered "$r"); done
qedit "$S" "${args[@]}" "$id" 2>/dev/null; is "$?" 0 "run: the others marked delivered"
: >"$S/log/mainlog.before"; cp "$S/log/mainlog" "$S/log/mainlog.before"
exim_on "$S" -M "$id" >/dev/null 2>&1
new=$(tail -n +"$(($(wc -l <"$S/log/mainlog.before") + 1))" "$S/log/mainlog")
grep -q "$id => :blackhole: <added@deliver.example>" <<<"$new"; ok $? "exim delivered to the added recipient"
bad=0; for r in "${R[@]}"; do grep -qF "$r" <<<"$new" && { diag "$r was tried: $new"; bad=1; }; done
ok $bad "... and tried none of the marked ones"
grep -q "$id Completed" <<<"$new"; ok $? "... and completed the message"
spool_clean "$S" "after the delivery"

done_testing
