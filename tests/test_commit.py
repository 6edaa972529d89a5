from __future__ import annotations

import json
from pathlib import Path

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
