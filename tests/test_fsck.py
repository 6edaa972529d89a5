from __future__ import annotations

import json
import os
from pathlib import Path

from tests.testing.helpers import cache_objects, gd, git, write


def test_fsck_finds_a_flipped_byte_and_moves_the_object_aside(repo: Path, tmp_path: Path) -> None:
    write(repo / "data" / "a.bin", b"a" * 1000)
    write(repo / "b.txt", "bee\n")
    gd("add", "data", "b.txt")
    git("commit", "-q", "-m", "data")
    assert gd("fsck").stdout.endswith("all good\n")

    obj = Path(gd("cache", "path", "data/a.bin").stdout.strip())
    os.chmod(obj, 0o644)
    raw = bytearray(obj.read_bytes())
    raw[500] ^= 0x01
    obj.write_bytes(bytes(raw))
    os.remove(repo / "data" / "a.bin")  # no good copy left anywhere

    result = gd("fsck", check=False)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert any(line.startswith("corrupt: b3:") and "moved to" in line for line in lines)
    assert any(line.startswith("missing: HEAD:data/a.bin") for line in lines)
    assert lines[-1].endswith("problem(s)")
    assert not obj.exists()
    aside = list((repo / ".git" / "data" / "corrupt").iterdir())
    assert len(aside) == 1 and aside[0].read_bytes() == bytes(raw)
    assert "Traceback" not in result.stderr

    # the storage holds a good copy: fsck reports it as available, fetch repairs the cache
    gd("storage", "add", "loc", str(tmp_path / "store"))
    result = gd("fsck", check=False)
    assert result.returncode == 1 and "nor storage 'loc'" in result.stdout


def test_fsck_recovers_from_a_clean_workspace_copy_and_checks_manifests(repo: Path, tmp_path: Path) -> None:
    write(repo / "x.txt", "x content\n")
    gd("add", "x.txt")
    git("commit", "-q", "-m", "x")
    for obj in cache_objects(repo):
        os.chmod(obj, 0o644)
        obj.write_bytes(b"garbage")
    result = gd("fsck", check=False)
    assert result.returncode == 1 and "corrupt: " in result.stdout  # the corrupt copy is reported
    assert "recovered" in result.stderr
    assert [p.read_bytes() for p in cache_objects(repo)] == [b"x content\n"]
    assert gd("fsck").returncode == 0

    manifest = repo / ".gitdata" / "tree" / "%manifest"
    manifest.write_text(manifest.read_text().replace("\t-\tcopy", "\t?\tcopy"))
    report = json.loads(gd("fsck", "--json", check=False).stdout)
    assert report["ok"] is False
    assert [p["kind"] for p in report["problems"]] == ["manifest"]
    assert "bad mode '?'" in report["problems"][0]["detail"]


def test_fsck_with_a_storage_accepts_objects_only_the_storage_has(repo: Path, tmp_path: Path) -> None:
    write(repo / "y.txt", "y\n")
    gd("add", "y.txt")
    git("commit", "-q", "-m", "y")
    gd("storage", "add", "loc", str(tmp_path / "store"))
    gd("push")
    os.remove(repo / "y.txt")
    for obj in cache_objects(repo):
        os.remove(obj)
    assert gd("fsck").stdout.endswith("all good\n")
    result = gd("fsck", "--no-storage", check=False)
    assert result.returncode == 1 and "missing: " in result.stdout


def test_fsck_reports_stray_files_in_the_cache_and_checks_the_rest(repo: Path) -> None:
    write(repo / "a.txt", "hello\n")
    gd("add", "a.txt")
    git("commit", "-q", "-m", "a")
    obj = cache_objects(repo)[0]
    strays = [obj.parent.parent / "zz", obj.parent / ".DS_Store", obj.parent.parent.parent / "notes.txt"]
    for stray in strays:
        stray.write_text("junk\n")
    os.chmod(obj, 0o644)
    obj.write_bytes(b"garbage")

    result = gd("fsck", check=False)
    assert result.returncode == 1 and result.stderr.count("\n") <= 1 and "error" not in result.stderr
    lines = result.stdout.splitlines()
    assert sorted(line for line in lines if line.startswith("stray: ")) == \
        sorted(f"stray: {stray}: not a cache object; left in place" for stray in strays)
    assert any(line.startswith("corrupt: b3:") for line in lines)  # the real object was still checked
    assert all(stray.read_text() == "junk\n" for stray in strays)
