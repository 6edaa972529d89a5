"""The content-addressed object store: `<data dir>/cache/<algorithm>/<2 hex>/<rest>`.

Objects are read-only, appear whole (an unnamed file linked under its name, or a temp
file renamed to it), and are verified against their digest on the way in."""
from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator

from gitdata.errors import CorruptObject, GitDataError
from gitdata.fsutil import clone_fd, made_parent, read_all, unique_suffix, unlink_quietly, write_named, write_new
from gitdata.hashing import (copy_and_digest, copy_file_and_digest, digest_bytes, digest_file, digest_mapped,
                             is_digest, parse_digest, split_digest)

SMALL_FILE = 1 << 20
LISTING_MEMO_LIMIT = 250_000  # objects; past this the listings are read afresh, not kept
_CREATE_RW = os.O_RDWR | os.O_CREAT | os.O_EXCL  # the copy is read back to be hashed


class Cache:
    def __init__(self, root: Path, listing_memo: Path | None = None) -> None:
        self.root = root
        self.listing_memo = listing_memo   # where missing() keeps directory listings
        self.tmp_dir = root / "tmp"
        self._prefix = str(root) + os.sep
        self._tmp_ready = False
        self._dirs: set[str] = set()

    def object_path(self, digest: str) -> str:
        """Path of an object as a string (hot path: no pathlib)."""
        algorithm, hexdigest = split_digest(digest)
        return f"{self._prefix}{algorithm}/{hexdigest[:2]}/{hexdigest[2:]}"

    def path(self, digest: str) -> Path:
        return Path(self.object_path(digest))

    def has(self, digest: str) -> bool:
        return os.path.exists(self.object_path(digest))

    def missing(self, digests: Iterable[str]) -> set[str]:
        """Which of these digests the cache lacks; lists directories when that is cheaper."""
        wanted = set(digests)
        if len(wanted) < 2000:
            return {d for d in wanted if not self.has(d)}
        return wanted.difference(*(digests for _, digests in self._listings().values()))

    def _listings(self) -> dict[str, tuple[int, list[str]]]:
        """Object directory -> (its mtime, the digests in it). A directory whose mtime is
        what the listing memo says is not listed again: adding or removing an object
        changes it."""
        import time

        from gitdata.statcache import RACY_SECONDS, load_memo

        stored = load_memo(self.listing_memo) if self.listing_memo else None
        known = stored if isinstance(stored, dict) else {}
        listings = {}
        settled = {}
        settled_before = time.time_ns() - int(RACY_SECONDS * 1e9)
        for key, path, mtime in self._object_dirs():
            row = known.get(key)
            if not (isinstance(row, tuple) and len(row) == 2 and row[0] == mtime and isinstance(row[1], list)):
                head = key.replace("/", ":", 1)   # "b3/ab" holds "b3:ab…"
                row = (mtime, [head + name for name in os.listdir(path)])
            listings[key] = row
            if mtime < settled_before:   # one changed this recently could change unseen
                settled[key] = row
        if self.listing_memo and settled != known:
            self._keep_listings(self.listing_memo, settled)
        return listings

    @staticmethod
    def _keep_listings(memo: Path, listings: dict[str, tuple[int, list[str]]]) -> None:
        from gitdata.statcache import save_memo

        if sum(len(digests) for _, digests in listings.values()) > LISTING_MEMO_LIMIT:
            unlink_quietly(str(memo))   # loading it would cost about what listing does
        else:
            save_memo(memo, listings)

    def _object_dirs(self) -> Iterator[tuple[str, str, int]]:
        """("b3/ab", its path, its mtime) for every object directory; a stray file
        where a directory belongs is not one."""
        for algo_dir in _scandir(str(self.root)):
            if algo_dir.name == "tmp" or not algo_dir.is_dir():
                continue
            for shard in _scandir(algo_dir.path):
                if shard.is_dir(follow_symlinks=False):
                    yield f"{algo_dir.name}/{shard.name}", shard.path, shard.stat(follow_symlinks=False).st_mtime_ns

    def new_temp(self) -> Path:
        return Path(self.temp_name())

    def temp_name(self) -> str:
        """A new name in the cache's temp directory, as a string (hot paths)."""
        if not self._tmp_ready:
            self.tmp_dir.mkdir(parents=True, exist_ok=True)
            self._tmp_ready = True
        return f"{self.tmp_dir}{os.sep}{unique_suffix()}"

    def add_file(self, src: str | Path, algorithm: str, expected: str | None = None) -> tuple[str, int]:
        """Copy a workspace file into the cache, hashing what is copied (one read pass).
        Returns (digest, size). With `expected`, a mismatch (the file changed since it
        was hashed) is an error and nothing enters the cache."""
        fd = os.open(src, os.O_RDONLY)   # not open(): no isatty, seek and buffer per file
        try:
            size = os.fstat(fd).st_size
            if size <= SMALL_FILE:
                data = read_all(fd, size)
                digest = digest_bytes(data, algorithm)
                self._check_expected(src, digest, expected)
                if not self.has(digest):
                    self._write_object(data, digest)
                return digest, len(data)
            tmp = self.temp_name()
            try:
                with open(fd, "rb", closefd=False) as source, \
                        open(os.open(tmp, _CREATE_RW, 0o444), "r+b") as target:
                    digest, size = _copy_into(source, target, algorithm)
                self._check_expected(src, digest, expected)
                self._place(tmp, digest)
                return digest, size
            except BaseException:
                unlink_quietly(tmp)
                raise
        finally:
            os.close(fd)

    @staticmethod
    def _check_expected(src: str | Path, digest: str, expected: str | None) -> None:
        if expected is not None and digest != expected:
            raise GitDataError(f"'{src}' changed while it was being added; run the command again")

    def _write_object(self, data: bytes, digest: str) -> None:
        final = self.object_path(digest)
        if write_named(made_parent(final, self._dirs), final, data, 0o444):
            return
        tmp = self.temp_name()
        try:
            write_new(tmp, data, 0o444)
            self._place(tmp, digest)
        except BaseException:
            unlink_quietly(tmp)
            raise

    def adopt(self, tmp: Path, expected: str) -> None:
        """Move a downloaded temp file into the cache after verifying it."""
        algorithm = parse_digest(expected).algorithm
        actual = digest_file(tmp, algorithm)
        if actual != expected:
            tmp.unlink(missing_ok=True)
            raise _corrupt(expected, actual)
        os.chmod(tmp, 0o444)
        self._place(str(tmp), expected)

    def adopt_bytes(self, data: bytes, expected: str) -> None:
        """adopt() for a small downloaded object held in memory."""
        actual = digest_bytes(data, split_digest(expected)[0])
        if actual != expected:
            raise _corrupt(expected, actual)
        self._write_object(data, expected)

    def _place(self, tmp: str, digest: str) -> None:
        """Rename a complete, read-only temp file to its final name. An object that is
        already there has the same content, so replacing it is harmless."""
        final = self.object_path(digest)
        made_parent(final, self._dirs)
        os.replace(tmp, final)

    def verify(self, digest: str) -> bool:
        path = self.path(digest)
        return path.exists() and digest_file(path, parse_digest(digest).algorithm) == digest

    def digests(self) -> Iterator[str]:
        """Every object in the cache."""
        return (digest for _, digest in self.entries() if digest is not None)

    def entries(self) -> Iterator[tuple[str, str | None]]:
        """(path, digest) for everything in the cache but its temp directory, sorted;
        the digest is None for a stray: anything not named and placed like an object
        (a .DS_Store, an editor's swap file, a file where an object directory belongs).
        Nothing may take a stray for an object: gc would remove it, fsck hash it."""
        for algo_dir in _scandir(str(self.root)):
            if algo_dir.name == "tmp":
                continue
            if not algo_dir.is_dir():
                yield algo_dir.path, None
                continue
            for shard in _scandir(algo_dir.path):
                if not shard.is_dir(follow_symlinks=False):
                    yield shard.path, None
                    continue
                for item in _scandir(shard.path):
                    digest = f"{algo_dir.name}:{shard.name}{item.name}"
                    placed = len(shard.name) == 2 and item.is_file(follow_symlinks=False)
                    yield item.path, digest if placed and is_digest(digest) else None

    def remove(self, digest: str) -> None:
        self.path(digest).unlink(missing_ok=True)

    def stamp(self) -> tuple[tuple[str, int], ...]:
        """The mtimes of the object directories. Removing an object changes its
        directory's mtime, so while the stamp is the same no object went away (a
        removed directory is missing from it)."""
        return tuple(sorted((key, mtime) for key, _, mtime in self._object_dirs()))


def _copy_into(source: BinaryIO, target: BinaryIO, algorithm: str) -> tuple[str, int]:
    """A clone where the file system can share blocks (nothing is copied, and the hash of
    the clone has every core); else a kernel copy with hashing alongside; plain reads and
    writes where the kernel or file system cannot copy_file_range. The digest is always
    of the bytes in `target`."""
    if clone_fd(source.fileno(), target.fileno()):
        return digest_mapped(target.fileno(), algorithm), os.fstat(target.fileno()).st_size
    try:
        return copy_file_and_digest(source.fileno(), target.fileno(), algorithm)
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EBADF):
            raise
    source.seek(0)
    target.seek(0)
    target.truncate()
    return copy_and_digest(source, target, algorithm)


def _scandir(path: str) -> list[os.DirEntry[str]]:
    """A directory's entries by name; none when it is gone (a gc racing with another)."""
    try:
        with os.scandir(path) as found:
            return sorted(found, key=lambda entry: entry.name)
    except (FileNotFoundError, NotADirectoryError):
        return []


def _corrupt(expected: str, actual: str) -> CorruptObject:
    return CorruptObject(f"object {expected} is corrupt (its content hashes to {actual})")


def open_cache(data_dir: Path) -> Cache:
    return Cache(data_dir / "cache", data_dir / "statcache" / "objects.listing")
