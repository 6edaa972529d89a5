"""Argument parsing and dispatch only. Each verb lives in gitdata/commands/<verb>.py
and provides `add_arguments(parser)` and `run(args) -> int`; it is imported only
when that verb runs, so start-up stays light."""
from __future__ import annotations

import argparse
import errno
import importlib
import os
import sys
from typing import Any, NamedTuple, Sequence

from gitdata import output
from gitdata.errors import GitDataError, UsageError


class Command(NamedTuple):
    module: str
    summary: str
    aliases: tuple[str, ...] = ()
    hidden: bool = False


COMMANDS: dict[str, Command] = {
    # files (foundation)
    "init": Command("init", "create .gitdata/ and the local cache in this repository"),
    "add": Command("add", "track files and directories: hash, cache, record in manifests", ("track",)),
    "status": Command("status", "show tracked data and pipeline steps that need attention"),
    "checkout": Command("checkout", "bring workspace files to what the manifests say", ("recheck",)),
    "commit": Command("commit", "carry changed tracked files into the cache", ("carry-in",)),
    "ls": Command("ls", "list tracked and untracked files", ("list",)),
    "rm": Command("rm", "stop tracking files, or delete them from cache or storage", ("untrack", "remove")),
    "mv": Command("mv", "move tracked files without needing their content", ("move",)),
    "cp": Command("cp", "copy tracked files without needing their content", ("copy",)),
    "hash": Command("hash", "print content digests of files"),
    "root": Command("root", "print the repository root"),
    "check-ignore": Command("check_ignore", "tell whether paths are ignored by .gitdataignore"),
    "version": Command("version", "print the version"),
    # storages and transfers
    "storage": Command("storage", "add, list, remove storages and pick the default"),
    "push": Command("push", "upload tracked data to a storage", ("send",)),
    "fetch": Command("fetch", "download tracked data into the cache"),
    "pull": Command("pull", "fetch, then check out", ("bring",)),
    "share": Command("share", "print a presigned URL for a tracked file"),
    "trust": Command("trust", "approve commands from committed files to run here"),
    # git integration
    "install": Command("install", "install the git hooks and the merge driver"),
    "uninstall": Command("uninstall", "remove the git hooks, restoring earlier ones"),
    "resolve": Command("resolve", "settle a data merge conflict"),
    "merge-driver": Command("merge_driver", "three-way merge of manifests (run by git)", hidden=True),
    "hook-impl": Command("hook_impl", "the work behind the git hooks", hidden=True),
    # pipelines
    "run": Command("run", "run the pipeline steps that are stale", ("repro",)),
    "step": Command("step", "define pipeline steps, their dependencies and outputs"),
    "pipeline": Command("pipeline", "create, list, export and import pipelines"),
    "dag": Command("dag", "draw the pipeline graph"),
    "metrics": Command("metrics", "show metric outputs and how they changed"),
    # history
    "diff": Command("diff", "content diff of tracked files between refs or against the workspace"),
    "cat": Command("cat", "print a tracked file at any ref"),
    "cache": Command("cache", "cache introspection: path and digest of tracked files"),
    "gc": Command("gc", "remove cache (or storage) objects no longer needed"),
    "fsck": Command("fsck", "verify cache objects and manifests"),
    "import-url": Command("import_url", "download a file from a URL and track it with provenance"),
    "update": Command("update", "refresh imported files from their source"),
    "get-url": Command("get_url", "download a file from a URL without tracking it"),
    "import": Command("import_repo", "bring tracked data from another git-data repository"),
    "get": Command("get", "download tracked data from another repository without tracking it"),
    "completion": Command("completion", "print shell completion for bash, zsh or fish"),
    "aliases": Command("aliases", "print short shell aliases to source"),
}


def command_names() -> dict[str, str]:
    """Every accepted name (including aliases) -> canonical name."""
    names = {}
    for name, command in COMMANDS.items():
        names[name] = name
        for alias in command.aliases:
            names[alias] = name
    return names


class Formatter(argparse.HelpFormatter):
    """argparse's own, told the terminal width: asking shutil for it would import shutil
    (~4 ms) in every command, hooks included, since add_argument() makes a formatter."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, width=_terminal_columns())


def _terminal_columns() -> int:
    """What shutil.get_terminal_size() would say."""
    try:
        return int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        pass
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or 80  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):
        return 80


class Parser(argparse.ArgumentParser):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", Formatter)
        super().__init__(**kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")


def _top_parser() -> Parser:
    parser = Parser(prog="git data", add_help=False, usage="git data [-q|-v] [-C DIR] <command> [<args>]")
    parser.add_argument("-C", dest="directory", help="run as if started in DIR")
    parser.add_argument("-h", "--help", action="store_true")
    parser.add_argument("--version", action="store_true")
    return parser


def top_help() -> str:
    lines = ["usage: git data [-C DIR] <command> [<args>]", "", "commands:"]
    for name, command in COMMANDS.items():
        if command.hidden:
            continue
        alias = f" (alias: {', '.join(command.aliases)})" if command.aliases else ""
        lines.append(f"  {name:<14} {command.summary}{alias}")
    lines += ["", "'git data <command> -h' shows a command's options; 'git help data' the manual."]
    return "\n".join(lines)


def add_common_options(parser: argparse.ArgumentParser, default: object = output.NORMAL) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-q", "--quiet", action="store_const", dest="verbosity", const=output.QUIET,
                       default=default, help="print only errors and results")
    group.add_argument("-v", "--verbose", action="store_const", dest="verbosity", const=output.VERBOSE,
                       default=default, help="say more about what is done")


def command_parser(name: str) -> tuple[argparse.ArgumentParser, object]:
    command = COMMANDS[name]
    try:
        module = importlib.import_module(f"gitdata.commands.{command.module}")
    except ModuleNotFoundError as exc:
        if exc.name != f"gitdata.commands.{command.module}":
            raise
        raise GitDataError(f"'git data {name}' is not available in this version") from None
    parser = Parser(prog=f"git data {name}", description=command.summary, add_help=False)
    parser.add_argument("-h", action="help", help="show this help and exit")
    parser.add_argument("--help", action=ManPageAction, nargs=0, help="show the manual page")
    add_common_options(parser)
    module.add_arguments(parser)  # type: ignore[attr-defined]
    for action_parser in _action_parsers(parser):
        # after the action too (`git data step new … -q`); no default, so that a -q
        # given before the action is not reset by the action's parser
        add_common_options(action_parser, default=argparse.SUPPRESS)
    return parser, module


def _action_parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """The parsers of a command's actions (`step new`, `cache path`, …), each once."""
    found: dict[int, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found.setdefault(id(sub), sub)
    return list(found.values())


class ManPageAction(argparse.Action):
    """`--help` opens the man page on a terminal, as git does; prints usage otherwise."""

    def __call__(self, parser, namespace, values, option_string=None):  # type: ignore[no-untyped-def]
        from gitdata.resources import show_man_page

        page = "git-data-" + parser.prog.split()[-1]
        if not show_man_page(page):
            parser.print_help()
        parser.exit()


def _split_top(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """Options before the verb belong to `git data` (-q/-v are passed on to the verb);
    everything from the verb on belongs to the verb, so `git data add -h` is add's help."""
    own: list[str] = []
    levels: list[str] = []
    index = 0
    while index < len(argv) and argv[index].startswith("-") and argv[index] != "--":
        step = 2 if argv[index] == "-C" else 1
        (levels if argv[index] in ("-q", "--quiet", "-v", "--verbose") else own).extend(argv[index:index + step])
        index += step
    rest = list(argv[index:])
    return own, rest[:1] + levels + rest[1:]


def run(argv: Sequence[str]) -> int:
    own, rest = _split_top(argv)
    top, unknown = _top_parser().parse_known_args(own)
    if unknown:
        raise UsageError(f"unknown option '{unknown[0]}'; see 'git data --help'")
    if top.directory:
        try:
            os.chdir(top.directory)
        except OSError as exc:
            raise GitDataError(f"cannot change to '{top.directory}': {exc.strerror}") from None
    if top.version:
        from gitdata import __version__

        output.out(f"git-data {__version__}")
        return 0
    if top.help or not rest:
        output.out(top_help())
        return 0 if top.help else 2
    name = command_names().get(rest[0])
    if name is None:
        raise UsageError(f"'{rest[0]}' is not a git data command; see 'git data --help'")
    parser, module = command_parser(name)
    args = parser.parse_args(rest[1:])
    output.set_level(args.verbosity)
    return int(module.run(args))  # type: ignore[attr-defined]


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return run(sys.argv[1:] if argv is None else argv)
    except GitDataError as exc:
        output.error(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("git-data: interrupted\n")
        return 130
    except BrokenPipeError:
        sys.stderr.close()
        return 141
    except OSError as exc:
        if exc.errno not in _FULL + _DENIED:
            log = _write_crash_log(exc)
            output.error(f"internal error: {type(exc).__name__}: {exc} (details in {log})")
            return 1
        where = f": {exc.filename}" if exc.filename else ""
        hint = "; the disk or a quota is full: free some space and run the command again" if exc.errno in _FULL else ""
        output.error(f"{exc.strerror}{where}{hint}")
        return 1
    except Exception as exc:  # noqa: BLE001 - the last line of defence
        sqlite3 = sys.modules.get("sqlite3")
        if sqlite3 is not None and isinstance(exc, sqlite3.OperationalError) \
                and any(word in str(exc) for word in ("disk", "full", "readonly")):
            output.error(f"the stat cache cannot be written ({exc}); the disk or a quota may be full: "
                         "free some space and run the command again")
            return 1
        log = _write_crash_log(exc)
        output.error(f"internal error: {type(exc).__name__}: {exc} (details in {log})")
        return 1


_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
_DENIED = (errno.EROFS, errno.EACCES, errno.EPERM)


def _write_crash_log(exc: Exception) -> str:
    import tempfile
    import traceback

    try:
        fd, path = tempfile.mkstemp(prefix="git-data-crash-", suffix=".log")
        with os.fdopen(fd, "w") as handle:
            handle.write(f"argv: {sys.argv!r}\n")
            traceback.print_exception(type(exc), exc, exc.__traceback__, file=handle)
    except OSError as failure:  # a full disk must not turn into a traceback
        return f"no log: {failure.strerror}"
    return path


if __name__ == "__main__":
    sys.exit(main())
