"""git data get: download a tracked file or directory from another git-data repository
without tracking it (no repository needed here)."""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from gitdata import output, source_repo
from gitdata.commands.import_repo import source_path
from gitdata.errors import GitDataError
from gitdata.fsutil import temp_name
from gitdata.paths import base_name


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # options may sit between the positionals (`import REPO PATH -r v1 DEST`), as users type them
    parser.parse_args = parser.parse_intermixed_args  # type: ignore[method-assign]
    parser.add_argument("repo", metavar="REPO", help="a path to a git-data repository or a git URL")
    parser.add_argument("path", metavar="PATH", help="a tracked file or directory in that repository")
    parser.add_argument("-o", "--out", metavar="DEST", help="where to save it (default: its name here)")
    parser.add_argument("-r", "--rev", metavar="REV", help="branch, tag or commit (default: HEAD)")
    parser.add_argument("-f", "--force", action="store_true", help="overwrite existing files")


def run(args: argparse.Namespace) -> int:
    src = source_path(args.path)
    get(args.repo, src, Path(args.out or base_name(src)), args.rev, force=args.force)
    return 0


def get(url: str, src: str, dest: Path, rev: str | None, force: bool = False) -> list[Path]:
    with source_repo.open_source(url, rev) as source:
        files, is_dir = source_repo.select_files(source, src)
        if not is_dir and dest.is_dir():
            dest = dest / base_name(src)
        targets = {dest / sub if sub else dest: entry for sub, entry in files.items()}
        existing = [t for t in targets if os.path.lexists(t)]
        if existing and not force:
            raise GitDataError(f"'{existing[0]}' already exists; use --force to overwrite")
        by_digest: dict[str, list[Path]] = {}
        for target, entry in targets.items():
            by_digest.setdefault(entry.digest, []).append(target)

        def deliver(digest: str, tmp: Path) -> None:
            paths = by_digest[digest]
            for target in paths[1:]:
                copy = temp_name(target)
                target.parent.mkdir(parents=True, exist_ok=True)
                import shutil

                shutil.copyfile(tmp, copy)
                source_repo.verified_move(digest, copy, target)
            source_repo.verified_move(digest, tmp, paths[0])

        def new_temp() -> Path:
            dest.parent.mkdir(parents=True, exist_ok=True) if not is_dir else dest.mkdir(parents=True, exist_ok=True)
            return temp_name(dest / ".get" if is_dir else dest)

        source_repo.fetch_objects(source, list(by_digest), new_temp, deliver)
        for target, entry in targets.items():
            if entry.executable:
                os.chmod(target, os.stat(target).st_mode | 0o111)
    output.info(f"saved {len(targets)} file(s) of {src} from {source.url} at {source.rev} to {dest}")
    return list(targets)
