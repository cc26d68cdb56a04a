#!/bin/bash
# tests/t/12-postfix-lab.t -- the Postfix lab (tests/lab/postfix-*.sh): builds (or reuses) the
# two instances, then checks that the queues hold what the lab meant to put there, that the
# goldens are complete and still agree with Postfix's own tools, and that no daemon is left.
# Needs root (the lab runs the real Postfix); fails, never skips, if the lab cannot be built.
. "$(dirname "$0")/../lib.sh"
export LC_ALL=C
LAB=$QT_ROOT/tests/lab
PFX=$QT_LAB/postfix

run_ok "postfix-setup.sh prepares the binaries and instances" bash "$LAB/postfix-setup.sh"
for inst in short long; do
    run_ok "postfix-queue.sh $inst builds the queue and its goldens" bash "$LAB/postfix-queue.sh" "$inst"
done

# no Postfix daemon and no lab helper (tarpit, milter) may be left running
left=''
for p in /proc/[0-9]*; do
    exe=$(readlink "$p/exe" 2>/dev/null) || continue
    cmd=$(tr '\0' ' ' < "$p/cmdline" 2>/dev/null) || continue
    case $exe in "$PFX"/*) left="$left ${p#/proc/}:$exe";; esac
    case $cmd in *"$LAB/postfix-tools/"*) left="$left ${p#/proc/}:$cmd";; esac
done
is "$left" "" "no Postfix process or lab helper is left running"

for inst in short long; do
    G=$PFX/golden/$inst
    Q=$PFX/$inst/queue
    C=$PFX/$inst/conf
    [ -s "$G/COMMANDS" ] || bail_out "$inst: no goldens in $G (the lab could not be built)"

    # every queue holds mail, as planned (message files; deferred is hashed)
    for q in maildrop incoming active deferred hold; do
        n=$(find "$Q/$q" -type f | wc -l)
        [ "$n" -gt 0 ]; ok $? "$inst: $q/ holds mail ($n files)" || diag "$(cat "$G/INFO")"
    done
    n=$(find "$Q/bounce" "$Q/defer" -type f | wc -l)
    [ "$n" -gt 2 ]; ok $? "$inst: bounce/ and defer/ logs exist ($n)"
    n=$(find "$Q/corrupt" -type f | wc -l)
    is "$n" 0 "$inst: nothing in corrupt/"

    # goldens: every file listed exists, every command succeeded, T0 is a plausible epoch
    bad=$(while IFS=$'\t' read -r f rc args; do
              [ -e "$G/$f" ] || echo "missing $f"; [ "$rc" = 0 ] || echo "rc=$rc: $args"
          done < "$G/COMMANDS")
    is "$bad" "" "$inst: all goldens in COMMANDS exist, all exit codes 0"
    n=$(grep -c . "$G/ids")
    is "$(grep -c '^postcat/' "$G/COMMANDS")" "$((4 * n))" "$inst: postcat -q/-e/-h/-b for each of the $n messages"
    t0=$(cat "$G/T0")
    [[ $t0 =~ ^[0-9]{10}$ ]] && [ "$t0" -le "$(date +%s)" ]; ok $? "$inst: T0 ($t0) is an epoch in the past"
    for g in postqueue-p.txt postqueue-j.jsonl qshape-deferred.txt qshape-hold.txt \
             qshape-active-incoming.txt qshape-s-deferred.txt qshape-p-deferred.txt \
             qshape-b5-t10-deferred.txt qshape-l-deferred.txt qshape-p-m5-deferred.txt; do
        grep -q "^$g	" "$G/COMMANDS"; ok $? "$inst: golden $g listed"
    done

    # what postqueue -j says about the queues
    J=$G/postqueue-j.jsonl
    for q in maildrop incoming active deferred hold; do
        n=$(grep -c "\"queue_name\": \"$q\"" "$J")
        [ "$n" -gt 0 ]; ok $? "$inst: postqueue -j lists $n message(s) in $q"
    done
    n=$(grep -c '"forced_expire": true' "$J")
    [ "$n" -ge 2 ]; ok $? "$inst: forced expiry (postsuper -f) on $n messages"
    n=$(grep -l '^Subject: Undelivered Mail Returned to Sender' "$G"/postcat/*.h.txt | wc -l)
    [ "$n" -ge 3 ]; ok $? "$inst: $n real bounces (sender <>) in the queue"
    n=$(grep -l '^done_recipient:' "$G"/postcat/*.e.txt | wc -l)
    [ "$n" -ge 2 ]; ok $? "$inst: $n messages with done recipients"
    n=$(grep -l '^canceled_recipient:' "$G"/postcat/*.e.txt | wc -l)
    [ "$n" -ge 1 ]; ok $? "$inst: milter-edited messages with canceled recipients ($n)"
    grep -q 'X-Lab-Milter-Top:' "$G"/postcat/*.h.txt; ok $? "$inst: milter-inserted headers"
    grep -q '^\*\*\* HEADER EXTRACTED' "$G"/postcat/*.e.txt &&
        grep -A1 '^\*\*\* HEADER EXTRACTED' "$G"/postcat/*.e.txt | grep -q 'recipient:'
    ok $? "$inst: recipients after the body (sendmail -t)"
    grep -q '"sender": "用户@例子.example"' "$J"; ok $? "$inst: an SMTPUTF8 sender"
    grep -q '^named_attribute: envelope_id=' "$G"/postcat/*.e.txt; ok $? "$inst: DSN envelope ids"

    # queue ids have the configured form
    if [ "$inst" = long ]; then re='^[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z]{10,}z[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-y]+$'
    else re='^[0-9A-F]{6,}$'; fi
    bad=$(grep -Ev "$re" "$G/ids")
    is "$bad" "" "$inst: all queue ids are ${inst} ids"

    # the queue did not change since the capture: Postfix's tools still print the goldens
    export PATH=$PFX/pkg/usr/sbin:$PATH TZ=UTC LC_ALL=C PERL_HASH_SEED=0 PERL_PERTURB_KEYS=0
    is_same_file "$G/postqueue-p.txt" <(postqueue -c "$C" -p 2>/dev/null) "$inst: postqueue -p reproduces its golden"
    is_same_file "$G/postqueue-j.jsonl" <(postqueue -c "$C" -j 2>/dev/null) "$inst: postqueue -j reproduces its golden"
    lib=$(bash "$LAB/postfix-setup.sh" env "$inst" | sed -n 's/^PFX_FAKETIME_LIB=//p')
    is_same_file "$G/qshape-deferred.txt" \
        <(QT_T0=$t0 QT_FAKETIME_LIB=$lib qt_faketime qshape -c "$C" deferred 2>&1) \
        "$inst: qshape deferred at T0 reproduces its golden"

    bad=$(grep -E 'fatal:|panic:' "$G/maillog")
    is "$bad" "" "$inst: no fatal/panic in the maillog"
done

done_testing
