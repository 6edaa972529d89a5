from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.testing.helpers import gd, git, write


def _ls(repo: Path) -> dict[str, dict]:
    return {f["path"]: f for f in json.loads(gd("ls", "--json", cwd=repo).stdout)["files"]}


def test_checkout_restores_only_the_given_paths(repo: Path) -> None:
    write(repo / "a" / "1", "one")
    write(repo / "b" / "2", "two")
    gd("add", "a", "b")
    (repo / "a" / "1").unlink()
    (repo / "b" / "2").unlink()
    gd("checkout", "a")
    assert (repo / "a" / "1").read_text() == "one" and not (repo / "b" / "2").exists()
    gd("recheck")
    assert (repo / "b" / "2").read_text() == "two"
    nothing = gd("checkout", "zzz", check=False)
    assert nothing.returncode == 1 and "not tracked by git-data" in nothing.stderr


def test_checkout_as_switches_and_records_the_method(repo: Path) -> None:
    write(repo / "d" / "f", "content")
    gd("add", "d")
    git("commit", "-q", "-m", "d")
    gd("checkout", "--as", "symlink", "d")
    assert (repo / "d" / "f").is_symlink() and (repo / "d" / "f").read_text() == "content"
    assert _ls(repo)["d/f"]["method"] == "symlink"
    assert ".gitdata/tree/d/%manifest" in git("diff", "--cached", "--name-only").stdout.split()
    gd("checkout", "--as", "copy")
    path = repo / "d" / "f"
    assert not path.is_symlink() and os.stat(path).st_nlink == 1
    path.write_text("editable again")   # a copy is the user's own file
    assert _ls(repo)["d/f"]["status"] == "modified"


def test_checkout_follows_git_history(repo: Path) -> None:
    write(repo / "m.bin", "v1")
    gd("add", "m.bin", "--commit", "-m", "v1")
    write(repo / "m.bin", "v2")
    gd("commit", "--commit", "-m", "v2")
    git("checkout", "-q", "HEAD~1")
    gd("checkout")
    assert (repo / "m.bin").read_text() == "v1"
    git("checkout", "-q", "main")
    gd("checkout")
    assert (repo / "m.bin").read_text() == "v2"


def test_checkout_reports_content_missing_from_the_cache(repo: Path) -> None:
    write(repo / "lost.bin", "lost")
    gd("add", "--no-commit", "lost.bin")
    (repo / "lost.bin").unlink()
    result = gd("checkout", check=False)
    assert result.returncode == 1
    assert "lost.bin: content not in the cache" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("git-data: error: 1 file(s) could not be restored")


def test_checkout_never_replaces_a_file_standing_where_a_directory_should_be(repo: Path) -> None:
    write(repo / "a" / "b", "tracked")
    gd("add", "a")
    (repo / "a" / "b").unlink()
    (repo / "a").rmdir()
    write(repo / "a", "the user's own file")
    result = gd("checkout", check=False)
    assert result.returncode == 1
    assert result.stderr == ("git-data: error: cannot restore 'a/b': 'a' is a file, not a directory; "
                             "move it out of the way first\n")
    assert (repo / "a").read_text() == "the user's own file"


def test_checkout_never_replaces_a_directory_standing_where_a_file_should_be(repo: Path) -> None:
    write(repo / "x", "tracked\n")
    gd("add", "x")
    (repo / "x").unlink()
    write(repo / "x" / "inner", "the user's own file\n")
    for args in (["checkout"], ["checkout", "--force"], ["checkout", "--as", "symlink", "x"]):
        result = gd(*args, check=False)
        assert result.returncode == 1
        assert "x: a directory stands where a file is tracked; kept as it is, even by --force" in result.stderr
        assert result.stderr.splitlines()[-1] == ("git-data: error: 1 file(s) not restored: "
                                                  "a directory stands where each goes")
        assert "--force' replaces" not in result.stderr
    assert (repo / "x" / "inner").read_text() == "the user's own file\n"
    assert _ls(repo)["x"]["method"] == "copy"
    shutil.rmtree(repo / "x")
    gd("checkout")
    assert (repo / "x").read_text() == "tracked\n"


def test_a_restore_killed_midway_is_finished_by_the_next_checkout(repo: Path) -> None:
    """Missing files are restored in place, without a temp file: a kill leaves the start
    of the object, which the next checkout may overwrite (no byte exists only there)."""
    content = os.urandom(300_000)
    write(repo / "d" / "big", content)
    write(repo / "d" / "mine", b"x" * 1000)
    gd("add", "d")
    write(repo / "d" / "big", content[:123_456])          # what a kill mid-copy leaves
    write(repo / "d" / "mine", b"y" * 10)                 # a real edit, in no cache
    status = json.loads(gd("status", "--json").stdout)
    assert status["modified"] == ["d/big", "d/mine"]
    result = gd("checkout", check=False)
    assert result.returncode == 1 and "d/mine" in result.stderr and "d/big" not in result.stderr
    assert (repo / "d" / "big").read_bytes() == content
    assert (repo / "d" / "mine").read_bytes() == b"y" * 10


def test_a_file_whose_known_content_left_the_cache_is_kept(repo: Path) -> None:
    """Switching away from a file the stat cache knows skips hashing it only while its
    content is still in the cache; once it is gone (gc, rm --from-cache), the file is
    hashed, found nowhere else, and kept."""
    long_ago = 1_600_000_000
    write(repo / "m.bin", "version one")
    os.utime(repo / "m.bin", (long_ago, long_ago))
    gd("add", "m.bin", "--commit", "-m", "v1")
    write(repo / "m.bin", "version two, longer")
    os.utime(repo / "m.bin", (long_ago + 10, long_ago + 10))   # old enough for the stat cache to keep it
    gd("commit", "--commit", "-m", "v2")
    v2 = gd("hash", "m.bin").stdout.split()[0]
    algorithm, hexdigest = v2.split(":")
    (repo / ".git" / "data" / "cache" / algorithm / hexdigest[:2] / hexdigest[2:]).unlink()
    git("-c", "core.hooksPath=/dev/null", "checkout", "-q", "HEAD~1")
    result = gd("checkout", check=False)
    assert result.returncode == 1 and "m.bin" in result.stderr
    assert (repo / "m.bin").read_text() == "version two, longer"
    gd("add", "m.bin")                      # carried back in: now the switch may replace it
    git("checkout", "-q", "HEAD", "--", ".gitdata")
    gd("checkout")
    assert (repo / "m.bin").read_text() == "version one"


def test_checkout_as_hardlink_replaces_a_symlink(repo: Path) -> None:
    write(repo / "f", "v1\n")
    gd("add", "--as", "symlink", "f")
    gd("checkout", "--as", "hardlink", "f")
    path = repo / "f"
    assert not path.is_symlink() and os.stat(path).st_nlink == 2 and path.read_text() == "v1\n"
    assert _ls(repo)["f"]["method"] == "hardlink"
    gd("checkout", "--as", "symlink", "f")
    assert path.is_symlink() and path.read_text() == "v1\n"


def _other_file_system(repo: Path) -> Path:
    """A directory on another file system than the repository (and its cache)."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)) or shm.stat().st_dev == repo.stat().st_dev:
        pytest.skip("no second file system at /dev/shm")
    return Path(tempfile.mkdtemp(dir=shm))


def test_hardlinks_across_file_systems_fall_back_to_copies(repo: Path) -> None:
    """A worktree on another disk shares the cache: a hard link cannot reach it."""
    write(repo / "a", "1\n")
    write(repo / "b", "2\n")
    gd("add", "--as", "hardlink", "a")
    gd("add", "b")
    git("commit", "-q", "-m", "1")
    other = _other_file_system(repo)
    try:
        worktree = other / "wt"
        git("worktree", "add", "-q", str(worktree), check=False)
        for name in ("a", "b"):
            (worktree / name).unlink(missing_ok=True)
        result = gd("checkout", cwd=worktree)
        assert "'a': kept as a copy, not a hard link: the cache is on another file system" in result.stderr
        assert (worktree / "a").read_text() == "1\n" and (worktree / "b").read_text() == "2\n"
        assert "Nothing to report" in gd("status", cwd=worktree).stdout
        again = gd("checkout", cwd=worktree)
        assert "kept as a copy" not in again.stderr and "restored" not in again.stderr
        write(worktree / "c", "3\n")
        added = gd("add", "--as", "hardlink", "c", cwd=worktree)
        assert "'c': kept as a copy, not a hard link" in added.stderr
        assert (worktree / "c").read_text() == "3\n" and _ls(worktree)["c"]["method"] == "hardlink"
    finally:
        shutil.rmtree(other)
        git("worktree", "prune")


def test_a_damaged_cache_object_is_not_restored(repo: Path) -> None:
    """An object that is not the recorded size (appended to through a link, truncated)
    never reaches the workspace; the other files are restored."""
    write(repo / "f", "hello\n")
    write(repo / "g", "other\n")
    gd("add", "f", "g")
    obj = Path(gd("cache", "path", "f").stdout.strip())
    obj.chmod(0o644)
    obj.write_text("hello, and more\n")
    (repo / "f").unlink()
    (repo / "g").unlink()
    result = gd("checkout", check=False)
    assert result.returncode == 1
    assert "f: cache object" in result.stderr and "is damaged" in result.stderr
    assert "git data fsck" in result.stderr and "content not in the cache" not in result.stderr
    assert not (repo / "f").exists()
    assert (repo / "g").read_text() == "other\n"


def test_force_over_a_symlink_replaces_the_link_and_copies_nothing_in(repo: Path, tmp_path: Path) -> None:
    """The bytes a link leads to stay where they are when the link is replaced, so an
    outside file never enters the cache (commit refuses that path too)."""
    write(repo / "f", "tracked\n")
    gd("add", "f")
    outside = write(tmp_path / "outside.txt", "not the repository's\n")
    (repo / "f").unlink()
    (repo / "f").symlink_to(outside)
    before = {p.read_bytes() for p in (repo / ".git" / "data" / "cache").rglob("*") if p.is_file()}
    gd("checkout", "--force")
    assert not (repo / "f").is_symlink() and (repo / "f").read_text() == "tracked\n"
    assert outside.read_text() == "not the repository's\n"
    after = {p.read_bytes() for p in (repo / ".git" / "data" / "cache").rglob("*") if p.is_file()}
    assert b"not the repository's\n" not in after and before <= after
