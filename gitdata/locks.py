"""Locks scoped to what a command changes, under the shared local state dir."""
from __future__ import annotations

import hashlib
from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator

from gitdata.errors import GitDataError

if TYPE_CHECKING:
    from gitdata.git import GitRepo

TIMEOUT = 600.0


@contextmanager
def lock(repo: GitRepo, name: str, timeout: float = TIMEOUT) -> Iterator[None]:
    import filelock

    lock_dir = repo.data_dir / "locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha1(f"{repo.workdir}\0{name}".encode("utf-8", "surrogateescape")).hexdigest()[:20]
    try:
        with filelock.FileLock(str(lock_dir / f"{key}.lock"), timeout=timeout):
            yield
    except filelock.Timeout:
        raise GitDataError(f"another git-data command holds the lock for {name} (waited {timeout:.0f} s)") from None
