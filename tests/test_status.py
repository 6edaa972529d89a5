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
    assert data == {"modified": ["data/a.csv"], "missing": ["data/b.csv"], "not_in_cache": [],
                    "untracked": ["data/new.csv"]}
