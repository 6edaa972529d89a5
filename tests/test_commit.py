from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.testing.helpers import cache_objects, gd, git, write


def _ls(repo: Path) -> dict[str, dict]:
    return {f["path"]: f for f in json.loads(gd("ls", "--json", cwd=repo).stdout)["files"]}


def test_commit_records_modified_new_and_deleted(repo: Path) -> None:
    write(repo / "d" / "a", "a1")
    write(repo / "d" / "b", "b1")
    write(repo / "single.bin", "s1")
    gd("add", "d", "single.bin")
    git("commit", "-q", "-m", "v1")
    write(repo / "d" / "a", "a2")
    write(repo / "d" / "new", "n")
    (repo / "d" / "b").unlink()
    (repo / "single.bin").unlink()
    result = gd("commit")
    assert "single.bin is missing; 'git data rm' stops tracking it" in result.stderr
    files = _ls(repo)
    assert set(files) == {"d/a", "d/new", "single.bin"}   # b left the whole directory; single.bin is not forgotten
    assert files["d/a"]["status"] == "clean" and files["single.bin"]["status"] == "missing"
    assert len(cache_objects(repo)) == 5
    assert ".gitdata/tree/d/%manifest" in git("diff", "--cached", "--name-only").stdout.split()
    # the old version is still reachable from the first commit
    assert gd("cat", "-r", "HEAD", "d/a").stdout == "a1"


def test_commit_scoped_and_with_git_commit(repo: Path) -> None:
    write(repo / "x" / "f", "1")
    write(repo / "y" / "f", "1")
    gd("add", "x", "y", "--commit", "-m", "start")
    write(repo / "x" / "f", "2")
    write(repo / "y" / "f", "2")
    gd("commit", "x", "--commit", "-m", "only x")
    assert git("log", "-1", "--format=%s").stdout.strip() == "only x"
    assert git("show", "--name-only", "--format=", "HEAD").stdout.split() == [".gitdata/tree/x/%manifest"]
    assert _ls(repo)["y/f"]["status"] == "modified"
    nothing = gd("commit", "x", "--commit", check=False)
    assert nothing.returncode == 1 and "nothing to commit" in nothing.stderr


def test_commit_leaves_git_tracked_files_in_data_directories_to_git(repo: Path) -> None:
    write(repo / "d" / "data.bin", "data")
    gd("add", "d")
    write(repo / "d" / "README.md", "docs for the data")
    git("add", "-f", "d/README.md")
    assert "README" not in gd("status").stdout
    gd("commit")
    assert set(_ls(repo)) == {"d/data.bin"}
    assert "d/README.md" in git("ls-files").stdout.split()


def test_commit_of_a_new_file_in_a_directory_tracked_whole(repo: Path) -> None:
    write(repo / "d" / "a", "a")
    gd("add", "d")
    write(repo / "d" / "new", "n")
    write(repo / "d" / "other", "o")
    assert "recorded 1 change(s)" in gd("commit", "d/new").stderr
    files = _ls(repo)
    assert files["d/new"]["status"] == "clean" and files["d/other"]["digest"] is None   # still untracked
    typo = gd("commit", "d/typo", check=False)
    assert typo.returncode == 1 and "'d/typo' is not tracked by git-data" in typo.stderr


def _write_through(path: Path, text: str) -> None:
    """What a command run as root (or after chmod u+w) does to a file kept as a link
    into the cache: it writes where the link leads, into the cache object."""
    os.chmod(path, 0o644)   # follows a symlink; a hard link shares the object's inode
    with open(path, "a") as handle:
        handle.write(text)


@pytest.mark.parametrize("record", ["commit", "add"])
@pytest.mark.parametrize("method", ["hardlink", "symlink"])
def test_a_link_written_through_is_modified_and_recorded_as_new_content(repo: Path, method: str,
                                                                       record: str) -> None:
    write(repo / "h.bin", "hello\n")
    gd("add", "--as", method, "h.bin")
    git("commit", "-q", "-m", "v1")
    assert "Nothing to report" in gd("status").stdout
    old = _ls(repo)["h.bin"]["digest"]
    _write_through(repo / "h.bin", "more\n")
    status = gd("status")
    assert "Modified" in status.stdout and "h.bin" in status.stdout
    assert f"cache object {old} no longer holds the version recorded for it" in status.stderr
    assert "git data fsck" in status.stderr
    assert _ls(repo)["h.bin"]["status"] == "modified"
    recorded = gd(record, "h.bin")
    assert f"cache object {old} no longer holds" in recorded.stderr
    entry = _ls(repo)["h.bin"]
    assert entry["status"] == "clean" and entry["method"] == method and entry["digest"] != old
    assert Path(gd("cache", "path", "h.bin").stdout.strip()).read_text() == "hello\nmore\n"
    assert (repo / "h.bin").is_symlink() == (method == "symlink")
    assert f"corrupt: {old}" in gd("fsck", check=False).stdout


def test_an_executable_bit_change_is_modified_and_committed(repo: Path) -> None:
    write(repo / "run.sh", "echo hi\n")
    gd("add", "run.sh")
    git("commit", "-q", "-m", "v1")
    os.chmod(repo / "run.sh", 0o755)
    assert json.loads(gd("status", "--json").stdout)["modified"] == ["run.sh"]
    assert "recorded 1 change(s)" in gd("commit").stderr
    assert _ls(repo)["run.sh"]["executable"] is True
    assert "\tx\t" in (repo / ".gitdata" / "tree" / "%manifest").read_text()
    os.chmod(repo / "run.sh", 0o644)
    assert _ls(repo)["run.sh"]["status"] == "modified"
    gd("commit")
    assert _ls(repo)["run.sh"]["executable"] is False
    assert "Nothing to report" in gd("status").stdout


def test_commit_of_a_tracked_file_that_became_a_directory(repo: Path) -> None:
    write(repo / "x", "file\n")
    write(repo / "w" / "x", "file in w\n")
    gd("add", "x", "w")
    for path in (repo / "x", repo / "w" / "x"):
        path.unlink()
        write(path / "inner", "inner\n")
    for args in (["commit"], ["commit", "x"]):
        result = gd(*args)
        assert "x is a directory now, where a file is tracked; 'git data add x' tracks the directory instead" \
            in result.stderr
    # inside a directory tracked whole, the directory's files are new files of it
    assert set(_ls(repo)) == {"x", "w/x/inner"}
    assert _ls(repo)["x"]["status"] == "modified"
    gd("add", "x")
    assert set(_ls(repo)) == {"x/inner", "w/x/inner"}
