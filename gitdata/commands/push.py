"""git data push: upload the objects tracked paths reference that the storage lacks."""
from __future__ import annotations

import argparse
from typing import NamedTuple

from gitdata import output
from gitdata.errors import UsageError
from gitdata.project import Project, open_project, scopes_or_all, select
from gitdata.transfer import history_commits, history_entries, missing_in_storage, open_named_storage, send


def add_storage_arguments(parser: argparse.ArgumentParser, history: bool = True) -> None:
    parser.add_argument("paths", nargs="*", metavar="PATH", help="tracked files or directories (default: all)")
    parser.add_argument("-s", "--storage", metavar="NAME", help="the storage (default: the default storage)")
    if history:
        which = parser.add_mutually_exclusive_group()
        which.add_argument("-r", "--rev", metavar="REF", help="what is tracked at this commit, not the workspace")
        which.add_argument("--all-branches", action="store_true", help="what every branch tip tracks")
        which.add_argument("--all-commits", action="store_true", help="what every commit tracks (full history)")
    parser.add_argument("-j", "--jobs", type=int, metavar="N", help="parallel transfers (default: per storage kind)")
    parser.add_argument("-n", "--dry-run", action="store_true", help="list what would move; move nothing")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_storage_arguments(parser)


def selection(project: Project, paths: list[str], rev: str | None = None, all_branches: bool = False,
              all_commits: bool = False) -> dict[str, str]:
    """digest -> one tracked path that references it."""
    scopes = scopes_or_all(project, paths)
    found: dict[str, str] = {}
    if all_branches or all_commits:
        commits = history_commits(project, branches_only=not all_commits)
        for rel, digests in sorted(history_entries(project, commits, scopes).items()):
            for digest in digests:
                found.setdefault(digest, rel)
        return found
    if rev is None:
        tracked = project.tracked()
    else:
        from gitdata.git import gitdata_tree
        from gitdata.manifest import read_tree

        tracked = read_tree(project.repo, gitdata_tree(project.repo, rev))
    for rel, entry in sorted(select(tracked, scopes).items()):
        found.setdefault(entry.digest, rel)
    return found


def check_jobs(jobs: int | None) -> None:
    if jobs is not None and jobs < 1:
        raise UsageError("--jobs must be at least 1")


class Pushed(NamedTuple):
    storage: str
    sent: list[str]
    present: int


def push(project: Project, wanted: dict[str, str], storage_name: str | None = None, jobs: int | None = None,
         dry_run: bool = False) -> Pushed:
    storage = open_named_storage(project, storage_name)
    missing = missing_in_storage(storage, wanted)
    if not dry_run:
        send(project, storage, missing, jobs)
    return Pushed(storage.name, missing, len(wanted) - len(missing))


def run(args: argparse.Namespace) -> int:
    check_jobs(args.jobs)
    project = open_project()
    wanted = selection(project, args.paths, args.rev, args.all_branches, args.all_commits)
    result = push(project, wanted, args.storage, args.jobs, args.dry_run)
    if args.json:
        output.print_json({"storage": result.storage, "dry_run": args.dry_run, "already_present": result.present,
                           "objects": [{"digest": d, "path": wanted[d]} for d in result.sent]})
    elif args.dry_run:
        for digest in sorted(result.sent, key=wanted.__getitem__):
            output.out(f"{wanted[digest]}\t{digest}")
        output.info(f"would push {len(result.sent)} object(s) to '{result.storage}' "
                    f"({result.present} already there)")
    else:
        output.info(f"pushed {len(result.sent)} object(s) to '{result.storage}' ({result.present} already there)")
    return 0
