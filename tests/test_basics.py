from __future__ import annotations

from pathlib import Path

from tests.testing.helpers import cache_objects, gd, git, write


def test_add_status_checkout_roundtrip(repo: Path) -> None:
    for i in range(3):
        write(repo / "data" / f"f{i}.txt", f"content {i}\n")
    gd("add", "data")
    assert len(cache_objects(repo)) == 3
    assert "/data" in (repo / ".gitignore").read_text().splitlines()
    staged = git("diff", "--cached", "--name-only").stdout.split()
    assert ".gitdata/tree/data/%manifest" in staged and ".gitignore" in staged
    (repo / "data" / "f1.txt").unlink()
    status = gd("status").stdout
    assert "Missing" in status and "data/f1.txt" in status
    gd("checkout")
    assert (repo / "data" / "f1.txt").read_text() == "content 1\n"
    assert "Nothing to report" in gd("status").stdout
