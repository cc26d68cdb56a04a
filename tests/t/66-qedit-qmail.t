#!/bin/bash
# qedit on queues a real qmail wrote (tests/fixtures/qmail, notqmail 1.09): --mark-delivered
# and --mark-all-delivered turn T records into D in place, as qmail-send's own markdone does,
# whether qmail-send runs or not; --set-sender rewrites info/ and --add-recipient local/ or
# remote/ (as control/locals and control/virtualdomains say) with qmail-send stopped, and are
# refused while it runs, nothing done.
# (The helpers, and the fake qmail-send, are 55-qmail-act.t's.)
#
# qmail-send "running" means: someone holds flock(LOCK_EX) on lock/sendmutex. Here that is a
# small helper (perl, started through a symlink named qmail-send so that its process name is
# qmail-send's) which holds the flock and writes one line to a file per SIGALRM it gets.
# "Stopped": nobody holds it. Nothing here runs qmail itself (Debian does not package it);
# the truth is the fixtures' own files: every file not acted on must keep its bytes and its
# inode, and what the tools list afterwards is qmail-qread's golden minus what was removed.
. "$(dirname "$0")/../lib.sh"

. "$QT_ROOT/tests/act-qmail.sh"

rfile() { echo "$1/remote/$(($2 % 23))/$2"; }
done_in() {  # done_in ID ADDR... <BLOCKS: the blocks with those recipients of ID done
    local id=$1; shift
    perl -e '
        my ($id, @a) = @ARGV; @ARGV = ();
        while (<>) { if (/  #\Q$id\E  /) { for my $a (@a) { s/\\n\t(remote|local)\t\Q$a\E(?=\\n|$)/\\n  done\t$1\t$a/g } } print }' "$id" "$@"
}

# ================================================================ qmail-send stopped
extract d st
Q=$tmp/st/queue
snap "$Q" >"$tmp/before"
cp "$(rfile "$Q" 10971599)" "$tmp/r0"
ino=$(stat -c %i "$(rfile "$Q" 10971599)")
"$B/qedit" --spool "$Q" --mark-delivered tmp-cc@example.com 10971599 2>"$tmp/err"
is "$?" 0 "qedit --mark-delivered, qmail-send stopped: exit 0"
is "$(cat "$tmp/err")" "qedit: 1 changed (marked delivered)" "... the count on stderr"
snap "$Q" >"$tmp/after"
is_same_file <(without "$tmp/before" 10971599) <(without "$tmp/after" 10971599) "... every other message untouched"
at=$(grep -boa 'Ttmp-cc@example.com' "$tmp/r0" | cut -d: -f1)
is "$(cmp -l "$tmp/r0" "$(rfile "$Q" 10971599)" | awk '{ print $1, $2, $3 }')" "$((at + 1)) 124 104" \
    "... one byte of remote/ changed, T to D, at the record's offset"
is "$(stat -c %i "$(rfile "$Q" 10971599)")" "$ino" "... in place (same inode)"
is_same_file <(blocks "$F/d/qmail-qread.txt" | done_in 10971599 tmp-cc@example.com) <(blocks <("$B/qls" --spool "$Q")) \
    "qls = qmail-qread's listing with that recipient done"
# duplicates: both records of the address
"$B/qedit" --spool "$Q" --mark-delivered '<tmp-dup@example.com>' 10971621 2>/dev/null
is "$?" 0 "--mark-delivered of a duplicated recipient ..."
is "$(tr '\0' '\n' <"$(rfile "$Q" 10971621)")" "$(printf 'Dtmp-dup@example.com\nDtmp-dup@example.com')" "... marks both records"
"$B/qedit" --spool "$Q" --mark-delivered tmp-dup@example.com 10971621 2>"$tmp/err"
is "$?" 1 "marking it again: nothing to do, exit 1"
grep -q 'delivered already' "$tmp/err"; ok $? "... said"

# refusals leave every byte
snap "$Q" >"$tmp/before"
"$B/qedit" --spool "$Q" --mark-delivered nobody@example.com 10971599 2>"$tmp/err"
is "$?" 2 "a non-recipient: exit 2"
grep -q 'is not a recipient' "$tmp/err"; ok $? "... said"
"$B/qedit" --spool "$Q" --mark-delivered $'tmp-to@example.com\n' 10971599 2>"$tmp/err"
is "$?$(wc -l <"$tmp/err")" "21" "an address with a newline: exit 2, one line"
"$B/qedit" --spool "$Q" --add-recipient x@example.com ALL 2>"$tmp/err"
is "$?$(wc -l <"$tmp/err")" "21" "--add-recipient with no control/locals to tell local from remote: refused, one line"
grep -q 'give --local or --remote' "$tmp/err"; ok $? "... saying what to do"
is_same_file "$tmp/before" <(snap "$Q") "... and nothing changed"

# ---------------------------------------------------------------- --set-sender, --add-recipient
mkdir "$tmp/st/control"
echo lab.example >"$tmp/st/control/locals"
printf 'lists.example:alias-lists\n.virt.example:alias-virt\n' >"$tmp/st/control/virtualdomains"
id=10971603
info=$Q/info/$((id % 23))/$id
t0=$(stat -c '%U %G %a %Y' "$info")
snap "$Q" >"$tmp/before"
"$B/qedit" --spool "$Q" --set-sender '<fixed@lab.example>' "$id" 2>"$tmp/err"
is "$?:$(cat "$tmp/err")" "0:qedit: 1 changed (sender set)" "--set-sender, qmail-send stopped: exit 0"
is "$(tr '\0' '\n' <"$info")" "Ffixed@lab.example" "info/ holds the new F record"
is "$(stat -c '%U %G %a %Y' "$info")" "$t0" "... owner, mode and mtime (the arrival qmail-qread shows) kept"
"$B/qedit" --spool "$Q" --add-recipient x@remote.test --add-recipient y@lab.example \
    --add-recipient z@a.virt.example --add-recipient tmp-y@example.com "$id" 2>"$tmp/err"
is "$?" 0 "--add-recipient: three new ones and a pending one: exit 0"
grep -q '<tmp-y@example.com> a pending recipient already: left out' "$tmp/err"; ok $? "... the pending one left out, said"
"$B/qedit" --spool "$Q" --remote --add-recipient y2@lab.example "$id" 2>/dev/null
is "$?" 0 "--remote: a local domain added as remote"
is "$(stat -c '%U %G %a' "$Q/local/$((id % 23))/$id")" "$(stat -c '%U %G %a' "$info")" "the new local/ file is owned like info/"
"$B/qls" --spool "$Q" >"$tmp/qls" 2>"$tmp/qls.err"
is "$?:$(cat "$tmp/qls.err")" "0:" "qls reads the whole queue, nothing damaged"
is_same_file <(blocks "$F/d/qmail-qread.txt" | done_in 10971599 tmp-cc@example.com | done_in 10971621 tmp-dup@example.com | perl -pe 's/(  #10971603  \d+  )<user-ext\@lab\.example>/$1<fixed\@lab.example>/;
    s/(  #10971603  .*?)(\\n\tremote\ttmp-y\@example\.com)$/$1\\n\tlocal\ty\@lab.example\\n\tlocal\tz\@a.virt.example$2\\n\tremote\tx\@remote.test\\n\tremote\ty2\@lab.example/') \
    <(blocks "$tmp/qls") "qls = qmail-qread's listing with the new sender and the added recipients (local first, as qmail-qread)"
snap "$Q" >"$tmp/after"
is_same_file <(without "$tmp/before" "$id") <(without "$tmp/after" "$id") "... every other message untouched"
is "$(find "$Q" -name '*.qtools')" "" "no temporary file left"

# a message not preprocessed yet (state a: only todo/): skipped, untouched
extract a todo
Q=$tmp/todo/queue
snap "$Q" >"$tmp/before"
"$B/qedit" --spool "$Q" --mark-all-delivered 10969948 2>"$tmp/err"
is "$?" 2 "a message still in todo/: exit 2 ..."
grep -q '10969948: not preprocessed yet' "$tmp/err"; ok $? "... skipped as not preprocessed"
"$B/qedit" --spool "$Q" --remote --add-recipient x@example.com 10969948 2>/dev/null
is "$?" 2 "... --add-recipient too"
is_same_file "$tmp/before" <(snap "$Q") "... and nothing changed"

# ================================================================ qmail-send running
extract d run
Q=$tmp/run/queue
start_send "$Q"
snap "$Q" >"$tmp/before"
"$B/qedit" --spool "$Q" -n --mark-all-delivered 10971609 >"$tmp/out" 2>/dev/null
is "$?:$(cat "$tmp/out")" "0:would mark all delivered in 10971609" "-n while qmail-send runs: what it would do"
is_same_file "$tmp/before" <(snap "$Q") "... and nothing changed"
"$B/qedit" --spool "$Q" --mark-all-delivered 10971609 10971599 2>"$tmp/err"
is "$?" 0 "--mark-all-delivered while qmail-send runs: exit 0"
is_same_file <(without "$tmp/before" 10971609 10971599) <(without "$(snap "$Q" >"$tmp/after"; echo "$tmp/after")" 10971609 10971599) \
    "... every other message untouched"
is "$(tr '\0' '\n' <"$(rfile "$Q" 10971609)")" "$(printf 'Dbad-1@example.com\nDtmp-2@example.com')" "... every record done"
[ -e "$Q/bounce/10971609" ]; ok $? "... bounce/ID kept: the earlier failure is still reported"
is "$(alrms)" 0 "... and qmail-send is not woken (it reads the records again at its next pass)"
is_same_file <(blocks "$F/d/qmail-qread.txt" | done_in 10971609 tmp-2@example.com |
    done_in 10971599 tmp-to@example.com tmp-cc@example.com tmp-bcc@example.com) <(blocks <("$B/qls" --spool "$Q")) \
    "qls = qmail-qread's listing with every recipient of both done"
"$B/qedit" --spool "$Q" --set-sender x@example.com 10971603 2>"$tmp/err"
is "$?$(wc -l <"$tmp/err")" "21" "--set-sender while qmail-send runs: refused, one line"
grep -q 'stop it first' "$tmp/err"; ok $? "... saying to stop it first"
mkdir -p "$tmp/run/control"; echo lab.example >"$tmp/run/control/locals"
"$B/qedit" --spool "$Q" --add-recipient x@example.com 10971603 2>"$tmp/err"
is "$?$(wc -l <"$tmp/err")" "21" "--add-recipient while qmail-send runs: refused, one line"
is_same_file <(without "$tmp/before" 10971609 10971599) <(without "$(snap "$Q" >"$tmp/after"; echo "$tmp/after")" 10971609 10971599) \
    "... and nothing changed"
stop_send

done_testing
