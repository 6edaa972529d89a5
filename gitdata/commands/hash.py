"""git data hash: print content digests of files, like sha256sum does."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Iterator, NamedTuple

from gitdata import output
from gitdata.errors import GitDataError
from gitdata.hashing import (DEFAULT_ALGORITHM, algorithm_argument, algorithm_name, digest_file, digest_stream,
                             parse_digest)


class Hashed(NamedTuple):
    path: str
    digest: str | None
    error: str | None = None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", metavar="FILE",
                        help="files or directories ('-' or nothing reads standard input)")
    parser.add_argument("-a", "--algorithm", type=algorithm_argument, metavar="ALGO",
                        help="b3 (default, or the repository's core.hash), sha256, blake2b-256, sha3-256")
    parser.add_argument("--hex", action="store_true",
                        help="print the bare hex digest without the '<algorithm>:' prefix, as sha256sum does")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def run(args: argparse.Namespace) -> int:
    algorithm = args.algorithm or default_algorithm()
    results = hash_files(args.paths or ["-"], algorithm)
    if args.json:
        output.print_json([{"path": r.path, "digest": r.digest, "error": r.error} for r in results])
    else:
        for result in results:
            if result.error:
                output.error(f"{result.path}: {result.error}")
            elif result.digest:
                output.out(sum_line(parse_digest(result.digest).hex if args.hex else result.digest, result.path))
    return 1 if any(r.error for r in results) else 0


def sum_line(digest: str, path: str) -> str:
    """'<digest>  <path>' as coreutils' sha256sum writes it, so that `sha256sum -c` reads
    it back: a name with a backslash, newline or carriage return has them escaped, and
    the line starts with a backslash to say so."""
    if not any(c in path for c in "\\\n\r"):
        return f"{digest}  {path}"
    escaped = path.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
    return f"\\{digest}  {escaped}"


def default_algorithm() -> str:
    """The repository's configured algorithm inside an initialised repository, else b3."""
    try:
        from gitdata import config
        from gitdata.git import find_repo

        repo = find_repo()
        if (repo.workdir / config.CONFIG_PATH).exists():
            return config.hash_algorithm(repo)
    except GitDataError:
        pass
    return DEFAULT_ALGORITHM


def hash_files(paths: list[str], algorithm: str) -> list[Hashed]:
    """Digests of files (directories are walked, in name order); errors are per path."""
    from gitdata.workspace import parallel_map

    algorithm = algorithm_name(algorithm)
    targets = [item for path in paths for item in _expand(path)]

    def one(item: tuple[str, str | None]) -> Hashed:
        path, problem = item
        if problem:
            return Hashed(path, None, problem)
        try:
            if path == "-":
                return Hashed(path, digest_stream(sys.stdin.buffer, algorithm))
            return Hashed(path, digest_file(path, algorithm))
        except OSError as exc:
            return Hashed(path, None, exc.strerror or str(exc))

    return list(parallel_map(one, targets))


def _expand(path: str) -> Iterator[tuple[str, str | None]]:
    if path == "-":
        yield path, None
    elif os.path.isdir(path):
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if d != ".git")
            for name in sorted(files):
                full = os.path.join(root, name)
                if os.path.isfile(full):   # fifos and sockets in a walked directory would block
                    yield full, None
    elif not os.path.exists(path):
        yield path, "No such file or directory" if not os.path.lexists(path) else "broken symbolic link"
    else:
        yield path, None


def hash_path(path: str | os.PathLike[str], algorithm: str = DEFAULT_ALGORITHM) -> str:
    """Digest of one file (for the Python API)."""
    try:
        return digest_file(Path(path), algorithm_name(algorithm))
    except OSError as exc:
        raise GitDataError(f"{path}: {exc.strerror or exc}") from None
