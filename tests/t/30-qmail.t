#!/bin/bash
# qls, qgrep, qsumm --stat and qcat on queues a real qmail wrote (tests/fixtures/qmail: notqmail
# 1.09, conf-split 23, four states). Truth is qmail's own output captured on those queues
# (qmail-qread.txt, qmail-qstat.txt) and the independent decode of every envelope record
# (decoded.txt); nothing below is hard-coded per message.
#
# How the listings are compared: qmail-qread walks info/0 .. info/22, each in readdir order.
# After `tar -x` the readdir order inside a subdirectory is not the live queue's, so the
# listing is compared per message block (a message line and its recipient lines), sorted, and
# the order is checked separately: subdirectory numbers (ID % split) never go down, as in the
# golden. Inode numbers change on extraction (ID != inode): we read names, never inodes.
. "$(dirname "$0")/../lib.sh"

F=$QT_ROOT/tests/fixtures/qmail
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
export LC_ALL=C TZ=UTC

extract() {  # extract STATE DIR -> DIR/queue
    mkdir -p "$2" && tar -C "$2" -xzf "$F/state-$1.tar.gz" || bail_out "cannot extract state $1"
}

# one line per message block (message line + its recipient lines), sorted; "exit=" dropped
blocks() { awk '/^exit=/ { next } /^[0-9]/ { if (b != "") print b; b = $0; next }
                { b = b "\\n" $0 } END { if (b != "") print b }' "$1" | sort; }

# the subdirectory numbers of a listing's messages, in order, must never go down
order_ok() {  # order_ok LISTING SPLIT
    awk -v s="$2" '/^[0-9]/ && !/ todo$/ { id = substr($6, 2); n = id % s
        if (n < prev) { print "order: #" id " (" n ") after " prev; bad = 1 } prev = n }
        END { exit bad }' "$1"
}

# What decoded.txt (the independent decode of the live queue) says, for one question:
#   decoded MODE DECODED.TXT [ARG]
#   ids S4|S5|leftover|listed (ARG)   json   todo-listing   sender REGEX   rcpt REGEX   envelope ID
# json: "ID|queue|state|sender|pending|done|size|time" per listed message, bytes unescaped.
# Regexes are tested as Perl's, caseless (the ones used here mean the same in PCRE2).
decoded() {
    perl -e '
    my ($mode, $file, $arg) = @ARGV;
    my (%st, %size, %mt, %rec, %bounce, @order, $id);
    open my $fh, "<", $file or die "$file: $!";
    while (<$fh>) {
        chomp;
        if (/^ID (\d+) /) {
            $id = $1; push @order, $id; $bounce{$id} = /\+bounce/ ? 1 : 0;
            $st{$id} = /\[S5 / ? "S5" : /\[S4 / ? "S4" : "leftover";
        } elsif (/^  mess size=(\d+)/) {
            $size{$id} = $1;
        } elsif (/^  (todo|info|local|remote|bounce) (.*?): (.*)$/) {
            my ($k, $meta, $t) = ($1, $2, $3);
            $mt{$id}{$k} = $1 if $meta =~ /mtime=(\d+)/;
            my @r = $t eq "" ? () : $k eq "bounce" ? split(/\\x0a/, $t, -1) : split(/ \| /, $t, -1);
            pop @r if $k eq "bounce" && @r && $r[-1] eq "";
            push @{$rec{$id}{$k}}, @r;
        }
    }
    sub unesc { my $s = shift; $s =~ s/\\x([0-9a-f]{2})/chr hex $1/ge; $s }
    sub qread { my $s = unesc(shift); $s =~ tr/\x20-\x7e/_/c; $s }
    sub todo { $st{$_[0]} eq "S4" }
    sub recs { my ($i, $type, @k) = @_; map { substr($_, 1) } grep { substr($_, 0, 1) eq $type }
               map { @{$rec{$i}{$_} // []} } @k }
    sub sender { (recs($_[0], "F", todo($_[0]) ? "todo" : "info"))[0] }
    sub chans { todo($_[0]) ? ("todo") : ("local", "remote") }
    my @listed = grep { $st{$_} ne "leftover" } @order;
    if ($mode eq "ids") {
        print "$_\n" for grep { $arg eq "listed" ? $st{$_} ne "leftover" : $st{$_} eq $arg } @order;
    } elsif ($mode eq "json") {
        for my $i (@listed) {
            print join("|", $i, todo($i) ? "todo" : "queue",
                todo($i) ? "todo" : $bounce{$i} ? "bouncing" : "queued", unesc(sender($i)),
                unesc(join " ", recs($i, "T", chans($i))), unesc(join " ", recs($i, "D", chans($i))),
                $size{$i}, $mt{$i}{todo($i) ? "todo" : "info"}), "\n";
        }
    } elsif ($mode eq "todo-listing") {
        my @mon = qw(Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec);
        for my $i (grep { todo($_) } @listed) {
            my @t = gmtime $mt{$i}{todo};
            printf "%d %s %d %02d:%02d:%02d GMT  #%s  %s  <%s>  todo\n", $t[3], $mon[$t[4]],
                $t[5] + 1900, $t[2], $t[1], $t[0], $i, $size{$i}, qread(sender($i));
            print "\ttodo\t", qread($_), "\n" for recs($i, "T", "todo");
        }
    } elsif ($mode eq "sender") {
        print "$_\n" for grep { ("<" . unesc(sender($_)) . ">") =~ /$arg/i } @listed;
    } elsif ($mode eq "rcpt") {
        print "$_\n" for grep { my $i = $_; grep { unesc($_) =~ /$arg/i } recs($i, "T", chans($i)) } @listed;
    } elsif ($mode eq "envelope") {
        for my $k (qw(todo info local remote bounce)) {
            print $_ eq "" ? "$k:\n" : "$k: $_\n" for @{$rec{$arg}{$k} // []};
        }
    } elsif ($mode eq "qcat") {
        # the output of `qcat ID...` (sections *** ENVELOPE|HEADERS|BODY ID ***), messages in
        # the order of @ARGV[3..]; one line per failed check: "envelope|message|received ID"
        my ($qdir, @ids) = @ARGV[3 .. $#ARGV];
        local $/; open my $q, "<", $arg or die; my $out = <$q>;
        my $pos = 0;
        for my $n (0 .. $#ids) {
            my $i = $ids[$n];
            my @m = map { "*** $_ $i ***\n" } qw(ENVELOPE HEADERS BODY);
            my $e = index($out, $m[0], $pos); my $h = index($out, $m[1], $e); my $b = index($out, $m[2], $h);
            if ($e != $pos || $h < 0 || $b < 0) { print "sections $i\n"; last }
            my $end = $n < $#ids ? index($out, "*** ENVELOPE $ids[$n + 1] ***\n", $b) : length $out;
            $end = length $out if $end < 0;
            my $env = substr($out, $e + length $m[0], $h - $e - length $m[0]);
            my $hdr = substr($out, $h + length $m[1], $b - $h - length $m[1]);
            my $body = substr($out, $b + length $m[2], $end - $b - length $m[2]);
            $pos = $end;
            my $want = "";
            for my $k (qw(todo info local remote bounce)) {
                $want .= $_ eq "" ? "$k:\n" : "$k: $_\n" for @{$rec{$i}{$k} // []};
            }
            print "envelope $i\n" if $env ne $want;
            print "received $i\n" if $hdr !~ /^Received: \(qmail / || $hdr =~ /(^|\n)\r?\n/;
            open my $mf, "<", "$qdir/mess/" . ($i % 23) . "/$i" or die; my $mess = <$mf>;
            my $sep = substr($mess, length $hdr, 2);
            $sep = $sep =~ /^\n/ ? "\n" : $sep eq "\r\n" ? "\r\n" : "";
            print "message $i\n" if $hdr . $sep . $body ne $mess || length $mess != $size{$i};
        }
    } else { die "decoded: $mode?\n" }
    ' "$@"
}

for state in a b d d-stopped; do
    G=$F/$state Q=$tmp/st-$state/queue D=$F/$state/decoded.txt
    extract "$state" "$tmp/st-$state"
    decoded ids "$D" leftover | sort >"$tmp/leftovers"
    decoded ids "$D" S4 | sort >"$tmp/todo-ids"
    decoded ids "$D" listed | sort >"$tmp/listed-ids"
    [ -s "$tmp/listed-ids" ] || bail_out "decoded.txt of $state lists nothing"

    # ---- qls = qmail-qread, plus what qmail-qread does not show
    "$QT_BIN/qls" --spool "$Q" >"$tmp/qls" 2>"$tmp/qls.err"
    rc=$?
    awk '/^[0-9]/ { todo = / todo$/ } !todo' "$tmp/qls" >"$tmp/qls.queue"
    is_same_file <(blocks "$G/qmail-qread.txt") <(blocks "$tmp/qls.queue") \
        "$state: qls = qmail-qread, per message"
    order_ok "$tmp/qls.queue" 23; ok $? "$state: qls lists info/0 .. info/22 in order, as qmail-qread"
    "$QT_BIN/qls" --spool "$Q" -G queue >"$tmp/qls.G" 2>"$tmp/qls.G.err"
    is_same_file <(blocks "$G/qmail-qread.txt") <(blocks "$tmp/qls.G") \
        "$state: qls -G queue (what qmail-qread reads) = qmail-qread"
    is "$(cat "$tmp/qls.G.err")" "" "$state: qls -G queue: no complaint"
    # S2/S3 (mess/ without todo/ or info/) are what qmail-queue is writing, or left when it was
    # killed; qmail-send removes them after 36 hours. Not messages, not errors. (Extracted just
    # now, they were accessed just now: young, so not even a notice.)
    [ -s "$tmp/leftovers" ] || bail_out "decoded.txt of $state has no crash leftovers"
    is "$rc" 0 "$state: qls exits 0 (the leftovers of qmail-queue are no trouble)"
    is "$(cat "$tmp/qls.err")" "" "$state: nothing on stderr"
    is "$("$QT_BIN/qls" --spool "$Q" --json 2>&1 | tail -n 1 | jq -r '"\(.type) \(.skipped) \(.errors)"')" \
        "end $(wc -l <"$tmp/leftovers") 0" "$state: qls --json: the leftovers counted as skipped, not errors"

    # ---- qsumm --stat = qmail-qstat
    "$QT_BIN/qsumm" --spool "$Q" --stat >"$tmp/stat" 2>&1
    is "$?" 0 "$state: qsumm --stat exits 0"
    is_same_file "$G/qmail-qstat.txt" "$tmp/stat" "$state: qsumm --stat = qmail-qstat"

    # ---- every message, with its envelope, state and queue (qls --json)
    "$QT_BIN/qls" --spool "$Q" --json 2>/dev/null |
        jq -r 'select(.type == "message") | [.queue_id, .queue_name, .state, .sender, (.recipients | map(.address) | join(" ")),
                (.delivered | join(" ")), .message_size, .arrival_time] | join("|")' |
        sort >"$tmp/json"
    decoded json "$D" | sort >"$tmp/json.exp"
    is_same_file "$tmp/json.exp" "$tmp/json" \
        "$state: qls --json: ID, queue, state, sender, recipients, done, size, time = decoded.txt"

    # ---- messages still in todo/: listed in qmail-qread's format, marked todo
    if [ -s "$tmp/todo-ids" ]; then
        decoded todo-listing "$D" >"$tmp/todo.exp"
        awk '/^[0-9]/ { todo = / todo$/ } todo' "$tmp/qls" >"$tmp/qls.todo"
        is_same_file <(blocks "$tmp/todo.exp") <(blocks "$tmp/qls.todo") \
            "$state: messages in todo/ listed with their envelope (date = todo mtime)"
        is "$("$QT_BIN/qls" --spool "$Q" --queue todo -i 2>/dev/null | sort)" "$(cat "$tmp/todo-ids")" \
            "$state: qls --queue todo selects exactly the messages in todo/"
    fi

    # ---- qgrep -f / -r select what decoded.txt says
    # (a regex may select nothing in one state, as '^ok-' once those were delivered; each
    # must select something in some state: checked after the loop)
    for re in '^<>$' '^<#@\[\]>$' 'alice@' '^<bob@lab\.example>$' '-@\[\]>$' 'lab\.example>$'; do
        want=$(decoded sender "$D" "$re" | sort)
        [ -n "$want" ] && echo "-f $re" >>"$tmp/selected"
        is "$("$QT_BIN/qgrep" --spool "$Q" -i -f "$re" 2>/dev/null | sort)" \
            "$want" "$state: qgrep -f '$re' (sender) as decoded.txt"
    done
    for re in '^tmp-' 'example\.org$' '^defer@' '^ok-' '"john smith"' '^bad-' 'jos.*@'; do
        want=$(decoded rcpt "$D" "$re" | sort)
        [ -n "$want" ] && echo "-r $re" >>"$tmp/selected"
        is "$("$QT_BIN/qgrep" --spool "$Q" -i -r "$re" 2>/dev/null | sort)" \
            "$want" "$state: qgrep -r '$re' (pending recipient) as decoded.txt"
    done

    # ---- qcat: envelope = the decoded records; headers + empty line + body = mess/ID
    [ "$state" = a ] || [ "$state" = d ] || continue
    "$QT_BIN/qcat" --spool "$Q" $(cat "$tmp/listed-ids") >"$tmp/qcat" 2>"$tmp/qcat.err"
    is "$?$(cat "$tmp/qcat.err")" 0 "$state: qcat of every listed message: exit 0, nothing on stderr"
    decoded qcat "$D" "$tmp/qcat" "$Q" $(cat "$tmp/listed-ids") >"$tmp/qcat.bad"
    is "$(grep -c sections "$tmp/qcat.bad")" 0 "$state: qcat prints each message's three sections"
    bad_e=$(awk '$1 == "envelope" { printf " %s", $2 }' "$tmp/qcat.bad")
    bad_m=$(awk '$1 == "message" { printf " %s", $2 }' "$tmp/qcat.bad")
    bad_h=$(awk '$1 == "received" { printf " %s", $2 }' "$tmp/qcat.bad")
    is "$bad_e" "" "$state: qcat -e shows the envelope records decoded.txt shows"
    is "$bad_m" "" "$state: qcat -h, an empty line, qcat -b = mess/ID byte for byte (size as decoded.txt)"
    is "$bad_h" "" "$state: qcat -h starts with qmail-queue's Received line and ends before the empty line"
done

is "$(sort -u "$tmp/selected" | wc -l)" 13 "each of the 13 qgrep -f/-r regexes above selects something in some state"

# ---- a folded header is one header: a word only on a continuation line of m11's Subject
id=$(awk '$1 == "m11" { print $2 }' "$F/ids.tsv")
Q=$tmp/st-d/queue
word=$(awk '/^Subject:/ { getline; print $2; exit }' "$Q/mess/$((id % 23))/$id")
[ -n "$word" ] || bail_out "m11 has no folded Subject"
is "$("$QT_BIN/qgrep" --spool "$Q" -i --header "Subject: $word" 2>/dev/null)" "$id" \
    "qgrep --header matches text on a continuation line (m11, '$word')"
is "$("$QT_BIN/qcat" --spool "$Q" -h "$id" | grep -c '^Subject:')" 1 "m11: one Subject header"

# ---- qcat by ID: leftovers are named, not shown
for l in $(cat "$tmp/leftovers"); do
    "$QT_BIN/qcat" --spool "$Q" "$l" >"$tmp/out" 2>"$tmp/err"
    is "$?" 2 "qcat $l (crash leftover): exit 2"
    grep -q "^qcat: $l: crash leftover" "$tmp/err"; ok $? "... says it is a crash leftover" || diag "$(cat "$tmp/err")"
done

# ---- leftovers by age: qmail-send removes a mess/ file without todo/ or info/ (and its intd/)
# once its atime is more than 129600 s old (OSSIFIED in qmail-send.c's cleanup_do). Younger:
# skipped in silence; older: one notice line each, saying so; the exit status is 0 either way
# and the --json end record counts them as skipped.
extract d "$tmp/age"
Q=$tmp/age/queue
mapfile -t L < <(cat "$tmp/leftovers")
[ ${#L[@]} -eq 2 ] || bail_out "state d should have 2 crash leftovers (S2 and S3)"
mess_of() { echo "$Q/mess/$(($1 % 23))/$1"; }
[ -e "$Q/intd/${L[0]}" ] || [ -e "$Q/intd/${L[1]}" ] || bail_out "state d has no S3 leftover (mess + intd)"
( cd "$tmp/age" && find queue -printf '%p %s %T@ %y\n' | sort ) >"$tmp/age.before"
age_run() {  # age_run NAME: qls, qls --json, qgrep -c, qsumm --json on $Q
    "$QT_BIN/qls" --spool "$Q" >"$tmp/age.out" 2>"$tmp/age.err"; echo "qls $?" >"$tmp/age.rc"
    "$QT_BIN/qls" --spool "$Q" --json 2>/dev/null | tail -n 1 >"$tmp/age.end"
    "$QT_BIN/qgrep" --spool "$Q" -c -f . >/dev/null 2>&1; echo "qgrep $?" >>"$tmp/age.rc"
    "$QT_BIN/qsumm" --spool "$Q" --json 2>/dev/null | tail -n 1 >>"$tmp/age.end"
    echo "qsumm $?" >>"$tmp/age.rc"
    is "$(cat "$tmp/age.rc" | tr '\n' ' ')" "qls 0 qgrep 0 qsumm 0 " "$1: qls, qgrep, qsumm exit 0"
    is "$(jq -r '"\(.type) \(.skipped) \(.errors)"' "$tmp/age.end" | tr '\n' ' ')" "end 2 0 end 2 0 " \
        "$1: the --json end records (qls, qsumm) count both as skipped, none as errors"
    is_same_file <(blocks "$F/d/qmail-qread.txt") <(blocks "$tmp/age.out") "$1: qls = qmail-qread"
}
for id in "${L[@]}"; do touch -d "@$(( $(date +%s) - 129600 + 120 ))" "$(mess_of "$id")"; done
age_run "leftovers 2 minutes short of 36 hours old"
is "$(cat "$tmp/age.err")" "" "... skipped in silence"
for id in "${L[@]}"; do touch -d "@$(( $(date +%s) - 129600 - 120 ))" "$(mess_of "$id")"; done
age_run "leftovers 36 hours and 2 minutes old"
is "$(grep -c . "$tmp/age.err")" 2 "... one line each on stderr"
for id in "${L[@]}"; do
    if [ -e "$Q/intd/$id" ]; then what="mess/$((id % 23))/$id and intd/$id without todo/, not read for 36 hours"
    else what="mess/$((id % 23))/$id without todo/ or info/, not read for 36 hours"; fi
    grep -qF "qls: $id: $what: left by a qmail-queue that died; qmail-send will remove" "$tmp/age.err"
    ok $? "... $id: says what it is and that qmail-send will remove it" || diag "$(cat "$tmp/age.err")"
done
# qmail-send goes by the access time, not the modification time
for id in "${L[@]}"; do
    touch -m -d '3 days ago' "$(mess_of "$id")"; touch -a -d '1 hour ago' "$(mess_of "$id")"
done
age_run "leftovers modified 3 days ago, read an hour ago"
is "$(cat "$tmp/age.err")" "" "... skipped in silence (qmail-send tests the atime)"
for id in "${L[@]}"; do
    touch -m -d '1 hour ago' "$(mess_of "$id")"; touch -a -d '3 days ago' "$(mess_of "$id")"
done
age_run "leftovers modified an hour ago, read 3 days ago"
is "$(grep -c 'qmail-send will remove' "$tmp/age.err")" 2 "... a notice each"
( cd "$tmp/age" && find queue -printf '%p %s %T@ %y\n' | sort ) >"$tmp/age.after"
is_same_file <(awk '{ print $1, $2, $4 }' "$tmp/age.before") <(awk '{ print $1, $2, $4 }' "$tmp/age.after") \
    "leftovers by age: reading changed no file (names, sizes, types)"
# one that is not a regular file is damage
id=${L[0]}
rm -f "$(mess_of "$id")"; ln -s /etc/passwd "$(mess_of "$id")"
"$QT_BIN/qls" --spool "$Q" >/dev/null 2>"$tmp/age.err"
is "$?" 2 "a symlink in mess/ without todo/ or info/: qls exits 2"
is "$(grep "^qls: $id: " "$tmp/age.err")" "qls: $id: mess/$((id % 23))/$id is not a regular file (and there is no todo/ or info/): not listed" \
    "... and says it is not a regular file"

# ---- never assume conf-split 23: the same queue moved to split 151 (as queue_repair.py does)
resplit() {  # resplit QUEUEDIR SPLIT [KINDS]: every file of KINDS/ moved to KINDS/(ID % SPLIT)/
    perl -e '
    my ($q, $n, @kinds) = @ARGV;
    for my $k (@kinds) {
        rename "$q/$k", "$q/$k.old" or die "$k: $!"; mkdir "$q/$k" or die;
        mkdir "$q/$k/$_" or die for 0 .. $n - 1;
        for my $f (glob("$q/$k.old/* $q/$k.old/*/*")) {
            next unless -f $f; my ($id) = $f =~ m{/(\d+)$} or next;
            rename $f, "$q/$k/" . ($id % $n) . "/$id" or die "$f: $!";
        }
        system("rm", "-r", "$q/$k.old") == 0 or die;
    }' "$1" "$2" ${3:-mess info local remote}
}
extract d "$tmp/s151"
resplit "$tmp/s151/queue" 151 || bail_out "resplit failed"
"$QT_BIN/qls" --spool "$tmp/s151/queue" >"$tmp/out" 2>"$tmp/err"
is_same_file <(blocks "$F/d/qmail-qread.txt") <(blocks "$tmp/out") "split 151: qls = qmail-qread, per message"
order_ok "$tmp/out" 151; ok $? "split 151: info/0 .. info/150 in order"
is "$(cat "$tmp/err")" "" "split 151: the same leftovers, skipped in silence"
"$QT_BIN/qsumm" --spool "$tmp/s151/queue" --stat >"$tmp/out"
is_same_file "$F/d/qmail-qstat.txt" "$tmp/out" "split 151: qsumm --stat = qmail-qstat"

# ---- big-todo (todo/N/ID, intd/N/ID): the same messages in todo
extract a "$tmp/big"
resplit "$tmp/big/queue" 23 "todo intd" || bail_out "big-todo conversion failed"
"$QT_BIN/qls" --spool "$tmp/st-a/queue" 2>/dev/null >"$tmp/flat"
"$QT_BIN/qls" --spool "$tmp/big/queue" 2>/dev/null >"$tmp/out"
is_same_file <(blocks "$tmp/flat") <(blocks "$tmp/out") "big-todo: qls lists the same as with a flat todo/"
"$QT_BIN/qsumm" --spool "$tmp/big/queue" --stat >"$tmp/out"
is_same_file "$F/a/qmail-qstat.txt" "$tmp/out" "big-todo: qsumm --stat = qmail-qstat"

# ---- hostile copies: each damaged message named on stderr, skipped; the rest listed as before
extract d "$tmp/h"
Q=$tmp/h/queue
mapfile -t v < <(decoded ids "$F/d/decoded.txt" S5 | sort -n | head -n 8)
[ ${#v[@]} -eq 8 ] || bail_out "state d has too few messages"
sub() { echo $(($1 % 23)); }
printf 'Fevil@example.com\0' >"$tmp/evil"
rm "$Q/info/$(sub "${v[0]}")/${v[0]}"; ln -s "$tmp/evil" "$Q/info/$(sub "${v[0]}")/${v[0]}"   # symlink
: >"$Q/mess/$(sub "${v[1]}")/${v[1]}"                                                      # zero-byte mess
printf 'Xnot-a-sender\0' >"$Q/info/$(sub "${v[2]}")/${v[2]}"                               # info without F
for c in local remote; do f=$Q/$c/$(sub "${v[3]}")/${v[3]}                                  # recipient without NUL
    [ -f "$f" ] && { head -c -1 "$f" >"$tmp/x"; cat "$tmp/x" >"$f"; }; done
mv "$Q/info/$(sub "${v[4]}")/${v[4]}" "$Q/info/$(( ($(sub "${v[4]}") + 1) % 23 ))/"         # wrong split dir
rm "$Q/mess/$(sub "${v[5]}")/${v[5]}"; ln -s /etc/passwd "$Q/mess/$(sub "${v[5]}")/${v[5]}" # mess symlink
mkfifo "$Q/info/$(sub "${v[6]}")/${v[6]}.fifo"                                             # junk names
printf 'x' >"$Q/info/$(sub "${v[6]}")/$(printf 'bad\033[2Jname')"
printf 'F\0' >"$Q/info/0/0$(( (${v[7]} / 23) * 23 ))"                                        # leading zero
damaged="${v[0]} ${v[1]} ${v[2]} ${v[3]} ${v[4]} ${v[5]}"
( cd "$tmp/h" && find queue -printf '%p %s %T@ %y\n' | sort ) >"$tmp/before"
timeout 20 "$QT_BIN/qls" --spool "$Q" >"$tmp/out" 2>"$tmp/err"
rc=$?
is "$rc" 2 "hostile: qls exits 2 (no crash, no hang)"
for id in $damaged; do
    is "$(grep -c "^qls: $id: " "$tmp/err")" 1 "hostile: $id reported on stderr, once" || diag "$(cat "$tmp/err")"
    ! grep -q "#$id " "$tmp/out"; ok $? "hostile: $id not listed"
done
is "$(grep -c 'not a qmail queue file name' "$tmp/err")" 3 "hostile: the 3 stray names reported"
! grep -q $'\033' "$tmp/err"; ok $? "hostile: a name with an escape sequence is printed harmlessly"
is "$(grep -c . "$tmp/err")" "$(( $(wc -w <<<"$damaged") + 3 ))" \
    "hostile: one line per problem, nothing else"
! grep -q evil "$tmp/out"; ok $? "hostile: the symlinked info file was not followed"
blocks "$F/d/qmail-qread.txt" | awk -v bad="$damaged" '
    BEGIN { n = split(bad, b, " "); for (i = 1; i <= n; i++) skip["#" b[i]] = 1 } !($6 in skip)' >"$tmp/rest"
is_same_file "$tmp/rest" <(blocks "$tmp/out") "hostile: every other message listed as qmail-qread lists it"
grep -q 'wrong split subdirectory' "$tmp/err"; ok $? "hostile: the misplaced info file is called misplaced"
( cd "$tmp/h" && find queue -printf '%p %s %T@ %y\n' | sort ) >"$tmp/after"
is_same_file "$tmp/before" "$tmp/after" "hostile: reading changed nothing in the queue"
for id in "${v[0]}" "${v[4]}"; do
    "$QT_BIN/qcat" --spool "$Q" "$id" >"$tmp/out" 2>"$tmp/err"
    is "$?" 2 "hostile: qcat $id exits 2"
    is "$(grep -c "^qcat: $id: " "$tmp/err")" 1 "hostile: ... naming $id"
done

# todo/ damage (state a): unterminated record, unknown record type, symlink
extract a "$tmp/ha"
Q=$tmp/ha/queue
mapfile -t v < <(decoded ids "$F/a/decoded.txt" S4 | sort -n | head -n 3)
[ ${#v[@]} -eq 3 ] || bail_out "state a has too few messages in todo/"
f=$Q/todo/${v[0]}; head -c -1 "$f" >"$tmp/x"; rm "$f"; cat "$tmp/x" >"$f"
f=$Q/todo/${v[1]}; rm "$f"; printf 'u0\0p1\0Fa@b\0Zwhat\0Tc@d\0' >"$f"
f=$Q/todo/${v[2]}; rm "$f"; ln -s "$tmp/evil" "$f"
timeout 20 "$QT_BIN/qls" --spool "$Q" >"$tmp/out" 2>"$tmp/err"
is "$?" 2 "todo damage: qls exits 2"
for id in "${v[@]}"; do
    is "$(grep -c "^qls: $id: todo/$id: " "$tmp/err")" 1 "todo damage: $id reported, naming todo/$id" ||
        diag "$(cat "$tmp/err")"
done
is "$(grep -c ' todo$' "$tmp/out")" "$(( $(decoded ids "$F/a/decoded.txt" S4 | wc -l) - 3 ))" \
    "todo damage: the other messages in todo/ are listed"

# IDs that could name paths never reach the file system
for bad in '../x' '/etc/passwd' '..' '1/2' '007' '0' '-1' '18446744073709551616' "$(printf '12\n3')"; do
    "$QT_BIN/qls" --spool "$tmp/st-d/queue" -- "$bad" >/dev/null 2>"$tmp/err"
    is "$?" 2 "ID $(printf %q "$bad") refused with exit 2"
    grep -q 'not a valid qmail queue ID' "$tmp/err"; ok $? "... as not a valid qmail queue ID"
done

done_testing
