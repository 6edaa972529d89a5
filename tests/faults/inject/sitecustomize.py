"""Deterministic kill points for the fault suite, with no code in git-data itself.

A Python process started with this directory on PYTHONPATH (the tests add it
only to the environment of the `git data` process under test, and the hook
processes git starts from it) counts every call that changes the file system:
opening a file for writing, replace/rename, link/symlink, unlink/rmdir, chmod,
mkdir. With GITDATA_FAULT_AT=n it dies with SIGKILL's exit status (137) right
before the n-th one, exactly as `kill -9` would leave the disk (buffers the
process wrote are in the kernel, nothing of Python's cleanup runs). With
GITDATA_FAULT_COUNT=FILE it appends its total count there on exit, so a test
can learn how many kill points a command has and pick one at random (seeded).
GITDATA_FAULT_ONLY=TEXT limits all this to processes whose argv holds TEXT
(e.g. `hook-impl`, to kill inside a hook and not in the command that ran git).
"""
from __future__ import annotations

import os
import sys
import threading

_ONLY = os.environ.get("GITDATA_FAULT_ONLY")
_ACTIVE = ("GITDATA_FAULT_AT" in os.environ or "GITDATA_FAULT_COUNT" in os.environ) and (
    not _ONLY or any(_ONLY in arg for arg in sys.argv) or _ONLY in " ".join(sys.orig_argv))


def _install() -> None:
    import atexit
    import builtins
    import io

    at = int(os.environ.get("GITDATA_FAULT_AT", "0") or 0)
    count_file = os.environ.get("GITDATA_FAULT_COUNT")
    lock = threading.Lock()
    state = {"n": 0}

    def tick(what: str) -> None:
        with lock:
            state["n"] += 1
            n = state["n"]
        if n == at:
            trace = os.environ.get("GITDATA_FAULT_TRACE")
            if trace:
                with io.open(trace, "a") as handle:
                    handle.write(f"{n} {what}\n")
            os.kill(os.getpid(), 9)

    def wrap(module: object, name: str) -> None:
        original = getattr(module, name)

        def patched(*args: object, **kwargs: object) -> object:
            tick(f"{name} {args[:1]!r}")
            return original(*args, **kwargs)

        setattr(module, name, patched)

    for name in ("replace", "rename", "link", "symlink", "unlink", "remove", "rmdir", "chmod", "mkdir",
                 "truncate"):
        wrap(os, name)
    original_open = io.open

    def patched_open(file: object, mode: str = "r", *args: object, **kwargs: object) -> object:
        if any(c in mode for c in "wax+"):
            tick(f"open {file!r} {mode}")
        return original_open(file, mode, *args, **kwargs)

    builtins.open = patched_open
    io.open = patched_open
    if count_file:
        def report() -> None:
            with original_open(count_file, "a") as handle:
                handle.write(f"{state['n']} {sys.argv!r}\n")

        atexit.register(report)


if _ACTIVE:
    _install()
