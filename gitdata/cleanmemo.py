"""The workspace as last seen clean: what makes a no-op `git data status` cheap.

For one state of the manifests and of the cache, the memo lists every tracked file
and, for each file that was clean with its object in the cache, the stat it had then
(git's index does the same for `git status`). While the manifests and the cache's
object directories keep their stamps, a file with that same stat needs no other look:
no manifest parsing, no stat-cache lookup, no cache listing. Every other file goes
through the full comparison, which writes a new memo. It is only a cache: a lost,
stale or damaged memo costs time, never a wrong answer."""
from __future__ import annotations

import os
import stat
import time
from pathlib import Path
from typing import Any, NamedTuple

from gitdata.manifest import manifest_stamps
from gitdata.paths import join
from gitdata.project import Project, select, under_any
from gitdata.statcache import RACY_SECONDS, load_memo, memo_path, save_memo
from gitdata.workspace import Status, compare_and_stats, names_by_dir, untracked_among

FORMAT = "gitdata-clean-memo-3"

# (size, mtime_ns, inode, mode): a chmod changes neither content nor mtime, yet the
# executable bit is recorded. For a symlink into the cache, the stat of the object.
MemoKey = tuple[int, int, int, int]


class Memo(NamedTuple):
    by_dir: dict[str, dict[str, MemoKey | None]]   # directory -> tracked name -> its stat when last seen clean
    whole_dirs: list[str]


def memo_key(st: os.stat_result) -> MemoKey:
    return (st.st_size, st.st_mtime_ns, st.st_ino, st.st_mode)


def workspace_status(project: Project, scopes: list[str]) -> tuple[Status, int]:
    """What compare() says about the tracked files in `scopes`, and how many of them there are."""
    started = time.time()
    path = memo_path(project.repo.data_dir, project.workdir, "clean")
    stamps = (manifest_stamps(project.workdir), project.cache.stamp())
    memo = _load(path, str(project.workdir), stamps)
    changed = None
    if memo is not None:
        changed, in_scope = _changed(str(project.workdir), memo.by_dir, scopes)
        if changed == []:
            # all of them just seen as files only when every tracked path was in scope
            untracked = untracked_among(project.repo, memo.by_dir, memo.whole_dirs, scopes,
                                        tracked_are_files="" in scopes)
            return Status([], [], [], untracked), in_scope
    tracked = project.tracked()
    scope = select(tracked, scopes, new_files=project.workdir)
    check = scope if changed is None else {rel: scope[rel] for rel in changed}
    status, clean = compare_and_stats(project.repo, tracked, check, project.cache, project.stat_cache(), scopes)
    by_dir = memo.by_dir if memo is not None else {
        directory: dict.fromkeys(names) for directory, names in names_by_dir(tracked.files).items()}
    for rel in check:
        st = clean.get(rel)
        directory, _, name = rel.rpartition("/")
        by_dir[directory][name] = memo_key(st) if st is not None and started - st.st_mtime > RACY_SECONDS else None
    if _settled(stamps, started):
        _save(path, str(project.workdir), stamps, Memo(by_dir, sorted(tracked.whole_dirs)))
    return status, len(scope)


def _changed(workdir: str, by_dir: dict[str, dict[str, MemoKey | None]],
             scopes: list[str]) -> tuple[list[str] | None, int]:
    """The paths in `scopes` whose stat is not the one the memo vouches for (this loop is
    the whole cost of a no-op status), None when no tracked path is in scope; and how
    many tracked paths are in scope."""
    lstat = os.lstat
    changed = []
    in_scope = 0
    for directory, names in by_dir.items():
        if not under_any(directory, scopes):
            names = {n: key for n, key in names.items() if under_any(join(directory, n), scopes)}
        in_scope += len(names)
        prefix = f"{workdir}/{directory}/" if directory else f"{workdir}/"
        for name, key in names.items():
            try:
                st = lstat(prefix + name)
            except OSError:
                changed.append(join(directory, name))
                continue
            if key != (st.st_size, st.st_mtime_ns, st.st_ino, st.st_mode) and not _reaches(prefix + name, st, key):
                changed.append(join(directory, name))
    return (changed if in_scope else None), in_scope


def _reaches(path: str, st: os.stat_result, key: MemoKey | None) -> bool:
    """Whether a symlink leads to the file the memo vouches for (its object, whose
    stat changes when something writes through the link)."""
    if not stat.S_ISLNK(st.st_mode) or key is None:
        return False
    try:
        return memo_key(os.stat(path)) == key
    except OSError:
        return False


def _settled(stamps: tuple[Any, ...], started: float) -> bool:
    """Whether no manifest and no object directory changed just before we looked: one
    that did could change again within the same mtime tick, unseen by its stamp."""
    manifests, cache = stamps
    newest = max([m[2] for m in manifests] + [c[1] for c in cache], default=0)
    return newest < (started - RACY_SECONDS) * 1e9


def _load(path: Path, workdir: str, stamps: tuple[Any, ...]) -> Memo | None:
    stored = load_memo(path)
    if not (isinstance(stored, tuple) and len(stored) == 5 and stored[:3] == (FORMAT, workdir, stamps)):
        return None
    by_dir, whole_dirs = stored[3:]
    if not (isinstance(by_dir, dict) and all(isinstance(names, dict) for names in by_dir.values())):
        return None  # a stat of the wrong shape merely never matches; these would crash
    return Memo(by_dir, whole_dirs)


def _save(path: Path, workdir: str, stamps: tuple[Any, ...], memo: Memo) -> None:
    save_memo(path, (FORMAT, workdir, stamps, memo.by_dir, memo.whole_dirs))
