#!/bin/bash
# qrm, qfreeze, qrun on queues a real qmail wrote (tests/fixtures/qmail, notqmail 1.09).
#
# qmail-send "running" means: someone holds flock(LOCK_EX) on lock/sendmutex. Here that is a
# small helper (perl, started through a symlink named qmail-send so that its process name is
# qmail-send's) which holds the flock and writes one line to a file per SIGALRM it gets.
# "Stopped": nobody holds it. Nothing here runs qmail itself (Debian does not package it);
# the truth is the fixtures' own files: every file not acted on must keep its bytes and its
# inode, and what the tools list afterwards is qmail-qread's golden minus what was removed.
. "$(dirname "$0")/../lib.sh"

. "$QT_ROOT/tests/act-qmail.sh"

# ================================================================ qmail-send stopped: qrm
extract d rm
Q=$tmp/rm/queue
snap "$Q" >"$tmp/before"
"$B/qrm" --spool "$Q" 2>"$tmp/err"
is "$?" 2 "qrm without a selection refuses ..."
grep -q ALL "$tmp/err"; ok $? "... saying that everything is ALL"
"$B/qrm" --spool "$Q" -n ALL >"$tmp/out" 2>"$tmp/err"
is "$?" 0 "qrm -n ALL: exit 0"
is "$(sed -n 's/^would remove //p' "$tmp/out" | sort)" "$("$B/qls" --spool "$Q" -i | sort)" \
    "qrm -n ALL names every message qls lists"
is_same_file "$tmp/before" <(snap "$Q") "qrm -n ALL changed nothing"

# by selector, with --save
mapfile -t sel < <("$B/qgrep" --spool "$Q" -i -f '^<alice@')
[ ${#sel[@]} -ge 3 ] || bail_out "state d: too few messages from alice"
"$B/qcat" --spool "$Q" "${sel[@]}" >"$tmp/qcat.before" 2>&1
"$B/qrm" --spool "$Q" -i -f '^<alice@' --save "$tmp/saved" >"$tmp/out" 2>"$tmp/err"
is "$?" 0 "qrm -f '^<alice@' (${#sel[@]} messages): exit 0"
is "$(sort "$tmp/out")" "$(printf '%s\n' "${sel[@]}" | sort)" "qrm -i printed exactly the selected IDs"
is "$(tail -1 "$tmp/err")" "qrm: ${#sel[@]} removed" "qrm: '${#sel[@]} removed' on stderr, nothing else"
gone=0
for id in "${sel[@]}"; do [ -z "$(files_of "$Q" "$id")" ] || { gone=1; diag "left: $(files_of "$Q" "$id")"; }; done
ok $gone "every file of every removed message is gone (mess, info, local, remote, bounce)"
snap "$Q" >"$tmp/after"
is_same_file <(without "$tmp/before" "${sel[@]}") "$tmp/after" \
    "every other file: same bytes, same inode, same mode, owner and mtime"
"$B/qls" --spool "$Q" >"$tmp/qls" 2>&1
is_same_file <(blocks "$F/d/qmail-qread.txt" | drop_blocks /dev/stdin "${sel[@]}") <(blocks "$tmp/qls") \
    "qls afterwards = qmail-qread's listing without the removed messages"
"$B/qcat" --spool "$tmp/saved" "${sel[@]}" >"$tmp/qcat.saved" 2>&1
is_same_file "$tmp/qcat.before" "$tmp/qcat.saved" "--save: qcat --spool SAVED reads each message as it was"
is "$("$B/qls" --spool "$tmp/saved" -i | sort)" "$(printf '%s\n' "${sel[@]}" | sort)" \
    "--save: the saved queue lists exactly the removed messages"

# IDs piped from qgrep
snap "$Q" >"$tmp/before"
mapfile -t sel < <("$B/qgrep" --spool "$Q" -i -f '^<bob@lab\.example>$')
[ ${#sel[@]} -ge 2 ] || bail_out "state d: too few messages from bob"
"$B/qgrep" --spool "$Q" -f '^<bob@lab\.example>$' -i | "$B/qrm" --spool "$Q" - 2>"$tmp/err"
is "$?" 0 "qgrep -f bob -i | qrm -: exit 0"
snap "$Q" >"$tmp/after"
is_same_file <(without "$tmp/before" "${sel[@]}") "$tmp/after" "... removed exactly those ${#sel[@]}, every other file intact"
is "$(only "$tmp/after" "${sel[@]}")" "" "... and all of their files"

# a malformed ID among good ones: nothing done
snap "$Q" >"$tmp/before"
victim=$("$B/qls" --spool "$Q" -i | head -1)
printf '%s\n../x\n' "$victim" | "$B/qrm" --spool "$Q" - 2>"$tmp/err"
is "$?" 2 "a malformed ID on stdin: exit 2 ..."
grep -q '^qrm: \.\./x: not a valid qmail queue ID' "$tmp/err"; ok $? "... naming it"
is_same_file "$tmp/before" <(snap "$Q") "... and nothing removed, not even the good ID"
for bad in '../x' '/etc/passwd' '..' '1/2' '007' '0' '-1' '18446744073709551616'; do
    "$B/qrm" --spool "$Q" -- "$bad" 2>"$tmp/err"
    is "$?$(grep -c 'not a valid qmail queue ID' "$tmp/err")" 21 "qrm $(printf %q "$bad"): refused as not a valid ID"
    "$B/qfreeze" --spool "$Q" -- "$bad" 2>/dev/null
    is "$?" 2 "qfreeze $(printf %q "$bad"): refused"
done
is_same_file "$tmp/before" <(snap "$Q") "no hostile ID changed anything"
# a well-formed ID that is not there
"$B/qrm" --spool "$Q" 123456789 2>"$tmp/err"
is "$?" 2 "a missing ID: exit 2 ..."
grep -q '^qrm: 123456789: no such message' "$tmp/err"; ok $? "... 'qrm: ID: no such message'"

# crash leftovers: reported by ID, never touched (a qmail-queue may still be writing them)
KEEP=1 extract d left
Q=$tmp/left/queue
snap "$Q" >"$tmp/before"
for id in $(leftovers d); do
    "$B/qrm" --spool "$Q" "$id" 2>"$tmp/err"
    is "$?" 2 "crash leftover $id: qrm exits 2 ..."
    grep -q "^qrm: $id: crash leftover" "$tmp/err"; ok $? "... calling it a crash leftover"
done
is_same_file "$tmp/before" <(snap "$Q") "... and the leftovers are untouched"

# ================================================================ qmail-send stopped: qfreeze
extract d frz
Q=$tmp/frz/queue
snap "$Q" >"$tmp/orig"
mapfile -t sel < <("$B/qgrep" --spool "$Q" -i -f '^<>$')
[ ${#sel[@]} -ge 2 ] || bail_out "state d: too few bounces"
"$B/qfreeze" --spool "$Q" -i -f '^<>$' >"$tmp/out" 2>"$tmp/err"
is "$?" 0 "qfreeze -f '^<>\$' (${#sel[@]} bounces): exit 0"
is "$(sort "$tmp/out")" "$(printf '%s\n' "${sel[@]}" | sort)" "qfreeze -i printed exactly the selected IDs"
is "$(snap "$Q" | grep -v '^qtools-hold/')" "$(without "$tmp/orig" "${sel[@]}")" \
    "the queue keeps every other file as it was, and no file of the held messages"
is "$(snap "$Q" | sed -n 's,^qtools-hold/,,p')" "$(only "$tmp/orig" "${sel[@]}")" \
    "qtools-hold/ has each of their files at its relative path: same bytes, same inode"
is "$(find "$Q/qtools-hold" -type d -printf '%m %U:%G\n' | sort -u)" "700 $(stat -c %u:%g "$Q")" \
    "qtools-hold/ and its directories: mode 0700, owned like the queue"
is "$("$B/qgrep" --spool "$Q" -z -i | sort)" "$(printf '%s\n' "${sel[@]}" | sort)" "qgrep -z selects the held messages"
is "$("$B/qgrep" --spool "$Q" -x -i | grep -cxF -f <(printf '%s\n' "${sel[@]}"))" 0 "qgrep -x selects none of them"
is "$("$B/qls" --spool "$Q" --json -z | jq -r 'select(.type == "message") | "\(.queue_id) \(.state) \(.queue_name)"' | sort)" \
    "$(printf '%s hold hold\n' "${sel[@]}" | sort)" "qls --json: state hold, queue hold"
"$B/qls" --spool "$Q" -z >"$tmp/qls"
is_same_file <(blocks "$F/d/qmail-qread.txt" | awk -v ids="${sel[*]}" '
        BEGIN { n = split(ids, a, " "); for (i = 1; i <= n; i++) keep["#" a[i]] = 1 }
        $6 in keep { if (index($0, "\\n")) sub(/\\n/, " hold\\n"); else $0 = $0 " hold"; print }') \
    <(blocks "$tmp/qls") "qls -z: each held message as qmail-qread showed it, marked hold"
"$B/qls" --spool "$Q" -G queue >"$tmp/qls"
is_same_file <(blocks "$F/d/qmail-qread.txt" | drop_blocks /dev/stdin "${sel[@]}") <(blocks "$tmp/qls") \
    "qls -G queue (what qmail-qread reads) no longer shows them"
"$B/qcat" --spool "$Q" -e "${sel[0]}" >"$tmp/out" 2>&1
is "$?" 0 "qcat reads a held message"
"$B/qfreeze" --spool "$Q" "${sel[0]}" 2>"$tmp/err"
is "$?" 1 "qfreeze on a held message: nothing to do, exit 1"
grep -q "1 already so" "$tmp/err"; ok $? "... counted as already so"
"$B/qfreeze" -u --spool "$Q" "$("$B/qgrep" --spool "$Q" -x -i | head -1)" 2>"$tmp/err"
is "$?" 1 "qfreeze -u on a message not on hold: exit 1, 'not on hold'"
"$B/qgrep" --spool "$Q" -z -i | "$B/qfreeze" -u --spool "$Q" - 2>"$tmp/err"
is "$?" 0 "qgrep -z -i | qfreeze -u -: exit 0"
is "$(snap "$Q")" "$(cat "$tmp/orig")" "after qfreeze -u every file is back: same path, bytes, inode, mode, owner, mtime"
"$B/qls" --spool "$Q" >"$tmp/qls"
is_same_file <(blocks "$F/d/qmail-qread.txt") <(blocks "$tmp/qls") "qls = qmail-qread again"

# on hold, then removed (qmail-send never reads the hold area)
"$B/qfreeze" --spool "$Q" "${sel[0]}" 2>/dev/null && "$B/qrm" --spool "$Q" "${sel[0]}" 2>/dev/null
ok $? "qfreeze then qrm of ${sel[0]}"
is "$(snap "$Q" | grep -c "/${sel[0]} ")" 0 "... no file of it is left anywhere"

# a message not preprocessed yet (state a, todo/ + intd/, one inode twice)
extract a frza
Q=$tmp/frza/queue
snap "$Q" >"$tmp/orig"
id=$("$B/qls" --spool "$Q" -i | head -1)
"$B/qfreeze" --spool "$Q" "$id" 2>/dev/null
is "$?" 0 "qfreeze of $id, still in todo/"
is "$("$B/qls" --spool "$Q" "$id" | head -1 | grep -o ' todo hold$')" " todo hold" "... listed as ' todo hold'"
is "$("$B/qls" --spool "$Q" --json "$id" | jq -r 'select(.type == "message") | .state')" hold "... state hold"
is "$(stat -c %h "$Q/qtools-hold/todo/$id")" 2 "... todo/ and intd/ still one inode"
"$B/qfreeze" -u --spool "$Q" "$id" 2>/dev/null
is "$(snap "$Q")" "$(cat "$tmp/orig")" "... and qfreeze -u puts back every file as it was"

# the big-todo patch (todo/N/ID, intd/N/ID): the hold area has the same layout
extract a big
Q=$tmp/big/queue
perl -e 'my $q = shift; for my $k (qw(todo intd)) {
    rename "$q/$k", "$q/$k.old" or die; mkdir "$q/$k" or die; mkdir "$q/$k/$_" or die for 0 .. 22;
    for my $f (glob("$q/$k.old/*")) { my ($id) = $f =~ m{/(\d+)$} or next;
        rename $f, "$q/$k/" . ($id % 23) . "/$id" or die } rmdir "$q/$k.old" or die }' "$Q" ||
    bail_out "big-todo conversion failed"
snap "$Q" >"$tmp/orig"
mapfile -t sel < <("$B/qgrep" --spool "$Q" -i -f '^<bob@')
[ ${#sel[@]} -ge 1 ] || bail_out "big-todo: no message from bob"
"$B/qfreeze" --spool "$Q" -f '^<bob@' 2>/dev/null
is "$?$(find "$Q/qtools-hold/todo" -mindepth 2 -type f | wc -l)" "0${#sel[@]}" \
    "big-todo: qfreeze puts todo/N/ID at qtools-hold/todo/N/ID (${#sel[@]} messages)"
is "$("$B/qgrep" --spool "$Q" -z -i | sort)" "$(printf '%s\n' "${sel[@]}" | sort)" "big-todo: qgrep -z lists them"
"$B/qfreeze" -u --spool "$Q" -z 2>/dev/null
is "$(snap "$Q" | grep -v '^qtools-hold')" "$(cat "$tmp/orig")" "big-todo: qfreeze -u puts every file back as it was"

# ================================================================ qmail-send running
extract d run
Q=$tmp/run/queue
start_send "$Q"
snap "$Q" >"$tmp/before"
"$B/qfreeze" --spool "$Q" -f '^<alice@' 2>"$tmp/err"
is "$?" 2 "running: qfreeze refuses, exit 2 ..."
grep -q 'qmail-send is running' "$tmp/err" && grep -q 'svc -d' "$tmp/err"
ok $? "... saying that qmail-send runs and how to stop it" || diag "$(cat "$tmp/err")"
is_same_file "$tmp/before" <(snap "$Q") "... and changes nothing"
[ ! -e "$Q/qtools-hold" ]; ok $? "... not even a hold directory"

mapfile -t sel < <("$B/qgrep" --spool "$Q" -i -f '^<alice@')
[ ${#sel[@]} -ge 1 ] || bail_out "running: no message from alice"
nrcpt=$("$B/qls" --spool "$Q" "${sel[@]}" | grep -c $'\t')
extract d run.orig
"$B/qrm" --spool "$Q" -i -f '^<alice@' >"$tmp/out" 2>"$tmp/err"
is "$?" 0 "running: qrm -f '^<alice@' exit 0"
is "$(sort "$tmp/out")" "$(printf '%s\n' "${sel[@]}" | sort)" "... printed the selected IDs"
is "$(alrms)" 1 "... and qmail-send got exactly one ALRM"
snap "$Q" >"$tmp/after"
flips=0 others=0 nflip=0 nt=0
for id in "${sel[@]}"; do
    for c in local remote; do
        f=$c/$((id % 23))/$id
        o=$tmp/run.orig/queue/$f
        [ -e "$o" ] || continue
        # every differing byte: a T at the start of a record that is now a D
        bad=$(cmp -l "$o" "$Q/$f" | perl -e '
            my ($orig) = @ARGV; open my $fh, "<", $orig or die; local $/; my $d = <$fh>;
            my %start = (0 => 1); $start{$-[0] + 1} = 1 while $d =~ /\0/g;
            while (<STDIN>) { my ($pos, $a, $b) = split; my $off = $pos - 1;
                print "byte $off: $a -> $b\n" unless $a eq "124" && $b eq "104" && $start{$off} }' "$o")
        [ -z "$bad" ] || { flips=1; diag "$f: $bad"; }
        [ "$(tr '\0' '\n' <"$Q/$f" | grep -c '^T')" = 0 ] || { flips=1; diag "$f: a T is left"; }
        [ "$(stat -c %s "$o")" = "$(stat -c %s "$Q/$f")" ] || { flips=1; diag "$f: size changed"; }
        nt=$((nt + $(tr '\0' '\n' <"$o" | grep -c '^T'))) nflip=$((nflip + $(cmp -l "$o" "$Q/$f" | wc -l)))
    done
    [ ! -e "$Q/bounce/$id" ] || { others=1; diag "bounce/$id is still there"; }
done
ok $flips "running: local/ and remote/ of the removed messages differ only by T -> D at record starts"
is "$nflip" "$nt" "running: one byte changed per pending recipient ($nt)"
ok $others "running: their bounce/ files are gone (the sender is not told, as with qrm offline)"
is_same_file <(awk '$1 !~ /^(local|remote|bounce)\//' <(only "$tmp/before" "${sel[@]}")) \
    <(awk '$1 !~ /^(local|remote|bounce)\//' <(only "$tmp/after" "${sel[@]}")) \
    "running: their mess/ and info/ are left for qmail-send to remove"
is_same_file <(without "$tmp/before" "${sel[@]}") <(without "$tmp/after" "${sel[@]}") \
    "running: every file of every other message intact"
"$B/qls" --spool "$Q" "${sel[@]}" >"$tmp/qls" 2>&1
is "$(grep -c $'^\t' "$tmp/qls")$(grep -c bouncing "$tmp/qls")" 00 \
    "running: qls shows every recipient of theirs done, none bouncing"
is "$(grep -c $'^  done\t' "$tmp/qls")" "$nrcpt" "running: ... and every recipient is still listed"
# the same removal again, before qmail-send finished them: nothing to do, and no second ALRM
snap "$Q" >"$tmp/before2"
"$B/qrm" --spool "$Q" -i -f '^<alice@' >"$tmp/out" 2>"$tmp/err"
is "$?:$(wc -c <"$tmp/out")" "1:0" "running: qrm of the same messages again: exit 1, no ID printed ..."
is "$(grep -c ': already removed, waiting for qmail-send' "$tmp/err"):$(tail -1 "$tmp/err")" \
    "${#sel[@]}:qrm: 0 removed, ${#sel[@]} already so" "... each 'already removed, waiting for qmail-send'"
is "$(alrms)" 1 "... and qmail-send got no second ALRM"
is_same_file "$tmp/before2" <(snap "$Q") "... and nothing changed"
"$B/qrm" --spool "$Q" -n "${sel[0]}" "${sel[0]}" >"$tmp/out" 2>"$tmp/err"
is "$?:$(cat "$tmp/out"):$(cat "$tmp/err")" "1::qrm: ${sel[0]}: already removed, waiting for qmail-send (no recipient left to deliver; it finishes the message at its next pass)
qrm: 0 would be removed, 1 already so" "... qrm -n says so too, once for an ID given twice"

# qrun: an ALRM to qmail-send, whatever the IDs
"$B/qrun" --spool "$Q" -n ALL >"$tmp/out" 2>&1
is "$(cat "$tmp/out")" "/bin/kill -ALRM $hp" "qrun -n ALL: /bin/kill -ALRM <qmail-send's PID>"
id=$("$B/qls" --spool "$Q" -i | tail -1)
"$B/qrun" --spool "$Q" -n "$id" >"$tmp/out" 2>&1
is "$(cat "$tmp/out")" "/bin/kill -ALRM $hp" "qrun -n ID: the same (qmail has no per-message run)"
n0=$(alrms)
"$B/qrun" --spool "$Q" ALL 2>"$tmp/err"
is "$?" 0 "qrun ALL: exit 0"
"$B/qrun" --spool "$Q" "$id" 2>"$tmp/err"
is "$?" 0 "qrun ID: exit 0"
is "$(alrms)" "$((n0 + 2))" "qmail-send got one ALRM per qrun"

# a held message cannot be released while qmail-send runs; removing it is fine
stop_send
"$B/qfreeze" --spool "$Q" "$id" 2>/dev/null; ok $? "stopped: qfreeze $id"
start_send "$Q"
snap "$Q" >"$tmp/before"
"$B/qfreeze" -u --spool "$Q" "$id" 2>"$tmp/err"
is "$?" 2 "running: qfreeze -u refuses, exit 2"
is_same_file "$tmp/before" <(snap "$Q") "... and changes nothing"
"$B/qrm" --spool "$Q" "$id" 2>"$tmp/err"
is "$?" 0 "running: qrm of a held message ..."
is "$(snap "$Q" | grep -c "/$id ")" 0 "... removes its files from the hold area"
is "$(alrms)" 0 "... and sends no ALRM (qmail-send never knew it)"
stop_send

# a message still in todo/ belongs to qmail-send until preprocessed
extract a runa
Q=$tmp/runa/queue
start_send "$Q"
snap "$Q" >"$tmp/before"
id=$("$B/qls" --spool "$Q" -i | head -1)
"$B/qrm" --spool "$Q" "$id" 2>"$tmp/err"
is "$?" 2 "running: qrm of $id (in todo/) exits 2 ..."
grep -q "^qrm: $id: not preprocessed yet" "$tmp/err"; ok $? "... saying it is not preprocessed yet" || diag "$(cat "$tmp/err")"
is_same_file "$tmp/before" <(snap "$Q") "... and changes nothing"
is "$(alrms)" 0 "... and sends no ALRM"
stop_send

# the lock held by something that is not qmail-send: marks done, but signals nobody
extract d runx
Q=$tmp/runx/queue
start_send "$Q" not-qmail
id=$("$B/qgrep" --spool "$Q" -i -r . | head -1)
"$B/qrm" --spool "$Q" "$id" 2>"$tmp/err"
is "$?" 2 "lock held by a process not named qmail-send: qrm exits 2 ..."
grep -q 'not qmail-send: no signal sent' "$tmp/err"; ok $? "... sending no signal" || diag "$(cat "$tmp/err")"
is "$(alrms)" 0 "... (the holder got none)"
is "$("$B/qls" --spool "$Q" "$id" | grep -c $'^\t')" 0 "... the recipients are marked done all the same"
stop_send

# stopped: qrun has nothing to wake
"$B/qrun" --spool "$Q" ALL 2>"$tmp/err"
is "$?" 2 "stopped: qrun exits 2 ..."
grep -q 'qmail-send is not running' "$tmp/err"; ok $? "... saying qmail-send is not running"

# ================================================================ hostile
extract d h
Q=$tmp/h/queue
mapfile -t v < <("$B/qgrep" --spool "$Q" -i -r '^tmp-' | head -3)
printf 'Tevil@example.com\0' >"$tmp/evil"; cp "$tmp/evil" "$tmp/evil.orig"
f=$(cd "$Q" && ls {local,remote}/$((v[0] % 23))/"${v[0]}" 2>/dev/null | head -1)
rm "$Q/$f"; ln -s "$tmp/evil" "$Q/$f"
snap "$Q" >"$tmp/before"
"$B/qrm" --spool "$Q" "${v[0]}" 2>"$tmp/err"
is "$?" 2 "stopped: a message with a symlinked $f: qrm exits 2 ..."
grep -q "^qrm: ${v[0]}: $f: is a symbolic link" "$tmp/err"; ok $? "... naming the ID and the file" || diag "$(cat "$tmp/err")"
is_same_file "$tmp/before" <(snap "$Q") "... and leaves the message alone"
start_send "$Q"
"$B/qrm" --spool "$Q" "${v[0]}" 2>"$tmp/err"
is "$?" 2 "running: the same qrm exits 2 ..."
cmp -s "$tmp/evil" "$tmp/evil.orig"; ok $? "... and wrote nothing through the symlink"
is_same_file "$tmp/before" <(snap "$Q") "... nor anywhere else"
stop_send

# the hold area, or a directory in it, replaced by a symlink: never followed
mkdir "$tmp/outside"
ln -s "$tmp/outside" "$Q/qtools-hold"
snap "$Q" >"$tmp/before"
"$B/qfreeze" --spool "$Q" "${v[1]}" 2>"$tmp/err"
is "$?" 2 "qtools-hold is a symlink: qfreeze exits 2 ..."
grep -q "^qfreeze: ${v[1]}: .*qtools-hold/: not a directory" "$tmp/err"; ok $? "... saying so" || diag "$(cat "$tmp/err")"
is "$(find "$tmp/outside" | wc -l)" 1 "... nothing written where it points"
is_same_file "$tmp/before" <(snap "$Q") "... nothing moved"
"$B/qls" --spool "$Q" >/dev/null 2>"$tmp/err"
is "$?" 2 "... qls reports it (exit 2)"
rm "$Q/qtools-hold"
mkdir -m 0700 "$Q/qtools-hold"; ln -s "$tmp/outside" "$Q/qtools-hold/mess"
"$B/qfreeze" --spool "$Q" "${v[1]}" 2>"$tmp/err"
is "$?" 2 "qtools-hold/mess is a symlink: qfreeze exits 2 ..."
is "$(find "$tmp/outside" | wc -l)" 1 "... nothing written where it points"
is_same_file <(grep -v '^qtools-hold' "$tmp/before") <(snap "$Q" | grep -v '^qtools-hold') "... nothing moved"
rm -r "$Q/qtools-hold"
# a file already in the hold area: never overwritten, the message stays whole in the queue
mkdir -p -m 0700 "$Q/qtools-hold/mess/$((v[2] % 23))"; echo keep >"$Q/qtools-hold/mess/$((v[2] % 23))/${v[2]}"
snap "$Q" >"$tmp/before"
"$B/qfreeze" --spool "$Q" "${v[2]}" 2>"$tmp/err"
is "$?" 2 "a file of the same name already on hold: qfreeze exits 2 ..."
grep -q "^qfreeze: ${v[2]}: qtools-hold/mess/$((v[2] % 23))/${v[2]} exists already" "$tmp/err"; ok $? "... saying so" || diag "$(cat "$tmp/err")"
is_same_file "$tmp/before" <(snap "$Q") "... and every file it had moved is back in the queue"

done_testing
