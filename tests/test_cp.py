from __future__ import annotations

import json
import os
from pathlib import Path

from tests.testing.helpers import cache_objects, gd, git, write


def _setup(repo: Path) -> None:
    write(repo / "data" / "a.csv", "a\n")
    write(repo / "data" / "deep" / "b.csv", "b\n")
    write(repo / "model.bin", b"\0" * 1000)
    gd("add", "data", "model.bin")
    git("commit", "-q", "-m", "data")


def test_cp_file_shares_the_cache_object(repo: Path) -> None:
    _setup(repo)
    before = len(cache_objects(repo))
    gd("cp", "--as", "hardlink", "model.bin", "backup/model.bin")
    assert (repo / "backup" / "model.bin").read_bytes() == b"\0" * 1000
    assert (repo / "model.bin").exists()
    assert len(cache_objects(repo)) == before
    assert os.stat(repo / "backup" / "model.bin").st_nlink > 1
    files = {f["path"]: f for f in json.loads(gd("ls", "--json").stdout)["files"]}
    assert files["backup/model.bin"]["digest"] == files["model.bin"]["digest"]
    assert files["backup/model.bin"]["method"] == "hardlink" and files["model.bin"]["method"] == "copy"
    assert (repo / "backup" / ".gitignore").read_text() == "/model.bin\n"
    assert "Nothing to report" in gd("status").stdout


def test_cp_directory_and_glob_with_name_only(repo: Path) -> None:
    _setup(repo)
    gd("cp", "data", "copy")
    assert (repo / "copy" / "deep" / "b.csv").read_text() == "b\n"
    assert (repo / "data" / "deep" / "b.csv").read_text() == "b\n"
    gd("cp", "--name-only", "data/**/*.csv", "flat/")
    assert sorted(os.listdir(repo / "flat")) == [".gitignore", "a.csv", "b.csv"]
    gd("cp", "data/**/*.csv", "tree/")
    assert (repo / "tree" / "deep" / "b.csv").read_text() == "b\n"
    write(repo / "copy" / "extra.csv", "x\n")   # copy/ is a whole directory like data/
    assert "copy/extra.csv" in gd("status").stdout


def test_cp_without_workspace_content_and_no_checkout(repo: Path) -> None:
    _setup(repo)
    (repo / "model.bin").unlink()
    gd("cp", "model.bin", "m2.bin")
    assert (repo / "m2.bin").read_bytes() == b"\0" * 1000
    gd("cp", "--no-checkout", "data/a.csv", "record-only.csv")
    assert not (repo / "record-only.csv").exists()
    assert "record-only.csv" in gd("ls", "--format", "{path}", "--no-summary").stdout.split()
    dry = gd("cp", "-n", "data", "elsewhere").stdout
    assert dry == "data/a.csv -> elsewhere/a.csv\ndata/deep/b.csv -> elsewhere/deep/b.csv\n"
    assert not (repo / "elsewhere").exists()


def test_cp_uncached_source_copies_from_workspace(repo: Path) -> None:
    write(repo / "raw.bin", "raw\n")
    gd("add", "--no-commit", "raw.bin")
    gd("cp", "raw.bin", "raw2.bin")
    assert (repo / "raw2.bin").read_text() == "raw\n"
    gd("cp", "--as", "symlink", "raw.bin", "raw3.bin")   # a link needs the object: carried in first
    assert (repo / "raw3.bin").is_symlink() and (repo / "raw3.bin").read_text() == "raw\n"


def test_cp_refuses_modified_source(repo: Path) -> None:
    _setup(repo)
    write(repo / "data" / "a.csv", "changed\n")
    result = gd("cp", "data", "copy", check=False)
    assert result.returncode == 1 and "modified since it was recorded: data/a.csv" in result.stderr
    assert not (repo / "copy").exists()


def test_cp_onto_itself_says_copied(repo: Path) -> None:
    _setup(repo)
    result = gd("cp", "data/a.csv", "data/a.csv", check=False)
    assert result.returncode == 1 and "'data/a.csv' would be copied onto itself" in result.stderr
