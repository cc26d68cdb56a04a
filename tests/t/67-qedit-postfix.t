#!/bin/bash
# tests/t/67-qedit-postfix.t -- qedit on the queue of a real Postfix 3.7 that runs, with
# Postfix as the judge: --mark-delivered overwrites the recipient record's type byte with D,
# as the queue manager marks a finished recipient, and drops its entries from the message's
# delay log (defer/, from which showq lists recipients with their reasons); postcat -q then
# shows the record done, postqueue -p and -j no longer list the recipient at once (the others
# with their reasons), and a delivery run tries only the others; a delay log bounce(8) holds
# is a message skipped, nothing changed; corrupt/ stays empty and Postfix logs no warning. --add-recipient and --set-sender are
# refused with one line that says how to get the effect, nothing changed. A fresh instance
# of our own ("qedit", ports 29490-29495); the helpers are 57-postfix-act.t's.
. "$(dirname "$0")/../lib.sh"
. "$QT_ROOT/tests/act-postfix.sh"

new_instance qedit 29490 no
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
# Each message's delay log (defer/) names both recipients: showq lists them from it, with
# their reasons, whatever the records say. Marking one delivered drops its entry there too.
for i in 1 2 3; do msg bob@example.org "r$i@remote.example" "bob $i" | sm -f bob@example.org "r$i@remote.example" "s$i@remote.example"; done
settle 0
mapfile -t bob < <("$B/qgrep" --spool "$Q" -i -f '^<bob@')
is "${#bob[@]}" 3 "three deferred messages from bob"
id_of() { postqueue -c "$C" -j | jq -r --arg a "$1" 'select(any(.recipients[]; .address == $a)) | .queue_id'; }
reason_of() { postqueue -c "$C" -j | jq -r --arg id "$1" --arg a "$2" 'select(.queue_id == $id) | .recipients[] | select(.address == $a) | .delay_reason'; }
log_of() { find "$Q/defer" -type f -name "$1"; }
r1=$(id_of s1@remote.example) r2=$(id_of s2@remote.example)
log1=$(log_of "$r1") log2=$(log_of "$r2")
is "$(grep -c '^recipient=[rs]2@remote.example$' "$log2" 2>/dev/null)" 2 "the delay log of r2's message names r2 and s2"
cp "$log2" "$tmp/log2"
reason=$(reason_of "$r2" s2@remote.example)
[ -n "$reason" ]; ok $? "postqueue -j: s2 listed with a delay reason ($reason)"
# the queue and the delay logs, byte for byte
snapb() { snap; (cd "$Q" && find defer -type f -exec md5sum {} + | sort); }
snapb >"$tmp/s1"
"$B/qedit" --spool "$Q" --mark-delivered nobody@remote.example "$r2" 2>/dev/null
is "$?" 2 "a non-recipient of a deferred message: exit 2"
"$B/qedit" --spool "$Q" -n --mark-delivered r2@remote.example "$r2" >"$tmp/out" 2>"$tmp/err"
is "$?:$(cat "$tmp/out")" "0:would mark delivered in $r2" "-n: exit 0, would mark it"
# bounce(8) appends to a delay log under an exclusive flock(): one held means the message is
# being worked on (a shared one is as much in our way)
rm -f "$tmp/locked"
holdlock flock "$log2" &
holder=$!
helpers+=("$holder")
for _ in $(seq 50); do [ -e "$tmp/locked" ] && break; sleep 0.1; done
"$B/qedit" --spool "$Q" --mark-delivered r2@remote.example "$r2" 2>"$tmp/err"
is "$?" 2 "its delay log locked: exit 2 ..."
grep -q 'delay log .* is being written' "$tmp/err"; ok $? "... skipped, saying why" || diag "$(cat "$tmp/err")"
kill "$holder"; wait "$holder" 2>/dev/null
is "$(snapb)" "$(cat "$tmp/s1")" "... the queue and its delay logs byte for byte as they were"

"$B/qgrep" --spool "$Q" -f '^<bob@' -r '^r2@' -i | "$B/qedit" --spool "$Q" --mark-delivered r2@remote.example - 2>"$tmp/err"
is "$?:$(cat "$tmp/err")" "0:qedit: 1 changed (marked delivered)" "qgrep -r r2 -i | qedit --mark-delivered r2 -"
is "$(rcpts_of "$r2")" "s2@remote.example" "postqueue -j no longer lists r2, at once"
is "$(postqueue -c "$C" -p | grep -c 'r2@remote.example')" 0 "postqueue -p neither"
is "$(reason_of "$r2" s2@remote.example)" "$reason" "s2 still listed with its delay reason"
postcat -c "$C" -q "$r2" | grep -qx 'done_recipient: r2@remote.example'; ok $? "postcat -q: done_recipient: r2@remote.example"
# what bounce(8) would have written had it never appended r2's entry: the blank line before
# it, its lines, the blank line after it gone; every other byte as it was
perl -0777 -pe 's/\n(?:<r2\@remote\.example>: [^\n]*\n)?recipient=r2\@remote\.example\n(?:[^\n]+\n)*\n//' "$tmp/log2" >"$tmp/log2.want"
is_same_file "$tmp/log2.want" "$log2" "its delay log: r2's entry gone, the rest byte for byte"
is "$(stat -c %i "$log2")" "$(awk -v f="${log2#"$Q"/}" '$1 == f { print $2 }' "$tmp/s1")" "... rewritten in place (same inode)"

"$B/qedit" --spool "$Q" --mark-all-delivered -f '^<bob@' -r '^r1@' 2>"$tmp/err"
is "$?:$(cat "$tmp/err")" "0:qedit: 1 changed (all marked delivered)" "qedit --mark-all-delivered -r r1"
is "$(stat -c %s "$log1")" 0 "its delay log is left empty"
is "$(rcpts_of "$r1")" "" "postqueue -j: the message listed without recipients (every record done, no log entry)"
postqueue -c "$C" -p >"$tmp/pq"
"$B/qls" --spool "$Q" >"$tmp/qls"
is_same_file "$tmp/pq" "$tmp/qls" "qls = postqueue -p afterwards"
postqueue -c "$C" -j | jq -c 'del(.arrival_time)' | sort >"$tmp/pj"
"$B/qls" --spool "$Q" --json | jq -c 'select(.queue_id) | {queue_name, queue_id, message_size, forced_expire, sender, recipients}' | sort >"$tmp/qj"
is_same_file "$tmp/pj" "$tmp/qj" "qls --json lists what postqueue -j lists"
mark=$(wc -l <"$LOG")
postqueue -c "$C" -f
for _ in $(seq 50); do [ "$(tail -n +"$mark" "$LOG" | grep -c "to=<s[23]@remote.example>")" -ge 2 ] && break; sleep 0.2; done
settle 0
tail -n +"$mark" "$LOG" | grep -q "$r2: to=<s2@remote.example>"; ok $? "a flush tries s2 ..."
tail -n +"$mark" "$LOG" | grep -q "to=<r2@remote.example>"; [ $? -ne 0 ]; ok $? "... and never r2"
tail -n +"$mark" "$LOG" | grep -q "$r1: to="; [ $? -ne 0 ]; ok $? "r1's message (--mark-all-delivered): nothing tried ..."
tail -n +"$mark" "$LOG" | grep -q "$r1: removed"; ok $? "... the queue manager removed it"
is "$(postqueue -c "$C" -j | jq -r 'select(.sender == "bob@example.org") | .recipients[].address' | grep -c '^[rs]1@')" 0 \
    "... and postqueue no longer lists it"
is "$(rcpts_of "$r2")" "s2@remote.example" "after the next attempt: s2 alone listed"
agrees "after qedit" "$since"

# ---------------------------------------------------------------- a log entry we cannot read
# Hostile input, not something Postfix writes: an attribute bounce(8) never writes in s3's
# entry, and an entry for r3 cut short (no blank line after it). With Postfix stopped (its
# showq would warn about the unknown attribute), --mark-all-delivered drops r3's complete
# entry and keeps those two byte for byte: never drop what we cannot tell.
r3=$(id_of s3@remote.example) log3=$(log_of "$r3")
bash "$SETUP" stop qedit >/dev/null 2>&1
perl -0777 -i -pe 's/(recipient=s3\@remote\.example\n)/${1}x_qtools_unknown=1\n/' "$log3"
printf '\nrecipient=r3@remote.example\noffset=1\n' >>"$log3"
grep -q '^x_qtools_unknown=1$' "$log3"; ok $? "s3's entry has an attribute bounce(8) never writes"
cp "$log3" "$tmp/log3"
"$B/qedit" --spool "$Q" --mark-all-delivered "$r3" 2>"$tmp/err"
is "$?:$(cat "$tmp/err")" "0:qedit: 1 changed (all marked delivered)" "Postfix stopped: --mark-all-delivered"
perl -0777 -pe 's/\n(?:<r3\@remote\.example>: [^\n]*\n)?recipient=r3\@remote\.example\n(?:[^\n]+\n)*\n//' "$tmp/log3" >"$tmp/log3.want"
cmp -s "$tmp/log3" "$tmp/log3.want"; [ $? -ne 0 ]; ok $? "(the expected log lacks r3's complete entry)"
is_same_file "$tmp/log3.want" "$log3" "r3's complete entry gone; s3's and the unfinished one kept byte for byte"
is "$("$B/qls" --spool "$Q" --json | jq -r --arg id "$r3" 'select(.queue_id == $id) | .recipients[].address')" \
    "s3@remote.example" "qls: s3 still listed, from the entry that was kept"

done_testing
