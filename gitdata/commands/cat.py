"""git data cat: stream a tracked file's content at any ref, without checking it out."""
from __future__ import annotations

import argparse
import shutil
import sys

from gitdata import history
from gitdata.project import Project, open_project, relpaths


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", metavar="PATH", help="a tracked file (also inside a tracked directory)")
    parser.add_argument("-r", "--rev", metavar="REF",
                        help="the commit to read it at (default: the workspace manifests)")
    parser.add_argument("--no-fetch", action="store_true",
                        help="fail instead of fetching a missing object from the default storage")


def run(args: argparse.Namespace) -> int:
    project = open_project()
    rel = relpaths(project, [args.path])[0]
    cat(project, rel, args.rev, fetch=not args.no_fetch)
    return 0


def cat(project: Project, rel: str, rev: str | None, fetch: bool = True) -> None:
    entry = history.entry_at(project, rel, rev)
    history.require_in_cache(project, [entry.digest], fetch, {entry.digest: rel})
    sys.stdout.flush()
    with open(project.cache.path(entry.digest), "rb") as source:
        shutil.copyfileobj(source, sys.stdout.buffer, 1 << 20)
    sys.stdout.buffer.flush()
