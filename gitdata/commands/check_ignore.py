"""git data check-ignore: which paths `.gitdataignore` makes `git data add` skip.
Exit 0 when at least one path is ignored, 1 when none is, 128 when nothing could be
checked (no repository), like git check-ignore. Each path is checked on its own: one
outside the repository is a warning, and the others are still reported."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Iterable, NamedTuple

from gitdata import output
from gitdata.errors import GitDataError
from gitdata.git import find_repo
from gitdata.ignore import IgnoreRules
from gitdata.paths import parent_dir, worktree_relpath


class Match(NamedTuple):
    path: str                    # as the user gave it
    rel: str | None              # repo-relative; None when the path is not in the worktree
    source: str | None           # '<file>:<line>:<pattern>', '(built-in)', or None when not ignored
    problem: str | None = None   # why the path could not be checked


class Fatal(GitDataError):
    """No path could be checked: exit 128, which git check-ignore gives too, so that it
    never reads as 1 (no path ignored)."""

    exit_code = 128


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", metavar="PATH", help="paths to check (read from stdin when none)")
    parser.add_argument("--stdin", action="store_true", help="read paths from standard input, one per line")
    parser.add_argument("-z", action="store_true", dest="nul", help="paths on stdin and output are NUL-separated")
    parser.add_argument("--show-pattern", action="store_true",
                        help="show the pattern that matched each path (also -v)")
    parser.add_argument("-n", "--non-matching", action="store_true",
                        help="with -v, also show paths that are not ignored")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def run(args: argparse.Namespace) -> int:
    paths = list(args.paths)
    if args.stdin or not paths:
        data = sys.stdin.read()
        paths += [p for p in (data.split("\0") if args.nul else data.splitlines()) if p]
    try:
        matches = check_ignore(paths)
    except GitDataError as exc:
        raise Fatal(str(exc)) from exc
    end = "\0" if args.nul else "\n"
    show_pattern = args.show_pattern or args.verbosity == output.VERBOSE
    if args.json:
        output.print_json([{"path": m.path, "ignored": m.source is not None, "pattern": m.source,
                            **({"error": m.problem} if m.problem else {})} for m in matches])
    else:
        for match in matches:
            if match.problem:
                output.warn(match.problem)
            elif show_pattern and (match.source or args.non_matching):
                sys.stdout.write(f"{match.source or '::'}\t{match.path}{end}")
            elif match.source:
                sys.stdout.write(match.path + end)
    return 0 if any(m.source for m in matches) else 1


def check_ignore(paths: Iterable[str], start: str | os.PathLike[str] | None = None) -> list[Match]:
    repo = find_repo(start)
    rules = IgnoreRules(repo.workdir)
    cwd = Path(start).absolute() if start else None
    results = []
    for path in paths:
        try:
            rel = worktree_relpath(repo.workdir, path, cwd)
        except GitDataError as exc:
            results.append(Match(path, None, None, str(exc)))
            continue
        results.append(Match(path, rel, reason(rules, repo.workdir, rel)))
    return results


def reason(rules: IgnoreRules, workdir: Path, rel: str) -> str | None:
    """Why `add` would skip `rel`: a pattern on it or on a directory above it
    (an ignored directory is never entered, so nothing below it can be re-included)."""
    if not rel:
        return None
    ancestors = []
    directory = parent_dir(rel)
    while directory:
        ancestors.append(directory)
        directory = parent_dir(directory)
    for directory in reversed(ancestors):
        if rules.ignored(directory, is_dir=True):
            return rules.reason(directory, is_dir=True)
    is_dir = (workdir / rel).is_dir() and not (workdir / rel).is_symlink()
    if rules.ignored(rel, is_dir=is_dir):
        return rules.reason(rel, is_dir=is_dir)
    return None
