"""Compare the workspace with the manifests, and bring it back to them (recheck)."""
from __future__ import annotations

import math
import os
import stat
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Collection, Iterable, Mapping, NamedTuple, TypeVar

from gitdata.cache import Cache
from gitdata.errors import GitDataError
from gitdata.fsutil import is_executable, is_prefix_of, is_temp_name, materialise, place_new, remove_if_stale
from gitdata.git import GitRepo
from gitdata.hashing import digest_file, parse_digest
from gitdata.ignore import IgnoreRules
from gitdata.manifest import Entry, Tracked
from gitdata.paths import ensure_inside, is_under
from gitdata.statcache import Key, StatCache, key_of

if TYPE_CHECKING:
    from gitdata.output import Progress

T = TypeVar("T")
R = TypeVar("R")
WORKERS = max(4, 2 * (os.cpu_count() or 2))
SLOW_ITEM = 150e-6   # seconds per item past which threads pay for themselves
SAMPLE = 0.01        # seconds of serial work that tell how slow the items are


def parallel_map(func: Callable[[T], R], items: Iterable[T], workers: int = WORKERS,
                 forked: bool = False, bar: Progress | None = None) -> list[R]:
    """map(), in order, on a thread pool when the items are slow enough to gain from one
    (see while_quick); the rest goes out to the pool in contiguous chunks. `forked`:
    func's results are marshal-able and its side effects on files only, so many items
    may go to forked processes instead (see gitdata/processes.py). `bar` advances as
    items finish."""
    items = list(items)
    if forked:
        from gitdata.processes import processes_for, run_split

        processes = processes_for(len(items), workers)
        if processes > 1:
            return run_split(func, items, processes, lambda batch: bar.advance(len(batch)) if bar else None)
    if bar is not None:
        func = _counted(func, bar)
    results = while_quick(func, items) if workers > 1 else [func(item) for item in items]
    rest = items[len(results):]
    if not rest:
        return results
    from concurrent.futures import ThreadPoolExecutor

    size = max(1, -(-len(rest) // (workers * 4)))
    chunks = [rest[i:i + size] for i in range(0, len(rest), size)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for chunk in pool.map(lambda chunk: [func(item) for item in chunk], chunks):
            results += chunk
    return results


def _counted(func: Callable[[T], R], bar: Progress) -> Callable[[T], R]:
    def counted(item: T) -> R:
        result = func(item)
        bar.advance()
        return result
    return counted


def while_quick(func: Callable[[T], R], items: list[T]) -> list[R]:
    """func() over the leading items on this thread, for as long as they prove quick; the
    results so far. A small file costs a few tiny system calls, each handing the GIL
    between threads, so many small files go about twice as fast on one thread (on half
    the CPU). Once a sample shows slower items (big files, a busy disk, a network), the
    caller hands the rest to threads."""
    results: list[R] = []
    clock = time.perf_counter
    started = clock()
    for item in items:
        results.append(func(item))
        spent = clock() - started
        if spent > SAMPLE and spent > SLOW_ITEM * len(results):
            break
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
    stats.flush()
    return result


# -- comparing ---------------------------------------------------------------

CLEAN, MODIFIED, MISSING = "clean", "modified", "missing"


def links_to_cache(path: str | Path, st: os.stat_result, entry: Entry, cache: Cache) -> bool:
    """True if the file is our link into the cache for this entry: no hashing needed."""
    if stat.S_ISLNK(st.st_mode):
        return os.readlink(path) == cache.object_path(entry.digest)
    if entry.method == "hardlink" and st.st_nlink > 1:
        try:
            return os.stat(cache.object_path(entry.digest)).st_ino == st.st_ino
        except FileNotFoundError:
            return False
    return False


def _quick_state(path: str, rel: str, entry: Entry,
                 known: dict[str, tuple[tuple[int, int, int], str]]) -> tuple[str | None, os.stat_result | None]:
    """The state from stat alone, or (None, stat) when only hashing can tell. A link into
    the cache is judged like any file, by the stat of what it reaches: a command run as
    root (or after chmod) writes through it, into the cache object."""
    try:
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            st = os.stat(path)
        elif st.st_nlink == 1 and is_executable(st) != entry.executable:
            return MODIFIED, st   # a link's mode is the object's: only a private copy shows the bit
    except (FileNotFoundError, NotADirectoryError):
        return MISSING, None
    if not stat.S_ISREG(st.st_mode) or st.st_size != entry.size:
        return MODIFIED, st
    row = known.get(rel)  # the stat cache, inlined: this runs once per tracked file
    if row is not None and row[0] == (st.st_size, st.st_mtime_ns, st.st_ino):
        if row[1] == entry.digest:
            return CLEAN, st
        if row[1].partition(":")[0] == entry.digest.partition(":")[0]:
            return MODIFIED, st
    return None, st


def file_states(repo: GitRepo, items: list[tuple[str, Entry]], cache: Cache, stats: StatCache) -> list[str]:
    """CLEAN, MODIFIED or MISSING for each (path, entry): stat first, then hash in
    parallel only the files whose stat the stat cache does not vouch for."""
    return states_and_stats(repo, items, cache, stats)[0]


def states_and_stats(repo: GitRepo, items: list[tuple[str, Entry]], cache: Cache,
                     stats: StatCache) -> tuple[list[str], list[os.stat_result | None]]:
    """file_states(), and the stat each state was judged by (None for a missing file)."""
    prefix = f"{repo.workdir}{os.sep}"
    states: list[str | None] = []
    seen: list[os.stat_result | None] = []
    to_hash: list[tuple[int, str, Entry, os.stat_result]] = []
    known = stats.rows()
    for index, (rel, entry) in enumerate(items):
        state, st = _quick_state(prefix + rel, rel, entry, known)
        states.append(state)
        seen.append(st)
        if state is None:
            assert st is not None, "_quick_state leaves the state open only for a file it could stat"
            to_hash.append((index, rel, entry, st))
    started = time.time()

    def hash_one(job: tuple[int, str, Entry, os.stat_result]) -> tuple[int, str, os.stat_result, str | None]:
        index, rel, entry, st = job
        try:
            return index, rel, st, digest_file(prefix + rel, entry.digest.partition(":")[0])
        except (FileNotFoundError, NotADirectoryError):
            return index, rel, st, None

    fresh = []
    for index, rel, st, digest in parallel_map(hash_one, to_hash):
        states[index] = MISSING if digest is None else CLEAN if digest == items[index][1].digest else MODIFIED
        if digest is not None:
            fresh.append((rel, st, digest))
    stats.remember(fresh, started)
    stats.flush()
    warn_damaged_objects(prefix, [item for item, state in zip(items, states) if state == MODIFIED], cache)
    return states, seen  # type: ignore[return-value]


def warn_damaged_objects(prefix: str, modified: list[tuple[str, Entry]], cache: Cache) -> None:
    """A modified file that is still a link into the cache was written through the link:
    the cache object it shares no longer holds the version the manifest records."""
    for rel, entry in modified:
        path = prefix + rel
        try:
            st = os.lstat(path)
        except OSError:
            continue
        if (stat.S_ISLNK(st.st_mode) or st.st_nlink > 1) and links_to_cache(path, st, entry, cache):
            warn_damaged_object(rel, entry.digest)


def warn_damaged_object(rel: str, digest: str) -> None:
    from gitdata import output

    output.warn(f"'{rel}' was changed through its link into the cache: cache object {digest} no longer "
                "holds the version recorded for it ('git data fsck' moves the damaged object aside)")


def file_state(repo: GitRepo, rel: str, entry: Entry, cache: Cache, stats: StatCache) -> str:
    return file_states(repo, [(rel, entry)], cache, stats)[0]


class Status(NamedTuple):
    modified: list[str]
    missing: list[str]
    not_in_cache: list[str]
    untracked: list[str]


def compare(repo: GitRepo, tracked: Tracked, scope: Mapping[str, Entry], cache: Cache, stats: StatCache,
            scopes: list[str]) -> Status:
    """What in `scope` differs from the manifests, plus untracked files under whole directories."""
    return compare_and_stats(repo, tracked, scope, cache, stats, scopes)[0]


def compare_and_stats(repo: GitRepo, tracked: Tracked, scope: Mapping[str, Entry], cache: Cache, stats: StatCache,
                      scopes: list[str]) -> tuple[Status, dict[str, os.stat_result]]:
    """compare(), and the stat of each file found clean with its object in the cache."""
    items = sorted(scope.items())
    states, seen = states_and_stats(repo, items, cache, stats)
    modified = [rel for (rel, _), s in zip(items, states) if s == MODIFIED]
    missing = [rel for (rel, _), s in zip(items, states) if s == MISSING]
    absent = cache.missing(entry.digest for (_, entry), s in zip(items, states) if s == CLEAN)
    not_in_cache = [rel for (rel, entry), s in zip(items, states) if s == CLEAN and entry.digest in absent]
    clean = {rel: st for (rel, entry), s, st in zip(items, states, seen)
             if s == CLEAN and st is not None and entry.digest not in absent}
    untracked = untracked_files(repo, tracked, scopes)
    return Status(modified, missing, not_in_cache, untracked), clean


def walk_files(workdir: Path, directory: str, rules: IgnoreRules, known: Mapping[str, Collection[str]] | None = None,
               symlinks: set[str] | None = None, known_are_files: bool = False) -> list[str]:
    """Repo-relative paths of the regular files and symlinks (but those to directories)
    under a directory, minus ignored ones and minus `known` names (directory -> file names),
    which cost one set lookup each. Every symlink found (those to directories too) is put
    in `symlinks`, when given.
    With `known_are_files` (the caller has just seen each known name as a file), a
    directory holding as many entries as known names holds nothing else."""
    found: list[str] = []
    if directory == "" or not rules.ignored(directory, is_dir=True):
        _walk(str(workdir), directory, rules, known or {}, symlinks, known_are_files, found)
    return found


def _walk(workdir: str, directory: str, rules: IgnoreRules, known: Mapping[str, Collection[str]],
          symlinks: set[str] | None, known_are_files: bool, found: list[str]) -> None:
    """walk_files() below a directory that is not ignored (this runs once per file)."""
    path = os.path.join(workdir, directory)
    skip = known.get(directory)
    try:
        if skip and known_are_files and len(os.listdir(path)) == len(skip):
            return
        items = list(os.scandir(path))
    except (FileNotFoundError, NotADirectoryError):
        return
    if skip:  # usually nearly all of them: filtered in one comprehension
        items = [item for item in items if item.name not in skip or item.is_dir(follow_symlinks=False)]
    prefix = directory + "/" if directory else ""
    ignored = rules.ignored_entry
    for item in items:
        name = item.name
        rel = prefix + name
        if name.endswith(".tmp") and is_temp_name(name):  # left by a killed git-data process: never data
            remove_if_stale(item.path)
        elif item.is_dir(follow_symlinks=False):
            if not ignored(rel, name, is_dir=True):
                _walk(workdir, rel, rules, known, symlinks, known_are_files, found)
        elif item.is_file(follow_symlinks=False):
            if not ignored(rel, name):
                found.append(rel)   # never fifos, sockets or devices: reading those blocks or means nothing
        elif item.is_symlink() and not ignored(rel, name):
            if symlinks is not None:
                symlinks.add(rel)
            if not item.is_dir():   # a link to a directory is no file (and may lead in circles)
                found.append(rel)


def untracked_files(repo: GitRepo, tracked: Tracked, scopes: list[str]) -> list[str]:
    return untracked_among(repo, names_by_dir(tracked.files), tracked.whole_dirs, scopes)


def names_by_dir(paths: Iterable[str]) -> dict[str, set[str]]:
    grouped: dict[str, set[str]] = {}
    for rel in paths:
        directory, _, name = rel.rpartition("/")
        grouped.setdefault(directory, set()).add(name)
    return grouped


def untracked_among(repo: GitRepo, tracked_names: Mapping[str, Collection[str]], whole_dirs: Iterable[str],
                    scopes: list[str], tracked_are_files: bool = False) -> list[str]:
    """Files under the whole directories in `scopes` that are not among the tracked
    names (directory -> names in it); see walk_files() for `tracked_are_files`."""
    roots = [d for d in whole_dirs if any(is_under(d, s) or is_under(s, d) for s in scopes)]
    if not roots:
        return []
    rules = IgnoreRules(repo.workdir)
    found = set()
    for root in roots:
        for rel in walk_files(repo.workdir, root, rules, tracked_names, known_are_files=tracked_are_files):
            if any(is_under(rel, s) for s in scopes):
                found.add(rel)
    if found:
        # git's own files are not data: `add` skips them, so `commit` must too
        from gitdata.git import index_paths

        found -= index_paths(repo)
    return sorted(found)


# -- recheck -----------------------------------------------------------------

class RecheckResult(NamedTuple):
    restored: list[str]
    kept: list[str]            # modified files whose content exists nowhere else
    unavailable: list[str]     # the object is not in the cache
    blocked: list[str]         # a directory stands where the file goes: never replaced
    damaged: list[str]         # the cache object is not the recorded size (warned about here)


BLOCKED = ("a directory stands where a file is tracked; kept as it is, even by --force (move it away and "
           "run 'git data checkout', or 'git data add' it to track the directory instead)")


def recheck(repo: GitRepo, files: Mapping[str, Entry], cache: Cache, stats: StatCache,
            force: bool = False, method: str | None = None) -> RecheckResult:
    """Make each workspace file match its entry. A modified file is replaced only
    if its content is safe in the cache; with `force`, it is carried in first."""
    items = sorted(files.items())
    states, seen = states_and_stats(repo, items, cache, stats)
    absent = cache.missing(entry.digest for _, entry in items)
    safe_dirs = SafeDirs(repo.workdir)
    prefix = f"{repo.workdir}{os.sep}"   # plain strings: this runs once per file restored

    def one(job: tuple[tuple[str, Entry], str, os.stat_result | None]) -> tuple[str, Key | None]:
        """The outcome, and the stat key of the file written (plain values: this may run
        in a forked process)."""
        (rel, entry), state, st = job
        wanted = method or entry.method
        target = prefix + rel
        if state == CLEAN and _has_method(target, wanted, entry, cache):
            return "clean", None
        if entry.digest in absent:
            return "unavailable", None
        safe_dirs.check(rel)
        if state == MODIFIED and st is not None and stat.S_ISDIR(st.st_mode):
            return "blocked", None   # its files may exist nowhere else, and their names nowhere at all
        if state == MODIFIED:
            vouched = stats.lookup(rel, st) if st is not None else None
            if not _content_is_safe(Path(target), entry, cache, force, vouched):
                return "kept", None
        obj = cache.object_path(entry.digest)
        placed = place_new(obj, target, wanted, entry.executable) if state == MISSING else None
        if placed is not None:
            used, copy_st = placed
        else:
            if state == MISSING and os.path.isdir(target) and not os.path.islink(target):
                return "blocked", None   # made since we looked
            used, copy_st = materialise(obj, target, wanted, entry.executable), None
        outcome = "copied" if wanted == "hardlink" and used == "copy" else "restored"
        if used in ("copy", "reflink") or state != MODIFIED:
            # A link is vouched for by the object's stat, unless it replaces a file that
            # may have been written through it (then the object may no longer hold the
            # entry's bytes, and the next look hashes it).
            placed_st = copy_st or os.stat(target)
            if placed_st.st_size != entry.size:   # a damaged object: what it gave is not the version
                os.unlink(target)
                return "damaged", None
            return outcome, key_of(placed_st)
        return outcome, None

    outcomes = parallel_map(one, list(zip(items, states, seen)), forked=True)
    # We wrote these bytes ourselves just now, so their stat vouches for their digest.
    stats.remember_keys(((rel, key, entry.digest) for (rel, entry), (_, key) in zip(items, outcomes)
                         if key is not None), read_after=math.inf)
    stats.flush()
    warn_copied_links([rel for (rel, _), (outcome, _) in zip(items, outcomes) if outcome == "copied"])
    warn_damaged_copies([(rel, entry.digest) for (rel, entry), (outcome, _) in zip(items, outcomes)
                         if outcome == "damaged"])
    return RecheckResult(*([rel for (rel, _), (outcome, _) in zip(items, outcomes) if outcome in kinds]
                           for kinds in (("restored", "copied"), ("kept",), ("unavailable",), ("blocked",),
                                         ("damaged",))))


def warn_damaged_copies(damaged: list[tuple[str, str]]) -> None:
    """A line for each (path, digest) not restored: its object is not the recorded size."""
    if damaged:
        from gitdata import output

        for rel, digest in damaged:
            output.warn(f"{rel}: cache object {digest} is damaged (not the recorded size); not restored "
                        "('git data fsck' moves it aside, then 'git data pull' fetches it again)")


def warn_copied_links(rels: list[str]) -> None:
    """One line for the files kept as copies because no hard link can reach the cache."""
    if rels:
        from gitdata import output

        others = f" and {len(rels) - 1} other file(s)" if len(rels) > 1 else ""
        output.warn(f"'{rels[0]}'{others}: kept as a copy, not a hard link: the cache is on another "
                    "file system (or it refuses hard links)")


class SafeDirs:
    """Checks, once per directory, that no symlink leads a manifest path out of the worktree."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.known: set[str] = set()

    def check(self, rel: str) -> None:
        directory = rel.rpartition("/")[0]
        if directory not in self.known:
            ensure_inside(self.workdir, rel)
            probe = self.workdir / directory
            while probe != self.workdir and not os.path.lexists(probe):
                probe = probe.parent
            if probe != self.workdir and not probe.is_dir():
                blocker = probe.relative_to(self.workdir).as_posix()
                raise GitDataError(f"cannot restore '{rel}': '{blocker}' is a file, not a directory; "
                                   "move it out of the way first")
            self.known.add(directory)


def _has_method(path: str, method: str, entry: Entry, cache: Cache) -> bool:
    st = os.lstat(path)
    if method == "symlink":
        return stat.S_ISLNK(st.st_mode)
    if method == "hardlink":
        return not stat.S_ISLNK(st.st_mode) and (
            links_to_cache(path, st, entry, cache)
            or (_is_private_copy(st, entry) and not _can_hard_link(st, cache.object_path(entry.digest))))
    return _is_private_copy(st, entry)


def _is_private_copy(st: os.stat_result, entry: Entry) -> bool:
    return stat.S_ISREG(st.st_mode) and st.st_nlink == 1 and is_executable(st) == entry.executable


def _can_hard_link(st: os.stat_result, obj: str) -> bool:
    """Whether the file could be a hard link to the object: same file system (a copy
    stands in for a hard link the cache cannot give, see fsutil.materialise)."""
    try:
        return os.stat(obj).st_dev == st.st_dev
    except FileNotFoundError:
        return False


def _content_is_safe(path: Path, entry: Entry, cache: Cache, force: bool, vouched: str | None) -> bool:
    """Whether overwriting `path` loses nothing: its bytes are already in the cache,
    or (with force) have just been put there. `vouched` is the digest the stat cache
    holds for the file's current stat, if any: a file switched away from is found safe
    without hashing it."""
    is_link = path.is_symlink()
    if is_link and not path.exists():
        return True
    if path.is_dir():
        return False
    if vouched is not None and not is_link and cache.has(vouched):
        return True
    if cache.has(entry.digest) and is_prefix_of(path, cache.object_path(entry.digest)):
        return True  # an interrupted restore (or an empty file): every byte is in the cache
    algorithm = parse_digest(entry.digest).algorithm
    if force:
        if not is_link:   # replacing a link leaves the bytes it leads to where they are
            cache.add_file(path, algorithm)
        return True
    return cache.has(digest_file(path, algorithm))
