#!/bin/bash
# A corpus of hostile spool files, each made from a real one (tests/hostile/make.py), on all
# three MTAs: length fields at and past their limits, NULs, invalid UTF-8, 1 MB lines and
# records, 100,000 recipients, deep trees (Exim's non-recipients tree, Postfix's hash
# directories, qmail's split directories), pointer chains and loops (Postfix), files replaced
# while the queue is read. For each: no crash, no hang, peak RSS under a bound, exit 2 with one
# clear line naming each damaged message (or exit 0 when the file is odd but valid), and every
# other message still listed. 21-exim-hostile.t, 30-qmail.t and 40-postfix.t hold the simpler
# cases (truncation, garbage, symlinks, FIFOs, one-record damage); this does not repeat them.
. "$(dirname "$0")/../lib.sh"

qt_labs exim main
qt_labs postfix short
tmp=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$tmp"' EXIT
MK=$QT_ROOT/tests/hostile/make.py
# peak RSS bound, KiB: the tools hold one message at a time (the biggest here is ~8 MB); the
# sanitized build (tests/run-asan) adds ASan's shadow memory and quarantine
LIMIT=${QT_RSS_LIMIT_KB:-65536}
[ -n "${QT_ASAN_REPORTS:-}" ] && LIMIT=$((LIMIT + 262144))

# scan NAME SPOOL WANT_RC DAMAGED_IDS OTHER_IDS_FILE [MORE]: qls over SPOOL, then the checks
# (MORE: how many other lines stderr has, for problems that are not one message's)
scan() {
    local name=$1 spool=$2 want=$3 damaged=$4 others=$5 more=${6:-0} rc rss
    timeout 300 /usr/bin/time -f %M -o "$tmp/rss" "$QT_BIN/qls" --spool "$spool" -i \
        >"$tmp/out" 2>"$tmp/err"
    rc=$?
    rss=$(tail -n 1 "$tmp/rss")
    is "$rc" "$want" "$name: exit $want (no crash, no hang)" || diag "$(head -c 2000 "$tmp/err")"
    [ "${rss:-999999999}" -lt "$LIMIT" ]; ok $? "$name: peak RSS ${rss} KiB < $LIMIT KiB"
    for id in $damaged; do
        [ "$(grep -c -- "$id" "$tmp/err")" = 1 ]
        ok $? "$name: $id named once on stderr" || diag "$(head -c 2000 "$tmp/err")"
        ! grep -qx -- "$id" "$tmp/out"; ok $? "$name: $id not listed"
    done
    [ -z "$damaged" ] && { [ ! -s "$tmp/err" ]; ok $? "$name: nothing on stderr" || diag "$(head -c 2000 "$tmp/err")"; }
    if [ -n "$damaged" ]; then
        [ "$(grep -c . "$tmp/err")" = "$(( $(wc -w <<<"$damaged") + more ))" ]
        ok $? "$name: one line per damaged message" || diag "$(head -c 2000 "$tmp/err")"
        ! grep -q '[[:cntrl:]]' "$tmp/err"; ok $? "$name: no control characters on stderr"
    fi
    grep -vxF -f "$tmp/out" "$others" >"$tmp/missing"
    [ ! -s "$tmp/missing" ]; ok $? "$name: every other message still listed" || diag "$(head "$tmp/missing")"
}
# listed NAME SPOOL ID: the message reads (qls ID exits 0) and its listing shows N recipients
listed() {
    local out
    out=$(timeout 300 "$QT_BIN/qls" --spool "$2" "$3" 2>&1)
    ok $? "$1: $3 is read by ID" || diag "$(head -c 1000 <<<"$out")"
}

# ================================================================ Exim
S0=$QT_LAB/exim/spools/main
mapfile -t E < <("$QT_BIN/qls" --spool "$S0" -i | sort)
fresh_exim() { rm -rf "$tmp/exim"; cp -a "$S0" "$tmp/exim"; S=$tmp/exim; }
H() { echo "$S/input/$1-H"; }
others() { printf '%s\n' "${E[@]}" | grep -vxF -f <(printf '%s\n' "$@") >"$tmp/others"; }

# length fields at their limits; NUL; bounds on counts
fresh_exim
# (valid: a length ending exactly at EOF; 16384 recipients, Exim's own maximum; invalid UTF-8:
# bytes are bytes; a tree 200,000 deep, read iteratively; a journal of 100,000 addresses)
python3 "$MK" exim-hdrlen "$(H "${E[0]}")" eof -- exim-hdrlen "$(H "${E[1]}")" eof+1 -- \
    exim-hdrlen "$(H "${E[2]}")" huge -- exim-rcpts "$(H "${E[3]}")" 16384 -- \
    exim-rcpts "$(H "${E[4]}")" 16385 -- exim-nul-sender "$(H "${E[5]}")" -- \
    exim-utf8 "$(H "${E[6]}")" -- exim-deeptree "$(H "${E[7]}")" 200000 -- \
    exim-journal "$S/input/${E[8]}-J" 100000 -- exim-time "$(H "${E[10]}")" -9223372036854775808 -- \
    exim-time "$(H "${E[11]}")" 253402300799
bad="${E[1]} ${E[2]} ${E[4]} ${E[5]} ${E[10]}"
others $bad
scan "exim limits" "$S" 2 "$bad" "$tmp/others"
grep -q "${E[1]}.*header length past the end" "$tmp/err"; ok $? "exim: a header one byte past EOF is called that"
grep -q "${E[4]}.*recipient count" "$tmp/err"; ok $? "exim: 16385 recipients: the count is refused"
grep -q "${E[10]}.*arrival time out of range" "$tmp/err"; ok $? "exim: an arrival time of -2^63 is refused"
for i in 0 3 6 7 8 11; do listed "exim limits" "$S" "${E[i]}"; done
timeout 60 "$QT_BIN/qsumm" --spool "$S" >/dev/null 2>&1; is "$?" 2 "exim: qsumm over it all: exit 2, no crash"
is "$("$QT_BIN/qls" --spool "$S" "${E[3]}" | grep -c '@many\.example')" 16384 "exim: all 16384 recipients listed"
"$QT_BIN/qls" --spool "$S" --json "${E[6]}" >"$tmp/json" 2>/dev/null
ok $? "exim: invalid UTF-8 listed in --json"
"$QT_BIN/qcat" --spool "$S" "${E[6]}" >/dev/null 2>&1; ok $? "exim: qcat shows the invalid UTF-8 message"
timeout 60 "$QT_BIN/qgrep" --spool "$S" -a -r 'd199999@tree' -i >"$tmp/out" 2>/dev/null
is "$(cat "$tmp/out")" "" "exim: a 200,000-deep tree's leaf is a generated address, not a recipient"

# 1 MB header lines in many messages: memory stays per message
fresh_exim
python3 "$MK" $(for i in 0 1 2 3 4 5 6 7; do echo exim-bigheaders "$(H "${E[i]}")" 4 --; done)
others
scan "exim 32 header lines of 1 MB" "$S" 0 "" "$tmp/others"
timeout 60 /usr/bin/time -f %M -o "$tmp/rss" "$QT_BIN/qgrep" --spool "$S" --header 'X-Big-3: y{100}' -c >"$tmp/out"
is "$(cut -d' ' -f1 "$tmp/out")" 8 "exim: qgrep --header matches the 8 messages with 1 MB headers"
[ "$(cat "$tmp/rss")" -lt "$LIMIT" ]; ok $? "exim: ... in $(cat "$tmp/rss") KiB"

# ================================================================ Postfix
P0=$QT_LAB/postfix/short/queue
mapfile -t P < <("$QT_BIN/qls" --spool "$P0" -i 2>/dev/null | sort)
pfpath() { find "$Q" -type f -name "$1" \( -path '*/deferred/*' -o -path '*/active/*' -o -path '*/incoming/*' -o -path '*/hold/*' \) | head -n 1; }
rm -rf "$tmp/pf"; cp -a "$P0" "$tmp/pf"; Q=$tmp/pf
# (files that end with the end record, as a finished queue file does: the damage goes
# right before it; a lab queue also holds files still being written)
ends() { [ "$(tail -c 2 "$1" | od -An -tx1 | tr -d ' \n')" = 4500 ]; }
mapfile -t V < <(for id in "${P[@]}"; do f=$(pfpath "$id"); [ -n "$f" ] && ends "$f" && echo "$id"; done |
    head -n 9)
[ ${#V[@]} -eq 9 ] || bail_out "postfix: too few queue files to damage"
# (pf-utf8 overwrites the sender in place, its length kept: V[4] must have one of 6 bytes or
# more, which a bounce's empty sender is not)
for i in 4 5 6 7 8; do
    s=$("$QT_BIN/qls" --spool "$P0" --json "${V[i]}" | jq -r 'select(.queue_id) | .sender')
    [ ${#s} -ge 6 ] && [ "$s" != MAILER-DAEMON ] && { s=${V[4]}; V[4]=${V[i]}; V[i]=$s; break; }
    [ "$i" = 8 ] && bail_out "postfix: no sender long enough to damage"
done
# (valid: 100,000 recipients; 50,000 pointers, each followed once; a 1 MB record; NUL and
# invalid UTF-8 in addresses)
python3 "$MK" pf-rcpts "$(pfpath "${V[0]}")" 100000 -- pf-chain "$(pfpath "${V[1]}")" 50000 -- \
    pf-loop2 "$(pfpath "${V[2]}")" -- pf-bigrec "$(pfpath "${V[3]}")" -- \
    pf-utf8 "$(pfpath "${V[4]}")" -- pf-lenbits "$(pfpath "${V[5]}")" -- \
    pf-hugesize "$(pfpath "${V[7]}")" -- pf-hugesize "$(pfpath "${V[8]}")"
# hash directories 17 deep (Postfix allows 16)
deep=$Q/deferred$(printf '/%s' 0 1 2 3 4 5 6 7 8 9 A B C D E F 0); mkdir -p "$deep"
mv "$(pfpath "${V[6]}")" "$deep/"
bad="${V[2]} ${V[5]}"
printf '%s\n' "${P[@]}" | grep -vxF -e "${V[2]}" -e "${V[5]}" -e "${V[6]}" >"$tmp/others"
scan "postfix limits" "$Q" 2 "$bad" "$tmp/others" 1   # + the hash directory too deep
grep -q 'deeper than 16' "$tmp/err"; ok $? "postfix: hash directories 17 deep are reported, not walked"
grep -q "${V[2]}.*loop" "$tmp/err"; ok $? "postfix: two pointers at each other: a loop"
grep -q "${V[5]}.*too many bits" "$tmp/err"; ok $? "postfix: a 35-bit record length is refused"
for i in 0 1 3 4; do listed "postfix limits" "$Q" "${V[i]}"; done
is "$("$QT_BIN/qls" --spool "$Q" "${V[0]}" | grep -c '@many\.example')" 100000 "postfix: all 100,000 recipients listed"
"$QT_BIN/qls" --spool "$Q" "${V[4]}" | grep -q 'caf?(?'; ok $? "postfix: invalid UTF-8 shown as showq shows it ('?')"
timeout 60 "$QT_BIN/qls" --spool "$Q" "${V[7]}" "${V[8]}" >"$tmp/out" 2>&1
ok $? "postfix: two messages of 2^63-1 bytes each are listed" || diag "$(cat "$tmp/out")"
grep -q '^-- 9007199254740991 Kbytes in 2 Requests\.$' "$tmp/out"; ok $? "postfix: ... their total held at the limit" || diag "$(tail -n 1 "$tmp/out")"
timeout 60 "$QT_BIN/qsumm" --spool "$Q" "${V[7]}" "${V[8]}" >"$tmp/out" 2>&1
ok $? "postfix: qsumm adds them up without overflowing" || diag "$(cat "$tmp/out")"
timeout 60 "$QT_BIN/qsumm" --json --spool "$Q" "${V[7]}" "${V[8]}" >"$tmp/out" 2>&1
ok $? "postfix: ... and so does qsumm --json" || diag "$(cat "$tmp/out")"
timeout 60 /usr/bin/time -f %M -o "$tmp/rss" "$QT_BIN/qcat" --spool "$Q" "${V[3]}" >/dev/null 2>&1
ok $? "postfix: qcat of a 1 MB record"
[ "$(cat "$tmp/rss")" -lt "$LIMIT" ]; ok $? "postfix: ... in $(cat "$tmp/rss") KiB"

# ================================================================ qmail
rm -rf "$tmp/qm"; mkdir "$tmp/qm"; tar -C "$tmp/qm" -xzf "$QT_ROOT/tests/fixtures/qmail/state-b.tar.gz" 2>/dev/null
Q=$tmp/qm/queue
mapfile -t M < <("$QT_BIN/qls" --spool "$Q" -i 2>/dev/null | sort)
split=$(ls "$Q/info" | wc -l)
qf() { echo "$Q/$1/$(( $2 % split ))/$2"; }
python3 "$MK" qm-rcpts "$(qf remote "${M[0]}")" 100000 -- qm-bigsender "$(qf info "${M[1]}")" -- \
    qm-utf8 "$(qf remote "${M[2]}")"                   # (valid: 100,000 recipients)
# a directory where info/N/ID should be a file, nested deep
rm "$(qf info "${M[3]}")"; mkdir -p "$(qf info "${M[3]}")/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0"
bad="${M[1]} ${M[2]} ${M[3]}"
printf '%s\n' "${M[@]}" | grep -vxF -e "${M[1]}" -e "${M[2]}" -e "${M[3]}" >"$tmp/others"
scan "qmail limits" "$Q" 2 "$bad" "$tmp/others"
listed "qmail limits" "$Q" "${M[0]}"
is "$("$QT_BIN/qls" --spool "$Q" "${M[0]}" | grep -c '@many\.example')" 100000 "qmail: all 100,000 recipients listed"

# ================================================================ replaced while read
# a writer keeps replacing one message's main file (valid, garbage, a symlink, gone, a FIFO)
# while qls reads the queue over and over: every run ends (0 or 2), names nothing but the
# victim, and lists every other message
replaced() {  # replaced NAME SPOOL FILE VICTIM_ID OTHERS
    local name=$1 spool=$2 file=$3 victim=$4 others=$5 i rc bad=0 crash=0 lost=0
    cp "$file" "$tmp/good"; head -c 3000 /dev/urandom >"$tmp/junk"
    ( while :; do
        cp "$tmp/good" "$file.tmp" && mv -f "$file.tmp" "$file"
        cp "$tmp/junk" "$file.tmp" && mv -f "$file.tmp" "$file"
        ln -sf /etc/passwd "$file.tmp" && mv -Tf "$file.tmp" "$file"
        rm -f "$file"
        mkfifo "$file.tmp" && mv -f "$file.tmp" "$file"
        rm -f "$file"
      done ) 2>/dev/null &
    local writer=$!
    for i in $(seq 1 12); do
        timeout 20 "$QT_BIN/qls" --spool "$spool" -i >"$tmp/out" 2>"$tmp/err"
        rc=$?
        [ $rc -eq 0 ] || [ $rc -eq 2 ] || { crash=$((crash + 1)); diag "run $i: exit $rc"; }
        grep -v -- "$victim" "$tmp/err" | grep -q . && { bad=$((bad + 1)); diag "$(head -3 "$tmp/err")"; }
        grep -vxF -f "$tmp/out" "$others" | grep -q . && lost=$((lost + 1))
    done
    kill "$writer"; wait "$writer" 2>/dev/null
    rm -f "$file" "$file.tmp"; cp "$tmp/good" "$file"
    is "$crash" 0 "$name: 12 scans while the file is replaced: no crash, no hang"
    is "$bad" 0 "$name: only the replaced message is ever reported"
    is "$lost" 0 "$name: every other message listed every time"
}
fresh_exim
others "${E[9]}"
replaced "exim replaced" "$S" "$(H "${E[9]}")" "${E[9]}" "$tmp/others"
rm -rf "$tmp/pf"; cp -a "$P0" "$tmp/pf"; Q=$tmp/pf
printf '%s\n' "${P[@]}" | grep -vxF "${V[7]}" >"$tmp/others"
replaced "postfix replaced" "$Q" "$(pfpath "${V[7]}")" "${V[7]}" "$tmp/others"
rm -rf "$tmp/qm"; mkdir "$tmp/qm"; tar -C "$tmp/qm" -xzf "$QT_ROOT/tests/fixtures/qmail/state-b.tar.gz" 2>/dev/null
Q=$tmp/qm/queue
printf '%s\n' "${M[@]}" | grep -vxF "${M[4]}" >"$tmp/others"
replaced "qmail replaced" "$Q" "$(qf info "${M[4]}")" "${M[4]}" "$tmp/others"

done_testing
