"""Storage definitions, and the local, rsync and generic kinds end to end."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.testing.helpers import cache_objects, gd, git, tracked_data, write

CP_TEMPLATES = [
    "--init", "mkdir -p {url}",
    "--list", "cd {url} && find . -type f",
    "--upload", "mkdir -p {dir} && cp {local} {tmp} && mv {tmp} {remote}",
    "--download", "cp {remote} {local}",
    "--delete", "rm -f {remote}",
]


def stored(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))


def test_first_storage_becomes_default_and_definitions_are_committed(repo: Path, tmp_path: Path) -> None:
    gd("storage", "add", "one", str(tmp_path / "s1"))
    gd("storage", "add", "two", f"file://{tmp_path / 's2'}")
    config = (repo / ".gitdata" / "config").read_text()
    assert "defaultStorage = one" in config and '[storage "two"]' in config
    assert ".gitdata/config" in git("diff", "--cached", "--name-only").stdout.split()
    rows = json.loads(gd("storage", "list", "--json").stdout)
    assert [(r["name"], r["type"], r["default"]) for r in rows] == [("one", "local", True), ("two", "local", False)]
    listing = gd("storage", "list").stdout
    assert listing.splitlines()[0].startswith("* one")
    gd("storage", "default", "two")
    assert gd("storage", "default").stdout.strip() == "two"
    again = gd("storage", "add", "two", "/elsewhere", check=False)
    assert again.returncode == 1 and "already exists" in again.stderr


def test_remove_forgets_the_storage_but_never_its_data(repo: Path, tmp_path: Path) -> None:
    tracked_data(repo)
    store = tmp_path / "store"
    gd("storage", "add", "loc", str(store))
    gd("push")
    before = stored(store)
    assert len(before) == 3
    out = gd("storage", "remove", "loc")
    assert "not touched" in out.stderr
    assert stored(store) == before
    assert json.loads(gd("storage", "list", "--json").stdout) == []
    assert "storage" not in (repo / ".gitdata" / "config").read_text()   # no empty section left
    gd("storage", "add", "mine", str(tmp_path / "mine"), "--local")
    gd("storage", "remove", "mine")
    assert "storage" not in (repo / ".git" / "config").read_text()
    push = gd("push", check=False)
    assert push.returncode == 1 and "no storage configured" in push.stderr


def test_local_override_in_git_config(repo: Path, tmp_path: Path) -> None:
    tracked_data(repo, 1)
    gd("storage", "add", "loc", str(tmp_path / "committed"))
    git("config", "gitdata.storage.loc.url", str(tmp_path / "mine"))
    assert "does not exist" in gd("push", check=False).stderr  # never created behind the user's back
    (tmp_path / "mine").mkdir()
    gd("push")
    assert len(stored(tmp_path / "mine")) == 1 and not stored(tmp_path / "committed")


def test_kinds_are_picked_from_the_url(repo: Path) -> None:
    gd("storage", "add", "a", "s3://bucket/some/prefix", "--region", "eu-west-1")
    gd("storage", "add", "b", "user@host:backups/data")
    gd("storage", "add", "c", "ssh://user@host:2222/srv/data")
    gd("storage", "add", "r2", "s3://bucket", "--preset", "r2", "--account-id", "abc123")
    kinds = {r["name"]: r for r in json.loads(gd("storage", "list", "--json").stdout)}
    assert kinds["a"]["type"] == "s3" and kinds["a"]["region"] == "eu-west-1"
    assert kinds["b"]["type"] == "rsync" and kinds["c"]["type"] == "rsync"
    assert kinds["r2"]["endpointurl"] == "https://abc123.r2.cloudflarestorage.com"
    missing = gd("storage", "add", "bad", "s3://bucket", "--preset", "r2", check=False)
    assert missing.returncode == 1 and "--account-id" in missing.stderr
    usage = gd("storage", "add", "x", "/tmp/x", "--region", "us-east-1", check=False)
    assert usage.returncode == 2


def test_local_storage_marker_and_refuses_foreign_directory(repo: Path, tmp_path: Path) -> None:
    tracked_data(repo, 1)
    foreign = tmp_path / "foreign"
    write(foreign / "precious.txt", "not ours")
    added = gd("storage", "add", "loc", str(foreign), check=False)
    assert added.returncode == 1 and "not a git-data storage" in added.stderr
    assert sorted(p.name for p in foreign.iterdir()) == ["precious.txt"]
    assert "loc" not in gd("storage", "list").stdout
    gd("storage", "add", "new", str(tmp_path / "new"), "--default")
    gd("push")
    assert (tmp_path / "new" / ".gitdata-storage").read_text().startswith("git-data storage")


def test_a_missing_local_storage_directory_is_named_not_taken_for_missing_objects(repo: Path, tmp_path: Path) -> None:
    """An unmounted share is one clear line for every command that reads the storage,
    never a line per object saying it is not in storage."""
    store = tmp_path / "store"
    gd("storage", "add", "st", str(store))
    for name in ("a", "b", "c"):
        write(repo / "data" / name, name)
    gd("add", "-q", "data")
    gd("push", "-q")
    shutil.rmtree(repo / ".git" / "data" / "cache")
    store.rename(tmp_path / "store.unmounted")
    for command in (["fetch"], ["pull"], ["status", "-c"], ["push"]):
        result = gd(*command, check=False)
        assert result.returncode == 1, command
        assert result.stderr.count("\n") == 1 and "is the share mounted?" in result.stderr, (command, result.stderr)


def test_generic_storage_with_cp_templates(repo: Path, tmp_path: Path) -> None:
    files = tracked_data(repo)
    store = tmp_path / "generic"
    gd("storage", "add", "gen", str(store), *CP_TEMPLATES, "--processes", "2")
    assert "pushed 3 object(s)" in gd("push").stderr
    assert len(stored(store)) == 3
    assert "pushed 0 object(s)" in gd("push").stderr
    shutil.rmtree(repo / "data")
    for obj in cache_objects(repo):
        obj.chmod(0o644)
        obj.unlink()
    gd("pull")
    assert {rel: (repo / rel).read_bytes() for rel in files} == files


def test_untrusted_generic_commands_are_refused_until_approved(repo: Path, tmp_path: Path) -> None:
    tracked_data(repo, 2)
    store = tmp_path / "gen"
    marker = tmp_path / "ran"
    (repo / ".gitdata" / "config").write_text(
        (repo / ".gitdata" / "config").read_text()
        + f'[storage "gen"]\n\ttype = generic\n\turl = {store}\n'
        f'\tlist = touch {marker} && mkdir -p {{url}} && cd {{url}} && find . -type f\n'
        '\tupload = mkdir -p {dir} && cp {local} {remote}\n'
        '\tdownload = cp {remote} {local}\n')
    push = gd("push", "--storage", "gen", check=False)
    assert push.returncode == 1 and "not trusted" in push.stderr
    assert not marker.exists() and not store.exists()
    listed = gd("trust", "--list").stdout
    assert listed.count("UNTRUSTED") == 3 and "storage 'gen' upload" in listed
    refused = gd("trust", check=False)
    assert refused.returncode == 1 and "trust --yes" in refused.stderr
    gd("trust", "--yes")
    assert "UNTRUSTED" not in gd("trust", "--list").stdout
    gd("push", "--storage", "gen")
    assert marker.exists() and len(stored(store)) == 2
    # A changed command needs a new approval.
    config = repo / ".gitdata" / "config"
    config.write_text(config.read_text().replace("cp {local} {remote}", "cp {local} {remote} && true"))
    write(repo / "data" / "f9.bin", "new")
    gd("add", "data/f9.bin")
    again = gd("push", "--storage", "gen", check=False)
    assert again.returncode == 1 and "not trusted" in again.stderr


def test_trust_lists_pipeline_step_commands(repo: Path) -> None:
    write(repo / ".gitdata" / "pipelines" / "default" / "train.yaml",
          "command: python train.py --epochs 3\ndeps:\n  - generic:\n      command: date +%F\n")
    listed = json.loads(gd("trust", "--json").stdout)
    assert {c["command"] for c in listed} == {"python train.py --epochs 3", "date +%F"}
    assert not any(c["trusted"] for c in listed)
    gd("trust", "-y")
    assert all(c["trusted"] for c in json.loads(gd("trust", "--json").stdout))


@pytest.mark.skipif(shutil.which("rsync") is None, reason="rsync is not installed (apt-get install rsync)")
def test_rsync_storage_through_a_local_path(repo: Path, tmp_path: Path) -> None:
    files = tracked_data(repo)
    store = tmp_path / "rsync-target"
    gd("storage", "add", "rs", str(store), "--type", "rsync")
    assert "pushed 3 object(s)" in gd("push").stderr
    assert len(stored(store)) == 3 and (store / ".gitdata-storage").exists()
    assert "pushed 0 object(s)" in gd("push").stderr
    shutil.rmtree(repo / "data")
    for obj in cache_objects(repo):
        obj.chmod(0o644)
        obj.unlink()
    gd("pull")
    assert {rel: (repo / rel).read_bytes() for rel in files} == files
    victim = stored(store)[0]
    victim.chmod(0o644)
    victim.write_bytes(b"corrupt")
    for obj in cache_objects(repo):
        obj.chmod(0o644)
        obj.unlink()
    fetch = gd("fetch", check=False)
    assert fetch.returncode == 1 and "corrupt" in fetch.stderr and "'rs'" in fetch.stderr
    assert len(cache_objects(repo)) == 2
