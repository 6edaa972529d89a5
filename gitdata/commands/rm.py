"""git data rm (untrack, remove): stop tracking paths, or delete their objects from
the cache or a storage.

Plain `rm PATH` untracks: the workspace file stays as an ordinary file; its
manifest entry and .gitignore line go. `--from-cache` / `--from-storage NAME`
delete objects instead (the current version, `--all-versions` found in history,
or `--only-version PREFIX`), never one another tracked path still uses, and
never the last copy of some content, unless `--force`."""
from __future__ import annotations

import argparse
import os
from pathlib import Path, PurePosixPath
from typing import NamedTuple

from gitdata import output
from gitdata.errors import GitDataError, UsageError
from gitdata.fsutil import make_writable, materialise
from gitdata.paths import is_under
from gitdata.storage import Storage
from gitdata.project import Project, open_project, scopes_or_all, select, under_any
from gitdata.track import record


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH")
    parser.add_argument("--from-cache", action="store_true", help="delete the objects from the local cache")
    parser.add_argument("--from-storage", metavar="NAME", help="delete the objects from this storage")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--all-versions", action="store_true", help="every version found in the git history")
    which.add_argument("--only-version", metavar="DIGEST-PREFIX", help="only the version whose digest starts so")
    parser.add_argument("--restore-versions", metavar="DIR",
                        help="first write every cached version of the paths into DIR")
    parser.add_argument("-f", "--force", action="store_true",
                        help="delete objects other tracked paths use, or that exist nowhere else")
    parser.add_argument("-n", "--dry-run", action="store_true", help="say what would happen; change nothing")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


class Version(NamedTuple):
    path: str
    digest: str


# -- which versions ----------------------------------------------------------

def versions(project: Project, scopes: list[str], all_versions: bool, only: str | None) -> list[Version]:
    """(path, digest) pairs the command is about: the current versions, or those in history."""
    tracked = project.tracked()
    current = {rel: e.digest for rel, e in tracked.files.items() if under_any(rel, scopes)}
    if not all_versions and only is None:
        select(tracked, scopes)
        return sorted(Version(rel, d) for rel, d in current.items())
    found = history_versions(project, scopes)
    for rel, digest in current.items():
        found.setdefault(rel, set()).add(digest)
    for scope in scopes:
        if scope and not any(is_under(rel, scope) for rel in found):
            raise GitDataError(f"'{scope}' is not tracked by git-data in any commit")
    pairs = sorted(Version(rel, d) for rel, digests in found.items() for d in digests)
    if only is None:
        return pairs
    prefix = only if ":" in only else None
    matches = [v for v in pairs if (v.digest.startswith(only) if prefix else v.digest.split(":", 1)[1].startswith(only))]
    if not only or not matches:
        raise GitDataError(f"no version of the given paths has a digest starting with '{only}'")
    if len({v.digest for v in matches}) > 1:
        raise GitDataError(f"digest prefix '{only}' is ambiguous; give more digits")
    return matches


def history_versions(project: Project, scopes: list[str]) -> dict[str, set[str]]:
    from gitdata.transfer import history_commits, history_entries

    if project.repo.raw.head_is_unborn and not list(project.repo.raw.references):
        return {}
    return history_entries(project, history_commits(project, branches_only=False), scopes)


def used_elsewhere(project: Project, scopes: list[str], digests: set[str]) -> dict[str, str]:
    """digest -> a tracked path outside the scopes that uses it (workspace or HEAD)."""
    from gitdata.git import head_commit, subtree
    from gitdata.manifest import read_tree

    users: dict[str, str] = {}
    sources = [project.tracked().files]
    head = head_commit(project.repo)
    if head is not None:
        sources.append(read_tree(project.repo, subtree(head.tree, ".gitdata")).files)
    for files in sources:
        for rel, entry in files.items():
            if entry.digest in digests and not under_any(rel, scopes):
                users.setdefault(entry.digest, rel)
    return users


# -- actions -----------------------------------------------------------------

NAME_MAX = 255   # bytes in one file name, on every common file system


def version_name(rel: str, digest: str) -> str:
    """Where a version goes under --restore-versions: data/a.csv -> data/a.<12 hex>.csv.
    A name that would grow past NAME_MAX loses the end of its stem (the digest part
    still tells the versions apart), and its extension too when that alone is too long."""
    path = PurePosixPath(rel)
    short = digest.split(":", 1)[1][:12]
    stem, tail = (path.stem, f".{short}{path.suffix}") if path.stem else (path.name, f".{short}")
    if len(os.fsencode(tail)) >= NAME_MAX:
        stem, tail = path.name, f".{short}"
    while len(os.fsencode(stem + tail)) > NAME_MAX:
        stem = stem[:-1]
    return str(path.with_name(stem + tail))


def restore_versions(project: Project, pairs: list[Version], target: Path, dry_run: bool) -> list[str]:
    """Write every cached version into `target`; returns the files written."""
    written = []
    for rel, digest in pairs:
        if not project.cache.has(digest):
            output.warn(f"{rel}: version {digest} is not in the cache (fetch it with 'git data fetch --all-commits')")
            continue
        dest = target / version_name(rel, digest)
        if not dest.exists():
            if not dry_run:
                try:
                    materialise(project.cache.path(digest), dest, "copy", False)
                except OSError as exc:
                    raise GitDataError(f"cannot write version {digest} of '{rel}' to '{dest}': {exc.strerror}; "
                                       "nothing was untracked") from exc
            written.append(str(dest))
    return written


def untrack(project: Project, scopes: list[str], dry_run: bool) -> list[str]:
    """Stop tracking; workspace files become ordinary files. Returns the paths untracked."""
    tracked = project.tracked()
    files = select(tracked, scopes)
    whole = sorted(d for d in tracked.whole_dirs if under_any(d, scopes))
    if dry_run:
        return sorted(files)
    for rel in files:
        path = project.workdir / rel
        if path.is_symlink() and not path.exists():
            continue
        if os.path.lexists(path) and path.is_file():
            make_writable(path)
    for rel in files:
        outer = [d for d in tracked.whole_dirs if is_under(rel, d) and d != rel and d not in whole]
        if outer:
            output.warn(f"{rel}: still ignored by git, as part of the tracked directory '{outer[0]}'")
    record(project, {rel: None for rel in files}, whole_remove=whole, unignore=[*files, *whole])
    return sorted(files)


class _Workspace:
    """Whether workspace files hold given versions, reading the manifests once."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.files = project.tracked().files
        self.stats = project.stat_cache()

    def holds(self, pair: Version, convert: bool = True) -> bool:
        """True when the workspace file holds this content (as its own copy, once `convert`ed)."""
        from gitdata.workspace import CLEAN, file_state

        entry = self.files.get(pair.path)
        if entry is None or entry.digest != pair.digest:
            return False
        project = self.project
        if file_state(project.repo, pair.path, entry, project.cache, self.stats) != CLEAN:
            return False
        if convert:
            make_writable(project.workdir / pair.path)
        return True

    def any_holds(self, pairs: list[Version], convert: bool = True) -> bool:
        return any(self.holds(p, convert) for p in pairs)


def delete_objects(project: Project, pairs: list[Version], scopes: list[str], storage_name: str | None,
                   from_cache: bool, force: bool, dry_run: bool) -> dict[str, list[str]]:
    """Delete the versions' objects where asked; returns {"cache": [...], "storage": [...]} digests."""
    from gitdata.transfer import open_named_storage

    digests = {p.digest for p in pairs}
    paths_of = {p.digest: p.path for p in pairs}
    pairs_of: dict[str, list[Version]] = {}
    for pair in pairs:
        pairs_of.setdefault(pair.digest, []).append(pair)
    if not force:
        users = used_elsewhere(project, scopes, digests)
        if users:
            shown = ", ".join(f"{paths_of[d]} (also used by {rel})" for d, rel in sorted(users.items())[:3])
            raise GitDataError(f"{len(users)} object(s) are still used by other tracked paths: {shown}; "
                               "use --force to delete them anyway")
    storage = open_named_storage(project, storage_name) if storage_name else None
    in_storage = storage.exists(sorted(digests)) if storage else set()
    done: dict[str, list[str]] = {"cache": [], "storage": []}
    in_cache = {d for d in digests if project.cache.has(d)}
    workspace = _Workspace(project)
    if storage is not None and not force:
        # Checked before anything is deleted: with --from-cache too, the cache copy goes as well.
        unsafe = [d for d in sorted(in_storage) if (d not in in_cache or from_cache)
                  and not workspace.any_holds(pairs_of[d], convert=False)]
        if unsafe:
            raise GitDataError(f"{len(unsafe)} object(s) would exist nowhere else once deleted from storage "
                               f"'{storage.name}', e.g. {paths_of[unsafe[0]]} ({unsafe[0]}); "
                               "keep a copy (fetch them, or do not combine with --from-cache), or use --force")
    if from_cache:
        victims = sorted(in_cache)
        if not force and victims:
            elsewhere = _storage_copies(project, victims, storage, in_storage)
            unsafe = [d for d in victims if d not in elsewhere]
            unsafe = [d for d in unsafe if not workspace.any_holds(pairs_of[d], convert=not dry_run)]
            if unsafe:
                raise GitDataError(f"{len(unsafe)} object(s) exist only in the cache, e.g. {paths_of[unsafe[0]]} "
                                   f"({unsafe[0]}); push them first, or use --force to lose them")
        if not dry_run:
            chosen = set(victims)
            for pair in pairs:
                if pair.digest in chosen:
                    workspace.holds(pair)
            for digest in victims:
                project.cache.remove(digest)
        done["cache"] = victims
    if storage is not None:
        victims = sorted(in_storage)
        if not dry_run:
            with output.progress(f"Deleting from {storage.name}", len(victims)) as bar:
                for digest in victims:
                    storage.delete(digest)
                    bar.advance()
        done["storage"] = victims
    return done


def _storage_copies(project: Project, digests: list[str], chosen: Storage | None, in_chosen: set[str]) -> set[str]:
    """Which objects the default storage (or the one named on the command line) holds."""
    if chosen is not None:
        return set(in_chosen)
    from gitdata.transfer import default_storage_name, open_named_storage

    name = default_storage_name(project)
    if name is None:
        return set()
    return open_named_storage(project, name).exists(digests)


def run(args: argparse.Namespace) -> int:
    project = open_project()
    scopes = scopes_or_all(project, args.paths)
    deleting = args.from_cache or args.from_storage is not None
    if (args.all_versions or args.only_version) and not (deleting or args.restore_versions):
        raise UsageError("--all-versions and --only-version go with --from-cache, --from-storage "
                         "or --restore-versions")
    if "" in scopes and not args.force and deleting:
        raise UsageError("refusing to delete the objects of everything; name the paths (or use --force)")
    result: dict[str, object] = {"dry_run": args.dry_run}
    if args.restore_versions:
        every = versions(project, scopes, all_versions=not args.only_version, only=args.only_version)
        written = restore_versions(project, every, Path(args.restore_versions), args.dry_run)
        result["restored"] = written
        output.info(f"{'would write' if args.dry_run else 'wrote'} {len(written)} version(s) "
                    f"into {args.restore_versions}")
    if deleting:
        pairs = versions(project, scopes, args.all_versions, args.only_version)
        done = delete_objects(project, pairs, scopes, args.from_storage, args.from_cache, args.force, args.dry_run)
        result.update(deleted_from_cache=done["cache"], deleted_from_storage=done["storage"])
        verb = "would delete" if args.dry_run else "deleted"
        if args.from_cache:
            output.info(f"{verb} {len(done['cache'])} object(s) from the cache")
        if args.from_storage:
            output.info(f"{verb} {len(done['storage'])} object(s) from storage '{args.from_storage}'")
        if not args.json:
            for digest in sorted(set(done["cache"]) | set(done["storage"])):
                output.verbose(f"{verb} {digest}")
    else:
        untracked = untrack(project, scopes, args.dry_run)
        result["untracked"] = untracked
        if not args.json:
            for rel in untracked:
                output.out(f"{'would untrack' if args.dry_run else 'untracked'} {rel}")
    if args.json:
        output.print_json(result)
    return 0
