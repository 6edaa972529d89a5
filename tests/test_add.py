from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

from gitdata.hashing import digest_file

from tests.testing.helpers import cache_objects, gd, git, write


def _ls(repo: Path) -> dict[str, dict]:
    return {f["path"]: f for f in json.loads(gd("ls", "--json", cwd=repo).stdout)["files"]}


def test_add_files_dirs_and_globs(repo: Path) -> None:
    write(repo / "a.bin", "a")
    write(repo / "imgs" / "x.png", "x")
    write(repo / "imgs" / "y.png", "y")
    write(repo / "imgs" / "notes.txt", "n")
    write(repo / "d" / "e" / "deep.bin", "deep")
    gd("add", "a.bin", "imgs/*.png", "d")
    files = _ls(repo)
    assert set(files) == {"a.bin", "imgs/x.png", "imgs/y.png", "d/e/deep.bin"}
    assert set((repo / ".gitignore").read_text().splitlines()) == {"/a.bin", "/d"}
    assert set((repo / "imgs" / ".gitignore").read_text().splitlines()) == {"/x.png", "/y.png"}
    git("check-ignore", "-q", "d/e/deep.bin")
    assert git("status", "--porcelain", "--untracked-files=all").stdout.splitlines() == [
        "A  .gitdata/config", "A  .gitdata/tree/%manifest", "A  .gitdata/tree/d/%manifest",
        "A  .gitdata/tree/d/e/%manifest", "A  .gitdata/tree/imgs/%manifest",
        "A  .gitdataignore", "A  .gitignore", "A  imgs/.gitignore", "?? imgs/notes.txt"]
    assert len(cache_objects(repo)) == 4


def test_add_from_a_subdirectory(repo: Path) -> None:
    write(repo / "sub" / "f.bin", "f")
    gd("add", "f.bin", cwd=repo / "sub")
    assert list(_ls(repo)) == ["sub/f.bin"]


@pytest.mark.parametrize("method", ["symlink", "hardlink", "reflink", "copy"])
def test_add_as_method_is_remembered(repo: Path, method: str) -> None:
    write(repo / "m.bin", b"method\n")
    gd("add", "--as", method, "m.bin")
    path = repo / "m.bin"
    assert path.read_bytes() == b"method\n"
    assert path.is_symlink() == (method == "symlink")
    if method == "hardlink":
        assert os.stat(path).st_nlink == 2
    assert _ls(repo)["m.bin"]["method"] == method
    path.unlink()
    gd("checkout")
    assert path.read_bytes() == b"method\n" and path.is_symlink() == (method == "symlink")
    # the cache object stays read-only whatever the method
    (obj,) = cache_objects(repo)
    assert not obj.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)


def test_add_unchanged_is_a_no_op_and_changed_is_recorded(repo: Path) -> None:
    write(repo / "d" / "a", "1")
    gd("add", "d")
    again = gd("add", "d")
    assert "added 0 file(s), 1 unchanged" in again.stderr
    write(repo / "d" / "a", "2")
    gd("add", "d")
    assert _ls(repo)["d/a"]["status"] == "clean"
    assert len(cache_objects(repo)) == 2   # both versions kept


def test_add_no_commit_records_without_caching(repo: Path) -> None:
    write(repo / "big.bin", "big")
    gd("add", "--no-commit", "big.bin")
    assert cache_objects(repo) == []
    assert _ls(repo)["big.bin"]["status"] == "not in cache"
    gd("commit")
    assert len(cache_objects(repo)) == 1 and _ls(repo)["big.bin"]["status"] == "clean"


def test_add_skips_gitdataignore_and_git_files_unless_asked(repo: Path) -> None:
    with open(repo / ".gitdataignore", "a") as handle:
        handle.write("*.tmp\n")
    write(repo / "d" / "keep.bin", "k")
    write(repo / "d" / "junk.tmp", "j")
    write(repo / "d" / "code.py", "print()")
    git("add", "d/code.py")
    walked = gd("add", "d")
    assert "code.py" not in walked.stderr   # found in a walk: no noise
    assert list(_ls(repo)) == ["d/keep.bin"]   # and code.py is not reported as untracked data
    named = gd("add", "d/code.py")
    assert "git-data: warning: 'd/code.py' is tracked by git; skipped (see --include-git-files)" in named.stderr
    single = gd("add", "d/junk.tmp")
    assert "'d/junk.tmp' is ignored by .gitdataignore:2:*.tmp; skipped" in single.stderr
    gd("add", "--include-git-files", "d/code.py")
    assert "d/code.py" in _ls(repo)
    assert "d/code.py" not in git("ls-files").stdout.split()


def test_add_commit_touches_nothing_else_staged(repo: Path) -> None:
    write(repo / "README", "readme")
    git("add", "README")
    write(repo / "data.bin", "data")
    gd("add", "data.bin", "--commit", "-m", "data only")
    log = git("log", "--format=%s", "--name-only", "-1").stdout.split("\n")
    assert log[0] == "data only"
    # and git-data's own set-up files, staged by init and never committed: a clone needs them
    assert set(filter(None, log[1:])) == {".gitdata/tree/%manifest", ".gitignore", ".gitdata/config",
                                          ".gitdataignore"}
    assert git("diff", "--cached", "--name-only").stdout.split() == ["README"]   # still staged
    write(repo / "more.bin", "more")
    with open(repo / ".gitdataignore", "a") as handle:
        handle.write("*.tmp\n")
    git("add", ".gitdataignore")
    gd("add", "more.bin", "--commit")   # once committed, a set-up file is the user's to commit
    log = git("log", "--format=%s", "--name-only", "-1").stdout.split("\n")
    assert set(filter(None, log[1:])) == {".gitdata/tree/%manifest", ".gitignore"}


def test_add_commit_of_a_file_taken_over_from_git_removes_it_from_git(repo: Path) -> None:
    write(repo / "a.bin", "data\n")
    git("add", "a.bin")
    git("commit", "-qm", "a in git")
    gd("add", "--include-git-files", "--commit", "a.bin")
    assert "a.bin" not in git("ls-tree", "-r", "--name-only", "HEAD").stdout.split()
    assert "a.bin" not in git("ls-files").stdout.split()
    assert git("status", "--porcelain").stdout == ""
    assert _ls(repo)["a.bin"]["status"] == "clean"


def test_a_clone_of_the_first_add_commit_is_initialised(repo: Path, tmp_path: Path) -> None:
    write(repo / "a", "a\n")
    gd("add", "a", "--commit")
    git("clone", "-q", str(repo), str(tmp_path / "clone"))
    assert "a" in gd("status", cwd=tmp_path / "clone").stdout


@pytest.mark.parametrize("command", [["add", "a"], ["commit"], ["update"], ["import-url", "http://127.0.0.1:9/a"],
                                     ["import", "../elsewhere", "a"]])
def test_a_message_without_commit_is_a_usage_error(repo: Path, command: list[str]) -> None:
    write(repo / "a", "a\n")
    result = gd(*command, "-m", "lost words", check=False)
    assert result.returncode == 2
    assert result.stderr.startswith("git-data: error: -m/--message needs --commit")
    assert len(result.stderr.splitlines()) == 1
    assert git("status", "--porcelain").stdout.split("\n")[:-1] == ["A  .gitdata/config", "A  .gitdataignore",
                                                                   "?? a"]   # nothing done


def test_add_odd_file_names(repo: Path) -> None:
    names = ["with space.bin", "ünïcödé.bin", "-leading-dash.bin", "#hash.bin", "tab\tname.bin", "pct%41.bin",
             "new\nline.bin", "[brackets]*.bin"]
    for i, name in enumerate(names):
        write(repo / "odd" / name, f"{i}\n")
    gd("add", "odd")
    assert set(_ls(repo)) == {f"odd/{n}" for n in names}
    for name in names:
        (repo / "odd" / name).unlink()
    gd("checkout")
    assert all((repo / "odd" / n).read_text() == f"{i}\n" for i, n in enumerate(names))
    assert "Nothing to report" in gd("status").stdout


def test_add_keeps_the_executable_bit(repo: Path) -> None:
    script = write(repo / "run.sh", "#!/bin/sh\n")
    script.chmod(0o755)
    gd("add", "run.sh")
    assert _ls(repo)["run.sh"]["executable"] is True
    script.unlink()
    gd("checkout")
    assert os.access(script, os.X_OK)


def test_add_errors(repo: Path) -> None:
    missing = gd("add", "nope.bin", check=False)
    assert (missing.returncode, missing.stderr) == (1, "git-data: error: pathspec 'nope.bin' did not match any files\n")
    bad_method = gd("add", "--as", "teleport", ".gitdataignore", check=False)
    assert bad_method.returncode == 2 and "invalid choice: 'teleport'" in bad_method.stderr   # usage
    root = gd("add", ".", check=False)
    assert root.returncode == 1 and "cannot be tracked as a whole" in root.stderr
    no_glob = gd("add", "*.nothing", check=False)
    assert no_glob.returncode == 1 and "did not match any files" in no_glob.stderr


def test_add_inside_a_directory_tracked_whole_writes_no_gitignore_there(repo: Path) -> None:
    write(repo / "data" / "a", "a")
    gd("add", "data")
    write(repo / "data" / "sub" / "new", "n")
    gd("add", "data/sub/new")
    assert not (repo / "data" / ".gitignore").exists() and not (repo / "data" / "sub" / ".gitignore").exists()
    assert (repo / ".gitignore").read_text() == "/data\n"
    assert set(_ls(repo)) == {"data/a", "data/sub/new"}


def test_add_skips_special_files_and_broken_links(repo: Path) -> None:
    import subprocess

    write(repo / "d" / "real", "real")
    os.mkfifo(repo / "d" / "fifo")        # reading it would block forever
    os.symlink("nowhere", repo / "d" / "broken")
    result = subprocess.run(["git", "data", "add", "d"], cwd=repo, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "'d/broken' is a broken symbolic link; skipped" in result.stderr
    assert set(_ls(repo)) == {"d/real"}
    single = subprocess.run(["git", "data", "add", "d/fifo"], cwd=repo, capture_output=True, text=True, timeout=60)
    assert single.returncode == 1
    assert single.stderr == "git-data: error: 'd/fifo' is not a regular file, a directory or a symbolic link\n"


def test_re_adding_a_directory_drops_files_deleted_from_it(repo: Path) -> None:
    write(repo / "data" / "keep.txt", "keep\n")
    write(repo / "data" / "sub" / "gone.txt", "gone\n")
    gd("add", "data")
    (repo / "data" / "sub" / "gone.txt").unlink()
    result = gd("add", "data")
    assert "1 deleted file(s) untracked" in result.stderr
    listed = gd("ls", "--no-summary", "--format", "{path}").stdout.split()
    assert listed == ["data/keep.txt"]
    assert "Nothing to report" in gd("status").stdout


def test_large_file_is_copied_in_the_kernel_and_verified(repo: Path) -> None:
    content = os.urandom(5 << 20) + b"tail"  # several chunks past the small-file path
    write(repo / "big.bin", content)
    gd("add", "big.bin")
    [obj] = cache_objects(repo)
    assert obj.read_bytes() == content
    listed = gd("hash", "big.bin").stdout.split()[0]
    assert obj.parent.name + obj.name == listed.split(":")[1]
    assert not os.access(obj, os.W_OK) or os.geteuid() == 0


@pytest.fixture
def xfs_dir(tmp_path: Path) -> Iterator[Path]:
    """A fresh XFS file system (block sharing on) mounted from a loop file; skipped
    where that cannot be done (not root, no mkfs.xfs, no loop devices)."""
    if os.geteuid() != 0 or not shutil.which("mkfs.xfs"):
        pytest.skip("needs root and mkfs.xfs")
    image, mount = tmp_path / "xfs.img", tmp_path / "xfs"
    with open(image, "wb") as handle:
        handle.truncate(512 << 20)
    mount.mkdir()
    made = subprocess.run(["mkfs.xfs", "-q", "-m", "reflink=1", str(image)], capture_output=True)
    mounted = made.returncode == 0 and subprocess.run(["mount", "-o", "loop", str(image), str(mount)],
                                                      capture_output=True).returncode == 0
    if not mounted:
        pytest.skip("cannot make or mount an XFS loop file system here")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_big_file_on_a_block_sharing_file_system_is_cloned_into_the_cache(xfs_dir: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    repo = xfs_dir / "repo"
    repo.mkdir()
    monkeypatch.chdir(repo)
    git("init", "-q")
    gd("init", "-q")
    content = os.urandom(1 << 20) * 3 + b"tail"
    write(repo / "big.bin", content)
    gd("add", "big.bin")
    (obj,) = cache_objects(repo)
    assert obj.read_bytes() == content and digest_file(obj) == "b3:" + obj.parent.name + obj.name
    extents = subprocess.run(["filefrag", "-v", str(obj)], capture_output=True, text=True).stdout
    assert "shared" in extents, extents      # no bytes were copied (cloned, or copy_file_range's clone)
    write(repo / "big.bin", b"changed in place\n" + content)   # the clone keeps the added version
    assert obj.read_bytes() == content
    (repo / "big.bin").unlink()
    gd("checkout", "big.bin")
    assert (repo / "big.bin").read_bytes() == content


def _restored_elsewhere(repo: Path, tmp_path: Path) -> Path:
    """A second worktree of HEAD (sharing the cache), brought to its manifests."""
    git("commit", "-qm", "state")
    other = tmp_path / "other"
    git("worktree", "add", "-q", str(other))
    gd("checkout", cwd=other)
    return other


def test_a_directory_replacing_a_tracked_file_replaces_it(repo: Path, tmp_path: Path) -> None:
    write(repo / "x", "file\n")
    gd("add", "x")
    (repo / "x").unlink()
    write(repo / "x" / "inner", "inner\n")
    result = gd("add", "x")
    assert "1 deleted file(s) untracked" in result.stderr
    assert list(_ls(repo)) == ["x/inner"]
    assert (_restored_elsewhere(repo, tmp_path) / "x" / "inner").read_text() == "inner\n"


def test_a_file_below_a_tracked_file_replaces_it(repo: Path, tmp_path: Path) -> None:
    write(repo / "x", "file\n")
    gd("add", "x")
    (repo / "x").unlink()
    write(repo / "x" / "inner", "inner\n")
    gd("add", "x/inner")
    assert list(_ls(repo)) == ["x/inner"]
    assert not (repo / ".gitignore").exists()   # '/x' would hide x/.gitignore from git
    assert (_restored_elsewhere(repo, tmp_path) / "x" / "inner").read_text() == "inner\n"


@pytest.mark.parametrize("whole", [True, False])
def test_a_file_replacing_a_tracked_directory_replaces_it(repo: Path, tmp_path: Path, whole: bool) -> None:
    write(repo / "d" / "y", "y\n")
    gd("add", "d" if whole else "d/y")
    git("commit", "-qm", "directory")
    shutil.rmtree(repo / "d")
    write(repo / "d", "file\n")
    gd("add", "d")
    assert list(_ls(repo)) == ["d"]
    assert not (repo / ".gitdata" / "tree" / "d").exists()   # nor is d marked as added whole
    assert not any(p.startswith("d/") for p in git("ls-files").stdout.split())   # d/.gitignore left git too
    assert (_restored_elsewhere(repo, tmp_path) / "d").read_text() == "file\n"


def test_a_directory_replacing_a_file_git_tracks(repo: Path, tmp_path: Path) -> None:
    write(repo / "g", "git's file\n")
    git("add", "g")
    git("commit", "-qm", "g")
    (repo / "g").unlink()
    write(repo / "g" / "in", "data\n")
    gd("add", "g/in")
    assert "g" not in git("ls-files").stdout.split()
    assert (_restored_elsewhere(repo, tmp_path) / "g" / "in").read_text() == "data\n"


def test_add_of_a_symlink_to_a_directory(repo: Path) -> None:
    write(repo / "d" / "x", "x\n")
    os.symlink("d", repo / "dlnk")
    named = gd("add", "dlnk")
    assert named.stderr == ("git-data: warning: 'dlnk' is a symbolic link to the directory 'd'; skipped "
                            "(add 'd' itself)\nadded 0 file(s), 0 unchanged\n")
    write(repo / "p" / "one", "1\n")
    os.symlink("../d", repo / "p" / "lnk")
    walked = gd("add", "p")
    assert "'p/lnk' is a symbolic link to the directory 'd'; skipped (add 'd' itself)" in walked.stderr
    assert list(_ls(repo)) == ["p/one"]
    assert "Nothing to report" in gd("status").stdout
    assert "recorded 0 change(s)" in gd("commit").stderr


def test_add_beyond_a_symlinked_directory_is_refused_before_writing_anything(repo: Path) -> None:
    write(repo / "d" / "sub" / "x", "x\n")
    os.symlink("d", repo / "dlnk")
    before = git("status", "--porcelain", "--untracked-files=all").stdout
    for args in (["dlnk/sub/x"], ["dlnk/sub"], ["d/sub/x", "dlnk/sub/x"]):
        result = gd("add", *args, check=False)
        assert (result.returncode, result.stderr) == (
            1, f"git-data: error: '{args[-1]}' is beyond a symbolic link ('dlnk')\n")
    assert git("status", "--porcelain", "--untracked-files=all").stdout == before
    assert not (repo / "d" / "sub" / ".gitignore").exists() and not (repo / ".gitdata" / "tree" / "d").exists()
    assert list(_ls(repo)) == []
