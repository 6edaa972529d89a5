from __future__ import annotations

from pathlib import Path

from tests.testing.helpers import gd, git


def test_root_relative_and_absolute(repo: Path) -> None:
    deep = repo / "a" / "b"
    deep.mkdir(parents=True)
    assert gd("root", cwd=deep).stdout == "../..\n"
    assert gd("root", cwd=repo).stdout == ".\n"
    assert gd("root", "--absolute", cwd=deep).stdout == f"{repo.resolve()}\n"


def test_root_in_a_worktree(repo: Path, tmp_path: Path) -> None:
    git("commit", "-q", "-m", "init", cwd=repo)
    other = tmp_path / "wt"
    git("worktree", "add", "-q", str(other), cwd=repo)
    assert gd("root", "--absolute", cwd=other / ".gitdata").stdout == f"{other.resolve()}\n"


def test_root_outside_a_repository(tmp_path: Path) -> None:
    result = gd("root", cwd=tmp_path, check=False)
    assert result.returncode == 1
    assert result.stderr.startswith("git-data: error: not a git repository")
