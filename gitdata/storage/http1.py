"""A minimal HTTP/1.1 keep-alive exchange for the lean S3 requests.

http.client parses every response's headers with the email package; for objects of a
few KiB that cost as much client CPU as the signature. This reads a status line, the
headers and a Content-Length body, and nothing else: a response in any other shape
(chunked, without a length, bigger than the caller's limits, informational) drops
the connection and answers None, and the caller asks boto3 instead."""
from __future__ import annotations

import socket
from pathlib import Path
from typing import Any, Mapping, NamedTuple
from urllib.parse import urlsplit

MAX_LINE = 65536
MAX_HEADERS = 100
CHUNK = 1 << 20


class Reply(NamedTuple):
    status: int
    headers: dict[str, str]   # names in lower case
    body: bytes
    spilled: bool = False     # the body went into the caller's file instead


class Connection:
    """One kept-alive connection to `netloc` (host[:port]) over http or https."""

    def __init__(self, scheme: str, netloc: str, connect_timeout: float, read_timeout: float,
                 ssl_context: Any = None) -> None:
        parts = urlsplit(f"{scheme}://{netloc}")
        self.address = (parts.hostname or "", parts.port or (443 if scheme == "https" else 80))
        self.connect_timeout, self.read_timeout = connect_timeout, read_timeout
        self.ssl_context = ssl_context
        self._sock: socket.socket | None = None
        self._reader: Any = None

    def exchange(self, method: str, target: str, headers: Mapping[str, str], body: bytes | None,
                 limit: int, spill: str | Path | None = None, spill_limit: int = 0) -> Reply | None:
        """Send a request and read its response. A body of up to `limit` bytes is read
        into memory; a bigger one, up to `spill_limit`, is written into the file `spill`.
        None when the response is not one this reads (the connection is then closed).
        Raises OSError when the connection fails, closed by the server included."""
        lines = [f"{method} {target} HTTP/1.1", *(f"{name}: {value}" for name, value in headers.items())]
        if body is not None:
            lines.append(f"Content-Length: {len(body)}")
        if self._reader is None:
            self._connect()
        self._sock.sendall("\r\n".join(lines).encode() + b"\r\n\r\n" + (body or b""))  # type: ignore[union-attr]
        status, reply_headers = self._read_head()
        length = reply_headers.get("content-length", "")
        size = int(length) if length.isdigit() and 200 <= status and "transfer-encoding" not in reply_headers else -1
        content, spilled = b"", False
        if method == "HEAD" or status in (204, 304):
            pass
        elif 0 <= size <= limit:
            content = self._reader.read(size)
            if len(content) != size:
                raise ConnectionError("response body cut short")
        elif status == 200 and spill is not None and 0 <= size <= spill_limit:
            self._copy_body(size, spill)
            spilled = True
        else:
            self.close()
            return None
        if reply_headers.get("connection", "").lower() == "close":
            self.close()
        return Reply(status, reply_headers, content, spilled)

    def _copy_body(self, size: int, dest: str | Path) -> None:
        with open(dest, "wb") as handle:
            while size:
                chunk = self._reader.read(min(size, CHUNK))
                if not chunk:
                    raise ConnectionError("response body cut short")
                handle.write(chunk)
                size -= len(chunk)

    def _connect(self) -> None:
        sock = socket.create_connection(self.address, timeout=self.connect_timeout)
        if self.ssl_context is not None:
            sock = self.ssl_context.wrap_socket(sock, server_hostname=self.address[0])
        sock.settimeout(self.read_timeout)
        self._sock, self._reader = sock, sock.makefile("rb")

    def _read_head(self) -> tuple[int, dict[str, str]]:
        line = self._reader.readline(MAX_LINE)
        version, _, rest = line.partition(b" ")
        code = rest[:3]
        if not version.startswith(b"HTTP/1.") or not code.isdigit():
            raise ConnectionError("not an HTTP/1.x response" if line else "connection closed")
        headers: dict[str, str] = {}
        for _ in range(MAX_HEADERS):
            line = self._reader.readline(MAX_LINE)
            if line in (b"\r\n", b"\n"):
                return int(code), headers
            name, colon, value = line.decode("latin-1").partition(":")
            if not colon:
                raise ConnectionError("malformed response header")
            headers[name.strip().lower()] = value.strip()
        raise ConnectionError("too many response headers")

    def close(self) -> None:
        for thing in (self._reader, self._sock):
            if thing is not None:
                thing.close()
        self._sock = self._reader = None
