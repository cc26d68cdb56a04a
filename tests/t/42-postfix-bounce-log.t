#!/bin/bash
# tests/t/42-postfix-bounce-log.t -- Postfix's bounce logs, on the queues the real Postfix 3.7
# wrote (tests/lab/postfix-queue.sh, phase 2: the bounce service cannot reach cleanup, so the
# non-delivery report fails, the queue manager logs "status=deferred (bounce failed)" and
# bounce/ID stays, with the failed recipients already marked done in the queue file).
# Postfix 3.7's showq reads defer/ only: postqueue -p/-j list no bounced recipient, and qls,
# qls --json, --reason and --by reason stay equal to them. qcat --log shows the defer log's
# entries and then the bounce log's, each bounce entry as the maillog's "status=bounced
# (...)" line for that recipient says. A damaged log (a copy of the queue): qcat --log
# writes every readable entry, then one line naming the ID, exit 2; the listing and the
# files are as before. Then the same live, on a fresh instance of our own ("bouncelog", ports
# 29530-29535) whose bounce/ is hashed two levels deep (hash_queue_names), against the
# postqueue and postcat of that moment. Needs root (the lab runs Postfix).
. "$(dirname "$0")/../lib.sh"
. "$QT_ROOT/tests/act-postfix.sh"	# LC_ALL, tmp and its cleanup, the instance helpers
PFX=$QT_LAB/postfix
T=$QT_BIN

qt_labs postfix short long

# the maillog's "status=bounced" lines of ID, as qcat --log's bounce lines (MAILLOG: $G/maillog)
bounced_in_maillog() {
    sed -n "s/^.* $1: to=<\([^>]*\)>,.* dsn=\([^,]*\), status=bounced (\(.*\))\$/bounce: recipient=\1 status=\2 reason=\3/p" "${2:-$G/maillog}"
}
# every file of the copy D and its checksum
snap() { (cd "$D" && find . -type f -print0 | sort -z | xargs -0 md5sum); }
# the postqueue -p block of ID (a message's lines up to the blank line after them)
block_of() { awk -v id="$1" 'BEGIN { RS = ""; ORS = "\n\n" } index($0, id) == 1' "$2"; }

for inst in short long; do
    G=$PFX/golden/$inst Q=$PFX/$inst/queue W=$tmp/$inst
    mkdir -p "$W"
    [ -s "$G/postqueue-j.jsonl" ] && [ -s "$G/maillog" ] || bail_out "$inst: no postqueue -j or maillog golden"
    mapfile -t bids < <(find "$Q/bounce" -type f -printf '%f\n' | sort)
    [ "${#bids[@]}" -ge 2 ] || bail_out "$inst: the lab's queue has no bounce logs (phase 2 of postfix-queue.sh)"
    both= only=
    for id in "${bids[@]}"; do
        if [ -n "$(find "$Q/defer" -type f -name "$id")" ]; then both=$id; else only=$id; fi
    done
    [ -n "$both" ] && [ -n "$only" ] || bail_out "$inst: want a message with a bounce log only and one with both logs"

    # ---- what the real Postfix did: the recipients bounced, the report failed, showq ignores bounce/
    for id in "${bids[@]}"; do
        grep -q " $id: status=deferred (bounce failed)\$" "$G/maillog"
        ok $? "$inst $id: maillog: the bounce report failed, the message stays deferred"
        bounced_in_maillog "$id" >"$W/bounced.$id"
        [ -s "$W/bounced.$id" ]; ok $? "$inst $id: maillog: $(grep -c . "$W/bounced.$id") recipient(s) status=bounced"
        listed=$(jq -r --arg id "$id" 'select(.queue_id == $id) | .recipients[].address' "$G/postqueue-j.jsonl")
        bad=$(sed 's/^bounce: recipient=\([^ ]*\) .*/\1/' "$W/bounced.$id" | grep -Fxf - <<<"$listed")
        is "$bad" "" "$inst $id: postqueue -j (Postfix 3.7's showq) lists no bounced recipient"
        is "$(jq -r --arg id "$id" 'select(.queue_id == $id) | [.recipients[] | has("bounce_reason")] | any' \
            "$G/postqueue-j.jsonl")" false "$inst $id: ... and no bounce_reason (that is Postfix 3.11's)"
    done

    # ---- the listing: equal to postqueue -p and -j
    "$T/qls" --spool "$Q" >"$W/qls" 2>"$W/qls.err"
    is "$?:$(cat "$W/qls.err")" "0:" "$inst: qls reads the queue with its bounce logs"
    "$T/qls" --spool "$Q" --json >"$W/qls.json"
    for id in "${bids[@]}"; do
        block_of "$id" "$G/postqueue-p.txt" >"$W/want.p"
        block_of "$id" "$W/qls" >"$W/got.p"
        [ -s "$W/want.p" ] && is_same_file "$W/want.p" "$W/got.p" "$inst $id: qls = postqueue -p"
        jq -cS --arg id "$id" 'select(.queue_id == $id)' "$G/postqueue-j.jsonl" >"$W/want.j"
        jq -cS --arg id "$id" --slurpfile g "$W/want.j" \
            'select(.queue_id == $id) | with_entries(select(.key as $k | $g[0] | has($k)))' "$W/qls.json" >"$W/got.j"
        [ -s "$W/want.j" ] && is_same_file "$W/want.j" "$W/got.j" "$inst $id: qls --json = postqueue -j, member for member"
    done

    # ---- qcat --log: the defer entries, then the bounce entries as the maillog says them
    for id in "${bids[@]}"; do
        "$T/qcat" --spool "$Q" --log "$id" >"$W/log.$id" 2>"$W/err"
        is "$?:$(cat "$W/err")" "0:" "$inst $id: qcat --log: exit 0, nothing on stderr"
        grep '^bounce: ' "$W/log.$id" >"$W/got"
        is_same_file "$W/bounced.$id" "$W/got" "$inst $id: qcat --log's bounce lines = the maillog's status=bounced"
    done
    is "$(grep -vc '^bounce: ' "$W/log.$only")" 0 "$inst $only (bounce log only): no other line"
    is "$(cut -d: -f1 "$W/log.$both" | uniq | paste -sd,)" "defer,bounce" \
        "$inst $both (both logs): the defer entries first, then the bounce entries"
    jq -r --arg id "$both" 'select(.queue_id == $id) | .recipients[] | select(.delay_reason != null) |
        "\(.address)\t\(.delay_reason)"' "$G/postqueue-j.jsonl" >"$W/want"
    sed -n 's/^defer: recipient=\([^ ]*\) status=[^ ]* reason=/\1\t/p' "$W/log.$both" >"$W/got"
    [ -s "$W/want" ] && is_same_file "$W/want" "$W/got" "$inst $both: the defer lines = postqueue -j's delay_reason"

    # ---- --reason and --by reason: delay reasons only (postqueue -j's delay_reason)
    why=$(sed -n '1s/.* reason=//p' "$W/bounced.$only")
    jq -r --arg re "$why" 'select(any(.recipients[]; .delay_reason != null and (.delay_reason | contains($re)))) |
        .queue_id' "$G/postqueue-j.jsonl" | sort >"$W/want"
    "$T/qgrep" --spool "$Q" --reason "$why" | sort >"$W/got"
    is_same_file "$W/want" "$W/got" "$inst: qgrep --reason '$why' = jq over postqueue -j ($(grep -c . "$W/want"))"
    for id in "${bids[@]}"; do
        grep -qx "$id" "$W/got"; [ $? -ne 0 ]; ok $? "$inst $id: --reason does not see its bounce log"
    done
    "$T/qgrep" --spool "$Q" --reason . -i | grep -cx "$only" >"$W/n"
    is "$(cat "$W/n")" 0 "$inst $only: no delay reason at all (--reason .)"
    "$T/qsumm" --spool "$Q" --by reason --json >"$W/sum.json"
    jq -r 'select(.type == "group") | .reason' "$W/sum.json" | grep -cxF "$why" >"$W/n"
    is "$(cat "$W/n")" 0 "$inst: qsumm --by reason has no group for the bounce reason"

    # ---- damaged logs, in a copy: every readable entry, one line naming the ID, exit 2
    D=$W/copy
    cp -a "$Q" "$D"
    bf=$(find "$D/bounce" -type f -name "$both") df=$(find "$D/defer" -type f -name "$both")
    printf 'recipient=w@bounce.test\nfrobnicate=yes\nstatus=5.1.1\nthis line is no record\nreason=lab: appended\n\n' >>"$bf"
    snap >"$W/snap"
    "$T/qcat" --spool "$D" --log "$both" >"$W/out" 2>"$W/err"
    is "$?:$(grep -c . "$W/err")" "2:1" "$inst: a damaged bounce log: exit 2, one line"
    grep -q "$both: bounce log: line [0-9]*: unknown attribute name: frobnicate" "$W/err"
    ok $? "$inst: ... naming the ID, the log and the first bad line" || diag "$(cat "$W/err")"
    { cat "$W/log.$both"; echo 'bounce: recipient=w@bounce.test status=5.1.1 reason=lab: appended'; } >"$W/want"
    is_same_file "$W/want" "$W/out" "$inst: ... after every entry it could read, the appended one too"
    snap | cmp -s - "$W/snap"; ok $? "$inst: ... and no file changed"
    # a bad line inside an entry (a line on its own would be an entry of its own to showq,
    # listed as "(recipient address unavailable)")
    sed -i '0,/^recipient=/s//garbage\n&/' "$df"
    snap >"$W/snap"
    "$T/qcat" --spool "$D" --log "$both" >"$W/out" 2>"$W/err"
    is "$?:$(grep -c . "$W/err")" "2:1" "$inst: both logs damaged: still one line, exit 2"
    grep -q "$both: defer log: line [0-9]*: malformed record: garbage" "$W/err"
    ok $? "$inst: ... the defer log's, the first read" || diag "$(cat "$W/err")"
    is_same_file "$W/want" "$W/out" "$inst: ... every entry written"
    "$T/qls" --spool "$D" >"$W/qls.d" 2>"$W/err"
    is "$?:$(cat "$W/err")" "0:" "$inst: qls on the damaged copy: exit 0 (showq skips such lines too)"
    is_same_file "$W/qls" "$W/qls.d" "$inst: ... and lists as before"
    "$T/qls" --spool "$D" --json | jq -c 'select(.type == "message")' >"$W/qls.d.json"
    jq -c 'select(.type == "message")' "$W/qls.json" | cmp -s - "$W/qls.d.json"
    ok $? "$inst: ... qls --json too"
    bf=$(find "$D/bounce" -type f -name "$only")
    head -c $((17 << 20)) /dev/zero | tr '\0' 'x' >"$bf"
    snap >"$W/snap"
    "$T/qcat" --spool "$D" --log "$only" >"$W/out" 2>"$W/err"
    is "$?:$(grep -c . "$W/err"):$(grep -c . "$W/out")" "2:1:0" "$inst: a bounce log over 16 MiB: one line, exit 2"
    grep -q "$only: bounce log: " "$W/err"; ok $? "$inst: ... naming the ID and the log" || diag "$(cat "$W/err")"
    snap | cmp -s - "$W/snap"; ok $? "$inst: ... and no file changed"
done

# ---------------------------------------------------------------- live, bounce/ hashed
new_instance bouncelog 29530 no
since=$(wc -l <"$LOG")
postconf -c "$C" -e "hash_queue_names = deferred, defer, bounce" "hash_queue_depth = 2"
# as the lab's phase 2: the bounce service cannot reach cleanup, so the report fails
sed -i 's/^\(bounce .*bounce\)$/\1 -o cleanup_service_name=nocleanup/' "$C/master.cf"
n=$(grep -c 'reload -- version' "$LOG")
postfix -c "$C" reload 2>/dev/null
for _ in $(seq 100); do [ "$(grep -c 'reload -- version' "$LOG")" -gt "$n" ] && break; sleep 0.1; done
msg ann@example.org "x@bounce.test, y@remote.example" "one bounced, one deferred" |
    sm -f ann@example.org x@bounce.test y@remote.example
msg bob@example.org "z@nouser.test" "all bounced" | sm -f bob@example.org z@nouser.test
for _ in $(seq 150); do
    [ "$(tail -n +"$since" "$LOG" | grep -c 'status=deferred (bounce failed)')" -ge 2 ] && break; sleep 0.2
done
settle 0 || bail_out "the queue did not settle"
both=$(tail -n +"$since" "$LOG" | sed -n 's/.* \([0-9A-F]*\): to=<x@bounce.test>.*status=bounced.*/\1/p')
only=$(tail -n +"$since" "$LOG" | sed -n 's/.* \([0-9A-F]*\): to=<z@nouser.test>.*status=bounced.*/\1/p')
[ -n "$both" ] && [ -n "$only" ] || bail_out "live: no bounced recipients in the maillog"
for id in "$both" "$only"; do
    tail -n +"$since" "$LOG" | grep -q " $id: status=deferred (bounce failed)\$"
    ok $? "live $id: the bounce report failed (maillog)"
    f=$(cd "$Q" && find bounce -type f -name "$id")
    is "$f" "bounce/${id:0:1}/${id:1:1}/$id" "live $id: its bounce log is bounce/X/Y/ID (hashed, depth 2)"
done
postcat -c "$C" -q "$both" >"$tmp/pc" 2>&1
grep -qx 'done_recipient: x@bounce.test' "$tmp/pc" && grep -qx 'recipient: y@remote.example' "$tmp/pc"
ok $? "live $both: postcat -q: x done (bounced), y still to deliver"
postqueue -c "$C" -p >"$tmp/pq" 2>/dev/null
"$T/qls" --spool "$Q" >"$tmp/qls" 2>"$tmp/err"
is "$?:$(cat "$tmp/err")" "0:" "live: qls exit 0"
is_same_file "$tmp/pq" "$tmp/qls" "live: qls = postqueue -p"
grep -q 'x@bounce.test\|z@nouser.test' "$tmp/pq"; [ $? -ne 0 ]; ok $? "live: ... which lists no bounced recipient"
postqueue -c "$C" -j 2>/dev/null | jq -cS . >"$tmp/pj"
"$T/qls" --spool "$Q" --json | jq -cS --slurpfile g "$tmp/pj" 'select(.type == "message") | . as $m |
    ($g[] | select(.queue_id == $m.queue_id)) as $p | $m | with_entries(select(.key as $k | $p | has($k)))' >"$tmp/qj"
is_same_file "$tmp/pj" "$tmp/qj" "live: qls --json = postqueue -j, member for member"
for id in "$both" "$only"; do
    bounced_in_maillog "$id" "$LOG" >"$tmp/want"
    "$T/qcat" --spool "$Q" --log "$id" >"$tmp/log" 2>"$tmp/err"
    is "$?:$(cat "$tmp/err")" "0:" "live $id: qcat --log exit 0"
    grep '^bounce: ' "$tmp/log" >"$tmp/got"
    [ -s "$tmp/want" ] && is_same_file "$tmp/want" "$tmp/got" "live $id: qcat --log's bounce lines = the maillog's status=bounced"
done
"$T/qcat" --spool "$Q" --log "$both" | cut -d' ' -f1-2 >"$tmp/got"
printf 'defer: recipient=y@remote.example\nbounce: recipient=x@bounce.test\n' >"$tmp/want"
is_same_file "$tmp/want" "$tmp/got" "live $both: the defer entry, then the bounce entry"
"$T/qgrep" --spool "$Q" --reason 'does not exist|User unknown' -c >"$tmp/out"
is "$(cat "$tmp/out")" "0 matches out of 2 messages" "live: --reason does not see the bounce logs"
is "$(complaints "$since" | grep -v 'nocleanup')" "" "live: no other warning or error in Postfix's log"

done_testing
