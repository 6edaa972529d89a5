from __future__ import annotations

import json
from pathlib import Path

from tests.testing.helpers import gd, git, write


def _setup(repo: Path) -> None:
    write(repo / "data" / "a.csv", "aaaa\n")
    write(repo / "data" / "b.csv", "bb\n")
    write(repo / "data" / "sub" / "big.bin", b"x" * 3000)
    write(repo / "notes.txt", "n\n")
    gd("add", "data", "notes.txt")


def test_ls_status_letters_sizes_and_summary(repo: Path) -> None:
    _setup(repo)
    write(repo / "data" / "a.csv", "changed!\n")
    (repo / "data" / "b.csv").unlink()
    write(repo / "data" / "new.csv", "new\n")
    lines = gd("ls", "--format", "{status} {bytes} {path}").stdout.splitlines()
    assert lines[:-1] == ["M 5 data/a.csv", "D 3 data/b.csv", "? 4 data/new.csv",
                          "C 3000 data/sub/big.bin", "C 2 notes.txt"]
    assert lines[-1].startswith("5 file(s), 2.9 KiB: 4 tracked")
    assert lines[-1].endswith("1 untracked; 1 modified, 1 missing")
    default = gd("ls", "--no-summary", "notes.txt").stdout
    digest = json.loads(gd("ls", "--json", "notes.txt").stdout)["files"][0]["digest"]
    assert default.split() == ["C", "copy", "2", "B", digest[3:11], "notes.txt"]


def test_ls_format_digest_prefix_sort_and_dirs(repo: Path) -> None:
    _setup(repo)
    info = {f["path"]: f for f in json.loads(gd("ls", "--json").stdout)["files"]}
    out = gd("ls", "--no-summary", "--format", "{digest:12}|{algorithm}|{name}", "data/a.csv").stdout
    assert out == f"{info['data/a.csv']['digest'][3:15]}|b3|a.csv\n"
    by_size = gd("ls", "--no-summary", "--sort", "size", "--format", "{path}").stdout.split()
    assert by_size == ["data/sub/big.bin", "data/a.csv", "data/b.csv", "notes.txt"]
    with_dirs = gd("ls", "--no-summary", "--show-dirs", "--format", "{type} {bytes} {path}").stdout.splitlines()
    assert "d 3008 data/" in with_dirs and "d 3000 data/sub/" in with_dirs
    summary = gd("ls", "--show-dirs").stdout.splitlines()[-1]
    assert summary.startswith("4 file(s)")   # directories are not counted as files


def test_ls_not_in_cache_and_untracked_on_request(repo: Path) -> None:
    write(repo / "raw.bin", "raw\n")
    gd("add", "--no-commit", "raw.bin")
    write(repo / "loose" / "x.txt", "x\n")
    write(repo / "src.py", "print()\n")
    git("add", "src.py")
    assert gd("ls", "--format", "{status} {cached} {path}", "--no-summary").stdout == "N - raw.bin\n"
    everything = gd("ls", "-u", ".", "--format", "{status} {path}", "--no-summary").stdout.splitlines()
    assert everything == ["? loose/x.txt", "N raw.bin"]   # git's own files are not data
    assert gd("ls", "loose", "--format", "{status} {path}", "--no-summary").stdout == "? loose/x.txt\n"


def test_ls_json_and_errors(repo: Path) -> None:
    _setup(repo)
    data = json.loads(gd("ls", "--json", "data/sub").stdout)
    assert data["summary"]["files"] == 1 and data["summary"]["size"] == 3000
    (entry,) = data["files"]
    assert entry["path"] == "data/sub/big.bin" and entry["status"] == "clean" and entry["cached"] is True
    bad = gd("ls", "--format", "{nope}", check=False)
    assert bad.returncode == 2 and bad.stderr.startswith("git-data: error: unknown field '{nope}'")
    missing = gd("ls", "nothing-here", check=False)
    assert missing.returncode == 1 and "did not match" in missing.stderr
    assert gd("ls", "-q").stdout.count("\n") == 4   # -q drops the summary


def test_ls_and_status_quote_unusual_names_like_git(repo: Path) -> None:
    for name in ("nl\nname", 'q"x', "back\\slash", "tab\tname", "é"):
        write(repo / "d" / name, "1\n")
    gd("add", "d")
    listed = gd("ls", "--format", "{path}|{name}", "--no-summary").stdout
    assert listed.splitlines() == ['"d/back\\\\slash"|"back\\\\slash"', '"d/nl\\nname"|"nl\\nname"',
                                   '"d/q\\"x"|"q\\"x"', '"d/tab\\tname"|"tab\\tname"', "d/é|é"]
    write(repo / "d" / "nl\nname", "2\n")
    assert '\t"d/nl\\nname"\n' in gd("status").stdout
    assert [f["path"] for f in json.loads(gd("ls", "--json").stdout)["files"]][1] == "d/nl\nname"
