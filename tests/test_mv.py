from __future__ import annotations

import json
import os
from pathlib import Path

from tests.testing.helpers import gd, git, write


def _manifest_paths(repo: Path) -> list[str]:
    return [f["path"] for f in json.loads(gd("ls", "--json", cwd=repo).stdout)["files"]]


def _setup(repo: Path) -> None:
    write(repo / "data" / "a.csv", "a\n")
    write(repo / "data" / "b.csv", "b\n")
    write(repo / "data" / "sub" / "c.bin", "c\n")
    write(repo / "one.txt", "one\n")
    gd("add", "data", "one.txt")
    git("commit", "-q", "-m", "data")


def test_mv_file_rewrites_manifest_gitignore_and_stages(repo: Path) -> None:
    _setup(repo)
    gd("mv", "one.txt", "two.txt")
    assert not (repo / "one.txt").exists() and (repo / "two.txt").read_text() == "one\n"
    ignore = (repo / ".gitignore").read_text().splitlines()
    assert "/two.txt" in ignore and "/one.txt" not in ignore
    assert "two.txt" in _manifest_paths(repo) and "one.txt" not in _manifest_paths(repo)
    staged = git("diff", "--cached", "--name-only").stdout.split()
    assert staged == [".gitdata/tree/%manifest", ".gitignore"]
    assert "Nothing to report" in gd("status").stdout


def test_mv_directory_rename_and_into_existing_directory(repo: Path) -> None:
    _setup(repo)
    gd("mv", "data", "renamed")
    assert not (repo / "data").exists()
    assert (repo / "renamed" / "sub" / "c.bin").read_text() == "c\n"
    (repo / "archive").mkdir()
    gd("mv", "renamed", "archive")
    assert (repo / "archive" / "renamed" / "a.csv").read_text() == "a\n"
    assert sorted(_manifest_paths(repo)) == ["archive/renamed/a.csv", "archive/renamed/b.csv",
                                             "archive/renamed/sub/c.bin", "one.txt"]
    # the directory stays "added whole": a new file in it shows up as untracked
    write(repo / "archive" / "renamed" / "new.csv", "n\n")
    assert "archive/renamed/new.csv" in gd("status").stdout
    assert (repo / "archive" / ".gitignore").read_text() == "/renamed\n"
    assert (repo / ".gitignore").read_text() == "/one.txt\n"
    git("check-ignore", "-q", "archive/renamed/sub/c.bin")


def test_mv_glob_without_content_in_workspace(repo: Path) -> None:
    _setup(repo)
    (repo / "data" / "a.csv").unlink()   # content only in the cache
    gd("mv", "data/*.csv", "csv/")
    assert (repo / "csv" / "a.csv").read_text() == "a\n" and (repo / "csv" / "b.csv").read_text() == "b\n"
    assert not (repo / "data" / "b.csv").exists()
    assert (repo / "data" / "sub" / "c.bin").exists()


def test_mv_no_checkout_only_records(repo: Path) -> None:
    _setup(repo)
    gd("mv", "--no-checkout", "one.txt", "later/one.txt")
    assert not (repo / "one.txt").exists() and not (repo / "later" / "one.txt").exists()
    assert "later/one.txt" in gd("status").stdout   # reported missing until checked out
    gd("checkout", "later/one.txt")
    assert (repo / "later" / "one.txt").read_text() == "one\n"


def test_mv_as_method(repo: Path) -> None:
    _setup(repo)
    gd("mv", "--as", "symlink", "one.txt", "linked.txt")
    assert (repo / "linked.txt").is_symlink() and (repo / "linked.txt").read_text() == "one\n"
    assert json.loads(gd("ls", "--json", "linked.txt").stdout)["files"][0]["method"] == "symlink"


def test_mv_refuses_modified_source_and_existing_destination(repo: Path) -> None:
    _setup(repo)
    write(repo / "one.txt", "edited, not recorded\n")
    result = gd("mv", "one.txt", "moved.txt", check=False)
    assert result.returncode == 1
    assert result.stderr == ("git-data: error: modified since it was recorded: one.txt; "
                             "'git data commit' or 'git data checkout' it first\n")
    assert (repo / "one.txt").read_text() == "edited, not recorded\n" and not (repo / "moved.txt").exists()
    clash = gd("mv", "data/a.csv", "data/b.csv", check=False)
    assert clash.returncode == 1 and "destination exists: data/b.csv" in clash.stderr
    assert (repo / "data" / "b.csv").read_text() == "b\n"


def test_mv_force_keeps_replaced_bytes_in_cache(repo: Path) -> None:
    _setup(repo)
    write(repo / "precious.txt", "only copy\n")
    gd("mv", "--force", "data/a.csv", "precious.txt")
    assert (repo / "precious.txt").read_text() == "a\n"
    old = gd("hash", "-", input="only copy\n").stdout.split()[0]
    hexdigest = old.split(":")[1]
    common = repo / ".git" / "data" / "cache" / "b3" / hexdigest[:2] / hexdigest[2:]
    assert common.read_text() == "only copy\n"


def test_mv_refuses_escapes_and_bad_destinations(repo: Path, tmp_path: Path) -> None:
    _setup(repo)
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, repo / "out")
    cases = {
        ("one.txt", "../x.txt"): "outside the repository",
        ("one.txt", ".git/x"): "inside the .git directory",
        ("one.txt", ".gitdata/x"): "inside .gitdata",
        ("one.txt", "out/x.txt"): "outside the repository",
        ("one.txt", "data/a.csv/x"): "is a tracked file, not a directory",
        ("nothing", "x"): "not tracked by git-data",
        ("data/*.csv", "single.csv"): "is not a directory",
        ("data", "data/sub/"): "cannot put 'data' inside itself",
        ("data", "data/inner"): "cannot put 'data' inside itself",
    }
    for (src, dst), message in cases.items():
        result = gd("mv", src, dst, check=False)
        assert result.returncode == 1, (src, dst)
        assert message in result.stderr and "Traceback" not in result.stderr, (src, dst, result.stderr)
    assert (repo / "one.txt").read_text() == "one\n" and not list(outside.iterdir())
    assert gd("mv", "one.txt", check=False).returncode == 2


def test_mv_of_a_directory_tracked_whole_takes_its_other_files_along(repo: Path) -> None:
    """As git mv renames the directory: files not added yet and ignored ones move too
    (left behind they would show up in git status); a taken name stays, said so."""
    write(repo / "data" / "a", "a\n")
    write(repo / "data" / "sub" / "b", "b\n")
    gd("add", "data")
    git("add", "-A")
    git("commit", "-qm", "data")
    write(repo / "data" / "new", "new\n")
    write(repo / "data" / "sub" / "later", "later\n")
    write(repo / "data" / "scratch.tmp", "tmp\n")
    write(repo / "data" / "clash", "mine\n")
    write(repo / "into" / "data" / "clash", "theirs\n")   # `into` exists: data goes inside it
    result = gd("mv", "data", "into")
    assert "'data/clash': not tracked, and its name is taken at the destination" in result.stderr
    moved = repo / "into" / "data"
    assert (moved / "a").read_text() == "a\n" and (moved / "new").read_text() == "new\n"
    assert (moved / "sub" / "later").read_text() == "later\n"
    assert (moved / "scratch.tmp").read_text() == "tmp\n"
    assert (moved / "clash").read_text() == "theirs\n"
    assert sorted(p.name for p in (repo / "data").rglob("*")) == ["clash"]
    assert git("status", "--porcelain", "--untracked-files=all", "data").stdout.split() == ["??", "data/clash"]
