# tests/lib.sh -- TAP helpers for qtools' bash tests (tests/t/*.t) and shared settings for the
# labs (tests/lab/*.sh source it too, for QT_ROOT/QT_LAB/QT_T0). Source it; it has no side
# effects besides defining variables and functions.
#
#   plan N | done_testing         TAP plan (up front, or at the end)
#   ok RC NAME                    passes when RC (an exit status) is 0:   cmd; ok $? "name"
#   run_ok NAME CMD...            runs CMD (output shown as diagnostics on failure), passes on rc 0
#   is GOT EXPECTED NAME          string equality
#   is_same_file EXPECTED ACTUAL NAME   byte comparison, prints `diff -u` on failure
#   diag MSG...                   "# MSG" on stderr
#   bail_out MSG                  "Bail out!" and exit
#   qt_faketime CMD...            run CMD under the labs' fixed clock (FAKETIME=@T0, TZ=UTC)
#   qt_labs exim|postfix NAME...  make sure the lab's spools (Exim) or queues (Postfix) NAME
#                                 are built (cached), or bail out
#
# Variables (exported, overridable from the environment):
#   QT_ROOT  the repository          QT_BIN  $QT_ROOT/bin (the tools under test)
#   QT_LAB   where the labs live (default $QT_ROOT/build/lab, always absolute)
#   QT_T0    the fixed "now" of every lab capture, epoch seconds (2026-01-01 00:00:00 UTC)
# shellcheck shell=bash

QT_ROOT=${QT_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
QT_BIN=${QT_BIN:-$QT_ROOT/bin}
QT_LAB=${QT_LAB:-$QT_ROOT/build/lab}
case $QT_LAB in /*) ;; *) QT_LAB=$PWD/$QT_LAB ;; esac
QT_T0=${QT_T0:-1767225600}
export QT_ROOT QT_BIN QT_LAB QT_T0

_qt_n=0 _qt_failed=0 _qt_planned=

plan() { _qt_planned=$1; echo "1..$1"; }

diag() { local l; printf '%s\n' "$@" | while IFS= read -r l; do printf '# %s\n' "$l" >&2; done; }

ok() {  # ok RC NAME
    _qt_n=$((_qt_n + 1))
    if [ "$1" = 0 ]; then echo "ok $_qt_n - $2"; return 0; fi
    echo "not ok $_qt_n - $2"; _qt_failed=$((_qt_failed + 1)); return 1
}

run_ok() {  # run_ok NAME CMD...
    local name=$1 out rc; shift
    out=$("$@" 2>&1); rc=$?
    ok "$rc" "$name" || { diag "command: $*" "exit code: $rc"; [ -n "$out" ] && diag "$out"; }
    return $rc
}

is() {  # is GOT EXPECTED NAME
    [ "$1" = "$2" ]
    ok $? "$3" || diag "got:      '$1'" "expected: '$2'"
}

is_same_file() {  # is_same_file EXPECTED ACTUAL NAME
    local d
    if [ ! -e "$1" ]; then ok 1 "$3"; diag "missing expected file $1"; return 1; fi
    if [ ! -e "$2" ]; then ok 1 "$3"; diag "missing actual file $2"; return 1; fi
    d=$(diff -u "$1" "$2" 2>&1)
    ok $? "$3" || { diag "$d"; return 1; }
}

bail_out() { echo "Bail out! $*"; exit 255; }

done_testing() {
    [ -z "$_qt_planned" ] && echo "1..$_qt_n"
    if [ -n "$_qt_planned" ] && [ "$_qt_planned" != "$_qt_n" ]; then
        diag "planned $_qt_planned tests but ran $_qt_n"; exit 255
    fi
    [ "$_qt_failed" = 0 ] || diag "failed $_qt_failed of $_qt_n"
    exit $((_qt_failed > 254 ? 254 : _qt_failed))
}

# libfaketime comes from the exim lab's extracted Debian package (tests/lab/exim-setup.sh), so
# the tools under test run with exactly the clock the goldens were captured with.
QT_FAKETIME_LIB=${QT_FAKETIME_LIB:-$QT_LAB/exim/pkg/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1}

# libfaketime shares its clock with child processes through /dev/shm/faketime_shm_PID and
# sem.faketime_sem_PID, which a process killed or ending in _exit() (the labs' daemons, exim's
# delivery processes) leaves behind. A later process given the same PID (pid_max may be 32768)
# then finds them, perhaps another user's, and its children die with "ft_shm_init(), sem_open
# failed": seen as qrun's exim -bP printing nothing now and then. So each test starts by
# removing those of processes that are gone.
qt_faketime_sweep() {
    local f pid gone=()
    for f in /dev/shm/faketime_shm_* /dev/shm/sem.faketime_sem_*; do
        pid=${f##*_}
        case $pid in *[!0-9]* | '') continue ;; esac
        [ -d "/proc/$pid" ] || gone+=("$f")
    done
    [ ${#gone[@]} = 0 ] || rm -f -- "${gone[@]}"
}
qt_faketime_sweep

qt_faketime() {  # qt_faketime CMD...
    if [ ! -e "$QT_FAKETIME_LIB" ]; then
        echo "qt_faketime: $QT_FAKETIME_LIB missing (run tests/lab/exim-setup.sh)" >&2
        return 127
    fi
    LD_PRELOAD="$QT_FAKETIME_LIB${LD_PRELOAD:+ $LD_PRELOAD}" \
    FAKETIME="@$(date -u -d "@$QT_T0" '+%Y-%m-%d %H:%M:%S')" TZ=UTC "$@"
}

qt_labs() {  # qt_labs exim|postfix NAME...
    local mta=$1 n
    shift
    if [ "$mta" = exim ]; then
        "$QT_ROOT/tests/lab/exim-setup.sh" >/dev/null 2>&1 || bail_out "exim lab setup failed"
        for n in "$@"; do
            "$QT_ROOT/tests/lab/exim-spool.sh" "$n" >/dev/null 2>&1 || bail_out "exim lab spool $n failed"
        done
    else
        bash "$QT_ROOT/tests/lab/postfix-setup.sh" >/dev/null 2>&1 || bail_out "postfix lab: setup failed"
        for n in "$@"; do
            bash "$QT_ROOT/tests/lab/postfix-queue.sh" "$n" >/dev/null 2>&1 ||
                bail_out "postfix lab: $n failed"
        done
    fi
}
