# tests/act-exim.sh -- what the tests acting on copies of the Exim lab's spool share
# (50-exim-act.t, 65-qedit-exim.t): source it after tests/lib.sh. It prepares the lab, makes
# $tmp (removed on exit, with the processes in pids) and defines EU, new_spool, exim_on and
# hold_lock.
# shellcheck shell=bash
"$QT_ROOT/tests/lab/exim-setup.sh" >/dev/null 2>&1 || bail_out "exim lab setup failed"
"$QT_ROOT/tests/lab/exim-spool.sh" main >/dev/null 2>&1 || bail_out "exim lab spool main failed"
tmp=$(mktemp -d); chmod o+x "$tmp"      # exim drops to its own uid: it must reach the copies
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
EU=$(awk -F: '$1 == "Debian-exim" { print $3 }' "$QT_LAB/exim/etc/passwd")

new_spool() {  # new_spool DIR: a copy of the lab's main spool with a log directory
    rm -rf "${1:?}"; cp -a "$QT_LAB/exim/spools/main" "$1"
    mkdir -p "$1/log" && touch "$1/log/mainlog" && chown -R "$EU:$EU" "$1/log"
}
exim_on() { local s=$1; shift; "$QT_LAB/exim/bin/exim" -DSPOOL="$s" -DLOGDIR="$s/log" "$@"; }
hold_lock() {  # hold_lock SPOOL ID: Exim's lock on the message, held in the background (the
    # last of pids) as a delivery holds it, until killed
    rm -f "$tmp/locked"
    python3 - "$1/input/$2-D" "$tmp/locked" <<'PY' &
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, len(os.path.basename(sys.argv[1])) + 1, 0)
open(sys.argv[2], 'w').close()
time.sleep(30)
PY
    pids+=($!)
    for _ in $(seq 50); do [ -e "$tmp/locked" ] && break; sleep 0.1; done
}
