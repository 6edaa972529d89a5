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
    assert bad.returncode == 2 and "unknown hash algorithm 'md5'" in bad.stderr   # usage


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


def test_init_hash_in_an_initialised_project_changes_the_algorithm_for_new_digests(repo: Path) -> None:
    write(repo / "old.bin", "old")
    gd("add", "old.bin")
    same = gd("init", "--hash", "b3")
    assert "core.hash" not in same.stderr and "already initialised" in same.stderr
    changed = gd("init", "--hash", "sha256")
    assert "core.hash is now sha256 (was b3)" in changed.stderr
    assert "hash = sha256" in (repo / ".gitdata" / "config").read_text()
    assert ".gitdata/config" in git("diff", "--cached", "--name-only").stdout.split()
    write(repo / "new.bin", "new")
    gd("add", "new.bin")
    listed = gd("ls", "--format", "{algorithm} {path}", "--no-summary").stdout
    assert listed == "sha256 new.bin\nb3 old.bin\n"   # old.bin keeps its digest
    assert gd("status").stdout.startswith("Nothing to report: 2 tracked")


def test_bad_option_values_are_usage_errors(repo: Path) -> None:
    write(repo / "f", "f")
    for argv in (["add", "--as", "bogus", "f"], ["checkout", "--as", "bogus"], ["cp", "--as", "bogus", "f", "g"],
                 ["init", "--hash", "md5"], ["hash", "-a", "md5", "f"]):
        result = gd(*argv, check=False)
        assert result.returncode == 2 and result.stderr.count("\n") == 1, (argv, result)
