"""All user-facing output goes through here, so tests can capture it."""
from __future__ import annotations

import os
import re
import sys
import time
from typing import Any, Iterator
from contextlib import contextmanager

QUIET, NORMAL, VERBOSE = 0, 1, 2
_level = NORMAL

_COLORS = {"red": "31", "green": "32", "yellow": "33", "blue": "34", "bold": "1", "dim": "2"}


def set_level(level: int) -> None:
    global _level
    _level = level


def is_verbose() -> bool:
    return _level >= VERBOSE


def use_color(stream: Any = None) -> bool:
    stream = stream or sys.stdout
    if os.environ.get("NO_COLOR"):
        return False
    return bool(os.environ.get("GITDATA_COLOR")) or stream.isatty()


def color(text: str, name: str, stream: Any = None) -> str:
    if not use_color(stream):
        return text
    return f"\033[{_COLORS[name]}m{text}\033[0m"


_C_ESCAPES = {"\a": "\\a", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\v": "\\v", "\f": "\\f",
              "\r": "\\r", '"': '\\"', "\\": "\\\\"}
# control characters, '"', backslash, and the raw bytes os.fsdecode() could not decode
_UNUSUAL = re.compile(r'[\x00-\x1f\x7f"\\\udc80-\udcff]')


def quote_path(path: str) -> str:
    """A path as git prints it (with core.quotePath off): as it is, unless a control
    character, '"' or a backslash would make one record span lines or read ambiguously;
    then in double quotes, C-style escaped (a byte that is not UTF-8 as \\ooo octal)."""
    if _UNUSUAL.search(path) is None:
        return path
    return '"' + _UNUSUAL.sub(_escaped, path) + '"'


def _escaped(match: re.Match[str]) -> str:
    c = match.group()
    if c in _C_ESCAPES:
        return _C_ESCAPES[c]
    code = ord(c)
    return f"\\{code - 0xdc00 if code >= 0xdc80 else code:03o}"


def out(text: str = "") -> None:
    """Command results on stdout: shown even with -q."""
    sys.stdout.write(text + "\n")


def info(text: str) -> None:
    """Chatter on stderr, hidden by -q."""
    if _level >= NORMAL:
        sys.stderr.write(text + "\n")


def verbose(text: str) -> None:
    if _level >= VERBOSE:
        sys.stderr.write(text + "\n")


def warn(text: str) -> None:
    sys.stderr.write(f"git-data: warning: {text}\n")


def error(text: str) -> None:
    sys.stderr.write(f"git-data: error: {text}\n")


def print_json(value: Any) -> None:
    import json

    sys.stdout.write(json.dumps(value, indent=2, sort_keys=True) + "\n")


def human_size(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def progress_shown() -> bool:
    """Whether progress bars are drawn (not quiet, stderr a terminal)."""
    return _level >= NORMAL and sys.stderr.isatty()


class Progress:
    """One line of progress on a TTY stderr; silent otherwise."""

    def __init__(self, label: str, total: int, total_bytes: int = 0) -> None:
        self.label, self.total, self.total_bytes = label, total, total_bytes
        self.done = self.done_bytes = 0
        self.started = self.last_draw = time.monotonic()
        self.enabled = progress_shown()

    def advance(self, count: int = 1, nbytes: int = 0) -> None:
        self.done += count
        self.done_bytes += nbytes
        now = time.monotonic()
        if self.enabled and now - self.started > 0.5 and now - self.last_draw > 0.1:
            self.last_draw = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        rate = self.done_bytes / max(now - self.started, 1e-6)
        line = f"{self.label}: {self.done}/{self.total} files"
        if self.total_bytes:
            line += f", {human_size(self.done_bytes)}/{human_size(self.total_bytes)}"
        if self.done_bytes:
            line += f", {human_size(rate)}/s"
        sys.stderr.write("\r\033[K" + line)
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled and self.last_draw != self.started:
            self._draw(time.monotonic())
            sys.stderr.write("\n")


@contextmanager
def progress(label: str, total: int, total_bytes: int = 0) -> Iterator[Progress]:
    bar = Progress(label, total, total_bytes)
    try:
        yield bar
    finally:
        bar.close()
