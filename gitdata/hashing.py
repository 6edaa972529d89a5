"""Content digests: `<algorithm>:<hex>` strings, computed in one read pass."""
from __future__ import annotations

import hashlib
import mmap
import os
import re
from typing import Any, BinaryIO, Callable, NamedTuple

from gitdata.errors import GitDataError

DEFAULT_ALGORITHM = "b3"
CHUNK = 4 << 20
MMAP_THRESHOLD = 16 << 20

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


def parse_digest(text: str) -> Digest:
    match = _DIGEST_RE.match(text)
    if not match:
        raise GitDataError(f"not a digest: '{text}'")
    return Digest(match.group(1), match.group(2))


def is_digest(text: str) -> bool:
    return bool(_DIGEST_RE.match(text))


def new_hasher(algorithm: str) -> Any:
    if algorithm == "b3":
        import blake3

        return blake3.blake3(max_threads=blake3.blake3.AUTO)
    factory: Callable[[], Any] = {
        "sha256": hashlib.sha256,
        "b2b256": lambda: hashlib.blake2b(digest_size=32),
        "sha3-256": hashlib.sha3_256,
    }[algorithm]
    return factory()


def digest_bytes(data: bytes, algorithm: str = DEFAULT_ALGORITHM) -> str:
    hasher = new_hasher(algorithm)
    hasher.update(data)
    return f"{algorithm}:{hasher.hexdigest()}"


def digest_file(path: str | os.PathLike[str], algorithm: str = DEFAULT_ALGORITHM) -> str:
    """Digest of a file; large files are mapped so blake3 can use all cores."""
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size >= MMAP_THRESHOLD:
            with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
                hasher = new_hasher(algorithm)
                hasher.update(mapped)
                return f"{algorithm}:{hasher.hexdigest()}"
        return digest_stream(handle, algorithm)


def digest_stream(handle: BinaryIO, algorithm: str = DEFAULT_ALGORITHM) -> str:
    hasher = new_hasher(algorithm)
    while chunk := handle.read(CHUNK):
        hasher.update(chunk)
    return f"{algorithm}:{hasher.hexdigest()}"


def copy_and_digest(src: BinaryIO, dst: BinaryIO, algorithm: str = DEFAULT_ALGORITHM) -> tuple[str, int]:
    """Copy src to dst and digest what passed through: one read pass."""
    hasher = new_hasher(algorithm)
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    total = 0
    while count := src.readinto(buffer):  # type: ignore[attr-defined]
        chunk = view[:count]
        hasher.update(chunk)
        dst.write(chunk)
        total += count
    return f"{algorithm}:{hasher.hexdigest()}", total
