#!/bin/bash
# 76-deb.t -- the Debian package, as an admin gets it: `make deb` in a clean clone of the
# branch (what is committed, nothing else) builds ./qtools_VERSION_ARCH.deb with Debian's
# dpkg-buildpackage and debhelper, running the unit tests and nothing that needs the labs or
# the network; lintian finds no error and no warning but those listed in KEPT below (none
# today); dpkg-deb -c lists every tool, man page and completion, the docs and the qsumm
# --prom units; the tools from the package (dpkg -x into a temporary directory, nothing
# installed) run: --help, and qls --spool on a qmail fixture and the Exim sample prints what
# the tree's qls prints (itself checked against the MTAs by 20- and 30-). Builds once, in
# about ten seconds.
# shellcheck shell=bash
. "$(dirname "$0")/../lib.sh"
export LC_ALL=C TZ=UTC

# lintian warnings the package keeps, each with its reason ("tag: reason"); none today
KEPT=""

for c in git dpkg-buildpackage dh lintian dpkg-deb; do
    command -v "$c" >/dev/null || bail_out "$c is missing: run scripts/install-deps as root"
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git clone -q "$QT_ROOT" "$tmp/src" 2>"$tmp/clone.err" || bail_out "git clone: $(cat "$tmp/clone.err")"
tools=$(cd "$tmp/src" && for f in cmd/*.c; do t=${f##*/}; t=${t%.c}; [ "$t" = cli ] || echo "$t"; done)
ver=$(cd "$tmp/src" && dpkg-parsechangelog -S Version) arch=$(dpkg-architecture -qDEB_HOST_ARCH)
deb=$tmp/src/qtools_${ver}_${arch}.deb

# no network in the build: a network namespace of its own where unshare can make one
net=()
unshare -n true 2>/dev/null && net=(unshare -n)
(cd "$tmp/src" && "${net[@]}" make deb) >"$tmp/build.log" 2>&1
ok $? "make deb in a clean clone builds the package${net:+ (no network)}" || diag "$(tail -30 "$tmp/build.log")"
[ -f "$deb" ]; ok $? "... ./qtools_${ver}_${arch}.deb, in the tree" || diag "$(ls "$tmp/src")"
grep -q '^ok [0-9]* - ' "$tmp/build.log" && ! grep -q '^not ok ' "$tmp/build.log"
ok $? "... the unit tests ran and passed in the build"
out=$(cd "$tmp/src" && DEB_BUILD_OPTIONS=nocheck make -s -f debian/rules override_dh_auto_test 2>&1)
is "$out" "" "DEB_BUILD_OPTIONS=nocheck: the unit tests are not run"
[ -z "$(cd "$tmp/src" && git status --porcelain)" ]
ok $? "... and left nothing git does not ignore" || diag "$(cd "$tmp/src" && git status --porcelain)"

# ---------------------------------------------------------------- lintian
lintian --pedantic --display-info "$deb" >"$tmp/lintian" 2>"$tmp/lintian.err"
is "$?" 0 "lintian: exit 0"
is "$(grep -c '^E: ' "$tmp/lintian")" 0 "lintian: no error" || diag "$(cat "$tmp/lintian")"
got=$(sed -n 's/^W: [^ ]* \([^ ]*\).*/\1/p' "$tmp/lintian" | sort -u | tr '\n' ' ')
want=$(for k in $KEPT; do echo "${k%%:*}"; done | sort -u | tr '\n' ' ')
is "$got" "$want" "lintian: no warning but those kept (KEPT)" || diag "$(grep '^W: ' "$tmp/lintian")"

# ---------------------------------------------------------------- what it holds
dpkg-deb -c "$deb" | awk '{ print $NF }' | sed 's|^\./|/|' >"$tmp/contents"
missing=""
for t in $tools; do
    for f in /usr/bin/$t /usr/share/man/man1/$t.1.gz /usr/share/bash-completion/completions/$t; do
        grep -qx "$f" "$tmp/contents" || missing="$missing $f"
    done
done
for f in /usr/share/zsh/vendor-completions/_qtools /usr/share/man/man7/qtools.7.gz \
    /usr/share/man/man7/qtools-select.7.gz \
    /usr/share/doc/qtools/README.md.gz \
    /usr/share/doc/qtools/VIOLATIONS /usr/share/doc/qtools/copyright \
    /lib/systemd/system/qtools-prom.service /lib/systemd/system/qtools-prom.timer; do
    # dh_compress gzips a doc over 4 KiB (Debian policy 12.3): VIOLATIONS is near that size
    grep -qx -e "$f" -e "$f.gz" "$tmp/contents" || missing="$missing $f"
done
is "$missing" "" "dpkg-deb -c: every tool ($(echo $tools)), its page and completions, the docs and units"
dep=$(dpkg-deb -f "$deb" Depends)
for l in libpopt0 libpcre2-8-0 libbsd0; do
    case $dep in *"$l "*) ok 0 "Depends names $l (from shlibs)" ;; *) ok 1 "Depends names $l: $dep" ;; esac
done

# ---------------------------------------------------------------- its tools run
x=$tmp/x
dpkg -x "$deb" "$x" || bail_out "dpkg -x $deb"
"$x/usr/bin/qls" --help >"$tmp/help" 2>&1
is "$?" 0 "the package's qls --help: exit 0"
grep -q -- '--spool' "$tmp/help"; ok $? "... and it lists --spool"
for t in $tools; do "$x/usr/bin/$t" --help >/dev/null 2>&1 || echo "$t"; done >"$tmp/nohelp"
is "$(cat "$tmp/nohelp")" "" "every tool of the package answers --help"
mkdir -p "$tmp/exim" "$tmp/qmail"
tar -C "$tmp/exim" -xzf "$QT_ROOT/tests/fixtures/exim/sample.tar.gz" || bail_out "exim sample"
tar -C "$tmp/qmail" -xzf "$QT_ROOT/tests/fixtures/qmail/state-b.tar.gz" || bail_out "qmail state b"
espool=$tmp/exim/main
# (Exim's listing shows ages, which may tick between two runs: its JSON shows arrival times)
for s in "$tmp/qmail/queue" "$espool --json"; do
    # shellcheck disable=SC2086
    "$x/usr/bin/qls" --spool $s >"$tmp/pkg.out" 2>"$tmp/pkg.err"
    rc=$?
    # shellcheck disable=SC2086
    "$QT_BIN/qls" --spool $s >"$tmp/tree.out" 2>"$tmp/tree.err"
    is "$rc" "$?" "the package's qls --spool ${s#"$tmp"/}: the tree's exit code"
    # the JSON end line says when each run ended, which may tick between the two
    sed -i 's/"now": [0-9]*/"now": T/' "$tmp/tree.out" "$tmp/pkg.out"
    [ -s "$tmp/tree.out" ]; ok $? "... the tree's qls lists messages there"
    is_same_file "$tmp/tree.out" "$tmp/pkg.out" "... and the package's qls lists the same"
    is_same_file "$tmp/tree.err" "$tmp/pkg.err" "... and says the same on stderr"
done

done_testing
