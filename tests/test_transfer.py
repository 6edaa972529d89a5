"""push, fetch and pull against a local storage: selection, verification, resumption."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from gitdata.hashing import digest_file

from tests.testing.helpers import cache_objects, gd, git, write


def stored(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".") and p.suffix != ".tmp")


def drop_cache(repo: Path) -> None:
    for obj in cache_objects(repo):
        obj.chmod(0o644)
        obj.unlink()


@pytest.fixture
def store(repo: Path, tmp_path: Path) -> Path:
    path = tmp_path / "store"
    gd("storage", "add", "loc", str(path))
    return path


def test_clone_pulls_what_was_pushed(repo: Path, store: Path, tmp_path: Path) -> None:
    files = {f"data/{i}.txt": f"file {i}\n".encode() for i in range(12)}
    files["data/sub dir/ünïcode name.bin"] = bytes(range(256)) * 40
    for rel, content in files.items():
        write(repo / rel, content)
    gd("add", "data")
    git("commit", "-qm", "data")
    gd("push")
    remote = tmp_path / "remote.git"
    git("clone", "-q", "--bare", str(repo), str(remote))
    clone = tmp_path / "clone"
    git("clone", "-q", str(remote), str(clone))
    assert not (clone / "data").exists()
    assert "would fetch 13 object(s)" in gd("fetch", "--dry-run", cwd=clone).stderr
    assert cache_objects(clone) == []
    gd("pull", "-j", "3", cwd=clone)
    assert {rel: (clone / rel).read_bytes() for rel in files} == files
    assert "Nothing to report" in gd("status", cwd=clone).stdout


def test_corrupt_or_truncated_objects_are_rejected(repo: Path, store: Path) -> None:
    write(repo / "a.bin", b"A" * 5000)
    write(repo / "b.bin", b"B" * 5000)
    gd("add", "a.bin", "b.bin")
    gd("push")
    objects = stored(store)
    objects[0].chmod(0o644)
    data = bytearray(objects[0].read_bytes())
    data[100] ^= 0x01
    objects[0].write_bytes(bytes(data))
    objects[1].chmod(0o644)
    objects[1].write_bytes(objects[1].read_bytes()[:10])
    (repo / "a.bin").unlink()
    (repo / "b.bin").unlink()
    drop_cache(repo)
    fetch = gd("fetch", check=False)
    assert fetch.returncode == 1 and "corrupt" in fetch.stderr and "storage 'loc'" in fetch.stderr
    assert "(and 1 more failure(s))" in fetch.stderr
    digest = "b3:" + objects[0].parent.name + objects[0].name
    other = "b3:" + objects[1].parent.name + objects[1].name
    assert digest in fetch.stderr or other in fetch.stderr
    assert cache_objects(repo) == []
    pull = gd("pull", check=False)
    assert pull.returncode == 1
    assert not (repo / "a.bin").exists() and not (repo / "b.bin").exists()


def test_pull_checks_out_what_arrived_when_one_object_is_corrupt(repo: Path, store: Path) -> None:
    files = {"data/a.csv": "1\n" * 900, "data/b.csv": "2\n" * 900, "data/c.txt": "hello\n"}
    for rel, text in files.items():
        write(repo / rel, text)
    gd("add", "-q", "data")
    gd("push", "-q")
    bad = store / "b3" / digest_file(repo / "data/a.csv", "b3")[3:5] / digest_file(repo / "data/a.csv", "b3")[5:]
    bad.chmod(0o644)
    bad.write_text("garbage\n")
    for rel in files:
        (repo / rel).unlink()
    drop_cache(repo)
    pull = gd("pull", check=False)
    assert pull.returncode == 1
    assert pull.stderr.startswith("git-data: error: data/a.csv: storage 'loc'") and "corrupt" in pull.stderr
    assert not (repo / "data/a.csv").exists()
    assert {rel: (repo / rel).read_text() for rel in ("data/b.csv", "data/c.txt")} == \
        {rel: files[rel] for rel in ("data/b.csv", "data/c.txt")}


def test_killed_push_resumes_without_resending(repo: Path, tmp_path: Path) -> None:
    for i in range(12):
        write(repo / "data" / f"{i}.txt", f"payload {i}\n")
    gd("add", "data")
    store, log = tmp_path / "slow", tmp_path / "uploads.log"
    gd("storage", "add", "slow", str(store), "--processes", "1",
       "--list", "mkdir -p {url} && cd {url} && find . -type f",
       "--upload", f"mkdir -p {{dir}} && sleep 0.15 && cp {{local}} {{tmp}} && mv {{tmp}} {{remote}} "
                   f"&& echo {{digest}} >> {log}",
       "--download", "cp {remote} {local}")
    proc = subprocess.Popen(["git", "data", "push"], cwd=repo, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while len(stored(store)) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(1)   # an upload command runs in its own session: let one in flight land (or not)
    arrived = {"b3:" + obj.parent.name + obj.name: obj for obj in stored(store)}
    assert 3 <= len(arrived) < 12, "the push was killed part-way"
    for digest, obj in arrived.items():   # nothing partial under a final key
        assert digest_file(obj) == digest
    sent_before = len(log.read_text().split())
    out = gd("push")
    second = log.read_text().split()[sent_before:]
    assert f"pushed {len(second)} object(s)" in out.stderr
    assert not set(arrived) & set(second), "objects that arrived were sent again"
    assert len(set(arrived) | set(second)) == 12 == len(stored(store))


def test_push_selects_paths_revisions_and_history(repo: Path, store: Path) -> None:
    write(repo / "data" / "a.txt", "v1")
    write(repo / "data" / "b.txt", "b")
    gd("add", "data")
    git("commit", "-qm", "v1")
    write(repo / "data" / "a.txt", "v2")
    gd("add", "data/a.txt")
    git("commit", "-qm", "v2")
    git("branch", "old", "HEAD~1")
    assert "pushed 1 object(s)" in gd("push", "data/b.txt").stderr
    dry = json.loads(gd("push", "-r", "HEAD~1", "--dry-run", "--json").stdout)
    assert [o["path"] for o in dry["objects"]] == ["data/a.txt"] and dry["already_present"] == 1
    assert "pushed 1 object(s)" in gd("push").stderr
    assert len(stored(store)) == 2
    assert "pushed 1 object(s)" in gd("push", "--all-branches").stderr
    assert len(stored(store)) == 3
    assert "pushed 0 object(s) to 'loc' (3 already there)" in gd("push", "--all-commits").stderr
    bad = gd("push", "-r", "no-such-ref", check=False)
    assert bad.returncode == 1 and "unknown revision" in bad.stderr


def test_push_refuses_quietly_losing_an_object_nowhere(repo: Path, store: Path) -> None:
    write(repo / "a.txt", "a")
    write(repo / "b.txt", "b")
    gd("add", "a.txt", "b.txt")
    victim = next(o for o in cache_objects(repo) if o.read_bytes() == b"a")
    victim.chmod(0o644)
    victim.unlink()
    push = gd("push", check=False)
    assert push.returncode == 1 and "neither the cache nor storage 'loc'" in push.stderr
    assert [o.read_bytes() for o in stored(store)] == [b"b"]


def test_fetch_names_files_the_storage_lacks_and_status_shows_them(repo: Path, store: Path) -> None:
    write(repo / "pushed.txt", "p")
    gd("add", "pushed.txt")
    gd("push")
    write(repo / "local.txt", "l")
    gd("add", "local.txt")
    status = gd("status", "--storage", "loc").stdout
    assert "Not in storage 'loc'" in status and "local.txt" in status and "pushed.txt" not in status
    assert json.loads(gd("status", "-c", "--json").stdout)["not_in_storage"] == ["local.txt"]
    drop_cache(repo)
    fetch = gd("fetch", check=False)
    assert fetch.returncode == 1 and "local.txt" in fetch.stderr and "not in storage 'loc'" in fetch.stderr
    assert [o.read_bytes() for o in cache_objects(repo)] == [b"p"]
    assert json.loads(gd("fetch", "--json", "pushed.txt").stdout)["storage"] == "loc"   # nothing to fetch


def test_status_sends_files_the_cache_lacks_to_pull_and_names_the_storage(repo: Path, store: Path,
                                                                          tmp_path: Path) -> None:
    write(repo / "data" / "a", "a")
    write(repo / "data" / "b", "b")
    gd("add", "data")
    git("add", "-A")
    git("commit", "-qm", "data")
    gd("push", "-q")
    clone = tmp_path / "clone"
    git("clone", "-q", str(repo), str(clone))
    status = gd("status", cwd=clone).stdout
    assert "Missing, and not in the cache (use 'git data pull'" in status and "'git data checkout'" not in status
    listed = json.loads(gd("status", "--json", cwd=clone).stdout)
    assert listed["missing"] == listed["missing_not_in_cache"] == ["data/a", "data/b"]
    gd("fetch", "-q", "data/a", cwd=clone)
    listed = json.loads(gd("status", "--json", cwd=clone).stdout)
    assert listed["missing"] == ["data/a", "data/b"] and listed["missing_not_in_cache"] == ["data/b"]
    write(repo / "data" / "c", "c")
    gd("add", "data")
    status = gd("status", "-c").stdout
    assert "Not in storage 'loc'" in status and "Nothing to report" not in status


def test_api_contract(repo: Path, store: Path) -> None:
    write(repo / "x.txt", "x")
    write(repo / "y.txt", "y")
    gd("add", "x.txt", "y.txt")
    git("commit", "-qm", "xy")
    code = (
        "from gitdata.project import open_project\n"
        "from gitdata import transfer as t\n"
        "p = open_project()\n"
        "assert t.storage_names(p) == ['loc'] and t.default_storage_name(p) == 'loc'\n"
        "ds = t.digests_at(p, 'HEAD', ['x.txt'])\n"
        "assert len(ds) == 1 and ds == t.digests_at(p, None, ['x.txt'])\n"
        "assert t.upload_missing(p, t.digests_at(p, None, []), jobs=2) == 2\n"
        "assert t.upload_missing(p, ds) == 0\n"
        "for d in ds: p.cache.remove(d)\n"
        "assert t.download_missing(p, ds | {'b3:' + '0' * 64}) == ['b3:' + '0' * 64]\n"
        "assert all(p.cache.has(d) for d in ds)\n"
        "print(t.open_named_storage(p, None).describe())\n"
    )
    out = subprocess.run([str(Path(os.environ["PATH"].split(os.pathsep)[0]) / "python"), "-c", code],
                         cwd=repo, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "local directory" in out.stdout


def test_a_damaged_cache_object_is_not_pushed(repo: Path, store: Path) -> None:
    write(repo / "a.txt", "good content")
    gd("add", "a.txt")
    obj = cache_objects(repo)[0]
    obj.chmod(0o644)
    obj.write_bytes(b"bit rot")
    push = gd("push", check=False)
    assert push.returncode == 1 and "corrupt" in push.stderr and "not uploaded" in push.stderr
    assert stored(store) == []


@pytest.mark.parametrize("listing_bytes", [0, 512, 1 << 30])
def test_local_storage_finds_its_objects_by_listing_or_by_stat(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               listing_bytes: int) -> None:
    from gitdata.hashing import digest_bytes
    from gitdata.storage import local

    monkeypatch.setattr(local, "LISTING_BYTES_PER_LOOKUP", listing_bytes)
    (tmp_path / "store").mkdir()
    storage = local.LocalStorage("loc", tmp_path / "store")
    stored_digests = [digest_bytes(f"object {i}".encode()) for i in range(600)]
    for digest in stored_digests:
        storage.upload_bytes(digest, b"x")
    # 0: every name is looked up; 1 GiB: every directory is listed; 512: as pushes run
    absent = [digest_bytes(f"never stored {i}".encode()) for i in range(600)]
    shard = stored_digests[0].partition(":")[2][:2]
    crowd = [d for d in stored_digests + absent if d.partition(":")[2][:2] == shard]
    assert storage.exists(crowd) == set(crowd) & set(stored_digests)
    asked = stored_digests[::7] + absent
    assert storage.exists(asked) == set(stored_digests[::7])
    assert storage.exists(absent) == set()
    assert storage.exists(["sha256:" + "ab" * 32]) == set()   # no such algorithm directory
