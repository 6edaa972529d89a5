"""The one user-facing error type."""
from __future__ import annotations


class GitDataError(Exception):
    """An expected failure: reported as one line, exit code 1."""

    exit_code = 1


class UsageError(GitDataError):
    """Wrong arguments: reported as one line, exit code 2."""

    exit_code = 2


class CorruptObject(GitDataError):
    """Content that does not hash to the digest it came under."""
