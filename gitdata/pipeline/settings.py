"""Reading `.gitdata/config` (and the `gitdata.*` overrides in `.git/config`) without
pygit2 when the files are plain, so that a no-op `run` starts fast. Anything this
small reader is unsure about (includes, continuation lines) goes to gitdata.config."""
from __future__ import annotations

import re
from pathlib import Path

from gitdata.git import GitRepo

_SECTION = re.compile(r'^\[\s*([A-Za-z0-9.-]+)(?:\s+"((?:[^"\\]|\\.)*)")?\s*\]\s*(?:[#;].*)?$')
_ENTRY = re.compile(r"^([A-Za-z][A-Za-z0-9-]*)\s*(?:=\s*(.*))?$")


class _Unsure(Exception):
    pass


def _value(text: str) -> str:
    out, quoted, i = [], False, 0
    while i < len(text):
        char = text[i]
        if char == '"':
            quoted = not quoted
        elif char == "\\" and i + 1 < len(text):
            i += 1
            out.append({"n": "\n", "t": "\t"}.get(text[i], text[i]))
        elif char in "#;" and not quoted:
            break
        else:
            out.append(char)
        i += 1
    return "".join(out).strip()


def parse(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    section = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.endswith("\\"):
            raise _Unsure
        if line.startswith("["):
            match = _SECTION.match(line)
            if not match or "]" in line[line.index("]") + 1:].split("#")[0].split(";")[0]:
                raise _Unsure
            name, sub = match.group(1).lower(), match.group(2)
            if name in ("include", "includeif"):
                raise _Unsure
            section = f"{name}.{sub}" if sub is not None else name
            continue
        match = _ENTRY.match(line)
        if not match or section is None:
            raise _Unsure
        values[f"{section}.{match.group(1).lower()}"] = _value(match.group(2)) if match.group(2) is not None else "true"
    return values


def values(repo: GitRepo) -> dict[str, str]:
    """Like gitdata.config.values."""
    try:
        merged = parse(_read(repo.workdir / ".gitdata" / "config"))
        local = parse(_read(repo.common_dir / "config"))
    except _Unsure:
        from gitdata import config

        return config.values(repo)
    for key, value in local.items():
        if key.startswith("gitdata."):
            merged[key[len("gitdata."):]] = value
    return merged


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="surrogateescape")
    except FileNotFoundError:
        return ""


def as_bool(value: str | None, default: bool = False) -> bool:
    if value is None:
        return default
    return value.strip().lower() in ("true", "yes", "on", "1")
