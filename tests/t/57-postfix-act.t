#!/bin/bash
# tests/t/57-postfix-act.t -- qrm, qfreeze and qrun on the queues of a real Postfix 3.7 that
# runs (tests/lab/postfix-setup.sh), with Postfix as the judge afterwards: postqueue -j lists
# exactly the messages expected, in the queues expected; postcat -q finds every one of them;
# corrupt/ stays empty; no log without its message; Postfix logs no warning. Two fresh
# instances of our own (never the lab's short and long, which 40-postfix.t reads): short
# queue IDs (whose inodes are reused) and long ones. On each: the tools one by one, then a
# trial of 500+ mixed freeze/thaw/remove operations by concurrent qtools processes while
# Postfix keeps moving the same files between incoming, active and deferred (a tarpit, a
# closed port, a retry transport, one-second queue runs, postqueue -f, new mail arriving):
# nothing lost, nothing changed, no orphan, nothing corrupt. Needs root; fails, never skips,
# when the lab cannot be built.
. "$(dirname "$0")/../lib.sh"
TRIAL_OPS=${QT_TRIAL_OPS:-600}		# per instance, in at least this many per-message attempts

. "$QT_ROOT/tests/act-postfix.sh"

# ================================================================ the tools one by one
functional() {  # functional NAME
    local n=$1 since id q bad r a f i
    since=$(wc -l <"$LOG")
    for i in 1 2 3 4; do msg alice@example.org "r$i@remote.example" "alice $i" | sm -f alice@example.org "r$i@remote.example"; done
    for i in 1 2 3; do msg bob@example.org "s$i@remote.example" "bob $i" | sm -f bob@example.org "s$i@remote.example" "t$i@tempfail.test"; done
    for i in 1 2 3; do msg carol@example.org u@remote.example "carol $i" |
        perl "$TOOLS/smtp-send.pl" "$PFX_SMTPD_PORT" carol@example.org 'RET=HDRS' "u$i@remote.example" v@tempfail.test >/dev/null; done
    for i in 1 2; do msg dave@example.org w@remote.example "dave $i" "X-Lab-Hold: yes" | sm -f dave@example.org w@remote.example; done
    for i in 1 2; do msg erin@example.org "x$i@tarpit.test" "erin $i" | sm -f erin@example.org "x$i@tarpit.test"; done
    for i in 1 2; do msg frank@example.org y@remote.example "frank $i" | sm -f frank@example.org y@remote.example; done
    settle 2 || bail_out "$n: the queue did not settle"
    is "$(pj | awk '{ c[$2]++ } END { for (q in c) print c[q], q }' | sort -k2 | paste -sd,)" "2 active,12 deferred,2 hold" \
        "$n: 16 real submissions: 2 in active (tarpit), 12 deferred, 2 on hold (header_checks)"
    pj >"$tmp/pj.before"
    mapfile -t alice < <(ids_of -f '^<alice@'); mapfile -t bob < <(ids_of -f '^<bob@')
    mapfile -t carol < <(ids_of -f '^<carol@'); mapfile -t dave < <(ids_of -f '^<dave@')
    mapfile -t erin < <(ids_of -f '^<erin@'); mapfile -t frank < <(ids_of -f '^<frank@')

    # --- hold by selector
    "$B/qfreeze" --spool "$Q" -i -f '^<alice@' >"$tmp/out" 2>"$tmp/err"
    is "$?" 0 "$n: qfreeze -f '^<alice@': exit 0"
    is "$(sort "$tmp/out")" "$(printf '%s\n' "${alice[@]}")" "$n: qfreeze -i printed the 4 IDs it put on hold"
    is "$(cat "$tmp/err")" "qfreeze: 4 frozen" "$n: qfreeze: '4 frozen' on stderr, nothing else"
    is "$(pj)" "$(awk -v l="${alice[*]}" 'BEGIN { n = split(l, a, " "); for (i = 1; i <= n; i++) h[a[i]] = 1 }
        { print $1, ($1 in h) ? "hold" : $2 }' "$tmp/pj.before")" "$n: postqueue -j: exactly those are on hold now"
    bad=''
    for id in "${alice[@]}"; do [ -f "$Q/hold/$id" ] || bad="$bad $id"; done
    is "$bad" "" "$n: each at hold/ID (hold is not hashed), as postsuper -h puts it"
    "$B/qfreeze" --spool "$Q" -f '^<dave@' 2>"$tmp/err"
    is "$?:$(tail -1 "$tmp/err"):$(grep -c ': already on hold: left alone$' "$tmp/err")" "1:qfreeze: 0 frozen, 2 already so:2" \
        "$n: qfreeze of messages held by header_checks: already so, each said, exit 1"

    # --- release by piped IDs
    "$B/qgrep" --spool "$Q" -f '^<alice@' -i | "$B/qfreeze" --spool "$Q" -u - 2>"$tmp/err"
    is "$?:$(cat "$tmp/err")" "0:qfreeze: 4 thawed" "$n: qgrep -f alice -i | qfreeze -u -: 4 released"
    bad=''
    for id in "${alice[@]}"; do
        q=$(queue_of "$id"); [ "$q" = deferred ] || bad="$bad $id:$q"
        postcat -c "$C" -q "$id" | head -1 | grep -q "^\*\*\* ENVELOPE RECORDS deferred/[0-9A-F]/$id \*\*\*\$" || bad="$bad $id:postcat"
    done
    is "$bad" "" "$n: released into deferred/X/ID (hashed as Postfix hashes it): postqueue and postcat find them there"
    rmdir "$Q"/deferred/? 2>/dev/null        # the empty hash directories: made again as needed
    "$B/qfreeze" --spool "$Q" -u "${dave[@]}" 2>"$tmp/err"
    is "$?:$(cat "$tmp/err")" "0:qfreeze: 2 thawed" "$n: qfreeze -u of the header_checks holds"
    is "$(for id in "${dave[@]}"; do stat -c '%U:%G %a' "$(dirname "$(find "$Q/deferred" -name "$id")")"; done | sort -u)" \
        "postfix:postfix 700" "$n: ... into hash directories as Postfix makes them: postfix:postfix, 0700"
    is "$(queue_of "${dave[0]}") $(queue_of "${dave[1]}")" "deferred deferred" "$n: ... postqueue -j: both deferred"
    "$B/qfreeze" --spool "$Q" -u "${dave[0]}" 2>"$tmp/err"
    is "$?:$(cat "$tmp/err")" "1:qfreeze: ${dave[0]}: not on hold: left alone
qfreeze: 0 thawed, 1 already so" "$n: qfreeze -u of a message not on hold: already so"

    # --- a message being delivered (to the tarpit: in active/, a delivery agent holds its lock)
    snap >"$tmp/snap"
    "$B/qfreeze" --spool "$Q" "${erin[0]}" 2>"$tmp/err"
    r=$?
    is "$r:$(tail -1 "$tmp/err")" "2:qfreeze: 0 frozen, 1 locked (being delivered) and skipped" \
        "$n: qfreeze of a message in active/ while Postfix runs: skipped, exit 2"
    grep -q "^qfreeze: ${erin[0]}: in active/" "$tmp/err"; ok $? "$n: ... saying so, by ID"
    "$B/qrm" --spool "$Q" --active 2>"$tmp/err"
    is "$?:$(tail -1 "$tmp/err")" "2:qrm: 0 removed, 2 locked (being delivered) and skipped" "$n: qrm --active: both skipped"
    is_same_file "$tmp/snap" <(snap) "$n: ... and no file changed"

    # --- someone else's lock on a deferred file: a flock() is Postfix's (a delivery agent's
    # shared one), an OFD lock another qtools process's
    f=$(find "$Q/deferred" -name "${frank[0]}")
    holdlock flock "$f" & a=$!
    for i in $(seq 50); do [ -e "$tmp/locked" ] && break; sleep 0.1; done
    "$B/qfreeze" --spool "$Q" "${frank[0]}" 2>"$tmp/err"
    is "$?:$(head -1 "$tmp/err")" "2:qfreeze: ${frank[0]}: being delivered (a Postfix process holds the lock on ${f#"$Q"/}): skipped" \
        "$n: a file someone holds a flock() on (as a delivery agent does): skipped"
    kill "$a"; wait "$a" 2>/dev/null; rm -f "$tmp/locked"
    holdlock ofd "$f" & a=$!
    for i in $(seq 50); do [ -e "$tmp/locked" ] && break; sleep 0.1; done
    "$B/qfreeze" --spool "$Q" "${frank[0]}" 2>"$tmp/err"
    is "$?:$(head -1 "$tmp/err")" "2:qfreeze: ${frank[0]}: another program acts on it (it holds our lock): skipped" \
        "$n: a file another qtools process is acting on: skipped"
    kill "$a"; wait "$a" 2>/dev/null; rm -f "$tmp/locked"
    is_same_file "$tmp/snap" <(snap) "$n: ... and nothing changed"

    # --- dry run, hostile IDs
    # (an honest dry run: what is in active/ while Postfix runs would be skipped, exit 2)
    "$B/qrm" --spool "$Q" -n ALL >"$tmp/out" 2>"$tmp/err"; rc=$?
    nactive=$(pj | awk '$2 == "active"' | wc -l)
    [ "$nactive" -gt 0 ]; ok $? "$n: some messages are in active/ for the dry run ($nactive)"
    is "$rc:$(sed -n 's/^would remove //p' "$tmp/out" | sort | tr '\n' ' '):$(grep -c ': in active/' "$tmp/err")" \
        "2:$(pj | awk '$2 != "active" { print $1 }' | tr '\n' ' '):$nactive" \
        "$n: qrm -n ALL names every message postqueue lists but those in active/, which it says it would skip"
    grep -q "^qrm: [0-9]* would be removed, $nactive locked (being delivered) and skipped\$" "$tmp/err"
    ok $? "$n: ... and counts them as the real run would"
    for a in '../x' '/etc/passwd' '..' 'ABC' 'ABCDEF.123' 'a/../../b' "${alice[0]}/x"; do
        "$B/qrm" --spool "$Q" -- "$a" 2>"$tmp/err"
        is "$?:$(head -1 "$tmp/err")" "2:qrm: $a: not a valid postfix queue ID" "$n: qrm $(printf %q "$a"): refused by name"
    done
    printf '%s\n../x\n' "${frank[0]}" | "$B/qrm" --spool "$Q" - 2>/dev/null
    is "$?" 2 "$n: a malformed ID among good ones on stdin: exit 2 ..."
    "$B/qrm" --spool "$Q" 0000012345 2>"$tmp/err"
    is "$?:$(head -1 "$tmp/err")" "2:qrm: 0000012345: no such message" "$n: a well-formed ID that is not there: no such message"
    is_same_file "$tmp/snap" <(snap) "$n: dry run and refused IDs changed no file"

    # --- remove by selector, with --save
    for id in "${bob[@]}"; do "$B/qcat" --spool "$Q" "$id" >"$tmp/$id.qcat"; done
    [ "$(find "$Q/defer" -type f -name "${bob[0]}" | wc -l)" = 1 ]; ok $? "$n: bob's messages have defer logs"
    "$B/qrm" --spool "$Q" -i -f '^<bob@' --save "$tmp/save-$n" >"$tmp/out" 2>"$tmp/err"
    is "$?:$(cat "$tmp/err")" "0:qrm: 3 removed" "$n: qrm -f '^<bob@' --save DIR: 3 removed"
    is "$(sort "$tmp/out")" "$(printf '%s\n' "${bob[@]}")" "$n: qrm -i printed their IDs"
    bad=''
    for id in "${bob[@]}"; do
        [ -z "$(queue_of "$id")" ] || bad="$bad $id:listed"
        postcat -c "$C" -q "$id" 2>&1 | grep -q 'No such file or directory' || bad="$bad $id:postcat"
        [ -z "$(find "$Q" -name "$id")" ] || bad="$bad $id:$(cd "$Q" && find . -name "$id" | tr '\n' ' ')"
    done
    is "$bad" "" "$n: postqueue and postcat no longer know them, and no file of theirs is left (defer/ logs too)"
    is "$("$B/qls" --spool "$tmp/save-$n" -i | sort)" "$(printf '%s\n' "${bob[@]}")" "$n: --save: qls --spool DIR lists exactly them"
    bad=''
    for id in "${bob[@]}"; do "$B/qcat" --spool "$tmp/save-$n" "$id" | cmp -s - "$tmp/$id.qcat" || bad="$bad $id"; done
    is "$bad" "" "$n: --save: qcat --spool DIR ID shows each as it was in the queue"
    "$B/qls" --spool "$tmp/save-$n" >"$tmp/out"
    grep -q 'Connection refused)$' "$tmp/out"; ok $? "$n: --save kept the delay logs (qls shows the reasons)"

    # --- remove by piped IDs
    "$B/qgrep" --spool "$Q" -f '^<carol@' -i | "$B/qrm" --spool "$Q" - 2>"$tmp/err"
    is "$?:$(cat "$tmp/err")" "0:qrm: 3 removed" "$n: qgrep -f carol -i | qrm -: 3 removed"
    is "$(pj | awk '{ print $1 }')" "$(awk '{ print $1 }' "$tmp/pj.before" | grep -vxF -f <(printf '%s\n' "${bob[@]}" "${carol[@]}"))" \
        "$n: postqueue -j lists every other message still"

    # --- a selection re-checked under the lock
    "$B/qrm" --spool "$Q" -f '^<nobody@' "${frank[0]}" 2>"$tmp/err"
    is "$?" 1 "$n: qrm -f X ID where ID does not match X: nothing removed, exit 1"
    [ -n "$(queue_of "${frank[0]}")" ]; ok $? "$n: ... it is still there"

    # --- qrun
    "$B/qrun" --spool "$Q" -n "${frank[@]}" >"$tmp/out"
    is "$(cat "$tmp/out")" "$(printf 'postqueue -c %s -i %s\n' "$C" "${frank[0]}" "$C" "${frank[1]}")" \
        "$n: qrun -n: one postqueue -c CONF -i ID a message"
    "$B/qrun" --spool "$Q" -n ALL >"$tmp/out"
    is "$(cat "$tmp/out")" "postqueue -c $C -f" "$n: qrun -n ALL: postqueue -c CONF -f"
    # qrun runs postqueue as mail_owner, as it acts (cmd/cli.c). postqueue is set-gid: from a
    # user other than root it takes a configuration other than the default only when the
    # default main.cf lists it (alternate_config_directories, multi_instance_directories),
    # which the lab, installing nothing system-wide, cannot arrange. Then postqueue's refusal is
    # what qrun must pass on, and the command qrun -n printed is run here as root instead.
    refused() {  # refused RC NAME: qrun's exit and stderr when postqueue refused the configuration
        [ "$1" = 2 ] && grep -q 'main\.cf\|unauthorized configuration directory' "$tmp/err"
        ok $? "$2: postqueue, run as mail_owner, refuses the lab's unlisted configuration; qrun says so, exit 2" ||
            diag "$(cat "$tmp/err")"
    }
    a=$(grep -c "${frank[0]}: to=" "$LOG")
    "$B/qrun" --spool "$Q" "${frank[0]}" 2>"$tmp/err"
    r=$?
    if [ "$r" = 0 ]; then
        is "$(cat "$tmp/err")" "" "$n: qrun ID runs postqueue -i ID"
    else
        refused "$r" "$n: qrun ID"
        postqueue -c "$C" -i "${frank[0]}"
    fi
    for i in $(seq 50); do [ "$(grep -c "${frank[0]}: to=" "$LOG")" -gt "$a" ] && break; sleep 0.2; done
    [ "$(grep -c "${frank[0]}: to=" "$LOG")" -gt "$a" ]; ok $? "$n: ... and Postfix tried that message again at once"
    "$B/qrun" --spool "$Q" ALL 2>"$tmp/err"
    r=$?
    if [ "$r" = 0 ]; then is "$(cat "$tmp/err")" "" "$n: qrun ALL runs postqueue -f"; else refused "$r" "$n: qrun ALL"; fi
    env -u MAIL_CONFIG "$B/qrun" --spool "$Q" ALL 2>"$tmp/err"
    is "$?" 2 "$n: qrun without this queue's configuration: refused ..."
    grep -q 'set MAIL_CONFIG' "$tmp/err"; ok $? "$n: ... saying to set MAIL_CONFIG (postqueue would flush another queue)"
    settle 2 || bail_out "$n: the queue did not settle after qrun"

    # --- a copy of the queue: the files are not the inodes their names say
    mkdir "$tmp/copy-$n" && cp -a "$Q"/{maildrop,incoming,active,deferred,hold,corrupt,defer,bounce,trace} "$tmp/copy-$n"
    "$B/qrm" --spool "$tmp/copy-$n" "${frank[1]}" 2>"$tmp/err"
    r=$?
    if [ "$PFX_LONG_IDS" = no ]; then
        is "$r" 2 "$n: qrm on a copied queue: a short ID that is not its file's inode is refused ..."
        grep -q "^qrm: ${frank[1]}: deferred/./${frank[1]} is inode [0-9]*, not the" "$tmp/err"; ok $? "$n: ... saying why"
        [ -e "$(find "$tmp/copy-$n/deferred" -name "${frank[1]}")" ]; ok $? "$n: ... and left alone"
    else
        is "$r:$(cat "$tmp/err")" "0:qrm: 1 removed" "$n: qrm on a copied queue: long IDs do not depend on the inode"
    fi

    agrees "$n: with Postfix running" "$since"

    # --- Postfix stopped: active/ belongs to nobody, postsuper would act on it too
    bash "$SETUP" stop "$PFX_INST"
    "$B/qfreeze" --spool "$Q" -i "${erin[0]}" >"$tmp/out" 2>"$tmp/err"
    is "$?:$(cat "$tmp/out")" "0:${erin[0]}" "$n: Postfix stopped: qfreeze of a message left in active/"
    [ -f "$Q/hold/${erin[0]}" ] && [ ! -e "$Q/active/${erin[0]}" ]; ok $? "$n: ... moved to hold/"
    "$B/qrm" --spool "$Q" "${erin[1]}" 2>"$tmp/err"
    is "$?:$(cat "$tmp/err")" "0:qrm: 1 removed" "$n: Postfix stopped: qrm of a message left in active/"
    bash "$SETUP" start "$PFX_INST" >/dev/null 2>&1 || bail_out "postfix $PFX_INST did not start again"
    is "$(queue_of "${erin[0]}"):$(queue_of "${erin[1]}")" "hold:" "$n: Postfix started again: one on hold, one gone"
    # the queue manager reads every message (qmgr would move a damaged one to corrupt/)
    postqueue -c "$C" -f
    sleep 2
    settle 0 || bail_out "$n: the queue did not settle after postqueue -f"
    agrees "$n: after postqueue -f" "$since"
}

# ================================================================ the trial
trial() {  # trial NAME
    local n=$1 W since t t0 t1 i id all base pids=() expect bad
    W=$tmp/trial-$n
    mkdir -p "$W"
    since=$(wc -l <"$LOG") t=$SECONDS base=$(count "$Q/incoming" "$Q/active" "$Q/deferred" "$Q/hold")
    # 240 messages from senders t0..t9, in one SMTP session: to the tarpit (active until
    # smtp_helo_timeout), to a retry transport and to the closed relayhost port (deferred)
    smtp_batch "$PFX_SMTPD_PORT" 240 >"$W/submitted" || bail_out "$n: trial: submission failed"
    for i in $(seq 150); do [ "$(count "$Q/incoming" "$Q/active" "$Q/deferred" "$Q/hold")" -ge $((base + 240)) ] && break; sleep 0.2; done
    diag "$n trial: 240 messages submitted in $((SECONDS - t))s"
    # the starting point, with Postfix stopped: showq and postcat -q, reading directory after
    # directory, can see a file twice or not at all while the queue manager moves it
    bash "$SETUP" stop "$PFX_INST"
    # then Postfix in a hurry: queue runs every second, retries after a second, the tarpit
    # given up after two
    postconf -c "$C" -e 'queue_run_delay = 1s' 'minimal_backoff_time = 1s' 'maximal_backoff_time = 2s' \
        'smtp_helo_timeout = 2s' 'smtp_connect_timeout = 1s'
    pj >"$W/pj.start"
    all=$(wc -l <"$W/pj.start")
    [ "$all" -ge 240 ] || bail_out "$n: trial: only $all messages queued"
    # what each message is, as Postfix's own viewer shows it
    awk '{ print $1 }' "$W/pj.start" | xargs -P 8 -I{} sh -c 'postcat -c "$1" -h -b -q "$2" | md5sum | cut -d" " -f1 >"$3/$2.md5"' \
        sh "$C" {} "$W"
    # the partitions: t0..t8 go to three workers, t9 to the selection worker
    for w in 0 1 2; do : >"$W/ids.$w"; done
    i=0
    while read -r id; do echo "$id" >>"$W/ids.$((i++ % 3))"; done < <("$B/qgrep" --spool "$Q" -i -f '^<t[0-8]@' | shuf)
    bash "$SETUP" start "$PFX_INST" >/dev/null 2>&1 || bail_out "postfix $PFX_INST did not start again"
    diag "$n trial: the starting point taken in $((SECONDS - t))s"
    t0=$(date +%s%N)
    # new mail all along (inodes of removed messages are reused at once), postqueue -f
    ( while [ ! -e "$W/stop" ]; do
        msg new@example.org z@remote.example new | perl "$TOOLS/smtp-send.pl" "$PFX_SMTPD_PORT" new@example.org '' \
            "z$RANDOM@remote.example" 2>/dev/null | sed -n 's/.*queued as \([0-9A-Za-z]*\).*/\1/p' >>"$W/new"
        sleep 0.05; done ) & pids+=($!)
    ( while [ ! -e "$W/stop" ]; do postqueue -c "$C" -f 2>/dev/null; sleep 1; done ) & pids+=($!)
    worker() {  # worker N: freeze, release, remove its own messages, 1 to 3 at a time
        local w=$1 ids k tries=0 out act
        declare -A st
        mapfile -t ids <"$W/ids.$w"
        for id in "${ids[@]}"; do st[$id]=queued; done
        while [ $tries -lt $((TRIAL_OPS / 3)) ]; do
            pick=()
            for k in $(seq $((RANDOM % 3 + 1))); do pick+=("${ids[RANDOM % ${#ids[@]}]}"); done
            case $((RANDOM % 10)) in
            [01]) act=(qrm); to=gone ;;
            [2-5]) act=(qfreeze); to=hold ;;
            *) act=(qfreeze -u); to=queued ;;
            esac
            out=$("$B/${act[0]}" "${act[@]:1}" --spool "$Q" -i "${pick[@]}" 2>>"$W/err.$w")
            echo "$? ${act[*]}" >>"$W/rc.$w"
            for id in $out; do st[$id]=$to; done
            tries=$((tries + ${#pick[@]}))
        done
        for id in "${!st[@]}"; do echo "$id ${st[$id]}"; done >"$W/state.$w"
    }
    selworker() {  # the t9 messages, by selection only: hold them all, release them all
        local k out id
        declare -A st
        for k in $(seq 1 12); do
            for a in "" "-u"; do
                # shellcheck disable=SC2086
                out=$("$B/qfreeze" $a --spool "$Q" -i -f '^<t9@' 2>>"$W/err.s")
                echo "$? qfreeze $a -f" >>"$W/rc.s"
                for id in $out; do st[$id]=$([ -z "$a" ] && echo hold || echo queued); done
            done
        done
        for id in "${!st[@]}"; do echo "$id ${st[$id]}"; done >"$W/state.s"
    }
    worker 0 & wp=($!)
    worker 1 & wp+=($!)
    worker 2 & wp+=($!)
    selworker & wp+=($!)
    wait "${wp[@]}"
    t1=$(date +%s%N)
    touch "$W/stop"; wait "${pids[@]}" 2>/dev/null
    sleep 1
    bash "$SETUP" stop "$PFX_INST"        # the judge looks at a queue that holds still
    t=$SECONDS

    # --- the figures
    cat "$W"/err.* >"$W/err"
    sum() { sed -n "s/^q[a-z]*: .*\b\([0-9][0-9]*\) $1.*/\1/p; s/^q[a-z]*: \([0-9][0-9]*\) $1.*/\1/p" "$W/err" | awk '{ s += $1 } END { print s + 0 }'; }
    local frozen thawed removed already locked gone changed failed ops dur defers moved warns
    frozen=$(sum frozen) thawed=$(sum thawed) removed=$(sum removed) already=$(sum already)
    locked=$(sum locked) gone=$(sum gone) changed=$(sum 'no longer') failed=$(sum failed)
    ops=$((frozen + thawed + removed + already + locked + gone + changed + failed))
    dur=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')
    defers=$(tail -n +"$((since + 1))" "$LOG" | grep -c 'status=deferred')
    warns=$(complaints "$since" | wc -l)
    diag "$n trial: $ops operations in ${dur}s by 4 concurrent qtools processes ($(cat "$W"/rc.* | wc -l) runs):" \
         "  $frozen put on hold, $thawed released, $removed removed, $already already so," \
         "  $locked skipped: $(grep -c ': in active/' "$W/err") in active/, $(grep -c ': being delivered' "$W/err") locked by Postfix," \
         "    $(grep -c ': another program acts on it' "$W/err") locked by another qtools process;" \
         "  $gone gone: $(grep -c ': no such message$' "$W/err") removed before, $(grep -c 'moved meanwhile\|moved or replaced meanwhile' "$W/err") moved by Postfix under our feet;" \
         "  $changed no longer matching, $failed failed;" \
         "  $all messages at the start, $(wc -l <"$W/new") more arriving meanwhile; Postfix deferred $defers deliveries meanwhile;" \
         "  $warns warnings in Postfix's log"
    [ "$ops" -ge 500 ]; ok $? "$n trial: at least 500 operations ($ops)"
    [ "$locked" -gt 0 ]; ok $? "$n trial: some were skipped because Postfix had them ($locked)"
    [ "$removed" -gt 0 ] && [ "$frozen" -gt 0 ] && [ "$thawed" -gt 0 ]; ok $? "$n trial: holds, releases and removals were done"
    is "$failed" 0 "$n trial: no operation failed"
    bad=$(grep -v -e '^q[a-z]*: [0-9]* ' -e ': in active/' -e ': being delivered' -e ': gone (delivered or moved meanwhile)' \
        -e ': moved meanwhile' -e ': moved or replaced meanwhile' -e ': no such message$' -e ': already on hold: left alone$' \
        -e ': not on hold: left alone$' -e ': no longer matches' -e ': another program acts on it' "$W/err" | sort | uniq -c | head)
    is "$bad" "" "$n trial: nothing on stderr but skips, 'gone' and 'already so'"

    # --- Postfix as the judge
    cat "$W"/state.* >"$W/state"
    pj >"$W/pj.end"
    expect=$( (awk '{ print $1 }' "$W/pj.start"; cat "$W/new") | grep -vxF -f <(awk '$2 == "gone" { print $1 }' "$W/state") | sort)
    is "$(awk '{ print $1 }' "$W/pj.end")" "$expect" \
        "$n trial: postqueue -j lists exactly the messages not removed ($(grep -c ' gone$' "$W/state") removed, none lost)"
    bad=$(join "$W/pj.end" <(sort "$W/state") | awk '($3 == "hold") != ($2 == "hold") { print $1, "in", $2, "expected", $3 }' | head)
    is "$bad" "" "$n trial: every message is on hold exactly when the last qfreeze that changed it said so"
    awk '{ print $1 }' "$W/pj.end" | xargs -P 8 -I{} sh -c '[ ! -e "$3/$2.md5" ] ||
        [ "$(postcat -c "$1" -h -b -q "$2" 2>/dev/null | md5sum | cut -d" " -f1)" = "$(cat "$3/$2.md5")" ] || echo "$2"' \
        sh "$C" {} "$W" >"$W/changed"
    is "$(sort "$W/changed" | tr '\n' ' ')" "" "$n trial: postcat -q shows every message left with the very headers and body it had"
    bash "$SETUP" start "$PFX_INST" >/dev/null 2>&1 || bail_out "postfix $PFX_INST did not start again"
    postqueue -c "$C" -f       # the queue manager reads every message again
    sleep 4
    is "$(complaints "$since" | grep -v 'rename from [a-z]* to active: No such file or directory')" "" \
        "$n trial: Postfix logged no warning but the race postsuper has too (qmgr's rename of a file just moved)"
    [ "$warns" = 0 ] || diag "$(complaints "$since" | sed 's/^.*\(warning:\)/\1/' | sort | uniq -c)"
    bash "$SETUP" stop "$PFX_INST"
    agrees "$n after the trial" "$(wc -l <"$LOG")"
    diag "$n trial: checked in $((SECONDS - t))s"
}

# QT_PFX_ACT_IDS: which kinds of queue IDs (default both)
for kind in ${QT_PFX_ACT_IDS:-short long}; do
    T0=$SECONDS
    case $kind in
    short) new_instance act-short 29470 no ;;
    long) new_instance act-long 29480 yes ;;
    *) bail_out "QT_PFX_ACT_IDS: short and/or long, not $kind" ;;
    esac
    functional "$kind"
    diag "$kind: the tools one by one: $((SECONDS - T0))s"; T0=$SECONDS
    trial "$kind"
    diag "$kind: the trial: $((SECONDS - T0))s"
done

done_testing
