"""Generic storage commands that hang: the storage's timeout kills them with
everything they started, and Ctrl-C still reaches them."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.testing.helpers import gd, git, write


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def all_gone(pids: list[int]) -> bool:
    deadline = time.monotonic() + 5
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not any(alive(pid) for pid in pids)


def hanging_storage(repo: Path, tmp_path: Path, objects: int, processes: int) -> tuple[Path, Path]:
    """A generic storage whose upload leaves a background sleep and waits for it;
    (file with one line per upload run, file with the sleeps' pids)."""
    runs, pids = tmp_path / "runs", tmp_path / "pids"
    for i in range(objects):
        write(repo / "data" / f"f{i}.bin", f"content {i}\n")
    gd("add", "data")
    git("commit", "-qm", "data")
    gd("storage", "add", "gen", str(tmp_path / "store"), "--init", "mkdir -p {url}",
       "--list", "cd {url} && find . -type f", "--download", "cp {remote} {local}",
       "--upload", f"echo run >> {runs}; sleep 30 & echo $! >> {pids}; wait", "--processes", str(processes))
    return runs, pids


def pids_in(path: Path) -> list[int]:
    return [int(word) for word in path.read_text().split()] if path.exists() else []


def test_a_command_past_its_timeout_is_killed_and_not_retried(repo: Path, tmp_path: Path) -> None:
    runs, pids = hanging_storage(repo, tmp_path, objects=1, processes=1)
    git("config", "-f", ".gitdata/config", "storage.gen.timeout", "1")
    start = time.monotonic()
    push = gd("push", check=False, input="")
    assert time.monotonic() - start < 10
    assert push.returncode == 1 and "Traceback" not in push.stderr
    [error] = [line for line in push.stderr.splitlines() if line.startswith("git-data: error:")]
    assert "storage 'gen'" in error and "upload command" in error and "1 s" in error
    assert "storage.gen.timeout" in error
    assert runs.read_text().split() == ["run"]
    assert all_gone(pids_in(pids))


@pytest.mark.parametrize("value", ["soon", "-5", "nan"])
def test_a_bad_timeout_is_one_clear_line(repo: Path, tmp_path: Path, value: str) -> None:
    hanging_storage(repo, tmp_path, objects=1, processes=1)
    git("config", "-f", ".gitdata/config", "storage.gen.timeout", value)
    push = gd("push", check=False, input="")
    assert push.returncode == 1 and "Traceback" not in push.stderr
    assert f"storage 'gen': timeout must be a number of seconds (0 for no limit), not '{value}'" in push.stderr


@pytest.mark.parametrize(("signum", "processes"), [(signal.SIGINT, 1), (signal.SIGINT, 2),
                                                   (signal.SIGTERM, 2), (signal.SIGHUP, 2)])
def test_ctrl_c_or_a_kill_stops_the_commands_in_flight(repo: Path, tmp_path: Path, signum: int,
                                                      processes: int) -> None:
    """The commands run in their own session, where signals sent to git-data's
    process group cannot reach them; git-data passes them on (from the main thread
    and from worker threads)."""
    _, pids = hanging_storage(repo, tmp_path, objects=2, processes=processes)
    # A terminal sends Ctrl-C (a CI runner its SIGTERM) to the whole process group: git and git-data.
    # A shell without job control starts background commands with SIGINT ignored, nohup
    # ignores SIGHUP, and the ignoring is inherited: a test suite started so must not pass it on.
    push = subprocess.Popen(["git", "data", "push"], cwd=repo, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signum, signal.SIG_DFL))
    deadline = time.monotonic() + 20
    while len(pids_in(pids)) < processes and time.monotonic() < deadline:
        time.sleep(0.05)
    started = pids_in(pids)
    assert len(started) == processes
    os.killpg(push.pid, signum)
    try:
        _, stderr = push.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(push.pid, signal.SIGKILL)
        _, stderr = push.communicate()
        raise AssertionError(f"git data push did not stop on {signal.Signals(signum).name}; "
                             f"its stderr: {stderr!r}") from None
    assert push.returncode != 0 and "Traceback" not in stderr
    assert all_gone(started)
    assert pids_in(pids) == started   # nothing was retried after the signal


def test_storage_add_takes_and_checks_a_timeout(repo: Path, tmp_path: Path) -> None:
    common = ["--upload", "cp {local} {remote}", "--download", "cp {remote} {local}", "--list", "ls {url}"]
    bad = gd("storage", "add", "gen", str(tmp_path / "s"), *common, "--timeout", "soon", check=False)
    assert bad.returncode == 1 and "timeout must be a number of seconds" in bad.stderr
    assert "Traceback" not in bad.stderr
    gd("storage", "add", "gen", str(tmp_path / "s"), *common, "--timeout", "90")
    assert "timeout = 90" in (repo / ".gitdata" / "config").read_text()
    wrong = gd("storage", "add", "loc", str(tmp_path / "d"), "--timeout", "5", check=False)
    assert wrong.returncode == 2 and "for generic storages" in wrong.stderr
