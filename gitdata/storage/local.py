"""A storage in a local directory (or a mounted network share)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator
from urllib.parse import unquote, urlparse

from gitdata.errors import GitDataError
from gitdata.fsutil import made_parent, unique_suffix, unlink_quietly, write_named, write_new
from gitdata.storage import MARKER, MARKER_TEXT, StorageConfig, digest_of_key, key_of, url_scheme

if TYPE_CHECKING:
    from gitdata.git import GitRepo

# A directory no bigger than this many bytes per name looked up is listed rather
# than stat-ed name by name: about 7 entries, which list faster than one stat.
LISTING_BYTES_PER_LOOKUP = 512


def local_path(repo: GitRepo | None, url: str) -> Path:
    scheme = url_scheme(url)
    if scheme == "file":
        parsed = urlparse(url)
        if parsed.netloc not in ("", "localhost"):
            raise GitDataError(f"storage URL '{url}': a file:// URL names no other host (mount the share "
                               "and give its path)")
        url = unquote(parsed.path)
    elif scheme is not None:
        raise GitDataError(f"storage URL '{url}' is not a local path")
    path = Path(os.path.expanduser(url))
    if not path.is_absolute() and repo is not None:
        path = repo.workdir / path
    return path


def copy_bytes(src: str | Path, dest: str | Path, mode: int) -> int:
    """Copy a file into a new file created with `mode`, in the kernel where possible,
    with as few system calls as a copy can take. Returns the size."""
    fd_in = os.open(src, os.O_RDONLY)
    try:
        fd_out = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            size = os.fstat(fd_in).st_size
            done = 0
            try:
                while done < size:
                    sent = os.sendfile(fd_out, fd_in, done, size - done)
                    if sent == 0:
                        break
                    done += sent
            except OSError:
                # Some file systems refuse sendfile: plain reads and writes.
                os.lseek(fd_in, 0, os.SEEK_SET)
                os.lseek(fd_out, 0, os.SEEK_SET)
                os.ftruncate(fd_out, 0)
                while chunk := os.read(fd_in, 1 << 20):
                    os.write(fd_out, chunk)
            return size
        finally:
            os.close(fd_out)
    finally:
        os.close(fd_in)


class LocalStorage:
    default_jobs = 8
    on_disk = True   # objects move in microseconds: transfers start on one thread

    def __init__(self, name: str, root: Path) -> None:
        self.name, self.root = name, root
        self._prefix = f"{root}{os.sep}"
        self._ready = False
        self._dirs: set[str] = set()

    @classmethod
    def from_config(cls, repo: GitRepo, config: StorageConfig) -> LocalStorage:
        return cls(config.name, local_path(repo, config.url))

    def describe(self) -> str:
        return f"local directory {self.root}"

    def _path(self, digest: str) -> str:
        """Where an object lives (a string: this is on hot paths)."""
        return self._prefix + key_of(digest)

    def _check_root(self) -> None:
        """A missing directory is more likely an unmounted share than an empty storage."""
        if not self.root.is_dir():
            raise GitDataError(f"storage '{self.name}': directory {self.root} does not exist "
                               "(is the share mounted? to start a new storage there, create the directory)")

    def prepare(self, create: bool = False) -> None:
        """Mark the directory as a storage before the first upload. A missing directory
        is created only when the storage is defined (`create`): later, a missing
        directory is more likely an unmounted share than a wish for a new storage."""
        if self._ready:
            return
        marker = self.root / MARKER
        if not create:
            self._check_root()
        if not marker.exists():
            # a marker temp file is what a push killed right here leaves: not foreign content
            if self.root.is_dir() and any(p.name != MARKER and not (p.name.startswith(f".{MARKER}.")
                                                                    and p.name.endswith(".tmp"))
                                          for p in self.root.iterdir()) \
                    and not any((self.root / a).is_dir() for a in ("b3", "sha256", "b2b256", "sha3-256")):
                raise GitDataError(f"storage '{self.name}': {self.root} is not empty and is not a git-data "
                                   "storage; point the storage at an empty or new directory")
            try:
                self.root.mkdir(parents=True, exist_ok=True)
                tmp = self.root / f".{MARKER}.{unique_suffix()}.tmp"
                tmp.write_bytes(MARKER_TEXT)
                os.replace(tmp, marker)
            except OSError as exc:
                raise GitDataError(f"storage '{self.name}': cannot write to {self.root}: {exc.strerror}") from None
        self._ready = True

    def exists(self, digests: list[str]) -> set[str]:
        """Which of these objects the storage holds, looked up per object directory:
        one stat shows an absent directory (nothing wanted is there), a listing
        answers when the directory holds few more names than are asked about, a
        stat per object when it holds many more."""
        self._check_root()
        by_dir: dict[str, list[tuple[str, str]]] = {}
        for digest in digests:
            directory, _, name = self._path(digest).rpartition(os.sep)
            by_dir.setdefault(directory, []).append((digest, name))
        found: set[str] = set()
        for directory, wanted in by_dir.items():
            try:
                size = os.stat(directory).st_size
            except (FileNotFoundError, NotADirectoryError):
                continue
            if size <= LISTING_BYTES_PER_LOOKUP * len(wanted):
                names = set(os.listdir(directory))
                found.update(digest for digest, name in wanted if name in names)
            else:
                found.update(digest for digest, name in wanted if os.path.exists(f"{directory}{os.sep}{name}"))
        return found

    def list_digests(self) -> Iterator[str]:
        self._check_root()
        for algo_dir in sorted(self.root.iterdir()):
            if not algo_dir.is_dir() or algo_dir.name.startswith("."):
                continue
            for prefix in sorted(algo_dir.iterdir()):
                if not prefix.is_dir():
                    continue
                for item in sorted(os.listdir(prefix)):
                    digest = digest_of_key(f"{algo_dir.name}/{prefix.name}/{item}")
                    if digest:
                        yield digest

    def upload(self, digest: str, src: Path) -> None:
        self._put(digest, lambda tmp: copy_bytes(src, tmp, 0o444))

    def upload_bytes(self, digest: str, data: bytes) -> None:
        """upload() of a small object already read (and verified) by the caller."""
        self.prepare()
        final = self._path(digest)
        if not write_named(made_parent(final, self._dirs), final, data, 0o444):
            self._put(digest, lambda tmp: write_new(tmp, data, 0o444))

    def _put(self, digest: str, write: Callable[[str], object]) -> None:
        """Write an object to a temp name beside its final one, then rename it there."""
        self.prepare()
        final = self._path(digest)
        tmp = f"{made_parent(final, self._dirs)}{os.sep}.{final.rpartition(os.sep)[2][:16]}.{unique_suffix()}.tmp"
        try:
            write(tmp)
            os.replace(tmp, final)
        except BaseException:
            unlink_quietly(tmp)
            raise

    def download(self, digest: str, dest: Path) -> None:
        try:
            copy_bytes(self._path(digest), dest, 0o644)
        except FileNotFoundError:
            raise self._lacks(digest) from None

    def download_bytes(self, digest: str, limit: int, dest: str | Path) -> bytes | None:
        """The object's bytes when it is no bigger than `limit`, else None once it is in `dest`."""
        try:
            with open(self._path(digest), "rb", buffering=0) as handle:
                if os.fstat(handle.fileno()).st_size <= limit:
                    return handle.read()
        except FileNotFoundError:
            raise self._lacks(digest) from None
        self.download(digest, Path(dest))
        return None

    def _lacks(self, digest: str) -> GitDataError:
        return GitDataError(f"storage '{self.name}' does not have object {digest}")

    def delete(self, digest: str) -> None:
        path = Path(self._path(digest))
        try:
            path.unlink()
        except FileNotFoundError:
            return
        except PermissionError:
            os.chmod(path.parent, 0o755)
            path.unlink()
