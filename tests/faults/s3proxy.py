"""A tiny HTTP proxy on loopback in front of the moto S3 server that injects faults:
500s, dropped connections, truncated or flipped bodies, delays. git-data talks to it
as to any S3-compatible endpoint; the test flips the fault policy between runs."""
from __future__ import annotations

import http.client
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, NamedTuple
from urllib.parse import urlparse

OBJECT_KEY = re.compile(r"/(b3|sha256|b2b256|sha3-256)/[0-9a-f]{2}/[0-9a-f]{62}$")


class Request(NamedTuple):
    method: str
    path: str


# A policy sees each request and returns an action: "pass", "500", "drop", "flip",
# "truncate" or "slow".
Policy = Callable[[Request, int], str]


def passthrough(request: Request, seen: int) -> str:
    return "pass"


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = urlparse(upstream)
        self.policy: Policy = passthrough
        self.log: list[tuple[str, str, int]] = []     # method, path, status sent
        self.counts: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = Request(self.command, self.path.split("?")[0])
                with proxy._lock:
                    seen = proxy.counts.get(request, 0)
                    proxy.counts[request] = seen + 1
                action = proxy.policy(request, seen)
                if action == "drop":
                    proxy._record(request, 0)
                    self.close_connection = True
                    self.connection.close()
                    return
                if action == "500":
                    payload = b"<Error><Code>InternalError</Code><Message>injected</Message></Error>"
                    self.send_response(500)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    proxy._record(request, 500)
                    return
                if action == "slow":
                    time.sleep(0.2)
                status, headers, data = proxy._forward(self.command, self.path, dict(self.headers), body)
                if self.command == "GET" and OBJECT_KEY.search(request.path) and status == 200 and data:
                    if action == "flip":
                        data = bytes([data[0] ^ 0xFF]) + data[1:]
                    elif action == "truncate":
                        self.send_response(status)
                        for key, value in headers:
                            if key.lower() not in ("transfer-encoding", "connection"):
                                self.send_header(key, value)
                        self.end_headers()
                        self.wfile.write(data[: len(data) // 2])
                        proxy._record(request, -status)
                        self.close_connection = True
                        self.connection.close()
                        return
                self.send_response(status)
                for key, value in headers:
                    if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                proxy._record(request, status)

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def _record(self, request: Request, status: int) -> None:
        with self._lock:
            self.log.append((request.method, request.path, status))

    def _forward(self, method: str, path: str, headers: dict[str, str], body: bytes
                 ) -> tuple[int, list[tuple[str, str]], bytes]:
        conn = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=30)
        try:
            headers = {k: v for k, v in headers.items() if k.lower() not in ("connection",)}
            conn.request(method, path, body=body or None, headers=headers)
            response = conn.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            conn.close()

    def object_puts(self, ok_only: bool = True) -> list[str]:
        return [path for method, path, status in self.log
                if method == "PUT" and OBJECT_KEY.search(path) and (status == 200 or not ok_only)]

    def reset(self, policy: Policy = passthrough) -> None:
        with self._lock:
            self.policy = policy
            self.log.clear()
            self.counts.clear()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
