#!/bin/bash
# 10-exim-lab.t -- the exim lab builds (tests/lab/exim-setup.sh, exim-spool.sh main/split/
# frozenmove), and what it built is sane: spools written by the real exim, complete goldens
# that exim reproduces at T0, nothing left running.
. "$(dirname "$0")/../lib.sh"
X=$QT_LAB/exim
LAB=$QT_ROOT/tests/lab
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

run_ok "exim-setup.sh" bash "$LAB/exim-setup.sh" || bail_out "the exim sandbox could not be built"
"$X/bin/exim" -bV | head -1 | grep -q '^Exim version 4\.96'
ok $? "the sandbox runs Debian's exim 4.96"

# the spools have their own ports and locks: build them side by side
SPOOLS="main split frozenmove"
for s in $SPOOLS; do
  bash "$LAB/exim-spool.sh" "$s" > "$TMP/$s.log" 2>&1 &
  eval "pid_$s=$!"
done
for s in $SPOOLS; do
  eval "wait \$pid_$s"
  ok $? "exim-spool.sh $s" || diag "$(tail -20 "$TMP/$s.log")"
done

for s in $SPOOLS; do
  S=$X/spools/$s G=$X/golden/$s
  [ -d "$S/input" ] && [ -d "$S/msglog" ]
  ok $? "$s: spool exists ($S)"
  [ ! -s "$X/logs/$s/paniclog" ]
  ok $? "$s: exim wrote no paniclog"
  is "$(cat "$G/T0" 2>/dev/null)" "$QT_T0" "$s: golden T0"
  [ -s "$G/MESSAGES" ] && [ "$(awk -F '\t' 'NF != 3' "$G/MESSAGES" | wc -l)" = 0 ]
  ok $? "$s: MESSAGES registry (LABEL TAB ID TAB QUEUE)"
  n=$(awk -F '\t' 'NF == 3 && $2 ~ /^[0-9]+$/' "$G/COMMANDS" 2>/dev/null | wc -l)
  [ "$n" -ge 40 ] && [ "$n" = "$(wc -l < "$G/COMMANDS")" ]
  ok $? "$s: COMMANDS has $n well-formed lines (FILE TAB RC TAB ARGS)"
  missing=$(cut -f1 "$G/COMMANDS" 2>/dev/null | while read -r f; do [ -e "$G/$f" ] || echo "$f"; done)
  is "$missing" "" "$s: every golden listed in COMMANDS exists"
  # the goldens are reproducible under the shared clock helper (what the tools under test use)
  qt_faketime "$X/bin/exim-$s" -bp > "$TMP/$s-bp" 2>&1
  is_same_file "$G/exim-bp.out" "$TMP/$s-bp" "$s: exim -bp at T0 matches the golden"
  PERL_HASH_SEED=0 PERL_PERTURB_KEYS=0 qt_faketime "$X/bin/exiqgrep-$s" -o 86400 -i > "$TMP/$s-qg" 2>&1
  is_same_file "$G/exiqgrep-o86400-i.out" "$TMP/$s-qg" "$s: exiqgrep -o 86400 -i at T0 matches the golden"
  # exim -bp sorts on (second, fraction), exiqgrep on the second: the lab makes them unique
  dup=$(find "$S" -name '??????-??????-??-H' -printf '%f\n' | cut -c1-6 | sort | uniq -d)
  is "$dup" "" "$s: no two messages share an arrival second"
done

# main: the variety the other tests rely on
n=$("$X/bin/exim-main" -bpc)
[ "$n" -gt 40 ]; ok $? "main: exim -bpc = $n (> 40)"
is "$("$X/bin/exim-main" -qGslow -bpc)" 2 "main: 2 messages in the named queue 'slow'"
is "$(find "$X/spools/main/input" -name '*-J' | wc -l)" 1 "main: one leftover -J journal"
grep -q '\*\*\* frozen \*\*\*$' "$X/golden/main/exim-bp.out"
ok $? "main: frozen messages listed"
for sz in ' 1023' ' 1.0K' '10.0K' '  10K' '1024K' ' 1.0M' '10.0M' '  10M'; do
  grep -q "^ *[0-9]*[mhd] $sz " "$X/golden/main/exim-bp.out"
  ok $? "main: a message listed with size '$sz'"
done
for age in ' 0m' ' 5m' '59m' '89m' '90m' ' 2h' ' 3h' '26h' '72h' ' 3d' '10d' '100d'; do
  grep -q "^$age " "$X/golden/main/exim-bp.out"
  ok $? "main: a message aged '$age'"
done
grep -q '"john smith"@quoted.example' "$X/golden/main/exim-bp.out"
ok $? "main: the quoted local part is listed"
n=$("$X/bin/exim-split" -bpc)
[ "$n" -gt 40 ]; ok $? "split: exim -bpc = $n (> 40)"
ls -d "$X"/spools/split/input/?/ >/dev/null 2>&1
ok $? "split: input/X subdirectories"
[ -d "$X/spools/frozenmove/Finput" ] && [ -s "$X/golden/frozenmove/exipick-finput-i.out" ]
ok $? "frozenmove: Finput/ holds frozen messages"

# nothing left running: the daemons the lab started (recorded by PID in run/pids-NAME; a live
# PID only counts if it still runs the lab's exim), nor any other daemon of the lab's exim
left=
for f in "$X"/run/pids-*; do
  [ -e "$f" ] || continue
  while read -r pid what; do
    kill -0 "$pid" 2>/dev/null && [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$X/bin/exim4-nosuid" ] && left="$left $pid($what)"
  done < "$f"
done
is "$left" "" "the daemons the lab started are gone (by PID)"
left=
for p in /proc/[0-9]*; do
  [ "$(readlink "$p/exe" 2>/dev/null)" = "$X/bin/exim4-nosuid" ] && tr '\0' ' ' < "$p/cmdline" | grep -q -- ' -bd' \
    && left="$left ${p#/proc/}"
done
is "$left" "" "no exim daemon of the lab is running"
busy=
for port in $(seq 29425 29430); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && busy="$busy $port"
done
is "$busy" "" "nothing listens on the lab ports 29425-29430"

# idempotent: a second run only checks its stamp, the spool stays as it is
cp "$X/golden/main/MESSAGES" "$TMP/messages-before"
out=$(bash "$LAB/exim-spool.sh" main 2>&1)
echo "$out" | grep -q 'up to date'; ok $? "exim-spool.sh main is idempotent (stamp)" || diag "$out"
is_same_file "$TMP/messages-before" "$X/golden/main/MESSAGES" "... and did not rebuild the spool"

done_testing
