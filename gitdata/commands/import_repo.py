"""git data import: bring a tracked file or directory from another git-data repository,
with its provenance (repo, rev, commit), fetching the data from that repository's
cache (when local) or its default storage. `git data update` moves it to the newest rev."""
from __future__ import annotations

import argparse
import os

from gitdata import config, imports, output, source_repo
from gitdata.errors import GitDataError, UsageError
from gitdata.manifest import Entry
from gitdata.paths import base_name, is_under, join
from gitdata.project import Project, open_project, relpaths
from gitdata.track import METHODS, check_method, commit_if_asked


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # options may sit between the positionals (`import REPO PATH -r v1 DEST`), as users type them
    parser.parse_args = parser.parse_intermixed_args  # type: ignore[method-assign]
    parser.add_argument("repo", metavar="REPO", help="a path to a git-data repository or a git URL")
    parser.add_argument("path", metavar="PATH", help="a tracked file or directory in that repository")
    parser.add_argument("dest", nargs="?", metavar="DEST",
                        help="where to put it (default: its name in the current directory)")
    parser.add_argument("-r", "--rev", metavar="REV", help="branch, tag or commit to import from (default: HEAD)")
    parser.add_argument("--as", dest="method", metavar="METHOD", choices=METHODS,
                        help="copy (default), symlink, hardlink, reflink")
    parser.add_argument("-f", "--force", action="store_true",
                        help="replace existing files (their content is kept in the cache)")
    parser.add_argument("--commit", action="store_true", help="also commit the import")
    parser.add_argument("-m", "--message", help="commit message for --commit")


def run(args: argparse.Namespace) -> int:
    from gitdata.autocommit import check_options

    check_options(args)
    project = open_project()
    src = source_path(args.path)
    dest = relpaths(project, [args.dest or base_name(src)])[0]
    if args.dest and os.path.isdir(project.workdir / dest) and not (project.workdir / dest).is_symlink() \
            and not project.tracked().under(dest):
        dest = join(dest, base_name(src))
    if not dest:
        raise UsageError("git data import: DEST cannot be the repository root")
    staged = import_repo(project, args.repo, src, dest, args.rev, method=args.method, force=args.force)
    commit_if_asked(project, staged, args.commit, args.message, f"git data import {args.repo} {src}")
    return 0


def source_path(path: str) -> str:
    from gitdata.paths import check_relpath

    clean = path.strip("/")
    if clean in ("", "."):
        raise UsageError("git data import: name a tracked file or directory of the source repository")
    return check_relpath(clean, "source path")


def import_repo(project: Project, url: str, src: str, dest: str, rev: str | None, method: str | None = None,
                force: bool = False) -> list[str]:
    """Import (or re-import) `src` of repository `url` at `rev` to `dest`; returns what was staged."""
    check_method(method)
    with source_repo.open_source(url, rev) as source:
        files, is_dir = source_repo.select_files(source, src)
        tracked = project.tracked()
        targets = {join(dest, sub) if sub else dest: entry for sub, entry in files.items()}
        previous = {rel: e for rel, e in tracked.files.items()
                    if is_under(rel, dest) and e.get("repo") and e.get("dest") == dest}
        others = [rel for rel in tracked.under(dest) if rel not in previous and rel not in targets]
        if is_dir and others and not force:
            raise GitDataError(f"'{dest}' already holds tracked files that are not from this import "
                               f"(e.g. '{others[0]}'); choose another DEST")
        imports.check_not_in_git(project, targets)
        changes: dict[str, Entry | None] = {}
        fields = imports.provenance([("repo", source.url), ("rev", source.rev), ("commit", source.commit),
                                     ("src", src), ("dest", dest)])
        default_method = config.get(project.repo, "core.method", "copy") or "copy"
        for rel, entry in targets.items():
            old = tracked.files.get(rel)
            chosen = method or (old.method if old else default_method)
            new = Entry(entry.digest, entry.size, entry.executable, chosen, fields)
            if old != new:
                if not (old and old.digest == new.digest):
                    imports.check_target(project, rel, tracked, force)
                changes[rel] = new
        source_repo.into_cache(project, source, sorted({e.digest for e in changes.values() if e is not None}))
    for rel, placed in changes.items():
        if placed is not None:
            imports.place(project, rel, placed)
    for rel, entry in previous.items():
        if rel not in targets and imports.remove_if_safe(project, rel, entry, force):
            changes[rel] = None
    staged = imports.record_imports(project, changes, whole_dirs=[dest] if is_dir else [])
    fresh = sum(1 for rel, e in changes.items()
                if e is not None and (rel not in tracked.files or tracked.files[rel].digest != e.digest))
    dropped = sum(1 for e in changes.values() if e is None)
    kind = "directory" if is_dir else "file"
    output.info(f"imported {kind} {src} from {source.url} at {source.rev} ({source.commit[:10]}) as {dest}: "
                f"{fresh} file(s) with new content, {dropped} removed")
    return staged
