"""Installing and removing the git hooks, the merge driver and the notes refspecs.

Our hooks are the sh files in `hooks/`, with the interpreter that installed
them written in. A hook that was there before ours is moved aside to
`<hook>.pre-gitdata`; ours runs it first (replaying stdin where git gives
one) and `uninstall` moves it back.
"""
from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

from gitdata.errors import GitDataError
from gitdata.fsutil import atomic_write

HOOK_NAMES = ("post-checkout", "post-merge", "post-rewrite", "post-commit", "pre-push")
ID_MARK = b"# gitdata-hook-id:"
CHAIN_SUFFIX = ".pre-gitdata"
# Hook managers that chain an existing hook the same way we do.
OTHER_CHAIN_SUFFIXES = (".legacy",)
MERGE_DRIVER = "git data merge-driver %O %A %B %P"
ATTRIBUTES_LINE = ".gitdata/** merge=gitdata"
# Two branches that track files in one directory both append to its .gitignore.
IGNORE_ATTRIBUTES_LINE = ".gitignore merge=gitdata"
NOTES_REFSPEC = "+refs/notes/gitdata/*:refs/notes/gitdata/*"
SYNC_STAMP = "gitdata-synced"


class HookAction(NamedTuple):
    name: str
    action: str      # installed, upgraded, chained, removed, restored, skipped, absent
    detail: str = ""


# -- git plumbing ------------------------------------------------------------

def run_git(args: list[str], cwd: Path | None = None, check: bool = True) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise GitDataError(f"git {' '.join(args)} failed: {proc.stderr.strip() or proc.returncode}")
    return proc.stdout.strip() if proc.returncode == 0 else ""


def config_get(key: str, cwd: Path | None = None, scope: str | None = None) -> str | None:
    args = ["config"] + ([f"--{scope}"] if scope else []) + ["--get", key]
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else None


def config_set(key: str, value: str, cwd: Path | None = None, scope: str = "local") -> None:
    run_git(["config", f"--{scope}", key, value], cwd)


def config_unset(key: str, cwd: Path | None = None, scope: str = "local") -> None:
    run_git(["config", f"--{scope}", "--unset-all", key], cwd, check=False)


def hooks_dir(workdir: Path) -> tuple[Path, str | None]:
    """The directory git runs hooks from (the common one for linked worktrees),
    and core.hooksPath when that is what decides it."""
    hooks_path = config_get("core.hooksPath", workdir)
    path = Path(run_git(["rev-parse", "--git-path", "hooks"], workdir))
    if not path.is_absolute():
        path = workdir / path
    return path, hooks_path


# -- hook files --------------------------------------------------------------

def template_dir() -> Path:
    from gitdata.resources import resource_dir

    return resource_dir("hooks")


def render(name: str) -> bytes:
    """The hook with this interpreter and this package's location written in."""
    text = (template_dir() / name).read_text()
    package_parent = str(Path(__file__).resolve().parent.parent)
    python = os.path.abspath(sys.executable)
    return text.replace("@PYTHON@", shlex.quote(python)).replace("@PATH@", shlex.quote(package_parent)).encode()


def is_ours(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            return ID_MARK in handle.read(4096)
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        return False


def _write_hook(path: Path, data: bytes) -> None:
    atomic_write(path, data)
    os.chmod(path, 0o755)


def install_hook(directory: Path, name: str) -> HookAction:
    target = directory / name
    chained = directory / (name + CHAIN_SUFFIX)
    data = render(name)
    if is_ours(target):
        if target.read_bytes() == data:
            return HookAction(name, "unchanged")
        _write_hook(target, data)
        return HookAction(name, "upgraded")
    for suffix in OTHER_CHAIN_SUFFIXES:
        # Another manager (pre-commit) moved our hook aside and runs it: upgrade it there.
        other = directory / (name + suffix)
        if is_ours(other):
            _write_hook(other, data)
            return HookAction(name, "upgraded", f"run by the hook manager from {other.name}")
    if os.path.lexists(target):
        if os.path.lexists(chained):
            return HookAction(name, "skipped", f"{target} is not ours and {chained.name} already exists; "
                                               "merge them by hand, then run 'git data install' again")
        os.rename(target, chained)
        _write_hook(target, data)
        return HookAction(name, "chained", f"the existing hook now runs from {chained.name}")
    directory.mkdir(parents=True, exist_ok=True)
    _write_hook(target, data)
    return HookAction(name, "installed")


def uninstall_hook(directory: Path, name: str) -> HookAction:
    target = directory / name
    chained = directory / (name + CHAIN_SUFFIX)
    for suffix in OTHER_CHAIN_SUFFIXES:
        other = directory / (name + suffix)
        if is_ours(other):
            other.unlink()
            return HookAction(name, "removed", f"from {other.name}")
    if not os.path.lexists(target):
        return HookAction(name, "absent")
    if not is_ours(target):
        return HookAction(name, "skipped", "not installed by git-data; left alone")
    if os.path.lexists(chained):
        os.replace(chained, target)
        return HookAction(name, "restored", "the earlier hook is back in place")
    target.unlink()
    return HookAction(name, "removed")


def install_hooks(directory: Path) -> list[HookAction]:
    return [install_hook(directory, name) for name in HOOK_NAMES]


def uninstall_hooks(directory: Path) -> list[HookAction]:
    return [uninstall_hook(directory, name) for name in HOOK_NAMES]


# -- merge driver, attributes, notes -----------------------------------------

def register_merge_driver(cwd: Path | None, scope: str) -> None:
    config_set("merge.gitdata.name", "git-data manifests and pipeline steps", cwd, scope)
    config_set("merge.gitdata.driver", MERGE_DRIVER, cwd, scope)


def unregister_merge_driver(cwd: Path | None, scope: str) -> None:
    run_git(["config", f"--{scope}", "--remove-section", "merge.gitdata"], cwd, check=False)


def ensure_gitattributes(workdir: Path) -> bool:
    """Add the merge-driver lines to the root .gitattributes; True if any was added."""
    path = workdir / ".gitattributes"
    text = path.read_text(errors="surrogateescape") if path.exists() else ""
    missing = [line for line in (ATTRIBUTES_LINE, IGNORE_ATTRIBUTES_LINE) if line not in text.splitlines()]
    if not missing:
        return False
    if text and not text.endswith("\n"):
        text += "\n"
    atomic_write(path, (text + "".join(line + "\n" for line in missing)).encode("utf-8", "surrogateescape"))
    return True


def remotes(workdir: Path) -> list[str]:
    return [r for r in run_git(["remote"], workdir, check=False).splitlines() if r]


def ensure_notes_refspec(workdir: Path, remote: str) -> bool:
    """Make `git fetch`/`pull` from this remote bring our notes back."""
    proc = subprocess.run(["git", "config", "--get-all", f"remote.{remote}.fetch"], cwd=workdir,
                          capture_output=True, text=True)
    if proc.returncode == 0 and NOTES_REFSPEC in proc.stdout.splitlines():
        return False
    if subprocess.run(["git", "config", "--get", f"remote.{remote}.url"], cwd=workdir,
                      capture_output=True).returncode != 0:
        return False
    run_git(["config", "--add", f"remote.{remote}.fetch", NOTES_REFSPEC], workdir)
    return True


def remove_notes_refspec(workdir: Path, remote: str) -> None:
    run_git(["config", "--unset-all", "--fixed-value", f"remote.{remote}.fetch", NOTES_REFSPEC], workdir,
            check=False)


def touch_sync_stamp(git_dir: Path) -> None:
    """Marks when the workspace was last brought to the manifests; the hooks
    compare manifest mtimes against it for file checkouts and squash merges."""
    stamp = git_dir / SYNC_STAMP
    stamp.touch()


# -- global setup --------------------------------------------------------------

def global_template_dir() -> tuple[Path, bool]:
    """The template dir every `git init`/`git clone` copies: the configured one,
    or ours (then True: it must be configured)."""
    configured = config_get("init.templateDir", scope="global")
    if configured:
        return Path(os.path.expanduser(configured)), False
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "git-data" / "git-template", True


def is_our_template_dir(template: Path) -> bool:
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return template == base / "git-data" / "git-template"


def hooks_enabled(workdir: Path) -> bool:
    """False when hooks are switched off for this run or this repository."""
    if os.environ.get("GITDATA_SKIP_HOOKS", "0") not in ("", "0"):
        return False
    value = config_get("gitdata.hooks.enabled", workdir)
    return value is None or value.lower() not in ("false", "no", "off", "0")
