"""Commands that come from committed files (generic storage commands, pipeline steps)
run only once the user approved that exact text here: `git data trust`.

Approvals are digests of the text, kept in the local state dir (never committed)."""
from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from gitdata.errors import GitDataError
from gitdata.fsutil import atomic_write

if TYPE_CHECKING:
    from gitdata.git import GitRepo


def _store(repo: GitRepo):  # type: ignore[no-untyped-def]
    return repo.data_dir / "trusted"


def fingerprint(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def trusted_fingerprints(repo: GitRepo) -> set[str]:
    path = _store(repo)
    return set(path.read_text().split()) if path.exists() else set()


def is_trusted(repo: GitRepo, text: str) -> bool:
    return fingerprint(text) in trusted_fingerprints(repo)


def approve(repo: GitRepo, texts: list[str]) -> None:
    from gitdata.locks import lock

    with lock(repo, "trust"):
        known = trusted_fingerprints(repo) | {fingerprint(t) for t in texts}
        atomic_write(_store(repo), ("\n".join(sorted(known)) + "\n").encode())


def require_trusted(repo: GitRepo, text: str, where: str) -> None:
    """Refuse to run a committed command the user has not approved."""
    if not is_trusted(repo, text):
        raise GitDataError(f"{where} wants to run a command that is not trusted here: {text!r}; "
                           "review it, then run 'git data trust' to approve")
