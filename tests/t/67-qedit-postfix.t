#!/bin/bash
# tests/t/67-qedit-postfix.t -- qedit on the queue of a real Postfix 3.7 that runs, with
# Postfix as the judge: --mark-delivered overwrites the recipient record's type byte with D,
# as the queue manager marks a finished recipient; postcat -q then shows the record done,
# postqueue -j no longer lists the recipient, and a delivery run tries only the others;
# corrupt/ stays empty and Postfix logs no warning. --add-recipient and --set-sender are
# refused with one line that says how to get the effect, nothing changed. A fresh instance
# of our own ("qedit", ports 39490-39495); the helpers are 57-postfix-act.t's.
. "$(dirname "$0")/../lib.sh"
. "$QT_ROOT/tests/act-postfix.sh"

new_instance qedit 39490 no
since=$(wc -l <"$LOG")
rcpts_of() { postqueue -c "$C" -j | jq -r --arg id "$1" 'select(.queue_id == $id) | .recipients[].address' | sort | paste -sd' '; }

# ---------------------------------------------------------------- on hold, then delivered
# three recipients: two in discard.test (delivered at once when tried), one to the closed port
msg alice@example.org a@discard.test "held" "X-Lab-Hold: yes" |
    sm -f alice@example.org a@discard.test b@discard.test c@remote.example
settle 0 || bail_out "the queue did not settle"
id=$(pj | awk '$2 == "hold" { print $1; exit }')
[ -n "$id" ] || bail_out "no message on hold"
is "$(rcpts_of "$id")" "a@discard.test b@discard.test c@remote.example" "postqueue -j: three recipients"
snap >"$tmp/s0"
"$B/qedit" --spool "$Q" --add-recipient d@discard.test "$id" 2>"$tmp/err"
is "$?:$(wc -l <"$tmp/err")" "2:1" "--add-recipient: refused, one line ..."
grep -q 'sendmail' "$tmp/err"; ok $? "... saying how to get the effect (re-inject a copy)"
"$B/qedit" --spool "$Q" --set-sender x@example.org "$id" 2>"$tmp/err"
is "$?:$(wc -l <"$tmp/err")" "2:1" "--set-sender: refused, one line"
"$B/qedit" --spool "$Q" --mark-delivered $'a@discard.test\n' "$id" 2>"$tmp/err"
is "$?:$(wc -l <"$tmp/err")" "2:1" "an address with a newline: refused, one line"
"$B/qedit" --spool "$Q" --mark-delivered nobody@discard.test "$id" 2>"$tmp/err"
is "$?" 2 "a non-recipient: exit 2"
is "$(snap)" "$(cat "$tmp/s0")" "... and the queue is byte for byte as it was"
f=$Q/hold/$id
cp "$f" "$tmp/f0"; t0=$(stat -c %Y "$f")
"$B/qedit" --spool "$Q" --mark-delivered a@discard.test "$id" 2>"$tmp/err"
is "$?:$(cat "$tmp/err")" "0:qedit: 1 changed (marked delivered)" "--mark-delivered a@discard.test: exit 0"
at=$(postcat -c "$C" -o -q "$id" 2>/dev/null | awk '$2 == "done_recipient:" && $3 == "a@discard.test" { print $1; exit }' | tr -d :)
is "$(cmp -l "$tmp/f0" "$f" | awk '{ print $1 - 1, $2, $3 }')" "$at 122 104" \
    "one byte changed, R to D, at the record's offset (postcat -o's)"
is "$(stat -c %Y "$f")" "$t0" "... the mtime kept"
postcat -c "$C" -q "$id" | grep -qx 'done_recipient: a@discard.test'; ok $? "postcat -q: done_recipient: a@discard.test"
is "$(rcpts_of "$id")" "b@discard.test c@remote.example" "postqueue -j no longer lists it"
"$B/qedit" --spool "$Q" --mark-delivered a@discard.test "$id" 2>"$tmp/err"
is "$?" 1 "marking it again: nothing to do, exit 1"
is "$("$B/qls" --spool "$Q" | grep -c 'a@discard.test')" 0 "qls does not list it either"
# release and deliver: b is discarded (delivered), c deferred, a never tried
"$B/qfreeze" --spool "$Q" -u "$id" 2>/dev/null
postqueue -c "$C" -i "$id"
settle 0
for _ in $(seq 50); do grep -q "$id: to=<c@remote.example>" "$LOG" && break; sleep 0.2; done
grep -q "$id: to=<b@discard.test>.*status=sent" "$LOG"; ok $? "maillog: b@discard.test delivered"
grep -q "$id: to=<c@remote.example>.*status=deferred" "$LOG"; ok $? "maillog: c@remote.example tried (deferred)"
grep -q "$id: to=<a@discard.test>" "$LOG"; [ $? -ne 0 ]; ok $? "maillog: a@discard.test never tried"
is "$(rcpts_of "$id")" "c@remote.example" "postqueue -j: only c left"

# ---------------------------------------------------------------- deferred, with its log
for i in 1 2 3; do msg bob@example.org "r$i@remote.example" "bob $i" | sm -f bob@example.org "r$i@remote.example" "s$i@remote.example"; done
settle 0
mapfile -t bob < <("$B/qgrep" --spool "$Q" -i -f '^<bob@')
is "${#bob[@]}" 3 "three deferred messages from bob"
"$B/qgrep" --spool "$Q" -f '^<bob@' -r '^r2@' -i | "$B/qedit" --spool "$Q" --mark-delivered r2@remote.example - 2>"$tmp/err"
is "$?:$(cat "$tmp/err")" "0:qedit: 1 changed (marked delivered)" "qgrep -r r2 -i | qedit --mark-delivered r2 -"
"$B/qedit" --spool "$Q" --mark-all-delivered -f '^<bob@' -r '^r1@' 2>"$tmp/err"
is "$?:$(cat "$tmp/err")" "0:qedit: 1 changed (all marked delivered)" "qedit --mark-all-delivered -r r1"
r2=$(postqueue -c "$C" -j | jq -r 'select(any(.recipients[]; .address == "s2@remote.example")) | .queue_id')
is "$(rcpts_of "$r2")" "r2@remote.example s2@remote.example" \
    "postqueue -j: r2 still listed, from the delay log of the last attempt (showq reads it)"
postqueue -c "$C" -p >"$tmp/pq"
"$B/qls" --spool "$Q" >"$tmp/qls"
is_same_file "$tmp/pq" "$tmp/qls" "qls = postqueue -p afterwards"
mark=$(wc -l <"$LOG")
postqueue -c "$C" -f
for _ in $(seq 50); do [ "$(tail -n +"$mark" "$LOG" | grep -c "to=<s[123]@remote.example>")" -ge 3 ] && break; sleep 0.2; done
settle 0
is "$(rcpts_of "$r2")" "s2@remote.example" "after the next attempt: r2 no longer listed"
tail -n +"$mark" "$LOG" | grep -q "to=<r2@remote.example>"; [ $? -ne 0 ]; ok $? "... and never tried"
tail -n +"$mark" "$LOG" | grep -q "to=<r1@remote.example>"; [ $? -ne 0 ]; ok $? "r1 (--mark-all-delivered) never tried ..."
is "$(postqueue -c "$C" -j | jq -r 'select(.sender == "bob@example.org") | .recipients[].address' | grep -c '^[rs]1@')" 0 \
    "... and its message is gone (every recipient done: the queue manager finished it)"
agrees "after qedit" "$since"

done_testing
