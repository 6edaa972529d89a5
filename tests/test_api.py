from __future__ import annotations

from pathlib import Path

import pytest

from tests.testing.helpers import gd, git, write


def test_api_round_trip(tmp_path: Path) -> None:
    from gitdata import Repo
    from gitdata.errors import GitDataError

    root = tmp_path / "proj"
    root.mkdir()
    git("init", "-q", cwd=root)
    repo = Repo.init(root)
    assert repo.root == root.resolve()
    write(root / "data" / "a.csv", "a\n")
    write(root / "data" / "b.csv", "b\n")
    staged = repo.add("data")
    assert ".gitdata/tree/data/%manifest" in staged and ".gitignore" in staged
    assert sorted(repo.tracked()) == ["data/a.csv", "data/b.csv"]
    git("commit", "-q", "-m", "v1", cwd=root)

    write(root / "data" / "a.csv", "a2\n")
    (root / "data" / "b.csv").unlink()
    write(root / "data" / "c.csv", "c\n")
    assert repo.status() == {"modified": ["data/a.csv"], "missing": ["data/b.csv"], "not_in_cache": [],
                             "untracked": ["data/c.csv"]}
    assert {item.path: item.status for item in repo.ls()} == {
        "data/a.csv": "M", "data/b.csv": "D", "data/c.csv": "?"}
    repo.checkout("data/b.csv")
    assert (root / "data" / "b.csv").read_text() == "b\n"
    repo.commit()
    assert repo.status() == {"modified": [], "missing": [], "not_in_cache": [], "untracked": []}
    # the committed version is still readable, without a checkout
    assert repo.read_bytes("data/a.csv", rev="HEAD") == b"a\n"
    with repo.open("data/a.csv") as handle:
        assert handle.read() == b"a2\n"

    moved = repo.mv("data/c.csv", "other/c.csv")
    assert [(m.src, m.dst) for m in moved] == [("data/c.csv", "other/c.csv")]
    repo.cp("data", "copy/")
    assert (root / "copy" / "data" / "a.csv").read_text() == "a2\n"
    digests = repo.hash("other/c.csv")
    assert digests == {"other/c.csv": repo.tracked()["other/c.csv"].digest}
    assert repo.check_ignore("x.csv") == {"x.csv": None}
    assert repo.rm("other/c.csv") == ["other/c.csv"]
    assert "other/c.csv" not in repo.tracked() and (root / "other" / "c.csv").read_text() == "c\n"
    with pytest.raises(GitDataError, match="not tracked by git-data"):
        repo.mv("nothing", "x")
    with pytest.raises(GitDataError, match="did not match any files"):
        repo.add("missing.csv")


def test_api_paths_are_relative_to_the_root_not_cwd(repo: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from gitdata import Repo

    write(repo / "d" / "x.bin", "x\n")
    monkeypatch.chdir(tmp_path)
    api = Repo(repo / "d")
    api.add("d/x.bin")
    assert list(api.tracked()) == ["d/x.bin"]
    assert "Nothing to report" in gd("status", cwd=repo).stdout


def test_api_checkout_keeps_modified_bytes(repo: Path) -> None:
    from gitdata import Repo
    from gitdata.errors import GitDataError

    write(repo / "f.txt", "recorded\n")
    api = Repo(repo)
    api.add("f.txt")
    write(repo / "f.txt", "never recorded\n")
    with pytest.raises(GitDataError, match="modified file"):
        api.checkout()
    assert (repo / "f.txt").read_text() == "never recorded\n"
    new_digest = api.hash("f.txt")["f.txt"]
    result = api.checkout(force=True)
    assert result.restored == ["f.txt"] and (repo / "f.txt").read_text() == "recorded\n"
    hexdigest = new_digest.split(":")[1]
    kept = repo / ".git" / "data" / "cache" / "b3" / hexdigest[:2] / hexdigest[2:]
    assert kept.read_text() == "never recorded\n"


def test_api_push_fetch_pull_with_a_local_storage(repo: Path, tmp_path: Path) -> None:
    from gitdata import Repo

    store = tmp_path / "store"
    gd("storage", "add", "here", str(store), "--default")
    write(repo / "d" / "x.bin", "x" * 100)
    api = Repo(repo)
    api.add("d")
    pushed = api.push()
    assert pushed.sent == [api.tracked()["d/x.bin"].digest]
    git("commit", "-q", "-m", "x")
    clone = tmp_path / "clone"
    git("clone", "-q", str(repo), str(clone))
    other = Repo(clone)
    other.pull()
    assert (clone / "d" / "x.bin").read_text() == "x" * 100
    assert other.fetch().wanted == []      # nothing left to fetch
    assert other.read_bytes("d/x.bin") == b"x" * 100
