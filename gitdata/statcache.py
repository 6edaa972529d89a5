"""Remembers digests by (path, size, mtime_ns, inode) so unchanged files are never re-hashed."""
from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Iterable

# A file modified within this window before it was read could change again within
# the same mtime tick without its stat changing ("racy git"); never remember it.
RACY_SECONDS = 0.05

Key = tuple[int, int, int]


def key_of(st: os.stat_result) -> Key:
    return (st.st_size, st.st_mtime_ns, st.st_ino)


class StatCache:
    def __init__(self, db_path: Path, workdir: Path) -> None:
        db_path.parent.mkdir(parents=True, exist_ok=True)
        self.workdir = str(workdir)
        self.db = sqlite3.connect(str(db_path), timeout=60, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS stat (worktree TEXT, path TEXT, size INTEGER, mtime_ns INTEGER,"
            " inode INTEGER, digest TEXT, PRIMARY KEY (worktree, path))"
        )
        self._rows: dict[str, tuple[Key, str]] | None = None
        self._lock = threading.Lock()
        self._pending: list[tuple[str, str, int, int, int, str]] = []

    def _all(self) -> dict[str, tuple[Key, str]]:
        with self._lock:
            return self._load()

    def _load(self) -> dict[str, tuple[Key, str]]:
        if self._rows is None:
            rows = self.db.execute(
                "SELECT path, size, mtime_ns, inode, digest FROM stat WHERE worktree = ?", (self.workdir,)
            )
            self._rows = {path: ((size, mtime, inode), digest) for path, size, mtime, inode, digest in rows}
        return self._rows

    def rows(self) -> dict[str, tuple[Key, str]]:
        """path -> ((size, mtime_ns, inode), digest), for hot loops that look up every file."""
        return self._rows if self._rows is not None else self._all()

    def lookup(self, path: str, st: os.stat_result, algorithm: str) -> str | None:
        rows = self._rows if self._rows is not None else self._all()
        row = rows.get(path)
        if row is None or row[0] != key_of(st) or not row[1].startswith(algorithm + ":"):
            return None
        return row[1]

    def remember(self, items: Iterable[tuple[str, os.stat_result, str]], read_after: float) -> None:
        """Note digests of files stat-ed and then read after the time `read_after`;
        `flush` stores them."""
        rows = [
            (self.workdir, path, *key_of(st), digest)
            for path, st, digest in items
            if read_after - st.st_mtime > RACY_SECONDS
        ]
        with self._lock:
            self._pending += rows
            if self._rows is not None:
                for row in rows:
                    self._rows[row[1]] = ((row[2], row[3], row[4]), row[5])

    def flush(self) -> None:
        with self._lock:
            rows, self._pending = self._pending, []
        if not rows:
            return
        for attempt in range(50):
            try:
                with self.db:  # one transaction, not one per row
                    self.db.execute("BEGIN")
                    self.db.executemany("INSERT OR REPLACE INTO stat VALUES (?, ?, ?, ?, ?, ?)", rows)
                return
            except sqlite3.OperationalError:
                time.sleep(0.1)
        # Only a cache: losing an update costs a re-hash later.

    def close(self) -> None:
        self.flush()
        self.db.close()


def open_stat_cache(data_dir: Path, workdir: Path) -> StatCache:
    return StatCache(data_dir / "statcache.sqlite", workdir)
