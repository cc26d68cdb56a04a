#!/bin/bash
# tests/lab/postfix-setup.sh - the Postfix lab: Debian 12's real Postfix 3.7, fetched with
# `apt-get download`, extracted with `dpkg -x` under $QT_LAB/postfix (never installed), run as
# private instances with their own config and queue directories.
#
# usage: postfix-setup.sh                  prepare, then config + empty queue of short and long
#                                          (only where missing)
#        postfix-setup.sh prepare          binaries (download, extract, RUNPATH), libfaketime,
#                                          perl modules for qshape, users; stamp .binaries-ok
#        postfix-setup.sh init INST        prepare, then (re)write INST's config and create its
#                                          queue (an existing queue is kept: wipe it first)
#        postfix-setup.sh start INST       start INST's master (as root)
#        postfix-setup.sh stop INST        stop it by PID (TERM, wait, then KILL); never fails
#        postfix-setup.sh status INST      exit 0 if INST's master runs
#        postfix-setup.sh procs INST       "PID NAME" of the master and its children
#        postfix-setup.sh env INST         print shell assignments (PFX_*, PATH) for eval
#        postfix-setup.sh ports INST       print "smtpd milter_smtpd dead tarpit milter" ports
#
# Layout (QT_LAB defaults to <repo>/build/lab, made absolute):
#   $QT_LAB/postfix/debs/          the downloaded .debs
#   $QT_LAB/postfix/pkg/           dpkg -x of postfix, ELF RUNPATH rewritten to pkg/usr/lib/postfix
#   $QT_LAB/postfix/patchelf/      dpkg -x of patchelf (used for the rewrite, not installed)
#   $QT_LAB/postfix/faketime/      dpkg -x of libfaketime, only if the system has none
#   $QT_LAB/postfix/deps/          dpkg -x of postfix's library dependencies the system lacks
#   $QT_LAB/postfix/perl/          dpkg -x of perl-modules-5.36, only if the system lacks it (qshape)
#   (QT_PFX_OWN_LIBS=1 extracts libfaketime, the libraries and perl-modules even if installed:
#   what a fresh Debian 12 without them gets)
#   $QT_LAB/postfix/INST/conf/     config_directory: main.cf master.cf transport header_checks
#   $QT_LAB/postfix/INST/queue/    queue_directory
#   $QT_LAB/postfix/INST/{meta,data,log,run}/   meta_directory, data_directory, maillog, our pids
#
# Instances: "short" (enable_long_queue_ids = no) and "long" (= yes); any other name is
# short-ID unless QT_PFX_LONG_IDS=yes. Ports on 127.0.0.1 (base 29450 for short, 29460 for
# long, QT_PFX_PORT_BASE overrides): base+1 smtpd, base+2 smtpd with the lab milter,
# base+3 the dead relayhost (must stay closed), base+4 the tarpit, base+5 the milter.
#
# The one change outside $QT_LAB: the system user postfix and the groups postfix and postdrop
# are created if missing, as Debian's postinst would. Must run as root. This script starts
# no daemon except with "start"; whoever starts one must stop it (see postfix-queue.sh).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
QT_LAB=${QT_LAB:-$REPO/build/lab}
mkdir -p "$QT_LAB"
QT_LAB=$(cd "$QT_LAB" && pwd)
PFX=$QT_LAB/postfix
PKG=$PFX/pkg
SBIN=$PKG/usr/sbin
export LC_ALL=C

die() { echo "postfix-setup: $*" >&2; exit 1; }
say() { echo "postfix-setup: $*" >&2; }
[ "$(id -u)" = 0 ] || die "must run as root (postfix start, postsuper, private config dirs)"

# ---------------------------------------------------------------- packages
# apt-get download needs package lists; a fresh system may have none.
apt_download() {        # apt_download PKG... (into $PFX/debs)
    mkdir -p "$PFX/debs"
    local p missing=()
    for p in "$@"; do
        ls "$PFX/debs/${p}_"*.deb >/dev/null 2>&1 || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if ! ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1; then
        say "no apt package lists: apt-get update"
        apt-get update -qq || die "apt-get update failed"
    fi
    # apt's _apt user cannot write to a root-only directory: download in a world-writable
    # scratch directory, then move the .debs into place
    local tmp; tmp=$(mktemp -d); chmod 777 "$tmp"
    if ! (cd "$tmp" && apt-get download -qq "${missing[@]}" 2>"$tmp/err"); then
        cat "$tmp/err" >&2
        say "apt-get download failed; retrying after apt-get update"
        apt-get update -qq || die "apt-get update failed"
        (cd "$tmp" && apt-get download -qq "${missing[@]}") || { rm -rf "$tmp"; die "apt-get download ${missing[*]} failed"; }
    fi
    mv "$tmp"/*.deb "$PFX/debs/"
    rm -rf "$tmp"
}
extract() {             # extract PKG DIR
    dpkg -x "$(ls "$PFX/debs/${1}_"*.deb | head -1)" "$2"
}
pkg_installed() {
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

# libraries that the extracted postfix needs and the system lacks: extract them too
lib_dirs() {
    local d
    for d in "$PFX/deps/usr/lib/x86_64-linux-gnu" "$PFX/deps/lib/x86_64-linux-gnu" \
             "$PFX/deps/usr/lib/x86_64-linux-gnu/sasl2"; do
        [ -d "$d" ] && printf ':%s' "$d"
    done
    return 0
}

fetch_binaries() {
    local stamp=$PFX/.binaries-ok
    [ -e "$stamp" ] && [ -x "$SBIN/postfix" ] && return 0
    say "fetching and extracting Debian's postfix (once)"
    rm -rf "$PKG" "$PFX/patchelf" "$PFX/deps"
    apt_download postfix patchelf
    mkdir -p "$PKG" "$PFX/patchelf"
    extract postfix "$PKG"
    extract patchelf "$PFX/patchelf"
    local patchelf=$PFX/patchelf/usr/bin/patchelf
    "$patchelf" --version >/dev/null || die "extracted patchelf does not run"

    # postfix's shared-library dependencies (libdb5.3, libicu72, libsasl2-2, libssl3, libnsl2,
    # ...): extract those the system does not have (QT_PFX_OWN_LIBS=1: all of them)
    local deps=() p
    for p in $(apt-cache depends postfix 2>/dev/null | sed -n 's/^ *Depends: \(lib[^ <>]*\)$/\1/p'); do
        [ "$p" = libc6 ] && continue
        if [ "${QT_PFX_OWN_LIBS:-0}" = 1 ] || ! pkg_installed "$p"; then deps+=("$p"); fi
    done
    if [ ${#deps[@]} -gt 0 ]; then
        say "extracting missing libraries: ${deps[*]}"
        # one level of their own library dependencies too (e.g. libicu72 -> libstdc++6)
        local more=()
        for p in "${deps[@]}"; do
            for q in $(apt-cache depends "$p" 2>/dev/null | sed -n 's/^ *Depends: \(lib[^ <>]*\)$/\1/p'); do
                case " libc6 ${deps[*]} ${more[*]} " in *" $q "*) continue;; esac
                pkg_installed "$q" || more+=("$q")
            done
        done
        apt_download "${deps[@]}" "${more[@]}"
        mkdir -p "$PFX/deps"
        for p in "${deps[@]}" "${more[@]}"; do extract "$p" "$PFX/deps"; done
    fi

    # The binaries have RUNPATH /usr/lib/postfix. LD_LIBRARY_PATH would not do: the set-gid
    # postdrop/postqueue ignore it and Postfix's import_environment scrubs it for daemons.
    local rpath="$PKG/usr/lib/postfix$(lib_dirs)" f n=0
    while IFS= read -r -d '' f; do
        [ "$(head -c4 "$f" 2>/dev/null | od -An -c | tr -d ' ')" = '177ELF' ] || continue
        case $f in
        "$PKG"/*) "$patchelf" --print-rpath "$f" 2>/dev/null | grep -q '/usr/lib/postfix' || continue;;
        esac
        "$patchelf" --set-rpath "$rpath" "$f"; n=$((n + 1))
    done < <(find "$PKG/usr" "$PFX/deps" -type f -print0 2>/dev/null)
    say "RUNPATH rewritten in $n ELF files"
    "$SBIN/postconf" -d -h mail_version 2>/dev/null | grep -q '^3\.' ||
        die "the extracted postconf does not run (missing libraries? see ldd $SBIN/postconf)"
    touch "$stamp"
}

# libfaketime for the fixed clock: the system's if installed, else extracted here
faketime_lib() {
    local f sys=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1
    [ "${QT_PFX_OWN_LIBS:-0}" = 1 ] && sys=
    for f in $sys "$PFX/faketime/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"; do
        [ -e "$f" ] && { echo "$f"; return 0; }
    done
    return 1
}
fetch_faketime() {
    faketime_lib >/dev/null && return 0
    say "no system libfaketime: extracting Debian's libfaketime"
    apt_download libfaketime
    mkdir -p "$PFX/faketime"; extract libfaketime "$PFX/faketime"
    faketime_lib >/dev/null || die "libfaketime.so.1 not found after extraction"
}

# qshape is Perl and needs Getopt::Std and File::Find (perl-modules-5.36; perl-base is
# essential but lacks them): extract the package if the system has no full perl
perl5lib() {
    local d
    for d in "$PFX"/perl/usr/share/perl/5.*; do [ -d "$d" ] && { echo "$d"; return 0; }; done
    return 0
}
fetch_perl_modules() {
    [ -n "$(perl5lib)" ] && return 0
    [ "${QT_PFX_OWN_LIBS:-0}" != 1 ] && perl -MGetopt::Std -MFile::Find -MIO::File -e 1 2>/dev/null && return 0
    say "perl lacks Getopt::Std/File::Find: extracting perl-modules for qshape"
    local p; p=$(apt-cache depends perl 2>/dev/null | sed -n 's/^ *Depends: \(perl-modules-[0-9.]*\)$/\1/p' | head -1)
    apt_download "${p:-perl-modules-5.36}"
    mkdir -p "$PFX/perl"; extract "${p:-perl-modules-5.36}" "$PFX/perl"
}

# ---------------------------------------------------------------- users
users() {
    # as Debian's postinst: addgroup --system postfix; adduser --system --home /var/spool/postfix
    # --no-create-home --disabled-password --ingroup postfix postfix; addgroup --system postdrop
    if ! getent group postfix >/dev/null; then
        say "creating system group postfix"; groupadd --system postfix
    fi
    if ! getent passwd postfix >/dev/null; then
        say "creating system user postfix"
        useradd --system -g postfix -d /var/spool/postfix -M -s /usr/sbin/nologin \
            -c "Postfix mail system" postfix
    fi
    if ! getent group postdrop >/dev/null; then
        say "creating system group postdrop"; groupadd --system postdrop
    fi
    # dpkg-statoverride in Debian's postinst: root:postdrop 02555 postdrop and postqueue
    chown root:postdrop "$SBIN/postdrop" "$SBIN/postqueue"
    chmod 2555 "$SBIN/postdrop" "$SBIN/postqueue"
}

# ---------------------------------------------------------------- instances
inst_vars() {
    INST=${1:?instance name missing}
    case $INST in *[!A-Za-z0-9_-]*|'') die "bad instance name '$INST'";; esac
    IDIR=$PFX/$INST
    CONF=$IDIR/conf META=$IDIR/meta DATA=$IDIR/data LOGD=$IDIR/log QDIR=$IDIR/queue RUND=$IDIR/run
    LONG_IDS=${QT_PFX_LONG_IDS:-}
    [ -n "$LONG_IDS" ] || { [ "$INST" = long ] && LONG_IDS=yes || LONG_IDS=no; }
    local base=${QT_PFX_PORT_BASE:-}
    [ -n "$base" ] || { [ "$INST" = long ] && base=29460 || base=29450; }
    SMTPD_PORT=$((base + 1)) MSMTPD_PORT=$((base + 2)) DEAD_PORT=$((base + 3))
    TARPIT_PORT=$((base + 4)) MILTER_PORT=$((base + 5))
}

write_config() {
    rm -rf "$CONF" "$META"
    mkdir -p "$CONF" "$META" "$DATA" "$LOGD" "$QDIR" "$RUND"
    cp "$PKG/etc/postfix/postfix-files" "$META/postfix-files"
    mkdir -p "$META/postfix-files.d" "$META/dynamicmaps.cf.d"
    cp "$PKG/usr/share/postfix/dynamicmaps.cf" "$META/dynamicmaps.cf"
    cp "$PKG/usr/share/postfix/main.cf.dist" "$META/main.cf.proto"
    cp "$PKG/usr/share/postfix/master.cf.dist" "$META/master.cf.proto"
    cp "$PKG/usr/share/postfix/makedefs.out" "$META/makedefs.out"
    chmod 755 "$QT_LAB" "$PFX" "$IDIR" "$CONF" "$META" "$LOGD"
    chown postfix "$DATA"; chmod 700 "$DATA"

    cat > "$CONF/main.cf" <<EOF
# qtools Postfix lab, instance $INST (written by tests/lab/postfix-setup.sh)
compatibility_level = 3.6
queue_directory   = $QDIR
command_directory = $SBIN
daemon_directory  = $PKG/usr/lib/postfix/sbin
shlib_directory   = $PKG/usr/lib/postfix
meta_directory    = $META
data_directory    = $DATA
sendmail_path     = $SBIN/sendmail
newaliases_path   = $PKG/usr/bin/newaliases
mailq_path        = $PKG/usr/bin/mailq
manpage_directory = $PKG/usr/share/man
html_directory    = no
readme_directory  = no
mail_owner    = postfix
setgid_group  = postdrop
# no syslog here: log to a file through postlogd
maillog_file  = $LOGD/maillog
maillog_file_prefixes = $PFX
syslog_name   = postfix-lab-$INST

enable_long_queue_ids = $LONG_IDS

myhostname = mx.lab.test
mydomain   = lab.test
myorigin   = \$myhostname
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
local_transport = error:5.1.1 local delivery is disabled in the lab
biff = no
append_dot_mydomain = no
inet_interfaces = loopback-only
inet_protocols  = ipv4
mynetworks      = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_recipient_restrictions =
# accept recipients of the error: routes over SMTP too (they bounce later, for real)
smtpd_reject_unlisted_recipient = no
smtputf8_enable = yes

# Everything not routed otherwise goes to a CLOSED loopback port: real deferrals with
# "connect to 127.0.0.1[127.0.0.1]:$DEAD_PORT: Connection refused".
relayhost = [127.0.0.1]:$DEAD_PORT
smtp_connect_timeout = 5s
transport_maps = texthash:$CONF/transport
header_checks  = regexp:$CONF/header_checks
# the lab milter is only used by the second smtpd (master.cf)
milter_default_action = tempfail
milter_protocol = 6
# deferred mail stays where it is while the lab runs
queue_run_delay      = 3600s
minimal_backoff_time = 7200s
maximal_backoff_time = 14400s
delay_warning_time   = 4h
maximal_queue_lifetime = 5d
bounce_queue_lifetime  = 5d
EOF

    cat > "$CONF/transport" <<EOF
# texthash: read as is, no postmap
bounce.test    error:5.1.1 lab: this mailbox does not exist
nouser.test    error:5.1.1 <nobody@nouser.test>: Recipient address rejected: User unknown
discard.test   discard:lab: discarded on purpose
tempfail.test  retry:4.2.0 lab: mailbox busy, try again later
tarpit.test    smtp:[127.0.0.1]:$TARPIT_PORT
EOF
    cat > "$CONF/header_checks" <<'EOF'
/^X-Lab-Hold:\s*(.*)/    HOLD lab hold header: $1
EOF

    # no chroot anywhere; smtpd only on 127.0.0.1 at the lab's ports
    cat > "$CONF/master.cf" <<EOF
# qtools Postfix lab, instance $INST (written by tests/lab/postfix-setup.sh)
# service              type  private unpriv chroot wakeup maxproc command
127.0.0.1:$SMTPD_PORT  inet  n       -      n      -      -       smtpd
127.0.0.1:$MSMTPD_PORT inet  n       -      n      -      -       smtpd
  -o smtpd_milters=inet:127.0.0.1:$MILTER_PORT
  -o syslog_name=postfix-lab-$INST/milter
pickup     unix  n       -       n       60      1       pickup
cleanup    unix  n       -       n       -       0       cleanup
qmgr       unix  n       -       n       300     1       qmgr
rewrite    unix  -       -       n       -       -       trivial-rewrite
bounce     unix  -       -       n       -       0       bounce
defer      unix  -       -       n       -       0       bounce
trace      unix  -       -       n       -       0       bounce
verify     unix  -       -       n       -       1       verify
flush      unix  n       -       n       1000?   0       flush
proxymap   unix  -       -       n       -       -       proxymap
proxywrite unix  -       -       n       -       1       proxymap
smtp       unix  -       -       n       -       -       smtp
relay      unix  -       -       n       -       -       smtp
showq      unix  n       -       n       -       -       showq
error      unix  -       -       n       -       -       error
retry      unix  -       -       n       -       -       error
discard    unix  -       -       n       -       -       discard
local      unix  -       n       n       -       -       local
anvil      unix  -       -       n       -       1       anvil
scache     unix  -       -       n       -       1       scache
postlog    unix-dgram n  -       n       -       1       postlogd
EOF

    # postfix check creates the queue directories with the right owners and modes
    postfix_cmd check || die "postfix check failed for $INST (see $LOGD/maillog)"
    # postsuper writes the maillog itself (as postfix) while the master is down
    touch "$LOGD/maillog"; chown postfix "$LOGD/maillog"; chmod 644 "$LOGD/maillog"
    # user postfix must reach the queue and the log through every parent directory
    if command -v setpriv >/dev/null; then
        setpriv --reuid=postfix --regid=postfix --clear-groups test -x "$QDIR" -a -w "$LOGD/maillog" ||
            die "user postfix cannot reach $IDIR: a parent directory of $QT_LAB is not searchable (chmod o+x)"
    fi
}

postfix_cmd() { "$SBIN/postfix" -c "$CONF" "$@"; }
master_pid() {
    local p
    p=$(tr -dc 0-9 2>/dev/null < "$QDIR/pid/master.pid") || true
    [ -n "$p" ] && [ -d "/proc/$p" ] && [ "$(readlink "/proc/$p/exe" 2>/dev/null)" = "$PKG/usr/lib/postfix/sbin/master" ] &&
        { echo "$p"; return 0; }
    return 1
}
# "PID COMM" of the processes in process group $1 (from /proc: procps may be missing)
pgroup_members() {
    local want=$1 f st fields pid comm
    for f in /proc/[0-9]*/stat; do
        read -r st 2>/dev/null < "$f" || continue
        read -r -a fields <<< "${st##*) }"      # after "pid (comm) ": state ppid pgrp ...
        [ "${fields[2]:-}" = "$want" ] || continue
        pid=${f#/proc/}; pid=${pid%/stat}
        read -r comm 2>/dev/null < "/proc/$pid/comm" || comm=
        echo "$pid $comm"
    done
}
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start() {
    master_pid >/dev/null && die "instance $INST is already running (pid $(master_pid))"
    local p
    for p in "$SMTPD_PORT" "$MSMTPD_PORT" "$DEAD_PORT"; do
        port_busy "$p" && die "127.0.0.1:$p is in use: choose another QT_PFX_PORT_BASE"
    done
    # "postfix start" runs "master -w": it returns once the master has initialized
    postfix_cmd start 2>&1 | sed 's/^/postfix-setup: /' >&2 || true
    local i
    for i in $(seq 1 50); do
        master_pid >/dev/null && return 0
        sleep 0.1
    done
    die "instance $INST did not start (see $LOGD/maillog)"
}

stop() {
    local pid i
    pid=$(master_pid) || return 0
    # the master is the process-group leader: on TERM it stops its children itself
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 100); do
        [ -d "/proc/$pid" ] || break
        sleep 0.1
    done
    if [ -d "/proc/$pid" ]; then
        say "master $pid ignores TERM: KILL"
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
    # children that outlive the master (same process group)
    for i in $(seq 1 50); do
        [ -z "$(pgroup_members "$pid")" ] && break
        sleep 0.1
    done
    [ -n "$(pgroup_members "$pid")" ] && kill -KILL -- "-$pid" 2>/dev/null || true
    rm -f "$QDIR/pid/master.pid"
    return 0
}

envlines() {
    local ft pl
    ft=$(faketime_lib 2>/dev/null || true)
    pl=$(perl5lib)
    cat <<EOF
PATH=$SBIN:\$PATH
PFX_LAB=$PFX
PFX_INST=$INST
PFX_ROOT=$PKG
PFX_CONF=$CONF
PFX_QDIR=$QDIR
PFX_LOG=$LOGD/maillog
PFX_RUN=$RUND
PFX_LONG_IDS=$LONG_IDS
PFX_SMTPD_PORT=$SMTPD_PORT
PFX_MSMTPD_PORT=$MSMTPD_PORT
PFX_DEAD_PORT=$DEAD_PORT
PFX_TARPIT_PORT=$TARPIT_PORT
PFX_MILTER_PORT=$MILTER_PORT
PFX_FAKETIME_LIB=$ft
PFX_PERL5LIB=$pl
EOF
}

prepare() {
    mkdir -p "$PFX"
    # one preparation at a time (the two instances may be built in parallel)
    exec 9>"$PFX/.setup.lock"
    flock 9
    fetch_binaries
    fetch_faketime
    fetch_perl_modules
    users
    flock -u 9
}

cmd=${1:-all}
case $cmd in
all)
    prepare
    for i in short long; do
        inst_vars "$i"
        exec 7>"$PFX/.build-$i.lock"          # not while postfix-queue.sh builds it
        flock 7
        if [ ! -e "$CONF/main.cf" ] || [ ! -d "$QDIR/maildrop" ]; then write_config; fi
        flock -u 7
    done
    say "ready: $PFX";;
prepare) prepare;;
init)   prepare; inst_vars "${2:-}"; master_pid >/dev/null && die "$INST is running"; write_config;;
start)  inst_vars "${2:-}"; start;;
stop)   inst_vars "${2:-}"; stop;;
status) inst_vars "${2:-}"; master_pid >/dev/null;;
procs)  inst_vars "${2:-}"; p=$(master_pid) && pgroup_members "$p"; true;;
env)    inst_vars "${2:-}"; envlines;;
ports)  inst_vars "${2:-}"; echo "$SMTPD_PORT $MSMTPD_PORT $DEAD_PORT $TARPIT_PORT $MILTER_PORT";;
*)      sed -n '2,30p' "$0" >&2; exit 2;;
esac
