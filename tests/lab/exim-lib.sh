# tests/lab/exim-lib.sh -- sourced by exim-setup.sh and exim-spool.sh (not run directly).
# shellcheck shell=bash
export LC_ALL=C                             # byte order, '.' in $EPOCHREALTIME
LAB_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# QT_ROOT, QT_LAB (absolute), QT_T0
. "$LAB_SRC/../lib.sh"

X=$QT_LAB/exim                              # everything the exim lab makes lives here
ARCHLIB=usr/lib/x86_64-linux-gnu
EXIM_PKGS="exim4-daemon-light exim4-base exim4-config libidn12 libnss-wrapper libfaketime"
EXIM_NOSUID=$X/bin/exim4-nosuid
FAKETIME_LIB=$X/pkg/$ARCHLIB/faketime/libfaketime.so.1

say() { echo "${PROG:-exim-lab}: $*"; }
die() { echo "${PROG:-exim-lab}: ERROR: $*" >&2; exit 1; }

# lab_hash FILE... -> short content hash (stamps: rebuild when a lab script changes)
lab_hash() { cat "$@" | sha256sum | cut -c1-16; }

# The stamp of the sandbox (setup). Spool stamps include it, so a new config rebuilds spools.
setup_hash() { lab_hash "$LAB_SRC/exim-lib.sh" "$LAB_SRC/exim-setup.sh"; }

# t0_string [EPOCH] -> "YYYY-MM-DD HH:MM:SS" (libfaketime's absolute format)
t0_string() { date -u -d "@${1:-$QT_T0}" '+%Y-%m-%d %H:%M:%S'; }

# port_busy PORT -> true if something accepts connections on 127.0.0.1:PORT
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
