#!/bin/bash
# 25-expr.t -- selection expressions (-e, qtools-select(7)) on the spools the real MTAs wrote:
# the Exim lab (main spool), the Postfix lab (short), a real qmail queue (tests/fixtures/qmail,
# state d). What is checked:
#   - against exipick on the Exim spool, for what exipick can express (its own tests, --or,
#     --not, --caseful);
#   - nested expressions against set algebra over the single tests' results, on all three;
#   - envelope expressions against an independent model (Python over qls --json);
#   - each option selector and the expression that says the same, on all three;
#   - every selecting tool takes -e (qls, qgrep, qsumm, qrm, qfreeze, qrun), and qrm -e
#     removes exactly what qgrep -e selects (qmail, qmail-send stopped);
#   - headers and bodies are read only for the messages the envelope did not decide (the
#     files opened, counted with strace);
#   - "cannot tell" (a body that cannot be read) is reported, exits 2 and never selects,
#     also under not and -v, unless a cheaper test decided;
#   - bad expressions: one message, the expression and a caret under the column, exit 2,
#     nothing acted on.
. "$(dirname "$0")/../lib.sh"
export LC_ALL=C TZ=UTC
PY=$(command -v /usr/bin/python3 || command -v python3)
B=$QT_BIN

qt_labs exim main
qt_labs postfix short
command -v strace >/dev/null || bail_out "strace is needed (scripts/install-deps)"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

X=$QT_LAB/exim
ES=$X/spools/main ET0=$(cat "$X/golden/main/T0")
PS=$QT_LAB/postfix/short/queue PT0=$(cat "$QT_LAB/postfix/golden/short/T0")
# qmail: state d (bounces, double bounces, delivered and pending recipients, bouncing), without
# its two crash leftovers (a scan reports them, which would make every run exit 2)
F=$QT_ROOT/tests/fixtures/qmail
qmail_copy() {  # qmail_copy DIR: a fresh copy of state d in DIR/queue
    rm -rf "$1"; mkdir -p "$1" && tar -C "$1" -xzf "$F/state-d.tar.gz" || bail_out "cannot extract qmail state d"
    for id in $(awk '/^ID [0-9]+ / && !/\[S[45] / { print $2 }' "$F/d/decoded.txt"); do
        rm -f "$1"/queue/{mess/$((id % 23)),intd,todo}/"$id"
    done
}
qmail_copy "$tmp/qm"
QS=$tmp/qm/queue
# qmail's arrival times are file mtimes, which libfaketime shifts with the clock: the ages
# are the real ones whatever the clock (so no test below depends on a qmail age's value)
QT0=$QT_T0

spool_of() { case $1 in exim) echo "$ES" ;; postfix) echo "$PS" ;; qmail) echo "$QS" ;; esac; }
t0_of() { case $1 in exim) echo "$ET0" ;; postfix) echo "$PT0" ;; qmail) echo "$QT0" ;; esac; }
at() { local t0=$1; shift; QT_T0=$t0 qt_faketime "$@"; }   # at T0 CMD...: under that clock

# sel MTA ARGS...: the IDs qgrep selects with ARGS, sorted; its exit status in $tmp/rc
sel() {
    local mta=$1; shift
    at "$(t0_of "$mta")" "$B/qgrep" --spool "$(spool_of "$mta")" -i "$@" 2>"$tmp/err" | sort
    echo "${PIPESTATUS[0]}" >"$tmp/rc"
}
# same NAME FILE1 FILE2: same IDs; and the set is not trivial when NONTRIVIAL=1 (not empty,
# not everything), so that the comparison could fail
same() {
    local d; d=$(diff -u "$2" "$3")
    ok $? "$1 ($(grep -c . "$2") messages)" || diag "$d"
}
nontrivial() {  # nontrivial MTA FILE NAME
    local n all; n=$(grep -c . "$2"); all=$(grep -c . "$tmp/all.$1")
    [ "$n" -gt 0 ] && [ "$n" -lt "$all" ]; ok $? "$3: selects some but not all ($n of $all)"
}
for m in exim postfix qmail; do sel "$m" >"$tmp/all.$m"; done

# ---------------------------------------------------------------- reason = --reason
# (the delay reasons themselves are checked against exim -Mvl and postqueue -j in 22 and 41)
for m in exim postfix; do
    for re in 'refused' 'timed out|refused'; do
        sel "$m" --reason "$re" >"$tmp/opt"
        sel "$m" -e "reason ~ \"$re\"" >"$tmp/expr"
        nontrivial "$m" "$tmp/opt" "$m: --reason '$re'"
        same "$m: -e 'reason ~ \"$re\"' = --reason '$re'" "$tmp/opt" "$tmp/expr"
        sel "$m" -e "not reason ~ \"$re\"" >"$tmp/expr"
        sel "$m" -v --reason "$re" >"$tmp/opt"
        nontrivial "$m" "$tmp/opt" "$m: -v --reason '$re'"
        same "$m: -e 'not reason ~ ...' = -v --reason" "$tmp/opt" "$tmp/expr"
    done
done

# ---------------------------------------------------------------- against exipick (Exim)
export QT_T0=$ET0
exipick() { qt_faketime "$X/bin/exipick-main" -i "$@" | sort; }
# exipick's =~ is Perl's own (case counts); its = is the caseless regex (--caseful: not)
while IFS=$'\t' read -r expr pick; do
    [ -n "$expr" ] || continue
    eval "set -- $pick"
    exipick "$@" >"$tmp/pick"
    sel exim -e "$expr" >"$tmp/ours"
    [ -s "$tmp/pick" ]; ok $? "exipick $pick selects something" || continue
    same "exim: -e '$expr' = exipick $pick" "$tmp/pick" "$tmp/ours"
done <<'EOF'
sender ~ "oldmail"	'$sender_address =~ /oldmail/'
sender ~ "OLDMAIL"	'$sender_address = OLDMAIL'
sender ~ "OldMail\.EXAMPLE"	'$sender_address =~ /OldMail\.EXAMPLE/i'
age > 1d	'$message_age > 86400'
age <= 6h	'$message_age <= 21600'
frozen	'$deliver_freeze'
not frozen	--not '$deliver_freeze'
bounce	'$sender_address eq ""'
size > 2k	'$message_size > 2048'
rcpt-count >= 2	'$recipients_undel_count >= 2'
recipient ~ "remote" and size > 2k	'$recipients_undel =~ /remote/' '$message_size > 2048'
frozen or age > 1d	--or '$deliver_freeze' '$message_age > 86400'
bounce || rcpt-count > 1 || sender ~ "^<fossil@"	--or '$sender_address eq ""' '$recipients_undel_count > 1' '$sender_address =~ /^fossil@/'
header("Subject") ~ "long|size"	'$h_subject: =~ /long|size/'
EOF
# --caseful against --case-sensitive: the uppercase regex selects nothing either way, the
# lowercase one the same messages
exipick --caseful '$sender_address = OLDMAIL' >"$tmp/pick"
sel exim --case-sensitive -e 'sender ~ "OLDMAIL"' >"$tmp/ours"
same "exim: --case-sensitive -e 'sender ~ \"OLDMAIL\"' = exipick --caseful" "$tmp/pick" "$tmp/ours"
exipick --caseful '$sender_address = oldmail' >"$tmp/pick"
sel exim --case-sensitive -e 'sender ~ "oldmail"' >"$tmp/ours"
[ -s "$tmp/ours" ]; ok $? "exim: --case-sensitive lowercase selects something"
same "exim: --case-sensitive -e 'sender ~ \"oldmail\"' = exipick --caseful" "$tmp/pick" "$tmp/ours"

# ---------------------------------------------------------------- set algebra, all three MTAs
# three tests A B C per MTA, each selecting some but not all messages
declare -A TA TB TC
TA[exim]='age > 1d'               TB[exim]='recipient ~ "remote"'  TC[exim]='frozen or bounce'
TA[postfix]='size > 400'          TB[postfix]='recipient ~ "remote"'  TC[postfix]='queue == "active"'
TA[qmail]='size > 400'             TB[qmail]='rcpt-count >= 2'      TC[qmail]='bounce'
union() { sort -u "$@"; }
inter() { comm -12 "$1" "$2"; }
minus() { comm -23 "$1" "$2"; }
for m in exim postfix qmail; do
    A=${TA[$m]} Bt=${TB[$m]} C=${TC[$m]}
    sel "$m" -e "$A" >"$tmp/A"; nontrivial "$m" "$tmp/A" "$m: A = $A"
    sel "$m" -e "$Bt" >"$tmp/B"; nontrivial "$m" "$tmp/B" "$m: B = $Bt"
    sel "$m" -e "$C" >"$tmp/C"; nontrivial "$m" "$tmp/C" "$m: C = $C"
    all=$tmp/all.$m
    check() {  # check EXPECTED-FILE ARGS...
        local exp=$1; shift
        sel "$m" "$@" >"$tmp/got"
        same "$m: $*" "$exp" "$tmp/got"
    }
    union "$tmp/A" "$tmp/B" >"$tmp/AuB"
    minus "$tmp/AuB" "$tmp/C" >"$tmp/exp"; check "$tmp/exp" -e "($A or $Bt) and not ($C)"
    check "$tmp/exp" -e "not ($C) && ($Bt || $A)"
    inter "$tmp/A" "$tmp/B" >"$tmp/exp"; check "$tmp/exp" -e "$A and $Bt"
    check "$tmp/exp" -e "$A" -e "$Bt"
    minus "$all" "$tmp/A" >"$tmp/exp"; check "$tmp/exp" -e "not ($A)"
    check "$tmp/exp" -e "!($A)"
    check "$tmp/exp" -e "not not not ($A)"
    # De Morgan, and -v around an expression
    inter "$tmp/A" "$tmp/B" | minus "$all" - >"$tmp/exp"; check "$tmp/exp" -e "not ($A) or not ($Bt)"
    check "$tmp/exp" -v -e "$A and $Bt"
    inter "$tmp/B" "$tmp/C" | union - "$tmp/A" >"$tmp/exp"; check "$tmp/exp" -e "$A or ($Bt and ($C))"
    minus "$tmp/B" "$tmp/C" >"$tmp/BmC"; inter "$tmp/A" "$tmp/BmC" >"$tmp/exp"
    check "$tmp/exp" -e "((($A))) and ((not ($C)) and $Bt)"
    # the options and -e together: ANDed
    sel "$m" -z >"$tmp/Z"; inter "$tmp/AuB" "$tmp/Z" >"$tmp/exp"; check "$tmp/exp" -z -e "$A or $Bt"
done

# ---------------------------------------------------------------- a model over qls --json
# The envelope fields from qls --json, evaluated in Python with re (caseless): each
# expression is given here once in qtools' syntax and once as the model's Python.
cat >"$tmp/model.py" <<'PY'
import json, re, sys
mta, file = sys.argv[1], sys.argv[2]
exprs = [l.rstrip("\n").split("\t") for l in open(sys.argv[3]) if l.strip()]
msgs, now = [], None
for line in open(file):
    r = json.loads(line)
    if r["type"] == "message": msgs.append(r)
    elif r["type"] == "end": now = r["now"]
B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
def age(r):   # Exim: the time in the ID (exiqgrep's); else the arrival
    if mta == "exim":
        t = 0
        for c in r["queue_id"][:6]: t = t * 62 + B62.index(c)
        return now - t
    return now - r["arrival_time"]
def sender(r):
    s = r["sender"]
    return "" if mta == "postfix" and s == "MAILER-DAEMON" else s
def m(p, s): return re.search(p, s, re.I) is not None
for i, (name, py) in enumerate(exprs):
    out = open("%s.%d" % (sys.argv[4], i), "w")
    for r in msgs:
        rc = [x["address"] for x in r["recipients"]]
        env = dict(r=r, sender="<%s>" % sender(r), rcpts=rc, count=len(rc), age=age(r),
                   size=r["message_size"], frozen=r["state"] in ("frozen", "hold"),
                   bounce=sender(r) == "", queues=[r["queue_name"], r["state"]], m=m,
                   id=r["queue_id"])
        if eval(py, env): out.write(r["queue_id"] + "\n")
PY
cat >"$tmp/exprs" <<'EOF'
sender ~ "^<[a-k]" and not bounce	m("^<[a-k]", sender) and not bounce
recipient ~ "remote\.example$" or rcpt-count > 2	any(m(r"remote\.example$", a) for a in rcpts) or count > 2
every-recipient ~ "\.(com|net)$"	all(m(r"\.(com|net)$", a) for a in rcpts)
(age > 2h or size >= 1k) and not frozen	(age > 7200 or size >= 1024) and not frozen
queue == "deferred" or queue ~ "^bounc" or id ~ "[13579]$"	any(q.lower() == "deferred" or m("^bounc", q) for q in queues) or m("[13579]$", id)
not (frozen or bounce) and size <= 500 and rcpt-count == 1	not (frozen or bounce) and size <= 500 and count == 1
age < 10m || sender == "<>"	age < 600 or sender == "<>"
EOF
for mt in exim postfix qmail; do
    at "$(t0_of "$mt")" "$B/qls" --spool "$(spool_of "$mt")" --json >"$tmp/json" 2>/dev/null
    "$PY" "$tmp/model.py" "$mt" "$tmp/json" "$tmp/exprs" "$tmp/model"
    ok $? "$mt: the model ran" || continue
    i=0 some=0
    while IFS=$'\t' read -r expr py; do
        sort "$tmp/model.$i" >"$tmp/exp"
        sel "$mt" -e "$expr" >"$tmp/got"
        same "$mt: -e '$expr' = the model over qls --json" "$tmp/exp" "$tmp/got"
        n=$(grep -c . "$tmp/exp")
        [ "$n" -gt 0 ] && [ "$n" -lt "$(grep -c . "$tmp/all.$mt")" ] && some=$((some + 1))
        i=$((i + 1))
    done <"$tmp/exprs"
    [ "$some" -ge 4 ]; ok $? "$mt: $some of $i model expressions select some but not all"
done

# ---------------------------------------------------------------- the options say the same
declare -A AGE WHO TO QN
AGE[exim]=2d      WHO[exim]=oldmail      TO[exim]=remote    QN[exim]=frozen
# the Postfix lab queue is written in a few seconds, in real time, and its clock (PT0) taken
# right after: the age that splits it is its youngest message's, read from the queue itself
AGE[postfix]=$("$B/qls" --spool "$PS" --json | python3 -c 'import json, sys
t0 = int(sys.argv[1])
print(min(t0 - json.loads(l)["arrival_time"] for l in sys.stdin if "\"message\"" in l))' "$PT0")s
WHO[postfix]=example   TO[postfix]=remote QN[postfix]=deferred
AGE[qmail]=1d     WHO[qmail]=bob         TO[qmail]=ok-      QN[qmail]=bouncing
for m in exim postfix qmail; do
    a=${AGE[$m]} w=${WHO[$m]} t=${TO[$m]} q=${QN[$m]}
    while IFS='|' read -r opts expr; do
        [ -n "$opts" ] || continue
        eval "set -- $opts"
        sel "$m" "$@" >"$tmp/opt"
        eval "set -- $expr"
        sel "$m" "$@" >"$tmp/expr"
        same "$m: $opts = $expr" "$tmp/opt" "$tmp/expr"
    done <<EOF
-f $w -o $a|-e 'sender ~ "$w" and age > $a'
-y $a|-e 'age < $a'
-r $t|-e 'recipient ~ "$t"'
-a -r $t|-a -e 'recipient ~ "$t"'
-z|-e frozen
-x|-e 'not frozen'
--bounce|-e bounce
--larger 1k|-e 'size >= 1k'
--smaller 1k|-e 'size < 1k'
--queue $q|-e 'queue == "$q"'
--header 'Subject: e'|-e 'header("Subject") ~ "e"'
--header 'subject: ^ *[a-m]'|-e 'header("SUBJECT") ~ "^ *[a-m]"'
--body 'the'|-e 'body ~ "the"'
-v -f $w|-v -e 'sender ~ "$w"'
-v -r $t -o $a|-v -e 'age > $a' -e 'recipient ~ "$t"'
EOF
    sel "$m" -f "$w" -o "$a" >"$tmp/opt"; nontrivial "$m" "$tmp/opt" "$m: -f $w -o $a"
done

# ---------------------------------------------------------------- every selecting tool
# (the acting tools with -n, on messages not frozen: qfreeze leaves a frozen one alone)
for m in exim postfix qmail; do
    s=$(spool_of "$m") t0=$(t0_of "$m") e="(${TC[$m]}) and not frozen"
    sel "$m" -e "$e" >"$tmp/exp"
    at "$t0" "$B/qls" --spool "$s" -i -e "$e" 2>/dev/null | sort >"$tmp/got"
    same "$m: qls -e '$e' = qgrep" "$tmp/exp" "$tmp/got"
    n=$(at "$t0" "$B/qsumm" --spool "$s" --json -e "$e" 2>/dev/null | jq -r 'select(.type == "end") | .matched')
    is "$n" "$(grep -c . "$tmp/exp")" "$m: qsumm -e '$e' counts them"
    for tool in qrm qfreeze qrun; do
        # qrun -n prints the MTA's command (the lab's exim for this spool): qmail has none
        # for single messages, and Postfix's postqueue would need this queue's
        # configuration (57-postfix-act.t)
        mta=()
        if [ "$tool" = qrun ]; then
            [ "$m" != exim ] && continue
            mta=(--mta-path "$X/bin/exim-main")
        fi
        at "$t0" "$B/$tool" --spool "$s" -n "${mta[@]}" -e "$e" 2>"$tmp/err" | tr ' ' '\n' |
            grep -Fx -f "$tmp/all.$m" | sort >"$tmp/got"
        same "$m: $tool -n -e '$e' would act on them" "$tmp/exp" "$tmp/got" || diag "$(cat "$tmp/err")"
    done
done
# qrm -e really removes what qgrep -e selects, and only that (qmail, qmail-send stopped)
qmail_copy "$tmp/qrm"
e='rcpt-count >= 2 or (bounce and not queue == "bouncing")'
QT_T0=$QT0 qt_faketime "$B/qgrep" --spool "$tmp/qrm/queue" -i -e "$e" | sort >"$tmp/exp"
QT_T0=$QT0 qt_faketime "$B/qls" --spool "$tmp/qrm/queue" -i | sort >"$tmp/before"
[ -s "$tmp/exp" ]; ok $? "qmail: qrm's selection is not empty"
QT_T0=$QT0 qt_faketime "$B/qrm" --spool "$tmp/qrm/queue" -e "$e" >"$tmp/out" 2>&1
ok $? "qmail: qrm -e '$e'" || diag "$(cat "$tmp/out")"
QT_T0=$QT0 qt_faketime "$B/qls" --spool "$tmp/qrm/queue" -i | sort >"$tmp/after"
minus "$tmp/before" "$tmp/exp" >"$tmp/left"
same "qmail: after qrm -e, the rest is left" "$tmp/left" "$tmp/after"

# the recipes of qtools-select(7) run on every MTA (the dry-run ones: -n)
for m in exim postfix qmail; do
    s=$(spool_of "$m") t0=$(t0_of "$m")
    at "$t0" "$B/qrm" --spool "$s" -n -e '(bounce and age > 5d) or recipient ~ "@dead\.example$"' \
        -e 'not frozen' >/dev/null 2>"$tmp/err"
    [ $? -lt 2 ]; ok $? "$m: recipe 1 (qrm -n)" || diag "$(cat "$tmp/err")"
    at "$t0" "$B/qgrep" --spool "$s" -b -e 'sender ~ "@customer\.example>$" and
      (header("Subject") ~ "invoice" or size > 10M)' >/dev/null 2>"$tmp/err"
    [ $? -lt 2 ]; ok $? "$m: recipe 2 (qgrep)" || diag "$(cat "$tmp/err")"
    at "$t0" "$B/qfreeze" --spool "$s" -n -e 'rcpt-count >= 100 && age > 1d && !(sender ~ "@lists\.example>$")' \
        >/dev/null 2>"$tmp/err"
    [ $? -lt 2 ]; ok $? "$m: recipe 3 (qfreeze -n)" || diag "$(cat "$tmp/err")"
done

# ---------------------------------------------------------------- content read only when needed
# opens of the files that hold headers or bodies: Exim's -D (headers are in -H, read for the
# envelope anyway), qmail's mess/, Postfix's queue file (opened once by the scan, once more
# per content read); counted as the opens beyond those of the envelope-only run
opens() {  # opens MTA EXPR: how many spool files (not directories) the run opens
    local mt=$1; shift
    # (the sanitized tools of tests/run-asan: LeakSanitizer cannot run under ptrace)
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
        at "$(t0_of "$mt")" strace -f -qq -e trace=openat,open -o "$tmp/strace" \
        "$B/qls" --spool "$(spool_of "$mt")" -i -e "$1" >/dev/null 2>&1
    grep O_NOFOLLOW "$tmp/strace" | grep -v -e O_DIRECTORY -e faketime -c
}
for m in exim postfix qmail; do
    sel "$m" -e bounce >"$tmp/b"; nb=$(grep -c . "$tmp/b")
    [ "$nb" -gt 0 ]; ok $? "$m: there are bounces ($nb)"
    base=$(opens "$m" bounce)
    for e in 'bounce and body ~ "."' 'body ~ "." and bounce' 'not bounce or body ~ "zzz"' \
             'not (body ~ "." or not bounce)'; do
        is "$(( $(opens "$m" "$e") - base ))" "$nb" "$m: -e '$e' reads the body of the $nb bounces only"
    done
    is "$(( $(opens "$m" 'id == "none" and body ~ "."') - base ))" 0 \
        "$m: an expression the envelope decides reads no body"
    [ "$m" = exim ] && continue    # Exim's headers are in -H: no file to count
    is "$(( $(opens "$m" 'header("Subject") ~ "." and bounce') - base ))" "$nb" \
        "$m: header() is read for the $nb bounces only"
    is "$(( $(opens "$m" 'sender == "<nobody@nowhere.invalid>" and header("Subject") ~ "."') - base ))" 0 \
        "$m: no header is read when no sender matches"
done

# ---------------------------------------------------------------- cannot tell
# an Exim message whose -D is gone (a -H without -D is listed, with a blank size): its body
# cannot be read
cp -a "$ES" "$tmp/ex" || bail_out "cannot copy the exim spool"
victim=$(sel exim -e 'not frozen and not bounce' | head -n 1)
[ -n "$victim" ]; ok $? "exim: a message to damage ($victim)"
rm -f "$tmp/ex/input/$victim-D" "$tmp/ex/input/"?"/$victim-D"
ctell() {  # ctell ARGS...: qgrep -i on the damaged copy; IDs in $tmp/got, status in $tmp/rc
    at "$ET0" "$B/qgrep" --spool "$tmp/ex" -i "$@" >"$tmp/got" 2>"$tmp/err"; echo $? >"$tmp/rc"
}
# the others' bodies all have a line: the first two select all of them but the victim
for args in "-e 'body ~ \".\"'" "-v -e 'not body ~ \".\"'" "-e 'not body ~ \"zzz\"'" \
            "-v -e 'body ~ \"zzz\"'" "-e 'body ~ \".\" and not frozen'" \
            "-e 'frozen or body ~ \".\"'"; do
    eval "set -- $args"
    ctell "$@"
    ! grep -qx "$victim" "$tmp/got"; ok $? "cannot tell: qgrep $args never selects $victim"
    is "$(cat "$tmp/rc")" 2 "cannot tell: qgrep $args exits 2"
    grep -q "$victim" "$tmp/err"; ok $? "cannot tell: qgrep $args names $victim" || diag "$(cat "$tmp/err")"
    [ -s "$tmp/got" ]; ok $? "cannot tell: qgrep $args still selects the others"
done
# ... unless a cheaper test decided (Kleene: false and unknown is false, true or unknown true)
for args in "-e 'frozen and body ~ \".\"'" "-e 'id == \"$victim\" or body ~ \".\"'" \
            "-e 'not (id == \"$victim\" or body ~ \".\")'" "-e 'body ~ \".\" or not frozen'"; do
    eval "set -- $args"
    ctell "$@"
    [ "$(cat "$tmp/rc")" != 2 ]; ok $? "decided without the body: qgrep $args does not fail" ||
        diag "$(cat "$tmp/err")"
done
ctell -e "id == \"$victim\" or body ~ \".\""
grep -qx "$victim" "$tmp/got"; ok $? "decided without the body: $victim selected by its ID"

# ---------------------------------------------------------------- bad expressions
# bad EXPR COLUMN WHAT: exit 2, nothing on stdout, three lines on stderr: the message
# (matching WHAT), the expression, and a caret under COLUMN (0-based)
bad() {
    local expr=$1 col=$2 what=$3 out rc caret
    out=$("$B/qgrep" --spool "$ES" -i -e "$expr" 2>"$tmp/err"); rc=$?
    is "$rc" 2 "bad: '${expr:0:40}' exits 2"
    is "$out" "" "bad: '${expr:0:40}' prints nothing on stdout"
    grep -q "^qgrep: -e: .*$what" "$tmp/err"; ok $? "bad: '${expr:0:40}': $what" || diag "$(cat "$tmp/err")"
    is "$(wc -l <"$tmp/err")" 3 "bad: '${expr:0:40}': three lines"
    [ "$col" = - ] && return
    caret=$(sed -n 3p "$tmp/err")
    is "$caret" "$(printf '%*s^' $((col + 2)) '')" "bad: '${expr:0:40}': the caret under column $col"
}
bad '(frozen or bounce' 17 'is not closed'
bad 'frozen or bounce)' 16 'closes no'
bad '((frozen) or (bounce)' 21 'the ( at column 1 is not closed'
bad 'frozen and' 10 'ends where a test should be'
bad 'and frozen' 0 'expected a test'
bad 'frozen bounce' 7 'expected and, or'
bad 'age > 3x' 6 'not a duration'
bad 'size > -1' 7 'negative'
bad 'size > 1T' 7 'not a size'
bad 'rcpt-count > 2k' 13 'a count has no unit'
bad 'sender ~ "("' 9 'missing closing parenthesis'
bad 'colour == "red"' 0 'unknown field'
bad 'frozen == 1' 7 'is a flag'
bad 'sender > 3' 7 'not a number'
bad 'age ~ "1"' 4 'is a number'
bad 'header(Subject) ~ "x"' 7 'name in double quotes'
bad 'header("Sub ject") ~ "x"' 7 'a header name'
bad 'sender ~ "x' 9 'without its closing'
bad 'sender = "x"' 7 "'=' alone"
bad 'sender ~ "x" & frozen' 13 "'&' alone"
bad "frozen or sender ~ \"x\" $(printf '\001')" 23 'unexpected byte 0x01'
# a NUL cannot reach a command line: bash cuts the argument there, leaving an open string
bad $'sender ~ "a\0b"' 9 'without its closing'
# limits: 100 KB, 10,000 parentheses (refused at the 101st, no stack overflow), 300 tests
long=$(printf 'frozen or %.0s' $(seq 10240))frozen
bad "$long" - 'longer than 16384 bytes'
deep=$(printf '(%.0s' $(seq 10000))frozen
bad "$deep" - 'nested more than 100 deep'
deep=$(printf '(%.0s' $(seq 5000))frozen$(printf ')%.0s' $(seq 5000))
bad "$deep" - 'nested more than 100 deep'
many=$(printf 'id == "x" or %.0s' $(seq 300))frozen
bad "$many" - 'more than 256 tests'
ok_expr=$(printf '(%.0s' $(seq 100))frozen$(printf ')%.0s' $(seq 100))
sel exim -e "$ok_expr" >"$tmp/got"; sel exim -z >"$tmp/exp"
same "100 parentheses deep is allowed" "$tmp/exp" "$tmp/got"
# a long expression is shown around the column, not whole
"$B/qgrep" --spool "$ES" -i -e "$long or age > 3x" 2>"$tmp/err"
[ "$(sed -n 2p "$tmp/err" | wc -c)" -lt 100 ]; ok $? "a long expression is shown in part" || diag "$(cat "$tmp/err")"
# the second -e is named by showing it; the first was fine
"$B/qgrep" --spool "$ES" -i -e frozen -e 'bounce or' 2>"$tmp/err"
is "$(sed -n 2p "$tmp/err")" "  bounce or" "the bad one of two -e is shown"
# nothing acted on: qrm and qfreeze with a bad expression leave the queue as it was
qmail_copy "$tmp/qbad"
snap() { (cd "$1" && find . -printf '%p %y %m %s %T@ %i\n' | sort); }
snap "$tmp/qbad" >"$tmp/snap1"
for tool in qrm qfreeze; do
    "$B/$tool" --spool "$tmp/qbad/queue" -e 'bounce and' >/dev/null 2>&1
    is "$?" 2 "$tool -e 'bounce and' exits 2"
done
snap "$tmp/qbad" >"$tmp/snap2"
is_same_file "$tmp/snap1" "$tmp/snap2" "a bad expression acts on nothing"

done_testing
