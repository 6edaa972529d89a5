"""Project settings: `.gitdata/config` (committed, git-config syntax), overridable
per clone in `.git/config` under the same key with a `gitdata.` prefix
(e.g. `git config gitdata.core.hash sha256`)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gitdata.errors import GitDataError

if TYPE_CHECKING:
    import pygit2

    from gitdata.git import GitRepo

CONFIG_PATH = ".gitdata/config"
LOCAL_PREFIX = "gitdata."


def _file_config(repo: GitRepo) -> pygit2.Config:
    import pygit2

    path = repo.workdir / CONFIG_PATH
    if not path.exists():
        raise GitDataError("this repository has no .gitdata/config; run 'git data init' first")
    try:
        return pygit2.Config(str(path))
    except pygit2.GitError as exc:
        raise GitDataError(f"{CONFIG_PATH}: {exc}") from None


def _local_config(repo: GitRepo) -> pygit2.Config:
    import pygit2

    return pygit2.Config(str(repo.common_dir / "config"))


def values(repo: GitRepo) -> dict[str, str]:
    """All settings, local overrides applied; keys lower-cased like git does
    except for subsection names."""
    merged = dict(_pairs(_file_config(repo), CONFIG_PATH))
    for name, value in _pairs(_local_config(repo), str(repo.common_dir / "config")):
        if name.startswith(LOCAL_PREFIX):
            merged[name[len(LOCAL_PREFIX):]] = value
    return merged


def _pairs(config: pygit2.Config, source: str) -> list[tuple[str, Any]]:
    pairs = []
    for entry in config:
        try:
            pairs.append((entry.name, entry.value))
        except UnicodeDecodeError:  # a hostile or damaged file: one clear line, not a crash
            key = entry.raw_name.decode(errors="replace")
            raise GitDataError(f"{source}: a value is not valid UTF-8 (key {key})") from None
    return pairs


def get(repo: GitRepo, key: str, default: str | None = None) -> str | None:
    return values(repo).get(key, default)


def set_value(repo: GitRepo, key: str, value: str, local: bool = False) -> None:
    import pygit2

    config = _local_config(repo) if local else _file_config(repo)
    try:
        config[LOCAL_PREFIX + key if local else key] = value
    except (pygit2.GitError, ValueError) as exc:
        raise GitDataError(f"cannot set {key}: {exc}") from None


def unset(repo: GitRepo, key: str, local: bool = False) -> None:
    config = _local_config(repo) if local else _file_config(repo)
    name = LOCAL_PREFIX + key if local else key
    try:
        del config[name]
    except KeyError:
        pass


def hash_algorithm(repo: GitRepo) -> str:
    from gitdata.hashing import DEFAULT_ALGORITHM, algorithm_name

    return algorithm_name(get(repo, "core.hash", DEFAULT_ALGORITHM) or DEFAULT_ALGORITHM)
