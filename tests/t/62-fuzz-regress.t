#!/bin/bash
# The fuzz targets (tests/fuzz, built by `make fuzz-build` with ASan+UBSan) replayed on every
# input that once crashed one of them (tests/fuzz/regress/TARGET/) and on seeds made from
# every real spool file the labs and fixtures hold: each must run clean, with no sanitizer
# report. `make fuzz` is the fuzzing itself; this is its regression test.
. "$(dirname "$0")/../lib.sh"

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
qt_labs exim main split frozenmove
qt_labs postfix short long
"$QT_ROOT/tests/fuzz/seeds" "$tmp/seed" >"$tmp/seeds.out" 2>&1
ok $? "seeds made from the real spools" || diag "$(cat "$tmp/seeds.out")"

replay() {  # replay TARGET WHAT DIR: every file of DIR through build/fuzz/fuzz_TARGET
    local bin=$QT_ROOT/build/fuzz/fuzz_$1 n
    n=$(find "$3" -type f 2>/dev/null | wc -l)
    if [ "$n" = 0 ]; then ok 0 "$1: no $2 to replay"; return; fi
    find "$3" -type f -print0 | sort -z |
        xargs -0 timeout 600 "$bin" -timeout=20 -rss_limit_mb=2048 >"$tmp/$1.$2.log" 2>&1
    ok $? "$1: $n $2 replayed clean" ||
        diag "$(grep -m 1 -B 4 -A 20 'ERROR\|runtime error' "$tmp/$1.$2.log" ||
            tail -n 30 "$tmp/$1.$2.log")"
}

for t in exim postfix qmail select merge expr; do
    [ -x "$QT_ROOT/build/fuzz/fuzz_$t" ]; ok $? "fuzz_$t is built (make fuzz-build)" || continue
    replay "$t" regressions "$QT_ROOT/tests/fuzz/regress/$t"
    replay "$t" seeds "$tmp/seed/$t"
done
done_testing
