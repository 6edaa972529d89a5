"""git data rm: untracking, and deleting versions from the cache or a storage without losing data."""
from __future__ import annotations

import json
import re
from pathlib import Path

from tests.testing.helpers import cache_objects, gd, git, write


def stored(root: Path) -> list[bytes]:
    return sorted(p.read_bytes() for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))


def cached(repo: Path) -> list[bytes]:
    return sorted(p.read_bytes() for p in cache_objects(repo))


def two_versions(repo: Path) -> None:
    write(repo / "data" / "a.csv", "version 1\n")
    write(repo / "data" / "b.csv", "other\n")
    gd("add", "data")
    git("commit", "-qm", "v1")
    write(repo / "data" / "a.csv", "version 2\n")
    gd("add", "data/a.csv")
    git("commit", "-qm", "v2")


def test_rm_untracks_and_leaves_an_ordinary_file(repo: Path) -> None:
    write(repo / "model.bin", b"weights")
    write(repo / "keep.bin", b"keep")
    gd("add", "--as", "symlink", "model.bin")
    gd("add", "keep.bin")
    git("commit", "-qm", "track")
    assert (repo / "model.bin").is_symlink()
    out = gd("rm", "model.bin")
    assert "untracked model.bin" in out.stdout
    path = repo / "model.bin"
    assert not path.is_symlink() and path.read_bytes() == b"weights"
    path.write_bytes(b"writable now")
    assert "/model.bin" not in (repo / ".gitignore").read_text().splitlines()
    assert "/keep.bin" in (repo / ".gitignore").read_text().splitlines()
    manifest = (repo / ".gitdata" / "tree" / "%manifest").read_text()
    assert "model.bin" not in manifest and "keep.bin" in manifest
    assert ".gitdata/tree/%manifest" in git("diff", "--cached", "--name-only").stdout.split()
    assert "?? model.bin" in git("status", "--porcelain").stdout
    bad = gd("rm", "model.bin", check=False)
    assert bad.returncode == 1 and "not tracked" in bad.stderr


def test_rm_whole_directory(repo: Path) -> None:
    write(repo / "data" / "x.txt", "x")
    gd("add", "data")
    gd("rm", "data")
    assert (repo / "data" / "x.txt").read_text() == "x"
    assert not (repo / ".gitignore").exists() or "/data" not in (repo / ".gitignore").read_text()
    assert gd("status", "--json").stdout.count("data") == 0


def test_from_cache_refuses_to_drop_the_last_copy(repo: Path, tmp_path: Path) -> None:
    two_versions(repo)
    dry = gd("rm", "--from-cache", "--all-versions", "data/a.csv", "--dry-run", check=False)
    assert dry.returncode == 1 and "exist only in the cache" in dry.stderr
    refused = gd("rm", "--from-cache", "--all-versions", "data/a.csv", check=False)
    assert refused.returncode == 1 and "push them first" in refused.stderr
    assert cached(repo) == [b"other\n", b"version 1\n", b"version 2\n"]
    gd("storage", "add", "loc", str(tmp_path / "store"))
    gd("push", "--all-commits")
    gd("rm", "--from-cache", "--all-versions", "data/a.csv")
    assert cached(repo) == [b"other\n"]
    assert (repo / "data" / "a.csv").read_text() == "version 2\n"
    gd("fetch", "--all-commits")
    assert cached(repo) == [b"other\n", b"version 1\n", b"version 2\n"]
    both = gd("rm", "--from-cache", "--from-storage", "loc", "--all-versions", "data/a.csv", check=False)
    assert both.returncode == 1 and "nowhere else" in both.stderr
    assert cached(repo) == [b"other\n", b"version 1\n", b"version 2\n"]
    assert stored(tmp_path / "store") == [b"other\n", b"version 1\n", b"version 2\n"]


def test_current_version_in_the_workspace_is_safe_to_drop_from_cache(repo: Path) -> None:
    write(repo / "m.bin", b"model")
    gd("add", "--as", "symlink", "m.bin")
    gd("rm", "--from-cache", "m.bin")
    assert cached(repo) == []
    assert not (repo / "m.bin").is_symlink() and (repo / "m.bin").read_bytes() == b"model"
    assert "m.bin" in json.loads(gd("status", "--json").stdout)["not_in_cache"]


def test_objects_other_paths_use_are_kept_unless_forced(repo: Path, tmp_path: Path) -> None:
    write(repo / "a.txt", "same")
    write(repo / "copy.txt", "same")
    gd("add", "a.txt", "copy.txt")
    gd("storage", "add", "loc", str(tmp_path / "store"))
    gd("push")
    refused = gd("rm", "--from-storage", "loc", "a.txt", check=False)
    assert refused.returncode == 1 and "copy.txt" in refused.stderr
    assert stored(tmp_path / "store") == [b"same"]
    gd("rm", "--from-storage", "loc", "a.txt", "--force")
    assert stored(tmp_path / "store") == []
    assert cached(repo) == [b"same"]


def test_only_version_from_storage(repo: Path, tmp_path: Path) -> None:
    two_versions(repo)
    store = tmp_path / "store"
    gd("storage", "add", "loc", str(store))
    gd("push", "--all-commits")
    v1 = next(p for p in cache_objects(repo) if p.read_bytes() == b"version 1\n")
    prefix = v1.parent.name + v1.name[:6]
    missing = gd("rm", "--from-storage", "loc", "--only-version", "ffffffff", "data/a.csv", check=False)
    assert missing.returncode == 1 and "no version" in missing.stderr
    gd("rm", "--from-storage", "loc", "--only-version", prefix, "data/a.csv")
    assert stored(store) == [b"other\n", b"version 2\n"]
    gd("push", "--all-commits")
    gd("rm", "--from-cache", "--only-version", prefix, "data/a.csv")
    assert not v1.exists()
    refused = gd("rm", "--from-storage", "loc", "--only-version", prefix, "data/a.csv", check=False)
    assert refused.returncode == 1 and "nowhere else" in refused.stderr
    assert stored(store) == [b"other\n", b"version 1\n", b"version 2\n"]


def test_restore_versions_writes_every_cached_version(repo: Path, tmp_path: Path) -> None:
    two_versions(repo)
    out_dir = tmp_path / "versions"
    gd("rm", "--restore-versions", str(out_dir), "data/a.csv")
    written = sorted(p.relative_to(out_dir).as_posix() for p in out_dir.rglob("*") if p.is_file())
    assert len(written) == 2 and all(w.startswith("data/a.") and w.endswith(".csv") for w in written)
    assert sorted((out_dir / w).read_text() for w in written) == ["version 1\n", "version 2\n"]
    assert "data/a.csv" not in (repo / ".gitdata" / "tree" / "data" / "%manifest").read_text()
    assert (repo / "data" / "a.csv").read_text() == "version 2\n"


def test_restore_versions_shortens_a_name_that_would_grow_too_long(repo: Path, tmp_path: Path) -> None:
    long_name, long_ext = "L" * 255, "a." + "x" * 253
    write(repo / long_name, "long\n")
    write(repo / long_ext, "ext\n")
    write(repo / "b.csv", "short\n")
    gd("add", long_name, long_ext, "b.csv")
    git("commit", "-q", "-m", "v1")
    out_dir = tmp_path / "versions"
    gd("rm", "--restore-versions", str(out_dir), long_name, long_ext, "b.csv")
    names = {p.read_text(): p.name for p in out_dir.iterdir()}
    assert set(names) == {"long\n", "ext\n", "short\n"}
    assert all(len(name) == 255 for name in (names["long\n"], names["ext\n"]))
    assert names["long\n"].startswith("LLLL") and names["ext\n"].startswith("a.xxx")
    assert re.fullmatch(r"b\.[0-9a-f]{12}\.csv", names["short\n"])


def test_restore_versions_that_cannot_be_written_untracks_nothing(repo: Path, tmp_path: Path) -> None:
    write(repo / "a.csv", "a\n")
    gd("add", "a.csv")
    blocker = write(tmp_path / "file", "not a directory")
    result = gd("rm", "--restore-versions", str(blocker), "a.csv", check=False)
    assert result.returncode == 1 and "internal error" not in result.stderr
    assert result.stderr.startswith("git-data: error: cannot write version b3:") and result.stderr.count("\n") == 1
    assert "a.csv" in (repo / ".gitdata" / "tree" / "%manifest").read_text()
