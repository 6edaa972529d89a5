"""Every verb in the command table behaves like a git command at the edges:
-h works, a bad option is one usage line (exit 2), and outside a repository
it fails with one line. Never a traceback."""
from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

from gitdata.main import COMMANDS
from tests.testing.helpers import Result, gd

VISIBLE = [name for name, command in COMMANDS.items() if not command.hidden]
ALIASES = [alias for command in COMMANDS.values() if not command.hidden for alias in command.aliases]
# Verbs that have a job to do without a repository (like sha256sum or `git version`).
NO_REPO_NEEDED = {"version", "hash", "completion", "aliases", "get-url", "get"}


def _no_traceback(result: Result) -> bool:
    return "Traceback" not in result.stderr + result.stdout and "internal error" not in result.stderr


def _check_all(names: list[str], run: Callable[[str], Result], check: Callable[[str, Result], str | None]) -> None:
    with ThreadPoolExecutor(max_workers=2 * (os.cpu_count() or 2)) as pool:
        results = list(pool.map(run, names))
    problems = [f"{name}: {problem}\n  stdout: {r.stdout[:300]!r}\n  stderr: {r.stderr[:300]!r}"
                for name, r in zip(names, results) if (problem := check(name, r))]
    assert not problems, "\n".join(problems)


def test_every_verb_and_alias_has_help(tmp_path: Path) -> None:
    def check(name: str, r: Result) -> str | None:
        if "not available in this version" in r.stderr:
            return None   # not built yet; the error itself is checked below
        if r.returncode != 0:
            return f"-h exited {r.returncode}"
        if not r.stdout.startswith("usage: git data"):
            return "-h printed no usage"
        return None if _no_traceback(r) else "traceback"

    _check_all(VISIBLE + ALIASES, lambda name: gd(name, "-h", cwd=tmp_path, check=False), check)


def test_bogus_option_is_one_usage_line(repo: Path) -> None:
    def check(name: str, r: Result) -> str | None:
        if not _no_traceback(r):
            return "traceback"
        lines = r.stderr.splitlines()
        if "not available in this version" in r.stderr:
            return None if r.returncode == 1 and len(lines) == 1 else "unavailable verb: not one line / exit 1"
        if r.returncode != 2:
            return f"exit {r.returncode}, expected 2"
        if len(lines) != 1 or not lines[0].startswith("git-data: error:"):
            return "expected exactly one line starting 'git-data: error:'"
        named = "--no-such-option" in r.stderr or "arguments are required" in r.stderr
        return None if named else "the message names neither the bad option nor what is missing"

    _check_all(VISIBLE, lambda name: gd(name, "--no-such-option", cwd=repo, check=False, input=""), check)


def test_quiet_and_verbose_are_accepted_after_an_action(repo: Path) -> None:
    (repo / "f").write_text("a\n")
    gd("add", "f")
    assert gd("step", "new", "s", "--command", "true", "-q").stderr == ""
    assert gd("step", "-q", "new", "t", "--command", "true").stderr == ""   # not reset by the action
    assert "created step 'u'" in gd("step", "new", "u", "--command", "true").stderr
    assert gd("step", "list", "-v").stdout.splitlines() == ["s: true", "t: true", "u: true"]
    for args in (["pipeline", "list", "-q"], ["cache", "path", "-q", "f"], ["storage", "list", "-v"]):
        result = gd(*args, check=False)
        assert result.returncode == 0 and _no_traceback(result), args


def test_outside_a_repository_is_one_error_line(tmp_path: Path) -> None:
    outside = tmp_path / "not-a-repo"
    outside.mkdir()
    env = {"GIT_CEILING_DIRECTORIES": str(tmp_path)}

    def run(name: str) -> Result:
        return gd(name, cwd=outside, check=False, input="", env=env)

    def check(name: str, r: Result) -> str | None:
        if not _no_traceback(r):
            return "traceback"
        if name in NO_REPO_NEEDED:
            return None
        lines = r.stderr.splitlines()
        if r.returncode == 0:
            return "succeeded outside a repository"
        if len(lines) != 1 or not lines[0].startswith("git-data: error:"):
            return "expected exactly one line starting 'git-data: error:'"
        return None

    _check_all(VISIBLE, run, check)


def test_unknown_verb_and_no_verb(tmp_path: Path) -> None:
    unknown = gd("frobnicate", cwd=tmp_path, check=False)
    assert unknown.returncode == 2
    assert unknown.stderr == "git-data: error: 'frobnicate' is not a git data command; see 'git data --help'\n"
    bare = gd(cwd=tmp_path, check=False)
    assert bare.returncode == 2 and "usage: git data" in bare.stdout
    listing = gd("-h", cwd=tmp_path).stdout
    assert all(f"  {name} " in listing for name in VISIBLE)


def test_overview_man_page_lists_every_verb() -> None:
    page = (Path(__file__).resolve().parent.parent / "man" / "git-data.1").read_text().replace("\\-", "-")
    missing = [name for name in VISIBLE if not re.search(rf"^\.BR? {re.escape(name)}(\s|$)", page, re.M)]
    assert not missing, f"man/git-data.1 lacks: {', '.join(missing)}"


def test_every_verb_has_a_clean_man_page() -> None:
    import shutil
    import subprocess

    man = Path(__file__).resolve().parent.parent / "man"
    missing = [name for name in VISIBLE if not (man / f"git-data-{name}.1").is_file()]
    assert not missing, f"no man page for: {', '.join(missing)}"
    if shutil.which("groff") is None:
        return
    for page in sorted(man.glob("*.1")):
        result = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", str(page)], capture_output=True, text=True)
        assert result.returncode == 0 and not result.stderr, f"{page.name}: {result.stderr}"
        assert page.read_text().startswith(".TH "), page.name
