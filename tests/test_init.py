from __future__ import annotations

from pathlib import Path

from tests.testing.helpers import gd, git, write


def test_init_creates_layout_and_stages_it(tmp_path: Path) -> None:
    git("init", "-q", cwd=tmp_path)
    result = gd("init", cwd=tmp_path)
    assert "Initialised git-data" in result.stderr
    assert (tmp_path / ".gitdata" / "config").read_text().count("hash = b3") == 1
    assert (tmp_path / ".gitdata" / "tree").is_dir()
    assert (tmp_path / ".gitdataignore").exists()
    assert (tmp_path / ".git" / "data" / "cache").is_dir()
    assert set(git("diff", "--cached", "--name-only", cwd=tmp_path).stdout.split()) == {
        ".gitdata/config", ".gitdataignore"}


def test_init_again_is_harmless_and_force_recreates(repo: Path) -> None:
    write(repo / ".gitdataignore", "mine\n")
    again = gd("init")
    assert "already initialised" in again.stderr
    assert (repo / ".gitdataignore").read_text() == "mine\n"
    gd("init", "--force")
    assert "mine" not in (repo / ".gitdataignore").read_text()


def test_init_from_a_subdirectory_with_another_hash(tmp_path: Path) -> None:
    git("init", "-q", cwd=tmp_path)
    (tmp_path / "sub").mkdir()
    gd("init", "--hash", "sha256", cwd=tmp_path / "sub")
    assert "hash = sha256" in (tmp_path / ".gitdata" / "config").read_text()
    write(tmp_path / "f.bin", "f")
    gd("add", "f.bin", cwd=tmp_path)
    assert "\tsha256:" in (tmp_path / ".gitdata" / "tree" / "%manifest").read_text()
    bad = gd("init", "--force", "--hash", "md5", cwd=tmp_path, check=False)
    assert bad.returncode == 1 and "unknown hash algorithm 'md5'" in bad.stderr


def test_worktrees_share_one_cache(repo: Path, tmp_path: Path) -> None:
    write(repo / "data.bin", "shared bytes")
    gd("add", "data.bin", "--commit", "-m", "data")
    other = tmp_path / "wt"
    git("worktree", "add", "-q", str(other))
    gd("init", cwd=other)
    assert not (other / "data.bin").exists()
    gd("checkout", cwd=other)   # no fetch needed: the object is in the common cache
    assert (other / "data.bin").read_text() == "shared bytes"
    assert not (other / ".git").is_dir()


def test_commands_need_init(tmp_path: Path) -> None:
    git("init", "-q", cwd=tmp_path)
    result = gd("status", cwd=tmp_path, check=False)
    assert result.returncode == 1
    assert result.stderr == f"git-data: error: git-data is not initialised in {tmp_path.resolve()}; run 'git data init'\n"
