"""The content-addressed object store: `<data dir>/cache/<algorithm>/<2 hex>/<rest>`.

Objects are read-only, enter only through a temp file and a rename, and are
verified against their digest on the way in."""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Iterable, Iterator

from gitdata.errors import GitDataError
from gitdata.hashing import copy_and_digest, digest_file, parse_digest

SMALL_FILE = 1 << 20


class Cache:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp_dir = root / "tmp"
        self._prefix = str(root) + os.sep

    def object_path(self, digest: str) -> str:
        """Path of an object as a string (hot path: no pathlib)."""
        algorithm, _, hexdigest = digest.partition(":")
        if len(hexdigest) != 64 or "/" in digest or "." in algorithm:
            parse_digest(digest)  # raises with a clear message
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
        present = set()
        for prefix_dir in {self.object_path(d).rsplit("/", 1)[0] for d in wanted}:
            algorithm, prefix = prefix_dir.rsplit("/", 2)[-2:]
            try:
                present.update(f"{algorithm}:{prefix}{name}" for name in os.listdir(prefix_dir))
            except FileNotFoundError:
                pass
        return wanted - present

    def new_temp(self) -> Path:
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        return self.tmp_dir / f"{os.getpid()}-{secrets.token_hex(8)}"

    def add_file(self, src: Path, algorithm: str, expected: str | None = None) -> tuple[str, int]:
        """Copy a workspace file into the cache, hashing what is copied (one read pass).
        Returns (digest, size). With `expected`, a mismatch (the file changed since it
        was hashed) is an error and nothing enters the cache."""
        tmp = self.new_temp()
        try:
            with open(src, "rb") as source, open(tmp, "wb") as target:
                digest, size = copy_and_digest(source, target, algorithm)
            if expected is not None and digest != expected:
                raise GitDataError(f"'{src}' changed while it was being added; run the command again")
            self._place(tmp, digest)
            return digest, size
        finally:
            tmp.unlink(missing_ok=True)

    def adopt(self, tmp: Path, expected: str) -> None:
        """Move a downloaded temp file into the cache after verifying it."""
        algorithm = parse_digest(expected).algorithm
        actual = digest_file(tmp, algorithm)
        if actual != expected:
            tmp.unlink(missing_ok=True)
            raise GitDataError(f"object {expected} is corrupt (its content hashes to {actual})")
        self._place(tmp, expected)

    def _place(self, tmp: Path, digest: str) -> None:
        final = self.path(digest)
        if final.exists():
            return
        os.chmod(tmp, 0o444)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, final)

    def verify(self, digest: str) -> bool:
        path = self.path(digest)
        return path.exists() and digest_file(path, parse_digest(digest).algorithm) == digest

    def digests(self) -> Iterator[str]:
        """Every object in the cache."""
        if not self.root.is_dir():
            return
        for algo_dir in sorted(self.root.iterdir()):
            if algo_dir.name == "tmp" or not algo_dir.is_dir():
                continue
            for prefix in sorted(algo_dir.iterdir()):
                for item in sorted(prefix.iterdir()):
                    yield f"{algo_dir.name}:{prefix.name}{item.name}"

    def remove(self, digest: str) -> None:
        self.path(digest).unlink(missing_ok=True)


def open_cache(data_dir: Path) -> Cache:
    return Cache(data_dir / "cache")
