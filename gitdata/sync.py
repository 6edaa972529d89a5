"""Bring the workspace from one `.gitdata` tree to another, after git moved HEAD.

Only manifests whose blob ids differ are read (the trees are compared by id,
so unchanged directories cost nothing). Files whose unsaved content is not in
the cache are never overwritten or deleted: they are kept and reported, and
the rest proceeds.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, NamedTuple, TypeGuard

from gitdata import manifest, output
from gitdata.errors import GitDataError
from gitdata.manifest import Entry
from gitdata.paths import join

if TYPE_CHECKING:
    import pygit2

    from gitdata.git import GitRepo
    from gitdata.project import Project
    from gitdata.statcache import StatCache

ZERO_SHA = "0" * 40


class ManifestChange(NamedTuple):
    directory: str
    old: dict[str, Entry]
    new: dict[str, Entry]


class SyncResult(NamedTuple):
    restored: list[str]
    removed: list[str]
    kept: list[str]          # modified, unsaved content: left as it is
    unavailable: list[str]   # content in neither the cache nor the storage
    fetched: int
    blocked: list[str]       # a directory stands where the file goes
    left: list[str]          # no longer tracked, unsaved content: left as it is, untracked


# -- what changed --------------------------------------------------------------

def gitdata_tree_at(repo: GitRepo, rev: str | None) -> pygit2.Tree | None:
    """The `.gitdata` tree of a commit; None for an unborn/zero/unknown rev or no `.gitdata`."""
    from gitdata.git import gitdata_tree

    if not _names_commit(rev):
        return None
    try:
        return gitdata_tree(repo, rev)
    except GitDataError:
        return None


def _names_commit(rev: str | None) -> TypeGuard[str]:
    """False for what git passes hooks for "no commit": nothing, or all zeros."""
    return rev is not None and rev.strip("0") != ""


def _parse_blob(repo: GitRepo, blob_id: pygit2.Oid | None, source: str) -> dict[str, Entry]:
    from gitdata.git import blob_data

    if blob_id is None:
        return {}
    entries, _ = manifest.parse(blob_data(repo, blob_id), source)
    return entries


def changed_manifests(repo: GitRepo, old_rev: str | None, new_rev: str | None) -> list[ManifestChange]:
    """The manifests that differ between two commits, parsed (an unknown or zero
    rev counts as having none). Read by git itself in three short processes:
    the hooks run this, and pygit2's import would cost them ~60 ms."""
    from gitdata.git import diff_tree_blobs, read_blobs, tree_ids

    revs = [rev for rev in (old_rev, new_rev) if _names_commit(rev)]
    found = dict(zip(revs, tree_ids(repo, [f"{rev}:{manifest.TREE_DIR}" for rev in revs])))
    old_tree, new_tree = found.get(old_rev or ""), found.get(new_rev or "")
    changed = [(relpath, old_blob, new_blob)
               for relpath, old_blob, new_blob in diff_tree_blobs(repo, old_tree, new_tree)
               if relpath.rsplit("/", 1)[-1] == manifest.MANIFEST_NAME]
    blobs = read_blobs(repo, [blob for _, *sides in changed for blob in sides if blob is not None])

    def entries(blob_id: str | None, source: str) -> dict[str, Entry]:
        return manifest.parse(blobs[blob_id], source)[0] if blob_id is not None else {}

    changes = []
    for relpath, old_blob, new_blob in changed:
        source = f"{manifest.TREE_DIR}/{relpath}"
        try:
            changes.append(ManifestChange(manifest.directory_of(relpath), entries(old_blob, source),
                                          entries(new_blob, source)))
        except GitDataError as exc:
            output.warn(f"{exc}; that directory was not updated")
    return changes


def directories_touched_since_sync(repo: GitRepo) -> list[str]:
    """Directories whose workspace manifest was written after the last sync
    (a file checkout, a squash merge, the picks of a rebase)."""
    from gitdata.hooks import SYNC_STAMP

    stamp = repo.git_dir / SYNC_STAMP
    try:
        since = stamp.stat().st_mtime_ns
    except FileNotFoundError:
        since = 0
    root = repo.workdir / manifest.TREE_DIR
    found = []
    for dirpath, _, filenames in os.walk(root):
        if manifest.MANIFEST_NAME in filenames:
            path = Path(dirpath) / manifest.MANIFEST_NAME
            if path.stat().st_mtime_ns >= since:
                try:
                    found.append(manifest.directory_of(path.relative_to(root).as_posix()))
                except GitDataError as exc:
                    output.warn(str(exc))
    return sorted(found)


def workspace_changes(repo: GitRepo, directories: Iterable[str]) -> list[ManifestChange]:
    """The workspace manifests of these directories, as changes with nothing removed
    (without a committed 'before', nothing is deleted)."""
    changes = []
    for directory in directories:
        try:
            entries, _ = manifest.read_directory(repo.workdir, directory)
        except GitDataError as exc:
            output.warn(f"{exc}; that directory was not updated")
            continue
        changes.append(ManifestChange(directory, {}, entries))
    return changes


# -- applying ------------------------------------------------------------------

def sync(project: Project, changes: list[ManifestChange], storage: str | None = None) -> SyncResult:
    """Make the workspace follow these manifest changes: remove files no longer
    tracked (only if their content is safe in the cache), fetch missing objects,
    recheck changed entries."""
    from gitdata.hooks import touch_sync_stamp
    from gitdata.locks import lock
    from gitdata.workspace import recheck

    wanted: dict[str, Entry] = {}
    gone: dict[str, Entry] = {}
    for change in changes:
        for name, entry in change.new.items():
            if change.old.get(name) != entry:
                wanted[join(change.directory, name)] = entry
        for name, entry in change.old.items():
            if name not in change.new:
                gone[join(change.directory, name)] = entry
    with lock(project.repo, "sync"):
        removed, kept_gone = remove_untracked(project, gone)
        fetched = fetch_missing(project, wanted, storage)
        result = recheck(project.repo, wanted, project.cache, project.stat_cache())
        touch_sync_stamp(project.repo.git_dir)
    return SyncResult(result.restored, removed, result.kept, result.unavailable, fetched, result.blocked, kept_gone)


def fetch_missing(project: Project, wanted: dict[str, Entry], storage: str | None) -> int:
    """Download what the cache lacks from the (default) storage. Never raises: what
    cannot be fetched is reported by the recheck as unavailable."""
    absent = {rel: e for rel, e in wanted.items() if not project.cache.has(e.digest)}
    stats = project.stat_cache() if absent else None
    missing = sorted({e.digest for rel, e in absent.items() if not _already_there(project, stats, rel, e)})
    if not missing:
        return 0
    try:
        from gitdata import transfer

        name = storage or transfer.default_storage_name(project)
        if name is None:
            output.warn(f"{len(missing)} object(s) are not in the cache and no default storage is set")
            return 0
        unavailable = transfer.download_missing(project, missing, name)
    except GitDataError as exc:
        output.warn(f"could not fetch {len(missing)} object(s): {exc}")
        return 0
    return len(missing) - len(unavailable)


def _already_there(project: Project, stats: StatCache | None, rel: str, entry: Entry) -> bool:
    """A workspace file that already has the entry's content needs no download."""
    path = project.workdir / rel
    try:
        st = path.stat()
    except OSError:
        return False
    if not stat.S_ISREG(st.st_mode) or st.st_size != entry.size:
        return False
    from gitdata.hashing import parse_digest

    return stats is not None and stats.lookup(rel, st, parse_digest(entry.digest).algorithm) == entry.digest


def remove_untracked(project: Project, gone: dict[str, Entry]) -> tuple[list[str], list[str]]:
    """Delete files the new manifests no longer track, when their content is in the
    cache; returns (removed, kept). Paths git now tracks are git's, not ours."""
    if not gone:
        return [], []
    from gitdata.fsutil import remove_empty_parents
    from gitdata.git import index_paths
    from gitdata.hashing import digest_file, parse_digest
    from gitdata.paths import ensure_inside

    in_git = index_paths(project.repo)
    stats = project.stat_cache()
    removed, kept = [], []
    for rel, entry in sorted(gone.items()):
        if rel in in_git:
            continue
        try:
            path = ensure_inside(project.workdir, rel)
            st = path.lstat()
        except (GitDataError, FileNotFoundError, NotADirectoryError):
            continue
        if stat.S_ISLNK(st.st_mode):
            safe = os.readlink(path).startswith(str(project.cache.root) + os.sep)
        elif stat.S_ISREG(st.st_mode):
            algorithm = parse_digest(entry.digest).algorithm
            digest = stats.lookup(rel, st, algorithm) or digest_file(path, algorithm)
            safe = project.cache.has(digest)
        else:
            continue
        if safe:
            path.unlink()
            remove_empty_parents(path.parent, project.workdir)
            removed.append(rel)
        else:
            kept.append(rel)
    return removed, kept


def report(result: SyncResult, what: str) -> None:
    """Say what the hook did; never raise (a hook must not fail git)."""
    done = []
    if result.restored:
        done.append(f"updated {len(result.restored)} file(s)")
    if result.removed:
        done.append(f"removed {len(result.removed)}")
    if result.fetched:
        done.append(f"fetched {result.fetched} object(s)")
    if done:
        output.info(f"git-data: {what}: {', '.join(done)}")
    shown = 20
    for rel in result.kept[:shown]:
        output.warn(f"{rel}: has changes that are not saved in the cache; kept as it is "
                    "('git data commit' saves them, 'git data checkout --force' replaces them)")
    if len(result.kept) > shown:
        output.warn(f"... and {len(result.kept) - shown} more file(s) kept ('git data status' lists them)")
    for rel in result.left[:shown]:
        output.warn(f"{rel}: no longer tracked here, and has changes that are not saved in the cache; kept as "
                    "an untracked file ('git data add' tracks it here; or check out the commit that tracked it "
                    "and 'git data commit' it there)")
    if len(result.left) > shown:
        output.warn(f"... and {len(result.left) - shown} more untracked file(s) kept")
    if result.blocked:
        from gitdata.workspace import BLOCKED

        for rel in result.blocked:
            output.warn(f"{rel}: {BLOCKED}")
    for rel in result.unavailable[:shown]:
        output.warn(f"{rel}: content is not in the cache or the storage; run 'git data fetch' "
                    "or 'git data pull' when it is")
    if len(result.unavailable) > shown:
        output.warn(f"... and {len(result.unavailable) - shown} more file(s) whose content is unavailable "
                    "('git data status' lists them)")


def changes_against_head(repo: GitRepo) -> list[ManifestChange]:
    """During or after a merge: workspace manifests that differ from HEAD's. An entry
    HEAD has and the workspace lacks counts as removed only when the merged branch
    (MERGE_HEAD) lacks it too, so files the user untracked are never touched."""
    import pygit2

    from gitdata.git import entry_id, subtree

    head = subtree(gitdata_tree_at(repo, "HEAD"), "tree")
    merging = (repo.git_dir / "MERGE_HEAD").is_file()
    theirs = subtree(gitdata_tree_at(repo, "MERGE_HEAD"), "tree") if merging else None
    root = repo.workdir / manifest.TREE_DIR
    changes = []
    for dirpath, _, filenames in os.walk(root):
        if manifest.MANIFEST_NAME not in filenames:
            continue
        path = Path(dirpath) / manifest.MANIFEST_NAME
        relpath = path.relative_to(root).as_posix()
        data = path.read_bytes()
        head_blob = entry_id(head, relpath)
        if head_blob is not None and pygit2.hash(data) == head_blob:
            continue
        source = f"{manifest.TREE_DIR}/{relpath}"
        try:
            directory = manifest.directory_of(relpath)
            new, _ = manifest.parse(data, source)
            old = _parse_blob(repo, head_blob, source)
            their_entries = _parse_blob(repo, entry_id(theirs, relpath), source) if merging else None
        except GitDataError as exc:
            output.warn(f"{exc}; that directory was not updated")
            continue
        if their_entries is None:
            old = {n: e for n, e in old.items() if n in new}
        else:
            old = {n: e for n, e in old.items() if n in new or n not in their_entries}
        changes.append(ManifestChange(directory, old, new))
    return changes
