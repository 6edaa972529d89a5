"""Merging data with plain git: the merge driver, conflicts, resolve, and pull."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from gitdata import manifest
from gitdata.manifest import Entry
from gitdata.merge import both_name, merge_entries, merge_ignore_lines, merge_step_file
from tests.testing.helpers import gd, git, write

A = Entry("b3:" + "a" * 64, 1)
B = Entry("b3:" + "b" * 64, 2)
C = Entry("b3:" + "c" * 64, 3)


@pytest.mark.parametrize("base, ours, theirs, merged, conflict", [
    (A, A, B, B, False),          # theirs changed
    (A, B, A, B, False),          # ours changed
    (A, B, B, B, False),          # same change on both sides
    (None, A, None, A, False),    # ours added
    (A, A, None, None, False),    # theirs deleted
    (A, B, C, B, True),           # changed differently: ours kept, conflict
    (A, None, B, None, True),     # deleted here, changed there
    (None, A, B, A, True),        # added differently on both sides
    (A, B, B._replace(method="symlink"), B, False),  # same content: no data conflict
])
def test_merge_entries(base: Entry | None, ours: Entry | None, theirs: Entry | None,
                       merged: Entry | None, conflict: bool) -> None:
    def side(entry: Entry | None) -> dict[str, Entry]:
        return {"f": entry} if entry else {}

    result, conflicts = merge_entries(side(base), side(ours), side(theirs))
    assert result.get("f") == merged
    assert bool(conflicts) == conflict


def test_step_file_merges_key_wise_and_falls_back_to_markers() -> None:
    base = b"cmd: python train.py\ndeps:\n- data/raw\nwhen: by_dependencies\n"
    ours = b"cmd: python train.py --fast\ndeps:\n- data/raw\nwhen: by_dependencies\n"
    theirs = b"cmd: python train.py\ndeps:\n- data/raw\nwhen: always\n"
    text, conflicts = merge_step_file(base, ours, theirs, ("base", "main", "feat"))
    assert conflicts == []
    assert b"--fast" in text and b"when: always" in text
    theirs2 = b"cmd: python train.py --slow\ndeps:\n- data/raw\nwhen: by_dependencies\n"
    text, conflicts = merge_step_file(base, ours, theirs2, ("base", "main", "feat"))
    assert conflicts == ["cmd"] and b"<<<<<<< main" in text


def test_step_runs_recorded_differently_on_both_sides_merge_as_stale() -> None:
    base = b"command: make\nlast_run:\n  deps:\n    file:a: b3:00\n"
    ours = b"command: make\nlast_run:\n  deps:\n    file:a: b3:11\n"
    theirs = b"command: make\nlast_run:\n  deps:\n    file:a: b3:22\n"
    text, conflicts = merge_step_file(base, ours, theirs, ("base", "main", "feat"))
    assert conflicts == []
    assert b"last_run" not in text and b"command: make" in text


def test_ignore_lines_merge_as_sets_and_names_for_both() -> None:
    assert merge_ignore_lines(b"/a\n", b"/a\n/b\n", b"/a\n/c\n") == b"/a\n/b\n/c\n"
    assert merge_ignore_lines(b"/a\n/x\n", b"/a\n", b"/a\n/x\n/c\n") == b"/a\n/c\n"
    assert merge_ignore_lines(b"/a\n", b"/a\n!/b\n", b"/c\n") is None
    assert both_name("data/model.pkl", "feature/x") == "data/model.feature-x.pkl"
    assert both_name("README", "dev") == "README.dev"


def branches(repo: Path, tmp_path: Path) -> None:
    """main and feat both change data/ (one directory, one manifest)."""
    gd("storage", "add", "loc", str(tmp_path / "store"))
    gd("install")
    for name in "abc":
        write(repo / "data" / name, f"{name} base\n")
    gd("add", "data")
    git("commit", "-qm", "base")
    git("switch", "-qc", "feat")
    for name in "abc":
        write(repo / "data" / name, f"{name} feat\n")
    write(repo / "data" / "only-feat", "feat\n")
    gd("add", "data")
    git("commit", "-qm", "feat")
    git("switch", "-q", "main")
    for name in "abc":
        write(repo / "data" / name, f"{name} main\n")
    write(repo / "data" / "only-main", "main\n")
    gd("add", "data")
    git("commit", "-qm", "main")


def test_two_branches_merge_cleanly_in_one_directory(repo: Path, tmp_path: Path) -> None:
    gd("storage", "add", "loc", str(tmp_path / "store"))
    gd("install")
    write(repo / "data" / "shared", "shared\n")
    gd("add", "data/shared")
    git("commit", "-qm", "base")
    git("switch", "-qc", "feat")
    write(repo / "data" / "from-feat", "feat\n")
    write(repo / "data" / "shared", "shared, changed on feat\n")
    gd("add", "data/from-feat", "data/shared")
    gd("storage", "add", "feat-store", str(tmp_path / "feat-store"))
    git("commit", "-qm", "feat")
    git("switch", "-q", "main")
    write(repo / "data" / "from-main", "main\n")
    gd("add", "data/from-main")
    gd("storage", "add", "main-store", str(tmp_path / "main-store"))
    git("commit", "-qm", "main")
    result = git("merge", "-q", "--no-edit", "feat")
    assert result.returncode == 0
    assert (repo / "data" / "from-feat").read_text() == "feat\n"       # post-merge brought it
    assert (repo / "data" / "shared").read_text() == "shared, changed on feat\n"
    assert (repo / "data" / "from-main").read_text() == "main\n"
    entries, _ = manifest.parse((repo / ".gitdata/tree/data/%manifest").read_bytes(), "merged")
    assert sorted(entries) == ["from-feat", "from-main", "shared"]
    assert sorted((repo / "data" / ".gitignore").read_text().split()) == ["/from-feat", "/from-main", "/shared"]
    assert "Nothing to report" in gd("status").stdout
    storages = gd("storage", "list").stdout                 # both branches added a storage: merged key-wise
    assert "main-store" in storages and "feat-store" in storages and "loc" in storages


def test_conflict_and_each_resolve_mode(repo: Path, tmp_path: Path) -> None:
    branches(repo, tmp_path)
    result = git("merge", "feat", check=False)
    assert result.returncode != 0
    assert "CONFLICT (data): data/a: " in result.stderr and "git data resolve" in result.stderr
    # no conflict markers: the manifest parses, the workspace keeps ours, clean entries arrived
    status = gd("status")
    assert "Data merge conflicts" in status.stdout and "data/a" in status.stdout
    assert (repo / "data" / "a").read_text() == "a main\n"
    listed = json.loads(gd("resolve", "--json").stdout)
    assert {c["path"] for c in listed} == {"data/a", "data/b", "data/c"}
    assert listed[0]["ours_label"] == "main" and listed[0]["theirs_label"] == "feat"
    gd("resolve", "--ours", "data/a")
    assert "data/a" not in gd("status").stdout
    assert "U" in git("status", "--porcelain", ".gitdata").stdout  # still conflicted: b and c are open
    gd("resolve", "--theirs", "data/b")
    result = gd("resolve", "--both", "data/c")
    assert "settled 1 conflict(s)" in result.stderr
    assert (repo / "data" / "a").read_text() == "a main\n"
    assert (repo / "data" / "b").read_text() == "b feat\n"
    assert (repo / "data" / "c").read_text() == "c main\n"
    assert (repo / "data" / "c.feat").read_text() == "c feat\n"
    assert (repo / "data" / "only-feat").read_text() == "feat\n"
    assert "U" not in git("status", "--porcelain").stdout
    git("commit", "-qm", "merged", "--no-edit")
    assert "Nothing to report" in gd("status").stdout
    git("switch", "-q", "feat")
    assert (repo / "data" / "b").read_text() == "b feat\n"
    assert not (repo / "data" / "c.feat").exists()
    assert gd("resolve", "--ours", "data/a", check=False).returncode == 1


def test_merge_without_the_driver_points_to_resolve(repo: Path) -> None:
    """Without `git data install` git writes its conflict markers into the manifest:
    status says what happened and resolve still settles it. The driver quotes the
    paths it suggests."""
    write(repo / "data" / "a b", "base\n")
    gd("add", "-q", "data")
    git("add", "-A")
    git("commit", "-qm", "base")
    git("switch", "-qc", "feat")
    write(repo / "data" / "a b", "feat\n")
    gd("add", "-q", "data")
    git("commit", "-qam", "feat")
    git("switch", "-q", "main")
    gd("checkout", "-q")
    write(repo / "data" / "a b", "main\n")
    gd("add", "-q", "data")
    git("commit", "-qam", "main")
    assert git("merge", "-q", "feat", check=False).returncode != 0
    status = gd("status", check=False)
    assert status.returncode == 1 and status.stderr.count("\n") == 1
    assert "conflict markers" in status.stderr and "git data resolve" in status.stderr
    gd("resolve", "--theirs", ".")
    assert (repo / "data" / "a b").read_text() == "feat\n"
    git("merge", "--abort", check=False)
    git("reset", "-q", "--hard")
    gd("checkout", "-q", "--force")
    gd("install", "-q")
    git("commit", "-qm", "install", ".gitattributes")
    result = git("merge", "feat", check=False)
    assert "git data resolve --ours|--theirs|--both 'data/a b'" in result.stderr


def test_resolve_keeps_unsaved_changes_and_checks_arguments(repo: Path, tmp_path: Path) -> None:
    branches(repo, tmp_path)
    git("merge", "feat", check=False)
    write(repo / "data" / "a", "unsaved edit during the merge\n")
    result = gd("resolve", "--theirs", "data/a")
    assert "data/a: has changes that are not saved" in result.stderr
    assert (repo / "data" / "a").read_text() == "unsaved edit during the merge\n"
    assert gd("resolve", "data/b", check=False).returncode == 2
    assert gd("resolve", "--ours", check=False).returncode == 2
    assert gd("resolve", "--ours", "data/only-main", check=False).returncode == 1
    git("merge", "--abort")
    assert "Data merge conflicts" not in gd("status").stdout


def test_pull_brings_data_from_another_clone(repo: Path, tmp_path: Path) -> None:
    gd("storage", "add", "loc", str(tmp_path / "store"))
    gd("install")
    write(repo / "data" / "a", "a\n")
    gd("add", "data")
    git("commit", "-qm", "a")
    remote = tmp_path / "remote.git"
    git("init", "-q", "--bare", str(remote))
    git("remote", "add", "origin", str(remote))
    git("push", "-q", "-u", "origin", "main")
    other = tmp_path / "other"
    git("clone", "-q", str(remote), str(other))
    gd("install", cwd=other)
    gd("checkout", cwd=other, check=False)
    gd("pull", cwd=other)
    write(other / "data" / "b", "b from other\n")
    gd("add", "data", cwd=other)
    git("commit", "-qm", "b", cwd=other)
    git("push", "-q", cwd=other)
    git("pull", "-q", "--no-rebase")
    assert (repo / "data" / "b").read_text() == "b from other\n"
    write(other / "data" / "a", "a changed\n")
    gd("add", "data", cwd=other)
    git("commit", "-qm", "a changed", cwd=other)
    git("push", "-q", cwd=other)
    write(repo / "code.py", "x\n")
    git("add", "code.py")
    git("commit", "-qm", "local code")
    git("pull", "-q", "--rebase")
    assert (repo / "data" / "a").read_text() == "a changed\n"


def test_commit_concluding_a_code_conflict_and_cherry_pick_bring_data(repo: Path, tmp_path: Path) -> None:
    gd("storage", "add", "loc", str(tmp_path / "store"))
    gd("install")
    write(repo / "code.py", "base\n")
    write(repo / "data" / "a", "a base\n")
    gd("add", "data")
    git("add", "code.py")
    git("commit", "-qm", "base")
    git("switch", "-qc", "feat")
    write(repo / "code.py", "feat\n")
    write(repo / "data" / "a", "a feat\n")
    gd("add", "data")
    git("commit", "-qam", "feat")
    git("switch", "-qc", "pick", "main")
    write(repo / "data" / "p", "picked\n")
    gd("add", "data")
    git("commit", "-qm", "to pick")
    git("switch", "-q", "main")
    write(repo / "code.py", "main\n")
    git("commit", "-qam", "main")
    assert git("merge", "feat", check=False).returncode != 0     # code.py conflicts, data merges cleanly
    assert (repo / "data" / "a").read_text() == "a base\n"      # no hook ran yet
    write(repo / "code.py", "resolved\n")
    git("add", "code.py")
    result = git("commit", "--no-edit")
    assert "post-commit: updated 1 file(s)" in result.stderr
    assert (repo / "data" / "a").read_text() == "a feat\n"
    git("cherry-pick", "pick")
    assert (repo / "data" / "p").read_text() == "picked\n"
    assert "Nothing to report" in gd("status").stdout
