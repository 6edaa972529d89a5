"""Work split across forked processes (gitdata/processes.py), and transfers that use it."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gitdata.errors import GitDataError
from gitdata.hashing import digest_file
from gitdata.processes import processes_for, run_split

from tests.testing.helpers import cache_objects, gd, git, write


def test_results_come_back_in_order_with_progress_on_the_way() -> None:
    seen: list[int | str] = []
    items = list(range(1000))
    results = run_split(lambda i: i * 2 if i % 3 else f"item {i}", items, 3, seen.extend)
    assert results == [i * 2 if i % 3 else f"item {i}" for i in items]
    assert sorted(map(str, seen)) == sorted(map(str, results))


def test_each_child_is_its_own_process() -> None:
    pids = run_split(lambda _: os.getpid(), list(range(100)), 2, lambda _: None)
    assert len(set(pids)) == 2 and os.getpid() not in pids


def test_what_a_child_raises_is_raised_here() -> None:
    def work(i: int) -> int:
        if i == 700:
            raise GitDataError("object 700 is bad")
        return i

    with pytest.raises(GitDataError, match="^object 700 is bad$"):
        run_split(work, list(range(1000)), 2, lambda _: None)
    with pytest.raises(ZeroDivisionError):
        run_split(lambda i: 1 // (i - 5), list(range(10)), 2, lambda _: None)
    with pytest.raises(FileNotFoundError) as raised:
        run_split(lambda i: os.stat(f"/nonexistent/{i}").st_size, list(range(10)), 2, lambda _: None)
    assert raised.value.filename.startswith("/nonexistent/")


def test_a_child_that_dies_is_reported() -> None:
    with pytest.raises(GitDataError, match="worker process exited 3 before finishing"):
        run_split(lambda i: os._exit(3) if i == 2 else i, list(range(10)), 2, lambda _: None)
    with pytest.raises(GitDataError, match="worker process was killed by signal 9"):
        run_split(lambda i: os.kill(os.getpid(), 9) if i == 7 else i, list(range(10)), 2, lambda _: None)


def test_few_items_or_other_threads_stay_in_this_process() -> None:
    import threading

    assert processes_for(999, 8) == 1
    assert processes_for(1000, 1) == 1
    assert 1 <= processes_for(100_000, 8) <= min(8, os.cpu_count() or 1)
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        assert processes_for(100_000, 8) == 1
    finally:
        release.set()
        other.join()


def test_hashing_in_a_child_after_the_parent_used_blake3_threads() -> None:
    # A forked child has blake3's thread pool but not its threads: it must hash alone.
    script = (
        "from gitdata.hashing import digest_bytes\n"
        "from gitdata.processes import run_split\n"
        "data = bytes(range(256)) * 40000\n"
        "expected = digest_bytes(data)\n"
        "print(run_split(lambda i: digest_bytes(data + bytes([i])) != expected, list(range(4)), 2, lambda _: None))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                         cwd=Path(__file__).parent.parent)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[True, True, True, True]"


def test_push_and_pull_of_many_objects_in_processes(repo: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    gd("storage", "add", "loc", str(store))
    for i in range(1200):
        write(repo / "data" / f"d{i % 7}" / f"{i}.txt", f"payload {i}\n")
    gd("add", "data")
    objects = {obj.read_bytes(): obj for obj in cache_objects(repo)}
    damaged, gone = objects[b"payload 5\n"], objects[b"payload 900\n"]
    for obj in (damaged, gone):
        obj.chmod(0o644)
    damaged.write_bytes(b"payload 6\n")
    gone.unlink()
    push = gd("push", check=False)
    assert push.returncode == 1
    assert "is corrupt; not uploaded" in push.stderr and "(and 1 more failure" not in push.stderr
    stored = [p for p in store.rglob("*") if p.is_file() and not p.name.startswith(".")]
    assert len(stored) == 1198    # all but the damaged and the missing one
    damaged.unlink()
    gd("fsck", check=False)
    write(repo / "data" / "d5" / "5.txt", "payload 5\n")
    write(repo / "data" / "d4" / "900.txt", "payload 900\n")
    gd("add", "data")
    assert "pushed 2 object(s)" in gd("push").stderr
    git("add", "-A")
    git("commit", "-qm", "data")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(repo), str(clone)], check=True)
    gd("pull", cwd=clone)
    assert (clone / "data" / "d4" / "900.txt").read_text() == "payload 900\n"
    assert sum(1 for p in (clone / "data").rglob("*.txt")) == 1200


def test_add_and_restore_of_many_files_in_processes(repo: Path) -> None:
    for i in range(1200):
        write(repo / "data" / f"d{i % 7}" / f"{i}.txt", f"payload {i}\n" * (i % 5))
    (repo / "data" / "d0" / "0.txt").chmod(0o755)
    gd("add", "data")
    listed = gd("ls", "data", "--no-summary").stdout.splitlines()
    assert len(listed) == 1200
    assert "Nothing to report: 1200 tracked file(s)" in gd("status").stdout
    write(repo / "data" / "d1" / "1.txt", "unsaved edit\n")
    for i in range(2, 1200, 2):
        (repo / "data" / f"d{i % 7}" / f"{i}.txt").unlink()
    out = gd("checkout", "data", check=False)
    assert "data/d1/1.txt" in out.stderr and out.returncode == 1   # kept: its content is nowhere else
    assert (repo / "data" / "d1" / "1.txt").read_text() == "unsaved edit\n"
    assert all((repo / "data" / f"d{i % 7}" / f"{i}.txt").read_text() == f"payload {i}\n" * (i % 5)
               for i in range(2, 1200))
    assert os.access(repo / "data" / "d0" / "0.txt", os.X_OK)
    status = json.loads(gd("status", "--json").stdout)
    assert status == {"missing": [], "missing_not_in_cache": [], "modified": ["data/d1/1.txt"], "not_in_cache": [],
                      "untracked": []}


@pytest.mark.parametrize("whole_group", [False, True])
def test_interrupted_forked_add_stops_its_workers_and_loses_nothing(repo: Path, whole_group: bool) -> None:
    import signal
    import time

    originals = {}
    for i in range(4000):
        rel = f"data/d{i % 9}/{i}.bin"
        originals[rel] = os.urandom(64) * (1 + i % 50)
        write(repo / rel, originals[rel])
    proc = subprocess.Popen(["git-data", "add", "data"], cwd=repo, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not cache_objects(repo) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    if whole_group:
        os.killpg(proc.pid, signal.SIGINT)    # Ctrl-C at a terminal: every process of the group
    else:
        os.kill(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("the add finished before the interrupt")
    assert proc.returncode == 130 and "interrupted" in err and "Traceback" not in err
    leftover = subprocess.run(["pgrep", "-g", str(proc.pid)], capture_output=True, text=True).stdout.split()
    assert leftover == [], "worker processes outlived the command"
    assert all((repo / rel).read_bytes() == data for rel, data in originals.items())
    gd("add", "data")
    for obj in cache_objects(repo):    # no object holds other bytes than its name says
        assert digest_file(obj) == "b3:" + obj.parent.name + obj.name
    assert "Nothing to report: 4000 tracked file(s)" in gd("status").stdout
