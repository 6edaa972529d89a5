from __future__ import annotations

import json
from pathlib import Path

from tests.testing.helpers import gd, write


def test_status_of_the_repository_root_by_path(repo: Path) -> None:
    # '.' at the root used to be refused as "leads outside the repository through a symlink"
    write(repo / "data" / "a.csv", "a\n")
    gd("add", "data")
    assert "Nothing to report" in gd("status", ".").stdout
    (repo / "sub").mkdir()
    assert "Nothing to report" in gd("status", "..", cwd=repo / "sub").stdout


def test_status_groups_and_json(repo: Path) -> None:
    for name in ("a", "b", "c"):
        write(repo / "data" / f"{name}.csv", f"{name}\n")
    gd("add", "data")
    write(repo / "data" / "a.csv", "changed\n")
    (repo / "data" / "b.csv").unlink()
    write(repo / "data" / "new.csv", "new\n")
    text = gd("status").stdout
    assert "Modified" in text and "Missing" in text and "Untracked" in text
    data = json.loads(gd("status", "--json").stdout)
    assert data == {"modified": ["data/a.csv"], "missing": ["data/b.csv"], "missing_not_in_cache": [],
                    "not_in_cache": [], "untracked": ["data/new.csv"]}


def test_status_of_a_new_file_in_a_directory_tracked_whole(repo: Path) -> None:
    write(repo / "d" / "a", "a\n")
    gd("add", "d")
    write(repo / "d" / "new", "n\n")
    for _ in range(2):   # a fresh comparison, then the clean memo's answer
        result = gd("status", "d/new")
        assert "Untracked files in tracked directories" in result.stdout and "\td/new" in result.stdout
    typo = gd("status", "d/typo", check=False)
    assert typo.returncode == 1 and "'d/typo' is not tracked by git-data" in typo.stderr


def test_status_counts_only_the_files_asked_about(repo: Path) -> None:
    for name in ("a", "b", "c"):
        write(repo / name, f"{name}\n")
    gd("add", "a", "b", "c")
    write(repo / "b", "changed\n")
    for _ in range(2):   # a fresh comparison, then the clean memo's answer
        assert gd("status", "a").stdout == "Nothing to report: 1 tracked file(s) match their manifests.\n"
    write(repo / "b", "b\n")
    assert gd("status").stdout == "Nothing to report: 3 tracked file(s) match their manifests.\n"
