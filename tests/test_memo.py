"""The per-worktree caches (file digests by stat, parsed manifests by stat, files last
seen clean) speed commands up but must never change an answer: stale, foreign or
damaged caches are ignored."""
from __future__ import annotations

import itertools
import json
import marshal
import os
from pathlib import Path

from tests.testing.helpers import gd, git, write

LONG_AGO = 1_600_000_000


_moments = itertools.count(LONG_AGO, 10)


def backdate(root: Path) -> int:
    """Make every file written since the last call old enough for the caches to keep it
    (they skip racy files). Each call picks a later moment, as real time would: a file
    rewritten with the same size and a reused inode must not get the very stat it had."""
    moment = next(_moments)
    for path in root.rglob("*"):
        if path.is_file() and ".git" not in path.relative_to(root).parts[:1] and path.stat().st_mtime > moment:
            os.utime(path, (moment, moment))
    return moment


def settle(repo: Path) -> None:
    """backdate(), and the cache's object directories too: only then is the clean memo kept."""
    moment = backdate(repo)
    for directory in (repo / ".git" / "data" / "cache").rglob("*"):
        if directory.is_dir() and directory.stat().st_mtime > moment:
            os.utime(directory, (moment, moment))


def clean_memo(repo: Path) -> Path:
    [memo] = (repo / ".git" / "data" / "statcache").glob("*.clean")
    return memo


def settled_clean_repo(repo: Path, *names: str) -> None:
    """data/NAME.csv added, settled, and seen clean once (which writes the clean memo)."""
    for name in names:
        write(repo / "data" / f"{name}.csv", f"{name}\n")
    gd("add", "data")
    settle(repo)
    assert status(repo) == CLEAN


def caches(repo: Path) -> list[Path]:
    return sorted((repo / ".git" / "data" / "statcache").glob("*.*"))


def status(repo: Path) -> dict[str, list[str]]:
    return json.loads(gd("status", "--json").stdout)


CLEAN = {"modified": [], "missing": [], "missing_not_in_cache": [], "not_in_cache": [], "untracked": []}


def test_cached_manifests_and_digests_give_the_same_answers(repo: Path) -> None:
    for name in ("a", "b"):
        write(repo / "data" / f"{name}.csv", f"{name}\n")
    gd("add", "data")
    backdate(repo)
    assert status(repo) == CLEAN            # fills the caches
    assert {p.suffix for p in caches(repo)} >= {".files", ".manifests"}
    assert status(repo) == CLEAN            # answered from them
    write(repo / "data" / "a.csv", "A\n")   # same size, new content
    os.utime(repo / "data" / "a.csv", (LONG_AGO, LONG_AGO + 1))
    assert status(repo)["modified"] == ["data/a.csv"]


def test_a_manifest_changed_behind_the_cache_is_read_again(repo: Path) -> None:
    write(repo / "data" / "a.csv", "a\n")
    write(repo / "data" / "b.csv", "b\n")
    gd("add", "data")
    backdate(repo)
    assert status(repo) == CLEAN
    manifest = repo / ".gitdata" / "tree" / "data" / "%manifest"
    text = manifest.read_text()
    digest_a = text.split("\n")[2].split("\t")[1]
    digest_b = text.split("\n")[3].split("\t")[1]
    manifest.write_text(text.replace(digest_a, "TMP").replace(digest_b, digest_a).replace("TMP", digest_b))
    assert status(repo)["modified"] == ["data/a.csv", "data/b.csv"]


def test_damaged_caches_are_ignored(repo: Path) -> None:
    write(repo / "data" / "a.csv", "a\n")
    gd("add", "data")
    settle(repo)
    assert status(repo) == CLEAN
    assert {p.suffix for p in caches(repo)} >= {".files", ".manifests", ".clean"}
    for cache in caches(repo):
        cache.write_bytes(b"\x00garbage")
    assert status(repo) == CLEAN
    (repo / "data" / "a.csv").unlink()
    assert status(repo)["missing"] == ["data/a.csv"]


def test_worktrees_keep_their_own_caches(repo: Path, tmp_path: Path) -> None:
    write(repo / "data" / "a.csv", "a\n")
    gd("add", "data")
    git("add", "-A")
    git("commit", "-q", "-m", "data")
    other = tmp_path / "other"
    git("worktree", "add", "-q", "-b", "other", str(other))
    gd("checkout", cwd=other)
    backdate(repo)
    backdate(other)
    assert status(repo) == CLEAN
    write(other / "data" / "a.csv", "b\n")
    os.utime(other / "data" / "a.csv", (LONG_AGO, LONG_AGO))
    assert json.loads(gd("status", "--json", cwd=other).stdout)["modified"] == ["data/a.csv"]
    assert status(repo) == CLEAN


def test_a_no_op_status_is_answered_from_the_clean_memo(repo: Path) -> None:
    settled_clean_repo(repo, "a", "b")
    written = clean_memo(repo).stat()
    assert status(repo) == CLEAN
    assert clean_memo(repo).stat().st_ino == written.st_ino   # not computed again, so not rewritten
    write(repo / "data" / "a.csv", "A\n")
    assert status(repo)["modified"] == ["data/a.csv"]


def test_the_clean_memo_sees_new_files_and_objects_gone_from_the_cache(repo: Path) -> None:
    settled_clean_repo(repo, "a", "b")
    write(repo / "data" / "new.csv", "new\n")
    assert status(repo)["untracked"] == ["data/new.csv"]
    (repo / "data" / "new.csv").unlink()
    (repo / "data" / "b.csv").unlink()
    write(repo / "data" / "c.csv", "c\n")            # as many entries as before
    assert status(repo)["missing"] == ["data/b.csv"]
    assert status(repo)["untracked"] == ["data/c.csv"]
    gd("checkout", "data")
    (repo / "data" / "c.csv").unlink()
    settle(repo)
    assert status(repo) == CLEAN
    digest = json.loads(gd("ls", "--json", "data/a.csv").stdout)["files"][0]["digest"]
    algorithm, _, hexdigest = digest.partition(":")
    (repo / ".git" / "data" / "cache" / algorithm / hexdigest[:2] / hexdigest[2:]).unlink()
    assert status(repo)["not_in_cache"] == ["data/a.csv"]


def test_a_scoped_status_answers_for_its_scope_only(repo: Path) -> None:
    write(repo / "data" / "one" / "a.csv", "a\n")
    write(repo / "data" / "two" / "b.csv", "b\n")
    gd("add", "data")
    settle(repo)
    assert status(repo) == CLEAN
    write(repo / "data" / "one" / "a.csv", "A\n")
    write(repo / "data" / "two" / "new.csv", "new\n")
    scoped = json.loads(gd("status", "--json", "data/two").stdout)
    assert scoped == {**CLEAN, "untracked": ["data/two/new.csv"]}
    assert status(repo) == {**CLEAN, "modified": ["data/one/a.csv"], "untracked": ["data/two/new.csv"]}


def test_a_clean_memo_of_the_wrong_shape_is_ignored(repo: Path) -> None:
    settled_clean_repo(repo, "a")
    stored = marshal.loads(clean_memo(repo).read_bytes())
    for by_dir in ({"data": ("a.csv",)}, {"data": {"a.csv": "?"}}, ["data"]):
        clean_memo(repo).write_bytes(marshal.dumps(stored[:3] + (by_dir, stored[4])))
        (repo / "data" / "a.csv").unlink()
        assert status(repo)["missing"] == ["data/a.csv"]
        gd("checkout", "data")


def test_object_directories_are_listed_again_when_they_change(repo: Path) -> None:
    """Past 2000 objects the cache is listed, not probed, and the listings are kept
    by each directory's mtime."""
    for i in range(2100):
        write(repo / "data" / f"{i}.txt", f"{i}\n")
    gd("add", "data")
    settle(repo)
    assert status(repo) == CLEAN
    listings = repo / ".git" / "data" / "statcache" / "objects.listing"
    assert listings.exists()
    digest = json.loads(gd("ls", "--json", "data/7.txt").stdout)["files"][0]["digest"]
    algorithm, _, hexdigest = digest.partition(":")
    (repo / ".git" / "data" / "cache" / algorithm / hexdigest[:2] / hexdigest[2:]).unlink()
    assert status(repo)["not_in_cache"] == ["data/7.txt"]
    listings.write_bytes(marshal.dumps({f"{algorithm}/{hexdigest[:2]}": "damaged"}))
    assert status(repo)["not_in_cache"] == ["data/7.txt"]


def manifest_memo(repo: Path) -> Path:
    [memo] = (repo / ".git" / "data" / "statcache").glob("*.manifests")
    return memo


def test_a_small_change_is_read_from_its_manifest_without_rewriting_the_memo(repo: Path) -> None:
    for d in range(5):
        for f in range(10):
            write(repo / "data" / f"d{d}" / f"f{f}.csv", f"{d}{f}\n")
    gd("add", "data")
    backdate(repo)
    assert status(repo) == CLEAN            # writes the memo of all 50 entries
    kept = manifest_memo(repo).read_bytes()
    write(repo / "data" / "d0" / "f0.csv", "changed\n")
    gd("add", "data")                       # d0's manifest: 10 of 50 entries, too few to rewrite for
    backdate(repo)
    assert status(repo) == CLEAN            # the stale row for d0 is not believed
    assert manifest_memo(repo).read_bytes() == kept
    for d in range(5):                      # every manifest changes: now the rewrite pays
        write(repo / "data" / f"d{d}" / "f1.csv", "changed\n")
    gd("add", "data")
    backdate(repo)
    assert status(repo) == CLEAN
    assert manifest_memo(repo).read_bytes() != kept
    write(repo / "data" / "d3" / "f1.csv", "again\n")
    os.utime(repo / "data" / "d3" / "f1.csv", (LONG_AGO, LONG_AGO))
    assert status(repo)["modified"] == ["data/d3/f1.csv"]


def test_the_clean_memo_sees_an_executable_bit_change(repo: Path) -> None:
    settled_clean_repo(repo, "a", "b")
    os.chmod(repo / "data" / "a.csv", 0o755)   # neither size, mtime nor inode change
    assert status(repo)["modified"] == ["data/a.csv"]


def test_the_clean_memo_sees_a_write_through_a_symlink(repo: Path) -> None:
    write(repo / "data" / "a.csv", "a\n")
    gd("add", "--as", "symlink", "data")
    settle(repo)
    assert status(repo) == CLEAN
    assert status(repo) == CLEAN   # answered from the memo: the object's stat vouches
    obj = Path(os.readlink(repo / "data" / "a.csv"))
    os.chmod(obj, 0o644)
    obj.write_text("changed\n")   # what a command run as root does through the link
    assert status(repo)["modified"] == ["data/a.csv"]
