#!/bin/bash
# qls, qgrep, qsumm and qcat against Exim's own tools, on spools the real Exim 4.96 wrote
# (tests/lab/exim-spool.sh): every golden of the lab is replayed with the qtools command
# that means the same thing, under the same fixed clock.
. "$(dirname "$0")/../lib.sh"

qt_labs exim
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

# exiqsumm -c and -a order ties by Perl's hash order: compare the rows as a set, and check
# that ours are sorted by the key (column $2 = count, or the age column).
check_summary_sorted() {  # FILE EXPECTED ACTUAL NAME
    local key=$1 exp=$2 act=$3 name=$4
    is_same_file <(sort "$exp") <(sort "$act") "$name: same rows" || return
    awk -v key="$key" '
        function age(s,  n, u) { n = s + 0; u = substr(s, length(s));
            return n * (u == "m" ? 1 : u == "h" ? 60 : u == "d" ? 1440 : 10080) }
        /^ *[0-9]+  / && $NF != "TOTAL" {
            v = key == "count" ? $1 + 0 : age($3)
            if (seen && v > prev) { print "not sorted at: " $0; bad = 1 }
            prev = v; seen = 1 }
        END { exit bad }' "$act"
    ok $? "$name: sorted by $key, ties by name"
}

for spool in main split; do
    "$QT_ROOT/tests/lab/exim-spool.sh" "$spool" >"$tmp/lab.log" 2>&1 ||
        { cat "$tmp/lab.log" >&2; bail_out "exim lab spool $spool failed"; }
    S=$QT_LAB/exim/spools/$spool G=$QT_LAB/exim/golden/$spool
    [ -s "$G/COMMANDS" ] || bail_out "no goldens for $spool"
    export QT_T0=$(cat "$G/T0")

    while IFS=$'\t' read -r file rc cmd; do
        tool= args= compare=same
        case $cmd in
        "exim -bp "*[0-9A-Za-z]-*) tool=qls args=${cmd#exim -bp}
            [ "$file" = exim-bp-missing.out ] && continue ;;   # ours goes to stderr: below
        "exim -bp") tool=qls ;;
        "exim -bpa") tool=qls args=-a ;;
        "exim -bpu") tool=qls args=-u ;;
        "exim -bpc") tool=qls args=-c ;;
        "exim -qG"*" -bp") tool=qls args="-G ${cmd#exim -qG}"; args=${args% -bp} ;;
        "exim -qG"*" -bpc") tool=qls args="-c -G ${cmd#exim -qG}"; args=${args% -bpc} ;;
        exiqgrep*) tool=qgrep args=${cmd#exiqgrep} ;;
        "exim -bp | exiqsumm -c") tool=qsumm args=-c compare=count ;;
        "exim -bp | exiqsumm -a") tool=qsumm args=-a compare=age ;;
        "exim -bp | exiqsumm"*) tool=qsumm args=${cmd#exim -bp | exiqsumm} ;;
        "exipick -i '\$h_subject: =~ /"*) re=${cmd#*/}; re=${re%/*}
            tool=qgrep args="-i --header 'Subject: $re'" ;;
        "exipick -bpc") tool=qls args=-c ;;
        "exim -Mvc "*) tool=qcat args="-m ${cmd#exim -Mvc }" compare=mvc ;;
        "exim -Mvb "*) tool=qcat args="-b ${cmd#exim -Mvb }" compare=mvb ;;
        "exim -Mvh "*) tool=qcat args="-e ${cmd#exim -Mvh }" compare=mvh ;;
        *) diag "no qtools equivalent for: $cmd"; continue ;;
        esac
        eval "set -- $args"
        qt_faketime "$QT_BIN/$tool" --spool "$S" "$@" >"$tmp/out" 2>"$tmp/err"
        got=$?
        name="$spool: $tool $args  ~  $cmd"
        case $compare in
        same) is_same_file "$G/$file" "$tmp/out" "$name" ;;
        count|age) check_summary_sorted "$compare" "$G/$file" "$tmp/out" "$name" ;;
        mvb)  # -Mvb shows the raw -D: its "ID-D" line, and CRLF for wire-format spooling
            tail -n +2 "$G/$file" | sed 's/\r$//' >"$tmp/exp"
            is_same_file "$tmp/exp" "$tmp/out" "$name" ;;
        mvh)  # qcat -e is the envelope part of what -Mvh shows
            head -c "$(wc -c <"$tmp/out")" "$G/$file" >"$tmp/exp"
            [ -s "$tmp/out" ]; ok $? "$name: envelope not empty"
            is_same_file "$tmp/exp" "$tmp/out" "$name" ;;
        mvc)
            if [ ! -s "$G/$file" ] && grep -q '^-spool_file_wireformat$' "$G/${file/Mvc/Mvh}"; then
                # Exim 4.96 -Mvc prints nothing for a wire-format spool file (VIOLATIONS);
                # the message is then the live headers of -Mvh's file and the -Mvb body
                [ -s "$tmp/out" ]; ok $? "$name: qcat -m shows the wire-format message"
            else
                is_same_file "$G/$file" "$tmp/out" "$name"
            fi ;;
        esac
        [ "$compare" = count ] || [ "$compare" = age ] || [ "$rc" = 0 ] ||
            { [ "$got" -ne 0 ]; ok $? "$name: fails like exim does"; }
        [ "$got" -le 1 ] && [ ! -s "$tmp/err" ]
        ok $? "$name: no error (rc $got)" || diag "$(cat "$tmp/err")"
    done <"$G/COMMANDS"

    # the pipelines of the README
    qt_faketime "$QT_BIN/qgrep" --spool "$S" -z -i | qt_faketime "$QT_BIN/qls" --spool "$S" - >"$tmp/a"
    qt_faketime "$QT_BIN/qls" --spool "$S" -z >"$tmp/b"
    is_same_file "$tmp/b" "$tmp/a" "$spool: qgrep -z -i | qls -  =  qls -z"
    [ -s "$tmp/a" ]; ok $? "$spool: ... and there are frozen messages to show"
    "$QT_BIN/qls" --spool "$S" -i -U | sort >"$tmp/a"
    "$QT_BIN/qls" --spool "$S" -i | sort >"$tmp/b"
    [ -s "$tmp/b" ] || bail_out "$spool: qls lists no message"
    is_same_file "$tmp/b" "$tmp/a" "$spool: qls -U lists the same messages"
    "$QT_BIN/qls" --spool "$S" -0 | tr '\0' '\n' >"$tmp/a"
    "$QT_BIN/qls" --spool "$S" -i >"$tmp/b"
    is_same_file "$tmp/b" "$tmp/a" "$spool: -0 is -i with NULs"
    "$QT_BIN/qls" --spool "$S" -0 | "$QT_BIN/qls" --spool "$S" -0 -c - >"$tmp/a"
    is "$(cat "$tmp/a")" "$(grep -c . "$tmp/b")" "$spool: IDs read back NUL-separated"
    qt_faketime "$QT_BIN/qls" --spool "$S" --json --host "mx.$spool" >"$tmp/j"
    is "$(jq -s 'map(select(.type == "message")) | length' "$tmp/j")" "$(cat "$G/exim-bpc.out")" \
        "$spool: --json has a record per message"
    is "$(jq -r 'select(.v != 1 or .host != "mx.'"$spool"'" or .mta != "exim") | .type' "$tmp/j")" "" \
        "$spool: --json: every line says v 1, its host (--host) and its MTA"
    n=$(cat "$G/exim-bpc.out")
    is "$(tail -n 1 "$tmp/j" | jq -r '"\(.type) \(.now) \(.scanned) \(.matched) \(.skipped) \(.errors)"')" \
        "end $QT_T0 $n $n 0 0" "$spool: --json ends with the end record: clock, counts, no error"
    qt_faketime "$QT_BIN/qgrep" --spool "$S" --json -z >"$tmp/jz"
    is "$(tail -n 1 "$tmp/jz" | jq -r '"\(.type) \(.scanned) \(.matched)"')" \
        "end $n $(jq -s 'map(select(.type == "message")) | length' "$tmp/jz")" \
        "$spool: qgrep --json -z: the end record counts what was scanned and matched"
    is "$(jq -r 'select(.state=="frozen") | .queue_id' "$tmp/j" | sort)" \
       "$(qt_faketime "$QT_BIN/qgrep" --spool "$S" -z -i | sort)" "$spool: --json states agree with -z"

    # grep's exit codes
    "$QT_BIN/qgrep" --spool "$S" -f 'no-such-sender-anywhere' >/dev/null
    is "$?" 1 "$spool: no match: exit 1"
    "$QT_BIN/qgrep" --spool "$S" -i -f . >/dev/null
    is "$?" 0 "$spool: match: exit 0"
done

done_testing
