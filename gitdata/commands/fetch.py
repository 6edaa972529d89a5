"""git data fetch: download tracked objects the cache lacks, verified, into the cache only."""
from __future__ import annotations

import argparse
from typing import NamedTuple

from gitdata import output
from gitdata.commands.push import add_storage_arguments, check_jobs, selection
from gitdata.errors import GitDataError
from gitdata.project import Project, open_project
from gitdata.transfer import default_storage_name, download_with, open_named_storage


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_storage_arguments(parser)


class Fetched(NamedTuple):
    storage: str
    wanted: list[str]        # not in the cache before
    unavailable: list[str]   # in neither the cache nor the storage


def fetch(project: Project, wanted: dict[str, str], storage_name: str | None = None, jobs: int | None = None,
          dry_run: bool = False) -> Fetched:
    need = sorted(project.cache.missing(wanted))
    if not need:
        return Fetched(storage_name or default_storage_name(project) or "", [], [])
    storage = open_named_storage(project, storage_name)
    if dry_run:
        present = storage.exists(need)
        return Fetched(storage.name, [d for d in need if d in present], [d for d in need if d not in present])
    try:
        unavailable = download_with(project, storage, need, jobs)
    except GitDataError as exc:   # name the file whose object failed, not only its digest
        paths = [wanted[digest] for digest in need if digest in str(exc)]
        raise GitDataError(f"{paths[0]}: {exc}" if paths else str(exc)) from None
    return Fetched(storage.name, need, unavailable)


def report(result: Fetched, wanted: dict[str, str], dry_run: bool, as_json: bool) -> None:
    """Say what moved; an error when some objects are nowhere to be found."""
    moved = [d for d in result.wanted if d not in set(result.unavailable)]
    if as_json:
        output.print_json({"storage": result.storage, "dry_run": dry_run,
                           "objects": [{"digest": d, "path": wanted[d]} for d in moved],
                           "unavailable": [{"digest": d, "path": wanted[d]} for d in result.unavailable]})
    elif dry_run:
        for digest in sorted(moved, key=wanted.__getitem__):
            output.out(f"{wanted[digest]}\t{digest}")
        output.info(f"would fetch {len(moved)} object(s)" + (f" from '{result.storage}'" if result.storage else ""))
    elif moved:
        output.info(f"fetched {len(moved)} object(s) from '{result.storage}'")
    else:
        output.info("nothing to fetch: the cache has everything")
    for digest in result.unavailable:
        output.warn(f"{wanted[digest]}: object {digest} is not in storage '{result.storage}'")
    if result.unavailable and not dry_run:
        raise GitDataError(f"{len(result.unavailable)} object(s) are not in storage '{result.storage}'")


def run(args: argparse.Namespace) -> int:
    check_jobs(args.jobs)
    project = open_project()
    wanted = selection(project, args.paths, args.rev, args.all_branches, args.all_commits)
    result = fetch(project, wanted, args.storage, args.jobs, args.dry_run)
    report(result, wanted, args.dry_run, args.json)
    return 0
