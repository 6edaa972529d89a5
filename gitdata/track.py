"""Carry workspace files into the cache and record them: the heart of add and commit."""
from __future__ import annotations

import os
import stat
import time
from typing import Iterable, NamedTuple

from gitdata import git, gitignore, manifest, output
from gitdata.errors import GitDataError
from gitdata.fsutil import is_executable, materialise
from gitdata.manifest import Entry, Tracked
from gitdata.paths import is_under
from gitdata.project import Project
from gitdata.workspace import links_to_cache, parallel_map

METHODS = manifest.METHODS


class Recorded(NamedTuple):
    changes: dict[str, Entry | None]
    unchanged: int


def cache_files(project: Project, rels: Iterable[str], tracked: Tracked, algorithm: str,
                method: str | None, default_method: str, no_commit: bool = False) -> Recorded:
    """Hash each file (one read pass, copying into the cache unless `no_commit`) and
    build its new entry. Files the stat cache knows and the cache holds are not read."""
    stats = project.stat_cache()
    cache = project.cache
    started = time.time()
    fresh: list[tuple[str, os.stat_result, str]] = []

    prefix = f"{project.workdir}{os.sep}"

    def one(rel: str) -> tuple[str, Entry | None]:
        path = prefix + rel
        old = tracked.files.get(rel)
        wanted = method or (old.method if old else default_method)
        lst = os.lstat(path)
        if old and links_to_cache(path, lst, old, cache):
            if wanted == old.method:
                return rel, None
            materialise(cache.object_path(old.digest), path, wanted, old.executable)
            return rel, old._replace(method=wanted)
        st = os.stat(path) if stat.S_ISLNK(lst.st_mode) else lst
        digest = stats.lookup(rel, st, algorithm)
        if digest is None or not (no_commit or cache.has(digest)):
            if no_commit:
                from gitdata.hashing import digest_file

                digest = digest_file(path, algorithm)
            else:
                digest, _ = cache.add_file(path, algorithm)
            fresh.append((rel, st, digest))
        entry = Entry(digest, st.st_size, is_executable(st), wanted, old.extra if old else ())
        if old == entry:
            return rel, None
        if wanted != "copy" and not no_commit:
            materialise(cache.object_path(digest), path, wanted, entry.executable)
        return rel, entry

    changes: dict[str, Entry | None] = {}
    unchanged = 0
    rel_list = sorted(set(rels))
    with output.progress("Adding", len(rel_list)) as bar:
        for rel, entry in parallel_map(one, rel_list):
            bar.advance()
            if entry is None:
                unchanged += 1
            else:
                changes[rel] = entry
    stats.remember(fresh, started)
    stats.flush()
    return Recorded(changes, unchanged)


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
    if not commit:
        return
    if not staged:
        raise GitDataError("nothing to commit: the data is already recorded")
    oid = git.commit_paths(project.repo, staged, message or default)
    output.info(f"committed {oid[:10]}: {message or default}")


def check_method(method: str | None) -> None:
    if method is not None and method not in METHODS:
        raise GitDataError(f"unknown method '{method}' (choose from {', '.join(METHODS)})")
