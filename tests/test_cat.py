from __future__ import annotations

from pathlib import Path

from tests.testing.helpers import gd, git, write


def test_cat_old_version_after_the_workspace_moved_on(repo: Path) -> None:
    write(repo / "model.bin", b"\x00\x01version one\xff")
    write(repo / "set" / "inner.txt", "inner one\n")
    gd("add", "model.bin", "set")
    git("commit", "-q", "-m", "one")
    write(repo / "model.bin", b"version two")
    write(repo / "set" / "inner.txt", "inner two\n")
    gd("add", "model.bin", "set")
    git("commit", "-q", "-m", "two")
    write(repo / "model.bin", b"three, not added yet")
    old = gd("cat", "model.bin", "-r", "HEAD~1", input=b"")
    assert old.stdout == "\x00\x01version one\ufffd"
    assert gd("cat", "set/inner.txt", "-r", "HEAD~1").stdout == "inner one\n"
    assert gd("cat", "set/inner.txt").stdout == "inner two\n"
    assert gd("cat", "model.bin").stdout == "version two"  # what the manifest records
    (repo / "sub").mkdir()
    assert gd("cat", "../set/inner.txt", "-r", "HEAD~1", cwd=repo / "sub").stdout == "inner one\n"


def test_cat_refuses_directories_and_unknown_paths(repo: Path) -> None:
    write(repo / "set" / "a.txt", "a\n")
    gd("add", "set")
    result = gd("cat", "set", check=False)
    assert result.returncode == 1 and "is a tracked directory" in result.stderr
    result = gd("cat", "nothing", "-r", "HEAD", check=False)
    assert result.returncode == 1 and result.stderr == "git-data: error: unknown revision 'HEAD'\n"


def test_cache_path_and_digest_at_refs(repo: Path) -> None:
    write(repo / "f.txt", "first\n")
    gd("add", "f.txt")
    git("commit", "-q", "-m", "one")
    first = gd("cache", "digest", "f.txt").stdout.strip()
    write(repo / "f.txt", "second\n")
    gd("add", "f.txt")
    assert first.startswith("b3:") and len(first) == 67
    assert gd("cache", "digest", "f.txt", "-r", "HEAD").stdout.strip() == first
    assert gd("cache", "digest", "f.txt").stdout.strip() != first
    path = Path(gd("cache", "path", "f.txt", "-r", "HEAD").stdout.strip())
    assert path.read_text() == "first\n"
    assert Path(gd("cache", "dir").stdout.strip()) in path.parents
    assert gd("cache", check=False).returncode == 2
