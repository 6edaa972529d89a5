"""The data manifest format. This is the only module that knows it.

One manifest per workspace directory that holds tracked files, at
`.gitdata/tree/<directory>/%manifest`. A manifest is UTF-8 text:

    #gitdata-manifest v1
    #whole-directory                (only if the directory was added as a whole)
    <name>\t<digest>\t<size>\t<x|->\t<method>[\t<key>=<value>...]

one entry per line, sorted by name. Names are percent-escaped where they hold
'%', tab, CR, LF, bytes that are not UTF-8, or start with '#'. Directory
names in the mirrored path that start with '%' get one more '%', so no
directory can collide with a manifest file.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping, NamedTuple

from gitdata.errors import GitDataError
from gitdata.hashing import is_digest
from gitdata.paths import check_relpath, join, parent_dir, base_name

if TYPE_CHECKING:
    import pygit2

    from gitdata.git import GitRepo

TREE_DIR = ".gitdata/tree"
MANIFEST_NAME = "%manifest"
HEADER = "#gitdata-manifest v1"
WHOLE_MARK = "#whole-directory"
METHODS = ("copy", "symlink", "hardlink", "reflink")

_NEEDS_ESCAPE = re.compile(r"[%\t\r\n\udc80-\udcff]")
_ESCAPED = re.compile(rb"%([0-9A-Fa-f]{2})")


class Entry(NamedTuple):
    digest: str
    size: int
    executable: bool = False
    method: str = "copy"
    extra: tuple[tuple[str, str], ...] = ()

    def get(self, key: str) -> str | None:
        return dict(self.extra).get(key)


class Tracked(NamedTuple):
    """Everything tracked: repo-relative file path -> entry, and the directories added whole."""

    files: dict[str, Entry]
    whole_dirs: frozenset[str]

    def under(self, directory: str) -> dict[str, Entry]:
        if not directory:
            return dict(self.files)
        prefix = directory + "/"
        return {p: e for p, e in self.files.items() if p == directory or p.startswith(prefix)}


# -- names -------------------------------------------------------------------

def _escape_char(char: str) -> str:
    code = ord(char)
    return f"%{code - 0xDC00:02X}" if 0xDC80 <= code <= 0xDCFF else f"%{code:02X}"


def escape_name(name: str) -> str:
    escaped = _NEEDS_ESCAPE.sub(lambda m: _escape_char(m.group()), name)
    return "%23" + escaped[1:] if escaped.startswith("#") else escaped


def unescape_name(text: str) -> str:
    if "%" not in text:
        return text
    raw = _ESCAPED.sub(lambda m: bytes([int(m.group(1), 16)]), text.encode("utf-8", "surrogateescape"))
    return os.fsdecode(raw)


def _mirror_part(name: str) -> str:
    return "%" + name if name.startswith("%") else name


def _unmirror_part(name: str) -> str:
    return name[1:] if name.startswith("%%") else name


def manifest_path(directory: str) -> str:
    """Repo-relative path of the manifest for a workspace directory ('' = root)."""
    mirrored = "/".join(_mirror_part(p) for p in directory.split("/")) if directory else ""
    return "/".join(part for part in (TREE_DIR, mirrored, MANIFEST_NAME) if part)


def directory_of(manifest_relpath: str) -> str:
    """Inverse of manifest_path, for a path relative to `.gitdata/tree`."""
    parts = manifest_relpath.split("/")
    if parts[-1] != MANIFEST_NAME:
        raise GitDataError(f"unexpected file in {TREE_DIR}: {manifest_relpath}")
    directory = "/".join(_unmirror_part(p) for p in parts[:-1])
    if directory:
        check_relpath(directory, f"directory in {TREE_DIR}")
    return directory


# -- text --------------------------------------------------------------------

def parse(data: bytes, source: str) -> tuple[dict[str, Entry], bool]:
    """Entries (by name) and the whole-directory mark of one manifest."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise GitDataError(f"{source}:{line}: invalid UTF-8") from None
    first, _, body = text.partition("\n")
    if first != HEADER:
        if first.startswith(CONFLICT_MARKERS):
            raise GitDataError(f"{source}:1: {CONFLICTED}")
        found = first[:40] if first else "an empty file"
        raise GitDataError(f"{source}:1: not a git-data manifest v1 (found '{found}')")
    if not text.endswith("\n"):
        raise GitDataError(f"{source}:{text.count(chr(10)) + 1}: truncated (no newline at the end)")
    whole = body.startswith(WHOLE_MARK + "\n")
    if whole:
        body = body[len(WHOLE_MARK) + 1:]
    # Fast path: one C-level pass over the whole text; the slow path finds the bad line.
    rows = _ENTRY_RE.findall(body)
    entries: dict[str, Entry] = {}
    if len(rows) == body.count("\n"):
        for raw_name, digest, size, mode, method, rest in rows:
            name = unescape_name(raw_name) if "%" in raw_name else raw_name
            if rest or "/" in name or name in _UNSAFE_NAMES or name in entries or "\0" in name:
                break
            entries[name] = _new_entry(Entry, digest, int(size), mode == "x", method, ())
        else:
            return entries, whole
    return _parse_slowly(body, source, 3 if whole else 2), whole


def _parse_slowly(body: str, source: str, first_line: int) -> dict[str, Entry]:
    entries: dict[str, Entry] = {}
    for number, line in enumerate(body.split("\n")[:-1], start=first_line):
        name, entry = _parse_entry(line, f"{source}:{number}")
        if name in entries:
            raise GitDataError(f"{source}:{number}: duplicate entry '{name}'")
        entries[name] = entry
    return entries


_ENTRY_RE = re.compile(
    r"^([^\t\n]+)\t((?:b3|sha256|b2b256|sha3-256):[0-9a-f]{64})\t(0|[1-9][0-9]*)\t([x-])\t"
    r"(copy|symlink|hardlink|reflink)((?:\t[^\n]*)?)$",
    re.MULTILINE,
)
_UNSAFE_NAMES = frozenset({".", "..", ".git"})
_new_entry = Entry.__new__


def _parse_entry(line: str, where: str) -> tuple[str, Entry]:
    match = _ENTRY_RE.fullmatch(line) if "\n" not in line else None
    if match is None:
        raise GitDataError(f"{where}: {_entry_problem(line)}")
    raw_name, digest, size, mode, method, rest = match.groups()
    name = unescape_name(raw_name) if "%" in raw_name else raw_name
    if "/" in name or name in _UNSAFE_NAMES or "\0" in name:
        raise GitDataError(f"{where}: unsafe file name '{raw_name}'")
    extra: tuple[tuple[str, str], ...] = ()
    if rest:
        pairs = []
        for field in rest[1:].split("\t"):
            key, sep, value = field.partition("=")
            if not sep or not key:
                raise GitDataError(f"{where}: bad field '{field}' (expected key=value)")
            pairs.append((key, unescape_name(value)))
        extra = tuple(pairs)
    return name, _new_entry(Entry, digest, int(size), mode == "x", method, extra)


CONFLICT_MARKERS = ("<<<<<<< ", "=======", ">>>>>>> ", "||||||| ")
CONFLICTED = ("git's conflict markers: this merge ran without git-data's merge driver "
              "('git data install' sets it up); settle it with 'git data resolve'")


def _entry_problem(line: str) -> str:
    """Say which field of a malformed entry is wrong."""
    if line.startswith(CONFLICT_MARKERS):
        return CONFLICTED
    fields = line.split("\t")
    if len(fields) < 5:
        return "expected name, digest, size, mode and method separated by tabs"
    _, digest, size, mode, method = fields[:5]
    if not is_digest(digest):
        return f"bad digest '{digest}'"
    if not size.isdigit():
        return f"bad size '{size}'"
    if mode not in ("x", "-"):
        return f"bad mode '{mode}' (expected x or -)"
    if method not in METHODS:
        return f"unknown method '{method}'"
    return "malformed entry"


def serialize(entries: Mapping[str, Entry], whole: bool = False) -> bytes:
    lines = [HEADER]
    if whole:
        lines.append(WHOLE_MARK)
    for escaped, entry in sorted((escape_name(n), e) for n, e in entries.items()):
        fields = [escaped, entry.digest, str(entry.size), "x" if entry.executable else "-", entry.method]
        fields += [f"{k}={_NEEDS_ESCAPE.sub(lambda m: _escape_char(m.group()), v)}" for k, v in entry.extra]
        lines.append("\t".join(fields))
    return ("\n".join(lines) + "\n").encode("utf-8", "surrogateescape")


# -- whole trees -------------------------------------------------------------

def _assemble(manifests: Iterable[tuple[str, bytes]]) -> Tracked:
    """Build the tracked set from (path relative to .gitdata/tree, content) pairs."""
    files: dict[str, Entry] = {}
    whole_dirs = set()
    for relpath, data in manifests:
        directory = directory_of(relpath)
        entries, whole = parse(data, f"{TREE_DIR}/{relpath}")
        if whole:
            whole_dirs.add(directory)
        for name, entry in entries.items():
            files[join(directory, name)] = entry
    return Tracked(files, frozenset(whole_dirs))


def _manifest_files(root: str, prefix: str = "") -> Iterator[tuple[str, os.DirEntry[str]]]:
    """(path relative to .gitdata/tree, directory entry) of every manifest in the worktree."""
    try:
        items = list(os.scandir(root))
    except FileNotFoundError:
        return
    for item in items:
        if item.is_dir(follow_symlinks=False):
            yield from _manifest_files(item.path, prefix + item.name + "/")
        elif item.name == MANIFEST_NAME and item.is_file(follow_symlinks=False):
            yield prefix + item.name, item


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def read_workspace(workdir: Path, memo: Path | None = None) -> Tracked:
    """What the manifests in the working tree say. With `memo`, a file that keeps
    them parsed, keyed by each manifest's stat: unchanged manifests are not parsed again
    (and a few changed ones are parsed each time until rewriting the memo pays)."""
    found = _manifest_files(str(workdir / TREE_DIR))
    if memo is None:
        return _assemble((relpath, _read_bytes(item.path)) for relpath, item in found)
    return _read_with_memo(found, memo)


def manifest_stamps(workdir: Path) -> tuple[tuple[str, int, int, int], ...]:
    """(path, size, mtime_ns, inode) of every manifest in the worktree: while these
    are the same, so is what the manifests say."""
    stamps = []
    for relpath, item in _manifest_files(str(workdir / TREE_DIR)):
        st = item.stat(follow_symlinks=False)
        stamps.append((relpath, st.st_size, st.st_mtime_ns, st.st_ino))
    return tuple(sorted(stamps))


MEMO_FORMAT = "gitdata-manifest-memo-2"
MEMO_REWRITE_AT = 2000   # entries parsed afresh (a few ms) past which the memo is rewritten
# manifest path -> (its stat, whole directory?, directory, {file path: Entry fields})
MemoRow = tuple[tuple[int, int, int], bool, str, dict[str, tuple[Any, ...]]]


def _read_with_memo(found: Iterable[tuple[str, os.DirEntry[str]]], memo: Path) -> Tracked:
    import time

    from gitdata.statcache import load_memo, save_memo
    from gitdata.statcache import RACY_SECONDS  # a manifest this fresh may change without its stat changing

    stored = load_memo(memo)
    known: dict[str, MemoRow] = {}
    if isinstance(stored, tuple) and len(stored) == 2 and stored[0] == MEMO_FORMAT and isinstance(stored[1], dict):
        known = stored[1]
    now = time.time()
    make = Entry._make
    rows: dict[str, MemoRow] = {}
    files: dict[str, Entry] = {}
    whole_dirs = set()
    parsed = 0
    for relpath, item in found:
        st = item.stat(follow_symlinks=False)
        stamp = (st.st_size, st.st_mtime_ns, st.st_ino)
        row = known.get(relpath)
        if row is None or row[0] != stamp:
            entries, whole = parse(_read_bytes(item.path), f"{TREE_DIR}/{relpath}")
            parsed += len(entries)
            directory = directory_of(relpath)
            row = (stamp, whole, directory, {join(directory, name): tuple(e) for name, e in entries.items()})
        if now - st.st_mtime > RACY_SECONDS:
            rows[relpath] = row
        if row[1]:
            whole_dirs.add(row[2])
        files.update({path: make(fields) for path, fields in row[3].items()})
    if rows != known and _memo_pays(parsed, len(files)):
        save_memo(memo, (MEMO_FORMAT, rows))
    return Tracked(files, frozenset(whole_dirs))


def _memo_pays(parsed: int, total: int) -> bool:
    """Whether rewriting the memo (all entries) costs less than parsing afresh, on each
    later read, the entries that changed. Re-adding one directory of a big tree changes
    its manifest every time: rewriting the memo for it would never pay back."""
    return parsed >= MEMO_REWRITE_AT or 4 * parsed >= total


def read_tree(repo: GitRepo, gitdata_tree: pygit2.Tree | None) -> Tracked:
    """What the manifests in a committed `.gitdata` tree say."""
    from gitdata.git import subtree, walk_blobs

    tree = subtree(gitdata_tree, "tree")
    if tree is None:
        return Tracked({}, frozenset())
    return _assemble(walk_blobs(repo, tree))


def read_tree_about(repo: GitRepo, gitdata_tree: pygit2.Tree | None, paths: Iterable[str]) -> Tracked:
    """What a committed `.gitdata` tree says about the tracked paths `paths` (files or
    directories), reading only the manifests that can say anything about them."""
    from gitdata.git import blob_data, entry_id, subtree, walk_blobs

    tree = subtree(gitdata_tree, "tree")
    found: dict[str, bytes] = {}
    for path in paths:
        holder = manifest_path(parent_dir(path))[len(TREE_DIR) + 1:]
        oid = entry_id(tree, holder)
        if oid is not None:
            found[holder] = blob_data(repo, oid)
        below = manifest_path(path)[len(TREE_DIR) + 1:-len(MANIFEST_NAME) - 1]
        inner = subtree(tree, below)
        if inner is not None:
            found.update(walk_blobs(repo, inner, below + "/"))
    return _assemble(found.items())


def read_directory(workdir: Path, directory: str) -> tuple[dict[str, Entry], bool]:
    path = workdir / manifest_path(directory)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}, False
    return parse(data, manifest_path(directory))


def write_directory(workdir: Path, directory: str, entries: Mapping[str, Entry], whole: bool) -> str:
    """Write (or remove, when empty) one directory's manifest atomically; returns its path."""
    from gitdata.fsutil import atomic_write, remove_empty_parents

    from gitdata.paths import ensure_inside

    relpath = manifest_path(directory)
    path = ensure_inside(workdir, relpath)   # a committed symlink in .gitdata/ must not lead writes out
    if entries or whole:
        atomic_write(path, serialize(entries, whole))
    elif path.exists():
        path.unlink()
        remove_empty_parents(path.parent, workdir / TREE_DIR)
    return relpath


def update(repo: GitRepo, changes: Mapping[str, Entry | None],
           whole_add: Iterable[str] = (), whole_remove: Iterable[str] = ()) -> list[str]:
    """Apply changes (path -> new entry, or None to untrack) to the workspace manifests,
    each directory under its own lock, so parallel commands on different
    directories never wait for each other. Returns the manifest paths written."""
    from gitdata.fsutil import remove_stale_temps
    from gitdata.locks import lock

    by_dir: dict[str, dict[str, Entry | None]] = {}
    for path, entry in changes.items():
        by_dir.setdefault(parent_dir(path), {})[base_name(path)] = entry
    whole_add, whole_remove = set(whole_add), set(whole_remove)
    written = []
    for directory in sorted(set(by_dir) | whole_add | whole_remove):
        with lock(repo, "manifest:" + directory):
            remove_stale_temps((repo.workdir / manifest_path(directory)).parent)
            entries, whole = read_directory(repo.workdir, directory)
            for name, entry in by_dir.get(directory, {}).items():
                if entry is None:
                    entries.pop(name, None)
                else:
                    entries[name] = entry
            whole = (whole or directory in whole_add) and directory not in whole_remove
            written.append(write_directory(repo.workdir, directory, entries, whole))
    return written
