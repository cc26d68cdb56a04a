#!/bin/bash
# 23-jobs.t -- loading threads (--jobs, QTOOLS_JOBS; libqueue/pipeline.c) change nothing the
# tools print: on every lab spool the real Exim 4.96 and Postfix 3.7 wrote and on every qmail
# fixture, qls (sorted, -U, -R, --json), qgrep and qsumm print the same bytes and exit the
# same with --jobs 1 (no threads) as with the default (32), with QTOOLS_JOBS, and under
# ulimit -n 32 (fewer reads in flight, never fewer messages); all jobs - 1 threads start at
# once (QTOOLS_READAHEAD=always: these queues are cached), by themselves only on a cold one,
# and on a cached one a warm worker per other processor starts (three at most).
# The same with QTOOLS_READAHEAD=auto, where these cached queues get warm workers instead.
# Messages that vanish and
# appear while a threaded scan runs (a loop renaming copies' files out and back in, as the
# MTAs' own renames make messages appear) are each listed or counted as skipped, and nothing
# else is lost or reported. Bad --jobs and QTOOLS_JOBS values: one line naming them, exit 2.
. "$(dirname "$0")/../lib.sh"
export LC_ALL=C TZ=UTC
unset QTOOLS_JOBS
# the labs' queues are in the page cache, where not all the threads would start by themselves
export QTOOLS_READAHEAD=always
B=$QT_BIN

command -v jq >/dev/null || bail_out "jq is needed (scripts/install-deps)"
qt_labs exim main split
qt_labs postfix short long
tmp=$(mktemp -d); trap 'kill $churn 2>/dev/null; rm -rf "$tmp"' EXIT
churn=
F=$QT_ROOT/tests/fixtures/qmail
spools="$QT_LAB/exim/spools/main $QT_LAB/exim/spools/split $QT_LAB/postfix/short/queue"
spools="$spools $QT_LAB/postfix/long/queue"
for s in a b d d-stopped; do
    mkdir "$tmp/q-$s" && tar -C "$tmp/q-$s" -xzf "$F/state-$s.tar.gz" ||
        bail_out "cannot extract qmail state $s"
    spools="$spools $tmp/q-$s/queue"
done

# run OUT CMD...: stdout to OUT, stderr to OUT.err, exit status to OUT.rc. The clock stands
# still at the labs' T0 (FAKETIME without '@': no second ticks between two runs); file times
# are faked as under qt_faketime (the other tests' clock), which the threads must not upset.
run() {
    local out=$1; shift
    [ -e "$QT_FAKETIME_LIB" ] || bail_out "$QT_FAKETIME_LIB missing (tests/lab/exim-setup.sh)"
    LD_PRELOAD="$QT_FAKETIME_LIB${LD_PRELOAD:+ $LD_PRELOAD}" \
    FAKETIME="$(date -u -d "@$QT_T0" '+%Y-%m-%d %H:%M:%S')" "$@" >"$out" 2>"$out.err"
    echo $? >"$out.rc"
}
# same NAME A B: the two runs printed the same bytes (and something), and exited the same
same() {
    local name=$1 a=$2 b=$3 d
    [ -s "$a" ] || { ok 1 "$name: output not empty"; return; }
    d=$(diff -u "$a" "$b" && diff -u "$a.err" "$b.err" && diff "$a.rc" "$b.rc")
    ok $? "$name" || diag "$d"
}

# jobs_agree NAME OUT SPOOL "TOOL ARGS"...: each prints, reports and exits the same on SPOOL
# with --jobs 1, the default and --jobs 2 (the last one's outputs stay in $tmp/OUT.1 ...)
jobs_agree() {
    local name=$1 out=$tmp/$2 s=$3 args
    shift 3
    for args in "$@"; do
        # shellcheck disable=SC2086
        run "$out.1" $B/$args --jobs 1 --spool "$s"
        # shellcheck disable=SC2086
        run "$out.n" $B/$args --spool "$s"
        # shellcheck disable=SC2086
        run "$out.2" $B/$args --jobs 2 --spool "$s"
        # shellcheck disable=SC2086
        QTOOLS_READAHEAD=auto run "$out.w" $B/$args --spool "$s"
        same "$name: $args: --jobs 1 and the default print and report the same" "$out.1" "$out.n"
        same "$name: $args: --jobs 1 and --jobs 2 print and report the same" "$out.1" "$out.2"
        same "$name: $args: --jobs 1 and warm workers print and report the same" \
            "$out.1" "$out.w"
    done
}

# ---------------------------------------------------------------- the same output
i=0
for s in $spools; do
    name=${s#"$QT_LAB"/}; name=${name#"$tmp"/}
    while IFS='|' read -r label args; do
        i=$((i + 1))
        # shellcheck disable=SC2086
        run "$tmp/o$i.1" $B/$args --jobs 1 --spool "$s"
        # shellcheck disable=SC2086
        run "$tmp/o$i.n" $B/$args --spool "$s"
        # shellcheck disable=SC2086
        QTOOLS_READAHEAD=auto run "$tmp/o$i.w" $B/$args --spool "$s"
        same "$name: $label: --jobs 1 and the default print the same" "$tmp/o$i.1" "$tmp/o$i.n"
        same "$name: $label: --jobs 1 and warm workers print the same" "$tmp/o$i.1" "$tmp/o$i.w"
    done <<'EOF'
qls|qls
qls -U|qls -U
qls -R|qls -R
qls --json|qls --json
qls -U --json|qls -U --json
qgrep -r .|qgrep -r .
qgrep -c|qgrep -c
qgrep --body (the callback reads the content)|qgrep -i --body=e
qgrep --header|qgrep -c --header Subject:.
qsumm|qsumm
qsumm --json|qsumm --json
EOF
    run "$tmp/env.$i" env QTOOLS_JOBS=7 "$B/qls" -U --spool "$s"
    run "$tmp/env1.$i" "$B/qls" -U --jobs 1 --spool "$s"
    same "$name: QTOOLS_JOBS=7 qls -U prints what --jobs 1 does" "$tmp/env1.$i" "$tmp/env.$i"
    # a low descriptor limit: fewer reads in flight, never fewer messages
    (ulimit -n 32 && run "$tmp/ul.$i" "$B/qls" --spool "$s")
    run "$tmp/ul1.$i" "$B/qls" --jobs 1 --spool "$s"
    case $s in
    */split)        # 62 subdirectories held open: more than 32 either way; at 120, a few
                    # workers fit beside them, and take none of the descriptors they need
        (ulimit -n 120 && run "$tmp/ul.$i" "$B/qls" -U --spool "$s")
        run "$tmp/ul1.$i" "$B/qls" -U --jobs 1 --spool "$s"
        same "$name: ulimit -n 120: qls -U prints what --jobs 1 does" "$tmp/ul1.$i" "$tmp/ul.$i" ;;
    *) same "$name: ulimit -n 32: qls prints what --jobs 1 does" "$tmp/ul1.$i" "$tmp/ul.$i" ;;
    esac
done

# ---------------------------------------------------------------- bad --jobs
for v in 0 -1 257 100000 x 1x ''; do
    "$B/qls" --jobs "$v" --spool "$QT_LAB/exim/spools/main" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    is "$rc $(wc -l <"$tmp/err") $(wc -c <"$tmp/out")" "2 1 0" "--jobs '$v': one line, exit 2"
    grep -q -- "^qls: --jobs $v: .*(from 1 to 256)" "$tmp/err"; ok $? "--jobs '$v': the line names it" ||
        diag "$(cat "$tmp/err")"
done
for tool in qgrep qsumm qcat qrm qfreeze qedit qrun; do
    "$B/$tool" --jobs 0 --spool "$QT_LAB/exim/spools/main" >/dev/null 2>"$tmp/err"
    rc=$?
    is "$rc $(wc -l <"$tmp/err")" "2 1" "$tool --jobs 0: one line, exit 2"
done
QTOOLS_JOBS=0 "$B/qls" --spool "$QT_LAB/exim/spools/main" >/dev/null 2>"$tmp/err"
is "$? $(cat "$tmp/err")" "2 qls: QTOOLS_JOBS 0: too small (from 1 to 256)" "QTOOLS_JOBS=0: named, exit 2"
QTOOLS_JOBS=0 "$B/qls" --jobs 2 -c --spool "$QT_LAB/exim/spools/main" >/dev/null 2>"$tmp/err"
is "$?" 0 "--jobs wins over QTOOLS_JOBS"
"$B/qls" --jobs 256 -c --spool "$QT_LAB/exim/spools/main" >"$tmp/out" 2>"$tmp/err"
is "$? $(cat "$tmp/out")" "0 $("$B/qls" --jobs 1 -c --spool "$QT_LAB/exim/spools/main")" "--jobs 256: the maximum works"

QTOOLS_READAHEAD=sometimes "$B/qls" --spool "$QT_LAB/exim/spools/main" >/dev/null 2>"$tmp/err"
is "$? $(cat "$tmp/err")" "2 qls: QTOOLS_READAHEAD sometimes: not auto or always" \
    "QTOOLS_READAHEAD=sometimes: named, exit 2"
# by itself (auto) a scan of a queue in the page cache starts no loading thread, on every
# backend (there they cost more CPU than they save time); with always, all jobs - 1
# (threads counted against --jobs 1's: a sanitizer's runtime may have its own; LeakSanitizer
# cannot run under ptrace)
clones() {  # clones [--one-cpu] ARGS...: how many threads or processes qls ARGS started
    local on=()
    if [ "$1" = --one-cpu ]; then on=(taskset -c 0); shift; fi
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
        "${on[@]}" strace -f -qq -e trace=clone,clone3 -o "$tmp/clones" "$B/qls" "$@" >/dev/null
    grep -c 'clone' "$tmp/clones"
}
if command -v strace >/dev/null; then
    S=$QT_LAB/exim/spools/main
    "$B/qls" --spool "$S" >/dev/null && "$B/qls" --spool "$S" >/dev/null     # cached now
    c1=$(clones --jobs 1 --spool "$S")
    cores=$(nproc)
    [ "$cores" -le 256 ] || cores=256
    # what --jobs CORES starts at once: CORES - 1 workers (and a sanitizer's own thread)
    cmax=$(clones --jobs "$cores" --spool "$S")
    # auto on a cached queue: a warm worker per other processor, three at most, started
    # once here (input/ is not split); none on one processor. san: the threads a sanitizer
    # starts with the first one (--jobs 2 starts one worker)
    san=$(($(clones --jobs 2 --spool "$S") - c1 - 1))
    warm=$((cores - 1)); [ "$warm" -le 3 ] || warm=3
    c=$(QTOOLS_READAHEAD=auto clones --spool "$S")
    [ "$c" -eq $((c1 + san + warm)) ] || { [ "$warm" -eq 0 ] && [ "$c" -eq "$c1" ]; }
    ok $? "auto, a cached queue: a worker per other processor ($c1 -> $c, $cores processors)"
    c=$(QTOOLS_READAHEAD=auto clones --one-cpu --spool "$S")
    [ "$c" -eq "$c1" ]; ok $? "auto, a cached queue, one processor: no thread ($c1 -> $c)"
    # Postfix: the queues and their hash directories are opened before the warm workers
    # start, so they start once; when the descriptor limit leaves no room for those
    # directories (200: room for some workers, not for 16 directories in each of 5 queues),
    # the walk opens each as it goes and they start again for each (lq_pipeline_new_dir),
    # printing the same
    P=$QT_LAB/postfix/long/queue
    "$B/qls" --spool "$P" >/dev/null && "$B/qls" --spool "$P" >/dev/null
    p1=$(clones --jobs 1 --spool "$P")
    c=$(QTOOLS_READAHEAD=auto clones --spool "$P")
    [ "$c" -eq $((p1 + san + warm)) ] || { [ "$warm" -eq 0 ] && [ "$c" -eq "$p1" ]; }
    ok $? "auto, a cached Postfix queue: warm workers, started once ($p1 -> $c)"
    c=$(ulimit -n 200 && QTOOLS_READAHEAD=auto clones --spool "$P")
    [ "$warm" -eq 0 ] ||
        { [ "$c" -gt $((p1 + san + warm)) ] && [ $(((c - p1 - san) % warm)) -eq 0 ]; }
    ok $? "auto, ulimit -n 200: warm workers started per hash directory ($p1 -> $c)"
    (ulimit -n 200 && QTOOLS_READAHEAD=auto run "$tmp/pf200" "$B/qls" --spool "$P")
    run "$tmp/pf1" "$B/qls" --jobs 1 --spool "$P"
    same "auto, ulimit -n 200, Postfix: qls prints what --jobs 1 does" "$tmp/pf1" "$tmp/pf200"
    c=$(QTOOLS_READAHEAD=auto clones --one-cpu --spool "$P")
    [ "$c" -eq "$p1" ]; ok $? "auto, a cached Postfix queue, one processor: no thread ($c)"
    c=$(clones --spool "$S")
    [ "$c" -gt "$cmax" ] || [ "$cores" -ge 32 ]; ok $? "always: the threads start ($c1 -> $c)"
fi

# ---------------------------------------------------------------- damaged messages
# The loading threads meet damaged and vanished messages in any order; the scan reports
# them in its own, with --jobs 1's words, and counts them the same (every tenth -H cut
# short, every seventh made a directory, every thirteenth's -D gone).
D=$tmp/damaged; cp -a "$QT_LAB/exim/spools/main" "$D"
n=0
for h in "$D"/input/*-H; do
    n=$((n + 1))
    if [ $((n % 10)) = 0 ]; then truncate -s 40 "$h"
    elif [ $((n % 7)) = 0 ]; then rm "$h" && mkdir "$h"
    elif [ $((n % 13)) = 0 ]; then rm -f "${h%-H}-D"
    fi
done
jobs_agree "damaged exim queue" dmg "$D" "qls" "qls -U" "qls --json" "qgrep -c -r ." "qsumm"
[ -s "$tmp/dmg.1.err" ]; ok $? "damaged exim queue: the damage is reported"
# the callback reads each message's content (its -H from the slot, its -D): the slot stays
# the message's until the callback returns
run "$tmp/body.1" "$B/qgrep" -c --body=. --jobs 1 --spool "$D"
run "$tmp/body.n" "$B/qgrep" -c --body=. --spool "$D"
same "damaged exim queue: qgrep --body: the same" "$tmp/body.1" "$tmp/body.n"

# ---------------------------------------------------------------- damaged qmail messages
# qmail's scan loads through the same pipeline (qmail.c): a copy of 600 messages, each
# tenth info/ emptied, each seventh mess/ gone, each thirteenth remote/ made a directory,
# a few left in todo/ (one cut short), stray names and a file in the wrong split
# subdirectory (reported by the walk itself, between the loads' reports): listed, reported
# and counted the same with --jobs 1, 2 and the default; qgrep --body reads each message's
# mess/ from the callback.
Q=$tmp/qmail-damaged
python3 "$QT_ROOT/scripts/clone-qmail-queue" "$tmp/q-d/queue" "$Q" 600 >/dev/null ||
    bail_out "cannot clone the qmail queue"
n=0
for f in $(cd "$Q/info" && find . -type f | sort); do
    n=$((n + 1)) id=${f##*/} sub=${f%/*}; sub=${sub#./}
    if [ $((n % 10)) = 0 ]; then : >"$Q/info/$sub/$id"
    elif [ $((n % 7)) = 0 ]; then rm "$Q/mess/$sub/$id"
    elif [ $((n % 13)) = 0 ] && [ -e "$Q/remote/$sub/$id" ]; then
        rm "$Q/remote/$sub/$id" && mkdir "$Q/remote/$sub/$id"
    elif [ $((n % 31)) = 0 ]; then      # not preprocessed yet: todo/ID only
        rm -f "$Q/info/$sub/$id" "$Q/local/$sub/$id" "$Q/remote/$sub/$id"
        if [ $((n % 62)) = 0 ]; then printf 'u0\0p1\0Fa@example.com' >"$Q/todo/$id"
        else printf 'u0\0p1\0Fa@example.com\0Tb@example.com\0' >"$Q/todo/$id"
        fi
    fi
done
# a split subdirectory gone: the loads that need it fail, a warm worker's first with "not
# open in this thread" (it is in no copy of the descriptor table), made again by the scan
# thread with --jobs 1's words
rm -rf "$Q/remote/7"
: >"$Q/info/5/x-stray"; : >"$Q/info/17/0123"
f=$(cd "$Q/info/3" && ls | head -1)
mv "$Q/info/3/$f" "$Q/info/4/$f"
jobs_agree "damaged qmail queue" qdmg "$Q" \
    "qls" "qls -U" "qls -R" "qls --json" "qgrep -c -r ." "qgrep -c --body=." "qsumm"
[ "$(wc -l <"$tmp/qdmg.1.err")" -gt 60 ]; ok $? "damaged qmail queue: the damage is reported"
# the arrival is info/'s mtime, read by the loading threads under the faked clock
run "$tmp/qdate.1" "$B/qls" --json --jobs 1 --spool "$Q"
run "$tmp/qdate.n" "$B/qls" --json --spool "$Q"
jq -r 'select(.type == "message") | .arrival_time' "$tmp/qdate.n" | sort -u >"$tmp/qdate.times"
[ -s "$tmp/qdate.times" ] && cmp -s "$tmp/qdate.1" "$tmp/qdate.n"
ok $? "damaged qmail queue: the loading threads' arrival times are --jobs 1's"
if command -v strace >/dev/null; then
    # auto on a cached qmail queue: loading threads, no more than --jobs CORES starts
    "$B/qls" --spool "$Q" >/dev/null 2>&1
    c1=$(clones --jobs 1 --spool "$Q" 2>/dev/null)
    c=$(QTOOLS_READAHEAD=auto clones --one-cpu --spool "$Q" 2>/dev/null)
    [ "$c" -eq "$c1" ]; ok $? "auto, a cached qmail queue, one processor: no thread ($c)"
    c=$(QTOOLS_READAHEAD=auto clones --spool "$Q" 2>/dev/null)
    warm=$(($(nproc) - 1)); [ "$warm" -le 3 ] || warm=3
    san=$(($(clones --jobs 2 --spool "$Q" 2>/dev/null) - c1 - 1))
    [ "$warm" -eq 0 ] || { [ "$c" -gt "$c1" ] && [ $(((c - c1 - san) % warm)) -eq 0 ]; }
    ok $? "auto, a cached qmail queue: warm workers ($c1 -> $c)"
    c=$(clones --spool "$Q" 2>/dev/null)
    [ "$c" -gt "$c1" ]; ok $? "always, qmail: the loading threads start ($c1 -> $c)"
fi

# The same for Postfix's loading threads (libqueue/postfix.c): every fifth queue file cut
# short, every seventh made a directory, every eleventh incomplete (not listed), every
# third defer log cut in half, a file in the wrong hash directory, a hash directory that is
# a symbolic link and a file set aside in corrupt/ (reported where the walk meets them,
# after what it found before); qls -R loads every message twice (collecting, then newest
# first).
D=$tmp/damaged-postfix; cp -a "$QT_LAB/postfix/long/queue" "$D"
n=0
for f in $(cd "$D" && find maildrop incoming active deferred hold -type f | sort); do
    n=$((n + 1))
    if [ $((n % 5)) = 0 ]; then truncate -s 30 "$D/$f"
    elif [ $((n % 7)) = 0 ]; then rm "$D/$f" && mkdir "$D/$f"
    elif [ $((n % 11)) = 0 ]; then chmod u-x "$D/$f"
    fi
done
n=0
for f in $(cd "$D" && find defer -type f | sort); do
    n=$((n + 1))
    [ $((n % 3)) = 0 ] && truncate -s $(($(stat -c %s "$D/$f") / 2)) "$D/$f"
done
f=$(cd "$D" && find deferred -type f | sort | tail -1)
mkdir -p "$D/deferred/Z" && mv "$D/$f" "$D/deferred/Z/"
ln -s /tmp "$D/deferred/Y"
cp "$D/$(cd "$D" && find hold -type f | sort | head -1)" "$D/corrupt/"
jobs_agree "damaged postfix queue" pdmg "$D" \
    "qls" "qls -U" "qls -R" "qls --json" "qgrep -c -r ." "qgrep -c --body=." "qsumm"
[ "$(wc -l <"$tmp/pdmg.1.err")" -ge 5 ]; ok $? "damaged postfix queue: the damage is reported"

# ---------------------------------------------------------------- a moving queue
# Half of a copy's messages stay put; the other half vanish and come back all the time, as
# the MTA makes them: Exim renames a complete -H into place (-D stays), Postfix's queue
# manager renames a queue file between queues, qmail-send's info/ comes and goes. Each run
# (a threaded scan, warm workers or all of them) must list every stable message, list nothing else but moving ones,
# report nothing, and count each message it found as listed or skipped (vanished, or qmail's
# mess/ without info/): listed + skipped is at least the stable ones (and what a still copy
# skips).
moving() {  # moving NAME SPOOL FILES-OF-MOVERS-LIST (one relative path a line)
    local name=$1 s=$2 movers=$3 stable=$4 r bad=0 runs=0 k low moved=0
    # the least a run can account for: the stable messages, and what a still queue skips
    low=$("$B/qls" --json --jobs 1 --spool "$s" | jq 'select(.type == "end") | .skipped')
    low=$((low + $(wc -l <"$stable")))
    mkdir -p "$tmp/aside"
    (
        while :; do
            while read -r f; do mv "$s/$f" "$tmp/aside/${f//\//_}" 2>/dev/null; done <"$movers"
            while read -r f; do mv "$tmp/aside/${f//\//_}" "$s/$f" 2>/dev/null; done <"$movers"
        done
    ) &
    churn=$!
    for r in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do
        runs=$((runs + 1))
        # odd runs with the warm workers a cached queue gets, even ones with all the threads
        QTOOLS_READAHEAD=$( ((r % 2)) && echo auto || echo always) \
            "$B/qls" --json --spool "$s" >"$tmp/mv.json" 2>"$tmp/mv.err"
        k=$?
        if [ "$k" != 0 ] || [ -s "$tmp/mv.err" ]; then
            diag "$name run $r: exit $k: $(head -3 "$tmp/mv.err")"; bad=1; break
        fi
        jq -r 'select(.type == "message") | .queue_id' "$tmp/mv.json" | sort >"$tmp/mv.ids"
        if [ -n "$(comm -23 "$stable" "$tmp/mv.ids")" ]; then
            diag "$name run $r: stable messages not listed: $(comm -23 "$stable" "$tmp/mv.ids" | head -3)"
            bad=1; break
        fi
        if [ -n "$(comm -13 "$tmp/all.ids" "$tmp/mv.ids")" ]; then
            diag "$name run $r: unknown messages listed"; bad=1; break
        fi
        if ! jq -e --argjson low "$low" 'select(.type == "end") | .scanned == .matched and
            .matched == '"$(wc -l <"$tmp/mv.ids")"' and .errors == 0 and
            .matched + .skipped >= $low' "$tmp/mv.json" >/dev/null; then
            diag "$name run $r: $(jq -c 'select(.type == "end")' "$tmp/mv.json")"; bad=1; break
        fi
        # the queue did move under this run: a moving message missing, or one skipped
        [ "$(wc -l <"$tmp/mv.ids")" -lt "$(wc -l <"$tmp/all.ids")" ] ||
            [ "$(jq 'select(.type == "end") | .skipped' "$tmp/mv.json")" -gt $((low - $(wc -l <"$stable"))) ] &&
            moved=$((moved + 1))
    done
    kill "$churn"; wait "$churn" 2>/dev/null; churn=
    [ "$moved" -gt 0 ]; ok $? "$name: the queue moved under $moved of $runs runs"
    while read -r f; do mv "$tmp/aside/${f//\//_}" "$s/$f" 2>/dev/null; done <"$movers"
    ok $bad "$name: a moving queue: every stable message listed, every file found accounted for ($runs runs)"
    "$B/qls" -i --jobs 1 --spool "$s" | sort >"$tmp/after.ids"
    is_same_file "$tmp/all.ids" "$tmp/after.ids" "$name: ... and the copy is whole again afterwards"
}

E=$tmp/exim; cp -a "$QT_LAB/exim/spools/main" "$E"
"$B/qls" -i --jobs 1 --spool "$E" | sort >"$tmp/all.ids"
awk 'NR % 2' "$tmp/all.ids" | sed 's/$/-H/; s|^|input/|' >"$tmp/movers"
awk '!(NR % 2)' "$tmp/all.ids" >"$tmp/stable"
[ -s "$tmp/movers" ] && [ -s "$tmp/stable" ]; ok $? "exim: the copy has moving and stable messages"
moving exim "$E" "$tmp/movers" "$tmp/stable"

# moving_files NAME SPOOL DIR: every other file under DIR (its name the ID) moves
moving_files() {
    "$B/qls" -i --jobs 1 --spool "$2" | sort >"$tmp/all.ids"
    (cd "$2" && find "$3" -type f) | sort | awk 'NR % 2' >"$tmp/movers"
    sed 's|.*/||' "$tmp/movers" | sort >"$tmp/moving.ids"
    comm -23 "$tmp/all.ids" "$tmp/moving.ids" >"$tmp/stable"
    [ -s "$tmp/movers" ] && [ -s "$tmp/stable" ]; ok $? "$1: the copy has moving and stable messages"
    moving "$1" "$2" "$tmp/movers" "$tmp/stable"
}
P=$tmp/postfix; cp -a "$QT_LAB/postfix/long/queue" "$P"
moving_files postfix "$P" deferred
moving_files qmail "$tmp/q-d/queue" info

done_testing
