"""git data cache path|digest: where a tracked file's content lives, and its digest."""
from __future__ import annotations

import argparse

from gitdata import history, output
from gitdata.errors import UsageError
from gitdata.project import open_project, relpaths


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    for action, summary in (("path", "print the cache object path of tracked files"),
                            ("digest", "print the recorded digest of tracked files"),
                            ("dir", "print the cache directory")):
        sp = sub.add_parser(action, help=summary, description=summary, add_help=False)
        sp.add_argument("-h", "--help", action="help", help="show this help and exit")
        if action != "dir":
            sp.add_argument("paths", nargs="+", metavar="PATH")
            sp.add_argument("-r", "--rev", metavar="REF", help="read the manifests at this commit")
        sp.add_argument("--json", action="store_true", help="machine-readable output")


def run(args: argparse.Namespace) -> int:
    if not args.action:
        raise UsageError("git data cache: choose an action: path, digest or dir")
    project = open_project()
    if args.action == "dir":
        if args.json:
            output.print_json({"dir": str(project.cache.root)})
        else:
            output.out(str(project.cache.root))
        return 0
    result = {}
    for rel in relpaths(project, args.paths):
        entry = history.entry_at(project, rel, args.rev)
        result[rel] = {"digest": entry.digest, "size": entry.size, "path": str(project.cache.path(entry.digest)),
                       "cached": project.cache.has(entry.digest)}
    if args.json:
        output.print_json(result)
        return 0
    for rel, item in result.items():
        value = item["path"] if args.action == "path" else item["digest"]
        output.out(f"{value}\t{rel}" if len(result) > 1 else str(value))
    return 0
