"""Keep tracked data out of git: one `/name` line per tracked path in the
.gitignore of its directory."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable

from gitdata import output
from gitdata.fsutil import atomic_write
from gitdata.paths import base_name, join, parent_dir

_SPECIAL = re.compile(r"([\\*?\[\]!# ])")


def pattern_for(name: str) -> str | None:
    """An anchored gitignore line matching exactly `name`, or None if git cannot express it."""
    if "\n" in name or "\r" in name:
        return None
    return "/" + _SPECIAL.sub(r"\\\1", name)


def _change(workdir: Path, directory: str, names: set[str], add: bool) -> str | None:
    from gitdata.git import find_repo
    from gitdata.locks import lock

    with lock(find_repo(workdir), "gitignore:" + directory):
        return _change_locked(workdir, directory, names, add)


def _change_locked(workdir: Path, directory: str, names: set[str], add: bool) -> str | None:
    path = workdir / directory / ".gitignore"
    text = path.read_text(errors="surrogateescape") if path.exists() else ""
    changed = with_names(text, names, add)
    if changed is None:
        return None
    if changed:
        atomic_write(path, changed.encode("utf-8", "surrogateescape"))
    else:
        path.unlink()
    return join(directory, ".gitignore")


def with_names(text: str, names: set[str], add: bool) -> str | None:
    """A .gitignore's text with the lines for `names` added (or removed); None when
    that changes nothing, "" when no line is left."""
    lines = text.splitlines()
    present = set(lines)
    wanted = {p for p in (pattern_for(n) for n in names) if p}
    if add:
        new = [p for p in sorted(wanted) if p not in present]
        if not new:
            return None
        lines += new
    else:
        if not wanted & present:
            return None
        lines = [line for line in lines if line not in wanted]
    return "\n".join(lines) + "\n" if lines else ""


def ignores(text: str, name: str) -> bool:
    """Whether a .gitignore's text has the line for `name`."""
    return pattern_for(name) in text.splitlines()


def _by_directory(paths: Iterable[str]) -> dict[str, set[str]]:
    grouped: dict[str, set[str]] = {}
    for rel in paths:
        grouped.setdefault(parent_dir(rel), set()).add(base_name(rel))
    return grouped


def ignore_paths(workdir: Path, paths: Iterable[str]) -> list[str]:
    """Add the paths to their directories' .gitignore; returns the files changed."""
    changed = []
    for directory, names in sorted(_by_directory(paths).items()):
        for name in names:
            if pattern_for(name) is None:
                output.warn(f"git cannot ignore '{join(directory, name)}' (newline in its name); do not 'git add' it")
        rel = _change(workdir, directory, names, add=True)
        if rel:
            changed.append(rel)
    return changed


def unignore_paths(workdir: Path, paths: Iterable[str]) -> list[str]:
    changed = []
    for directory, names in sorted(_by_directory(paths).items()):
        rel = _change(workdir, directory, names, add=False)
        if rel:
            changed.append(rel)
    return changed
