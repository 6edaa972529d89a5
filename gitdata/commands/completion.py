"""git data completion bash|zsh|fish: shell completion for `git data` and `git-data`.

The scripts ask `git data completion --list KIND` for the words that depend on the
repository (tracked paths, step names, storage names, a verb's options), so they
never go stale."""
from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Callable

from gitdata import output
from gitdata.errors import GitDataError, UsageError

SHELLS = ("bash", "zsh", "fish")
KINDS = ("verbs", "paths", "steps", "storages", "options")
STEP_VERBS = ("run", "step", "dag")
STORAGE_OPTIONS = ("--storage", "--to", "--from", "-s", "--remote")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("shell", nargs="?", choices=SHELLS, help="the shell to print the script for")
    parser.add_argument("--list", dest="kind", metavar="KIND", help=argparse.SUPPRESS)
    parser.add_argument("--verb", help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    if args.kind:
        if args.kind not in KINDS:
            raise UsageError(f"git data completion: --list takes one of {', '.join(KINDS)}")
        for word in words(args.kind, args.verb):
            output.out(word)
        return 0
    if not args.shell:
        raise UsageError("git data completion: name a shell: bash, zsh or fish")
    output.out(SCRIPTS[args.shell].strip("\n"))
    return 0


def words(kind: str, verb: str | None = None) -> list[str]:
    """Completion candidates; an unusable repository yields none rather than an error."""
    try:
        return _WORDS[kind](verb)
    except (GitDataError, OSError):
        return []


def verbs(_: str | None = None) -> list[str]:
    from gitdata.main import COMMANDS

    names = []
    for name, command in COMMANDS.items():
        if not command.hidden:
            names += [name, *command.aliases]
    return names


def tracked_paths(_: str | None = None) -> list[str]:
    """Tracked files and directories, relative to the current directory."""
    from gitdata.git import find_repo
    from gitdata.manifest import read_workspace

    repo = find_repo()
    tracked = read_workspace(repo.workdir)
    found = set(tracked.files) | set(tracked.whole_dirs)
    for rel in list(tracked.files):
        parts = rel.split("/")
        found.update("/".join(parts[:i]) for i in range(1, len(parts)))
    here = Path(os.getcwd())
    return sorted(os.path.relpath(repo.workdir / rel, here) for rel in found)


def step_names(_: str | None = None) -> list[str]:
    from gitdata.git import find_repo

    root = find_repo().workdir / ".gitdata" / "pipelines"
    names = set()
    for path in root.glob("*/*.yaml"):
        names.add(path.stem)
        names.add(f"{path.parent.name}/{path.stem}")
    return sorted(names)


def storage_names(_: str | None = None) -> list[str]:
    from gitdata import config
    from gitdata.git import find_repo

    settings = config.values(find_repo())
    return sorted({k[len("storage."):-len(".url")] for k in settings if k.startswith("storage.") and k.endswith(".url")})


def verb_options(verb: str | None) -> list[str]:
    from gitdata.main import command_names, command_parser

    name = command_names().get(verb or "")
    if name is None:
        return []
    parser, _ = command_parser(name)
    return sorted({option for action in parser._actions for option in action.option_strings
                   if action.help != argparse.SUPPRESS})


_WORDS: dict[str, Callable[[str | None], list[str]]] = {"verbs": verbs, "paths": tracked_paths, "steps": step_names, "storages": storage_names,
          "options": verb_options}

BASH = r"""
# git-data completion for bash: source it, e.g. from ~/.bashrc:
#   source <(git data completion bash)
# Completes `git data ...` (through git's own completion) and `git-data ...`.
__git_data_complete() {
    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"
    local i start=0 verb=""
    for ((i = 0; i < COMP_CWORD; i++)); do
        case "${COMP_WORDS[i]}" in
            data|git-data) start=$((i + 1)); break ;;
        esac
    done
    for ((i = start; i < COMP_CWORD; i++)); do
        case "${COMP_WORDS[i]}" in
            -C) ((i++)) ;;
            -*) ;;
            *) verb="${COMP_WORDS[i]}"; break ;;
        esac
    done
    local IFS=$'\n' list
    if [[ -z "$verb" ]]; then
        list=$(git data completion --list verbs 2>/dev/null)
    elif [[ "$cur" == -* ]]; then
        list=$(git data completion --list options --verb "$verb" 2>/dev/null)
    else
        case "$prev" in
            --storage|--to|--from|-s|--remote)
                list=$(git data completion --list storages 2>/dev/null) ;;
            *)
                case "$verb" in
                    run|repro|step|dag) list=$(git data completion --list steps 2>/dev/null) ;;
                    storage) list="add"$'\n'"list"$'\n'"remove"$'\n'"default"$'\n'$(git data completion --list storages 2>/dev/null) ;;
                    *) list=$(git data completion --list paths 2>/dev/null)
                       COMPREPLY=($(compgen -W "$list" -- "$cur") $(compgen -f -- "$cur"))
                       return 0 ;;
                esac ;;
        esac
    fi
    COMPREPLY=($(compgen -W "$list" -- "$cur"))
}
_git_data() { __git_data_complete; }
complete -o default -o filenames -F __git_data_complete git-data
"""

ZSH = r"""
#compdef git-data
# git-data completion for zsh: source it, e.g. from ~/.zshrc:
#   source <(git data completion zsh)
# Completes `git-data ...` and, through zsh's git completion, `git data ...`.
_git-data() {
    local -a list
    local verb="" i
    for ((i = 2; i < CURRENT; i++)); do
        case "${words[i]}" in
            data) ;;
            -C) ((i++)) ;;
            -*) ;;
            *) verb="${words[i]}"; break ;;
        esac
    done
    if [[ -z "$verb" ]]; then
        list=(${(f)"$(git data completion --list verbs 2>/dev/null)"})
        compadd -a list
    elif [[ "$PREFIX" == -* ]]; then
        list=(${(f)"$(git data completion --list options --verb $verb 2>/dev/null)"})
        compadd -a list
    elif [[ "${words[CURRENT-1]}" == (--storage|--to|--from|-s|--remote) ]]; then
        list=(${(f)"$(git data completion --list storages 2>/dev/null)"})
        compadd -a list
    else
        case "$verb" in
            run|repro|step|dag) list=(${(f)"$(git data completion --list steps 2>/dev/null)"}); compadd -a list ;;
            storage) list=(add list remove default ${(f)"$(git data completion --list storages 2>/dev/null)"}); compadd -a list ;;
            *) list=(${(f)"$(git data completion --list paths 2>/dev/null)"}); compadd -a list; _files ;;
        esac
    fi
}
if (( $+functions[compdef] )); then
    compdef _git-data git-data
fi
"""

FISH = r"""
# git-data completion for fish: save it as ~/.config/fish/completions/git-data.fish
# (and source it from config.fish for `git data ...`):
#   git data completion fish > ~/.config/fish/completions/git-data.fish
function __git_data_verb
    set -l tokens (commandline -opc)
    set -l seen_data 0
    for token in $tokens[2..-1]
        if test $seen_data -eq 0; and test "$tokens[1]" = git
            test "$token" = data; and set seen_data 1
            continue
        end
        switch $token
            case '-*'
            case '*'
                echo $token
                return 0
        end
    end
    return 1
end
function __git_data_needs_verb
    not __git_data_verb >/dev/null
end
function __git_data_in_data
    set -l tokens (commandline -opc)
    test "$tokens[1]" = git-data; or contains -- data $tokens
end
function __git_data_words
    set -l verb (__git_data_verb)
    set -l previous (commandline -opc)[-1]
    if contains -- $previous --storage --to --from -s --remote
        git data completion --list storages 2>/dev/null
    else if contains -- $verb run repro step dag
        git data completion --list steps 2>/dev/null
    else if test "$verb" = storage
        printf '%s\n' add list remove default
        git data completion --list storages 2>/dev/null
    else
        git data completion --list paths 2>/dev/null
    end
end
for cmd in git git-data
    complete -c $cmd -n '__git_data_in_data; and __git_data_needs_verb' -f -a '(git data completion --list verbs 2>/dev/null)'
    complete -c $cmd -n '__git_data_in_data; and not __git_data_needs_verb' -a '(__git_data_words)'
end
"""

SCRIPTS = {"bash": BASH, "zsh": ZSH, "fish": FISH}
