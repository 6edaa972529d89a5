"""git data status: tracked data that needs attention, grouped like git status."""
from __future__ import annotations

import argparse

from gitdata import output
from gitdata.project import open_project, scopes_or_all, select
from gitdata.workspace import Status, compare

GROUPS = (
    ("modified", "Modified (use 'git data commit' to record, 'git data checkout' to discard)", "red"),
    ("missing", "Missing (use 'git data checkout' to restore)", "red"),
    ("not_in_cache", "Not in cache (use 'git data commit' to carry in)", "yellow"),
    ("untracked", "Untracked files in tracked directories (use 'git data add')", "red"),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", metavar="PATH")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def run(args: argparse.Namespace) -> int:
    project = open_project()
    scopes = scopes_or_all(project, args.paths)
    tracked = project.tracked()
    status = compare(project.repo, tracked, select(tracked, scopes), project.cache, project.stat_cache(), scopes)
    if args.json:
        output.print_json({name: getattr(status, name) for name, _, _ in GROUPS})
    else:
        show(status, len(tracked.files))
    return 0


def show(status: Status, total: int) -> None:
    shown = False
    for name, title, colour in GROUPS:
        paths = getattr(status, name)
        if not paths:
            continue
        if shown:
            output.out()
        output.out(f"{title}:")
        for path in paths:
            output.out("\t" + output.color(path, colour))
        shown = True
    if not shown:
        output.out(f"Nothing to report: {total} tracked file(s) match their manifests.")
