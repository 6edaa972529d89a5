"""S3 storages against a real S3 server on loopback (moto), through the real boto3 client."""
from __future__ import annotations

import os
import shutil
import time
import urllib.request
from pathlib import Path

from tests.testing.helpers import cache_objects, gd, git, write
from tests.testing.s3server import Bucket, free_port


def add_s3(bucket: Bucket, *extra: str, name: str = "s3") -> None:
    gd("storage", "add", name, f"s3://{bucket.name}/team/data", "--endpoint-url", bucket.endpoint, *extra)


def drop_cache(repo: Path) -> None:
    for obj in cache_objects(repo):
        obj.chmod(0o644)
        obj.unlink()


def test_push_fetch_pull_roundtrip_with_batched_existence(repo: Path, s3_bucket: Bucket) -> None:
    files = {f"data/part-{i:03}.csv": f"row,{i}\n".encode() * (i % 7 + 1) for i in range(78)}
    files["data/empty.csv"] = b""                      # a PUT and a GET of no bytes
    files["data/medium.bin"] = os.urandom(3 << 20)     # above what the lean requests carry
    for rel, content in files.items():
        write(repo / rel, content)
    gd("add", "data")
    git("commit", "-qm", "data")
    add_s3(s3_bucket)
    assert "would push 80 object(s)" in gd("push", "--dry-run").stderr
    assert s3_bucket.keys() == []
    assert "pushed 80 object(s)" in gd("push").stderr
    keys = s3_bucket.keys("team/data/")
    assert "team/data/.gitdata-storage" in keys
    assert len([k for k in keys if k.startswith("team/data/b3/")]) == 80
    assert "pushed 0 object(s)" in gd("push").stderr
    shutil.rmtree(repo / "data")
    drop_cache(repo)
    gd("pull")
    assert {rel: (repo / rel).read_bytes() for rel in files} == files
    assert "Nothing to report" in gd("status", "-c").stdout


def test_corrupt_object_is_rejected_and_never_reaches_the_workspace(repo: Path, s3_bucket: Bucket) -> None:
    write(repo / "model.bin", b"weights" * 100)
    gd("add", "model.bin")
    add_s3(s3_bucket)
    gd("push")
    key = next(k for k in s3_bucket.keys() if "/b3/" in k)
    s3_bucket.client.put_object(Bucket=s3_bucket.name, Key=key, Body=b"weights" * 99 + b"weighs!")  # type: ignore[attr-defined]
    (repo / "model.bin").unlink()
    drop_cache(repo)
    pull = gd("pull", check=False)
    assert pull.returncode == 1
    digest = "b3:" + key.split("/b3/")[1].replace("/", "")
    assert digest in pull.stderr and "corrupt" in pull.stderr and "'s3'" in pull.stderr
    assert not (repo / "model.bin").exists() and cache_objects(repo) == []


def test_large_object_uses_multipart(repo: Path, s3_bucket: Bucket) -> None:
    content = os.urandom(1 << 20) * 12
    write(repo / "big.bin", content)
    gd("add", "big.bin")
    add_s3(s3_bucket)
    git("config", "gitdata.storage.s3.multipartThreshold", "5M")
    gd("push")
    key = next(k for k in s3_bucket.keys() if "/b3/" in k)
    etag = s3_bucket.client.head_object(Bucket=s3_bucket.name, Key=key)["ETag"]  # type: ignore[attr-defined]
    assert "-" in etag, "a multipart upload has an ETag of the form <md5>-<parts>"
    (repo / "big.bin").unlink()
    drop_cache(repo)
    gd("pull")
    assert (repo / "big.bin").read_bytes() == content


def test_per_storage_credentials_and_missing_credentials(repo: Path, s3_bucket: Bucket,
                                                        monkeypatch: object) -> None:
    write(repo / "a.txt", "a")
    gd("add", "a.txt")
    add_s3(s3_bucket, name="team")
    bare = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    bare["AWS_EC2_METADATA_DISABLED"] = "true"
    started = time.monotonic()
    push = _run_env(["git", "data", "push"], repo, bare)
    assert push.returncode == 1 and time.monotonic() - started < 20
    assert "no S3 credentials" in push.stderr and "GITDATA_STORAGE_TEAM_ACCESS_KEY_ID" in push.stderr
    assert "Traceback" not in push.stderr
    bare.update(GITDATA_STORAGE_TEAM_ACCESS_KEY_ID="testing", GITDATA_STORAGE_TEAM_SECRET_ACCESS_KEY="testing")
    assert _run_env(["git", "data", "push"], repo, bare).returncode == 0
    assert len([k for k in s3_bucket.keys() if "/b3/" in k]) == 1


def test_unreachable_endpoint_fails_fast_with_a_clear_message(repo: Path, s3_bucket: Bucket) -> None:
    write(repo / "a.txt", "a")
    gd("add", "a.txt")
    gd("storage", "add", "down", "s3://bucket/x", "--endpoint-url", f"http://127.0.0.1:{free_port()}")
    started = time.monotonic()
    push = gd("push", check=False)
    assert push.returncode == 1 and time.monotonic() - started < 30
    assert "cannot reach" in push.stderr and "Traceback" not in push.stderr
    assert len(push.stderr.strip().splitlines()) == 1


def test_missing_bucket_is_named(repo: Path, s3_bucket: Bucket) -> None:
    write(repo / "a.txt", "a")
    gd("add", "a.txt")
    gd("storage", "add", "s3", "s3://no-such-bucket/x", "--endpoint-url", s3_bucket.endpoint)
    push = gd("push", check=False)
    assert push.returncode == 1 and "no-such-bucket" in push.stderr
    status = gd("status", "--storage", "s3", check=False)   # HEADs of its objects are plain 404s
    drop_cache(repo)
    fetch = gd("fetch", check=False)
    for result in (status, fetch):
        assert result.returncode == 1
        assert result.stderr.count("\n") == 1 and "bucket 'no-such-bucket' does not exist" in result.stderr


def test_storage_urls_are_checked_when_added(repo: Path) -> None:
    """Unknown schemes never become a directory in the worktree; bad ports and endpoints,
    and names sharing credential variables, are one clear line at `storage add`."""
    for url, extra in (("gs://bucket/p", []), ("http://example.com/x", []), ("s3://b/p", ["--type", "local"]),
                       ("ssh://me@127.0.0.1:abc/x", []), ("s3://b/p", ["--endpoint-url", "notaurl"]),
                       ("s3://b/p", ["--endpoint-url", "http://127.0.0.1:abc"]), ("file://otherhost/p", []),
                       ("", [])):
        result = gd("storage", "add", "st", url, *extra, check=False)
        assert result.returncode in (1, 2), url
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, (url, result.stderr)
    assert "st" not in gd("storage", "list").stdout
    assert not [p for p in repo.iterdir() if p.name.endswith(":")]
    gd("storage", "add", "a-b", str(repo.parent / "s1"))
    clash = gd("storage", "add", "A_B", str(repo.parent / "s2"), check=False)
    assert clash.returncode == 2 and "GITDATA_STORAGE_A_B_" in clash.stderr


def test_share_prints_a_working_presigned_url(repo: Path, s3_bucket: Bucket) -> None:
    write(repo / "report.pdf", b"%PDF shareable")
    gd("add", "report.pdf")
    add_s3(s3_bucket)
    url = gd("share", "report.pdf", "--duration", "1h").stdout.strip()
    assert url.startswith(s3_bucket.endpoint + "/")
    assert "X-Amz-Expires=3600" in url and "filename" in url
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == b"%PDF shareable"
    bad = gd("share", "report.pdf", "--duration", "30d", check=False)
    assert bad.returncode == 2 and "7 days" in bad.stderr


def _run_env(cmd: list[str], cwd: Path, env: dict[str, str]):  # type: ignore[no-untyped-def]
    import subprocess

    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
