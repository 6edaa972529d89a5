"""Shared machinery for the fault suite: build a scenario once, copy it per trial,
run a `git data` command that dies at a chosen point, then check the invariants.

Invariants (every trial):
  * bytes:  every file content that existed before the fault is still somewhere —
            a workspace file, a cache object that verifies, or a storage object
            that verifies (checked by digest against a reference taken before);
  * cache:  every cache object hashes to its name (no partial object ever lands);
  * storage: every storage object hashes to its key;
  * repair: the next command completes (exit 0), or fails with one clear line and no
            traceback; after it, `git data fsck` passes.
"""
from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
from pathlib import Path
from typing import Iterable, NamedTuple

from gitdata.hashing import digest_bytes, digest_file
from tests.testing.helpers import Result, gd, git

INJECT_DIR = str(Path(__file__).parent / "inject")
KILLED = 137          # the shell's status for a process that died of SIGKILL
GIT_KILLED = (128 + 9, 255, 1, 137, -9)


def fault_env(at: int | None = None, count_file: Path | None = None, only: str | None = None) -> dict[str, str]:
    env = {"PYTHONPATH": INJECT_DIR + os.pathsep + os.environ.get("PYTHONPATH", "")}
    if at is not None:
        env["GITDATA_FAULT_AT"] = str(at)
    if count_file is not None:
        env["GITDATA_FAULT_COUNT"] = str(count_file)
    if only:
        env["GITDATA_FAULT_ONLY"] = only
    return env


def count_points(argv: list[str], cwd: Path, only: str | None = None, via_git: bool = False) -> int:
    """How many kill points this command passes through (run on a throw-away copy)."""
    scratch = cwd.parent.parent / f"count-{os.getpid()}-{random.random()}"
    shutil.copytree(cwd.parent, scratch, symlinks=True)
    count_file = scratch / "points"
    runner = git if via_git else gd
    runner(*argv, cwd=scratch / cwd.name, env=fault_env(count_file=count_file, only=only), check=False)
    counts = [int(line.split()[0]) for line in count_file.read_text().splitlines()] if count_file.exists() else [0]
    shutil.rmtree(scratch, ignore_errors=True)
    return max(counts)


def kill_points(total: int, trials: int, seed: str) -> list[int]:
    """Seeded, spread over the whole command: the first and last points, then random ones."""
    if total <= 0:
        return []
    rng = random.Random(seed)
    points = [1, total] if trials >= 4 else []
    while len(points) < min(trials, total):
        n = rng.randint(1, total)
        if n not in points:
            points.append(n)
    return points


def unused_pid() -> int:
    """A pid no process can have (above the kernel's limit): a dead writer's."""
    return int(Path("/proc/sys/kernel/pid_max").read_text()) + 1


def copy_scenario(template: Path, dest: Path) -> Path:
    shutil.copytree(template, dest, symlinks=True)
    return dest


# -- what exists -------------------------------------------------------------

def common_dir(repo: Path) -> Path:
    out = git("rev-parse", "--git-common-dir", cwd=repo).stdout.strip()
    path = Path(out)
    return path if path.is_absolute() else repo / path


def workspace_digests(root: Path) -> set[str]:
    found = set()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for name in filenames:
            path = Path(dirpath, name)
            if path.is_file():
                found.add(digest_file(path))
    return found


def object_files(root: Path) -> Iterable[tuple[str, Path]]:
    """(digest named by the path, path) for every object file under a cache or storage root."""
    if not root.is_dir():
        return
    for algo in sorted(root.iterdir()):
        if not algo.is_dir() or algo.name not in ("b3", "sha256", "b2b256", "sha3-256"):
            continue
        for prefix in sorted(algo.iterdir()):
            if not prefix.is_dir():
                continue
            for item in sorted(prefix.iterdir()):
                if item.name.startswith("."):
                    continue
                yield f"{algo.name}:{prefix.name}{item.name}", item


def verified_objects(root: Path) -> set[str]:
    """Digests of the objects under `root`; raises if any object does not hash to its name."""
    good = set()
    for digest, path in object_files(root):
        actual = digest_file(path, digest.split(":")[0])
        assert actual == digest, f"corrupt object {path}: content hashes to {actual}"
        good.add(digest)
    return good


def cache_root(repo: Path) -> Path:
    return common_dir(repo) / "data" / "cache"


def recoverable(repo: Path, storage: Path | None = None) -> set[str]:
    found = workspace_digests(repo) | verified_objects(cache_root(repo))
    if storage is not None:
        found |= verified_objects(storage)
    return found


def assert_bytes_kept(originals: set[str], repo: Path, storage: Path | None = None, when: str = "") -> None:
    lost = originals - recoverable(repo, storage)
    assert not lost, f"{when}: {len(lost)} original content(s) are nowhere any more: {sorted(lost)[:3]}"


def assert_clean_outcome(result: Result, what: str) -> None:
    """Exit 0, or one clear error line with exit 1/2: never a traceback."""
    text = result.stdout + result.stderr
    assert "Traceback" not in text, f"{what}: traceback\n{text}"
    assert "internal error" not in text, f"{what}: internal error\n{text}"
    if result.returncode != 0:
        assert result.returncode in (1, 2), f"{what}: exit {result.returncode}\n{text}"
        assert "git-data: error:" in result.stderr, f"{what}: no error line\n{text}"


def assert_fsck(repo: Path, what: str, *extra: str) -> None:
    result = gd("fsck", *extra, cwd=repo, check=False)
    assert result.returncode == 0, f"{what}: fsck failed\n{result.stdout}{result.stderr}"


def temp_litter(repo: Path) -> list[str]:
    return sorted(str(p.relative_to(repo)) for p in repo.rglob("*.gitdata-*.tmp")
                  if ".git" not in p.relative_to(repo).parts)


def assert_no_temp_litter(repo: Path, what: str) -> None:
    """Temp files a killed process left are never tracked, and a status walk over the
    directories tracked whole removes them (files elsewhere may stay: see RELIABILITY.md)."""
    from gitdata.fsutil import is_temp_name
    from gitdata.manifest import read_workspace

    tracked = read_workspace(repo)
    assert not [rel for rel in tracked.files if is_temp_name(rel.rsplit("/", 1)[-1])], f"{what}: temp file tracked"
    gd("status", cwd=repo, check=False)
    inside = [rel for rel in temp_litter(repo) if any(rel.startswith(d + "/") for d in tracked.whole_dirs)]
    assert not inside, f"{what}: temp files left in tracked directories: {inside[:5]}"


def tracked_digests(repo: Path) -> dict[str, str]:
    from gitdata.manifest import read_workspace

    return {rel: entry.digest for rel, entry in read_workspace(repo).files.items()}


def files_with_content(root: Path, rels: Iterable[str]) -> dict[str, str]:
    return {rel: digest_file(root / rel) for rel in rels if (root / rel).is_file()}


# -- scenario data -----------------------------------------------------------

class DataSet(NamedTuple):
    files: dict[str, bytes]

    def digests(self) -> set[str]:
        return {digest_bytes(data) for data in self.files.values()}


def make_data(seed: str, count: int = 8, big: int = 1 << 20) -> DataSet:
    rng = random.Random(seed)
    files = {}
    for index in range(count):
        size = rng.choice([0, 1, 100, 4096, 70000])
        files[f"data/part-{index:02d}.bin"] = rng.randbytes(size) + f"{seed}-{index}".encode()
    files["data/sub dir/ünïcode name.txt"] = f"{seed} unicode\n".encode()
    files["big.bin"] = rng.randbytes(big)
    return DataSet(files)


def write_data(root: Path, data: DataSet) -> None:
    for rel, content in data.files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


def pushed_count(result: Result) -> int | None:
    match = re.search(r"pushed (\d+) object", result.stdout + result.stderr)
    return int(match.group(1)) if match else None


def run_quietly(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=300)
