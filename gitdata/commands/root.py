"""git data root: the path from here to the repository root."""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from gitdata import output
from gitdata.git import find_repo


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--absolute", action="store_true", help="print the absolute path")


def run(args: argparse.Namespace) -> int:
    output.out(str(root(absolute=args.absolute)))
    return 0


def root(start: str | os.PathLike[str] | None = None, absolute: bool = False) -> Path:
    """The worktree root: relative to `start` (default: the current directory) unless `absolute`."""
    workdir = find_repo(start).workdir
    if absolute:
        return workdir
    here = Path(start or os.getcwd()).resolve()
    return Path(os.path.relpath(workdir, here))
