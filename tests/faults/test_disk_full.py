"""Disk full and quotas: writes that fail part-way (RLIMIT_FSIZE with SIGXFSZ ignored, so
write() returns EFBIG exactly where a full disk returns ENOSPC; and a real full tmpfs
where this machine lets us mount one). After each: exit 1 with one clear line, no
traceback, no original file gone or truncated, the cache still verifies, and the same
command with room to spare completes."""
from __future__ import annotations

import random
import resource
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Callable

import pytest

from tests.faults import harness as h
from tests.faults.test_kill import Scenario, build_add, build_checkout, build_pull
from tests.testing.helpers import Result, gd

_templates: dict[str, Scenario] = {}


def limited(argv: list[str], cwd: Path, limit: int) -> Result:
    def pre() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    proc = subprocess.run(["git", "data", *argv], cwd=cwd, capture_output=True, text=True,
                          preexec_fn=pre, timeout=300)
    return Result(proc.returncode, proc.stdout, proc.stderr)


BUILDERS: dict[str, Callable[[Path], Scenario]] = {
    "add": build_add,
    "checkout": lambda root: build_checkout(root, force=True),
    "pull": build_pull,
}


def assert_nothing_truncated(scenario: Scenario, workdir: Path, what: str) -> None:
    """Every file in the workspace holds one complete original content (no half-written file)."""
    for rel, digest in h.files_with_content(workdir, h.tracked_digests(workdir)).items():
        assert digest in scenario.originals, f"{what}: {rel} holds bytes that were never there (truncated?)"


@pytest.mark.parametrize("kind", list(BUILDERS))
def test_writes_fail_part_way(kind: str, trials: int, tmp_path: Path,
                              tmp_path_factory: pytest.TempPathFactory) -> None:
    if kind not in _templates:
        _templates[kind] = BUILDERS[kind](tmp_path_factory.mktemp(f"full-{kind}"))
    scenario = _templates[kind]
    rng = random.Random(f"disk-full-{kind}")
    limits = [rng.randint(1, 1 << 20) for _ in range(trials)]
    failures = 0
    for trial, limit in enumerate(limits):
        what = f"{kind}: file size limit {limit} B (trial {trial})"
        root = h.copy_scenario(scenario.root, tmp_path / f"trial-{trial}")
        workdir, store = root / scenario.workdir, root / "store"
        result = limited(scenario.argv, workdir, limit)
        h.assert_clean_outcome(result, what)
        if result.returncode:
            failures += 1
            assert len(result.stderr.strip().splitlines()) == 1 or "kept" in result.stderr, f"{what}: {result.stderr}"
            assert "internal error" not in result.stderr
        h.assert_bytes_kept(scenario.originals, workdir, store, what)
        if kind != "add":
            assert_nothing_truncated(scenario, workdir, what)
        again = gd(*scenario.argv, cwd=workdir, check=False)
        assert again.returncode == 0, f"{what}: with room again: {again.stderr}"
        h.assert_fsck(workdir, what)
        assert h.files_with_content(workdir, h.tracked_digests(workdir)) == h.tracked_digests(workdir)
        shutil.rmtree(root, ignore_errors=True)
    assert failures, f"{kind}: no trial actually ran out of space; the test proves nothing"


def test_add_on_a_full_filesystem(repo: Path, tmp_path: Path) -> None:
    """A real ENOSPC: the repository lives on a tiny tmpfs that the cache copy fills up."""
    mount = tmp_path / "small"
    mount.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    try:
        shutil.copytree(repo, mount / "repo", symlinks=True)
        work = mount / "repo"
        content = {f"d/f{i}": random.Random(i).randbytes(400_000) for i in range(5)}
        for rel, data in content.items():
            (work / rel).parent.mkdir(parents=True, exist_ok=True)
            (work / rel).write_bytes(data)
        result = gd("add", "d", cwd=work, check=False)
        h.assert_clean_outcome(result, "add on a full disk")
        assert result.returncode == 1
        assert "No space left on device" in result.stderr and "free some space" in result.stderr
        for rel, data in content.items():
            assert (work / rel).read_bytes() == data, f"{rel} changed"
        h.verified_objects(h.cache_root(work))
        assert not list((h.cache_root(work) / "tmp").glob("*")), "temp files left in the cache"
        gd("fsck", cwd=work)
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)
