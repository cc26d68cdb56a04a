#!/bin/bash
# The rules lq_act keeps for every MTA (issue 11), on copies of a spool the real Exim wrote:
# a selection that cannot be evaluated never selects (also under -v, also for the acting
# tools); a dry run gives the real run's verdict and exit status; an ID given twice is acted on
# and counted once; a cron pipeline with nothing selected is silent. The qmail and Postfix
# sides of the same path are in 55-qmail-act.t and 57-postfix-act.t.
. "$(dirname "$0")/../lib.sh"

qt_labs exim main
SHIM=$QT_ROOT/build/tests/fail-pcre2.so
[ -e "$SHIM" ] || bail_out "$SHIM missing (make build/tests/fail-pcre2.so)"
tmp=$(mktemp -d); chmod o+x "$tmp"      # exim drops to its own uid: it must reach the copies
trap 'rm -rf "$tmp"' EXIT
B=$QT_BIN
EU=$(awk -F: '$1 == "Debian-exim" { print $3 }' "$QT_LAB/exim/etc/passwd")
new_spool() {
    cp -a "$QT_LAB/exim/spools/main" "$1"
    mkdir -p "$1/log" && touch "$1/log/mainlog" && chown -R "$EU:$EU" "$1/log"
}
exim_on() { local s=$1; shift; "$QT_LAB/exim/bin/exim" -DSPOOL="$s" -DLOGDIR="$s/log" "$@"; }
snap() { (cd "$1" && find . -type f ! -path './log/*' ! -path './db/*' -exec sha256sum {} + | sort); }

S=$tmp/s; new_spool "$S"
# a message with a Latin-1 body, queued by the real exim: invalid UTF-8 for a (*UTF) regex
printf 'Subject: caf\xe9\n\nun caf\xe9 cr\xe8me\n' | exim_on "$S" -odq -f latin@example.org latin1@remote.example
L=$("$B/qgrep" --spool "$S" -f '^<latin@' -i)
[ -n "$L" ]; ok $? "exim queued the Latin-1 message ($L)"
n=$("$B/qls" --spool "$S" -c)
snap "$S" >"$tmp/before"

# ---------------------------------------------------------------- cannot tell: never selected
"$B/qgrep" --spool "$S" -v --body '(*UTF)no such line' -i >"$tmp/out" 2>"$tmp/err"
is "$?" 2 "qgrep -v --body '(*UTF)...' over an invalid UTF-8 body: exit 2 ..."
! grep -qx "$L" "$tmp/out"; ok $? "... the message it cannot judge is not selected"
is "$(wc -l <"$tmp/out")" "$((n - 1))" "... every other message is (the regex matches none of them)"
is "$(cat "$tmp/err")" "qgrep: $L: cannot tell whether it matches, so it is not selected: --body: the regex could not be matched: UTF-8 error: byte 2 top bits not 0x80" \
    "... and says why, by ID, on one line"
"$B/qrm" --spool "$S" -v --body '(*UTF)no such line' "$L" 2>"$tmp/err"
is "$?" 2 "qrm -v --body '(*UTF)...' ID: exit 2 ..."
grep -q "^qrm: $L: cannot tell whether it matches: left alone: --body: " "$tmp/err"; ok $? "... saying it cannot tell" || diag "$(cat "$tmp/err")"
"$B/qrm" --spool "$S" -n -v --body '(*UTF)no such line' "$L" >"$tmp/out" 2>"$tmp/err2"
is "$?:$(wc -c <"$tmp/out"):$(head -1 "$tmp/err2")" "2:0:$(head -1 "$tmp/err")" "... and qrm -n says the same"
is_same_file "$tmp/before" <(snap "$S") "... and nothing was removed"

# an allocation failure in the regex engine (every pcre2_match: no memory)
LD_PRELOAD=$SHIM "$B/qgrep" --spool "$S" -v -f 'nobody' -i >"$tmp/out" 2>"$tmp/err"
is "$?:$(wc -c <"$tmp/out")" "2:0" "no memory in the engine: qgrep -v -f selects nothing, exit 2 ..."
is "$(grep -c ': cannot tell whether it matches, so it is not selected: -f: the regex could not be matched: no more memory$' "$tmp/err")" "$n" \
    "... one line per message, saying why"
LD_PRELOAD=$SHIM "$B/qrm" --spool "$S" -v -f 'nobody' 2>"$tmp/err"
is "$?" 2 "no memory in the engine: qrm -v -f nobody exits 2 ..."
is_same_file "$tmp/before" <(snap "$S") "... and removes nothing"
LD_PRELOAD=$SHIM "$B/qfreeze" --spool "$S" -v -r 'nobody' 2>/dev/null
is "$?" 2 "no memory in the engine: qfreeze -v -r nobody exits 2 ..."
is_same_file "$tmp/before" <(snap "$S") "... and freezes nothing"

# ---------------------------------------------------------------- dry runs tell the truth
verdict() {  # verdict NAME TOOL ARGS...: the dry run's exit and stderr equal the real run's
    local name=$1 t=$2; shift 2
    "$B/$t" --spool "$S" -n "$@" >"$tmp/dry.out" 2>"$tmp/dry.err"; local drc=$?
    cp -a "$S" "$tmp/real"
    "$B/$t" --spool "$tmp/real" "$@" >/dev/null 2>"$tmp/real.err"; local rrc=$?
    rm -rf "$tmp/real"
    sed -i 's/ would be / /' "$tmp/dry.err"
    is "$drc:$(cat "$tmp/dry.err")" "$rrc:$(cat "$tmp/real.err")" "$name: qrm -n gives the real run's verdict and exit ($rrc)"
    [ -s "$tmp/real.err" ]; ok $? "$name: ... which says something"
}
missing=1aaaaa-000000-00
verdict "an ID that does not exist" qrm "$missing"
grep -q "^qrm: $missing: no such message$" "$tmp/dry.err"; ok $? "... 'no such message'"
bob=$("$B/qgrep" --spool "$S" -f '^<bob@' -i | head -1)
verdict "an ID the selection does not match" qrm -f '^<alice@' "$bob"
grep -q "^qrm: $bob: no longer matches: left alone$" "$tmp/dry.err"; ok $? "... 'no longer matches'"
frozen=$("$B/qgrep" --spool "$S" -z -i | head -1)
verdict "freezing a frozen message" qfreeze "$frozen"
grep -q "^qfreeze: $frozen: already frozen: left alone$" "$tmp/dry.err"; ok $? "... 'already frozen: left alone'"
thawed=$("$B/qgrep" --spool "$S" -x -i | head -1)
verdict "thawing a message not frozen" qfreeze -u "$thawed"
# being delivered: exim's lock (a POSIX write lock on the start of -D) held by another process
d=$(find "$S/input" -name "$bob-D")
python3 -c 'import fcntl, sys, time
f = open(sys.argv[1], "r+"); fcntl.lockf(f, fcntl.LOCK_EX, 19); open(sys.argv[2], "w").close(); time.sleep(60)' "$d" "$tmp/locked" &
lp=$!
for _ in $(seq 100); do [ -e "$tmp/locked" ] && break; sleep 0.05; done
"$B/qrm" --spool "$S" -n "$bob" >"$tmp/out" 2>"$tmp/err"
is "$?:$(wc -c <"$tmp/out"):$(head -1 "$tmp/err")" "2:0:qrm: $bob: locked (being delivered, or another tool acts on it): skipped" \
    "a message being delivered: qrm -n says it would skip it, exit 2"
"$B/qrm" --spool "$S" "$bob" >/dev/null 2>"$tmp/err2"
is "$?:$(head -1 "$tmp/err2")" "2:$(head -1 "$tmp/err")" "... as the real qrm does"
kill "$lp"; wait "$lp" 2>/dev/null
cp -a "$S" "$tmp/ro"; chmod -R o+rX "$tmp/ro"      # readable by anyone, writable by Exim only
setpriv --reuid=65534 --regid=65534 --clear-groups "$B/qrm" --spool "$tmp/ro" -n "$bob" >"$tmp/out" 2>"$tmp/err"
is "$?:$(wc -c <"$tmp/out"):$(cat "$tmp/err")" "2:0:qrm: $tmp/ro: no permission to change the spool (run as root or the MTA's user): nothing done" \
    "qrm -n by a user who may not change the spool: refused up front, as the real run is"
is_same_file "$tmp/before" <(snap "$S") "no dry run changed anything"

# ---------------------------------------------------------------- -v alone, a --save that fails
for t in qls qrm qrun; do
    "$B/$t" --spool "$S" -v ALL >"$tmp/out" 2>"$tmp/err"
    is "$?:$(wc -c <"$tmp/out"):$(cat "$tmp/err")" "2:0:$t: -v: nothing to invert: give the selection it turns round" \
        "$t -v with nothing to invert: refused (not 'everything' to an acting tool)"
done
mkdir -p "$tmp/save/input"; : >"$tmp/save/input/$bob-H"     # the second copy cannot be made
"$B/qrm" --spool "$S" --save "$tmp/save" "$bob" 2>"$tmp/err"
is "$?" 2 "qrm --save, the second copy failing: exit 2 ..."
[ -e "$(find "$S/input" -name "$bob-H")" ]; ok $? "... the message is still there"
is "$(ls "$tmp/save/input")" "$bob-H" "... and the first copy was taken back (only the obstacle is left)"
rm "$tmp/save/input/$bob-H"
snap "$S" >"$tmp/before"

# ---------------------------------------------------------------- an ID given twice: once
"$B/qsumm" --spool "$S" "$bob" >"$tmp/once"
printf '%s\n%s\n' "$bob" "$bob" | "$B/qsumm" --spool "$S" - >"$tmp/twice"
grep -Eq '^ +[1-9][0-9]* .*TOTAL$' "$tmp/once"; ok $? "qsumm of one ID counts it" || diag "$(cat "$tmp/once")"
is_same_file "$tmp/once" "$tmp/twice" "qsumm - with the same ID twice counts it once"
is "$(printf '%s\n' "$bob" "$bob" "$L" | "$B/qls" --spool "$S" -i -)" "$bob
$L" "qls - lists an ID given twice once"
"$B/qrm" --spool "$S" --max 1 -i "$bob" "$bob" >"$tmp/out" 2>"$tmp/err"
is "$?:$(cat "$tmp/out"):$(cat "$tmp/err")" "0:$bob:qrm: 1 removed" "qrm --max 1 ID ID: removed once, counted once, exit 0"
printf '%s\n%s\n' "$L" "$L" | "$B/qrm" --spool "$S" - 2>"$tmp/err"
is "$?:$(cat "$tmp/err")" "0:qrm: 1 removed" "qrm - with an ID twice on stdin: removed once"

# ---------------------------------------------------------------- quiet cron
"$B/qgrep" --spool "$S" -f '^<nobody-at-all@' -o 7d -i | "$B/qrm" --spool "$S" - >"$tmp/out" 2>"$tmp/err"
is "$?:$(cat "$tmp/out")$(cat "$tmp/err")" "1:" "cron: qgrep ... -i | qrm - with nothing selected: silent, exit 1"
"$B/qrm" --spool "$S" -f '^<nobody-at-all@' >"$tmp/out" 2>"$tmp/err"
is "$?:$(cat "$tmp/out")$(cat "$tmp/err")" "1:" "qrm -f with nothing selected: silent, exit 1"
exim_on "$S" -bp >"$tmp/bp" 2>&1
! grep -q 'spool \(format\|read\) error' "$tmp/bp"; ok $? "exim -bp reads every message left"

done_testing
