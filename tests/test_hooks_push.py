"""The pre-push hook: uploads exactly what the pushed commits need, refuses pushes
whose data cannot be stored, and remembers what it did in push receipts."""
from __future__ import annotations

import shutil
from pathlib import Path

from tests.testing.helpers import gd, git, spy_on_hook_python, write


def stored(storage: Path) -> int:
    """Objects in a local storage."""
    return sum(1 for p in storage.rglob("*") if p.is_file() and p.relative_to(storage).parts[0] in ("b3", "sha256"))


def setup_remote(repo: Path, tmp_path: Path) -> tuple[Path, Path]:
    storage, remote = tmp_path / "store", tmp_path / "remote.git"
    git("init", "-q", "--bare", str(remote))
    git("remote", "add", "origin", str(remote))
    gd("storage", "add", "loc", str(storage))
    gd("install")
    return storage, remote


def test_pre_push_uploads_exactly_the_new_objects(repo: Path, tmp_path: Path) -> None:
    storage, remote = setup_remote(repo, tmp_path)
    write(repo / "data" / "a", "a\n")
    write(repo / "data" / "b", "b\n")
    gd("add", "data")
    git("commit", "-qm", "two files")
    result = git("push", "-u", "origin", "main")
    assert "uploaded 2 object(s) to storage 'loc'" in result.stderr
    assert stored(storage) == 2
    write(repo / "data" / "b", "b changed\n")
    write(repo / "data" / "c", "c\n")
    gd("commit", "data")
    git("commit", "-qm", "one changed, one new")
    write(repo / "data" / "c", "c again\n")
    gd("commit", "data")
    git("commit", "-qm", "c again")
    result = git("push")
    assert "uploaded 3 object(s)" in result.stderr    # b changed, c, c again: every pushed commit's data
    assert stored(storage) == 5
    # the receipt travelled with the push, and comes back with a fetch
    assert "refs/notes/gitdata/pushed/loc" in git("ls-remote", str(remote)).stdout
    clone = tmp_path / "clone"
    git("clone", "-q", str(remote), str(clone))
    gd("install", cwd=clone)
    git("fetch", "-q", cwd=clone)
    assert git("notes", "--ref=gitdata/pushed/loc", "list", "HEAD", cwd=clone).stdout.strip()


def test_push_is_refused_when_the_storage_cannot_take_the_data(repo: Path, tmp_path: Path) -> None:
    storage, remote = setup_remote(repo, tmp_path)
    write(repo / "data" / "a", "a\n")
    gd("add", "data")
    git("commit", "-qm", "a")
    git("push", "-q", "origin", "main")
    shutil.rmtree(storage)
    storage.write_text("not a directory\n")  # unwritable even for root
    write(repo / "data" / "b", "b\n")
    gd("add", "data")
    git("commit", "-qm", "b")
    result = git("push", "origin", "main", check=False)
    assert result.returncode != 0
    assert "push refused: uploading data to storage 'loc' failed" in result.stderr
    assert git("rev-parse", "main", cwd=remote).stdout != git("rev-parse", "main").stdout
    # the receipted commit goes anywhere without touching the (broken) storage
    result = git("push", "origin", "main~1:refs/heads/old")
    assert result.returncode == 0 and "uploaded" not in result.stderr
    # a fresh remote, by URL: nothing there hides the commit, only its receipt saves the round trip
    other = tmp_path / "other.git"
    git("init", "-q", "--bare", str(other))
    assert git("push", "-q", str(other), "main~1:refs/heads/by-url").returncode == 0
    git("notes", "--ref=gitdata/pushed/loc", "remove", "main~1")
    result = git("push", str(other), "main~1:refs/heads/again", check=False)
    assert result.returncode != 0 and "push refused" in result.stderr
    assert git("push", "-q", "origin", ":old").returncode == 0   # a delete needs no data
    # commits without new data need no storage, and not even Python
    git("reset", "-q", "--hard", "main~1")
    log = spy_on_hook_python(repo, "pre-push", tmp_path)
    write(repo / "code.py", "x = 1\n")
    git("add", "code.py")
    git("commit", "-qm", "code only")
    assert git("push", "-q", "origin", "main").returncode == 0
    assert git("push", "-q", "origin", "main:refs/heads/code-branch").returncode == 0
    assert not log.exists()
    write(repo / "data" / "c", "c\n")
    gd("add", "data")
    git("commit", "-qm", "c")
    assert git("push", "origin", "main", check=False).returncode != 0   # data again: checked, refused
    assert "hook-impl pre-push" in log.read_text()


def test_force_push_and_new_branch_upload_what_the_remote_lacks(repo: Path, tmp_path: Path) -> None:
    storage, remote = setup_remote(repo, tmp_path)
    write(repo / "data" / "a", "a\n")
    gd("add", "data")
    git("commit", "-qm", "a")
    git("push", "-q", "origin", "main")
    git("switch", "-qc", "topic")
    write(repo / "data" / "t", "t\n")
    gd("add", "data")
    git("commit", "-qm", "t")
    assert "uploaded 1 object(s)" in git("push", "origin", "topic").stderr
    git("commit", "-q", "--amend", "-m", "t, reworded")
    write(repo / "data" / "t", "t2\n")
    gd("commit", "data")
    git("commit", "-q", "--amend", "-m", "t2")
    assert "uploaded 1 object(s)" in git("push", "-f", "origin", "topic").stderr
    assert stored(storage) == 3
    write(repo / "data" / "v", "tagged\n")
    gd("add", "data")
    git("commit", "-qm", "v")
    git("tag", "-a", "v1", "-m", "release")
    assert "uploaded 1 object(s)" in git("push", "origin", "--tags").stderr   # an annotated tag, peeled
    assert stored(storage) == 4
    assert "uploaded" not in git("push", "origin", "--all").stderr           # topic's tip: receipted by the tag push


def test_push_without_a_storage_is_refused_with_a_hint(repo: Path, tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    git("init", "-q", "--bare", str(remote))
    gd("install")
    write(repo / "data" / "a", "a\n")
    gd("add", "data")
    git("commit", "-qm", "a")
    result = git("push", str(remote), "main", check=False)
    assert result.returncode != 0
    assert "no default storage" in result.stderr and "git data storage add" in result.stderr
    assert git("push", "-q", str(remote), "main", env={"GITDATA_SKIP_HOOKS": "1"}).returncode == 0


def test_push_from_a_branch_without_git_data_uploads_the_data_branch(repo: Path, tmp_path: Path) -> None:
    """The settings come from the pushed commit when the checkout (an orphan gh-pages,
    say) has no .gitdata/config; a push of only such branches has nothing to upload."""
    storage, remote = setup_remote(repo, tmp_path)
    write(repo / "data" / "a", "a\n")
    gd("add", "data")
    git("add", "-A")
    git("commit", "-qm", "data")
    git("switch", "-q", "--orphan", "gh-pages")
    write(repo / "index.html", "site\n")
    git("add", "index.html")
    git("commit", "-qm", "site")
    assert not (repo / ".gitdata").exists()
    git("push", "-q", "origin", "gh-pages")
    assert stored(storage) == 0
    result = git("push", "origin", "main")
    assert "uploaded 1 object(s) to storage 'loc'" in result.stderr
    assert stored(storage) == 1
