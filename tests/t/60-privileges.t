#!/bin/bash
# Privileges. Reading tools, traced with strace over spools the real Exim and Postfix wrote
# and a real qmail queue: every spool file is opened O_RDONLY|O_NOFOLLOW relative to a
# directory descriptor, under a plain name (never a path, never '..'); nothing in the spool is
# written, created, renamed or removed. Writing tools run as root become the spool's owner
# (lq_spool_owner) before they touch it, with no way back: Exim's user, Postfix's mail_owner,
# qmail's qmails with only the capabilities qmail's two-user layout needs; what they create
# is that owner's; qrun runs the MTA as that owner. A set-uid or set-gid copy refuses to run.
. "$(dirname "$0")/../lib.sh"

[ "$(id -u)" = 0 ] || bail_out "60-privileges.t needs root (it checks what root becomes)"
command -v strace >/dev/null || bail_out "strace is needed (scripts/install-deps)"
qt_labs exim main split
qt_labs postfix short
tmp=$(mktemp -d); chmod 0711 "$tmp"; trap 'rm -rf "$tmp"' EXIT
# the sanitized tools (tests/run-asan): LeakSanitizer cannot run under ptrace
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
EU=$(stat -c %u "$QT_LAB/exim/spools/main/input")
EG=$(stat -c %g "$QT_LAB/exim/spools/main/input")
mkdir "$tmp/q" && tar -C "$tmp/q" -xzf "$QT_ROOT/tests/fixtures/qmail/state-d.tar.gz" 2>/dev/null ||
    bail_out "cannot extract the qmail fixture"
Q=$tmp/q/queue
PF=$QT_LAB/postfix/short/queue

# ---------------------------------------------------------------- reading
# opens_ok LOG SPOOL: every open of something inside SPOOL is the spool directory itself
# (by the path given) or read-only, O_NOFOLLOW, at a directory descriptor, by a plain name,
# in the scan thread and the loading workers alike (no reader calls openat2: one is bad)
opens_ok() {
    perl -e '
    my ($log, $spool) = @ARGV; my ($n, $bad) = (0, 0);
    open my $fh, "<", $log or die;
    while (<$fh>) {
        next unless /^(?:\d+\s+)?(open|openat|openat2|creat)\((.*)\)\s+=\s+(-?\d+)/;
        my ($call, $args, $rc) = ($1, $2, $3);
        my ($dir, $name, $flags) = ("", "", "");
        if ($call eq "openat" && $args =~ /^(AT_FDCWD(?:<[^>]*>)?|\d+<([^>]*)>),\s+"((?:[^"\\]|\\.)*)",\s+([A-Z_|0-9]+)/) {
            ($dir, $name, $flags) = ($2 // "", $3, $4);
            $dir = "" if $1 =~ /^AT_FDCWD/;
        } elsif ($call eq "openat2" && $args =~ /^\d+<([^>]*)>,\s+"((?:[^"\\]|\\.)*)"/) {
            ($dir, $name, $flags) = ($1, $2, "openat2");
        } elsif ($args =~ /^"((?:[^"\\]|\\.)*)",\s+([A-Z_|0-9]+)/) {
            ($dir, $name, $flags) = ("", $1, $2);
        } else { print "unparsed: $_"; $bad++; next }
        my $path = $dir eq "" ? $name : "$dir/$name";
        next unless $path eq $spool || index($path, "$spool/") == 0;
        $n++;
        if ($dir eq "") {   # by path: only the spool directory, read-only
            next if $path eq $spool && $flags =~ /O_RDONLY/ && $flags =~ /O_DIRECTORY/;
            print "by path: $_"; $bad++; next;
        }
        if ($call eq "openat2" || $name =~ m{/} || $name eq ".." || $name eq "." || $flags !~ /O_RDONLY/ ||
            $flags !~ /O_NOFOLLOW/ || $flags =~ /O_WRONLY|O_RDWR|O_CREAT|O_TRUNC|O_APPEND/) {
            print "bad open: $_"; $bad++;
        }
    }
    print "opens=$n\n"; exit($bad ? 1 : 0);' "$1" "$2"
}
# writes LOG SPOOL: the calls in LOG that changed something in SPOOL (should be none)
writes() {
    grep -E '^([0-9]+ +)?(unlink|unlinkat|rename|renameat|renameat2|mkdir|mkdirat|rmdir|chmod|fchmod|fchmodat|chown|fchown|fchownat|lchown|link|linkat|symlink|symlinkat|truncate|ftruncate|utimensat|futimesat)\(' "$1" |
        grep -v ' = -1 ' | grep -F "$2" || true
}
read_traced() {  # read_traced NAME SPOOL TOOL ARGS...
    local name=$1 spool=$2 log=$tmp/trace.$RANDOM out
    shift 2
    # one file per thread (-ff): the loading workers' calls are never cut in two; and all
    # jobs - 1 of them start at once (QTOOLS_READAHEAD=always), so their opens are seen
    QTOOLS_READAHEAD=always strace -ff -y -qq -e trace=%file,%desc,%process -o "$log" "$QT_BIN/$1" "${@:2}" \
        --spool "$spool" >/dev/null 2>"$tmp/err"
    cat "$log".* >"$log" && rm -f "$log".*
    out=$(opens_ok "$log" "$spool")
    ok $? "$name: every spool open is read-only, O_NOFOLLOW, at a directory fd" || diag "$out"
    [ "${out##*opens=}" -gt 3 ]; ok $? "$name: the trace saw the spool being read (${out##*opens=} opens)"
    is "$(writes "$log" "$spool")" "" "$name: nothing written, created, renamed or removed"
}

S=$QT_LAB/exim/spools/main
id=$("$QT_BIN/qls" --spool "$S" -i | head -n 1)
read_traced "exim qls" "$S" qls
read_traced "exim qls -a" "$S" qls -a
read_traced "exim qgrep --body" "$S" qgrep --body 'x' -c
read_traced "exim qcat" "$S" qcat "$id"
read_traced "exim qsumm" "$S" qsumm
read_traced "exim split spool qls" "$QT_LAB/exim/spools/split" qls
read_traced "postfix qls" "$PF" qls
read_traced "postfix qgrep --header" "$PF" qgrep --header 'Subject: .' -c
pid=$("$QT_BIN/qls" --spool "$PF" -i 2>/dev/null | head -n 1)
read_traced "postfix qcat" "$PF" qcat "$pid"
read_traced "qmail qls" "$Q" qls
read_traced "qmail qsumm --stat" "$Q" qsumm --stat
qid=$("$QT_BIN/qls" --spool "$Q" -i 2>/dev/null | head -n 1)
read_traced "qmail qcat" "$Q" qcat "$qid"

# a spool symlinked inside itself and '..' in names never reach the file system
mkdir -p "$tmp/sl" && cp -a "$S" "$tmp/sl/spool" && ln -s /etc "$tmp/sl/spool/input/1zzzzz-zzzzzz-zz-H"
# (one file per thread, as read_traced: a loading worker's openat is never cut in two)
strace -ff -y -qq -e trace=%file -o "$tmp/sl.log" "$QT_BIN/qls" --spool "$tmp/sl/spool" \
    >/dev/null 2>"$tmp/err"
is "$?" 2 "a symlink in input/: exit 2"
cat "$tmp/sl.log".* >"$tmp/sl.log" && rm -f "$tmp/sl.log".*
! grep -q -e '"/etc"' -e '</etc>' "$tmp/sl.log"; ok $? "... and /etc never opened"
grep -q 'O_NOFOLLOW.*= -1 ELOOP' "$tmp/sl.log"; ok $? "... the link itself refused by O_NOFOLLOW"

# ---------------------------------------------------------------- writing tools as root
# as_owner LOG UID SPOOL: setresuid(UID,UID,UID) happened before any change to SPOOL and
# before any of its files was opened for writing, and there was no way back
as_owner() {
    perl -e '
    my ($log, $uid, $spool) = @ARGV; my ($dropped, $bad, $back) = (0, 0, 0);
    open my $fh, "<", $log or die;
    while (<$fh>) {
        $dropped = 1 if /setresuid\($uid, $uid, $uid\)\s+= 0/;
        $back = 1 if /setresuid\(-1, 0, -1\)\s+= -1 EPERM/;
        next if $dropped || index($_, $spool) < 0 || /= -1 /;
        if (/^(?:\d+\s+)?(unlinkat|renameat2?|mkdirat|linkat|symlinkat|fchownat|fchown|fchmod|fchmodat)\(/ ||
            /O_WRONLY|O_RDWR|O_CREAT/) {
            print "before the drop: $_"; $bad++;
        }
    }
    print "never became uid $uid\n" unless $dropped;
    print "no check that root cannot be had back\n" unless $back;
    exit($bad || !$dropped || !$back ? 1 : 0);' "$1" "$2" "$3"
}
write_traced() {  # write_traced NAME UID SPOOL TOOL ARGS...: the tool as root, traced
    local name=$1 uid=$2 spool=$3 log=$tmp/wtrace.$RANDOM out
    shift 3
    strace -f -y -qq -e trace=%file,%desc,%creds,capset -o "$log" "$QT_BIN/$1" "${@:2}" \
        >"$tmp/out" 2>"$tmp/err"
    wrc=$?
    out=$(as_owner "$log" "$uid" "$spool")
    ok $? "$name: became uid $uid before touching the spool, for good" || diag "$out" "$(cat "$tmp/err")"
    wlog=$log
}

E=$tmp/exim; cp -a "$S" "$E"
mapfile -t eids < <("$QT_BIN/qls" --spool "$E" -i -x | head -n 3)
write_traced "exim qfreeze" "$EU" "$E" qfreeze --spool "$E" "${eids[0]}"
is "$wrc" 0 "exim qfreeze: done"
grep -q "^[0-9]* *setgroups(1, \[$EG\]) *= 0" "$wlog"; ok $? "exim qfreeze: its only group is Exim's ($EG)"
grep -q "setresgid($EG, $EG, $EG) *= 0" "$wlog"; ok $? "exim qfreeze: gid $EG"
grep -q 'openat([0-9]*<[^>]*>, "hdr\.'"${eids[0]}"'", O_WRONLY|O_CREAT|O_EXCL' "$wlog"
ok $? "exim qfreeze: wrote hdr.ID (after the drop, checked above)"
is "$(stat -c %u:%g "$E/input/${eids[0]}-H")" "$EU:$EG" "exim qfreeze: the new -H is Exim's"
! grep -q 'capset' "$wlog"; ok $? "exim qfreeze: no capability kept"
write_traced "exim qrm --save" "$EU" "$E" qrm --spool "$E" --save "$tmp/saved" "${eids[1]}"
is "$wrc" 0 "exim qrm: done"
is "$(stat -c %u "$tmp/saved/input/${eids[1]}-H")" "$EU" "exim qrm --save: the copies it made are Exim's user's"
[ ! -e "$E/input/${eids[1]}-H" ]; ok $? "exim qrm: the message is gone"
mkdir -m 1777 "$tmp/run"
# it answers qrun's question (-bP spool_directory: this spool), then says who ran it
printf '#!/bin/sh\n[ "$1" = -bP ] && { echo %s; exit; }\nid -u >%s\n' "$E" "$tmp/run/ran-as" >"$tmp/fake-exim"; chmod 0755 "$tmp/fake-exim"
"$QT_BIN/qrun" --spool "$E" --mta-path "$tmp/fake-exim" "${eids[2]}" >/dev/null 2>&1
is "$(cat "$tmp/run/ran-as" 2>/dev/null)" "$EU" "exim qrun: the MTA command runs as Exim's user"
# a named queue is Exim's too
write_traced "exim qrm -n -G slow" "$EU" "$E" qrm --spool "$E" -G slow -n ALL
is "$wrc" 0 "exim qrm -n on a named queue: done"

QS=$(stat -c %u "$Q/info"); QG=$(stat -c %g "$Q")
mapfile -t qids < <("$QT_BIN/qls" --spool "$Q" -i 2>/dev/null | head -n 2)
write_traced "qmail qfreeze" "$QS" "$Q" qfreeze --spool "$Q" "${qids[0]}"
is "$wrc" 0 "qmail qfreeze: done"
grep -q "setresgid($QG, $QG, $QG) *= 0" "$wlog"; ok $? "qmail qfreeze: the queue's group ($QG)"
grep -q 'capset(.*effective=1<<CAP_CHOWN|1<<CAP_DAC_OVERRIDE|1<<CAP_FOWNER, permitted=1<<CAP_CHOWN|1<<CAP_DAC_OVERRIDE|1<<CAP_FOWNER, inheritable=0}) = 0' "$wlog"
ok $? "qmail qfreeze: keeps CAP_DAC_OVERRIDE, CAP_CHOWN and CAP_FOWNER only (qmail's queue is two users')"
is "$(stat -c %u "$Q/qtools-hold/info")" "$(stat -c %u "$Q")" "qmail qfreeze: the hold area is owned like the queue"
write_traced "qmail qrm --save" "$QS" "$Q" qrm --spool "$Q" --save "$tmp/qsaved" "${qids[1]}"
is "$wrc" 0 "qmail qrm: done"
is "$(find "$tmp/qsaved" -type f -newer "$Q" ! -user "$QS" | head -n 1)" "" "qmail qrm --save: the copies are qmails's"

PU=$(stat -c %u "$PF/active")
write_traced "postfix qrm -n" "$PU" "$PF" qrm --spool "$PF" -n ALL
is "$wrc" 0 "postfix qrm -n: done"
grep -q "setresgid($(id -g "$(id -nu "$PU")"), " "$wlog"; ok $? "postfix: mail_owner's own group"

# ---------------------------------------------------------------- set-uid, set-gid
for t in qrm qfreeze qrun qedit; do
    change=(); [ "$t" = qedit ] && change=(--mark-all-delivered)
    for mode in 4755 2755; do
        cp "$QT_BIN/$t" "$tmp/$t-$mode"; chown "$EU:$EG" "$tmp/$t-$mode"; chmod "$mode" "$tmp/$t-$mode"
        setpriv --reuid=65534 --regid=65534 --clear-groups "$tmp/$t-$mode" "${change[@]}" --spool "$E" -n ALL \
            >"$tmp/out" 2>"$tmp/err"
        is "$?" 2 "$t, set-$([ $mode = 4755 ] && echo uid || echo gid): exit 2"
        grep -q "refusing to run set-uid, set-gid" "$tmp/err"; ok $? "... saying why" || diag "$(cat "$tmp/err")"
        [ ! -s "$tmp/out" ]; ok $? "... having done nothing"
    done
done
# not set-uid, not root: it acts as who runs it (here: nobody, who may not)
setpriv --reuid=65534 --regid=65534 --clear-groups "$QT_BIN/qrm" --spool "$E" "${eids[2]}" 2>"$tmp/err"
is "$?" 2 "run as nobody (not set-uid): exit 2 ..."
[ -e "$E/input/${eids[2]}-H" ]; ok $? "... and the message is still there"

done_testing
