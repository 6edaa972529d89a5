"""git data checkout (recheck): bring workspace files to what the manifests say."""
from __future__ import annotations

import argparse

from gitdata import output
from gitdata.errors import GitDataError
from gitdata.project import Project, open_project, scopes_or_all, select
from gitdata.track import METHODS, check_method, record
from gitdata.workspace import BLOCKED, RecheckResult, recheck


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", metavar="PATH")
    parser.add_argument("--as", dest="method", metavar="METHOD", choices=METHODS,
                        help="switch the files to this method: copy, symlink, hardlink, reflink")
    parser.add_argument("-f", "--force", action="store_true",
                        help="replace modified files too (their content is kept in the cache)")


def run(args: argparse.Namespace) -> int:
    project = open_project()
    result = checkout(project, scopes_or_all(project, args.paths), method=args.method, force=args.force)
    report(result)
    return 0


def checkout(project: Project, scopes: list[str], method: str | None = None, force: bool = False) -> RecheckResult:
    check_method(method)
    tracked = project.tracked()
    files = select(tracked, scopes)
    result = recheck(project.repo, files, project.cache, project.stat_cache(), force=force, method=method)
    if method:
        changes = {rel: entry._replace(method=method) for rel, entry in files.items()
                   if entry.method != method
                   and rel not in result.kept + result.unavailable + result.blocked + result.damaged}
        record(project, dict(changes))
    return result


def report(result: RecheckResult) -> None:
    """Say what happened; an error when anything could not be brought back."""
    if result.restored:
        output.info(f"restored {len(result.restored)} file(s)")
    for rel in result.unavailable:
        output.warn(f"{rel}: content not in the cache (fetch it with 'git data fetch')")
    for rel in result.kept:
        output.warn(f"{rel}: modified, and its content is not in the cache; kept")
    for rel in result.blocked:
        output.warn(f"{rel}: {BLOCKED}")
    if result.kept:
        raise GitDataError(f"{len(result.kept)} modified file(s) kept; 'git data commit' records them, "
                           "'git data checkout --force' replaces them (their content stays in the cache)")
    if result.blocked:
        raise GitDataError(f"{len(result.blocked)} file(s) not restored: a directory stands where each goes")
    if result.unavailable:
        raise GitDataError(f"{len(result.unavailable)} file(s) could not be restored: not in the cache")
    if result.damaged:
        raise GitDataError(f"{len(result.damaged)} file(s) could not be restored: their cache objects are damaged")
