#!/bin/bash
# Damaged copies of a spool the real Exim wrote: every damaged message is reported on stderr
# by ID and skipped, everything else is listed exactly as exim -bp lists it, nothing crashes,
# nothing hangs, and the spool is not changed by reading it.
. "$(dirname "$0")/../lib.sh"

qt_labs exim main
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
chmod o+x "$tmp"   # exim drops to its own uid: it must reach the copy
S=$tmp/spool
cp -a "$QT_LAB/exim/spools/main" "$S"
EXIM="$QT_LAB/exim/bin/exim -DSPOOL=$S"
export QT_T0=$(cat "$QT_LAB/exim/golden/main/T0")

# pick victims among messages exim lists cleanly
mapfile -t ids < <(cd "$S/input" && ls -- *-H | sed 's/-H$//' | sort | head -n 12)
[ ${#ids[@]} -eq 12 ] || bail_out "the sample spool is too small"
H() { echo "$S/input/$1-H"; }

head -c 200 "$(H "${ids[0]}")" >"$tmp/x" && cat "$tmp/x" >"$(H "${ids[0]}")"       # truncated
head -c 4096 /dev/urandom >"$(H "${ids[1]}")"                                      # garbage
printf '%s-H\nroot 0 0\n<a@b>\n1767225000 0\nXX\n1\nr@x\n\n99999999999T To: x\n' "${ids[2]}" >"$(H "${ids[2]}")"  # huge length
sed -i '1s/.*/1zzzzz-zzzzzz-zz-H/' "$(H "${ids[3]}")"                               # wrong name inside
printf '%s-H\nroot 0 0\n<a@b>\n1767225000 0\nXX\n99999999\n' "${ids[4]}" >"$(H "${ids[4]}")"  # absurd rcpt count
awk 'BEGIN{n=0} /^-aclm /{sub(/ [0-9]+$/, " 999999")} {print}' "$(H "${ids[5]}")" >"$tmp/x"; cat "$tmp/x" >"$(H "${ids[5]}")"  # ACL length past EOF
python3 - "$(H "${ids[6]}")" <<'PY'            # a NUL inside a header
import sys; p = sys.argv[1]; b = open(p, 'rb').read(); i = b.rfind(b'Subject:')
open(p, 'wb').write(b[:i + 3] + b'\0' + b[i + 4:] if i > 0 else b[:-5] + b'\0' + b[-4:])
PY
rm "$(H "${ids[7]}")"                                                               # -D without -H
rm "$S/input/${ids[8]}-D"                                                           # -H without -D
ln -s /etc/passwd "$S/input/1zzzzz-zzzzzy-zz-H"                                     # a symlink
mkfifo "$S/input/1zzzzz-zzzzzx-zz-H"                                                # a FIFO: must not block
cp "$(H "${ids[9]}")" "$S/input/not-an-id-H"                                        # not a message name
damaged="${ids[0]} ${ids[1]} ${ids[2]} ${ids[3]} ${ids[4]} ${ids[5]} ${ids[6]} 1zzzzz-zzzzzy-zz 1zzzzz-zzzzzx-zz"

( cd "$tmp" && find spool -printf '%p %s %T@\n' | sort ) >"$tmp/before"
qt_faketime timeout 20 "$QT_BIN/qls" --spool "$S" >"$tmp/out" 2>"$tmp/err"
rc=$?
is "$rc" 2 "damaged spool: exit 2"
for id in $damaged; do
    grep -q "$id" "$tmp/err"; ok $? "reported on stderr: $id" || diag "$(cat "$tmp/err")"
    ! grep -q "$id" "$tmp/out"; ok $? "not listed: $id"
done
is "$(grep -c . "$tmp/err")" "$(wc -w <<<"$damaged")" "one line per damaged message"
( cd "$tmp" && find spool -printf '%p %s %T@\n' | sort ) >"$tmp/after"
is_same_file "$tmp/before" "$tmp/after" "reading changed nothing in the spool"
! grep -q "${ids[7]}" "$tmp/out" "$tmp/err"; ok $? "a -D without -H is not a message (reception in progress)"
grep -q "^ *[0-9]*[mhd]       ${ids[8]} <" "$tmp/out"; ok $? "a -H without -D is listed with a blank size"

# what exim lists cleanly, qls lists identically (exim -bp itself would block for ever on
# the FIFO: that one goes first)
rm "$S/input/1zzzzz-zzzzzx-zz-H"
qt_faketime $EXIM -bp 2>/dev/null | awk -v bad="$damaged" '
    BEGIN { n = split(bad, b, " "); for (i = 1; i <= n; i++) skip[b[i]] = 1 }
    /^$/ { if (!drop) printf "%s\n", entry; entry = ""; drop = 0; next }
    { entry = entry $0 "\n"; if (/spool (format|read) error/) drop = 1
      for (id in skip) if (index($0, id)) drop = 1 }' >"$tmp/exim"
is_same_file "$tmp/exim" "$tmp/out" "the rest equals exim -bp"

# IDs that name paths never reach the file system
for bad in '../x' '/etc/passwd' '..' 'a/b' "$(printf 'x\001y')"; do
    "$QT_BIN/qls" --spool "$S" "$bad" >/dev/null 2>"$tmp/err"
    is "$?" 2 "ID '$bad' refused with exit 2"
    grep -q 'not a valid exim queue ID' "$tmp/err"; ok $? "... and named as not valid"
done
printf '%s\0../x\0' "${ids[10]}" | "$QT_BIN/qls" --spool "$S" -0 -i - >"$tmp/out" 2>"$tmp/err"
is "$?" 2 "stdin IDs: a bad one is an error ..."
is "$(tr -d '\0' <"$tmp/out")" "${ids[10]}" "... and the good one is still listed"

# many header lines of 1 MB: bounded, no crash
id=${ids[11]}
python3 - "$(H "$id")" <<'PY'
import sys; p = sys.argv[1]; b = open(p, 'rb').read()
big = b'X-Big: ' + b'y' * (1 << 20) + b'\n'
open(p, 'wb').write(b + b'%03d  ' % len(big) + big)
PY
timeout 20 "$QT_BIN/qgrep" --spool "$S" --header 'X-Big: y{1000}' -i >"$tmp/out" 2>"$tmp/err"
is "$(cat "$tmp/out")" "$id" "a 1 MB header line is read and matched"

done_testing
