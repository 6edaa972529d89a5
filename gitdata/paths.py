"""Workspace paths: repo-relative, '/'-separated, never escaping the worktree."""
from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from gitdata.errors import GitDataError


def check_relpath(rel: str, source: str = "path") -> str:
    """Validate a repo-relative path that came from a file we did not write ourselves."""
    if not rel or rel.startswith("/") or "\\" in rel and os.sep == "\\":
        raise GitDataError(f"unsafe {source}: '{rel}'")
    parts = rel.split("/")
    if any(part in ("", ".", "..", ".git") for part in parts) or "\0" in rel:
        raise GitDataError(f"unsafe {source}: '{rel}'")
    return rel


def to_relpath(workdir: Path, path: str | os.PathLike[str], cwd: Path | None = None) -> str:
    """A user-supplied path as a repo-relative posix path ('' for the root).
    Refuses paths outside the worktree, including through symlinked directories,
    and paths inside the .git directory."""
    rel = worktree_relpath(workdir, path, cwd)
    if rel.split("/")[0] == ".git":
        raise GitDataError(f"'{path}' is inside the .git directory")
    return rel


def worktree_relpath(workdir: Path, path: str | os.PathLike[str], cwd: Path | None = None) -> str:
    """to_relpath(), which also takes a path inside the .git directory."""
    cwd = cwd or Path(os.getcwd())
    absolute = Path(os.path.normpath(cwd / path))
    try:
        rel = absolute.relative_to(workdir)
    except ValueError:
        raise GitDataError(f"'{path}' is outside the repository at {workdir}") from None
    parent = absolute.parent
    if absolute != workdir and parent != workdir and parent.exists():
        try:
            parent.resolve().relative_to(workdir)
        except ValueError:
            raise GitDataError(f"'{path}' leads outside the repository through a symlink") from None
    rel_posix = PurePosixPath(*rel.parts).as_posix()
    return "" if rel_posix == "." else rel_posix


def ensure_inside(workdir: Path, rel: str) -> Path:
    """Absolute path for a manifest entry; refuses one whose parent directories
    are symlinks leading out of the worktree."""
    check_relpath(rel)
    target = workdir / rel
    parent = target.parent
    while not parent.exists() and parent != workdir:
        parent = parent.parent
    try:
        parent.resolve().relative_to(workdir)
    except ValueError:
        raise GitDataError(f"refusing '{rel}': a symlink in its path leads outside the repository") from None
    return target


def leads_outside(workdir: Path, rel: str, *also: Path) -> bool:
    """Whether the path, following every symlink on its way (its own included), ends
    outside the worktree (and outside the directories `also`)."""
    real = os.path.realpath(workdir / rel)
    roots = [os.path.realpath(root) for root in (workdir, *also)]
    return not any(real == root or real.startswith(root + os.sep) for root in roots)


def parent_dir(rel: str) -> str:
    return rel.rsplit("/", 1)[0] if "/" in rel else ""


def base_name(rel: str) -> str:
    return rel.rsplit("/", 1)[-1]


def join(directory: str, name: str) -> str:
    return f"{directory}/{name}" if directory else name


def is_under(rel: str, directory: str) -> bool:
    return directory == "" or rel == directory or rel.startswith(directory + "/")
