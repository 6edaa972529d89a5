"""The foundation's safety promises: concurrent and interrupted commands, paths that
escape the worktree, checkout over unrecorded bytes, hostile committed manifests."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import blake3
import pytest

from tests.testing.helpers import cache_objects, gd, git, write

CACHE = Path(".git") / "data" / "cache"


def _b3(data: bytes) -> str:
    return "b3:" + blake3.blake3(data).hexdigest()


def _cached(repo: Path, data: bytes) -> bool:
    hexdigest = _b3(data)[3:]
    return (repo / CACHE / "b3" / hexdigest[:2] / hexdigest[2:]).is_file()


def _verify_cache(repo: Path) -> int:
    """Every object in the cache holds exactly the bytes its name says."""
    objects = cache_objects(repo)
    for obj in objects:
        assert blake3.blake3(obj.read_bytes()).hexdigest() == obj.parent.name + obj.name, obj
    return len(objects)


def _clean(result_stderr: str) -> None:
    assert "Traceback" not in result_stderr and "internal error" not in result_stderr, result_stderr


def _tracked(repo: Path) -> set[str]:
    out = gd("ls", "--no-summary", "--format", "{status} {path}", cwd=repo).stdout
    return {line[2:] for line in out.splitlines() if not line.startswith("?")}


# -- concurrency -------------------------------------------------------------

def test_parallel_adds_of_different_paths_both_land(repo: Path) -> None:
    expected: dict[str, bytes] = {}
    for round_ in range(3):
        for who in ("a", "b"):
            for i in range(25):
                data = f"{who}{round_}-{i}\n".encode() * (i + 1)
                write(repo / f"{who}{round_}" / f"f{i}.bin", data)
                expected[f"{who}{round_}/f{i}.bin"] = data
            # both processes also write into the same directory's manifest and .gitignore
            shared = f"shared/{who}{round_}.bin".encode()
            write(repo / f"shared/{who}{round_}.bin", shared)
            expected[f"shared/{who}{round_}.bin"] = shared
        procs = [subprocess.Popen(["git", "data", "add", f"{who}{round_}", f"shared/{who}{round_}.bin"],
                                  cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for who in ("a", "b")]
        for proc in procs:
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
            _clean(err)
    assert _tracked(repo) == set(expected)
    assert "Nothing to report" in gd("status").stdout
    assert all(_cached(repo, data) for data in expected.values())
    root_ignore = set((repo / ".gitignore").read_text().splitlines())
    assert {f"/{w}{r}" for w in "ab" for r in range(3)} <= root_ignore
    assert set((repo / "shared" / ".gitignore").read_text().splitlines()) == \
        {f"/{w}{r}.bin" for w in "ab" for r in range(3)}
    staged = set(git("diff", "--cached", "--name-only").stdout.split())
    assert {".gitdata/tree/shared/%manifest", ".gitignore", "shared/.gitignore"} <= staged
    assert {f".gitdata/tree/{w}{r}/%manifest" for w in "ab" for r in range(3)} <= staged
    # a fresh checkout of what was staged brings every byte back from the manifests
    for rel in expected:
        (repo / rel).unlink()
    gd("checkout")
    assert all((repo / rel).read_bytes() == data for rel, data in expected.items())


# -- interruption ------------------------------------------------------------

def test_killed_add_leaves_a_repairable_repo_and_all_data(repo: Path) -> None:
    originals: dict[str, bytes] = {}
    for d in range(10):
        for i in range(100):
            data = os.urandom(256) * (1 + (i % 8))
            write(repo / "tree" / f"d{d}" / f"f{i}.bin", data)
            originals[f"tree/d{d}/f{i}.bin"] = data
    big = os.urandom(1 << 20) * 16
    write(repo / "tree" / "big.bin", big)
    originals["tree/big.bin"] = big

    killed = 0
    for delay in (0.0, 0.15, 0.4):
        proc = subprocess.Popen(["git", "data", "add", "tree"], cwd=repo,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while not (repo / CACHE / "tmp").exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(delay)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            killed += 1
        proc.wait(timeout=60)
        # the workspace is untouched: every byte is still there
        assert all((repo / rel).read_bytes() == data for rel, data in originals.items())
        # no half-written object ever sits in the cache under a digest name
        _verify_cache(repo)
        # the next command either works or says what is wrong -- never a traceback
        status = gd("status", check=False)
        _clean(status.stderr)
        assert status.returncode == 0, status.stderr
        if round_done(repo):
            break
    assert killed >= 1, "add finished before it could be interrupted; make the tree larger"
    result = gd("add", "tree")
    _clean(result.stderr)
    assert "Nothing to report" in gd("status").stdout
    assert _tracked(repo) == set(originals)
    assert _verify_cache(repo) >= len(set(originals.values()))
    for rel in originals:
        (repo / rel).unlink()
    gd("checkout")
    assert all((repo / rel).read_bytes() == data for rel, data in originals.items())


def round_done(repo: Path) -> bool:
    """True once an add has fully recorded the tree (then further kills test nothing new)."""
    ignore = repo / ".gitignore"
    return ignore.exists() and "/tree" in ignore.read_text().splitlines()


# -- paths that escape -------------------------------------------------------

@pytest.fixture
def outside(tmp_path: Path) -> Path:
    path = tmp_path / "outside"
    write(path / "secret.txt", "outside the repo\n")
    return path


def test_paths_outside_the_worktree_are_refused(repo: Path, outside: Path) -> None:
    write(repo / "data" / "ok.csv", "ok\n")
    gd("add", "data")
    cases = [
        (("add", "../outside/secret.txt"), "outside the repository"),
        (("add", "data/../../outside/secret.txt"), "outside the repository"),
        (("add", str(outside / "secret.txt")), "outside the repository"),
        (("add", ".git/config"), "inside the .git directory"),
        (("status", "../outside"), "outside the repository"),
        (("checkout", "../outside"), "outside the repository"),
        (("commit", "../outside"), "outside the repository"),
        (("ls", "../outside"), "outside the repository"),
        (("mv", "data/ok.csv", "../outside/stolen.csv"), "outside the repository"),
        (("cp", "data/ok.csv", "../outside/stolen.csv"), "outside the repository"),
    ]
    for args, message in cases:
        result = gd(*args, check=False)
        assert result.returncode == 1, args
        assert result.stderr.startswith("git-data: error: ") and message in result.stderr, (args, result.stderr)
        assert result.stderr.count("\n") == 1, result.stderr
    # check-ignore judges each path on its own, like git's: the outside one is a warning
    checked = gd("check-ignore", "../outside/secret.txt", check=False)
    assert (checked.returncode, checked.stdout) == (1, "")
    assert checked.stderr.startswith("git-data: warning: ") and "outside the repository" in checked.stderr
    assert sorted(os.listdir(outside)) == ["secret.txt"]
    assert not _cached(repo, b"outside the repo\n")


def test_symlinks_leading_out_are_never_followed(repo: Path, outside: Path) -> None:
    os.symlink(outside, repo / "link")
    result = gd("add", "link/secret.txt", check=False)
    assert result.returncode == 1 and "leads outside the repository through a symlink" in result.stderr
    # a symlink to an outside directory, or a file, inside a tracked directory is skipped, loudly
    write(repo / "data" / "real.csv", "real\n")
    os.symlink(outside / "secret.txt", repo / "data" / "evil.txt")
    added = gd("add", "data", "link")
    assert "'data/evil.txt' is a symlink leading outside the repository; skipped" in added.stderr
    assert "'link' is a symlink leading outside the repository; skipped" in added.stderr
    assert _tracked(repo) == {"data/real.csv"}
    assert not _cached(repo, b"outside the repo\n")


def test_checkout_never_writes_through_a_symlinked_directory(repo: Path, outside: Path) -> None:
    write(repo / "out" / "f.txt", "tracked\n")
    gd("add", "out")
    # someone replaces the tracked directory with a link to somewhere else
    for name in os.listdir(repo / "out"):
        os.unlink(repo / "out" / name)
    os.rmdir(repo / "out")
    os.symlink(outside, repo / "out")
    result = gd("checkout", check=False)
    assert result.returncode == 1
    assert "a symlink in its path leads outside the repository" in result.stderr
    _clean(result.stderr)
    assert sorted(os.listdir(outside)) == ["secret.txt"]


# -- checkout over unrecorded bytes ------------------------------------------

def test_checkout_keeps_modified_bytes_unless_forced(repo: Path) -> None:
    write(repo / "data" / "model.bin", b"v1" * 1000)
    write(repo / "data" / "other.bin", b"other")
    gd("add", "data")
    git("commit", "-q", "-m", "v1")
    write(repo / "data" / "model.bin", b"v2, never recorded")
    (repo / "data" / "other.bin").unlink()
    result = gd("checkout", check=False)
    assert result.returncode == 1
    assert "data/model.bin: modified, and its content is not in the cache; kept" in result.stderr
    assert "--force" in result.stderr
    _clean(result.stderr)
    assert (repo / "data" / "model.bin").read_bytes() == b"v2, never recorded"
    assert (repo / "data" / "other.bin").read_bytes() == b"other"   # the rest is still restored
    assert not _cached(repo, b"v2, never recorded")
    gd("checkout", "--force")
    assert (repo / "data" / "model.bin").read_bytes() == b"v1" * 1000
    assert _cached(repo, b"v2, never recorded")   # the old bytes went into the cache first


def test_git_checkout_of_an_older_manifest_keeps_unrecorded_bytes(repo: Path) -> None:
    write(repo / "m.bin", b"one")
    gd("add", "m.bin")
    git("commit", "-q", "-m", "one")
    write(repo / "m.bin", b"two")
    gd("commit")
    git("commit", "-q", "-am", "two")
    write(repo / "m.bin", b"three, unrecorded")
    git("checkout", "-q", "HEAD~1", "--", ".gitdata")
    result = gd("checkout", check=False)
    assert result.returncode == 1 and "m.bin" in result.stderr
    assert (repo / "m.bin").read_bytes() == b"three, unrecorded"
    write(repo / "m.bin", b"two")             # content the cache holds: replacing it loses nothing
    gd("checkout")
    assert (repo / "m.bin").read_bytes() == b"one"


# -- hostile manifests -------------------------------------------------------

def _manifest_line(name: str, data: bytes) -> str:
    return f"{name}\t{_b3(data)}\t{len(data)}\t-\tcopy\n"


@pytest.mark.parametrize("name", ["..", ".git", "%2E%2E%2Fescaped.txt", "%2Ftmp%2Fescaped.txt", "a%2Fb"])
def test_hostile_entry_names_in_a_committed_manifest_are_refused(repo: Path, name: str) -> None:
    payload = b"payload\n"
    write(repo / "bait.txt", payload)
    gd("add", "bait.txt")            # puts the payload in the cache, to tempt a write
    manifest = repo / ".gitdata" / "tree" / "sub" / "%manifest"
    write(manifest, "#gitdata-manifest v1\n" + _manifest_line(name, payload))
    git("add", "-f", str(manifest))
    git("commit", "-q", "-m", "hostile")
    for args in (("status",), ("checkout",), ("ls",), ("commit",)):
        result = gd(*args, check=False)
        assert result.returncode == 1, (args, result.stdout)
        assert "unsafe file name" in result.stderr and result.stderr.count("\n") == 1, result.stderr
    assert not (repo.parent / "escaped.txt").exists() and not Path("/tmp/escaped.txt").exists()
    assert not (repo / ".git").is_file() and (repo / ".git" / "HEAD").is_file()

    from gitdata import Repo
    from gitdata.errors import GitDataError

    with pytest.raises(GitDataError, match="unsafe file name"):
        Repo(repo).tracked(rev="HEAD")


def _mktree(repo: Path, entries: dict[str, object]) -> str:
    """A git tree from {name: blob bytes | nested dict}; git mktree accepts names git
    itself would never check out, like what an attacker can push."""
    lines = []
    for name, value in entries.items():
        if isinstance(value, dict):
            lines.append(f"040000 tree {_mktree(repo, value)}\t{name}")
        else:
            assert isinstance(value, bytes)
            oid = git("hash-object", "-w", "--stdin", cwd=repo, input=value.decode()).stdout.strip()
            lines.append(f"100644 blob {oid}\t{name}")
    return git("mktree", cwd=repo, input="\n".join(lines) + "\n").stdout.strip()


@pytest.mark.parametrize("directory", ["..", ".git"])
def test_hostile_manifest_directories_at_a_revision_are_refused(repo: Path, directory: str) -> None:
    manifest = ("#gitdata-manifest v1\n" + _manifest_line("x.txt", b"x")).encode()
    tree = _mktree(repo, {".gitdata": {"config": b"[core]\n\thash = b3\n",
                                       "tree": {directory: {"%manifest": manifest}}}})
    commit = git("commit-tree", tree, "-m", "hostile", cwd=repo).stdout.strip()
    git("update-ref", "refs/heads/evil", commit)

    from gitdata import Repo
    from gitdata.errors import GitDataError

    with pytest.raises(GitDataError, match="unsafe"):
        Repo(repo).tracked(rev="evil")
    result = gd("cat", "-r", "evil", "x.txt", check=False)
    assert result.returncode == 1 and "unsafe" in result.stderr, result.stderr
    _clean(result.stderr)


def test_committed_symlink_plus_manifest_cannot_write_outside(repo: Path, outside: Path) -> None:
    """The attack: a commit holding a symlink `evil -> <outside>` and a manifest for
    `evil/x.txt` whose content the cache holds. Checking out must not write through it."""
    payload = b"attacker bytes\n"
    write(repo / "bait.bin", payload)
    gd("add", "bait.bin")
    os.symlink(os.path.relpath(outside, repo), repo / "evil")
    git("add", "evil")
    write(repo / ".gitdata" / "tree" / "evil" / "%manifest", "#gitdata-manifest v1\n" + _manifest_line("x.txt", payload))
    git("add", ".gitdata")
    git("commit", "-q", "-m", "innocent-looking")
    for args in (("checkout",), ("checkout", "--force"), ("commit",)):
        result = gd(*args, check=False)
        _clean(result.stderr)
        assert sorted(os.listdir(outside)) == ["secret.txt"], args
    result = gd("checkout", check=False)
    assert result.returncode == 1 and "leads outside the repository" in result.stderr


def test_commit_never_reads_files_outside_through_committed_symlinks(repo: Path, outside: Path) -> None:
    """A hostile commit: manifests for `evil/secret.txt` (evil -> outside) and for
    `link.txt` (-> outside/secret.txt). `commit` would carry the outside bytes into
    the cache and the next push would upload them; it must refuse instead."""
    os.symlink(os.path.relpath(outside, repo), repo / "evil")
    os.symlink(os.path.relpath(outside / "secret.txt", repo), repo / "link.txt")
    fake = _manifest_line("secret.txt", b"not what is there")
    write(repo / ".gitdata" / "tree" / "evil" / "%manifest", "#gitdata-manifest v1\n" + fake)
    write(repo / ".gitdata" / "tree" / "%manifest",
          "#gitdata-manifest v1\n" + _manifest_line("link.txt", b"not what is there"))
    git("add", "evil", "link.txt", ".gitdata")
    git("commit", "-q", "-m", "hostile")
    for args, message in ((("commit",), "a symlink in its path leads outside the repository"),
                          (("commit", "link.txt"), "it is a symlink leading outside the repository")):
        result = gd(*args, check=False)
        assert result.returncode == 1 and message in result.stderr, (args, result.stderr)
    assert not _cached(repo, b"outside the repo\n")
    # and mv does not move the outside file into the repository either
    write(repo / ".gitdata" / "tree" / "evil" / "%manifest",
          "#gitdata-manifest v1\n" + _manifest_line("secret.txt", b"outside the repo\n"))
    moved = gd("mv", "evil/secret.txt", "mine.txt", check=False)
    assert moved.returncode == 1 and "leads outside the repository" in moved.stderr
    assert (outside / "secret.txt").read_text() == "outside the repo\n" and not (repo / "mine.txt").exists()
