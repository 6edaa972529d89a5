"""git data get-url: download a file from a URL without tracking it."""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from gitdata import download, output
from gitdata.errors import GitDataError
from gitdata.fsutil import temp_name


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # options may sit between the positionals (`import REPO PATH -r v1 DEST`), as users type them
    parser.parse_args = parser.parse_intermixed_args  # type: ignore[method-assign]
    parser.add_argument("url", metavar="URL", help="http, https or file URL")
    parser.add_argument("path", nargs="?", metavar="PATH",
                        help="where to save it (default: the URL's file name; a directory: inside it)")
    parser.add_argument("-A", "--user-agent", metavar="AGENT", help="User-Agent header to send")
    parser.add_argument("-f", "--force", action="store_true", help="overwrite an existing file")


def run(args: argparse.Namespace) -> int:
    get_url(args.url, args.path, agent=args.user_agent, force=args.force)
    return 0


def get_url(url: str, path: str | None, agent: str | None = None, force: bool = False) -> Path:
    download.check_url(url)
    target = Path(path) if path else Path(download.file_name(url))
    if target.is_dir():
        target = target / download.file_name(url)
    if os.path.lexists(target) and not force:
        raise GitDataError(f"'{target}' already exists; use --force to overwrite it")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(target)
    try:
        fetched = download.fetch(url, tmp, "sha256", agent)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    output.info(f"saved {url} as {target} ({output.human_size(fetched.size)}, {fetched.digest})")
    return target
