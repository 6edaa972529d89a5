"""Storage faults: an S3 server (real moto behind a fault-injecting proxy) that errors,
drops connections, stops, slows down or sends wrong bodies; a local storage that
vanished or became unwritable. Transfers retry, then fail with one clear line; a
later run completes without re-sending what already arrived; nothing unverified
ever enters the cache."""
from __future__ import annotations

import random
import shutil
from pathlib import Path
from typing import Iterator

import pytest

from tests.faults import harness as h
from tests.faults.s3proxy import OBJECT_KEY, FaultProxy, Request
from tests.testing.helpers import gd, git
from tests.testing.s3server import Bucket


@pytest.fixture
def proxy(s3_bucket: Bucket) -> Iterator[FaultProxy]:
    server = FaultProxy(s3_bucket.endpoint)
    yield server
    server.close()


def make_repo(repo: Path, count: int = 6) -> set[str]:
    rng = random.Random("storage-faults")
    digests = set()
    for index in range(count):
        data = rng.randbytes(rng.randint(1000, 30000))
        (repo / "d").mkdir(exist_ok=True)
        (repo / f"d/f{index:02d}").write_bytes(data)
        digests.add(h.digest_bytes(data))
    gd("add", "d")
    git("add", "-A")
    git("commit", "-q", "-m", "data")
    return digests


def add_s3(repo: Path, bucket: Bucket, proxy: FaultProxy) -> None:
    gd("storage", "add", "s3", f"s3://{bucket.name}/store", "--endpoint-url", proxy.endpoint, "--default")


def drop_cache(repo: Path) -> None:
    shutil.rmtree(h.cache_root(repo))
    for path in (repo / "d").iterdir():
        path.unlink()


def one_clean_error(result: h.Result, what: str) -> None:
    h.assert_clean_outcome(result, what)
    assert result.returncode == 1, f"{what}: expected a failure\n{result.stdout}{result.stderr}"
    errors = [line for line in result.stderr.splitlines() if line.startswith("git-data: error:")]
    assert len(errors) == 1, f"{what}: {result.stderr}"


def first_attempt_fails(request: Request, seen: int) -> str:
    return "500" if request.method in ("PUT", "GET") and OBJECT_KEY.search(request.path) and seen == 0 else "pass"


def test_transient_500s_are_retried(repo: Path, s3_bucket: Bucket, proxy: FaultProxy) -> None:
    digests = make_repo(repo)
    add_s3(repo, s3_bucket, proxy)
    proxy.reset(first_attempt_fails)
    gd("push")
    assert any(status == 500 for _, _, status in proxy.log), "no fault was injected"
    assert len([k for k in s3_bucket.keys("store/") if OBJECT_KEY.search("/" + k)]) == len(digests)
    drop_cache(repo)
    proxy.reset(first_attempt_fails)
    gd("pull")
    h.assert_fsck(repo, "after pull through 500s")
    assert h.workspace_digests(repo / "d") == digests


def test_persistent_errors_fail_cleanly_then_resume_without_resending(repo: Path, s3_bucket: Bucket,
                                                                      proxy: FaultProxy) -> None:
    digests = make_repo(repo)
    add_s3(repo, s3_bucket, proxy)

    def half_fail(request: Request, seen: int) -> str:
        match = OBJECT_KEY.search(request.path)
        return "500" if request.method == "PUT" and match and int(request.path[-1], 16) % 2 else "pass"

    proxy.reset(half_fail)
    one_clean_error(gd("push", check=False), "push against a failing server")
    arrived = set(proxy.object_puts())
    assert arrived, "nothing arrived; the fault pattern is wrong"
    proxy.reset()
    result = gd("push")
    resent = set(proxy.object_puts())
    assert not resent & arrived, f"objects sent twice: {sorted(resent & arrived)[:3]}"
    assert len(resent | arrived) == len(digests)
    assert h.pushed_count(result) == len(digests) - len(arrived)


def test_server_drops_connections_mid_transfer(repo: Path, s3_bucket: Bucket, proxy: FaultProxy) -> None:
    digests = make_repo(repo)
    add_s3(repo, s3_bucket, proxy)
    done = {"puts": 0}

    def die_after_four(request: Request, seen: int) -> str:
        if request.method == "PUT" and OBJECT_KEY.search(request.path):
            done["puts"] += 1
            return "pass" if done["puts"] <= 2 else "drop"
        return "pass"

    proxy.reset(die_after_four)
    one_clean_error(gd("push", "-j", "1", check=False), "push while the server goes away")
    arrived = set(proxy.object_puts())
    proxy.reset()
    gd("push")
    assert not set(proxy.object_puts()) & arrived
    drop_cache(repo)
    proxy.reset(lambda request, seen: "drop" if request.method == "GET" else "pass")
    one_clean_error(gd("fetch", check=False), "fetch while the server drops every GET")
    assert not h.verified_objects(h.cache_root(repo)), "objects entered the cache from a dead server"
    proxy.reset()
    gd("pull")
    assert h.workspace_digests(repo / "d") == digests


def test_server_stopped(repo: Path, s3_bucket: Bucket, proxy: FaultProxy) -> None:
    make_repo(repo)
    add_s3(repo, s3_bucket, proxy)
    proxy.close()
    result = gd("push", check=False)
    one_clean_error(result, "push to a stopped server")
    assert "cannot reach" in result.stderr


@pytest.mark.parametrize("fault", ["flip", "truncate"])
def test_wrong_body_never_enters_the_cache(repo: Path, s3_bucket: Bucket, proxy: FaultProxy, fault: str) -> None:
    digests = make_repo(repo, count=4)
    add_s3(repo, s3_bucket, proxy)
    gd("push")
    drop_cache(repo)
    proxy.reset(lambda request, seen: fault if request.method == "GET" else "pass")
    one_clean_error(gd("pull", check=False), f"pull with {fault}ped bodies")
    h.verified_objects(h.cache_root(repo))      # raises on a corrupt object
    for path in (repo / "d").glob("*"):
        assert h.digest_file(path) in digests, f"{path.name}: bad bytes reached the workspace"
    proxy.reset()
    gd("pull")
    assert h.workspace_digests(repo / "d") == digests
    h.assert_fsck(repo, f"after {fault}")


def test_slow_server_completes(repo: Path, s3_bucket: Bucket, proxy: FaultProxy,
                               request: pytest.FixtureRequest) -> None:
    if not request.config.getoption("--long", default=False):
        pytest.skip("run with --long")
    digests = make_repo(repo, count=4)
    add_s3(repo, s3_bucket, proxy)
    proxy.reset(lambda request, seen: "slow" if request.method == "PUT" else "pass")
    gd("push")
    assert len([k for k in s3_bucket.keys("store/") if OBJECT_KEY.search("/" + k)]) == len(digests)


# -- local storages ------------------------------------------------------------

def local_setup(repo: Path, tmp_path: Path) -> tuple[Path, set[str]]:
    digests = make_repo(repo, count=5)
    store = tmp_path / "store"
    gd("storage", "add", "loc", str(store))
    gd("push")
    return store, digests


def test_local_storage_vanished(repo: Path, tmp_path: Path) -> None:
    store, digests = local_setup(repo, tmp_path)
    shutil.rmtree(store)
    drop_cache(repo)
    one_clean_error(gd("pull", check=False), "pull from a vanished storage")
    one_clean_error(gd("fetch", check=False), "fetch from a vanished storage")
    result = gd("fsck", check=False)
    assert result.returncode == 1 and "missing" in result.stdout


def test_push_never_recreates_a_vanished_storage(repo: Path, tmp_path: Path) -> None:
    """An unmounted share looks like a missing directory: push must not write the
    data to the local disk under the mount point instead."""
    store, _ = local_setup(repo, tmp_path)
    shutil.rmtree(store)
    (repo / "d/extra").write_bytes(b"more")
    gd("add", "d")
    one_clean_error(gd("push", check=False), "push to a vanished storage")
    assert not store.exists()


def test_local_storage_replaced_by_a_file(repo: Path, tmp_path: Path) -> None:
    store, digests = local_setup(repo, tmp_path)
    shutil.rmtree(store)
    store.write_text("not a directory")
    (repo / "d/extra").write_bytes(b"more")
    gd("add", "d")
    one_clean_error(gd("push", check=False), "push to a file")
    assert store.read_text() == "not a directory"
    drop_cache(repo)
    one_clean_error(gd("pull", check=False), "pull from a file")


def test_local_storage_unwritable(repo: Path, tmp_path: Path) -> None:
    """Root ignores permissions, so the object directory is replaced by a file."""
    store, digests = local_setup(repo, tmp_path)
    (repo / "d/extra").write_bytes(b"more data")
    gd("add", "d")
    shutil.rmtree(store / "b3")
    (store / "b3").write_text("blocked")
    one_clean_error(gd("push", check=False), "push into an unwritable storage")
    assert h.verified_objects(h.cache_root(repo)) >= digests


def test_push_killed_while_writing_the_storage_marker(repo: Path, tmp_path: Path) -> None:
    """Regression: a push killed between writing the marker's temp file and renaming it left a
    storage that every later push refused as 'not empty and not a git-data storage'."""
    digests = make_repo(repo, count=3)
    store = tmp_path / "store"
    gd("storage", "add", "loc", str(store))
    (store / ".gitdata-storage").unlink()  # as if the add had been killed before the rename
    (store / "..gitdata-storage.0123456789ab.tmp").write_bytes(b"git-data st")
    gd("push")
    assert h.verified_objects(store) == digests


def test_behind_a_proxy_every_request_goes_through_it(repo: Path, s3_bucket: Bucket, proxy: FaultProxy) -> None:
    """With HTTP_PROXY set, the lean signed-request path steps aside and boto3, which
    honours the proxy, sends every request (the fault proxy doubles as a forward proxy)."""
    digests = make_repo(repo)
    gd("storage", "add", "s3", f"s3://{s3_bucket.name}/store", "--endpoint-url", s3_bucket.endpoint, "--default")
    behind_proxy = {"HTTP_PROXY": proxy.endpoint, "http_proxy": proxy.endpoint, "NO_PROXY": "", "no_proxy": ""}
    gd("push", env=behind_proxy)
    assert len([k for k in s3_bucket.keys("store/") if OBJECT_KEY.search("/" + k)]) == len(digests)
    assert len(proxy.object_puts()) == len(digests)   # every upload went through the proxy
    drop_cache(repo)
    proxy.reset()
    gd("pull", env=behind_proxy)
    assert len([path for method, path, status in proxy.log
                if method == "GET" and OBJECT_KEY.search(path) and status == 200]) == len(digests)
    assert h.workspace_digests(repo / "d") == digests
