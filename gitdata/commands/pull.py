"""git data pull: fetch what the tracked paths need, then check them out."""
from __future__ import annotations

import argparse

from gitdata import output
from gitdata.commands.checkout import checkout, report as report_checkout
from gitdata.commands.fetch import fetch, report
from gitdata.commands.push import add_storage_arguments, check_jobs, selection
from gitdata.errors import GitDataError
from gitdata.project import open_project, scopes_or_all


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_storage_arguments(parser, history=False)
    parser.add_argument("-f", "--force", action="store_true",
                        help="replace modified files too (their content is kept in the cache)")


def run(args: argparse.Namespace) -> int:
    check_jobs(args.jobs)
    project = open_project()
    wanted = selection(project, args.paths)
    if args.dry_run:
        report(fetch(project, wanted, args.storage, args.jobs, True), wanted, True, args.json)
        return 0
    fetch_error = None
    try:
        report(fetch(project, wanted, args.storage, args.jobs), wanted, False, args.json)
    except GitDataError as exc:   # objects missing from the storage, or one that failed
        fetch_error = exc
    # Check out whatever arrived, even when some objects could not be fetched.
    outcome = checkout(project, scopes_or_all(project, args.paths), force=args.force)
    if fetch_error is not None:
        for rel in outcome.restored:
            output.verbose(f"restored {rel}")
        raise fetch_error
    report_checkout(outcome)
    return 0
