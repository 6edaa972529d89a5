"""Storages: where data goes when it leaves the machine. One module per kind
(local, s3, rsync, generic) behind one small Protocol.

Every storage uses the cache's key space, `<algorithm>/<2 hex>/<rest>`, so
identical content is stored once, plus a marker file at its root that says
"this is a git-data storage". Definitions come from `.gitdata/config`
(`[storage "NAME"] url = ... type = ...`), with `.git/config` overrides."""
from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator, Mapping, NamedTuple, Protocol

from gitdata.errors import GitDataError, UsageError
from gitdata.hashing import split_digest

if TYPE_CHECKING:
    from gitdata.git import GitRepo

KINDS = ("local", "s3", "rsync", "generic")
MARKER = ".gitdata-storage"
MARKER_TEXT = b"git-data storage v1\nlayout = <algorithm>/<2 hex>/<rest of hex>\n"
_KEY_RE = re.compile(r"(?:^|/)(b3|sha256|b2b256|sha3-256)/([0-9a-f]{2})/([0-9a-f]{62})$")


class Storage(Protocol):
    """One storage kind. Optional extras: upload_bytes(digest, data) for small objects
    held in memory; download_bytes(digest, limit, dest), which returns an object of up
    to `limit` bytes or else writes it into `dest` like download(); and `on_disk = True`
    where objects move in microseconds (transfers then start on one thread; see
    workspace.while_quick)."""

    name: str

    def exists(self, digests: list[str]) -> set[str]:
        """Which of these the storage holds (batched)."""

    def list_digests(self) -> Iterator[str]:
        """Every object in the storage."""

    def upload(self, digest: str, src: Path) -> None:
        """Atomic: never a partial object under the final key."""

    def download(self, digest: str, dest: Path) -> None:
        """Into `dest` (a temp path); the caller verifies it via Cache.adopt."""

    def delete(self, digest: str) -> None:
        """Remove one object; no error if it is absent."""

    def describe(self) -> str:
        """One line: kind and location."""


class StorageConfig(NamedTuple):
    name: str
    kind: str
    url: str
    options: Mapping[str, str]

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.options.get(key.lower(), default)


def key_of(digest: str) -> str:
    algorithm, hexdigest = split_digest(digest)
    return f"{algorithm}/{hexdigest[:2]}/{hexdigest[2:]}"


def digest_of_key(key: str) -> str | None:
    """The digest a storage key (or a path ending in one) names, or None."""
    match = _KEY_RE.search(key)
    return f"{match.group(1)}:{match.group(2)}{match.group(3)}" if match else None


def digests_in(keys: Iterable[str]) -> Iterator[str]:
    for key in keys:
        digest = digest_of_key(key.strip())
        if digest:
            yield digest


_SCP_LIKE = re.compile(r"^(?:[^@/:\s]+@)?[^@/:\s]+:(?!//)")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def url_scheme(url: str) -> str | None:
    match = _SCHEME.match(url)
    return match.group(1).lower() if match else None


def kind_of_url(url: str) -> str:
    """The storage kind a URL implies; an unknown scheme is an error, never a directory
    named after it (`gs://b/p` would otherwise become ./gs:/b/p in the worktree)."""
    scheme = url_scheme(url)
    if scheme == "s3":
        return "s3"
    if scheme in ("ssh", "rsync"):
        return "rsync"
    if scheme == "file":
        return "local"
    if scheme is not None:
        raise UsageError(f"storage URL '{url}': unknown scheme '{scheme}://' (use a path, file://, s3://, "
                         "ssh://, rsync://, user@host:dir, or a generic storage's own commands; "
                         "Google Cloud Storage: s3://BUCKET with --preset gcs)")
    if not url.strip():
        raise UsageError("the storage URL is empty")
    if url.startswith(("/", "./", "../", "~")) or re.match(r"^[A-Za-z]:[\\/]", url):
        return "local"
    if _SCP_LIKE.match(url):
        return "rsync"
    return "local"


def storage_config(settings: Mapping[str, str], name: str) -> StorageConfig:
    """The definition of storage `name` from merged config values."""
    prefix = f"storage.{name}."
    options = {key[len(prefix):].lower(): value for key, value in settings.items() if key.startswith(prefix)}
    url = options.get("url")
    if not url:
        raise GitDataError(f"storage '{name}' has no url in .gitdata/config")
    kind = (options.get("type") or kind_of_url(url)).lower()
    if kind not in KINDS:
        raise GitDataError(f"storage '{name}': unknown type '{kind}' (choose from {', '.join(KINDS)})")
    return StorageConfig(name, kind, url, options)


def open_storage(repo: GitRepo, config: StorageConfig) -> Storage:
    """A connection to the storage a definition describes (its module imported only now)."""
    if config.kind == "local":
        from gitdata.storage.local import LocalStorage

        return LocalStorage.from_config(repo, config)
    if config.kind == "s3":
        from gitdata.storage.s3 import S3Storage

        return S3Storage.from_config(repo, config)
    if config.kind == "rsync":
        from gitdata.storage.rsync import RsyncStorage

        return RsyncStorage.from_config(repo, config)
    from gitdata.storage.generic import GenericStorage

    return GenericStorage.from_config(repo, config)


def default_jobs(storage: Storage) -> int:
    return int(getattr(storage, "default_jobs", 8))
