"""Locks scoped to what a command changes, under the shared local state dir.

flock(2) on a file per lock: the kernel drops it when the process dies, so a
killed command never leaves a stale lock behind."""
from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator

from gitdata.errors import GitDataError
from gitdata.hashing import short_key

if TYPE_CHECKING:
    from gitdata.git import GitRepo

TIMEOUT = 600.0


@contextmanager
def lock(repo: GitRepo, name: str, timeout: float = TIMEOUT) -> Iterator[None]:
    lock_dir = repo.data_dir / "locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    key = short_key(f"{repo.workdir}\0{name}")
    fd = os.open(lock_dir / f"{key}.lock", os.O_RDWR | os.O_CREAT, 0o666)
    try:
        _acquire(fd, name, timeout)
        yield
    finally:
        os.close(fd)  # releases the lock


def _acquire(fd: int, name: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    pause = 0.001
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise GitDataError(f"another git-data command holds the lock for {name} (waited {timeout:.0f} s)") from None
            time.sleep(pause)
            pause = min(pause * 2, 0.05)
