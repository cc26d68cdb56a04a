#!/bin/bash
# qrm, qfreeze, qrun on spools the real Exim wrote, with Exim as the judge afterwards; then
# 500+ mixed freeze/thaw/remove/qedit --set-sender operations while two real Exim queue
# runners deliver the same spool into a slow SMTP peer: nothing lost, nothing corrupt, no
# orphans, no change undone by Exim's own rewrites of -H.
. "$(dirname "$0")/../lib.sh"

. "$QT_ROOT/tests/act-exim.sh"
spool_clean() {  # spool_clean DIR NAME: what exim says after an external tool acted
    local s=$1 name=$2 o
    exim_on "$s" -bp >"$tmp/bp" 2>&1
    ! grep -q 'spool \(format\|read\) error' "$tmp/bp"; ok $? "$name: exim -bp reads every message"
    o=$(find "$s/input" -name '*-D' | while read -r d; do [ -e "${d%-D}-H" ] || echo "$d"; done)
    is "$o" "" "$name: no -D without its -H"
    is "$(find "$s" -name 'hdr.*')" "" "$name: no hdr.* left"
    ! grep -iE 'format error|spool (read )?error|panic|failed to unlink' "$s/log/mainlog"
    ok $? "$name: mainlog free of spool errors"
    [ ! -s "$s/log/paniclog" ]; ok $? "$name: paniclog empty"
}

# ---------------------------------------------------------------- removing
S=$tmp/rm; new_spool "$S"
n0=$(exim_on "$S" -bpc)
"$QT_BIN/qrm" --spool "$S" 2>"$tmp/err"
is "$?" 2 "qrm with no selection refuses ..."
grep -q 'ALL' "$tmp/err"; ok $? "... and says that everything is ALL"
is "$(exim_on "$S" -bpc)" "$n0" "... and removed nothing"
"$QT_BIN/qrm" --spool "$S" all >/dev/null 2>&1
is "$?" 2 "lower-case 'all' is not ALL"
"$QT_BIN/qrm" --spool "$S" -n -f alice >"$tmp/dry" 2>/dev/null
is "$(wc -l <"$tmp/dry")" "$("$QT_BIN/qgrep" --spool "$S" -c -f alice | cut -d' ' -f1)" "-n lists what would be removed"
is "$(exim_on "$S" -bpc)" "$n0" "-n removed nothing"
"$QT_BIN/qrm" --spool "$S" --max 1 -f . >/dev/null 2>"$tmp/err"
is "$?" 2 "--max 1 refuses a larger selection"
is "$(exim_on "$S" -bpc)" "$n0" "... having removed nothing"

mapfile -t alice < <("$QT_BIN/qgrep" --spool "$S" -i -f alice)
"$QT_BIN/qrm" --spool "$S" -i -f alice --mainlog "$S/log/mainlog" --save "$tmp/saved" >"$tmp/out" 2>"$tmp/err"
is "$?" 0 "qrm -f alice"
is "$(sort "$tmp/out")" "$(printf '%s\n' "${alice[@]}" | sort)" "qrm -i printed the IDs it removed"
for id in "${alice[@]}"; do
    exim_on "$S" -bp "$id" | grep -q 'spool read error: No such file'; ok $? "exim: $id is gone"
    grep -q "$id removed by root" "$S/log/mainlog" && grep -q "$id Completed" "$S/log/mainlog"
    ok $? "mainlog: $id removed by root, Completed"
    "$QT_BIN/qcat" --spool "$tmp/saved" -m "$id" | cmp -s - <(exim_on "$QT_LAB/exim/spools/main" -Mvc "$id")
    ok $? "--save kept $id whole: qcat reads it like exim -Mvc"
done
is "$(exim_on "$S" -bpc)" "$((n0 - ${#alice[@]}))" "exim -bpc dropped by the number removed"
grep -q "${alice[0]}" "$tmp/err"; [ $? -ne 0 ]; ok $? "nothing on stderr names a removed message"

# IDs from stdin, with a typo: nothing done at all
printf '%s\n1zzzzz-zzzzzz-zz\n../x\n' "$(exim_on "$S" -bp | awk 'NF > 2 { print $3; exit }')" |
    "$QT_BIN/qrm" --spool "$S" - 2>"$tmp/err"
is "$?" 2 "a malformed ID on stdin: exit 2 ..."
is "$(exim_on "$S" -bpc)" "$((n0 - ${#alice[@]}))" "... and nothing removed"
grep -q '\.\./x: not a valid exim queue ID' "$tmp/err"; ok $? "... naming the bad ID"
# a well-formed but missing ID: the others are still processed
victim=$(exim_on "$S" -bp | awk 'NF > 2 { print $3; exit }')
printf '%s\n1zzzzz-zzzzzz-zz\n' "$victim" | "$QT_BIN/qrm" --spool "$S" - 2>"$tmp/err"
is "$?" 2 "a missing ID: exit 2 ..."
grep -q '^qrm: 1zzzzz-zzzzzz-zz: no such message' "$tmp/err"; ok $? "... 'qrm: ID: no such message'"
exim_on "$S" -bp "$victim" | grep -q 'No such file'; ok $? "... and the other one was removed"

# a locked message (a delivery holds Exim's lock): skipped and reported, never waited for
locked=$(exim_on "$S" -bp | awk 'NF > 2 { print $3; exit }')
hold_lock "$S" "$locked"
timeout 10 "$QT_BIN/qrm" --spool "$S" "$locked" 2>"$tmp/err"
is "$?" 2 "a locked message: exit 2, no waiting"
grep -q "$locked: locked" "$tmp/err"; ok $? "... reported as locked"
[ -e "$S/input/$locked-H" ] && [ -e "$S/input/$locked-D" ]; ok $? "... and left alone"
exim_on "$S" -Mrm "$locked" >/dev/null 2>&1; [ $? -ne 0 ]; ok $? "... (exim agrees it is locked)"
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null
spool_clean "$S" "after qrm"

# ---------------------------------------------------------------- freezing
S=$tmp/frz; new_spool "$S"
mapfile -t live < <("$QT_BIN/qgrep" --spool "$S" -x -i)
for id in "${live[@]}"; do cp "$S/input/$id-H" "$tmp/$id.orig"; done
printf '%s\0' "${live[@]}" | xargs -0 "$QT_BIN/qfreeze" --spool "$S" --mainlog "$S/log/mainlog" 2>"$tmp/err"
is "$?" 0 "qgrep -x -i | xargs qfreeze"
is "$(exim_on "$S" -bp | grep -c '\*\*\* frozen \*\*\*')" "$(exim_on "$S" -bpc)" "exim: every message is frozen now"
same=0
for id in "${live[@]}"; do   # every byte kept but the frozen state (a freeze drops -manual_thaw, as -Mf does)
    exim_on "$S" -Mvh "$id" | grep -av '^-frozen [0-9]*$' | cmp -s - <(grep -av '^-manual_thaw$' "$tmp/$id.orig") || { diag "$id changed"; same=1; }
done
ok $same "exim -Mvh: each -H is the old one plus -frozen"
grep -q "${live[0]} frozen by root" "$S/log/mainlog"; ok $? "mainlog: frozen by root"
"$QT_BIN/qfreeze" --spool "$S" "${live[0]}" 2>"$tmp/err"
is "$?" 1 "freezing a frozen message: nothing to do, exit 1"
"$QT_BIN/qgrep" --spool "$S" -z -i | "$QT_BIN/qfreeze" -u --spool "$S" --mainlog "$S/log/mainlog" - 2>/dev/null
is "$?" 0 "qgrep -z -i | qfreeze -u -"
is "$(exim_on "$S" -bp | grep -c '\*\*\* frozen')" 0 "exim: nothing frozen now"
exim_on "$S" -Mvh "${live[0]}" | grep -qx -- '-manual_thaw'; ok $? "a thawed message says -manual_thaw, as after exim -Mt"
grep -q "${live[0]} unfrozen by root" "$S/log/mainlog"; ok $? "mainlog: unfrozen by root"
exim_on "$S" -Mf "${live[0]}" >/dev/null && exim_on "$S" -Mt "${live[0]}" >/dev/null
ok $? "exim -Mf / -Mt still work on a message qfreeze rewrote"
spool_clean "$S" "after qfreeze"
exim_on "$S" -qff >/dev/null 2>&1; ok $? "a forced queue run goes through"
spool_clean "$S" "after qfreeze and exim -qff"

# ---------------------------------------------------------------- qrun
S=$tmp/run; new_spool "$S"
# qrun runs the Exim whose spool_directory is this spool: the lab's, told which one
cat >"$tmp/exim-here" <<EOF
#!/bin/sh
exec "$QT_LAB/exim/bin/exim" -DSPOOL="$S" -DLOGDIR="$S/log" "\$@"
EOF
chmod +x "$tmp/exim-here"
X=$tmp/exim-here
"$QT_BIN/qrun" --spool "$S" -n -f alice --mta-path "$X" >"$tmp/out"
is "$(cut -d' ' -f1-2 "$tmp/out")" "$X -M" "qrun -n shows exim -M IDs"
is "$(wc -w <"$tmp/out")" "$(( 2 + $("$QT_BIN/qgrep" --spool "$S" -c -f alice | cut -d' ' -f1) ))" "... one word per ID"
"$QT_BIN/qrun" --spool "$S" -n ALL --mta-path "$X" >"$tmp/out"
is "$(cat "$tmp/out")" "$X -qff" "qrun -n ALL: exim -qff"
"$QT_BIN/qrun" --spool "$S" -n -G slow ALL --mta-path "$X" >"$tmp/out"
is "$(cat "$tmp/out")" "$X -qffGslow" "qrun -n -G slow ALL: exim -qffGslow"
id=$(exim_on "$S" -bp | awk '/deliver\.example/ && prev { print prev; exit } NF > 2 { prev = $3 }')
"$QT_BIN/qrun" --spool "$S" --mta-path "$tmp/exim-here" "$id" >/dev/null 2>&1
grep -q "$id" "$S/log/mainlog"; ok $? "qrun ID: exim tried a delivery ($id is in mainlog)"

# ---------------------------------------------------------------- trial under load
# a slow SMTP peer on loopback: it answers every connection after a pause with a 4xx, so
# every delivery attempt holds Exim's lock for a while and then defers
port=29437
python3 - "$port" 120 <<'PY' &
import socket, sys, threading, time
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", int(sys.argv[1]))); srv.listen(64); srv.settimeout(1)
end = time.time() + float(sys.argv[2])
def serve(c):
    time.sleep(0.2); c.sendall(b"421 slow.example busy, try later\r\n"); c.close()
while time.time() < end:
    try: c, _ = srv.accept()
    except socket.timeout: continue
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
pids+=($!)
# QT_TRIAL_MSGS, QT_TRIAL_OPS: a smaller trial (tests/run-asan, where the sanitized tools are
# several times slower and the trial tests the locking more than the tools' code)
TRIAL_MSGS=${QT_TRIAL_MSGS:-120} TRIAL_OPS=${QT_TRIAL_OPS:-520}
T=$tmp/trial; mkdir -p "$T/log"; chown -R "$EU:$EU" "$T"; chmod 0750 "$T"
for i in $(seq 1 "$TRIAL_MSGS"); do
    d=$([ $((i % 2)) = 0 ] && echo crash.example || echo remote.example)
    printf 'Subject: trial %d\n\n%s\n' "$i" "$(head -c 300 /dev/urandom | base64 -w 60)" |
        "$QT_LAB/exim/bin/exim" -DSPOOL="$T" -DLOGDIR="$T/log" -DTARPIT=$port -odq -f "s$i@example.org" "r$i@$d"
done
mapfile -t all < <("$QT_BIN/qls" --spool "$T" -i)
is "${#all[@]}" "$TRIAL_MSGS" "trial spool: $TRIAL_MSGS messages submitted to the real exim"
[ ${#all[@]} -gt 0 ] || bail_out "no trial spool"
for id in "${all[@]}"; do tail -n +2 "$T/input/$id-D" | md5sum | cut -d' ' -f1 >"$tmp/$id.md5"; done
runner() { while [ ! -e "$tmp/stop" ]; do
    "$QT_LAB/exim/bin/exim" -DSPOOL="$T" -DLOGDIR="$T/log" -DTARPIT=$port -qf >/dev/null 2>&1; done; }
runner & pids+=($!)
runner & pids+=($!)
sleep 1
declare -A state; removed=(); edited=(); tally=""
for i in $(seq 1 "$TRIAL_OPS"); do
    id=${all[RANDOM % ${#all[@]}]}
    case $((RANDOM % 10)) in
    0) op=(qrm -i); what=rm ;;
    [1-5]) op=(qfreeze -i); what=freeze ;;
    9) op=(qedit -i --set-sender "edited-$id@example.org"); what=edit ;;
    *) op=(qfreeze -u -i); what=thaw ;;
    esac
    out=$("$QT_BIN/${op[0]}" "${op[@]:1}" --spool "$T" --mainlog "$T/log/mainlog" "$id" 2>>"$tmp/trial.err")
    rc=$?
    if [ "$out" = "$id" ]; then
        case $what in rm) removed+=("$id"); state[$id]=gone ;; freeze) state[$id]=frozen ;; thaw) state[$id]=thawed ;;
        edit) edited+=("$id") ;; esac
        tally="$tally ${what}:done"
    elif [ $rc -ge 2 ]; then tally="$tally ${what}:skipped"; else tally="$tally ${what}:noop"; fi
done
touch "$tmp/stop"; wait "${pids[-1]}" "${pids[-2]}" 2>/dev/null
diag "trial: $(tr ' ' '\n' <<<"$tally" | sort | uniq -c | tr '\n' ' ')"
diag "trial: $(grep -c ': locked' "$tmp/trial.err") operations skipped as locked; $(grep -c ' == ' "$T/log/mainlog") deferrals by exim meanwhile"
bad=$(grep -v ': locked\|: gone\|no such message\|already frozen\|not frozen\|: the sender is <.*> already\|^q[a-z]*: [0-9]* ' "$tmp/trial.err" | head -5)
is "$bad" "" "trial: no error but 'locked', 'gone' or 'already so'"
mapfile -t left < <("$QT_BIN/qls" --spool "$T" -i | sort)
expect=$(printf '%s\n' "${all[@]}" | grep -vxF -f <(printf '%s\n' "${removed[@]}" ) | sort)
is "$(printf '%s\n' "${left[@]}")" "$expect" "trial: exactly the messages not removed are still there (${#removed[@]} removed)"
intact=0
for id in "${left[@]}"; do
    [ "$(tail -n +2 "$T/input/$id-D" | md5sum | cut -d' ' -f1)" = "$(cat "$tmp/$id.md5")" ] || { intact=1; diag "$id: body changed"; }
done
ok $intact "trial: every message left is intact (body unchanged)"
frz=0
for id in "${!state[@]}"; do
    case ${state[$id]} in
    frozen) exim_on "$T" -bp "$id" | head -1 | grep -q 'frozen' || { frz=1; diag "$id should be frozen"; } ;;
    thawed) exim_on "$T" -bp "$id" | head -1 | grep -q 'frozen' && { frz=1; diag "$id should not be frozen"; } ;;
    esac
done
ok $frz "trial: each message's frozen state is the last one qfreeze set"
bad=0
for id in "${edited[@]}"; do
    [ "${state[$id]}" = gone ] && continue
    exim_on "$T" -bp "$id" | head -1 | grep -q " <edited-$id@example.org>" || { bad=1; diag "$id: the sender qedit set is lost"; }
done
ok $bad "trial: every sender qedit set (${#edited[@]} messages) is still there, whatever exim rewrote meanwhile"
spool_clean "$T" "after the trial"
is "$(find "$T/input" -name '*-J')" "" "after the trial: no journal left"

done_testing
