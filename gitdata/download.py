"""HTTP(S) downloads with conditional requests (ETag / Last-Modified), hashed while
they stream to a temp file. urllib only: no extra dependency for a plain GET."""
from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO, NamedTuple, cast
from urllib.parse import unquote, urlparse

from gitdata import output
from gitdata.errors import GitDataError
from gitdata.hashing import copy_and_digest

SCHEMES = ("http", "https", "file")
TIMEOUT = 60.0


class Fetched(NamedTuple):
    changed: bool               # False: the server answered 304 Not Modified
    digest: str | None
    size: int
    etag: str | None
    last_modified: str | None


def default_agent() -> str:
    from gitdata import __version__

    return f"git-data/{__version__}"


def check_url(url: str) -> str:
    scheme = urlparse(url).scheme.lower()
    if scheme not in SCHEMES:
        raise GitDataError(f"cannot download '{url}': only http, https and file URLs are supported")
    return url


def file_name(url: str) -> str:
    """The name a download gets when no path is given: the URL's last path segment."""
    name = unquote(urlparse(url).path.rstrip("/").rsplit("/", 1)[-1])
    if not name or name in (".", "..") or "\0" in name:
        raise GitDataError(f"cannot tell a file name from '{url}'; give a PATH")
    return name


def fetch(url: str, dest: Path, algorithm: str, agent: str | None = None, etag: str | None = None,
          last_modified: str | None = None, timeout: float = TIMEOUT) -> Fetched:
    """GET `url` into `dest` (a temp path), hashing on the way. With `etag` or
    `last_modified`, asks the server to answer 304 when nothing changed."""
    import urllib.error
    import urllib.request

    check_url(url)
    headers = {"User-Agent": agent or default_agent(), "Accept-Encoding": "identity"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 - scheme checked above
    except urllib.error.HTTPError as exc:
        if exc.code == 304:
            return Fetched(False, None, 0, exc.headers.get("ETag") or etag,
                           exc.headers.get("Last-Modified") or last_modified)
        raise GitDataError(f"GET {url}: {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise GitDataError(f"GET {url}: {exc.reason}") from None
    except (OSError, ValueError) as exc:
        raise GitDataError(f"GET {url}: {exc}") from None
    with response:
        expected = response.headers.get("Content-Length")
        total = int(expected) if expected and expected.isdigit() else 0
        try:
            with open(dest, "wb") as target, output.progress(f"Downloading {file_name_or(url)}", 1, total) as bar:
                digest, size = copy_and_digest(cast(BinaryIO, _Counting(response, bar)), target, algorithm)
        except OSError as exc:
            os.unlink(dest) if os.path.exists(dest) else None
            raise GitDataError(f"GET {url}: {exc}") from None
        if total and size != total:
            os.unlink(dest)
            raise GitDataError(f"GET {url}: the download stopped after {size} of {total} bytes")
        return Fetched(True, digest, size, response.headers.get("ETag"), response.headers.get("Last-Modified"))


def file_name_or(url: str) -> str:
    try:
        return file_name(url)
    except GitDataError:
        return url


class _Counting:
    """A readable that reports progress as it is read."""

    def __init__(self, raw: object, bar: output.Progress) -> None:
        self.raw, self.bar = raw, bar

    def readinto(self, buffer: bytearray) -> int:
        count = self.raw.readinto(buffer)  # type: ignore[attr-defined]
        self.bar.advance(0, count or 0)
        return count or 0
