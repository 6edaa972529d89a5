"""Moving objects between the cache and a storage: parallel, verified, resumable.

Resuming needs no journal: an upload is atomic under its final key and a
download enters the cache only verified, so a re-run's existence check skips
exactly what already arrived."""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Mapping

from gitdata import config, output
from gitdata.cache import SMALL_FILE  # objects up to this size move through memory, read once
from gitdata.errors import CorruptObject, GitDataError
from gitdata.fsutil import read_all, unlink_quietly
from gitdata.hashing import digest_bytes, digest_file
from gitdata.storage import Storage, default_jobs, open_storage, storage_config
from gitdata.workspace import while_quick

if TYPE_CHECKING:
    import pygit2

    from gitdata.cache import Cache
    from gitdata.manifest import Entry
    from gitdata.project import Project

MAX_FAILURES = 5
BATCH = 64  # objects per pool task


# -- which storage -----------------------------------------------------------

def storage_names(project: Project) -> list[str]:
    settings = config.values(project.repo)
    return sorted({key[len("storage."):-len(".url")] for key in settings
                   if key.startswith("storage.") and key.endswith(".url")})


def default_storage_name(project: Project) -> str | None:
    settings = config.values(project.repo)
    name = settings.get("core.defaultstorage")
    if name:
        return name
    names = storage_names(project)
    return names[0] if len(names) == 1 else None


def open_named_storage(project: Project, name: str | None) -> Storage:
    """The storage called `name`, or the default one when `name` is None."""
    names = storage_names(project)
    if name is None:
        name = default_storage_name(project)
        if name is None:
            if not names:
                raise GitDataError("no storage configured; add one with 'git data storage add NAME URL'")
            raise GitDataError("no default storage; pass --storage NAME or run 'git data storage default NAME' "
                               f"(storages: {', '.join(names)})")
    if name not in names:
        known = f" (storages: {', '.join(names)})" if names else "; add one with 'git data storage add NAME URL'"
        raise GitDataError(f"no storage named '{name}'{known}")
    return open_storage(project.repo, storage_config(config.values(project.repo), name))


# -- what to move ------------------------------------------------------------

def digests_at(project: Project, rev: str | None, paths: list[str]) -> set[str]:
    """Objects referenced by tracked paths at a revision (None: the workspace manifests)."""
    from gitdata.project import select

    if rev is None:
        tracked = project.tracked()
    else:
        from gitdata.git import gitdata_tree
        from gitdata.manifest import read_tree

        tracked = read_tree(project.repo, gitdata_tree(project.repo, rev))
    return {entry.digest for entry in select(tracked, paths or [""]).values()}


def history_commits(project: Project, branches_only: bool) -> list[pygit2.Commit]:
    """Branch tips, or every commit reachable from any branch, tag, remote ref or HEAD."""
    import pygit2

    raw = project.repo.raw
    tips: list[pygit2.Commit] = []
    names = [n for n in raw.references if not n.startswith("refs/notes/") and not n.startswith("refs/stash")]
    if branches_only:
        names = [n for n in names if n.startswith("refs/heads/")]
    for name in names:
        try:
            tips.append(raw.references[name].peel(pygit2.Commit))
        except (pygit2.GitError, ValueError, KeyError):
            continue
    if not raw.head_is_unborn and not branches_only:
        tips.append(raw.head.peel(pygit2.Commit))
    if branches_only:
        return tips
    seen: set[str] = set()
    commits = []
    stack = list(tips)
    while stack:
        commit = stack.pop()
        if str(commit.id) in seen:
            continue
        seen.add(str(commit.id))
        commits.append(commit)
        stack.extend(commit.parents)
    return commits


def history_entries(project: Project, commits: Iterable[pygit2.Commit], scopes: list[str]) -> dict[str, set[str]]:
    """path -> every digest it had in these commits, for tracked paths under the scopes.
    Work is proportional to the distinct manifest trees, not to the commit count."""
    import pygit2

    from gitdata.git import subtree
    from gitdata.manifest import MANIFEST_NAME, TREE_DIR, directory_of, parse
    from gitdata.paths import join
    from gitdata.project import under_any

    raw = project.repo.raw
    seen: set[tuple[str, str]] = set()
    found: dict[str, set[str]] = {}
    scopes = scopes or [""]

    def visit(tree: pygit2.Tree, prefix: str) -> None:
        if (str(tree.id), prefix) in seen:
            return
        seen.add((str(tree.id), prefix))
        for item in tree:
            item_name = item.name
            if item_name is None:  # objects listed by a tree always have a name
                raise GitDataError(f"unnamed entry in tree {tree.id}")
            if item.type == pygit2.GIT_OBJECT_TREE:
                visit(raw[item.id].peel(pygit2.Tree), prefix + item_name + "/")
            elif item_name == MANIFEST_NAME:
                directory = directory_of(prefix + item_name)
                entries, _ = parse(raw[item.id].peel(pygit2.Blob).data, f"{TREE_DIR}/{prefix}{item_name}")
                for name, entry in entries.items():
                    rel = join(directory, name)
                    if under_any(rel, scopes):
                        found.setdefault(rel, set()).add(entry.digest)

    for commit in commits:
        tree = subtree(commit.tree, TREE_DIR)
        if tree is not None:
            visit(tree, "")
    return found


def select_digests(project: Project, scopes: list[str], rev: str | None = None,
                   all_branches: bool = False, all_commits: bool = False) -> set[str]:
    """The objects a push or fetch is about."""
    if all_branches or all_commits:
        commits = history_commits(project, branches_only=all_branches and not all_commits)
        return set().union(*history_entries(project, commits, scopes).values())
    return digests_at(project, rev, scopes)


# -- moving ------------------------------------------------------------------

MISSING = -1   # what a transfer's work returns for an object that is not there to move
Result = int | str   # per object: bytes moved (or MISSING), or why it failed


def _parallel(label: str, items: list[str], work: Callable[[str], int], jobs: int, total_bytes: int,
              on_disk: bool = False) -> list[str]:
    """Run `work` (bytes moved, or MISSING) on every item with one progress bar;
    returns the items found MISSING. Raises the first failure, after the others in
    flight finished, naming how many failed. Objects `on_disk` (a local storage)
    move in forked processes when there are many (threads would queue on the GIL
    at every system call), else start on this thread, as parallel_map() does."""
    from gitdata.processes import processes_for, run_split

    failed = [0]

    def guarded(item: str) -> Result:
        if failed[0] >= MAX_FAILURES:
            return 0
        try:
            return work(item)
        except GitDataError as exc:
            failed[0] += 1
            return str(exc)
        except OSError as exc:
            failed[0] += 1
            return f"{item}: {exc.strerror or exc}"

    with output.progress(label, len(items), total_bytes) as bar:
        def tally(batch: list[Result]) -> None:
            bar.advance(len(batch), sum(r for r in batch if isinstance(r, int) and r > 0))

        def step(item: str) -> Result:
            result = guarded(item)
            tally([result])
            return result

        processes = processes_for(len(items), jobs) if on_disk else 1
        if jobs <= 1:
            results = [step(item) for item in items]
        elif processes > 1:
            results = run_split(guarded, items, processes, tally)
        else:
            results = while_quick(step, items) if on_disk else []
            results += _threaded(guarded, items[len(results):], jobs, tally)
    failures = [r for r in results if isinstance(r, str)]
    if failures:
        more = f" (and {len(failures) - 1} more failure(s))" if len(failures) > 1 else ""
        raise GitDataError(failures[0] + more)
    return [item for item, result in zip(items, results) if result == MISSING]


def _threaded(work: Callable[[str], Result], items: list[str], jobs: int,
              tally: Callable[[list[Result]], None]) -> list[Result]:
    """work() on a thread pool, in small batches (with thousands of small objects a
    future per item would cost more than the copies); results in item order."""
    if not items:
        return []
    size = max(1, min(BATCH, len(items) // (jobs * 4)))
    batches = [items[i:i + size] for i in range(0, len(items), size)]
    pool = ThreadPoolExecutor(max_workers=jobs)
    try:
        futures = [pool.submit(lambda batch: [work(item) for item in batch], b) for b in batches]
        for future in as_completed(futures):
            tally(future.result())
        return [result for future in futures for result in future.result()]
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def missing_in_storage(storage: Storage, digests: Iterable[str]) -> list[str]:
    wanted = sorted(set(digests))
    present = storage.exists(wanted)
    return [d for d in wanted if d not in present]


def upload_with(project: Project, storage: Storage, digests: Iterable[str], jobs: int | None = None) -> int:
    """Upload the objects the storage lacks; returns how many were sent. Objects in
    neither the cache nor the storage are an error (after the others were sent)."""
    return send(project, storage, missing_in_storage(storage, digests), jobs)


def send(project: Project, storage: Storage, missing: list[str], jobs: int | None = None) -> int:
    """Upload these objects (known to be missing from the storage); returns how many.
    Objects the cache lacks are an error, raised after the others were sent."""
    if not missing:
        return 0
    cache = project.cache
    prepare = getattr(storage, "prepare", None)
    if prepare is not None:
        prepare()
    upload_bytes = getattr(storage, "upload_bytes", None)

    def corrupt(digest: str) -> GitDataError:
        return GitDataError(f"cache object {digest} is corrupt; not uploaded to storage '{storage.name}' "
                            "(run 'git data fsck')")

    def one(digest: str) -> int:
        # A cache object damaged on disk must not become the storage's copy too.
        path = cache.object_path(digest)
        algorithm = digest.partition(":")[0]
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return MISSING
        try:
            size = os.fstat(fd).st_size
            data = read_all(fd, size) if upload_bytes is not None and size <= SMALL_FILE else None
        finally:
            os.close(fd)
        if data is not None and upload_bytes is not None:
            if digest_bytes(data, algorithm) != digest:
                raise corrupt(digest)
            upload_bytes(digest, data)   # the very bytes just verified
        else:
            if digest_file(path, algorithm) != digest:
                raise corrupt(digest)
            storage.upload(digest, Path(path))
        return size

    # Sizes for the progress bar only where one is drawn: a stat per object otherwise wasted.
    total_bytes = _total_size(cache, missing) if output.progress_shown() else 0
    absent = _parallel(f"Pushing to {storage.name}", missing, one, jobs or default_jobs(storage), total_bytes,
                       getattr(storage, "on_disk", False))
    if absent:
        shown = ", ".join(absent[:3]) + (f" and {len(absent) - 3} more" if len(absent) > 3 else "")
        raise GitDataError(f"{len(absent)} object(s) are in neither the cache nor storage '{storage.name}': {shown}")
    return len(missing)


def _total_size(cache: Cache, digests: Iterable[str]) -> int:
    """How many bytes of these objects the cache holds."""
    total = 0
    for digest in digests:
        try:
            total += os.stat(cache.object_path(digest)).st_size
        except FileNotFoundError:
            pass
    return total


def upload_missing(project: Project, digests: Iterable[str], storage_name: str | None = None,
                   jobs: int | None = None) -> int:
    return upload_with(project, open_named_storage(project, storage_name), digests, jobs)


def download_with(project: Project, storage: Storage, digests: Iterable[str], jobs: int | None = None) -> list[str]:
    """Bring into the cache, verified, the objects it lacks; returns those the storage
    does not have either."""
    cache = project.cache
    wanted = sorted(cache.missing(digests))
    if not wanted:
        return []
    present = storage.exists(wanted)
    unavailable = [d for d in wanted if d not in present]
    todo = [d for d in wanted if d in present]
    download_bytes = getattr(storage, "download_bytes", None)

    def fetch(digest: str) -> int:
        tmp = cache.temp_name()   # only a name: small objects never touch it
        try:
            data = download_bytes(digest, SMALL_FILE, tmp) if download_bytes is not None else None
            if data is not None:
                cache.adopt_bytes(data, digest)
                return len(data)
            if download_bytes is None:
                storage.download(digest, Path(tmp))
            size = os.path.getsize(tmp)
            cache.adopt(Path(tmp), digest)
            return size
        except BaseException:
            unlink_quietly(tmp)
            raise

    def one(digest: str) -> int:
        try:
            return fetch(digest)
        except CorruptObject as exc:
            raise GitDataError(f"storage '{storage.name}': {exc}; it was not used") from None
        except GitDataError as exc:
            if "does not have object" in str(exc):
                return MISSING
            raise

    lost = _parallel(f"Fetching from {storage.name}", todo, one, jobs or default_jobs(storage), 0,
                     getattr(storage, "on_disk", False))
    return sorted(unavailable + lost)


def download_missing(project: Project, digests: Iterable[str], storage_name: str | None = None,
                     jobs: int | None = None) -> list[str]:
    return download_with(project, open_named_storage(project, storage_name), digests, jobs)


def not_in_storage(project: Project, files: Mapping[str, Entry], storage_name: str | None = None) -> list[str]:
    """Tracked paths whose content the storage lacks (for `status --storage`)."""
    storage = open_named_storage(project, storage_name)
    present = storage.exists(sorted({entry.digest for entry in files.values()}))
    return sorted(rel for rel, entry in files.items() if entry.digest not in present)
