"""Remembers digests by (path, size, mtime_ns, inode) so unchanged files are never re-hashed.

One marshal file per worktree under the data dir: loading 100,000 rows takes a few
milliseconds. A writer merges its rows into what is on disk under a lock and replaces
the file atomically. It is only a cache: a damaged or lost file costs a re-hash."""
from __future__ import annotations

import fcntl
import marshal
import os
import threading
from pathlib import Path
from typing import Any, Iterable

from gitdata.fsutil import atomic_write
from gitdata.hashing import short_key

# A file modified within this window before it was read could change again within
# the same mtime tick without its stat changing ("racy git"); never remember it.
RACY_SECONDS = 0.05
FORMAT = "gitdata-statcache-1"

Key = tuple[int, int, int]
Rows = dict[str, tuple[Key, str]]


def key_of(st: os.stat_result) -> Key:
    return (st.st_size, st.st_mtime_ns, st.st_ino)


class StatCache:
    def __init__(self, path: Path, workdir: Path) -> None:
        self.path = path
        self.workdir = str(workdir)
        self._rows: Rows | None = None
        self._lock = threading.Lock()
        self._pending: Rows = {}
        self._read_stamp: tuple[int, int, int] | None = None  # of the file _rows came from

    def _read(self) -> Rows:
        try:
            with open(self.path, "rb") as handle:
                self._read_stamp = _stamp(os.fstat(handle.fileno()))
                stored = marshal.loads(handle.read())  # marshal.load reads piecemeal: 10x slower
        except (OSError, EOFError, ValueError, TypeError):
            return {}
        if not (isinstance(stored, tuple) and len(stored) == 3 and stored[:2] == (FORMAT, self.workdir)):
            return {}
        return stored[2]

    def rows(self) -> Rows:
        """path -> ((size, mtime_ns, inode), digest), for hot loops that look up every file."""
        if self._rows is None:
            with self._lock:
                if self._rows is None:
                    self._rows = self._read()
        return self._rows

    def lookup(self, path: str, st: os.stat_result, algorithm: str | None = None) -> str | None:
        """The digest known for the file at this stat (of `algorithm`, when given)."""
        row = self.rows().get(path)
        if row is None or row[0] != key_of(st) or (algorithm is not None and not row[1].startswith(algorithm + ":")):
            return None
        return row[1]

    def remember(self, items: Iterable[tuple[str, os.stat_result, str]], read_after: float) -> None:
        """Note digests of files stat-ed and then read after the time `read_after`;
        `flush` stores them."""
        self.remember_keys(((path, key_of(st), digest) for path, st, digest in items), read_after)

    def remember_keys(self, items: Iterable[tuple[str, Key, str]], read_after: float) -> None:
        """remember() by stat key; `read_after` math.inf for files we wrote ourselves."""
        rows = {path: (key, digest) for path, key, digest in items if read_after - key[1] / 1e9 > RACY_SECONDS}
        with self._lock:
            self._pending.update(rows)
            if self._rows is not None:
                self._rows.update(rows)

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(f"{self.path}.lock", "a") as guard:
                fcntl.flock(guard, fcntl.LOCK_EX)  # other writers' rows are merged, not lost
                if self._rows is not None and self._read_stamp == _on_disk(self.path):
                    rows = self._rows  # nobody wrote since we read: ours already holds `pending`
                else:
                    rows = self._rows = self._read()
                    rows.update(pending)
                atomic_write(self.path, marshal.dumps((FORMAT, self.workdir, rows)))
                self._read_stamp = _on_disk(self.path)
        except OSError:
            pass  # only a cache (a full disk, say): losing an update costs a re-hash later

    def close(self) -> None:
        self.flush()


def _stamp(st: os.stat_result) -> tuple[int, int, int]:
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _on_disk(path: Path) -> tuple[int, int, int] | None:
    try:
        return _stamp(os.stat(path))
    except FileNotFoundError:
        return None


def load_memo(path: Path) -> object:
    """What a memo file holds, or None when it is missing or damaged (the caller checks
    the shape: a memo is only ever a cache)."""
    try:
        with open(path, "rb") as handle:
            return marshal.loads(handle.read())  # marshal.load reads piecemeal: 10x slower
    except (OSError, EOFError, ValueError, TypeError):
        return None


def save_memo(path: Path, value: Any) -> None:
    try:
        atomic_write(path, marshal.dumps(value))
    except OSError:
        pass  # only a cache (a full disk, say): losing it costs time later


def memo_path(data_dir: Path, workdir: Path, kind: str) -> Path:
    """Where a per-worktree cache of this kind lives."""
    return data_dir / "statcache" / f"{short_key(str(workdir))}.{kind}"


def open_stat_cache(data_dir: Path, workdir: Path) -> StatCache:
    return StatCache(memo_path(data_dir, workdir, "files"), workdir)
