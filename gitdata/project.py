"""Opening a git-data project and resolving user paths against its manifests."""
from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Iterable, NamedTuple

from gitdata.cache import Cache, open_cache
from gitdata.errors import GitDataError
from gitdata.git import GitRepo, find_repo
from gitdata.manifest import Entry, Tracked, read_workspace
from gitdata.paths import is_under, to_relpath
from gitdata.statcache import StatCache, memo_path, open_stat_cache

GITDATA_CONFIG = ".gitdata/config"


class Project(NamedTuple):
    repo: GitRepo
    cache: Cache

    @property
    def workdir(self) -> Path:
        return self.repo.workdir

    def stat_cache(self) -> StatCache:
        return open_stat_cache(self.repo.data_dir, self.repo.workdir)

    def tracked(self) -> Tracked:
        return read_workspace(self.repo.workdir, memo_path(self.repo.data_dir, self.repo.workdir, "manifests"))


def open_project(start: str | os.PathLike[str] | None = None) -> Project:
    repo = find_repo(start)
    if not (repo.workdir / GITDATA_CONFIG).exists():
        raise GitDataError(f"git-data is not initialised in {repo.workdir}; run 'git data init'")
    return Project(repo, open_cache(repo.data_dir))


def has_glob(text: str) -> bool:
    return any(c in text for c in "*?[")


def expand_globs(args: Iterable[str]) -> list[str]:
    """Arguments with shell-style globs expanded (for shells that did not)."""
    expanded = []
    for arg in args:
        if has_glob(arg) and not os.path.lexists(arg):
            matches = sorted(glob.glob(arg, recursive=True))
            if not matches:
                raise GitDataError(f"pathspec '{arg}' did not match any files")
            expanded += matches
        else:
            expanded.append(arg)
    return expanded


def relpaths(project: Project, args: Iterable[str]) -> list[str]:
    return [to_relpath(project.workdir, arg) for arg in expand_globs(args)]


def select(tracked: Tracked, scopes: list[str], what: str = "tracked",
           new_files: Path | None = None) -> dict[str, Entry]:
    """Tracked entries under any of the scopes (files or directories); each scope must match.
    With `new_files` (the worktree), a scope may also be an existing untracked path inside
    a directory tracked whole: status lists it and commit records it."""
    if not scopes or "" in scopes:
        return dict(tracked.files)
    selected: dict[str, Entry] = {}
    for scope in scopes:
        found = tracked.under(scope)
        if not found and scope not in tracked.whole_dirs and not (
                new_files is not None and is_new_in_whole_dir(tracked, scope, new_files)):
            raise GitDataError(f"'{scope}' is not {what} by git-data")
        selected.update(found)
    return selected


def is_new_in_whole_dir(tracked: Tracked, rel: str, workdir: Path) -> bool:
    """Whether `rel` exists in the worktree inside a directory tracked whole."""
    return any(is_under(rel, d) for d in tracked.whole_dirs) and os.path.lexists(workdir / rel)


def scopes_or_all(project: Project, args: list[str]) -> list[str]:
    return relpaths(project, args) if args else [""]


def under_any(rel: str, scopes: list[str]) -> bool:
    return any(is_under(rel, scope) for scope in scopes)
