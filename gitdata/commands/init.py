"""git data init: .gitdata/ in the repository and the local state dir."""
from __future__ import annotations

import argparse

from gitdata import config, git, output
from gitdata.cache import open_cache
from gitdata.fsutil import atomic_write
from gitdata.git import GitRepo, find_repo
from gitdata.hashing import DEFAULT_ALGORITHM, algorithm_argument, algorithm_name
from gitdata.ignore import IGNORE_FILE
from gitdata.manifest import TREE_DIR

CONFIG_PATH = ".gitdata/config"
DEFAULT_IGNORE = f"""# {IGNORE_FILE}: files 'git data add' skips, in .gitignore syntax.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--force", action="store_true", help="re-create config and ignore file")
    parser.add_argument("--hash", type=algorithm_argument, metavar="ALGO",
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


def init(repo: GitRepo, force: bool = False, algorithm: str | None = None) -> bool:
    """Set up git-data; returns False when there was nothing to do. `algorithm`: for
    new digests (default b3); in a project set up already, it replaces core.hash."""
    algorithm = algorithm_name(algorithm) if algorithm is not None else None
    (repo.workdir / TREE_DIR).mkdir(parents=True, exist_ok=True)
    open_cache(repo.data_dir).root.mkdir(parents=True, exist_ok=True)
    changed = []
    if algorithm is not None and not force and (repo.workdir / CONFIG_PATH).exists():
        changed = change_algorithm(repo, algorithm)
    written = []
    for rel, text in ((CONFIG_PATH, config_text(algorithm or DEFAULT_ALGORITHM)), (IGNORE_FILE, DEFAULT_IGNORE)):
        path = repo.workdir / rel
        if force or not path.exists():
            atomic_write(path, text.encode())
            written.append(rel)
    git.stage(repo, changed + written)
    return bool(written)


def change_algorithm(repo: GitRepo, algorithm: str) -> list[str]:
    """Set the project's core.hash; the files changed. Every digest names its algorithm,
    so the ones recorded stay valid: a file gets the new one when it next changes."""
    current = algorithm_name(config.project_value(repo, "core.hash") or DEFAULT_ALGORITHM)
    if current == algorithm:
        return []
    config.set_value(repo, "core.hash", algorithm)
    output.info(f"core.hash is now {algorithm} (was {current}): files added or changed from now on get "
                f"{algorithm} digests; tracked files keep theirs until they change")
    return [CONFIG_PATH]
