# bash completion for qtools: qls, qgrep, qsumm, qcat, qrm, qfreeze, qedit, qrun   -*- shell-script -*-
#
# One file for every tool (`make install` puts a copy under each tool's name, where
# bash-completion's loader looks). The option lists are the tools' option tables (cmd/*.c,
# cmd/cli.c); tests/t/05-docs.t checks them against each tool's --help.
# Queue IDs are completed by running `qls -i` quietly on the spool the command line names.
# Works with or without the bash-completion package.

_qtools_select_opts='--sender --recipient --reason --size-match --younger --older --frozen
    --not-frozen --invert --larger --smaller --header --body --bounce --active --queue
    --expr --case-sensitive'
_qtools_spool_opts='--spool --mta --named-queue --jobs'
_qtools_help_opts='--help --usage'
_qtools_output_opts='--ids --null --count --json --host --unsorted --reverse'

# _qtools_opts TOOL: the long options of TOOL
_qtools_opts()
{
    case $1 in
    qls)   echo "--all --undelivered $_qtools_output_opts" ;;
    qgrep) echo "--all --brief --long $_qtools_output_opts" ;;
    qsumm) echo "--by-age --mark-bounces --by-count --mark-frozen --source --json --host
                 --age-buckets --merge --expect --stat --prom --output --by --top
                 --shape --by-sender --parent-domains --min-subdomains --buckets
                 --bucket-time --linear --width" ;;
    qcat)  echo "--envelope --headers --body --message --log --null" ;;
    qrm)   echo "--save --ids --null --dry-run --max --mainlog" ;;
    qfreeze) echo "--thaw --ids --null --dry-run --max --mainlog" ;;
    qedit) echo "--add-recipient --set-sender --mark-delivered --mark-all-delivered --local
                 --remote --save --ids --null --dry-run --max --mainlog" ;;
    qrun)  echo "--mta-path --dry-run --max --null" ;;
    esac
    echo "$_qtools_select_opts $_qtools_spool_opts $_qtools_help_opts"
}

# _qtools_takes_arg TOOL OPTION: does OPTION take an argument (in the next word)?
_qtools_takes_arg()
{
    case $2 in
    --sender|--recipient|--reason|--size-match|--younger|--older|--larger|--smaller|--header|\
    --queue|--expr|--spool|--mta|--named-queue|--jobs|-r|-y|-o|-G) return 0 ;;
    --body) [[ $1 != qcat ]] ;;
    -e) [[ $1 != qcat ]] ;;
    -f|-s) [[ $1 != qsumm ]] ;;
    --min-subdomains|--buckets|--bucket-time|--width|-m|-t|-w) [[ $1 == qsumm ]] ;;
    --max) [[ $1 == qrm || $1 == qfreeze || $1 == qedit || $1 == qrun ]] ;;
    --mainlog) [[ $1 == qrm || $1 == qfreeze || $1 == qedit ]] ;;
    --save) [[ $1 == qrm || $1 == qedit ]] ;;
    --add-recipient|--set-sender|--mark-delivered) [[ $1 == qedit ]] ;;
    --mta-path) [[ $1 == qrun ]] ;;
    --host) [[ $1 == qls || $1 == qgrep || $1 == qsumm ]] ;;
    --age-buckets|--expect|--output|--by|--top) [[ $1 == qsumm ]] ;;
    *) return 1 ;;
    esac
}

_qtools_postfix_queues='maildrop incoming active deferred hold corrupt'

# _qtools_ids TOOL WORD...: the queue IDs of the spool that the words name, by `qls -i`
_qtools_ids()
{
    local tool=$1 qls=qls w next='' args=() limit=()
    shift
    # the qls beside the tool being completed (./bin/qgrep -> ./bin/qls), else $PATH's
    [[ $tool == */* ]] && qls=${tool%/*}/qls
    for w in "${@:2}"; do
        if [[ -n $next ]]; then
            [[ $next == --spool ]] && w=${w/#\~/$HOME}
            args+=("$next" "$w")
            next=''
            continue
        fi
        case $w in
        --spool|--mta|--named-queue|-G) next=$w ;;
        --spool=*|--mta=*|--named-queue=*) args+=("${w%%=*}" "${w#*=}") ;;
        -G?*) args+=(-G "${w#-G}") ;;
        esac
    done
    # a spool that hangs (a stale NFS mount) must not hang the shell
    type -P timeout >/dev/null && limit=(timeout 10)
    "${limit[@]}" "$qls" -i -U "${args[@]}" </dev/null 2>/dev/null
}

_qtools()
{
    local cur prev tool=${COMP_WORDS[0]} name words=("${COMP_WORDS[@]:0:COMP_CWORD}") w
    name=${tool##*/}
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    # --opt=value: bash splits it at '=' (COMP_WORDBREAKS)
    if [[ $cur == = ]]; then
        cur=''
    elif [[ $prev == = ]] && ((COMP_CWORD >= 2)); then
        prev=${COMP_WORDS[COMP_CWORD-2]}
    fi
    # the words so far with "--opt = value" joined again, for the spool options
    local joined=() k
    for ((k = 0; k < ${#words[@]}; k++)); do
        if [[ ${words[k]} == = && ${#joined[@]} -gt 0 ]]; then
            joined[${#joined[@]}-1]+="=${words[k+1]}"
            ((k++))
        else
            joined+=("${words[k]}")
        fi
    done

    COMPREPLY=()
    if _qtools_takes_arg "$name" "$prev"; then
        case $prev in
        --spool|--save)
            local IFS=$'\n'
            COMPREPLY=($(compgen -d -- "$cur"))
            compopt -o filenames 2>/dev/null
            ;;
        --mainlog|--output)
            local IFS=$'\n'
            COMPREPLY=($(compgen -f -- "$cur"))
            compopt -o filenames 2>/dev/null
            ;;
        --mta-path)
            local IFS=$'\n'
            COMPREPLY=($(compgen -c -- "$cur"))
            ;;
        --mta)
            COMPREPLY=($(compgen -W 'exim postfix qmail' -- "$cur")) ;;
        --by)
            COMPREPLY=($(compgen -W 'domain' -- "$cur")) ;;
        --host|--expect)
            COMPREPLY=($(compgen -A hostname -- "$cur")) ;;
        --named-queue|-G)
            local mta='' list=''
            for w in "${joined[@]}"; do
                case $w in --mta=*) mta=${w#--mta=} ;; esac
            done
            for ((k = 1; k < ${#joined[@]}; k++)); do
                [[ ${joined[k-1]} == --mta ]] && mta=${joined[k]}
            done
            case $mta in
            postfix) list=$_qtools_postfix_queues ;;
            qmail) list='queue todo' ;;
            esac
            [[ -n $list ]] && COMPREPLY=($(compgen -P "${cur%"${cur##*,}"}" -W "$list" -- "${cur##*,}"))
            ;;
        --queue)
            # a comma-separated list: complete its last name
            COMPREPLY=($(compgen -P "${cur%"${cur##*,}"}" \
                -W "frozen queued todo bouncing queue $_qtools_postfix_queues" \
                -- "${cur##*,}"))
            ;;
        esac
        return 0
    fi

    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$(_qtools_opts "$name")" -- "$cur"))
        return 0
    fi

    # operands: qsumm --shape takes Postfix queue names, qsumm --merge files, the others
    # queue IDs (or -, and for the tools that change the queue ALL)
    if [[ $name == qsumm ]]; then
        for w in "${joined[@]}"; do
            if [[ $w == --shape ]]; then
                COMPREPLY=($(compgen -W "$_qtools_postfix_queues" -- "$cur"))
                return 0
            fi
            if [[ $w == --merge ]]; then
                local IFS=$'\n'
                COMPREPLY=($(compgen -f -- "$cur"))
                compopt -o filenames 2>/dev/null
                [[ -z $cur || $cur == - ]] && COMPREPLY+=(-)
                return 0
            fi
        done
    fi
    local IFS=$'\n'
    COMPREPLY=($(compgen -W "$(_qtools_ids "$tool" "${joined[@]}")" -- "$cur"))
    [[ -z $cur || $cur == - ]] && COMPREPLY+=(-)
    case $name in
    qrm|qfreeze|qedit|qrun) [[ ALL == "$cur"* ]] && COMPREPLY+=(ALL) ;;
    esac
    return 0
}

complete -F _qtools qls qgrep qsumm qcat qrm qfreeze qedit qrun
