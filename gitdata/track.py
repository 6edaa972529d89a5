"""Carry workspace files into the cache and record them: the heart of add and commit."""
from __future__ import annotations

import math
import os
import stat
import time
from typing import Iterable, NamedTuple

from gitdata import git, gitignore, manifest, output
from gitdata.config import CONFIG_PATH
from gitdata.errors import GitDataError
from gitdata.fsutil import is_executable, materialise
from gitdata.hashing import digest_file
from gitdata.ignore import IGNORE_FILE
from gitdata.manifest import Entry, Tracked
from gitdata.paths import is_under
from gitdata.project import Project
from gitdata.statcache import Key, key_of
from gitdata.workspace import links_to_cache, parallel_map, warn_copied_links

METHODS = manifest.METHODS
SETUP_FILES = (CONFIG_PATH, IGNORE_FILE)


class Recorded(NamedTuple):
    changes: dict[str, Entry | None]
    unchanged: int
    damaged: list[str]   # links into the cache written through: their old objects are damaged


def cache_files(project: Project, rels: Iterable[str], tracked: Tracked, algorithm: str,
                method: str | None, default_method: str, no_commit: bool = False) -> Recorded:
    """Hash each file (one read pass, copying into the cache unless `no_commit`) and
    build its new entry. Files the stat cache knows and the cache holds are not read."""
    stats = project.stat_cache()
    cache = project.cache
    started = time.time()
    prefix = f"{project.workdir}{os.sep}"

    def one(rel: str) -> tuple[tuple | None, tuple[Key, str] | None, tuple[Key, str] | None, str]:
        """The new entry as a plain tuple (None: unchanged); (stat key, digest) of the
        file as hashed, or else as put in place from the cache; a note: "damaged" (it was
        written through its link into the cache), "copied" (a copy stands in for a hard
        link) or "" (plain values: this may run in a forked process)."""
        path = prefix + rel
        old = tracked.files.get(rel)
        wanted = method or (old.method if old else default_method)
        lst = os.lstat(path)
        st = os.stat(path) if stat.S_ISLNK(lst.st_mode) else lst
        # A link into the cache may have been written through (as root, or after a chmod):
        # it is judged by its content like any file, but hashed before it is copied.
        linked = old is not None and links_to_cache(path, lst, old, cache)
        digest = stats.lookup(rel, st, algorithm)
        hashed = None
        if digest is None and linked:
            digest = digest_file(path, algorithm)
            hashed = key_of(st), digest
        if digest is None or not (no_commit or cache.has(digest)):
            if no_commit:
                digest = digest_file(path, algorithm)
            else:
                digest, _ = cache.add_file(path, algorithm)
            hashed = key_of(st), digest
        executable = old.executable if old and linked else is_executable(st)   # a link shows the object's mode
        entry = Entry(digest, st.st_size, executable, wanted, old.extra if old else ())
        if old == entry:
            return None, hashed, None, ""
        note = "damaged" if old and linked and digest != old.digest else ""
        if no_commit or (wanted == "copy" and not linked):
            return tuple(entry), hashed, None, note
        used = materialise(cache.object_path(digest), path, wanted, entry.executable)
        if wanted == "hardlink" and used == "copy":
            note = note or "copied"
        return tuple(entry), None, (key_of(os.stat(path)), digest), note

    rel_list = sorted(set(rels))
    same = _unchanged_copies(project, rel_list, tracked, method, stats.rows(), check_cache=not no_commit)
    rel_list = [rel for rel in rel_list if rel not in same]
    with output.progress("Adding", len(rel_list)) as bar:
        results = parallel_map(one, rel_list, forked=True, bar=bar)
    outcomes = list(zip(rel_list, results))
    changes: dict[str, Entry | None] = {rel: Entry(*entry) for rel, (entry, _, _, _) in outcomes
                                        if entry is not None}
    stats.remember_keys(((rel, *hashed) for rel, (_, hashed, _, _) in outcomes if hashed), started)
    # the bytes of a file put in place from the cache are the object's, known since it entered
    stats.remember_keys(((rel, *placed) for rel, (_, _, placed, _) in outcomes if placed), math.inf)
    stats.flush()
    warn_copied_links([rel for rel, (_, _, _, note) in outcomes if note == "copied"])
    return Recorded(changes, len(same) + len(rel_list) - len(changes),
                    [rel for rel, (_, _, _, note) in outcomes if note == "damaged"])


def _unchanged_copies(project: Project, rels: list[str], tracked: Tracked, method: str | None,
                      known: dict[str, tuple[tuple[int, int, int], str]], check_cache: bool) -> set[str]:
    """Tracked plain copies whose stat the stat cache vouches for as their recorded
    content (and whose object the cache holds): a serial stat pass, no thread pool,
    so re-adding a big tree where one file changed costs little more than a status."""
    prefix = f"{project.workdir}{os.sep}"
    candidates: dict[str, str] = {}
    if method and method != "copy":
        return set()
    entries, lstat, is_regular = tracked.files, os.lstat, stat.S_ISREG
    for rel in rels:
        old = entries.get(rel)
        row = known.get(rel)
        if old is None or row is None or row[1] != old.digest or old.method != "copy":
            continue
        try:
            st = lstat(prefix + rel)
        except OSError:
            continue
        if (row[0] == (st.st_size, st.st_mtime_ns, st.st_ino) and st.st_nlink == 1 and is_regular(st.st_mode)
                and bool(st.st_mode & stat.S_IXUSR) == old.executable):
            candidates[rel] = old.digest
    absent = project.cache.missing(candidates.values()) if check_cache else set()
    return {rel for rel, digest in candidates.items() if digest not in absent}


def record(project: Project, changes: dict[str, Entry | None], whole_add: Iterable[str] = (),
           whole_remove: Iterable[str] = (), ignore: Iterable[str] = (), unignore: Iterable[str] = ()) -> list[str]:
    """Write manifests and .gitignore files, stage them in git's index; returns what was staged."""
    staged = manifest.update(project.repo, changes, whole_add, whole_remove)
    staged += gitignore.ignore_paths(project.workdir, ignore)
    staged += gitignore.unignore_paths(project.workdir, unignore)
    if staged:
        git.stage(project.repo, staged)
    return staged


def ignore_targets(rels: Iterable[str], whole_dirs: Iterable[str]) -> list[str]:
    """The paths to list in .gitignore: whole directories, and files not under one."""
    whole = sorted(set(whole_dirs))
    return whole + [rel for rel in rels if not any(is_under(rel, d) for d in whole)]


def commit_if_asked(project: Project, staged: list[str], commit: bool, message: str | None, default: str) -> None:
    """--commit: commit what this command staged, and git-data's own set-up files that
    `git data init` staged and nobody committed yet (without them a clone is not
    initialised); nothing else the user staged."""
    if not commit:
        return
    if not staged:
        raise GitDataError("nothing to commit: the data is already recorded")
    setup = git.staged_new(project.repo, SETUP_FILES)
    oid = git.commit_paths(project.repo, staged + setup, message or default)
    output.info(f"committed {oid[:10]}: {message or default}")


def check_method(method: str | None) -> None:
    if method is not None and method not in METHODS:
        raise GitDataError(f"unknown method '{method}' (choose from {', '.join(METHODS)})")
