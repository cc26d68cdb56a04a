# tests/act-qmail.sh -- what the tests acting on the qmail fixtures share (55-qmail-act.t,
# 66-qedit-qmail.t): source it after tests/lib.sh. It makes $tmp (removed on exit, with the
# processes in pids), sets F and B, and defines extract, snap, without, only, blocks,
# drop_blocks, files_of, and the fake qmail-send (start_send, stop_send, alrms).
# shellcheck shell=bash
F=$QT_ROOT/tests/fixtures/qmail
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
export LC_ALL=C TZ=UTC
B=$QT_BIN

# extract STATE NAME: $tmp/NAME/queue; the two crash leftovers every state has are dropped
# (a scan reports them, which makes every selection exit 2) unless KEEP=1
extract() {
    rm -rf "${tmp:?}/$2"; mkdir -p "$tmp/$2" && tar -C "$tmp/$2" -xzf "$F/state-$1.tar.gz" ||
        bail_out "cannot extract state $1"
    [ "${KEEP:-0}" = 1 ] && return
    for id in $(leftovers "$1"); do rm -f "$tmp/$2"/queue/{mess/$((id % 23)),intd,todo}/"$id"; done
}
leftovers() { awk '/^ID [0-9]+ / && !/\[S[45] / { print $2 }' "$F/$1/decoded.txt"; }

# every file and symlink under DIR (the hold area too): path, inode, size, mode, owner, mtime,
# sha256 (a symlink: its target). Symlinks are never followed.
snap() {
    perl -MFile::Find -MDigest::SHA -e '
        my $top = shift; my @out;
        find({ no_chdir => 1, wanted => sub {
            my @s = lstat $_ or return; (my $p = $_) =~ s{^\Q$top\E/?}{};
            if (-l _) { push @out, "$p -> " . readlink($_); return }
            return unless -f _;
            push @out, sprintf "%s %d %d %o %d:%d %d %s", $p, $s[1], $s[7], $s[2] & 07777,
                $s[4], $s[5], $s[9], Digest::SHA->new(256)->addfile($_)->hexdigest;
        } }, $top);
        print "$_\n" for sort @out;' "$1"
}
without() {  # without SNAPFILE ID...: the snapshot lines of every other message
    local f=$1; shift
    awk -v ids="$*" 'BEGIN { n = split(ids, a, " "); for (i = 1; i <= n; i++) skip[a[i]] = 1 }
        { split($1, p, "/"); if (!(p[length(p)] in skip)) print }' "$f"
}
only() {  # only SNAPFILE ID...: the snapshot lines of those messages
    local f=$1; shift
    awk -v ids="$*" 'BEGIN { n = split(ids, a, " "); for (i = 1; i <= n; i++) keep[a[i]] = 1 }
        { split($1, p, "/"); if (p[length(p)] in keep) print }' "$f"
}
# one line per message block of a listing (message line + recipient lines), sorted
blocks() { awk '/^exit=/ { next } /^[0-9]/ { if (b != "") print b; b = $0; next }
                { b = b "\\n" $0 } END { if (b != "") print b }' "$1" | sort; }
drop_blocks() {  # drop_blocks BLOCKS ID...
    local f=$1; shift
    awk -v ids="$*" 'BEGIN { n = split(ids, a, " "); for (i = 1; i <= n; i++) skip["#" a[i]] = 1 }
        !($6 in skip)' "$f"
}
files_of() {  # files_of QUEUE ID: every path of that ID in the queue, hold area excluded
    (cd "$1" && find . -path ./qtools-hold -prune -o -name "$2" -print | sort)
}

# ---------------------------------------------------------------- a fake qmail-send
mkdir -p "$tmp/bin"
ln -s "$(command -v perl)" "$tmp/bin/qmail-send"
ln -s "$(command -v perl)" "$tmp/bin/not-qmail"
cat >"$tmp/holder.pl" <<'EOF'
use strict; use Fcntl qw(:flock O_RDONLY);
my ($lock, $rec) = @ARGV;
sysopen(my $fh, $lock, O_RDONLY) or die "$lock: $!";
flock($fh, LOCK_EX | LOCK_NB) or die "flock $lock: $!";
$SIG{ALRM} = sub { open my $o, '>>', $rec or die; print $o "ALRM\n"; close $o };
$SIG{TERM} = sub { exit 0 };
open my $r, '>', "$rec.ready" or die; close $r;
my $end = time + 120; sleep 1 while time < $end;
EOF
hp=
# it runs as the real one does, as the owner of lock/sendmutex (qmails): qrm and qrun, run as
# root, become qmails before they signal it (tests/t/60-privileges.t)
chmod o+x "$tmp"; mkdir -m 1777 "$tmp/sig"
start_send() {  # start_send QUEUE [NAME]: hold lock/sendmutex as process NAME (qmail-send)
    rm -f "$tmp/sig/alrm" "$tmp/sig/alrm.ready"
    setpriv --reuid="$(stat -c %u "$1/lock/sendmutex")" --regid="$(stat -c %g "$1/lock/sendmutex")" \
        --clear-groups "$tmp/bin/${2:-qmail-send}" "$tmp/holder.pl" "$1/lock/sendmutex" "$tmp/sig/alrm" &
    hp=$!; pids+=("$hp")
    for _ in $(seq 100); do [ -e "$tmp/sig/alrm.ready" ] && return; sleep 0.05; done
    bail_out "the fake qmail-send did not start"
}
stop_send() { kill "$hp" 2>/dev/null; wait "$hp" 2>/dev/null; hp=; }
alrms() { [ -e "$tmp/sig/alrm" ] && wc -l <"$tmp/sig/alrm" | tr -d ' ' || echo 0; }

