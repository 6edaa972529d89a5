"""Compare the workspace with the manifests, and bring it back to them (recheck)."""
from __future__ import annotations

import os
import stat
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping, NamedTuple, TypeVar

from gitdata.cache import Cache
from gitdata.errors import GitDataError
from gitdata.fsutil import is_executable, materialise
from gitdata.git import GitRepo
from gitdata.hashing import digest_file, parse_digest
from gitdata.ignore import IgnoreRules
from gitdata.manifest import Entry, Tracked
from gitdata.paths import ensure_inside, is_under, join
from gitdata.statcache import StatCache

T = TypeVar("T")
R = TypeVar("R")
WORKERS = max(4, 2 * (os.cpu_count() or 2))


def parallel_map(func: Callable[[T], R], items: Iterable[T], workers: int = WORKERS) -> Iterator[R]:
    """map() on a thread pool (I/O and hashing release the GIL); in order."""
    items = list(items)
    if len(items) < 8 or workers <= 1:
        return map(func, items)
    pool = ThreadPoolExecutor(max_workers=workers)
    results = pool.map(func, items)
    pool.shutdown(wait=False)
    return results


class Hashed(NamedTuple):
    digest: str
    size: int
    executable: bool


def hash_paths(repo: GitRepo, rels: Iterable[str], algorithm: str, stats: StatCache) -> dict[str, Hashed]:
    """Digests of workspace files, from the stat cache where their stat is unchanged."""
    started = time.time()
    fresh: list[tuple[str, os.stat_result, str]] = []

    def one(rel: str) -> tuple[str, Hashed]:
        path = repo.workdir / rel
        st = path.stat()
        digest = stats.lookup(rel, st, algorithm)
        if digest is None:
            digest = digest_file(path, algorithm)
            fresh.append((rel, st, digest))
        return rel, Hashed(digest, st.st_size, is_executable(st))

    result = dict(parallel_map(one, rels))
    stats.remember(fresh, started)
    return result


# -- comparing ---------------------------------------------------------------

CLEAN, MODIFIED, MISSING = "clean", "modified", "missing"


def links_to_cache(path: Path, st: os.stat_result, entry: Entry, cache: Cache) -> bool:
    """True if the file is our link into the cache for this entry: no hashing needed."""
    if stat.S_ISLNK(st.st_mode):
        return os.readlink(path) == str(cache.path(entry.digest))
    if entry.method == "hardlink" and st.st_nlink > 1:
        try:
            return os.stat(cache.path(entry.digest)).st_ino == st.st_ino
        except FileNotFoundError:
            return False
    return False


def file_state(repo: GitRepo, rel: str, entry: Entry, cache: Cache, stats: StatCache) -> str:
    path = repo.workdir / rel
    try:
        st = path.lstat()
    except (FileNotFoundError, NotADirectoryError):
        return MISSING
    if stat.S_ISLNK(st.st_mode):
        if links_to_cache(path, st, entry, cache):
            return CLEAN
        try:
            st = path.stat()
        except FileNotFoundError:
            return MISSING
    if not stat.S_ISREG(st.st_mode):
        return MODIFIED
    if links_to_cache(path, st, entry, cache):
        return CLEAN
    if st.st_size != entry.size:
        return MODIFIED
    algorithm = parse_digest(entry.digest).algorithm
    digest = stats.lookup(rel, st, algorithm)
    if digest is None:
        started = time.time()
        digest = digest_file(path, algorithm)
        stats.remember([(rel, st, digest)], started)
    return CLEAN if digest == entry.digest else MODIFIED


class Status(NamedTuple):
    modified: list[str]
    missing: list[str]
    not_in_cache: list[str]
    untracked: list[str]


def compare(repo: GitRepo, tracked: Tracked, scope: Mapping[str, Entry], cache: Cache, stats: StatCache,
            scopes: list[str]) -> Status:
    """What in `scope` differs from the manifests, plus untracked files under whole directories."""
    items = sorted(scope.items())
    states = list(parallel_map(lambda item: file_state(repo, item[0], item[1], cache, stats), items))
    modified = [rel for (rel, _), s in zip(items, states) if s == MODIFIED]
    missing = [rel for (rel, _), s in zip(items, states) if s == MISSING]
    not_in_cache = [rel for (rel, entry), s in zip(items, states) if s == CLEAN and not cache.has(entry.digest)]
    untracked = untracked_files(repo, tracked, scopes)
    return Status(modified, missing, not_in_cache, untracked)


def walk_files(workdir: Path, directory: str, rules: IgnoreRules) -> Iterator[str]:
    """Repo-relative paths of the regular files and symlinks under a directory, minus ignored ones."""
    try:
        items = list(os.scandir(workdir / directory))
    except (FileNotFoundError, NotADirectoryError):
        return
    for item in items:
        rel = join(directory, item.name)
        if item.is_dir(follow_symlinks=False):
            if not rules.ignored(rel, is_dir=True):
                yield from walk_files(workdir, rel, rules)
        elif not rules.ignored(rel):
            yield rel


def untracked_files(repo: GitRepo, tracked: Tracked, scopes: list[str]) -> list[str]:
    rules = IgnoreRules(repo.workdir)
    roots = [d for d in tracked.whole_dirs if any(is_under(d, s) or is_under(s, d) for s in scopes)]
    found = set()
    for root in roots:
        for rel in walk_files(repo.workdir, root, rules):
            if rel not in tracked.files and any(is_under(rel, s) for s in scopes):
                found.add(rel)
    return sorted(found)


# -- recheck -----------------------------------------------------------------

class RecheckResult(NamedTuple):
    restored: list[str]
    kept: list[str]            # modified files whose content exists nowhere else
    unavailable: list[str]     # the object is not in the cache


def recheck(repo: GitRepo, files: Mapping[str, Entry], cache: Cache, stats: StatCache,
            force: bool = False, method: str | None = None) -> RecheckResult:
    """Make each workspace file match its entry. A modified file is replaced only
    if its content is safe in the cache; with `force`, it is carried in first."""
    def one(item: tuple[str, Entry]) -> tuple[str, str]:
        rel, entry = item
        wanted = method or entry.method
        state = file_state(repo, rel, entry, cache, stats)
        if state == CLEAN and _has_method(repo.workdir / rel, wanted, entry, cache):
            return rel, "clean"
        if not cache.has(entry.digest):
            return rel, "unavailable"
        target = ensure_inside(repo.workdir, rel)
        if state == MODIFIED and not _content_is_safe(target, entry, cache, force):
            return rel, "kept"
        if target.is_dir() and not target.is_symlink():
            return rel, "kept"
        materialise(cache.path(entry.digest), target, wanted, entry.executable)
        return rel, "restored"

    outcomes = list(parallel_map(one, sorted(files.items())))
    return RecheckResult(
        [r for r, o in outcomes if o == "restored"],
        [r for r, o in outcomes if o == "kept"],
        [r for r, o in outcomes if o == "unavailable"],
    )


def _has_method(path: Path, method: str, entry: Entry, cache: Cache) -> bool:
    st = path.lstat()
    if method == "symlink":
        return stat.S_ISLNK(st.st_mode)
    if method == "hardlink":
        return links_to_cache(path, st, entry, cache)
    return stat.S_ISREG(st.st_mode) and st.st_nlink == 1 and is_executable(st) == entry.executable


def _content_is_safe(path: Path, entry: Entry, cache: Cache, force: bool) -> bool:
    """Whether overwriting `path` loses nothing: its bytes are already in the cache,
    or (with force) have just been put there."""
    if path.is_symlink() and not path.exists():
        return True
    if path.is_dir():
        return False
    algorithm = parse_digest(entry.digest).algorithm
    if force:
        cache.add_file(path, algorithm)
        return True
    return cache.has(digest_file(path, algorithm))


def require_clean_paths(paths: list[str], what: str) -> None:
    if paths:
        shown = ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
        raise GitDataError(f"{what}: {shown}")
