"""Content digests: `<algorithm>:<hex>` strings, computed in one read pass."""
from __future__ import annotations

import os
import re
import stat
from typing import Any, BinaryIO, Callable, NamedTuple

from gitdata.errors import GitDataError

DEFAULT_ALGORITHM = "b3"
CHUNK = 4 << 20
HASH_LAG = 16  # chunks the kernel copy may run ahead of the hashing (a one-chunk lag stalled both)

# Short algorithm names as they appear in digests and cache paths.
ALGORITHM_NAMES = {
    "b3": "b3", "blake3": "b3",
    "sha256": "sha256",
    "b2b256": "b2b256", "blake2b-256": "b2b256", "blake2b": "b2b256",
    "sha3-256": "sha3-256", "sha3_256": "sha3-256",
}
_DIGEST_RE = re.compile(r"^(b3|sha256|b2b256|sha3-256):([0-9a-f]{64})$")


class Digest(NamedTuple):
    algorithm: str
    hex: str

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"


def algorithm_name(name: str) -> str:
    try:
        return ALGORITHM_NAMES[name.lower()]
    except KeyError:
        known = ", ".join(sorted(set(ALGORITHM_NAMES)))
        raise GitDataError(f"unknown hash algorithm '{name}' (known: {known})") from None


def algorithm_argument(name: str) -> str:
    """algorithm_name() for a command-line option: a bad name is a usage error."""
    import argparse

    try:
        return algorithm_name(name)
    except GitDataError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parse_digest(text: str) -> Digest:
    match = _DIGEST_RE.match(text)
    if not match:
        raise GitDataError(f"not a digest: '{text}'")
    return Digest(match.group(1), match.group(2))


def split_digest(digest: str) -> tuple[str, str]:
    """(algorithm, hex digest), checked cheaply on this hot path: anything that could
    lead outside a directory gets parse_digest's full check, which raises."""
    algorithm, _, hexdigest = digest.partition(":")
    if len(hexdigest) != 64 or "/" in digest or "." in digest:
        algorithm, hexdigest = parse_digest(digest)
    return algorithm, hexdigest


def is_digest(text: str) -> bool:
    return bool(_DIGEST_RE.match(text))


# A forked child inherits blake3's thread pool without its threads: it hashes alone.
_in_forked_child: list[bool] = []
os.register_at_fork(after_in_child=lambda: _in_forked_child.append(True))


def new_hasher(algorithm: str, threads: bool = True) -> Any:
    """A hasher; blake3's hashes big updates on all cores unless told `threads=False`."""
    if algorithm == "b3":
        import blake3

        return blake3.blake3(max_threads=blake3.blake3.AUTO if threads and not _in_forked_child else 1)
    import hashlib  # OpenSSL's start-up cost, only for the other algorithms

    factories: dict[str, Callable[[], Any]] = {
        "sha256": hashlib.sha256,
        "b2b256": lambda: hashlib.blake2b(digest_size=32),
        "sha3-256": hashlib.sha3_256,
    }
    return factories[algorithm]()


def short_key(text: str) -> str:
    """A short file-name-safe key for any text (a worktree path, say)."""
    import blake3  # far cheaper to import than hashlib's OpenSSL

    return blake3.blake3(text.encode("utf-8", "surrogateescape")).hexdigest()[:20]


def digest_bytes(data: bytes, algorithm: str = DEFAULT_ALGORITHM) -> str:
    hasher = new_hasher(algorithm)
    hasher.update(data)
    return f"{algorithm}:{hasher.hexdigest()}"


def digest_file(path: str | os.PathLike[str], algorithm: str = DEFAULT_ALGORITHM) -> str:
    """Digest of a file, read in chunks into one buffer (memory stays flat for any
    size; blake3 hashes each chunk on all cores)."""
    with open(path, "rb", buffering=0) as handle:
        return digest_stream(handle, algorithm)


def read_buffer(handle: BinaryIO) -> bytearray:
    """A buffer for reading this stream: no bigger than the file when it is one
    (zeroing 4 MiB for each small file costs far more than hashing it)."""
    try:
        st = os.fstat(handle.fileno())
    except (AttributeError, OSError, ValueError):
        return bytearray(CHUNK)
    return bytearray(min(CHUNK, st.st_size + 1) if stat.S_ISREG(st.st_mode) else CHUNK)


def digest_stream(handle: BinaryIO, algorithm: str = DEFAULT_ALGORITHM) -> str:
    hasher = new_hasher(algorithm)
    buffer = read_buffer(handle)
    view = memoryview(buffer)
    while count := handle.readinto(buffer):  # type: ignore[attr-defined]
        hasher.update(view[:count])
    return f"{algorithm}:{hasher.hexdigest()}"


def copy_file_and_digest(src_fd: int, dst_fd: int, algorithm: str = DEFAULT_ALGORITHM) -> tuple[str, int]:
    """Copy a file in the kernel (as cp does) and digest the copy as it lands: each chunk
    is hashed, read back from the page cache, while the kernel copies the next ones. Hashing
    the destination, not the source, means the digest is always that of the bytes
    stored, even if the source changes meanwhile."""
    from collections import deque
    from concurrent.futures import Future, ThreadPoolExecutor

    # One core copies, the other hashes: a hasher of its own threads would take turns
    # with the copy for the same two cores (a tenth slower on two).
    hasher = new_hasher(algorithm, threads=False)
    offset = 0
    pending: deque[Future[None]] = deque()
    with ThreadPoolExecutor(max_workers=1) as pool:   # one worker: chunks are hashed in order
        while copied := _copy_range(src_fd, dst_fd, offset):
            pending.append(pool.submit(_hash_range, hasher, dst_fd, offset, copied))
            offset += copied
            if len(pending) > HASH_LAG:   # the copy may run ahead, not without bound
                pending.popleft().result()
        while pending:
            pending.popleft().result()
    return f"{algorithm}:{hasher.hexdigest()}", offset


def _copy_range(src_fd: int, dst_fd: int, offset: int) -> int:
    done = 0
    while done < CHUNK:
        count = os.copy_file_range(src_fd, dst_fd, CHUNK - done, offset + done, offset + done)
        if not count:
            break
        done += count
    return done


def digest_mapped(fd: int, algorithm: str = DEFAULT_ALGORITHM) -> str:
    """Digest of an open file, mapped from the page cache window by window: no copy into
    a buffer, memory stays flat, and blake3 hashes each window on all cores."""
    hasher = new_hasher(algorithm)
    size = os.fstat(fd).st_size
    for offset in range(0, size, CHUNK):
        _hash_range(hasher, fd, offset, min(CHUNK, size - offset))
    return f"{algorithm}:{hasher.hexdigest()}"


def _hash_range(hasher: Any, fd: int, offset: int, count: int) -> None:
    """Hash bytes just written, mapped straight from the page cache: reading them
    into a buffer instead costs a third more CPU."""
    import mmap

    flags = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)  # one fault per chunk, not per page
    with mmap.mmap(fd, count, flags=flags, prot=mmap.PROT_READ, offset=offset) as view:
        hasher.update(view)


def copy_and_digest(src: BinaryIO, dst: BinaryIO, algorithm: str = DEFAULT_ALGORITHM) -> tuple[str, int]:
    """Copy src to dst and digest what passed through: one read pass."""
    hasher = new_hasher(algorithm)
    buffer = read_buffer(src)
    view = memoryview(buffer)
    total = 0
    while count := src.readinto(buffer):  # type: ignore[attr-defined]
        chunk = view[:count]
        hasher.update(chunk)
        dst.write(chunk)
        total += count
    return f"{algorithm}:{hasher.hexdigest()}", total
