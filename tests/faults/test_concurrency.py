"""Concurrency: many `git data` processes at once in one repository and across linked
worktrees that share one cache. No lost update in any manifest (every file ends up
recorded, staged in git's index), no corrupt cache object, fsck passes."""
from __future__ import annotations

import random
import subprocess
from pathlib import Path

from tests.faults import harness as h
from tests.testing.helpers import gd, git

N = 6


def run_parallel(jobs: list[tuple[list[str], Path]]) -> list[subprocess.CompletedProcess[str]]:
    procs = [subprocess.Popen(["git", "data", *argv], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for argv, cwd in jobs]
    results = []
    for proc, (argv, _) in zip(procs, jobs):
        out, err = proc.communicate(timeout=300)
        results.append(subprocess.CompletedProcess(argv, proc.returncode, out, err))
    for result in results:
        assert result.returncode == 0, f"git data {' '.join(result.args)}: {result.stderr}"
    return results


def write_files(root: Path, rels: list[str], seed: str) -> dict[str, str]:
    rng = random.Random(seed)
    digests = {}
    for rel in rels:
        data = rng.randbytes(rng.randint(0, 50000)) + rel.encode()
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
        digests[rel] = h.digest_bytes(data)
    return digests


def staged(repo: Path) -> set[str]:
    return set(git("diff", "--cached", "--name-only", "-z", cwd=repo).stdout.split("\0")) - {""}


def check(repo: Path, expected: dict[str, str], what: str) -> None:
    assert h.tracked_digests(repo) == expected, f"{what}: manifests lost or garbled an update"
    h.verified_objects(h.cache_root(repo))
    h.assert_fsck(repo, what)
    manifests = {str(p.relative_to(repo)) for p in (repo / ".gitdata/tree").rglob("%manifest")}
    assert manifests <= staged(repo), f"{what}: manifests not staged: {sorted(manifests - staged(repo))}"


def test_parallel_adds_in_one_directory(repo: Path, trials: int) -> None:
    expected: dict[str, str] = {}
    for trial in range(trials):
        rels = [f"shared/t{trial}-f{i}.bin" for i in range(N)]
        expected |= write_files(repo, rels, f"same-dir-{trial}")
        run_parallel([(["add", rel], repo) for rel in rels])
        check(repo, expected, f"trial {trial}")


def test_parallel_adds_of_whole_directories_and_commits(repo: Path, trials: int) -> None:
    expected: dict[str, str] = {}
    for trial in range(trials):
        rels = [f"dir{i}/sub/t{trial}.bin" for i in range(N)] + [f"dir{i}/t{trial}.bin" for i in range(N)]
        expected |= write_files(repo, rels, f"dirs-{trial}")
        jobs = [(["add", f"dir{i}"], repo) for i in range(N)]
        if trial:  # directories tracked whole already: commit picks the new files up too
            jobs = jobs[: N // 2] + [(["commit", f"dir{i}"], repo) for i in range(N // 2, N)]
        run_parallel(jobs)
        check(repo, expected, f"trial {trial}")


def test_parallel_adds_of_the_same_content(repo: Path) -> None:
    """Many processes putting the very same object into the cache at once."""
    data = random.Random(7).randbytes(2 << 20)
    rels = [f"copies/c{i}.bin" for i in range(N)]
    for rel in rels:
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_bytes(data)
    run_parallel([(["add", rel], repo) for rel in rels])
    check(repo, {rel: h.digest_bytes(data) for rel in rels}, "same content")


def test_linked_worktrees_share_one_cache(repo: Path, trials: int) -> None:
    git("commit", "-q", "--allow-empty", "-m", "init")
    trees = [repo]
    for i in range(2):
        path = repo.parent / f"wt{i}"
        git("worktree", "add", "-q", "-b", f"wt{i}", str(path))
        trees.append(path)
    expected: dict[Path, dict[str, str]] = {tree: {} for tree in trees}
    for trial in range(trials):
        jobs = []
        for tree in trees:
            rels = [f"data/t{trial}-{i}.bin" for i in range(3)]
            # the same names and bytes in every worktree: one cache object each, written concurrently
            expected[tree] |= write_files(tree, rels, f"wt-{trial}")
            jobs += [(["add", rel], tree) for rel in rels]
        run_parallel(jobs)
        for tree in trees:
            check(tree, expected[tree], f"{tree.name} trial {trial}")


def test_parallel_pulls_in_worktrees(repo: Path, tmp_path: Path) -> None:
    expected = write_files(repo, [f"d/f{i}" for i in range(8)], "pulls")
    gd("add", "d")
    gd("storage", "add", "store", str(tmp_path / "store"))
    git("add", "-A")
    git("commit", "-q", "-m", "data")
    gd("push")
    trees = []
    for i in range(3):
        path = repo.parent / f"pull{i}"
        git("worktree", "add", "-q", "--detach", str(path))
        trees.append(path)
    import shutil

    shutil.rmtree(h.cache_root(repo))
    run_parallel([(["pull"], tree) for tree in trees] + [(["fetch"], repo)])
    for tree in trees:
        assert h.files_with_content(tree, expected) == expected
        h.assert_fsck(tree, tree.name)


def test_parallel_runs_of_one_pipeline(repo: Path) -> None:
    """Three `git data run` at once: each waits for the pipeline or finds it fresh; the
    outputs are whole and recorded once."""
    for i in range(3):
        (repo / f"in/{i}.txt").parent.mkdir(exist_ok=True)
        (repo / f"in/{i}.txt").write_bytes(f"input {i}\n".encode() * 1000)
        gd("step", "new", f"s{i}", "--command", f"mkdir -p out && cat in/{i}.txt in/{i}.txt > out/{i}.bin")
        gd("step", "dep", f"s{i}", "--file", f"in/{i}.txt")
        gd("step", "out", f"s{i}", "--file", f"out/{i}.bin")
    procs = [subprocess.Popen(["git", "data", "run"], cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(3)]
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert "Traceback" not in err and "internal error" not in err, err
        assert proc.returncode in (0, 1), err
        if proc.returncode:
            assert err.count("git-data: error:") == 1, err
    assert any(proc.returncode == 0 for proc in procs)
    for i in range(3):
        assert (repo / f"out/{i}.bin").read_bytes() == (repo / f"in/{i}.txt").read_bytes() * 2
    assert gd("run").returncode == 0
    h.assert_fsck(repo, "parallel runs")
