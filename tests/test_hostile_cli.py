"""Walk the whole command tree with wrong arguments, outside a repository and inside an
empty one: every verb answers with its own help, one error line and the right exit code,
never a traceback or an internal error."""
from __future__ import annotations

import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import pytest

from gitdata.main import COMMANDS
from tests.testing.helpers import gd, git

VERBS = sorted(COMMANDS)


class Outcome(NamedTuple):
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


def run_all(cases: list[tuple[str, ...]], cwd: Path) -> list[Outcome]:
    def one(argv: tuple[str, ...]) -> Outcome:
        proc = subprocess.run(["git", "data", *argv], cwd=cwd, capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=120)
        return Outcome(argv, proc.returncode, proc.stdout, proc.stderr)

    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        return list(pool.map(one, cases))


def unavailable(outcome: Outcome) -> bool:
    """Verbs other areas have not landed yet say so (exit 1); anything else is judged."""
    return "is not available in this version" in outcome.stderr and outcome.returncode == 1


def assert_clean_failure(outcome: Outcome, codes: tuple[int, ...] = (1, 2)) -> None:
    where = f"git data {' '.join(outcome.argv)}"
    assert "Traceback" not in outcome.stderr + outcome.stdout, where
    assert "internal error" not in outcome.stderr, f"{where}: {outcome.stderr}"
    if outcome.argv[0] == "check-ignore":
        codes += (128,)   # no path could be checked: git check-ignore's fatal exit, never 1 (none ignored)
    assert outcome.returncode in codes, f"{where} exited {outcome.returncode}: {outcome.stderr}"
    if outcome.returncode != 0 and not (outcome.argv[0] == "check-ignore" and outcome.returncode == 1):
        # check-ignore exits 1 silently when nothing is ignored, as git's does
        lines = [line for line in outcome.stderr.splitlines() if line.startswith("git-data: error:")]
        assert len(lines) == 1, f"{where}: expected one error line, got {outcome.stderr!r}"


def test_every_verb_has_its_own_help(tmp_path: Path) -> None:
    cases = [(verb, "-h") for verb in VERBS]
    for outcome in run_all(cases, tmp_path):
        if unavailable(outcome):
            continue
        verb = outcome.argv[0]
        assert outcome.returncode == 0, f"{verb} -h: {outcome.stderr}"
        assert outcome.stdout.startswith(f"usage: git data {verb}"), f"{verb} -h printed {outcome.stdout[:80]!r}"


def test_unknown_option_is_a_usage_error_for_every_verb(repo: Path) -> None:
    cases = [(verb, "--no-such-option") for verb in VERBS]
    for outcome in run_all(cases, repo):
        assert_clean_failure(outcome, (1,) if unavailable(outcome) else (2,))


def test_every_verb_outside_a_repository(tmp_path: Path) -> None:
    outside = tmp_path / "not-a-repo"
    outside.mkdir()
    cases = [(verb,) for verb in VERBS]
    for outcome in run_all(cases, outside):
        assert_clean_failure(outcome, (0, 1, 2))


def test_every_verb_bare_in_an_empty_repository(repo: Path) -> None:
    git("commit", "-q", "--allow-empty", "-m", "empty")
    cases = [(verb,) for verb in VERBS] + [(verb, "no/such/path") for verb in VERBS]
    for outcome in run_all(cases, repo):
        assert_clean_failure(outcome, (0, 1, 2))


def test_every_verb_with_a_missing_storage(repo: Path, tmp_path: Path) -> None:
    """A default storage whose directory vanished: transfers fail with one line."""
    (repo / "f.txt").write_text("content\n")
    gd("add", "f.txt")
    gd("storage", "add", "gone", str(tmp_path / "gone"))
    git("add", "-A")
    git("commit", "-q", "-m", "data")
    cases = [("push",), ("fetch",), ("pull",), ("status", "--storage", "gone"), ("fsck",),
             ("push", "--storage", "nope"), ("fetch", "--storage", "nope")]
    outcomes = run_all(cases, repo)
    for outcome in outcomes:
        assert_clean_failure(outcome, (0, 1, 2))
    # fetch/pull from a storage that does not exist must not claim success silently
    by_argv = {o.argv: o for o in outcomes}
    assert by_argv[("push", "--storage", "nope")].returncode == 1
    assert (repo / "f.txt").read_text() == "content\n"


@pytest.mark.parametrize("argv", [["-C"], ["-C", "/no/such/dir", "status"], ["--bogus"], ["nosuchverb"],
                                  ["-q", "-v", "status"]])
def test_top_level_errors(tmp_path: Path, argv: list[str]) -> None:
    outcome = run_all([tuple(argv)], tmp_path)[0]
    assert_clean_failure(outcome)


def test_verbosity_before_the_verb(repo: Path) -> None:
    assert gd("-q", "status").returncode == 0
    assert gd("-v", "status").returncode == 0
