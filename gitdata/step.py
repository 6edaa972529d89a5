"""Helpers for the scripts that pipeline steps run:

    from gitdata.step import commit, summary, push

    summary(f"accuracy {acc:.3f}")          # shown after the step, appended to its commit
    commit(f"retrain: accuracy {acc:.3f}")  # the message of the commit `run --commit` makes
    push()                                  # ask `git data run` to push after this step

Each writes to the file `git data run` names in $GITDATA_COMMIT_MSG_FILE,
$GITDATA_SUMMARY_FILE or $GITDATA_PUSH_FILE. Outside a run (the variable is not
set) they do nothing and return False, so a script also runs by hand."""
from __future__ import annotations

import os

COMMIT_ENV = "GITDATA_COMMIT_MSG_FILE"
SUMMARY_ENV = "GITDATA_SUMMARY_FILE"
PUSH_ENV = "GITDATA_PUSH_FILE"


def _write(variable: str, text: str, append: bool = False) -> bool:
    path = os.environ.get(variable)
    if not path:
        return False
    with open(path, "a" if append else "w", encoding="utf-8") as handle:
        handle.write(text)
    return True


def commit(message: str) -> bool:
    """Set the commit message for this step's commit (replaces an earlier one)."""
    return _write(COMMIT_ENV, message.rstrip("\n") + "\n")


def summary(text: str) -> bool:
    """Add a line (or lines) to this step's summary."""
    return _write(SUMMARY_ENV, text.rstrip("\n") + "\n", append=True)


def push(reason: str = "requested") -> bool:
    """Ask for a push (git, and data unless -P) right after this step."""
    return _write(PUSH_ENV, reason.rstrip("\n") + "\n")


def in_run() -> bool:
    """True when running as a step of `git data run`."""
    return bool(os.environ.get("GITDATA_STEP"))
