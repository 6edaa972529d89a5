"""A real S3 server on loopback for the tests: moto's standalone server in its own
process, started once per session. Tests talk to it with the real boto3 client
over HTTP, exactly as git-data talks to any S3-compatible service."""
from __future__ import annotations

import itertools
import os
import socket
import subprocess
import sys
import time
from typing import Iterator, NamedTuple

import pytest

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}
_buckets = itertools.count()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class S3Server(NamedTuple):
    endpoint: str


class Bucket(NamedTuple):
    endpoint: str
    name: str
    client: object   # a boto3 S3 client for checking what the server holds

    def keys(self, prefix: str = "") -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.name, Prefix=prefix)  # type: ignore[attr-defined]
        return sorted(item["Key"] for page in pages for item in page.get("Contents", ()))


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the moto S3 server did not start") from None
                time.sleep(0.05)
        yield S3Server(f"http://127.0.0.1:{port}")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def s3_bucket(s3_server: S3Server, isolated_env: object, monkeypatch: pytest.MonkeyPatch) -> Bucket:
    """A fresh, empty bucket; the AWS test credentials are in the environment."""
    import boto3

    for key, value in CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    client = boto3.client("s3", endpoint_url=s3_server.endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    name = f"bucket-{os.getpid()}-{next(_buckets)}"
    client.create_bucket(Bucket=name)
    return Bucket(s3_server.endpoint, name, client)
