#!/bin/bash
# tests/lab/exim-setup.sh -- the exim lab's sandbox: Debian 12's real Exim 4.96, run from the
# extracted .deb against private spools, with nothing installed system-wide.
#
#   tests/lab/exim-setup.sh [--force]          (root; QT_LAB defaults to <repo>/build/lab)
#
# Makes $QT_LAB/exim/:
#   debs/ pkg/           apt-get download + dpkg -x of: exim4-daemon-light exim4-base
#                        exim4-config libidn12 libnss-wrapper libfaketime
#   etc/passwd,group     private NSS database (nss_wrapper): root, the caller, Debian-exim; etc/exim_uid
#   exim.conf            the lab configuration (macros: -DSPOOL -DLOGDIR -DSPLIT -DFROZENMOVE
#                        -DPORT -DTARPIT -DWIREFMT)
#   bin/exim4-nosuid     a NON-setuid copy of /usr/sbin/exim4 from the package
#   bin/exim             exim on the lab config; `bin/exim -DSPOOL=DIR ...` selects a spool
#                        (its log then goes to DIR/log unless -DLOGDIR=... is given)
#   bin/exim-env         sourced by the wrappers: LD_LIBRARY_PATH, nss_wrapper, and libfaketime
#                        when FAKETIME is set
#   bin/exiqgrep         Debian's exiqgrep; refuses to run without -E <exim wrapper of a spool>
#   bin/exipick          Debian's exipick; refuses to run without --spool DIR
#   bin/exiqsumm         Debian's exiqsumm (reads `exim -bp` output)
#   bin/mkspoolwrap      mkspoolwrap NAME SPOOLDIR [-Dmacro=value...] -> bin/exim-NAME,
#                        bin/exiqgrep-NAME, bin/exipick-NAME bound to that spool
#   spools/ logs/ mail/ run/
#   stamp.setup          hash of the lab scripts that made all this (idempotence)
#
# Why it is built this way (see /work/shared/labs/exim/README.md for the long story):
#   * the binary resolves "Debian-exim" at startup: nss_wrapper gives it one without touching /etc;
#   * libidn.so.12 is not on a stock bookworm: LD_LIBRARY_PATH into the extracted package;
#   * a setuid binary run by the exim uid ignores LD_* (secure mode), and exim re-execs itself as
#     the exim uid for bounces: hence the non-setuid copy, exim_path pointing at it,
#     deliver_drop_privilege, and keep_environment for the LD_*/NSS_*/FAKETIME variables;
#   * reception runs as the exim uid: spool/log dirs belong to it, every parent is searchable.
set -euo pipefail
PROG=exim-setup
. "$(dirname "${BASH_SOURCE[0]}")/exim-lib.sh"

FORCE=0
for a in "$@"; do
  case $a in
    --force) FORCE=1 ;;
    -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $a" ;;
  esac
done

[ "$(id -u)" = 0 ] || die "must run as root (the spools belong to a private exim uid)"
for c in apt-get dpkg perl python3 setpriv flock sha256sum; do
  command -v "$c" >/dev/null || die "needs '$c' (Debian: apt-get install perl python3 util-linux dpkg apt)"
done

perl -MGetopt::Std -MGetopt::Long -MPod::Usage -MFile::Basename -e 1 2>/dev/null \
  || die "exiqgrep/exipick need the full perl (Debian: apt-get install perl)"
python3 -c 'import ssl, smtplib' 2>/dev/null || die "needs python3 with ssl (Debian: apt-get install python3)"

mkdir -p "$X"
exec 8>"$X/.setup.lock"
flock 8

WANT=$(setup_hash)
if [ "$FORCE" = 0 ] && [ -f "$X/stamp.setup" ] && [ "$(cat "$X/stamp.setup")" = "$WANT" ] \
   && [ -x "$X/bin/exim" ] && [ -x "$EXIM_NOSUID" ]; then
  say "up to date ($X)"
  exit 0
fi
rm -f "$X/stamp.setup"
say "building the exim sandbox in $X"

# ------------------------------------------------------------------ 1. packages
have_debs() {
  local p
  for p in $EXIM_PKGS; do compgen -G "$X/debs/${p}_*.deb" >/dev/null || return 1; done
}
mkdir -p "$X/debs"
if ! have_debs; then
  dl() { (cd "$X/debs" && apt-get -q -o APT::Sandbox::User=root download $EXIM_PKGS); }
  if ! dl; then
    say "apt-get download failed; running apt-get update once"
    apt-get -q update >/dev/null || die "apt-get update failed"
    dl || die "apt-get download $EXIM_PKGS failed"
  fi
fi
rm -rf "$X/pkg"
mkdir -p "$X/pkg"
for d in "$X"/debs/*.deb; do dpkg -x "$d" "$X/pkg"; done
for f in usr/sbin/exim4 usr/sbin/exiqgrep usr/sbin/exipick usr/sbin/exiqsumm \
         "$ARCHLIB/libnss_wrapper.so" "$ARCHLIB/faketime/libfaketime.so.1"; do
  [ -e "$X/pkg/$f" ] || die "extracted packages lack $f"
done

# ------------------------------------------------------------------ 2. identity
# Debian-exim gets a uid/gid unused on this machine; keep the previous choice when possible
# (existing spools are owned by it).
mkdir -p "$X/etc" "$X/bin"
uid_free() { ! getent passwd "$1" >/dev/null && ! getent group "$1" >/dev/null; }
EU=
if [ -f "$X/etc/exim_uid" ]; then EU=$(cat "$X/etc/exim_uid"); uid_free "$EU" || EU=; fi
if [ -z "$EU" ]; then
  for u in $(seq 979 -1 900); do if uid_free "$u"; then EU=$u; break; fi; done
fi
[ -n "$EU" ] || die "no free uid in 900..979 for the sandbox's Debian-exim"
# The private database holds only what exim looks up: uid 0 (named root, for trusted_users), the
# caller, and Debian-exim. A copy of the whole host database is not safe: nss_wrapper refuses a
# file with a single line it cannot parse (NIS "+" lines, say), and then exim finds no one at all.
nss_entry() {   # nss_entry passwd|group ID FIELDS: the host's entry if well-formed, else nothing
  getent "$1" "$2" 2>/dev/null | awk -F: -v n="$3" 'NR == 1 && NF == n && $3 ~ /^[0-9]+$/'
}
{
  echo "root:x:0:0:root:/root:/bin/sh"
  [ "$(id -u)" = 0 ] || nss_entry passwd "$(id -u)" 7
  echo "Debian-exim:x:$EU:$EU:Exim (qtools lab):$X/spools:/usr/sbin/nologin"
} > "$X/etc/passwd"
{
  echo "root:x:0:"
  [ "$(id -g)" = 0 ] || nss_entry group "$(id -g)" 4
  echo "Debian-exim:x:$EU:"
} > "$X/etc/group"
echo "$EU" > "$X/etc/exim_uid"

install -m 0755 "$X/pkg/usr/sbin/exim4" "$EXIM_NOSUID"      # drops the setuid bit

# ------------------------------------------------------------------ 3. configuration
cat > "$X/exim.conf" <<EOF
# Exim configuration of the qtools lab. Generated by tests/lab/exim-setup.sh: edit that script.
# Command-line macros (root only): -DSPOOL=dir -DLOGDIR=dir -DSPLIT=true -DFROZENMOVE=true
#                                   -DPORT=n -DTARPIT=n -DWIREFMT=true

.ifndef SPOOL
SPOOL = $X/spools/scratch
.endif
.ifndef LOGDIR
LOGDIR = SPOOL/log
.endif
.ifndef SPLIT
SPLIT = false
.endif
.ifndef FROZENMOVE
FROZENMOVE = false
.endif
.ifndef PORT
PORT = 29425
.endif
.ifndef TARPIT
TARPIT = 29426
.endif
.ifndef WIREFMT
WIREFMT = false
.endif

primary_hostname = lab.example
qualify_domain = lab.example
timezone = UTC
exim_path = $EXIM_NOSUID
spool_directory = SPOOL
split_spool_directory = SPLIT
move_frozen_messages = FROZENMOVE
log_file_path = LOGDIR/%slog
pid_file_path = $X/run/exim-daemon.pid
log_selector = +received_recipients +subject +queue_time +deliver_time +tls_cipher

# running a non-setuid binary: give up root for deliveries, and keep what the extracted binary
# needs in the environment when it re-executes itself
deliver_drop_privilege = true
keep_environment = LD_LIBRARY_PATH : LD_PRELOAD : NSS_WRAPPER_PASSWD : NSS_WRAPPER_GROUP : FAKETIME
trusted_users = root
untrusted_set_sender = *
local_from_check = false

# nothing is delivered unless the lab asks for it (-M, -q); queue runs go oldest first, so
# what they do (retry records, delay warnings) does not depend on a random order
queue_only = true
queue_run_in_order = true
# no DNS, no ident, loopback only
host_lookup =
rfc1413_hosts =
daemon_smtp_ports = PORT
local_interfaces = <; 127.0.0.1
message_size_limit = 64M
received_headers_max = 200

tls_advertise_hosts = *
dsn_advertise_hosts = *
smtputf8_advertise_hosts = *
chunking_advertise_hosts = *
# bodies received by BDAT are kept as received (CRLF) when true (-spool_file_wireformat)
spool_wireformat = WIREFMT

acl_smtp_rcpt = lab_rcpt
acl_smtp_data = lab_data
acl_not_smtp = lab_local

begin acl

lab_rcpt:
  accept

# ACL variables end up in -H as "-aclc NAME LEN" / "-aclm NAME LEN" followed by the value;
# lab_note has an embedded newline and a line starting with '-' on purpose.
lab_data:
  warn  set acl_c_lab_peer = peer \$sender_host_address
        set acl_m_lab_score = 42
        set acl_m_lab_note = first line\n-second line
        remove_header = X-Lab-Strip
  accept

lab_local:
  warn  set acl_m_lab_score = 7
        remove_header = X-Lab-Strip
  accept

begin routers

# deliver.example: "delivered" into the void -> D marks, non-recipients tree
lab_blackhole:
  driver = redirect
  domains = deliver.example
  data = :blackhole:

# fail.example / bounce.invalid: permanent failures -> real bounces; a bounce to
# bounce.invalid fails again and is frozen ("Frozen (delivery error message)")
lab_fail:
  driver = redirect
  domains = fail.example : bounce.invalid
  allow_fail
  data = :fail: no such mailbox here (qtools lab)

# file.example: a real local delivery (appendfile), journalled in -J while delivering
lab_file:
  driver = accept
  domains = file.example
  transport = lab_mbox

# loop.example: the host is ourselves and self = freeze -> a real routing freeze
lab_loop:
  driver = manualroute
  domains = loop.example
  route_list = * 127.0.0.1 byname
  self = freeze
  transport = lab_smtp

# crash.example: a loopback tarpit that never answers (exim-lab.py crash), so a delivery can be
# killed after its local part was journalled
lab_tarpit:
  driver = manualroute
  domains = crash.example
  route_list = * 127.0.0.1::TARPIT byname
  self = send
  transport = lab_smtp

# relay.example, local submissions only: to our own daemon with TLS + CHUNKING (BDAT)
lab_relay:
  driver = manualroute
  domains = relay.example
  condition = \${if !def:sender_host_address}
  route_list = * 127.0.0.1::PORT byname
  self = send
  transport = lab_bdat

# anything else: a closed loopback port -> deferred (Connection refused)
lab_smarthost:
  driver = manualroute
  route_list = * 127.0.0.1::1 byname
  self = send
  transport = lab_smtp

begin transports

lab_smtp:
  driver = smtp
  allow_localhost = true
  connect_timeout = 2s
  hosts_try_fastopen =

lab_bdat:
  driver = smtp
  allow_localhost = true
  hosts_try_chunking = *
  hosts_require_tls = *
  tls_verify_hosts =
  tls_try_verify_hosts =
  hosts_try_fastopen =

lab_mbox:
  driver = appendfile
  file = $X/mail/file.example.mbox
  user = Debian-exim
  mode = 0640

begin retry

*  *  F,2h,15m; G,16h,1h,1.5; F,4d,6h

begin rewrite

# the sender and From: of legacy.example are rewritten (the old From: stays as a '*' header)
*@legacy.example  \$1@modern.example  Ff

begin authenticators

lab_plain:
  driver = plaintext
  public_name = PLAIN
  server_prompts = :
  server_condition = \${if eq{\$auth3}{labpass}}
  server_set_id = \$auth2
  server_advertise_condition = \${if def:tls_in_cipher}
EOF
chmod 0644 "$X/exim.conf"

# ------------------------------------------------------------------ 4. wrappers
cat > "$X/bin/exim-env" <<EOF
# sourced by the lab's wrappers: what the extracted exim needs in its environment
LD_LIBRARY_PATH=$X/pkg/$ARCHLIB
LD_PRELOAD=$X/pkg/$ARCHLIB/libnss_wrapper.so
NSS_WRAPPER_PASSWD=$X/etc/passwd
NSS_WRAPPER_GROUP=$X/etc/group
# a fake clock for exim and the Perl tools when FAKETIME is set (e.g. FAKETIME="@2026-01-01 00:00:00")
if [ -n "\${FAKETIME:-}" ]; then LD_PRELOAD="\$LD_PRELOAD $FAKETIME_LIB"; export FAKETIME; fi
export LD_LIBRARY_PATH LD_PRELOAD NSS_WRAPPER_PASSWD NSS_WRAPPER_GROUP
EOF
cat > "$X/bin/exim" <<EOF
#!/bin/sh
# the lab's exim (Debian exim4 4.96, non-setuid copy, lab config); -DSPOOL=DIR picks a spool
. $X/bin/exim-env
exec $EXIM_NOSUID -C $X/exim.conf "\$@"
EOF
cat > "$X/bin/exiqgrep" <<EOF
#!/bin/sh
# Debian's exiqgrep. It lists a spool by running "EXIM -bpu": without -E it would silently read
# the system's default spool, so -E <the exim wrapper of the spool> is mandatory here.
case " \$* " in *" -E "*) ;; *) echo "lab exiqgrep: give -E <exim wrapper of the spool> (e.g. $X/bin/exim-main)" >&2; exit 2 ;; esac
. $X/bin/exim-env
exec perl $X/pkg/usr/sbin/exiqgrep "\$@"
EOF
cat > "$X/bin/exipick" <<EOF
#!/bin/sh
# Debian's exipick (reads the spool files itself): --spool DIR is mandatory here.
case " \$* " in *" --spool "*) ;; *) echo "lab exipick: give --spool DIR" >&2; exit 2 ;; esac
. $X/bin/exim-env
exec perl $X/pkg/usr/sbin/exipick "\$@"
EOF
cat > "$X/bin/exiqsumm" <<EOF
#!/bin/sh
# Debian's exiqsumm: summarises "exim -bp" output read from stdin
. $X/bin/exim-env
exec perl $X/pkg/usr/sbin/exiqsumm "\$@"
EOF
cat > "$X/bin/mkspoolwrap" <<EOF
#!/bin/sh
# mkspoolwrap NAME SPOOLDIR [-Dmacro=value...]
#   writes $X/bin/exim-NAME (the lab exim on SPOOLDIR, extra -D options baked in),
#   $X/bin/exiqgrep-NAME (exiqgrep -E exim-NAME) and $X/bin/exipick-NAME (--spool SPOOLDIR).
set -e
[ \$# -ge 2 ] || { echo "usage: mkspoolwrap NAME SPOOLDIR [-Dmacro=value...]" >&2; exit 2; }
n=\$1; s=\$2; shift 2
printf '#!/bin/sh\nexec %s -DSPOOL=%s' "$X/bin/exim" "\$s" > "$X/bin/exim-\$n"
for d in "\$@"; do printf ' %s' "\$d" >> "$X/bin/exim-\$n"; done
printf ' "\$@"\n' >> "$X/bin/exim-\$n"
printf '#!/bin/sh\nexec %s -E %s "\$@"\n' "$X/bin/exiqgrep" "$X/bin/exim-\$n" > "$X/bin/exiqgrep-\$n"
printf '#!/bin/sh\nexec %s --spool %s "\$@"\n' "$X/bin/exipick" "\$s" > "$X/bin/exipick-\$n"
chmod 0755 "$X/bin/exim-\$n" "$X/bin/exiqgrep-\$n" "$X/bin/exipick-\$n"
EOF
chmod 0755 "$X"/bin/exim "$X"/bin/exiqgrep "$X"/bin/exipick "$X"/bin/exiqsumm "$X"/bin/mkspoolwrap

# ------------------------------------------------------------------ 5. directories
mkdir -p "$X/spools" "$X/logs" "$X/mail" "$X/run" "$X/golden"
chown "$EU:$EU" "$X/spools" "$X/logs" "$X/mail"
chmod 0755 "$X/spools" "$X/logs"
chmod 0750 "$X/mail"
# Exim receives as the exim uid: every directory above the spools must be searchable by it.
d=$X
while [ "$d" != / ]; do
  case $(stat -c %A "$d") in
    *[xt]) ;;
    *) say "chmod o+x $d (the sandbox's exim uid must be able to reach $X)"; chmod o+x "$d" ;;
  esac
  d=$(dirname "$d")
done
setpriv --reuid="$EU" --regid="$EU" --clear-groups test -w "$X/spools" \
  || die "the sandbox exim uid $EU cannot write $X/spools"

# ------------------------------------------------------------------ 6. smoke test
"$X/bin/exim" -bV >/dev/null || die "the extracted exim does not run: $("$X/bin/exim" -bV 2>&1 | head -3)"
S=$X/spools/scratch
rm -rf "$S"; mkdir -p "$S"; chown "$EU:$EU" "$S"; chmod 0750 "$S"
printf 'Subject: lab smoke test\n\nhello\n' | "$X/bin/exim" -DSPOOL="$S" -odq -f smoke@lab.example nobody@remote.example \
  || die "the sandbox exim cannot receive a message (see $S/log/)"
n=$("$X/bin/exim" -DSPOOL="$S" -bpc)
[ "$n" = 1 ] || die "smoke test: exim -bpc says '$n', expected 1"
rm -rf "$S"

echo "$WANT" > "$X/stamp.setup"
say "OK: $("$X/bin/exim" -bV | head -1) (Debian-exim = uid $EU) in $X"
