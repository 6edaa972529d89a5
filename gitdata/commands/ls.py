"""git data ls (list): tracked and untracked files with their status, size and digest."""
from __future__ import annotations

import argparse
import os
import stat
import string
from typing import Any, Callable, Iterable, NamedTuple

from gitdata import output
from gitdata.errors import GitDataError, UsageError
from gitdata.manifest import Entry, Tracked
from gitdata.paths import is_under, parent_dir
from gitdata.project import Project, open_project, scopes_or_all, under_any

# One letter per file, git-like.
CLEAN, MODIFIED, DELETED, NOT_CACHED, UNTRACKED = "C", "M", "D", "N", "?"
STATUS_NAMES = {CLEAN: "clean", MODIFIED: "modified", DELETED: "missing", NOT_CACHED: "not in cache",
                UNTRACKED: "untracked"}
STATUS_ORDER = {MODIFIED: 0, DELETED: 1, NOT_CACHED: 2, UNTRACKED: 3, CLEAN: 4}
DEFAULT_FORMAT = "{status} {method:<8} {size:>10}  {digest:8}  {path}"
FIELDS = ("status", "state", "type", "method", "size", "bytes", "digest", "algorithm", "exec", "cached",
          "mtime", "path", "name")
SORT_KEYS = ("name", "size", "status")


class Listed(NamedTuple):
    path: str
    status: str             # one of the letters above
    kind: str               # f file, l symlink, d directory (--show-dirs), - absent
    size: int               # recorded size for tracked files, workspace size otherwise
    digest: str | None      # '<algorithm>:<hex>' for tracked files
    method: str | None
    executable: bool
    cached: bool
    mtime: float | None     # workspace modification time, when the file exists

    def as_json(self) -> dict[str, Any]:
        return {"path": self.path, "status": STATUS_NAMES[self.status], "letter": self.status,
                "type": {"f": "file", "l": "symlink", "d": "directory", "-": "absent"}[self.kind],
                "size": self.size, "digest": self.digest, "method": self.method,
                "executable": self.executable, "cached": self.cached, "mtime": self.mtime}


class Summary(NamedTuple):
    files: int
    tracked: int
    untracked: int
    size: int
    cached_size: int
    by_status: dict[str, int]

    def as_json(self) -> dict[str, Any]:
        return {"files": self.files, "tracked": self.tracked, "untracked": self.untracked, "size": self.size,
                "cached_size": self.cached_size,
                "by_status": {STATUS_NAMES[k]: v for k, v in sorted(self.by_status.items())}}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", metavar="PATH",
                        help="files or directories (default: everything tracked)")
    parser.add_argument("--format", metavar="TEMPLATE",
                        help=f"line template; fields: {', '.join(FIELDS)} (default '{DEFAULT_FORMAT}'); "
                             "{digest:N} shows the first N hex digits")
    parser.add_argument("--sort", choices=SORT_KEYS, default="name", help="order of the lines (default: name)")
    parser.add_argument("-r", "--reverse", action="store_true", help="reverse the order")
    parser.add_argument("--no-summary", action="store_true", help="omit the totals line")
    parser.add_argument("--show-dirs", action="store_true", help="also list directories, with their total size")
    parser.add_argument("-u", "--untracked", action="store_true",
                        help="also list untracked files under the given paths (default: only under "
                             "directories added whole)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def run(args: argparse.Namespace) -> int:
    template = compile_template(args.format if args.format is not None else DEFAULT_FORMAT)
    project = open_project()
    items = ls(project, scopes_or_all(project, args.paths), untracked=args.untracked,
               explicit=bool(args.paths), show_dirs=args.show_dirs, sort=args.sort, reverse=args.reverse)
    summary = summarize(items)
    if args.json:
        result: dict[str, Any] = {"files": [item.as_json() for item in items]}
        if not args.no_summary:
            result["summary"] = summary.as_json()
        output.print_json(result)
        return 0
    if items:
        output.out("\n".join(render(template, item) for item in items))
    if not args.no_summary and args.verbosity >= output.NORMAL:
        output.out(summary_line(summary))
    return 0


# -- collecting --------------------------------------------------------------

def ls(project: Project, scopes: list[str], untracked: bool = False, explicit: bool = True,
       show_dirs: bool = False, sort: str = "name", reverse: bool = False) -> list[Listed]:
    """The listing for these scopes ('' = everything). Untracked files are shown under
    directories added whole, and (with `untracked`, or for paths named explicitly that
    are not tracked) under the given paths."""
    if sort not in SORT_KEYS:
        raise UsageError(f"unknown sort key '{sort}' (choose from {', '.join(SORT_KEYS)})")
    tracked = project.tracked()
    files = {rel: e for rel, e in tracked.files.items() if under_any(rel, scopes)}
    items = _tracked_items(project, files)
    extra = _untracked(project, tracked, scopes, untracked, explicit)
    for scope in scopes:
        if scope and not any(is_under(rel, scope) for rel in [*files, *extra]) \
                and scope not in tracked.whole_dirs and not (project.workdir / scope).is_dir():
            raise GitDataError(f"'{scope}' did not match any tracked or untracked file")
    items += [item for item in (_untracked_item(project, rel) for rel in extra) if item is not None]
    if show_dirs:
        items += directory_items(items)
    return sort_items(items, sort, reverse)


def _tracked_items(project: Project, files: dict[str, Entry]) -> list[Listed]:
    from gitdata.workspace import CLEAN as WS_CLEAN, MISSING, file_states

    items = sorted(files.items())
    states = file_states(project.repo, items, project.cache, project.stat_cache())
    absent = project.cache.missing(entry.digest for _, entry in items)
    listed = []
    prefix = f"{project.workdir}{os.sep}"
    for (rel, entry), state in zip(items, states):
        cached = entry.digest not in absent
        letter = {WS_CLEAN: CLEAN if cached else NOT_CACHED, MISSING: DELETED}.get(state, MODIFIED)
        kind, mtime = _kind_and_mtime(prefix + rel) if state != MISSING else ("-", None)
        listed.append(Listed(rel, letter, kind, entry.size, entry.digest, entry.method, entry.executable,
                             cached, mtime))
    return listed


def _untracked(project: Project, tracked: Tracked, scopes: list[str], untracked: bool, explicit: bool) -> list[str]:
    from gitdata.ignore import IgnoreRules
    from gitdata.workspace import untracked_files, walk_files

    found = set(untracked_files(project.repo, tracked, scopes))
    roots = [s for s in scopes if untracked or (explicit and s and not tracked.under(s))]
    if roots:
        from gitdata.git import index_paths

        rules = IgnoreRules(project.workdir)
        in_git = index_paths(project.repo)
        for root in roots:
            path = project.workdir / root
            candidates = walk_files(project.workdir, root, rules) if path.is_dir() and not path.is_symlink() \
                else ([root] if os.path.lexists(path) and not rules.ignored(root) else [])
            found.update(rel for rel in candidates if rel not in tracked.files and rel not in in_git)
    return sorted(found)


def _untracked_item(project: Project, rel: str) -> Listed | None:
    path = project.workdir / rel
    try:
        st = path.stat()
    except OSError:
        return None
    kind, mtime = _kind_and_mtime(path)
    return Listed(rel, UNTRACKED, kind, st.st_size, None, None, bool(st.st_mode & stat.S_IXUSR), False, mtime)


def _kind_and_mtime(path: str | os.PathLike[str]) -> tuple[str, float | None]:
    try:
        st = os.lstat(path)
    except OSError:
        return "-", None
    return ("l" if stat.S_ISLNK(st.st_mode) else "f"), st.st_mtime


def directory_items(items: Iterable[Listed]) -> list[Listed]:
    """One line per directory holding listed files: total size, worst status below it."""
    sizes: dict[str, int] = {}
    letters: dict[str, str] = {}
    for item in items:
        directory = parent_dir(item.path)
        while directory:
            sizes[directory] = sizes.get(directory, 0) + item.size
            old = letters.get(directory, CLEAN)
            letters[directory] = min(old, item.status, key=STATUS_ORDER.__getitem__)
            directory = parent_dir(directory)
    return [Listed(d, letters[d], "d", sizes[d], None, None, False, False, None) for d in sizes]


def sort_items(items: list[Listed], key: str, reverse: bool = False) -> list[Listed]:
    if key == "size":
        return sorted(items, key=lambda i: (-i.size, i.path), reverse=reverse)
    if key == "status":
        return sorted(items, key=lambda i: (STATUS_ORDER[i.status], i.path), reverse=reverse)
    return sorted(items, key=lambda i: i.path, reverse=reverse)


def summarize(items: Iterable[Listed]) -> Summary:
    files = [i for i in items if i.kind != "d"]
    by_status: dict[str, int] = {}
    for item in files:
        by_status[item.status] = by_status.get(item.status, 0) + 1
    tracked = [i for i in files if i.status != UNTRACKED]
    return Summary(len(files), len(tracked), len(files) - len(tracked), sum(i.size for i in files),
                   sum(i.size for i in tracked if i.cached), by_status)


def summary_line(summary: Summary) -> str:
    line = (f"{summary.files} file(s), {output.human_size(summary.size)}: {summary.tracked} tracked "
            f"({output.human_size(summary.cached_size)} in cache), {summary.untracked} untracked")
    problems = [f"{count} {STATUS_NAMES[letter]}" for letter, count in sorted(summary.by_status.items(),
                key=lambda kv: STATUS_ORDER[kv[0]]) if letter not in (CLEAN, UNTRACKED)]
    return line + (f"; {', '.join(problems)}" if problems else "")


# -- formatting --------------------------------------------------------------

def _digest_field(item: Listed, spec: str) -> str:
    hexdigest = item.digest.partition(":")[2] if item.digest else "-"
    if spec.isdigit():
        return hexdigest[:int(spec)].ljust(int(spec))
    return format(hexdigest, spec)


def _mtime(item: Listed) -> str:
    import time

    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(item.mtime)) if item.mtime is not None else "-"


_GETTERS: dict[str, Callable[[Listed], Any]] = {
    "status": lambda i: i.status,
    "state": lambda i: STATUS_NAMES[i.status],
    "type": lambda i: i.kind,
    "method": lambda i: i.method or "-",
    "size": lambda i: output.human_size(i.size),
    "bytes": lambda i: i.size,
    "algorithm": lambda i: i.digest.partition(":")[0] if i.digest else "-",
    "exec": lambda i: "x" if i.executable else "-",
    "cached": lambda i: "*" if i.cached else "-",
    "mtime": _mtime,
    "path": lambda i: output.quote_path(i.path + ("/" if i.kind == "d" else "")),
    "name": lambda i: output.quote_path(os.path.basename(i.path)),
}


class Template(NamedTuple):
    """A --format template parsed once: (literal text, field, format spec) parts."""
    parts: tuple[tuple[str, str | None, str], ...]


def compile_template(template: str) -> Template:
    try:
        parsed = list(string.Formatter().parse(template.replace("\\t", "\t")))
    except ValueError as exc:
        raise UsageError(f"bad --format template: {exc}") from None
    parts = []
    for literal, field, spec, conversion in parsed:
        if field is not None and field not in FIELDS:
            raise UsageError(f"unknown field '{{{field}}}' in --format (known: {', '.join(FIELDS)})")
        if conversion or "{" in (spec or ""):
            raise UsageError("bad --format template: conversions and nested fields are not supported")
        parts.append((literal, field, spec or ""))
    compiled = Template(tuple(parts))
    try:
        render(compiled, Listed("x", CLEAN, "f", 1, "b3:" + "0" * 64, "copy", False, True, 0.0))
    except (ValueError, TypeError) as exc:
        raise UsageError(f"bad --format template: {exc}") from None
    return compiled


def render(template: Template, item: Listed) -> str:
    pieces = []
    for literal, field, spec in template.parts:
        pieces.append(literal)
        if field == "digest":
            pieces.append(_digest_field(item, spec))
        elif field is not None:
            pieces.append(format(_GETTERS[field](item), spec))
    return "".join(pieces)
