"""git data diff: what changed in tracked data between two refs, or a ref and the workspace.

Files are compared by digest; changed text files get a unified diff, optionally after a
preprocessing command (`{}` is the file) such as `'gunzip -c {}'`. Directories and the
whole repository are listed as added/removed/modified files with digests and sizes."""
from __future__ import annotations

import argparse
import difflib
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterator, NamedTuple

from gitdata import history, output
from gitdata.errors import GitDataError, UsageError
from gitdata.manifest import Tracked
from gitdata.project import Project, open_project, relpaths
from gitdata.paths import base_name, is_under

TEXT_LIMIT = 32 << 20   # bigger files are not diffed as text without a preprocessing command
SNIFF = 8192


class Version(NamedTuple):
    digest: str
    size: int
    disk: Path | None = None   # a workspace file; None: read the cache object


class Change(NamedTuple):
    path: str
    old: Version | None
    new: Version | None

    @property
    def status(self) -> str:
        return "added" if self.old is None else "removed" if self.new is None else "modified"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # options may sit between the positionals (`import REPO PATH -r v1 DEST`), as users type them
    parser.parse_args = parser.parse_intermixed_args  # type: ignore[method-assign]
    parser.add_argument("args", nargs="*", metavar="[CMD] PATH",
                        help="an optional preprocessing command (with {} for the file, else the file is "
                             "appended), then tracked files or directories")
    parser.add_argument("-r", "--rev", metavar="A..B|A",
                        help="compare A with B, or A with the workspace (default: HEAD with the workspace)")
    parser.add_argument("-R", dest="commit", metavar="REV", help="the change made by commit REV (REV^..REV)")
    parser.add_argument("-c", "--cmd", metavar="CMD", help="preprocessing command (alternative to the positional)")
    parser.add_argument("-s", "--summary", action="store_true", help="only counts and byte totals")
    parser.add_argument("-p", "--patch", action="store_true", help="content diffs for directories too")
    parser.add_argument("-U", "--unified", type=int, default=3, metavar="N", help="lines of context (default 3)")
    parser.add_argument("--no-fetch", action="store_true",
                        help="do not fetch missing objects from the default storage")
    parser.add_argument("--exit-code", action="store_true", help="exit 1 when there are differences")
    parser.add_argument("--json", action="store_true", help="machine-readable list of changes")


def run(args: argparse.Namespace) -> int:
    project = open_project()
    old_rev, new_rev = parse_revs(args.rev, args.commit)
    command, paths = split_command(project, args.args, args.cmd)
    scopes = relpaths(project, paths) if paths else []
    changes = changed_files(project, old_rev, new_rev, scopes)
    if args.json:
        output.print_json([_as_json(c) for c in changes])
    elif args.summary:
        output.out(summary(changes))
    elif command is not None or args.patch or (scopes and all(_is_file(project, s, old_rev, new_rev) for s in scopes)):
        show_patches(project, changes, command, old_rev, new_rev, args.unified, fetch=not args.no_fetch)
    else:
        show_listing(changes)
    return 1 if args.exit_code and changes else 0


# -- what to compare ---------------------------------------------------------

def parse_revs(rev: str | None, commit: str | None) -> tuple[str | None, str | None]:
    """(old, new); None stands for the workspace."""
    if rev and commit:
        raise UsageError("git data diff: -r and -R cannot be combined")
    if commit:
        return commit + "^", commit
    if not rev:
        return "HEAD", None
    if "..." in rev:
        raise UsageError("git data diff: use A..B (two dots)")
    if ".." in rev:
        old, new = rev.split("..", 1)
        return old or "HEAD", new or "HEAD"
    return rev, None


def split_command(project: Project, words: list[str], cmd: str | None) -> tuple[str | None, list[str]]:
    """The first positional is a command when it cannot be a path: it has `{}`, a
    space or a pipe, and names nothing that exists."""
    if cmd is not None or not words:
        return cmd, words
    first = words[0]
    looks_like_command = "{}" in first or any(c in first for c in " |;&")
    if looks_like_command and not os.path.lexists(first):
        return first, words[1:]
    return None, words


def side(project: Project, rev: str | None) -> Tracked:
    if rev is None:
        return project.tracked()
    if rev == "HEAD" and project.repo.raw.head_is_unborn:
        return Tracked({}, frozenset())
    if rev.endswith("^"):
        from gitdata.git import resolve_commit

        if not resolve_commit(project.repo, rev[:-1]).parents:
            return Tracked({}, frozenset())
    return history.tracked_at(project.repo, rev)


def _in_scopes(rel: str, scopes: list[str]) -> bool:
    return not scopes or any(is_under(rel, s) for s in scopes)


def committed_versions(tracked: Tracked, scopes: list[str]) -> dict[str, Version]:
    return {rel: Version(e.digest, e.size) for rel, e in tracked.files.items() if _in_scopes(rel, scopes)}


def workspace_versions(project: Project, tracked: Tracked, scopes: list[str], algorithm_of: dict[str, str]) -> dict[str, Version]:
    """Files as they are on disk: tracked ones that exist, and new files in tracked directories."""
    from gitdata.config import hash_algorithm
    from gitdata.workspace import hash_paths, untracked_files

    files = [rel for rel in tracked.files if _in_scopes(rel, scopes) and (project.workdir / rel).is_file()]
    files += untracked_files(project.repo, tracked, scopes or [""])
    default_algorithm = hash_algorithm(project.repo)
    by_algorithm: dict[str, list[str]] = {}
    for rel in files:
        by_algorithm.setdefault(algorithm_of.get(rel, default_algorithm), []).append(rel)
    versions = {}
    stats = project.stat_cache()
    for algorithm, rels in by_algorithm.items():
        for rel, hashed in hash_paths(project.repo, rels, algorithm, stats).items():
            versions[rel] = Version(hashed.digest, hashed.size, project.workdir / rel)
    return versions


def changed_files(project: Project, old_rev: str | None, new_rev: str | None, scopes: list[str]) -> list[Change]:
    old_tracked = side(project, old_rev)
    new_tracked = side(project, new_rev)
    old = committed_versions(old_tracked, scopes) if old_rev is not None else {}
    algorithms = {rel: e.digest.split(":")[0] for rel, e in {**new_tracked.files, **old_tracked.files}.items()}
    if new_rev is None:
        new = workspace_versions(project, new_tracked, scopes, algorithms)
    else:
        new = committed_versions(new_tracked, scopes)
    if old_rev is None:
        old = workspace_versions(project, old_tracked, scopes, algorithms)
    whole = old_tracked.whole_dirs | new_tracked.whole_dirs
    for scope in scopes:
        if scope not in whole and not any(is_under(rel, scope) for rel in (*old, *new)):
            raise GitDataError(f"'{scope}' is not tracked by git-data on either side")
    changes = []
    for rel in sorted(set(old) | set(new)):
        a, b = old.get(rel), new.get(rel)
        if a is None or b is None or a.digest != b.digest:
            changes.append(Change(rel, a, b))
    return changes


def _is_file(project: Project, scope: str, old_rev: str | None, new_rev: str | None) -> bool:
    for rev in (old_rev, new_rev):
        tracked = side(project, rev)
        if scope in tracked.files:
            return True
        if tracked.under(scope) or scope in tracked.whole_dirs:
            return False
    return True


# -- listing and summary -----------------------------------------------------

def _as_json(change: Change) -> dict:
    def version(v: Version | None) -> dict | None:
        return None if v is None else {"digest": v.digest, "size": v.size}
    return {"path": change.path, "status": change.status, "old": version(change.old), "new": version(change.new)}


_MARKS = {"added": ("A", "green"), "removed": ("D", "red"), "modified": ("M", "yellow")}


def show_listing(changes: list[Change]) -> None:
    for change in changes:
        mark, colour = _MARKS[change.status]
        if change.old and change.new:
            detail = (f"{history.short(change.old.digest)} ({output.human_size(change.old.size)}) -> "
                      f"{history.short(change.new.digest)} ({output.human_size(change.new.size)})")
        else:
            version = change.new or change.old
            assert version is not None
            detail = f"{history.short(version.digest)} ({output.human_size(version.size)})"
        output.out(f"{output.color(mark, colour)}  {change.path}  {detail}")
    if changes:
        output.out(summary(changes))


def summary(changes: list[Change]) -> str:
    counts = {status: sum(1 for c in changes if c.status == status) for status in ("added", "removed", "modified")}
    if not changes:
        return "no changes"
    old_bytes = sum(c.old.size for c in changes if c.old)
    new_bytes = sum(c.new.size for c in changes if c.new)
    parts = ", ".join(f"{n} {status}" for status, n in counts.items() if n)
    delta = new_bytes - old_bytes
    sign = "+" if delta >= 0 else "-"
    return (f"{len(changes)} file(s) changed: {parts}; {output.human_size(old_bytes)} -> "
            f"{output.human_size(new_bytes)} ({sign}{output.human_size(abs(delta))})")


# -- content diffs -----------------------------------------------------------

def show_patches(project: Project, changes: list[Change], command: str | None, old_rev: str | None,
                 new_rev: str | None, context: int, fetch: bool) -> None:
    needed = {v.digest: c.path for c in changes for v in (c.old, c.new) if v is not None and v.disk is None}
    history.require_in_cache(project, needed, fetch, needed)
    colour = output.use_color(sys.stdout)
    with tempfile.TemporaryDirectory(prefix="git-data-diff-") as tmp:
        for change in changes:
            lines = patch(project, change, command, old_rev, new_rev, context, Path(tmp))
            for line in lines:
                sys.stdout.write(_paint(line) if colour else line)
    sys.stdout.flush()


def _label(rev: str | None) -> str:
    return rev if rev is not None else "workspace"


def patch(project: Project, change: Change, command: str | None, old_rev: str | None, new_rev: str | None,
          context: int, tmp: Path) -> Iterator[str]:
    old_name = f"a/{change.path}" if change.old else "/dev/null"
    new_name = f"b/{change.path}" if change.new else "/dev/null"
    old_data = _content(project, change.path, change.old, command, tmp / "a")
    new_data = _content(project, change.path, change.new, command, tmp / "b")
    yield f"diff --git-data a/{change.path} b/{change.path}\n"
    yield (f"index {history.short(change.old.digest) if change.old else '0' * 7}.."
           f"{history.short(change.new.digest) if change.new else '0' * 7}"
           f" ({_label(old_rev)} -> {_label(new_rev)})\n")
    if old_data is None or new_data is None:
        yield (f"Binary files {old_name} and {new_name} differ "
               f"({_size(change.old)} -> {_size(change.new)})\n")
        return
    old_lines = old_data.decode("utf-8", "replace").splitlines(keepends=True)
    new_lines = new_data.decode("utf-8", "replace").splitlines(keepends=True)
    diff = list(difflib.unified_diff(old_lines, new_lines, old_name, new_name, n=context))
    if not diff:
        yield f"(no difference after '{command}')\n" if command else "(contents differ only in metadata)\n"
        return
    for line in diff:
        if not line.endswith("\n"):
            line += "\n\\ No newline at end of file\n"
        yield line


def _size(version: Version | None) -> str:
    return output.human_size(version.size) if version else "none"


def _content(project: Project, rel: str, version: Version | None, command: str | None, tmp: Path) -> bytes | None:
    """The bytes to diff for one side: b'' when absent, None when binary or too big for a text diff."""
    if version is None:
        return b""
    source = version.disk or project.cache.path(version.digest)
    if command is not None:
        return preprocess(command, _named(source, rel, tmp, version.disk is None), rel)
    if version.size > TEXT_LIMIT:
        return None
    data = source.read_bytes()
    return None if b"\0" in data[:SNIFF] else data


def _named(source: Path, rel: str, tmp: Path, is_object: bool) -> Path:
    """Cache objects have no file name; a command may need the real one (e.g. its extension)."""
    if not is_object:
        return source
    tmp.mkdir(parents=True, exist_ok=True)
    link = tmp / base_name(rel)
    if os.path.lexists(link):
        link.unlink()
    os.symlink(source, link)
    return link


def preprocess(command: str, path: Path, rel: str) -> bytes:
    quoted = shlex.quote(str(path))
    text = command.replace("{}", quoted) if "{}" in command else f"{command} {quoted}"
    proc = subprocess.run(["sh", "-c", text], stdin=subprocess.DEVNULL, capture_output=True)
    if proc.returncode != 0:
        detail = proc.stderr.decode(errors="replace").strip().splitlines()
        reason = f": {detail[-1]}" if detail else ""
        raise GitDataError(f"preprocessing command failed on '{rel}' (exit {proc.returncode}){reason}")
    return proc.stdout


def _paint(line: str) -> str:
    if line.startswith(("diff --git-data", "index ")):
        return output.color(line.rstrip("\n"), "bold") + "\n"
    if line.startswith(("+++", "---")):
        return output.color(line.rstrip("\n"), "bold") + "\n"
    if line.startswith("@@"):
        return output.color(line.rstrip("\n"), "blue") + "\n"
    if line.startswith("+"):
        return output.color(line.rstrip("\n"), "green") + "\n"
    if line.startswith("-"):
        return output.color(line.rstrip("\n"), "red") + "\n"
    return line
