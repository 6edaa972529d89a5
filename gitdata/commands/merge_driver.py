"""git data merge-driver BASE OURS THEIRS PATH: run by git as the `gitdata` merge driver
(`.gitdata/** merge=gitdata`). Writes the result over OURS; exit 1 leaves the path
conflicted. A conflicted manifest still parses: it holds our entry, and the
conflict is recorded for `git data status` and `git data resolve`."""
from __future__ import annotations

import argparse
import shlex
from pathlib import Path
from typing import TYPE_CHECKING

from gitdata import manifest, merge, output
from gitdata.errors import GitDataError
from gitdata.fsutil import atomic_write

if TYPE_CHECKING:
    from gitdata.git import GitRepo


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("base", help="the common ancestor's version (%%O)")
    parser.add_argument("ours", help="our version; the result is written here (%%A)")
    parser.add_argument("theirs", help="their version (%%B)")
    parser.add_argument("path", help="the path in the repository (%%P)")


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        return b""


def run(args: argparse.Namespace) -> int:
    from gitdata.git import find_repo

    base, ours, theirs = _read(args.base), _read(args.ours), _read(args.theirs)
    try:
        repo: GitRepo | None = find_repo()
    except GitDataError:
        repo = None  # merged outside a worktree: merge all the same, without a record
    labels = merge.side_labels(repo) if repo is not None else ("ours", "theirs")
    if args.path.startswith(manifest.TREE_DIR + "/") and args.path.endswith("/" + manifest.MANIFEST_NAME):
        return merge_manifest_file(repo, args, base, ours, theirs, labels)
    keyed = (("pipeline step", merge.merge_step_file) if merge.STEP_FILE.match(args.path)
             else ("settings", merge.merge_config) if args.path == ".gitdata/config" else None)
    if keyed is not None:
        what, merge_keys = keyed
        text, keys = merge_keys(base, ours, theirs, ("base", *labels))
        atomic_write(Path(args.ours), text)
        if keys:
            output.info(f"git-data: CONFLICT ({what}): {args.path}: '{', '.join(keys)}' changed on both sides; "
                        "edit the file, then 'git add' it")
            return 1
        return 0
    if args.path == ".gitignore" or args.path.endswith("/.gitignore"):
        merged = merge.merge_ignore_lines(base, ours, theirs)
        if merged is not None:
            atomic_write(Path(args.ours), merged)
            return 0
    text, clean = merge.line_merge(base, ours, theirs, ("base", *labels))
    atomic_write(Path(args.ours), text)
    return 0 if clean else 1


def merge_manifest_file(repo: GitRepo | None, args: argparse.Namespace, base: bytes, ours: bytes, theirs: bytes,
                        labels: tuple[str, str]) -> int:
    try:
        merged, conflicts = merge.merge_manifests(base, ours, theirs, args.path)
    except GitDataError as exc:
        output.error(f"{exc}; leaving {args.path} to git's line merge")
        text, clean = merge.line_merge(base, ours, theirs, ("base", *labels))
        atomic_write(Path(args.ours), text)
        return 0 if clean else 1
    atomic_write(Path(args.ours), merged)
    if repo is not None:
        merge.write_record(repo, args.path, conflicts, labels)
    if not conflicts:
        return 0
    directory = manifest.directory_of(args.path[len(manifest.TREE_DIR) + 1:])
    for conflict in conflicts:
        rel = f"{directory}/{conflict.name}" if directory else conflict.name
        output.info(f"git-data: CONFLICT (data): {rel}: {merge.short(conflict.ours)} on {labels[0]}, "
                     f"{merge.short(conflict.theirs)} on {labels[1]}; the workspace keeps {labels[0]}'s. "
                     f"Settle it with 'git data resolve --ours|--theirs|--both {shlex.quote(rel)}'")
    return 1
