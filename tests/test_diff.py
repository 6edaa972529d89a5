from __future__ import annotations

import gzip
from pathlib import Path

from tests.testing.helpers import gd, git, write


def commit(message: str) -> None:
    git("commit", "-q", "-m", message)


def test_text_diff_against_workspace_and_across_refs(repo: Path) -> None:
    write(repo / "notes.txt", "alpha\nbeta\ngamma\n")
    gd("add", "notes.txt")
    commit("one")
    write(repo / "notes.txt", "alpha\nBETA\ngamma\n")
    out = gd("diff", "notes.txt").stdout
    assert "--- a/notes.txt" in out and "+++ b/notes.txt" in out
    assert "-beta\n" in out and "+BETA\n" in out and " alpha\n" in out
    gd("add", "notes.txt")
    commit("two")
    assert gd("diff", "notes.txt").stdout == ""  # workspace matches HEAD
    across = gd("diff", "-r", "HEAD~1..HEAD", "notes.txt").stdout
    assert "-beta\n" in across and "+BETA\n" in across
    assert gd("diff", "-R", "HEAD", "notes.txt").stdout.count("\n+BETA\n") == 1
    reverse = gd("diff", "-r", "HEAD..HEAD~1", "notes.txt").stdout
    assert "-BETA\n" in reverse and "+beta\n" in reverse
    assert gd("diff", "--exit-code", "-r", "HEAD~1..HEAD", check=False).returncode == 1
    assert gd("diff", "--exit-code", check=False).returncode == 0


def test_gzipped_text_through_a_preprocessing_command(repo: Path) -> None:
    write(repo / "rows.csv.gz", gzip.compress(b"id,name\n1,ann\n2,bob\n"))
    gd("add", "rows.csv.gz")
    commit("rows")
    write(repo / "rows.csv.gz", gzip.compress(b"id,name\n1,ann\n2,rob\n"))
    raw = gd("diff", "rows.csv.gz").stdout
    assert "Binary files a/rows.csv.gz and b/rows.csv.gz differ" in raw
    out = gd("diff", "gunzip -c {}", "rows.csv.gz").stdout
    assert "-2,bob\n" in out and "+2,rob\n" in out and " 1,ann\n" in out
    piped = gd("diff", "gunzip -c {} | tail -n 1", "rows.csv.gz").stdout
    assert "-2,bob\n" in piped and "1,ann" not in piped
    appended = gd("diff", "--cmd", "gunzip -c", "rows.csv.gz").stdout
    assert "+2,rob\n" in appended
    failed = gd("diff", "false {}", "rows.csv.gz", check=False)
    assert failed.returncode == 1
    assert failed.stderr.startswith("git-data: error: preprocessing command failed on 'rows.csv.gz'")
    assert "Traceback" not in failed.stderr


def test_directory_lists_added_removed_changed_with_digests_and_sizes(repo: Path) -> None:
    for name in ("a", "b", "c"):
        write(repo / "data" / f"{name}.txt", f"{name}\n")
    gd("add", "data")
    commit("data")
    old_b = gd("cache", "digest", "data/b.txt").stdout.strip()
    (repo / "data" / "a.txt").unlink()
    write(repo / "data" / "b.txt", "bigger b\n")
    write(repo / "data" / "d.txt", "d\n")
    out = gd("diff", "data").stdout.splitlines()
    assert any(line.startswith("D  data/a.txt  b3:") and "(2 B)" in line for line in out)
    assert any(line.startswith("A  data/d.txt  b3:") for line in out)
    changed = [line for line in out if line.startswith("M  data/b.txt")]
    assert changed and old_b[:15] in changed[0] and "(2 B) -> " in changed[0] and "(9 B)" in changed[0]
    assert not any("c.txt" in line for line in out)
    assert gd("diff", "-s").stdout.strip().startswith("3 file(s) changed: 1 added, 1 removed, 1 modified")
    gd("add", "data")
    commit("data 2")
    as_json = __import__("json").loads(gd("diff", "--json", "-r", "HEAD~1..HEAD").stdout)
    assert {(c["path"], c["status"]) for c in as_json} >= {("data/b.txt", "modified"), ("data/d.txt", "added")}
    patch = gd("diff", "-p", "-r", "HEAD~1..HEAD", "data").stdout
    assert "+bigger b\n" in patch and "-b\n" in patch and "+d\n" in patch


def test_diff_errors_are_one_line(repo: Path) -> None:
    write(repo / "x.txt", "x\n")
    gd("add", "x.txt")
    commit("x")
    bad = gd("diff", "-r", "nope..HEAD", check=False)
    assert bad.returncode == 1 and bad.stderr == "git-data: error: unknown revision 'nope'\n"
    untracked = gd("diff", "y.txt", check=False)
    assert untracked.returncode == 1 and "not tracked" in untracked.stderr
    assert gd("diff", "-r", "HEAD", "-R", "HEAD", check=False).returncode == 2


def test_missing_objects_are_fetched_from_the_default_storage(repo: Path, tmp_path: Path) -> None:
    write(repo / "t.txt", "stored\n")
    gd("add", "t.txt")
    commit("t")
    gd("storage", "add", "loc", str(tmp_path / "store"))
    gd("push")
    obj = Path(gd("cache", "path", "t.txt").stdout.strip())
    obj.unlink()
    write(repo / "t.txt", "local edit\n")
    refused = gd("diff", "--no-fetch", "t.txt", check=False)
    assert refused.returncode == 1 and "run without --no-fetch" in refused.stderr
    out = gd("diff", "t.txt").stdout
    assert "-stored\n" in out and "+local edit\n" in out
    assert obj.read_text() == "stored\n"


def test_diff_in_a_repository_without_commits(repo: Path) -> None:
    write(repo / "new.txt", "n\n")
    gd("add", "new.txt")
    out = gd("diff").stdout
    assert out.startswith("A  new.txt  b3:")


def test_odd_file_names_are_quoted_and_colour_is_used_on_request(repo: Path) -> None:
    name = "it's a $file;.txt.gz"
    write(repo / name, gzip.compress(b"same\nold\n"))
    gd("add", name)
    commit("odd")
    write(repo / name, gzip.compress(b"same\nnew\n"))
    out = gd("diff", "gunzip -c {}", name).stdout
    assert "-old\n" in out and "+new\n" in out
    coloured = gd("diff", "gunzip -c {}", name, env={"GITDATA_COLOR": "1"}).stdout
    assert "\x1b[31m-old\x1b[0m\n" in coloured and "\x1b[32m+new\x1b[0m\n" in coloured
    assert "\x1b[" not in out
