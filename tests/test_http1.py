"""The lean S3 path's HTTP/1.1 exchange against a real socket server: what it reads,
and what it leaves to boto3 (None) or reports as a failed connection (OSError)."""
from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
from pathlib import Path
from typing import Callable, Iterator

import pytest

from gitdata.storage.http1 import Connection, Reply

Responder = Callable[[bytes], bytes | None]   # request head -> raw response (None: hang up)


@pytest.fixture
def serve() -> Iterator[Callable[..., Connection]]:
    """A one-connection-at-a-time server answering with the given responders in turn;
    over TLS with `tls=(server context, client context)`."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[int] = []

    def start(responders: list[Responder], tls: tuple[ssl.SSLContext, ssl.SSLContext] | None = None) -> Connection:
        def loop() -> None:
            pending = list(responders)
            while pending:
                try:
                    conn, _ = listener.accept()
                except OSError:
                    return   # the test is over and closed the listener
                if tls is not None:
                    try:
                        conn = tls[0].wrap_socket(conn, server_side=True)
                    except OSError:
                        continue   # the client refused the certificate
                accepted.append(1)
                with conn, conn.makefile("rb") as reader:
                    while pending:
                        head = read_head(reader)
                        if head is None:
                            break   # the client hung up: wait for its next connection
                        length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                                       if line.lower().startswith(b"content-length:")), 0)
                        reader.read(length)
                        response = pending.pop(0)(head)
                        if response is None:
                            break
                        try:
                            conn.sendall(response)
                        except OSError:
                            break   # the client hung up mid-body, as it may
        threading.Thread(target=loop, daemon=True).start()
        port = listener.getsockname()[1]
        if tls is not None:
            return Connection("https", f"localhost:{port}", 5, 5, tls[1])
        return Connection("http", f"127.0.0.1:{port}", 5, 5)

    start.accepted = accepted  # type: ignore[attr-defined]
    yield start  # type: ignore[misc]
    listener.close()


def read_head(reader) -> bytes | None:  # type: ignore[no-untyped-def]
    lines = []
    while (line := reader.readline()) != b"\r\n":
        if not line:
            return None
        lines.append(line)
    return b"".join(lines)


def ok(body: bytes, extra: bytes = b"") -> Responder:
    return lambda head: b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), extra, body)


def test_keeps_the_connection_and_reads_exact_bodies(serve) -> None:  # type: ignore[no-untyped-def]
    conn = serve([ok(b"first"), ok(b""), ok(b"x" * 70000)])
    assert conn.exchange("GET", "/a", {"Host": "h"}, None, 1 << 20) == Reply(200, {"content-length": "5"}, b"first")
    assert conn.exchange("PUT", "/b", {"Host": "h"}, b"", 1 << 20).body == b""  # type: ignore[union-attr]
    assert conn.exchange("GET", "/c", {"Host": "h"}, None, 1 << 20).body == b"x" * 70000  # type: ignore[union-attr]
    assert len(serve.accepted) == 1


def test_head_reads_no_body_and_errors_come_back_as_replies(serve) -> None:  # type: ignore[no-untyped-def]
    missing = b"HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nno!"
    conn = serve([lambda head: b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", lambda head: missing])
    assert conn.exchange("HEAD", "/a", {}, None, 0) == Reply(200, {"content-length": "1234"}, b"")
    assert conn.exchange("GET", "/b", {}, None, 100) == Reply(404, {"content-length": "3"}, b"no!")


@pytest.mark.parametrize("response", [
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",  # not read here
    b"HTTP/1.1 200 OK\r\nContent-Length: 101\r\n\r\n" + b"y" * 101,                    # over the limit
    b"HTTP/1.1 100 Continue\r\n\r\n",                                                  # informational
])
def test_other_shapes_are_left_to_boto3(serve, response: bytes) -> None:  # type: ignore[no-untyped-def]
    conn = serve([lambda head: response, ok(b"again")])
    assert conn.exchange("GET", "/a", {}, None, 100) is None
    assert conn.exchange("GET", "/b", {}, None, 100).body == b"again"  # type: ignore[union-attr]
    assert len(serve.accepted) == 2   # the connection was dropped, a new one made


@pytest.mark.parametrize("response", [None, b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", b"garbage\r\n"])
def test_broken_responses_raise(serve, response: bytes | None) -> None:  # type: ignore[no-untyped-def]
    conn = serve([lambda head: response])   # then the server hangs up
    with pytest.raises(OSError):
        conn.exchange("GET", "/a", {}, None, 100)


def test_connection_close_is_honoured(serve) -> None:  # type: ignore[no-untyped-def]
    conn = serve([ok(b"bye", b"Connection: close\r\n"), ok(b"new")])
    assert conn.exchange("GET", "/a", {}, None, 100).body == b"bye"  # type: ignore[union-attr]
    assert conn.exchange("GET", "/b", {}, None, 100).body == b"new"  # type: ignore[union-attr]
    assert len(serve.accepted) == 2


def test_bodies_over_the_limit_can_go_into_a_file(serve, tmp_path) -> None:  # type: ignore[no-untyped-def]
    big = bytes(range(256)) * 5000
    missing = b"HTTP/1.1 404 Not Found\r\nContent-Length: 300\r\n\r\n" + b"n" * 300
    conn = serve([ok(big), ok(b"small"), lambda head: missing, ok(big)])
    dest = tmp_path / "object"
    assert conn.exchange("GET", "/a", {}, None, 100, dest, len(big)) == Reply(200, {"content-length": str(len(big))},
                                                                               b"", spilled=True)
    assert dest.read_bytes() == big
    dest.unlink()
    assert conn.exchange("GET", "/b", {}, None, 100, dest, len(big)).body == b"small"  # type: ignore[union-attr]
    assert conn.exchange("GET", "/c", {}, None, 100, dest, len(big)) is None   # an error body is no object
    assert conn.exchange("GET", "/d", {}, None, 100, dest, len(big) - 1) is None
    assert not dest.exists()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make a certificate")
def test_over_tls_with_the_callers_certificate_authority(serve, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert, key)
    conn = serve([ok(b"secret" * 1000), ok(b"again")], tls=(server, ssl.create_default_context(cafile=str(cert))))
    assert conn.exchange("GET", "/a", {"Host": "localhost"}, None, 1 << 20).body == b"secret" * 1000  # type: ignore[union-attr]
    assert conn.exchange("GET", "/b", {"Host": "localhost"}, None, 1 << 20).body == b"again"  # type: ignore[union-attr]
    assert len(serve.accepted) == 1
    untrusting = serve([ok(b"never")], tls=(server, ssl.create_default_context()))
    with pytest.raises(ssl.SSLError):   # a certificate no authority vouches for
        untrusting.exchange("GET", "/c", {"Host": "localhost"}, None, 100)
