"""git data commit (carry-in): record changed tracked files and carry them into the cache."""
from __future__ import annotations

import argparse
import os

from gitdata import config, output
from gitdata.manifest import Entry
from gitdata.errors import GitDataError
from gitdata.paths import ensure_inside, is_under, parent_dir
from gitdata.project import Project, open_project, scopes_or_all, select
from gitdata.track import cache_files, commit_if_asked, record
from gitdata.workspace import compare


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", metavar="PATH")
    from gitdata.autocommit import add_options

    add_options(parser)


def run(args: argparse.Namespace) -> int:
    from gitdata.autocommit import run_with

    project = open_project()
    scopes = scopes_or_all(project, args.paths)
    run_with(project, args, lambda commit_it: commit(project, scopes, commit=commit_it, message=args.message),
             "git data commit")
    return 0


def commit(project: Project, scopes: list[str], commit: bool = False, message: str | None = None) -> list[str]:
    """Carry modified, new (under whole directories) and not-yet-cached files in;
    untrack files deleted from whole directories. Returns the paths staged."""
    tracked = project.tracked()
    selected = select(tracked, scopes, new_files=project.workdir)
    status = compare(project.repo, tracked, selected, project.cache, project.stat_cache(), scopes)
    algorithm = config.hash_algorithm(project.repo)
    default_method = config.get(project.repo, "core.method", "copy") or "copy"
    now_dirs = [rel for rel in status.modified if _is_directory(project, rel)]
    to_cache = [rel for rel in status.modified if rel not in now_dirs] + status.untracked + status.not_in_cache
    refuse_escapes(project, to_cache)
    recorded = cache_files(project, to_cache, tracked, algorithm, None, default_method)
    changes: dict[str, Entry | None] = dict(recorded.changes)
    for rel in now_dirs:
        if any(is_under(rel, d) for d in tracked.whole_dirs):
            changes[rel] = None   # its files are new files of the whole directory, recorded above
        else:
            output.warn(f"{rel} is a directory now, where a file is tracked; 'git data add {rel}' tracks "
                        "the directory instead, 'git data rm' stops tracking the file")
    for rel in status.missing:
        if any(is_under(rel, d) for d in tracked.whole_dirs):
            changes[rel] = None
        else:
            output.warn(f"{rel} is missing; 'git data rm' stops tracking it, 'git data checkout' restores it")
    staged = record(project, changes)
    output.info(f"recorded {len(changes)} change(s)")
    commit_if_asked(project, staged, commit, message, "git data commit")
    return staged


def _is_directory(project: Project, rel: str) -> bool:
    path = project.workdir / rel
    return path.is_dir() and not path.is_symlink()


def refuse_escapes(project: Project, rels: list[str]) -> None:
    """Manifest paths come from commits that may be hostile: never read a file through a
    symlinked directory, or a symlink, that leads out of the worktree (its bytes would
    enter the cache, and the next push would upload them)."""
    inside = (f"{project.workdir}{os.sep}", f"{project.cache.root}{os.sep}")
    checked: set[str] = set()
    for rel in rels:
        directory = parent_dir(rel)
        if directory not in checked:
            ensure_inside(project.workdir, rel)
            checked.add(directory)
        path = project.workdir / rel
        if path.is_symlink() and not os.path.realpath(path).startswith(inside):
            raise GitDataError(f"refusing '{rel}': it is a symlink leading outside the repository")
