"""Dependency kinds. Each computes a digest of exactly what the step depends on, so a
change elsewhere (another key of a params file, a line outside the range, a line
the regex does not match) never makes a step stale.

    file F          the file's content; a directory: every file under it
    glob G          the set of matching files and their contents
    glob-items G    the same, and the step learns which files were added/removed/changed
    lines F::A-B    lines A to B (1-based, inclusive; either end may be left open)
    line-items      the same, with the added/removed lines passed to the step
    regex F:/RE/    the lines matching RE
    regex-items     the same, with the added/removed matching lines
    param F::KEY    one value (dotted key) of a YAML, JSON or TOML file
    url URL         ETag or Last-Modified, else a digest of the body
    generic CMD     a digest of the command's standard output
    sqlite-query DB the rows a query returns (database opened read-only)
    schedule S      hourly, daily, weekly, a cron expression, or manual: due once per period
    step NAME       the last-run record of another step (ordering, and re-run after it)
"""
from __future__ import annotations

import datetime as dt
import glob as globmod
import json
import os
import re
import stat
import time
from pathlib import Path
from typing import Any, Callable, NamedTuple

from gitdata.errors import GitDataError
from gitdata.hashing import digest_bytes, digest_file
from gitdata.paths import check_relpath
from gitdata.pipeline.model import Dep, check_name

SCHEDULES = ("hourly", "daily", "weekly", "manual")
NOW_ENV = "GITDATA_NOW"
URL_TIMEOUT = 20.0


class Value(NamedTuple):
    digest: str | None          # None: the file does not exist
    items: Any = None           # for *-items kinds: what the items are now
    detail: str = ""            # a short human view of the value (param values, schedule period)


# -- spelling ------------------------------------------------------------------------

def split_file_spec(spec: str, kind: str) -> tuple[str, str]:
    """'F::X' -> (F, X) for lines and param dependencies."""
    path, sep, rest = spec.rpartition("::")
    if not sep or not path or not rest:
        example = "data.txt::1-20" if kind in ("lines", "line-items") else "params.yaml::train.lr"
        raise GitDataError(f"a {kind} dependency looks like '{example}' (found '{spec}')")
    return check_relpath(path, f"{kind} file"), rest


def split_regex_spec(spec: str, kind: str) -> tuple[str, re.Pattern[str]]:
    """'F:/RE/' -> (F, compiled RE)."""
    path, sep, rest = spec.partition(":/")
    if not sep or not path or not rest.endswith("/") or len(rest) < 2:
        raise GitDataError(f"a {kind} dependency looks like 'data.txt:/^error/' (found '{spec}')")
    try:
        pattern = re.compile(rest[:-1])
    except re.error as exc:
        raise GitDataError(f"bad regular expression in '{spec}': {exc}") from None
    return check_relpath(path, f"{kind} file"), pattern


def parse_range(text: str, spec: str) -> tuple[int, int | None]:
    match = re.fullmatch(r"(\d*)(-(\d*))?", text)
    if not match or not (match.group(1) or match.group(3)):
        raise GitDataError(f"bad line range in '{spec}': use A-B, A-, -B or A (1-based)")
    start = int(match.group(1)) if match.group(1) else 1
    end = int(match.group(3)) if match.group(3) else (None if match.group(2) else start)
    if start < 1 or (end is not None and end < start):
        raise GitDataError(f"bad line range in '{spec}': lines count from 1 and A <= B")
    return start, end


def check_glob(pattern: str) -> str:
    if pattern.startswith("/") or ".." in pattern.split("/") or not pattern:
        raise GitDataError(f"glob '{pattern}' must stay inside the repository (relative to its root)")
    return pattern


def validate(dep: Dep) -> None:
    kind, spec = dep.kind, dep.spec
    if kind == "file":
        check_relpath(spec.rstrip("/"), "dependency path")
    elif kind in ("glob", "glob-items"):
        check_glob(spec)
    elif kind in ("lines", "line-items"):
        parse_range(split_file_spec(spec, kind)[1], spec)
    elif kind in ("regex", "regex-items"):
        split_regex_spec(spec, kind)
    elif kind == "param":
        split_file_spec(spec, kind)
    elif kind == "url":
        if not re.match(r"^https?://", spec):
            raise GitDataError(f"url dependency must be http:// or https:// (found '{spec}')")
    elif kind == "generic":
        if not spec.strip():
            raise GitDataError("a generic dependency needs a command")
    elif kind == "sqlite-query":
        check_relpath(spec, "database path")
        if not dep.query.strip():
            raise GitDataError("a sqlite-query dependency needs a query")
    elif kind == "schedule":
        schedule_period(spec, dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc))
    elif kind == "step":
        check_name(spec, "step")
    else:
        raise GitDataError(f"unknown dependency kind '{kind}'")


# -- the clock -----------------------------------------------------------------------------

def now() -> dt.datetime:
    """The current time, or $GITDATA_NOW (ISO 8601 or seconds since the epoch) for tests
    and for asking "what would be due at ...". A time without a zone is local time."""
    text = os.environ.get(NOW_ENV)
    if not text:
        return dt.datetime.now().astimezone()
    try:
        if re.fullmatch(r"\d+(\.\d+)?", text):
            return dt.datetime.fromtimestamp(float(text)).astimezone()
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise GitDataError(f"{NOW_ENV}='{text}' is not an ISO 8601 time") from None
    return value if value.tzinfo else value.astimezone()


def schedule_period(schedule: str, at: dt.datetime) -> str:
    """The period `at` falls in: a step with this schedule is due once per period."""
    if schedule == "manual":
        return "manual"
    if schedule == "hourly":
        return at.strftime("%Y-%m-%dT%H")
    if schedule == "daily":
        return at.strftime("%Y-%m-%d")
    if schedule == "weekly":
        year, week, _ = at.isocalendar()
        return f"{year}-W{week:02d}"
    from croniter import croniter

    if not croniter.is_valid(schedule):
        raise GitDataError(f"schedule must be hourly, daily, weekly, manual or a cron expression (found '{schedule}')")
    previous = croniter(schedule, at).get_prev(dt.datetime)
    return "cron " + previous.isoformat(timespec="minutes")


# -- computing -------------------------------------------------------------------------------

class Context:
    """What computing digests needs: the workspace, the stat cache (so unchanged files are
    never re-read), the clock, and which commands the user trusts."""

    def __init__(self, workdir: Path, stats: Any, algorithm: str,
                 trusted: Callable[[], set[str]] | None = None) -> None:
        self.workdir, self.stats, self.algorithm = workdir, stats, algorithm
        self.root = str(workdir)
        self.clock = now()
        self._trusted_loader = trusted
        self._trusted: set[str] | None = None
        self._fresh: list[tuple[str, os.stat_result, str]] = []
        self._started = time.time()
        self._memo: dict[str, Value] = {}

    def file_digest(self, rel: str, st: os.stat_result | None = None) -> str | None:
        path = os.path.join(self.root, rel)
        if st is None:
            try:
                st = os.stat(path)
            except (FileNotFoundError, NotADirectoryError):
                return None
        if not stat.S_ISREG(st.st_mode):
            return None
        digest = self.stats.lookup(rel, st, self.algorithm) if self.stats is not None else None
        if digest is None:
            started = time.time()
            digest = digest_file(path, self.algorithm)
            self._started = min(self._started, started)
            self._fresh.append((rel, st, digest))
        return digest

    def flush(self) -> None:
        """Remember what was hashed, so the next run reads nothing."""
        if self.stats is None or not self._fresh:
            return
        self.stats.remember(self._fresh, self._started)
        flush = getattr(self.stats, "flush", None)
        if flush is not None:
            flush()
        self._fresh = []
        self._started = time.time()

    def is_trusted(self, command: str) -> bool:
        """Whether a command from a committed file may run here (no check: True)."""
        if self._trusted_loader is None:
            return True
        if self._trusted is None:
            self._trusted = self._trusted_loader()
        from gitdata.trust import fingerprint

        return fingerprint(command) in self._trusted

    def forget(self, rels: list[str]) -> None:
        """Values that a step's run may have changed must be computed again."""
        self._memo.clear()

    def value(self, dep: Dep, cwd: Path) -> Value:
        if dep.kind in ("url", "generic", "sqlite-query"):
            return _COMPUTE[dep.kind](self, dep, cwd)
        memo = self._memo.get(dep.key)
        if memo is None:
            memo = self._memo[dep.key] = _COMPUTE[dep.kind](self, dep, cwd)
        return memo

    def digest_text(self, text: str) -> str:
        return digest_bytes(text.encode("utf-8", "surrogateescape"), self.algorithm)

    def read_text(self, rel: str) -> str | None:
        try:
            return (self.workdir / rel).read_bytes().decode("utf-8", "surrogateescape")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None


def files_under(workdir: Path, rel: str, symlinks: set[str] | None = None) -> list[str]:
    """The files under a directory; the symlinks among them also go into `symlinks`, when given."""
    from gitdata.ignore import IgnoreRules
    from gitdata.workspace import walk_files

    return sorted(r for r in walk_files(workdir, rel, IgnoreRules(workdir), symlinks=symlinks)
                  if os.path.isfile(workdir / r))


def glob_files(workdir: Path, pattern: str) -> list[str]:
    matches = globmod.glob(pattern, root_dir=str(workdir), recursive=True)
    found = set()
    for match in matches:
        rel = Path(match).as_posix()
        if rel.split("/")[0] in (".git", ".gitdata"):
            continue
        if os.path.isfile(workdir / rel):
            found.add(rel)
        elif os.path.isdir(workdir / rel):
            found.update(files_under(workdir, rel))
    return sorted(found)


def listing_digest(items: dict[str, str], algorithm: str) -> str:
    """One digest for a set of files and their digests (a directory, a glob)."""
    text = "".join(f"{rel}\t{items[rel]}\n" for rel in sorted(items))
    return digest_bytes(text.encode("utf-8", "surrogateescape"), algorithm)


def dir_listing(ctx: Context, rel: str) -> dict[str, str]:
    """Every file under a directory and its digest."""
    items = {}
    for path in files_under(ctx.workdir, rel):
        digest = ctx.file_digest(path)
        if digest is not None:
            items[path] = digest
    return items


def _listing(ctx: Context, rels: list[str]) -> tuple[str, dict[str, str]]:
    items = {}
    for rel in rels:
        digest = ctx.file_digest(rel)
        if digest is not None:
            items[rel] = digest
    return listing_digest(items, ctx.algorithm), items


def _file(ctx: Context, dep: Dep, cwd: Path) -> Value:
    rel = dep.spec.rstrip("/")
    try:
        st = os.stat(os.path.join(ctx.root, rel))
    except (FileNotFoundError, NotADirectoryError):
        return Value(None)
    if stat.S_ISDIR(st.st_mode):
        digest, items = _listing(ctx, files_under(ctx.workdir, rel))
        return Value("dir " + digest, None, f"{len(items)} file(s)")
    return Value(ctx.file_digest(rel, st))


def _glob(ctx: Context, dep: Dep, cwd: Path) -> Value:
    digest, items = _listing(ctx, glob_files(ctx.workdir, dep.spec))
    return Value(digest, items if dep.kind == "glob-items" else None, f"{len(items)} file(s)")


def _lines(ctx: Context, dep: Dep, cwd: Path) -> Value:
    rel, range_text = split_file_spec(dep.spec, dep.kind)
    start, end = parse_range(range_text, dep.spec)
    text = ctx.read_text(rel)
    if text is None:
        return Value(None)
    lines = text.splitlines()[start - 1:end]
    return Value(ctx.digest_text("\n".join(lines)), lines if dep.kind == "line-items" else None,
                 f"{len(lines)} line(s)")


def _regex(ctx: Context, dep: Dep, cwd: Path) -> Value:
    rel, pattern = split_regex_spec(dep.spec, dep.kind)
    text = ctx.read_text(rel)
    if text is None:
        return Value(None)
    lines = [line for line in text.splitlines() if pattern.search(line)]
    return Value(ctx.digest_text("\n".join(lines)), lines if dep.kind == "regex-items" else None,
                 f"{len(lines)} matching line(s)")


def load_structured(path: Path, rel: str) -> Any:
    data = path.read_bytes()
    suffix = path.suffix.lower()
    try:
        if suffix == ".json":
            return json.loads(data)
        if suffix == ".toml":
            import tomllib

            return tomllib.loads(data.decode("utf-8"))
        import yaml

        return yaml.load(data, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except Exception as exc:  # noqa: BLE001 - three parsers, each with its own errors
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise GitDataError(f"cannot parse {rel}: {first}") from None


def lookup_key(data: Any, key: str, rel: str) -> Any:
    value = data
    for part in key.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            raise GitDataError(f"{rel} has no key '{key}'")
    return value


def _param(ctx: Context, dep: Dep, cwd: Path) -> Value:
    rel, key = split_file_spec(dep.spec, dep.kind)
    path = ctx.workdir / rel
    if not path.is_file():
        return Value(None)
    value = lookup_key(load_structured(path, rel), key, rel)
    canonical = json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)
    shown = canonical if len(canonical) <= 60 else canonical[:57] + "..."
    return Value(ctx.digest_text(canonical), None, f"{key} = {shown}")


def _url(ctx: Context, dep: Dep, cwd: Path) -> Value:
    import urllib.error
    import urllib.request

    if not ctx.is_trusted(dep.spec):  # a cloned step must not make this machine send requests
        raise GitDataError(f"url dependency is not trusted here: {dep.spec!r}; "
                           "review it, then run 'git data trust' to approve")
    headers = {"User-Agent": "git-data"}
    try:
        request = urllib.request.Request(dep.spec, method="HEAD", headers=headers)
        with urllib.request.urlopen(request, timeout=URL_TIMEOUT) as response:
            etag, modified = response.headers.get("ETag"), response.headers.get("Last-Modified")
        if etag:
            return Value("etag " + etag, None, f"ETag {etag}")
        if modified:
            return Value("last-modified " + modified, None, f"Last-Modified {modified}")
    except urllib.error.HTTPError as exc:
        if exc.code not in (405, 501):  # HEAD not allowed: fall back to GET
            raise GitDataError(f"url {dep.spec}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise GitDataError(f"url {dep.spec}: {reason}") from None
    from gitdata.hashing import new_hasher

    hasher = new_hasher(ctx.algorithm)
    try:
        with urllib.request.urlopen(urllib.request.Request(dep.spec, headers=headers), timeout=URL_TIMEOUT) as resp:
            while chunk := resp.read(1 << 20):
                hasher.update(chunk)
    except (urllib.error.URLError, OSError) as exc:
        raise GitDataError(f"url {dep.spec}: {getattr(exc, 'reason', exc)}") from None
    return Value(f"{ctx.algorithm}:{hasher.hexdigest()}", None, "content digest")


def _generic(ctx: Context, dep: Dep, cwd: Path) -> Value:
    import subprocess

    if not ctx.is_trusted(dep.spec):
        raise GitDataError(f"generic dependency command is not trusted here: {dep.spec!r}; "
                           "review it, then run 'git data trust' to approve")
    proc = subprocess.run(dep.spec, shell=True, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        last = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
        raise GitDataError(f"generic dependency {dep.spec!r} exited {proc.returncode}: {last[0]}")
    return Value(digest_bytes(proc.stdout, ctx.algorithm))


def _sqlite(ctx: Context, dep: Dep, cwd: Path) -> Value:
    import sqlite3
    import urllib.parse

    path = ctx.workdir / dep.spec
    if not path.is_file():
        return Value(None)
    uri = "file:" + urllib.parse.quote(str(path)) + "?mode=ro"
    try:
        db = sqlite3.connect(uri, uri=True)
        try:
            rows = db.execute(dep.query).fetchall()
        finally:
            db.close()
    except sqlite3.Error as exc:
        raise GitDataError(f"sqlite query on {dep.spec} failed: {exc}") from None
    text = json.dumps(rows, default=lambda v: v.hex() if isinstance(v, bytes) else str(v))
    return Value(ctx.digest_text(text), None, f"{len(rows)} row(s)")


def _schedule(ctx: Context, dep: Dep, cwd: Path) -> Value:
    period = schedule_period(dep.spec, ctx.clock)
    return Value("period " + period, None, period)


def _step(ctx: Context, dep: Dep, cwd: Path) -> Value:
    raise AssertionError("step dependencies are resolved by freshness")


_COMPUTE = {
    "file": _file, "glob": _glob, "glob-items": _glob, "lines": _lines, "line-items": _lines,
    "regex": _regex, "regex-items": _regex, "param": _param, "url": _url, "generic": _generic,
    "sqlite-query": _sqlite, "schedule": _schedule, "step": _step,
}


def item_changes(kind: str, old: Any, new: Any) -> dict[str, list[str]]:
    """ALL, ADDED, REMOVED, CHANGED items between the recorded and the current items."""
    new = new if new is not None else ({} if kind == "glob-items" else [])
    if kind == "glob-items":
        old = old if isinstance(old, dict) else {}
        return {
            "ALL": sorted(new),
            "ADDED": sorted(set(new) - set(old)),
            "REMOVED": sorted(set(old) - set(new)),
            "CHANGED": sorted(p for p in new if p in old and old[p] != new[p]),
        }
    old = old if isinstance(old, list) else []
    old_set, new_set = set(map(str, old)), set(map(str, new))
    return {
        "ALL": list(new),
        "ADDED": [x for x in new if x not in old_set],
        "REMOVED": [x for x in old if str(x) not in new_set],
        "CHANGED": [],
    }


def items_env(dep: Dep, old: Any, new: Any) -> dict[str, str]:
    """GITDATA_{ALL,ADDED,REMOVED,CHANGED}_{GLOB,LINE,REGEX}_ITEMS, newline-separated."""
    family = {"glob-items": "GLOB", "line-items": "LINE", "regex-items": "REGEX"}[dep.kind]
    changes = item_changes(dep.kind, old, new)
    return {f"GITDATA_{which}_{family}_ITEMS": "\n".join(map(str, values)) for which, values in changes.items()}
