from __future__ import annotations

from pathlib import Path

from tests.testing.helpers import gd, write


def _rules(repo: Path) -> None:
    with open(repo / ".gitdataignore", "a") as handle:
        handle.write("*.tmp\nbuild/\n!keep.tmp\n")


def test_check_ignore_exit_codes_and_patterns(repo: Path) -> None:
    _rules(repo)
    write(repo / "build" / "out.bin", "x")
    write(repo / "sub" / "a.tmp", "x")
    result = gd("check-ignore", "sub/a.tmp", "keep.tmp", "build/out.bin", "data.csv")
    assert result.returncode == 0
    assert result.stdout.splitlines() == ["sub/a.tmp", "build/out.bin"]
    verbose = gd("check-ignore", "-v", "sub/a.tmp", "build/out.bin", ".gitignore").stdout.splitlines()
    assert verbose == [".gitdataignore:2:*.tmp\tsub/a.tmp", ".gitdataignore:3:build/\tbuild/out.bin",
                       "(built-in)\t.gitignore"]
    none = gd("check-ignore", "data.csv", "keep.tmp", check=False)
    assert (none.returncode, none.stdout, none.stderr) == (1, "", "")
    assert gd("check-ignore", "-v", "-n", "data.csv", check=False).stdout == "::\tdata.csv\n"


def test_check_ignore_reads_stdin_and_agrees_with_add(repo: Path) -> None:
    _rules(repo)
    write(repo / "d" / "x.tmp", "x")
    write(repo / "d" / "keep.tmp", "k")
    write(repo / "d" / "y.csv", "y")
    out = gd("check-ignore", input="d/x.tmp\nd/keep.tmp\nd/y.csv\n").stdout
    assert out == "d/x.tmp\n"
    gd("add", "d")
    listed = gd("ls", "--format", "{path}", "--no-summary").stdout.split()
    assert listed == ["d/keep.tmp", "d/y.csv"]


def test_check_ignore_from_subdirectory_and_outside(repo: Path) -> None:
    _rules(repo)
    (repo / "sub").mkdir()
    assert gd("check-ignore", "a.tmp", cwd=repo / "sub").stdout == "a.tmp\n"
    assert gd("check-ignore", "--json", "a.tmp", cwd=repo / "sub").stdout.count('"ignored": true') == 1
    outside = gd("check-ignore", "../../x.tmp", cwd=repo / "sub", check=False)
    assert outside.returncode == 1 and "outside the repository" in outside.stderr


def test_check_ignore_reports_each_path_and_git_files_as_built_in(repo: Path, tmp_path: Path) -> None:
    _rules(repo)
    result = gd("check-ignore", "-v", ".gitignore", ".git/config", "a.tmp")
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout.splitlines() == ["(built-in)\t.gitignore", "(built-in)\t.git/config",
                                          ".gitdataignore:2:*.tmp\ta.tmp"]
    outside = str(tmp_path / "elsewhere.tmp")
    piped = gd("check-ignore", "--stdin", input=f".git/HEAD\n{outside}\ndata.csv\n")
    assert piped.returncode == 0 and piped.stdout == ".git/HEAD\n"
    assert piped.stderr == f"git-data: warning: '{outside}' is outside the repository at {repo}\n"
    none = gd("check-ignore", outside, "data.csv", check=False)
    assert none.returncode == 1 and none.stdout == "" and none.stderr.count("\n") == 1


def test_check_ignore_outside_any_repository_exits_128(tmp_path: Path) -> None:
    result = gd("check-ignore", "x", cwd=tmp_path, check=False)
    assert result.returncode == 128 and "not a git repository" in result.stderr
