"""The Python API: `from gitdata import Repo`.

    repo = Repo("path/to/checkout")
    repo.add("data")
    repo.status()                       # {'modified': [...], 'missing': [...], ...}
    with repo.open("data/train.csv", rev="v1") as f:
        header = f.readline()

Every method calls the same typed function as the command of the same name, so
the API and the CLI cannot drift apart. Relative paths are relative to the
repository root (not to the process's current directory). Failures raise
`gitdata.errors.GitDataError`; progress chatter is silenced unless `verbose`.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Iterator, Sequence

from gitdata import output
from gitdata.errors import GitDataError

if TYPE_CHECKING:
    from gitdata.commands.check_ignore import Match
    from gitdata.commands.ls import Listed
    from gitdata.commands.mv import Move
    from gitdata.manifest import Entry
    from gitdata.project import Project
    from gitdata.workspace import RecheckResult



class Repo:
    """A git-data repository: the git worktree containing `path` (default: the current directory)."""

    def __init__(self, path: str | os.PathLike[str] | None = None, verbose: bool = False) -> None:
        from gitdata.git import find_repo

        self._git = find_repo(Path(path).absolute() if path is not None else None)
        self.verbose = verbose

    def __repr__(self) -> str:
        return f"Repo({str(self.root)!r})"

    # -- plumbing ------------------------------------------------------------

    @property
    def root(self) -> Path:
        """The absolute path of the worktree."""
        return self._git.workdir

    @classmethod
    def init(cls, path: str | os.PathLike[str] | None = None, force: bool = False,
             algorithm: str | None = None, verbose: bool = False) -> Repo:
        """Set up git-data in an existing git repository (harmless when it is already).
        `algorithm` (default b3) is for new digests; given to a project set up already,
        it replaces the project's core.hash."""
        from gitdata.commands.init import init

        repo = cls(path, verbose)
        with repo._output():
            init(repo._git, force=force, algorithm=algorithm)
        return repo

    def _project(self) -> Project:
        from gitdata.project import open_project

        return open_project(self.root)

    def _abs(self, paths: Sequence[str | os.PathLike[str]]) -> list[str]:
        return [str(self.root / p) for p in paths]

    def _scopes(self, project: Project, paths: Sequence[str | os.PathLike[str]]) -> list[str]:
        from gitdata.project import relpaths

        return relpaths(project, self._abs(paths)) if paths else [""]

    @contextmanager
    def _output(self) -> Iterator[None]:
        saved = output._level
        output.set_level(output.VERBOSE if self.verbose else output.QUIET)
        try:
            yield
        finally:
            output.set_level(saved)

    # -- files ---------------------------------------------------------------

    def add(self, *paths: str | os.PathLike[str], method: str | None = None, no_commit: bool = False,
            include_git_files: bool = False, commit: bool = False, message: str | None = None) -> list[str]:
        """Track files and directories; returns the paths staged in git's index."""
        from gitdata.commands.add import add

        _need(paths, "add")
        project = self._project()
        with self._output():
            return add(project, self._scopes(project, paths), method=method, no_commit=no_commit,
                       include_git_files=include_git_files, commit=commit, message=message)

    def status(self, *paths: str | os.PathLike[str]) -> dict[str, list[str]]:
        """What needs attention: {'modified', 'missing', 'not_in_cache', 'untracked'} -> paths."""
        from gitdata.cleanmemo import workspace_status

        project = self._project()
        scopes = self._scopes(project, paths)
        with self._output():
            status = workspace_status(project, scopes)[0]
        return dict(status._asdict())

    def checkout(self, *paths: str | os.PathLike[str], method: str | None = None,
                 force: bool = False) -> RecheckResult:
        """Bring workspace files to the manifests. Raises (after restoring what it could)
        when a modified file was kept or content is missing from the cache."""
        from gitdata.commands.checkout import checkout, report

        project = self._project()
        with self._output():
            result = checkout(project, self._scopes(project, paths), method=method, force=force)
            report(result)
        return result

    def commit(self, *paths: str | os.PathLike[str], git_commit: bool = False,
               message: str | None = None) -> list[str]:
        """Carry changed tracked files into the cache and record them; returns the paths staged.
        With `git_commit`, also makes a git commit of just those paths."""
        from gitdata.commands.commit import commit

        project = self._project()
        with self._output():
            return commit(project, self._scopes(project, paths), commit=git_commit, message=message)

    def ls(self, *paths: str | os.PathLike[str], untracked: bool = False, sort: str = "name",
           reverse: bool = False, show_dirs: bool = False) -> list[Listed]:
        """Tracked (and untracked) files with their status letter, size, digest and method."""
        from gitdata.commands.ls import ls

        project = self._project()
        with self._output():
            return ls(project, self._scopes(project, paths), untracked=untracked, explicit=bool(paths),
                      show_dirs=show_dirs, sort=sort, reverse=reverse)

    def tracked(self, rev: str | None = None) -> dict[str, Entry]:
        """Every tracked file -> its manifest entry, in the workspace or at a revision."""
        project = self._project()
        if rev is None:
            return dict(project.tracked().files)
        from gitdata.git import gitdata_tree
        from gitdata.manifest import read_tree

        return dict(read_tree(project.repo, gitdata_tree(project.repo, rev)).files)

    def mv(self, sources: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
           destination: str | os.PathLike[str], **options: Any) -> list[Move]:
        """Move tracked files (see `git data mv`: no_checkout, method, name_only, force, dry_run)."""
        return self._relocate(sources, destination, keep_source=False, **options)

    def cp(self, sources: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
           destination: str | os.PathLike[str], **options: Any) -> list[Move]:
        """Copy tracked files (see `git data cp`: no_checkout, method, name_only, force, dry_run)."""
        return self._relocate(sources, destination, keep_source=True, **options)

    def _relocate(self, sources: Any, destination: str | os.PathLike[str], keep_source: bool,
                  **options: Any) -> list[Move]:
        from gitdata.commands.mv import relocate

        allowed = {"no_checkout", "method", "name_only", "force", "dry_run"}
        unknown = set(options) - allowed
        if unknown:
            raise TypeError(f"unexpected option(s): {', '.join(sorted(unknown))}")
        names = [sources] if isinstance(sources, (str, os.PathLike)) else list(sources)
        _need(names, "mv/cp")
        dst = str(destination)
        target = str(self.root / dst) + ("/" if dst.endswith("/") else "")
        project = self._project()
        with self._output():
            return relocate(project, self._abs(names), target, keep_source=keep_source, **options)

    def rm(self, *paths: str | os.PathLike[str], dry_run: bool = False) -> list[str]:
        """Stop tracking; the workspace files stay as ordinary files. Returns the paths untracked."""
        untrack = _optional("gitdata.commands.rm", "untrack", "rm")
        _need(paths, "rm")
        project = self._project()
        with self._output():
            return untrack(project, self._scopes(project, paths), dry_run)

    def hash(self, *files: str | os.PathLike[str], algorithm: str | None = None) -> dict[str, str]:
        """Digests ('<algorithm>:<hex>') of files, like `git data hash`; directories are walked."""
        from gitdata import config
        from gitdata.commands.hash import hash_files

        if algorithm is None:
            algorithm = config.hash_algorithm(self._git) if (self.root / config.CONFIG_PATH).exists() else "b3"
        results = hash_files([str(self.root / f) for f in files], algorithm)
        for result in results:
            if result.error:
                raise GitDataError(f"{result.path}: {result.error}")
        return {os.path.relpath(r.path, self.root): r.digest for r in results if r.digest}

    def check_ignore(self, *paths: str | os.PathLike[str]) -> dict[str, str | None]:
        """path -> the .gitdataignore pattern that makes `add` skip it, or None."""
        from gitdata.commands.check_ignore import check_ignore

        matches: list[Match] = check_ignore([str(p) for p in paths], start=self.root)
        for match in matches:
            if match.problem:
                raise GitDataError(match.problem)
        return {m.path: m.source for m in matches}

    def open(self, path: str | os.PathLike[str], rev: str | None = None, fetch: bool = True) -> IO[bytes]:
        """A tracked file's content (at `rev`, default the workspace manifests), read from the
        cache, fetched from the default storage when missing. Binary, read-only."""
        from gitdata import history

        project = self._project()
        rel = self._scopes(project, [path])[0]
        entry = history.entry_at(project, rel, rev)
        with self._output():
            history.require_in_cache(project, [entry.digest], fetch, {entry.digest: rel})
        return open(project.cache.path(entry.digest), "rb")

    def read_bytes(self, path: str | os.PathLike[str], rev: str | None = None) -> bytes:
        with self.open(path, rev) as handle:
            return handle.read()

    # -- storages ------------------------------------------------------------

    def push(self, *paths: str | os.PathLike[str], storage: str | None = None, rev: str | None = None,
             jobs: int | None = None, dry_run: bool = False) -> Any:
        """Upload what the tracked paths reference and the storage lacks."""
        push = _optional("gitdata.commands.push", "push", "push")
        selection = _optional("gitdata.commands.push", "selection", "push")
        project = self._project()
        with self._output():
            return push(project, selection(project, self._abs(paths), rev), storage, jobs, dry_run)

    def fetch(self, *paths: str | os.PathLike[str], storage: str | None = None, rev: str | None = None,
              jobs: int | None = None, dry_run: bool = False) -> Any:
        """Download missing objects into the cache; raises when some are in no storage."""
        fetch = _optional("gitdata.commands.fetch", "fetch", "fetch")
        report = _optional("gitdata.commands.fetch", "report", "fetch")
        selection = _optional("gitdata.commands.push", "selection", "fetch")
        project = self._project()
        with self._output():
            wanted = selection(project, self._abs(paths), rev)
            result = fetch(project, wanted, storage, jobs, dry_run)
            report(result, wanted, dry_run, False)
        return result

    def pull(self, *paths: str | os.PathLike[str], storage: str | None = None, jobs: int | None = None,
             force: bool = False) -> RecheckResult:
        """fetch, then checkout."""
        self.fetch(*paths, storage=storage, jobs=jobs)
        return self.checkout(*paths, force=force)


def _need(paths: Sequence[object], verb: str) -> None:
    if not paths:
        raise GitDataError(f"{verb}: name at least one path")


def _optional(module: str, name: str, verb: str) -> Any:
    """A function from another verb's module, which a given installation may lack."""
    import importlib

    try:
        return getattr(importlib.import_module(module), name)
    except (ModuleNotFoundError, AttributeError):
        raise GitDataError(f"'{verb}' is not available in this version") from None
