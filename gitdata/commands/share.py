"""git data share: print a presigned URL for a tracked file in an S3 storage."""
from __future__ import annotations

import argparse
import re

from gitdata import output
from gitdata.errors import GitDataError, UsageError
from gitdata.paths import base_name
from gitdata.project import Project, open_project, relpaths
from gitdata.transfer import open_named_storage, send

MAX_SECONDS = 7 * 24 * 3600
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", metavar="PATH", help="a tracked file")
    parser.add_argument("-s", "--storage", metavar="NAME", help="an S3 storage (default: the default storage)")
    parser.add_argument("-d", "--duration", default="24h", metavar="DURATION",
                        help="how long the URL works: 90s, 30m, 24h (default), 7d (at most 7 days)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def parse_duration(text: str) -> int:
    match = re.fullmatch(r"\s*(\d+)\s*([smhdw]?)\s*", text.lower())
    if not match:
        raise UsageError(f"bad duration '{text}' (e.g. 90s, 30m, 24h, 7d)")
    seconds = int(match.group(1)) * _UNITS[match.group(2) or "s"]
    if not 1 <= seconds <= MAX_SECONDS:
        raise UsageError(f"duration '{text}' is out of range: S3 presigned URLs last 1 second to 7 days")
    return seconds


def share(project: Project, rel: str, storage_name: str | None, seconds: int) -> str:
    """A presigned GET URL for the file's current content; uploads it first if the storage lacks it."""
    entry = project.tracked().files.get(rel)
    if entry is None:
        raise GitDataError(f"'{rel}' is not a tracked file")
    storage = open_named_storage(project, storage_name)
    share_url = getattr(storage, "share_url", None)
    if share_url is None:
        raise GitDataError(f"storage '{storage.name}' is a {storage.describe()}; sharing needs an S3 storage")
    if not storage.exists([entry.digest]):
        if not project.cache.has(entry.digest):
            raise GitDataError(f"'{rel}' is in neither the cache nor storage '{storage.name}'")
        send(project, storage, [entry.digest])
    filename = re.sub(r'[^A-Za-z0-9._ -]', "_", base_name(rel))
    return str(share_url(entry.digest, seconds, filename))


def run(args: argparse.Namespace) -> int:
    seconds = parse_duration(args.duration)
    project = open_project()
    rels = relpaths(project, [args.path])
    if len(rels) != 1:
        raise UsageError("share takes exactly one file")
    url = share(project, rels[0], args.storage, seconds)
    if args.json:
        output.print_json({"path": rels[0], "url": url, "expires_in": seconds})
    else:
        output.out(url)
    return 0
