"""`--to-branch` / `--from-ref`: record data on another branch without leaving this one."""
from __future__ import annotations

from pathlib import Path

from gitdata import manifest
from tests.testing.helpers import gd, git, write


def entries_at(repo: Path, rev: str, directory: str = "out") -> dict[str, manifest.Entry]:
    data = git("show", f"{rev}:{manifest.manifest_path(directory)}").stdout.encode()
    return manifest.parse(data, rev)[0]


def test_to_branch_commits_there_and_keeps_what_was_staged(repo: Path) -> None:
    write(repo / "out" / "base", "base\n")
    gd("add", "out/base")
    git("commit", "-qm", "base")
    git("branch", "results")
    write(repo / "out" / "only-results", "r\n")
    gd("add", "out/only-results", "--to-branch", "results", "-m", "results only")
    git("switch", "-q", "results")
    git("switch", "-q", "main")
    # the user's own staged work, and a new result recorded onto the branch
    write(repo / "notes.txt", "staged by the user\n")
    git("add", "notes.txt")
    write(repo / "out" / "model", "model v1\n")
    result = gd("add", "out/model", "--to-branch", "results", "-m", "model v1")
    assert "on results: model v1" in result.stderr
    assert sorted(entries_at(repo, "results")) == ["base", "model", "only-results"]  # replayed onto results
    assert git("log", "-1", "--format=%s", "results").stdout.strip() == "model v1"
    assert git("diff", "--cached", "--name-only").stdout.split() == ["notes.txt"]    # still staged, alone
    assert sorted(manifest.read_workspace(repo).files) == ["out/base"]               # this branch unchanged
    assert git("rev-parse", "HEAD").stdout == git("rev-parse", "main").stdout
    assert (repo / "out" / "model").read_text() == "model v1\n"                      # the data stays
    gd("install")
    git("stash", "-q")
    git("switch", "-q", "results")
    assert (repo / "out" / "model").read_text() == "model v1\n"


def test_from_ref_starts_a_new_branch_and_refuses_to_drop_commits(repo: Path) -> None:
    write(repo / "out" / "base", "base\n")
    gd("add", "out/base")
    git("commit", "-qm", "base")
    git("commit", "-qm", "later", "--allow-empty")
    write(repo / "out" / "x", "x\n")
    gd("add", "out/x", "--to-branch", "exp", "--from-ref", "main~1")
    assert git("rev-parse", "exp~1").stdout == git("rev-parse", "main~1").stdout
    assert sorted(entries_at(repo, "exp")) == ["base", "x"]
    write(repo / "out" / "y", "y\n")
    refused = gd("add", "out/y", "--to-branch", "exp", "--from-ref", "main~1", check=False)
    assert refused.returncode == 1 and "would drop" in refused.stderr
    assert gd("add", "out/y", "--from-ref", "main", check=False).returncode == 2
    write(repo / "out" / "base", "base changed\n")
    gd("commit", "out", "--to-branch", "main", "-m", "same branch")   # current branch: a plain commit
    assert git("log", "-1", "--format=%s").stdout.strip() == "same branch"
