"""Parsed step files, remembered by (size, mtime_ns, inode) of the file, so a no-op
`run` over a thousand steps does not re-parse a thousand YAML files.

The cache is a pickle under the local state dir (never committed, written by
this user only); a step file whose stat changed is parsed again."""
from __future__ import annotations

import os
import pickle
import time
from pathlib import Path

from gitdata.pipeline.model import Step, read_step_file
from gitdata.statcache import RACY_SECONDS

VERSION = 1
_data_dir: Path | None = None


def use(data_dir: Path) -> None:
    """Enable the cache for this process, kept in `data_dir`."""
    global _data_dir
    _data_dir = data_dir


def _cache_path(pipeline: str) -> Path | None:
    return _data_dir / "pipelines" / f"{pipeline}.pickle" if _data_dir is not None else None


def load(workdir: Path, pipeline: str, files: list[tuple[str, Path]]) -> list[Step]:
    path = _cache_path(pipeline)
    known: dict[str, tuple[tuple[int, int, int], Step]] = {}
    if path is not None:
        try:
            with open(path, "rb") as handle:
                version, stored_workdir, known = pickle.load(handle)
            if version != VERSION or stored_workdir != str(workdir):
                known = {}
        except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError, AttributeError):
            known = {}
    steps = []
    now = time.time()
    fresh: dict[str, tuple[tuple[int, int, int], Step]] = {}
    changed = len(known) != len(files)
    for name, file in files:
        st = os.stat(file)
        key = (st.st_size, st.st_mtime_ns, st.st_ino)
        hit = known.get(name)
        if hit is not None and hit[0] == key:
            step = hit[1]
        else:
            step = read_step_file(file, pipeline, name)
            changed = True
        if now - st.st_mtime > RACY_SECONDS:
            fresh[name] = (key, step)
        else:
            changed = True
        steps.append(step)
    if path is not None and changed:
        _store(path, workdir, fresh)
    return steps


def _store(path: Path, workdir: Path, entries: dict[str, tuple[tuple[int, int, int], Step]]) -> None:
    from gitdata.fsutil import atomic_write

    try:
        atomic_write(path, pickle.dumps((VERSION, str(workdir), entries), protocol=pickle.HIGHEST_PROTOCOL))
    except OSError:
        pass  # only a cache
