#!/bin/bash
# tests/t/41-postfix-reasons.t -- qsumm --by reason and qgrep --reason on the queues the real
# Postfix 3.7 wrote (short and long queue IDs), against jq computations over the lab's
# postqueue -j of the same queue: a message counts once per distinct delay_reason of its
# recipients (none: ""), and --reason selects a message one of whose recipients has a
# matching delay_reason.
. "$(dirname "$0")/../lib.sh"
export LC_ALL=C TZ=UTC
PFX=$QT_LAB/postfix
T=$QT_BIN

qt_labs postfix short long
command -v jq >/dev/null || bail_out "jq is needed (scripts/install-deps)"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
TAB=$(printf '\t')

for inst in short long; do
    G=$PFX/golden/$inst Q=$PFX/$inst/queue W=$tmp/$inst
    mkdir -p "$W"
    [ -s "$G/postqueue-j.jsonl" ] || bail_out "$inst: no postqueue -j golden"

    # ---- qsumm --by reason
    jq -r '[.recipients[] | .delay_reason // ""] | unique | .[]' "$G/postqueue-j.jsonl" |
        sort | uniq -c | awk '{ n = $1; sub(/^ *[0-9]+ /, ""); print n "\t" $0 }' |
        sort -t "$TAB" -k2 >"$W/want"
    "$T/qsumm" --spool "$Q" --by reason --json >"$W/json"
    ok $? "$inst: qsumm --by reason --json"
    jq -r 'select(.type == "group") | "\(.count)\t\(.reason)"' "$W/json" |
        sort -t "$TAB" -k2 >"$W/got"
    [ "$(grep -c . "$W/want")" -ge 3 ]; ok $? "$inst: postqueue -j has several reasons ($(grep -c . "$W/want"))"
    is_same_file "$W/want" "$W/got" "$inst: qsumm --by reason = postqueue -j's reasons, counted by jq"
    "$T/qsumm" --spool "$Q" --by reason >"$W/table"
    awk '/^-----  ------/ { on = 1; next } /^-------------------/ { on = 0 }
        on && NF { r = substr($0, 32); print $1 "\t" (r == "-" ? "" : r) }' "$W/table" |
        sort -t "$TAB" -k2 >"$W/got-table"
    is_same_file "$W/want" "$W/got-table" "$inst: ... and so does its table"

    # ---- qgrep --reason
    for re in 'Connection refused' 'mailbox busy' '^delivery temporarily' 'no such reason'; do
        jq -r --arg re "$re" 'select(any(.recipients[]; .delay_reason != null and
            (.delay_reason | test($re; "i")))) | .queue_id' "$G/postqueue-j.jsonl" | sort >"$W/want"
        "$T/qgrep" --spool "$Q" --reason "$re" -i | sort >"$W/got"
        is_same_file "$W/want" "$W/got" "$inst: qgrep --reason '$re' = jq over postqueue -j ($(grep -c . "$W/want") messages)"
        jq -r --arg re "$re" 'select(any(.recipients[]; .delay_reason != null and
            (.delay_reason | test($re; "i"))) | not) | .queue_id' "$G/postqueue-j.jsonl" | sort >"$W/want"
        "$T/qgrep" --spool "$Q" --reason "$re" -v -i | sort >"$W/got"
        is_same_file "$W/want" "$W/got" "$inst: qgrep -v --reason '$re' is the rest"
    done
    # ---- qcat --log: the defer log's entries, their recipients and reasons as showq lists them
    bad= nlog=0
    for id in $(jq -r 'select(any(.recipients[]; .delay_reason != null)) | .queue_id' "$G/postqueue-j.jsonl"); do
        nlog=$((nlog + 1))
        jq -r --arg id "$id" 'select(.queue_id == $id) | .recipients[] | select(.delay_reason != null) |
            "\(.address)\t\(.delay_reason)"' "$G/postqueue-j.jsonl" | sort >"$W/want"
        "$T/qcat" --spool "$Q" --log "$id" | sed -n 's/^defer: recipient=\([^ ]*\) status=[^ ]* reason=/\1\t/p' |
            sort >"$W/got"
        cmp -s "$W/want" "$W/got" || bad="$bad $id"
    done
    is "$bad" "" "$inst: qcat --log gives each logged recipient's reason as postqueue -j does ($nlog messages)"
    # (a message without a reason may still have a bounce log: 42-postfix-bounce-log.t's)
    id=$(jq -r 'select(all(.recipients[]; .delay_reason == null)) | .queue_id' "$G/postqueue-j.jsonl" |
        while read -r i; do [ -z "$(find "$Q/bounce" -name "$i")" ] && { echo "$i"; break; }; done)
    "$T/qcat" --spool "$Q" --log "$id" >"$W/out" 2>"$W/err"
    is "$?:$(grep -c . "$W/err"):$(grep -c . "$W/out")" "2:1:0" "$inst: qcat --log of a message without a defer or bounce log: one line, exit 2"
    n=$(jq -r 'select(any(.recipients[]; .delay_reason != null)) | .queue_id' "$G/postqueue-j.jsonl" | grep -c .)
    [ "$n" -gt 5 ]; ok $? "$inst: messages with a reason to select ($n)"
done

# ---- bad input
Q=$PFX/short/queue
"$T/qgrep" --spool "$Q" --reason '(' >"$tmp/out" 2>"$tmp/err"
is "$?:$(grep -c . "$tmp/err"):$(grep -c . "$tmp/out")" "2:1:0" "qgrep --reason with a bad regex: one line, exit 2"
grep -q -- '--reason' "$tmp/err"; ok $? "... naming --reason" || diag "$(cat "$tmp/err")"

# ---- qmail keeps no reasons: --reason selects nothing, --by reason has only "none"
mkdir -p "$tmp/qmail" && tar -C "$tmp/qmail" -xzf "$QT_ROOT/tests/fixtures/qmail/state-a.tar.gz" ||
    bail_out "cannot extract qmail state a"
QM=$(dirname "$(find "$tmp/qmail" -type d -name todo | head -1)")
n=$("$T/qls" --spool "$QM" --mta qmail -c)
[ "$n" -gt 0 ]; ok $? "qmail: a queue with messages ($n)"
"$T/qgrep" --spool "$QM" --mta qmail --reason . -c >"$tmp/out" 2>&1
is "$(cat "$tmp/out")" "0 matches out of $n messages" "qmail: --reason selects nothing (no reasons in its queue)"
"$T/qls" --spool "$QM" --mta qmail -i | head -2 | "$T/qcat" --spool "$QM" --mta qmail --log - >"$tmp/out" 2>"$tmp/err"
is "$?:$(cat "$tmp/err"):$(grep -c . "$tmp/out")" "2:qcat: qmail keeps no per-message log:0" "qmail: qcat --log says it keeps none, once, exit 2"
"$T/qsumm" --spool "$QM" --mta qmail --by reason --json | jq -r 'select(.type == "group") | .reason' >"$tmp/out"
is "$(sort -u "$tmp/out" | tr '\n' ,)" "," "qmail: --by reason: every message under no reason"

done_testing
