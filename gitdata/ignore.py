"""`.gitdataignore`: gitignore-syntax patterns for files `add` must skip."""
from __future__ import annotations

from functools import cached_property
from pathlib import Path

IGNORE_FILE = ".gitdataignore"
# Never data: git's own files and ours.
ALWAYS_SKIPPED = {".git", ".gitdata", ".gitignore", ".gitattributes", IGNORE_FILE, ".gitmodules"}


class IgnoreRules:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir

    @cached_property
    def _lines(self) -> list[str]:
        path = self.workdir / IGNORE_FILE
        return path.read_text(errors="surrogateescape").splitlines() if path.exists() else []

    @cached_property
    def _spec(self):  # type: ignore[no-untyped-def]
        import pathspec

        return pathspec.GitIgnoreSpec.from_lines(self._lines)

    @cached_property
    def _has_patterns(self) -> bool:
        # Only comments and blank lines: no need to load pathspec at all.
        return any(line.strip() and not line.startswith("#") for line in self._lines)

    def ignored(self, rel: str, is_dir: bool = False) -> bool:
        if not ALWAYS_SKIPPED.isdisjoint(rel.split("/")):
            return True
        return self._has_patterns and bool(self._spec.match_file(rel + "/" if is_dir else rel))

    def ignored_entry(self, rel: str, name: str, is_dir: bool = False) -> bool:
        """ignored(), for `name` in a directory that is itself not ignored."""
        if name in ALWAYS_SKIPPED:
            return True
        return self._has_patterns and bool(self._spec.match_file(rel + "/" if is_dir else rel))

    def reason(self, rel: str, is_dir: bool = False) -> str | None:
        """The pattern that ignores `rel`, for check-ignore -v."""
        if any(part in ALWAYS_SKIPPED for part in rel.split("/")):
            return "(built-in)"
        result = self._spec.check_file(rel + "/" if is_dir else rel)
        if result.include and result.index is not None:
            return f"{IGNORE_FILE}:{result.index + 1}:{self._spec.patterns[result.index].pattern}"
        return None
