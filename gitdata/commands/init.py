"""git data init: .gitdata/ in the repository and the local state dir."""
from __future__ import annotations

import argparse

from gitdata import git, output
from gitdata.cache import open_cache
from gitdata.fsutil import atomic_write
from gitdata.git import GitRepo, find_repo
from gitdata.hashing import DEFAULT_ALGORITHM, algorithm_name
from gitdata.ignore import IGNORE_FILE
from gitdata.manifest import TREE_DIR

CONFIG_PATH = ".gitdata/config"
DEFAULT_IGNORE = f"""# {IGNORE_FILE}: files 'git data add' skips, in .gitignore syntax.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--force", action="store_true", help="re-create config and ignore file")
    parser.add_argument("--hash", default=DEFAULT_ALGORITHM, metavar="ALGO",
                        help="digest algorithm for new files: b3 (default), sha256, blake2b-256, sha3-256")


def run(args: argparse.Namespace) -> int:
    repo = find_repo()
    created = init(repo, force=args.force, algorithm=args.hash)
    if created:
        output.info(f"Initialised git-data in {repo.workdir}")
    else:
        output.info(f"git-data is already initialised in {repo.workdir}")
    return 0


def config_text(algorithm: str) -> str:
    return f"# git-data project settings (git-config syntax); committed, never holds secrets.\n[core]\n\thash = {algorithm}\n"


def init(repo: GitRepo, force: bool = False, algorithm: str = DEFAULT_ALGORITHM) -> bool:
    """Set up git-data; returns False when there was nothing to do."""
    algorithm = algorithm_name(algorithm)
    (repo.workdir / TREE_DIR).mkdir(parents=True, exist_ok=True)
    open_cache(repo.data_dir).root.mkdir(parents=True, exist_ok=True)
    written = []
    for rel, text in ((CONFIG_PATH, config_text(algorithm)), (IGNORE_FILE, DEFAULT_IGNORE)):
        path = repo.workdir / rel
        if force or not path.exists():
            atomic_write(path, text.encode())
            written.append(rel)
    git.stage(repo, written)
    return bool(written)
