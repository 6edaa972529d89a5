"""kill -9 inside the post-checkout hook (while `git checkout` switches branches), inside
the pre-push hook (while `git push` uploads) and during `git data run`. Same invariants as test_kill: no original byte lost, the next
command repairs, fsck passes."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.faults import harness as h
from tests.faults.test_kill import Scenario, _commit_all, _new_repo, two_branches
from tests.testing.helpers import gd, git

_templates: dict[str, tuple[Scenario, int]] = {}


def build_hook(root: Path, argv: tuple[str, ...] = ("checkout", "-q", "other")) -> Scenario:
    repo, data, other = two_branches(root, "hook", hooks=True)   # the hook brought A back
    assert h.files_with_content(repo, data.files) == {rel: h.digest_bytes(b) for rel, b in data.files.items()}
    return Scenario(root, "repo", list(argv), data.digests() | other.digests())


def build_merge_hook(root: Path) -> Scenario:
    """`git merge other` on main (a fast-forward): the post-merge hook brings B's data."""
    return build_hook(root, ("merge", "-q", "other"))


def build_push(root: Path) -> Scenario:
    repo, data = _new_repo(root, "push")
    git("init", "-q", "--bare", str(root / "remote.git"))
    gd("install", cwd=repo)
    git("remote", "add", "origin", "../remote.git", cwd=repo)  # relative: trials are copies
    gd("add", "data", "big.bin", cwd=repo)
    _commit_all(repo, "A")
    return Scenario(root, "repo", ["push", "-q", "origin", "HEAD:refs/heads/main"], data.digests())


def build_run(root: Path) -> Scenario:
    repo, _ = _new_repo(root, "run")
    inputs = {f"in/{i}.txt": f"input {i}\n".encode() * 2000 for i in range(3)}
    for rel, content in inputs.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_bytes(content)
    for i in range(3):
        gd("step", "new", f"s{i}", "--command", f"mkdir -p out && cat in/{i}.txt in/{i}.txt > out/{i}.bin",
           cwd=repo)
        gd("step", "dep", f"s{i}", "--file", f"in/{i}.txt", cwd=repo)
        gd("step", "out", f"s{i}", "--file", f"out/{i}.bin", cwd=repo)
    gd("step", "new", "total", "--command", "cat out/*.bin > total.bin", cwd=repo)
    gd("step", "dep", "total", *[a for i in range(3) for a in ("--step", f"s{i}")], cwd=repo)
    gd("step", "out", "total", "--file", "total.bin", cwd=repo)
    _commit_all(repo, "pipeline")
    return Scenario(root, "repo", ["run", "-j", "2"], {h.digest_bytes(b) for b in inputs.values()})


def scenario_for(kind: str, factory: pytest.TempPathFactory) -> tuple[Scenario, int]:
    if kind not in _templates:
        builders = {"hook": build_hook, "merge-hook": build_merge_hook, "push": build_push, "run": build_run}
        scenario = builders[kind](factory.mktemp(f"template-{kind}"))
        if kind in ("hook", "merge-hook", "push"):
            total = h.count_points(scenario.argv, scenario.root / scenario.workdir, only="hook-impl", via_git=True)
        else:
            total = h.count_points(scenario.argv, scenario.root / scenario.workdir)
        _templates[kind] = (scenario, total)
    return _templates[kind]


@pytest.mark.parametrize("kind", ["hook", "merge-hook"], ids=["post-checkout", "post-merge"])
def test_kill_inside_the_post_checkout_hook(kind: str, trials: int, tmp_path: Path,
                                            tmp_path_factory: pytest.TempPathFactory) -> None:
    scenario, total = scenario_for(kind, tmp_path_factory)
    assert total > 0, "the hook changed nothing on disk?"
    for trial, at in enumerate(h.kill_points(total, trials, f"kill-{kind}")):
        what = f"{kind}: kill at point {at}/{total} (trial {trial})"
        root = h.copy_scenario(scenario.root, tmp_path / f"trial-{trial}")
        workdir, store = root / "repo", root / "store"
        git(*scenario.argv, cwd=workdir, env=h.fault_env(at=at, only="hook-impl"), check=False)
        head = git("rev-parse", "HEAD", cwd=workdir).stdout.strip()
        assert head == git("rev-parse", "other", cwd=workdir).stdout.strip(), f"{what}: git did not move"
        h.assert_bytes_kept(scenario.originals, workdir, store, f"{what} (right after the kill)")
        status = gd("status", cwd=workdir, check=False)
        h.assert_clean_outcome(status, f"{what}: status")
        repaired = gd("checkout", cwd=workdir, check=False)
        assert repaired.returncode == 0, f"{what}: {repaired.stderr}"
        tracked = h.tracked_digests(workdir)
        assert h.files_with_content(workdir, tracked) == tracked, f"{what}: workspace is not at 'other'"
        h.assert_fsck(workdir, what)
        h.assert_no_temp_litter(workdir, what)
        # and the next branch switch runs the hook normally again
        git("checkout", "-q", "other~1", cwd=workdir)
        tracked = h.tracked_digests(workdir)
        assert h.files_with_content(workdir, tracked) == tracked, f"{what}: the next checkout did not sync"
        shutil.rmtree(root, ignore_errors=True)


def test_kill_inside_the_pre_push_hook(trials: int, tmp_path: Path,
                                       tmp_path_factory: pytest.TempPathFactory) -> None:
    """A push whose pre-push hook dies mid-upload is refused; the storage holds only
    whole, verified objects; the next push completes and the remote's commit has all its data."""
    scenario, total = scenario_for("push", tmp_path_factory)
    assert total > 0, "the pre-push hook wrote nothing?"
    for trial, at in enumerate(h.kill_points(total, trials, "kill-pre-push")):
        what = f"pre-push: kill at point {at}/{total} (trial {trial})"
        root = h.copy_scenario(scenario.root, tmp_path / f"trial-{trial}")
        workdir, store = root / "repo", root / "store"
        killed = git(*scenario.argv, cwd=workdir, env=h.fault_env(at=at, only="hook-impl"), check=False)
        if killed.returncode != 0:
            assert git("rev-parse", "-q", "--verify", "refs/heads/main", cwd=root / "remote.git",
                       check=False).returncode != 0, f"{what}: a refused push still reached the remote"
        h.verified_objects(store)  # raises on a torn object
        h.assert_bytes_kept(scenario.originals, workdir, store, what)
        git(*scenario.argv, cwd=workdir)
        assert scenario.originals <= h.verified_objects(store), f"{what}: the storage lacks pushed data"
        head = git("rev-parse", "HEAD", cwd=workdir).stdout.strip()
        assert git("rev-parse", "main", cwd=root / "remote.git").stdout.strip() == head
        h.assert_fsck(workdir, what)
        shutil.rmtree(root, ignore_errors=True)


def test_kill_during_run(trials: int, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    scenario, total = scenario_for("run", tmp_path_factory)
    assert total > 0
    for trial, at in enumerate(h.kill_points(total, trials, "kill-run")):
        what = f"run: kill at point {at}/{total} (trial {trial})"
        root = h.copy_scenario(scenario.root, tmp_path / f"trial-{trial}")
        workdir, store = root / "repo", root / "store"
        gd(*scenario.argv, cwd=workdir, env=h.fault_env(at=at), check=False)
        h.assert_bytes_kept(scenario.originals, workdir, store, f"{what} (right after the kill)")
        again = gd(*scenario.argv, cwd=workdir, check=False)
        assert again.returncode == 0, f"{what}: re-run failed\n{again.stdout}{again.stderr}"
        for i in range(3):
            expected = (workdir / f"in/{i}.txt").read_bytes() * 2
            assert (workdir / f"out/{i}.bin").read_bytes() == expected, f"{what}: out/{i}.bin"
        total_bytes = b"".join((workdir / f"out/{i}.bin").read_bytes() for i in range(3))
        assert (workdir / "total.bin").read_bytes() == total_bytes, f"{what}: total.bin is stale or torn"
        fresh = gd("run", "--dry-run", cwd=workdir)
        h.assert_clean_outcome(fresh, what)
        h.assert_fsck(workdir, what)
        shutil.rmtree(root, ignore_errors=True)
