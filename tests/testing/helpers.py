"""Run the real `git` and the real installed `git data` in isolated temp repositories."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple


class Result(NamedTuple):
    returncode: int
    stdout: str
    stderr: str


def _run(cmd: list[str], cwd: Path | str | None, check: bool, input: str | bytes | None, env: dict | None) -> Result:
    text = not isinstance(input, bytes)
    proc = subprocess.run(cmd, cwd=cwd, input=input, capture_output=True, text=text,
                          env={**os.environ, **(env or {})}, timeout=300)
    out = proc.stdout if text else proc.stdout.decode(errors="replace")
    err = proc.stderr if text else proc.stderr.decode(errors="replace")
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {proc.returncode}\nstdout:\n{out}\nstderr:\n{err}")
    return Result(proc.returncode, out, err)


def git(*args: str, cwd: Path | str | None = None, check: bool = True, input: str | None = None,
        env: dict | None = None) -> Result:
    return _run(["git", *args], cwd, check, input, env)


def gd(*args: str, cwd: Path | str | None = None, check: bool = True, input: str | bytes | None = None,
       env: dict | None = None) -> Result:
    """`git data ARGS` through git, exactly as a user types it."""
    return _run(["git", "data", *args], cwd, check, input, env)


def write(path: Path | str, content: str | bytes = "") -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


def cache_objects(repo: Path) -> list[Path]:
    """All objects in a repository's git-data cache."""
    common = Path(git("rev-parse", "--git-common-dir", cwd=repo).stdout.strip())
    if not common.is_absolute():
        common = repo / common
    root = common / "data" / "cache"
    return [p for p in root.rglob("*") if p.is_file() and "tmp" not in p.relative_to(root).parts[:1]]


def venv_bin() -> str:
    return str(Path(sys.executable).parent)


def spy_on_hook_python(repo: Path, hook: str, tmp_path: Path) -> Path:
    """Make the installed hook start Python through a wrapper that logs each start;
    returns the log (absent while the hook never started Python)."""
    log = tmp_path / "python-started"
    spy = write(tmp_path / "spy-python", f'#!/bin/sh\necho "$@" >> {log}\nexec {venv_bin()}/python "$@"\n')
    spy.chmod(0o755)
    path = repo / ".git" / "hooks" / hook
    text = path.read_text()
    path.write_text(text.replace(text.split("GITDATA_PYTHON=", 1)[1].split("\n", 1)[0], str(spy), 1))
    return log


def ran(repo: Path) -> list[str]:
    """The pipeline steps that ran since the last call (test steps append their name to .ran-log)."""
    log = repo / ".ran-log"
    names = log.read_text().split() if log.exists() else []
    log.write_text("")
    return names


def tracked_data(repo: Path, count: int = 3, scale: int = 1) -> dict[str, bytes]:
    """`count` files under data/ (file i is `scale * i + 1` lines), added and committed."""
    files = {f"data/f{i}.bin": f"content {i}\n".encode() * (scale * i + 1) for i in range(count)}
    for rel, content in files.items():
        write(repo / rel, content)
    gd("add", "data")
    git("commit", "-qm", "data")
    return files
