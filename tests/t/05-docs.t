#!/bin/bash
# 05-docs.t -- the documentation keeps up with the tools. For every tool in cmd/ (cli.c is
# not one), with the tool's own --help and --usage as the reference:
#   - man/TOOL.1 exists and `mandoc -Tlint -W warning` finds nothing in it;
#   - every option --help prints has an item (.It) in the man page, with its short letter
#     beside its long name and an argument (Ar) exactly when it takes one; no item documents
#     an option the tool does not have;
#   - the SYNOPSIS (as mandoc renders it; one line per form) lists exactly the options of the
#     --usage line, each with an argument exactly when it takes one (help options aside), and
#     its first form has the same operands;
#   - completions/qtools.bash offers exactly --help's long options after `TOOL --`, knows
#     which options take an argument, and completes queue IDs with `qls -i` on the spool of
#     the command line; completions/_qtools (zsh) hands _arguments a spec for exactly
#     --help's options, with an argument exactly when they take one;
#   - TOOL --help exits 0; TOOL --bogus exits 2 with one line on stderr naming the option.
# So an option added to a tool without its documentation fails here.
# shellcheck shell=bash
source "$(dirname "$0")/../lib.sh"

cd "$QT_ROOT" || bail_out "no $QT_ROOT"
tmp=$(mktemp -d) || bail_out "mktemp"
trap 'rm -rf "$tmp"' EXIT
for c in mandoc zsh perl; do
    command -v "$c" >/dev/null || bail_out "$c is missing: run scripts/install-deps as root"
done

# Options that --help lists twice: popt reaches only the first, so only that one needs
# documenting. Each is a known bug (TOOL:--name), reported as TODO until it is fixed.
KNOWN_SHADOWED=""

tools=$(for f in cmd/*.c; do t=${f##*/}; t=${t%.c}; [ "$t" = cli ] || echo "$t"; done)
[ -n "$tools" ] || bail_out "no tools in cmd/"

todo_ok() {  # todo_ok RC NAME REASON: a known bug; prove reports it when it starts passing
    _qt_n=$((_qt_n + 1))
    if [ "$1" = 0 ]; then echo "ok $_qt_n - $2 # TODO $3"; else echo "not ok $_qt_n - $2 # TODO $3"; fi
}

# "SHORT LONG ARG" per option of --help (SHORT "-" when none, ARG 1 when it takes one),
# in order, duplicates included
help_options() {
    perl -ne 'print(($1 // "-"), " $2 ", (defined $3 ? 1 : 0), "\n")
        if /^  (?:-(\S), |    )--([A-Za-z0-9][\w-]*)(=\S+| \x27[^\x27]*\x27| [A-Z][A-Z_:]*)?(?:  |$)/'
}

# "KEY ARG" per option of --usage (KEY -x, or --long when there is no letter), help options
# and shadowed duplicates left out; then "operand: ..." for what is not an option
usage_options() {
    perl -0777 -ne '
        s/^Usage: \S+//; s/\s+/ /g;
        my (%seen, @out, $operand);
        for my $t (/(\[[^\]]*\]|[^\s\[]+)/g) {
            my $c = $t =~ /^\[(.*)\]$/ ? $1 : undef;
            if (!defined $c || $c !~ /^-/) { $operand .= $t; next }     # an operand
            next if $c =~ /^-[^-|=\s]+$/;                  # the cluster of letters
            if ($c =~ /^(?:-(\S)\|)?--([\w-]+)(=.*)?$/) {
                next if $seen{$2}++;
                next if $2 eq "help" || $2 eq "usage";
                push @out, (defined $1 ? "-$1" : "--$2") . " " . (defined $3 ? 1 : 0);
            } else {
                push @out, "unparsed: $c";
            }
        }
        print "$_\n" for sort @out; print "operand: ", lc $operand, "\n";'
}

# the same from the man page's SYNOPSIS as mandoc renders it: the union of its forms, and
# the operands of the first form
synopsis_options() {  # synopsis_options TOOL PAGE
    mandoc -Tascii -Owidth=1000 "$2" | sed 's/.\x08//g' | perl -ne '
        BEGIN { $tool = shift @ARGV }
        $in = /^SYNOPSIS/ ... /^\S/ and /^\s+\Q$tool\E(\s|$)/ or next;
        s/^\s+\Q$tool\E//; $form++;
        for my $t (/(\[[^\]]*\]|\S+)/g) {
            my ($c, $opt) = ($t, 0);
            $opt = 1 if $c =~ s/^\[(-.*)\]$/$1/;
            $opt = 1 if $c =~ /^-./ && $t !~ /^\[/;     # a bare - is stdin
            if (!$opt) { $operand .= $t if $form == 1; next }
            if ($c =~ /^-([^-\s=]+)$/) { $out{"-$_ 0"} = 1 for split //, $1 }
            elsif ($c =~ /^-(\S)(?: \S.*)?$/) { $out{"-$1 " . ($c =~ / / ? 1 : 0)} = 1 }
            elsif ($c =~ /^--([\w-]+)([ =]\S.*)?$/) { $out{"--$1 " . (defined $2 ? 1 : 0)} = 1 }
            else { $out{"unparsed: $c"} = 1 }
        }
        END { print "$_\n" for sort keys %out; $operand =~ s/\s+//g; print "operand: ", lc $operand, "\n" }
    ' "$1"
}

# compare the options of --help with the .It items of a man page's source: prints problems
check_items() {  # check_items HELPOPTS PAGE
    perl -e '
        my ($help, $page) = @ARGV;
        my (@items, @problems, %seen, %long, %short);
        open my $h, "<", $help or die; open my $p, "<", $page or die;
        while (<$p>) {
            next unless /^\.It\b/ && /\bFl\b/;
            my %f;
            while (/\bFl\s+((?:\\[-&])*[\w?][\w-]*)/g) {
                (my $x = $1) =~ s/\\&//g; $x =~ s/\\-/-/g;
                $f{$x =~ /^-/ ? "-$x" : "-$x"} = 1;
            }
            push @items, { flags => \%f, ar => /\bAr\b/ ? 1 : 0, line => $. };
        }
        while (<$h>) {
            my ($s, $l, $a) = split;
            next if $seen{$l}++;
            $long{"--$l"} = 1; $short{"-$s"} = 1 if $s ne "-";
            my @with = grep { $_->{flags}{"--$l"} } @items;
            if (!@with) { push @problems, "--$l: no .It item"; next }
            push @problems, "-$s, --$l: no .It item names both"
                if $s ne "-" && !grep { $_->{flags}{"-$s"} } @with;
            push @problems, "--$l takes an argument: its .It has no Ar"
                if $a && !grep { $_->{ar} } @with;
            push @problems, "--$l takes no argument: its .It has an Ar"
                if !$a && !grep { !$_->{ar} } @with;
        }
        for my $i (@items) {
            for my $f (sort keys %{$i->{flags}}) {
                push @problems, "line $i->{line}: $f is documented but not in --help"
                    unless $long{$f} || $short{$f};
            }
        }
        print "$_\n" for @problems;
    ' "$1" "$2"
}

# bash: what _qtools offers for the words given, one per line
bash_complete() {  # bash_complete WORD... (the last one is completed)
    PATH="$tmp/stub:$PATH" bash -c '
        source completions/qtools.bash || exit 1
        COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=()
        _qtools && printf "%s\n" "${COMPREPLY[@]}"' bash "$@"
}

# zsh: the specs the completion function hands to _arguments for TOOL, one per line
zsh_specs() {  # zsh_specs TOOL
    zsh -f -c '_arguments() { print -rl -- "$@"; }; service=$1; source completions/_qtools' \
        zsh "$1" | perl -ne '
        chomp; next if /^-[sS]$|^:$/ or /^\*?:/;             # _arguments flags, operands
        s/^\*//; s/^\([^)]*\)//;
        /^(--?[^\[=+:]+?)([=+]-?)?(\[[^\]]*\])?(:.*)?$/ or do { print "unparsed: $_\n"; next };
        print "$1 ", (($2 // "") ne "" || defined $4 ? 1 : 0), "\n"'
}

# a stub qls for the ID completion: says how it was called, prints two IDs
mkdir -p "$tmp/stub"
cat >"$tmp/stub/qls" <<EOF
#!/bin/sh
echo "\$*" >"$tmp/stub.args"
printf '%s\n' 1abcde-000001-AA 1abcde-000002-BB 2zzzzz-000003-CC
EOF
chmod +x "$tmp/stub/qls"

run_ok "completions/qtools.bash parses (bash -n)" bash -n completions/qtools.bash
run_ok "completions/_qtools parses (zsh -n)" zsh -n completions/_qtools
is "$(head -n 1 completions/_qtools | tr ' ' '\n' | sed 1d | sort | tr '\n' ' ')" \
    "$(echo "$tools" | sort | tr '\n' ' ')" "completions/_qtools: #compdef names every tool"
is "$(bash -c 'source completions/qtools.bash && complete -p' | sed -n 's/^complete -F _qtools //p' |
    sort | tr '\n' ' ')" "$(echo "$tools" | sort | tr '\n' ' ')" \
    "completions/qtools.bash completes every tool"

for t in $tools; do
    bin=$QT_BIN/$t page=man/$t.1
    if [ ! -x "$bin" ]; then ok 1 "$t: $bin is built"; continue; fi

    # ---- --help, --bogus
    "$bin" --help >"$tmp/help" 2>"$tmp/help.err"
    is "$?" 0 "$t --help exits 0"
    help_options <"$tmp/help" >"$tmp/opts"
    [ -s "$tmp/opts" ]; ok $? "$t --help lists options" || diag "$(cat "$tmp/help")"
    "$bin" --bogus >"$tmp/out" 2>"$tmp/err" </dev/null
    is "$?" 2 "$t --bogus exits 2"
    [ "$(wc -l <"$tmp/err")" = 1 ] && grep -q -- '--bogus' "$tmp/err" && [ ! -s "$tmp/out" ]
    ok $? "$t --bogus: one line on stderr naming the option, nothing on stdout" ||
        diag "stderr: $(cat "$tmp/err")" "stdout: $(cat "$tmp/out")"

    dups=$(awk '{ print $2 }' "$tmp/opts" | sort | uniq -d | sed 's/^/--/' | tr '\n' ' ')
    known=
    for d in $dups; do
        case " $KNOWN_SHADOWED " in *" $t:$d "*) known="$known $d" ;; esac
    done
    if [ -n "$known" ] && [ "$(echo $known)" = "$(echo $dups)" ]; then
        todo_ok 1 "$t: no option is listed twice in --help" "popt reaches only the first:$known"
    else
        [ -z "$dups" ]; ok $? "$t: no option is listed twice in --help" ||
            diag "listed twice (popt reaches only the first): $dups"
        for k in $KNOWN_SHADOWED; do
            [ "${k%%:*}" = "$t" ] && diag "$k is fixed: take it out of KNOWN_SHADOWED"
        done
    fi

    # ---- the man page
    if [ ! -f "$page" ]; then ok 1 "$t: $page exists"; continue; fi
    ok 0 "$t: $page exists"
    lint=$(mandoc -Tlint -W warning "$page" 2>&1)
    rc=$?
    [ "$rc" = 0 ] && [ -z "$lint" ]
    ok $? "$t: mandoc -Tlint finds no warning in $page" || diag "$lint"
    problems=$(check_items "$tmp/opts" "$page")
    [ -z "$problems" ]
    ok $? "$t: $page documents every option of --help, and no other" || diag "$problems"

    "$bin" --usage >"$tmp/usage" 2>&1
    is "$?" 0 "$t --usage exits 0"
    usage_options <"$tmp/usage" >"$tmp/usage.opts"
    synopsis_options "$t" "$page" >"$tmp/synopsis.opts"
    grep -q . "$tmp/synopsis.opts" || diag "no SYNOPSIS form starting with $t"
    is_same_file "$tmp/usage.opts" "$tmp/synopsis.opts" \
        "$t: the SYNOPSIS of $page has the options and operands of --usage"

    # ---- bash completion
    awk '{ print "--" $2 }' "$tmp/opts" | sort -u >"$tmp/longs"
    bash_complete "$t" -- | sort -u >"$tmp/bash.longs"
    is_same_file "$tmp/longs" "$tmp/bash.longs" "$t: bash completes exactly the long options of --help"
    bad=$(awk '!seen[$2]++' "$tmp/opts" | bash -c '
        source completions/qtools.bash || exit 1
        while read -r s l a; do
            for o in "--$l" "-$s"; do
                [ "$o" = "--" ] && continue
                _qtools_takes_arg "$1" "$o"
                [ "$?" = "$((1 - a))" ] || printf " %s" "$o"
            done
        done' bash "$t")
    is "$bad" "" "$t: bash knows which options take an argument"
    out=$(bash -c 'source completions/qtools.bash && complete -p "$1"' bash "$t" 2>&1)
    is "$out" "complete -F _qtools $t" "$t: sourcing completions/qtools.bash makes _qtools complete it"

    # ---- zsh completion: the same options, short letters included
    { awk '!seen[$2]++ { print "--" $2, $3; if ($1 != "-") print "-" $1, $3 }' "$tmp/opts"; } |
        sort -u >"$tmp/zsh.exp"
    zsh_specs "$t" | sort -u >"$tmp/zsh.got"
    is_same_file "$tmp/zsh.exp" "$tmp/zsh.got" \
        "$t: the zsh specs are exactly the options of --help (with their arguments)"
done

# ---- the suite's pages (section 7): clean, and qtools(7) names every spool option the tools
# share (qls --help's "Spool:" part, cmd/cli.c's cli_spool_table)
for page in man/*.7; do
    lint=$(mandoc -Tlint -W warning "$page" 2>&1)
    rc=$?
    [ "$rc" = 0 ] && [ -z "$lint" ]
    ok $? "mandoc -Tlint finds no warning in $page" || diag "$lint"
done
spool_opts=$("$QT_BIN/qls" --help | sed -n '/^Spool:/,/^$/p' | grep -o -- '--[a-z-]*' | sort -u)
[ -n "$spool_opts" ] || bail_out "qls --help has no Spool: part"
missing=""
for o in $spool_opts; do
    grep -qE "^\.It .*Fl \\\\${o#-}( |$)" man/qtools.7 || missing="$missing $o"
done
is "$missing" "" "qtools(7) documents every shared spool option ($(echo $spool_opts))"
# ... and every option of cmd/cli.c's shared tables (spool, selection, output, acting):
# qtools(7) is the page for what cli.c gives every tool
shared_opts=$(awk '/^struct poptOption cli_[a-z]*_table\[\] = \{/ { t = 1; next }
    t && /POPT_TABLEEND/ { t = 0 }
    t && match($0, /\{ "[a-z-]+"/) { print substr($0, RSTART + 3, RLENGTH - 4) }' cmd/cli.c)
[ "$(echo "$shared_opts" | wc -l)" -ge 30 ] || bail_out "cmd/cli.c's option tables not found"
missing=""
for o in $shared_opts; do
    grep -qE "Fl \\\\-$o( |$)" man/qtools.7 || missing="$missing --$o"
done
is "$missing" "" "qtools(7) documents every option of cmd/cli.c's shared tables"
for t in $tools; do
    grep -q '^\.Xr qtools 7' "man/$t.1"
    ok $? "man/$t.1 refers to qtools(7)"
done

# ---- bash: values and queue IDs
is "$(bash_complete qls --mta '' | tr '\n' ' ')" "exim postfix qmail " "bash: --mta completes the MTAs"
is "$(bash_complete qls --mta = p | tr '\n' ' ')" "postfix " "bash: --mta=p completes postfix"
is "$(bash_complete qgrep --queue act,h | tr '\n' ' ')" "act,hold " "bash: --queue completes the last of a list"
is "$(bash_complete qls --spool "$tmp/stu" | tr '\n' ' ')" "$tmp/stub " "bash: --spool completes directories"
if "$QT_BIN/qsumm" --help 2>/dev/null | grep -q -- '--shape '; then
    is "$(bash_complete qsumm --shape de | tr '\n' ' ')" "deferred " "bash: qsumm --shape completes queue names"
fi
rm -f "$tmp/stub.args"
is "$(bash_complete qgrep -i --spool /sp --mta exim -G q2 1abcde | tr '\n' ' ')" \
    "1abcde-000001-AA 1abcde-000002-BB " "bash: queue IDs from qls -i"
is "$(cat "$tmp/stub.args" 2>/dev/null)" "-i -U --spool /sp --mta exim -G q2" \
    "bash: ... run on the spool of the command line"
is "$(bash_complete qcat --spool=/sp2 -Gq3 2 | tr '\n' ' ')" "2zzzzz-000003-CC " \
    "bash: queue IDs with --spool=DIR and -GNAME"
is "$(cat "$tmp/stub.args" 2>/dev/null)" "-i -U --spool /sp2 -G q3" "bash: ... passed on to qls"

done_testing
