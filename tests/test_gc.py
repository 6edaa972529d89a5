from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

from tests.testing.helpers import cache_objects, gd, git, write

OLD = "2020-01-01T00:00:00+00:00"


def contents(repo: Path) -> set[bytes]:
    return {p.read_bytes() for p in cache_objects(repo)}


def version(repo: Path, text: str, message: str, env: dict | None = None) -> None:
    write(repo / "a.txt", text)
    gd("add", "a.txt")
    git("commit", "-q", "-m", message, env=env)


def restorable(rev: str) -> bool:
    return gd("cat", "a.txt", "-r", rev, "--no-fetch", check=False).returncode == 0


def test_default_gc_removes_only_what_nothing_references(repo: Path, tmp_path: Path) -> None:
    version(repo, "v1\n", "one")
    write(repo / "a.txt", "never committed\n")
    gd("add", "a.txt")
    version(repo, "v2\n", "two")
    git("tag", "t1", "HEAD~1")
    git("checkout", "-q", "-b", "side")
    version(repo, "side\n", "side")
    git("checkout", "-q", "main")
    gd("checkout")
    write(repo / "a.txt", "stashed\n")
    gd("add", "a.txt")
    git("stash", "-q")
    gd("checkout")
    git("worktree", "add", "-q", "-b", "wt", str(tmp_path / "wt"))
    write(tmp_path / "wt" / "w.txt", "only in the other worktree's manifests\n")
    gd("add", "w.txt", cwd=tmp_path / "wt")
    assert b"never committed\n" in contents(repo)

    dry = gd("gc", "--dry-run", "--grace", "0").stdout
    assert "would remove 1 object(s), 16 B" in dry
    assert b"never committed\n" in contents(repo)
    assert "removed 1 object(s), 16 B from the cache" in gd("gc", "--grace", "0").stdout
    assert contents(repo) == {b"v1\n", b"v2\n", b"side\n", b"stashed\n",
                              b"only in the other worktree's manifests\n"}
    assert "removed 0 object(s)" in gd("gc", "--grace", "0").stdout


def test_data_of_a_commit_dropped_by_reset_survives_default_gc(repo: Path) -> None:
    version(repo, "kept\n", "one")
    version(repo, "dropped by reset\n", "two")
    git("reset", "-q", "--hard", "HEAD~1")
    gd("checkout", "--force")
    gd("gc", "--grace", "0")
    assert b"dropped by reset\n" in contents(repo)  # the reflog still reaches it, as for git's own gc
    assert gd("cat", "a.txt", "-r", "HEAD@{1}").stdout == "dropped by reset\n"


def test_grace_period_protects_fresh_objects(repo: Path) -> None:
    write(repo / "a.txt", "orphan\n")
    gd("add", "a.txt")
    version(repo, "kept\n", "kept")
    result = gd("gc")
    assert "removed 0 object(s)" in result.stdout and "grace period" in result.stderr
    assert b"orphan\n" in contents(repo)


def test_workspace_policy_never_deletes_unpushed_data(repo: Path, tmp_path: Path) -> None:
    version(repo, "v1\n", "one")
    version(repo, "v2\n", "two")
    version(repo, "v3\n", "three")
    result = gd("gc", "-w", "--grace", "0")
    assert "removed 0 object(s)" in result.stdout
    assert "kept 2 object(s) that local history references and no storage holds" in result.stderr
    assert contents(repo) == {b"v1\n", b"v2\n", b"v3\n"}

    gd("storage", "add", "loc", str(tmp_path / "store"))
    git("checkout", "-q", "HEAD~2")
    gd("checkout")
    gd("push")  # only v1 reaches the storage
    git("checkout", "-q", "main")
    gd("checkout")
    result = gd("gc", "-w", "--grace", "0")
    assert "removed 1 object(s), 3 B" in result.stdout and "kept 1 object(s)" in result.stderr
    assert contents(repo) == {b"v2\n", b"v3\n"}
    assert gd("cat", "a.txt", "-r", "HEAD~2").stdout == "v1\n"  # fetched back from the storage
    gd("gc", "-w", "--grace", "0", "--force")
    assert contents(repo) == {b"v3\n"}
    assert not restorable("HEAD~1")
    gone = gd("cat", "a.txt", "-r", "HEAD~1", check=False)
    assert gone.returncode == 1 and "not available" in gone.stderr


def test_keep_n_versions_and_older_than(repo: Path) -> None:
    old = {"GIT_COMMITTER_DATE": OLD, "GIT_AUTHOR_DATE": OLD}
    for n in range(1, 5):
        version(repo, f"v{n}\n", f"v{n}", env=old if n < 3 else None)
    write(repo / "d" / "inner.txt", "inner 1\n")
    gd("add", "d")
    git("commit", "-q", "-m", "d1")
    write(repo / "d" / "inner.txt", "inner 2\n")
    gd("add", "d")
    git("commit", "-q", "-m", "d2")

    dry = gd("gc", "--keep", "2", "--force", "--grace", "0", "-n").stdout
    assert "would remove 2 object(s), 6 B" in dry and len(dry.splitlines()) == 3
    gd("gc", "--keep", "2", "--force", "--grace", "0")
    assert contents(repo) == {b"v3\n", b"v4\n", b"inner 1\n", b"inner 2\n"}
    assert restorable("HEAD~2") and not restorable("HEAD~4")

    gd("gc", "--older-than", "30d", "--force", "--grace", "0")
    assert contents(repo) == {b"v3\n", b"v4\n", b"inner 1\n", b"inner 2\n"}  # v3, v4 are recent
    gd("gc", "--keep", "1", "--force", "--grace", "0")
    assert contents(repo) == {b"v4\n", b"inner 2\n"}
    bad = gd("gc", "--older-than", "soon", check=False)
    assert bad.returncode == 2 and "bad duration 'soon'" in bad.stderr


def test_all_branches_keeps_every_tip_but_not_history(repo: Path) -> None:
    version(repo, "v1\n", "one")
    version(repo, "v2\n", "two")
    git("checkout", "-q", "-b", "feature")
    version(repo, "f1\n", "f1")
    version(repo, "f2\n", "f2")
    git("checkout", "-q", "main")
    gd("checkout")
    gd("gc", "-a", "--force", "--grace", "0")
    assert contents(repo) == {b"v2\n", b"f2\n"}
    assert restorable("feature") and not restorable("feature~1")


def test_gc_on_a_storage_spares_what_remote_branches_reference(repo: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    gd("storage", "add", "loc", str(store))
    git("init", "-q", "--bare", str(tmp_path / "origin.git"))
    git("remote", "add", "origin", str(tmp_path / "origin.git"))
    for n in (1, 2):
        version(repo, f"v{n}\n", f"v{n}")
        gd("push")
    git("push", "-q", "origin", "main")
    for n in (3, 4, 5):
        version(repo, f"v{n}\n", f"v{n}")
        gd("push")
    git("checkout", "-q", "--detach", "HEAD~2")  # make v3 and v4 history only, v5 only the tip of main
    git("checkout", "-q", "main")

    def stored() -> set[bytes]:
        return {p.read_bytes() for p in store.rglob("*") if p.is_file() and p.name != ".gitdata-storage"}

    assert stored() == {b"v1\n", b"v2\n", b"v3\n", b"v4\n", b"v5\n"}
    dry = gd("gc", "--storage", "loc", "-w", "-n").stdout
    assert "would remove 2 object(s), 6 B from storage 'loc'" in dry
    gd("gc", "--storage", "loc", "-w")
    assert stored() == {b"v1\n", b"v2\n", b"v5\n"}  # origin/main still needs v1 and v2
    assert contents(repo) == {b"v1\n", b"v2\n", b"v3\n", b"v4\n", b"v5\n"}  # the cache is untouched


def test_what_git_index_stages_is_kept(repo: Path) -> None:
    version(repo, "v1\n", "one")
    write(repo / "a.txt", "staged only\n")
    gd("add", "a.txt")  # the manifest naming this version is staged in git's index
    manifest = repo / ".gitdata" / "tree" / "%manifest"
    manifest.write_text(git("show", "HEAD:.gitdata/tree/%manifest").stdout)  # only the workspace goes back
    assert git("diff", "--cached", "--name-only").stdout.split() == [".gitdata/tree/%manifest"]
    gd("gc", "-w", "--force", "--grace", "0")
    assert b"staged only\n" in contents(repo)
    git("commit", "-q", "-m", "from the index")
    assert gd("cat", "a.txt", "-r", "HEAD", "--no-fetch").stdout == "staged only\n"


def test_gc_leaves_stray_files_in_the_cache_alone(repo: Path) -> None:
    version(repo, "v1\n", "one")
    obj = cache_objects(repo)[0]
    strays = [obj.parent.parent / "zz", obj.parent / ".DS_Store", obj.parent / ("0" * 62 + ".swp")]
    for stray in strays:
        stray.write_text("junk\n")
    write(repo / "a.txt", "never committed\n")
    gd("add", "a.txt")
    version(repo, "v2\n", "two")

    assert gd("gc", "-n", "--grace", "0").stdout.startswith("b3:")
    result = gd("gc", "--grace", "0")
    assert "removed 1 object(s)" in result.stdout and result.stderr == ""
    assert all(stray.read_text() == "junk\n" for stray in strays)
    assert contents(repo) == {b"v1\n", b"v2\n", b"junk\n"}


def _ref(name: str, worktree: bool = False) -> Callable[[Path, Path, str], None]:
    def keep(repo: Path, wt: Path, commit: str) -> None:
        git("update-ref", name, commit, cwd=wt if worktree else repo)
    return keep


def _file_in_git_dir(name: str, text: str, worktree: bool = False) -> Callable[[Path, Path, str], None]:
    def keep(repo: Path, wt: Path, commit: str) -> None:
        git_dir = Path(git("rev-parse", "--absolute-git-dir", cwd=wt if worktree else repo).stdout.strip())
        write(git_dir / name, text.format(commit=commit))
    return keep


ROOTS = {
    "refs/keep (jj, by hand)": _ref("refs/keep/exp"),
    "refs/jj/keep": _ref("refs/jj/keep/1a2b"),
    "refs/original (filter-branch)": _ref("refs/original/refs/heads/main"),
    "refs/remotes": _ref("refs/remotes/origin/gone"),
    "ORIG_HEAD": _file_in_git_dir("ORIG_HEAD", "{commit}\n"),
    "FETCH_HEAD": _file_in_git_dir("FETCH_HEAD", "0123456789abcdef0123456789abcdef01234567\t\tbranch 'x' of ../u\n"
                                   "{commit}\tnot-for-merge\tbranch 'exp' of ../u\n"),
    "a linked worktree's MERGE_HEAD": _file_in_git_dir("MERGE_HEAD", "{commit}\n", worktree=True),
    "a linked worktree's refs/bisect": _ref("refs/bisect/bad", worktree=True),
}


@pytest.mark.parametrize("keep", ROOTS.values(), ids=ROOTS.keys())
def test_default_gc_keeps_what_any_ref_reaches(repo: Path, tmp_path: Path,
                                               keep: Callable[[Path, Path, str], None]) -> None:
    version(repo, "base\n", "base")
    git("worktree", "add", "-q", "-b", "wt", str(tmp_path / "wt"))
    version(repo, "only this ref keeps it\n", "experiment")
    commit = git("rev-parse", "HEAD").stdout.strip()
    git("reset", "-q", "--hard", "HEAD~1")
    gd("checkout", "--force")
    (repo / ".git" / "ORIG_HEAD").unlink()
    keep(repo, tmp_path / "wt", commit)
    git("reflog", "expire", "--expire=now", "--all")

    assert "removed 0 object(s)" in gd("gc", "--grace", "0").stdout
    assert gd("cat", "a.txt", "-r", commit, "--no-fetch").stdout == "only this ref keeps it\n"
