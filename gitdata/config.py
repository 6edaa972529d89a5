"""Project settings: `.gitdata/config` (committed, git-config syntax), overridable
per clone in `.git/config` under the same key with a `gitdata.` prefix
(e.g. `git config gitdata.core.hash sha256`)."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from gitdata.errors import GitDataError
from gitdata.git import git_error

if TYPE_CHECKING:
    import subprocess

    from gitdata.git import GitRepo

CONFIG_PATH = ".gitdata/config"
LOCAL_PREFIX = "gitdata."


def git_config_file(path: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    """`git config --file PATH ARGS`: git's own parser, and no include.path followed
    (a committed file must not make us read others)."""
    import subprocess

    return subprocess.run(["git", "config", "--file", str(path), *args], capture_output=True, stdin=subprocess.DEVNULL)


_committed: dict[Path, Path] = {}   # worktree -> a commit's .gitdata/config, read in its place


def read_committed(repo: GitRepo, rev: str) -> bool:
    """Read the settings as `rev` commits them while this checkout has none (a push
    from a branch without git-data of one with it); False when `rev` has none either."""
    from gitdata.git import run_git

    shown = run_git(repo, ["cat-file", "blob", f"{rev}:{CONFIG_PATH}"])
    if shown.returncode:
        return False
    copy = repo.data_dir / "tmp" / "committed-config"
    copy.parent.mkdir(parents=True, exist_ok=True)
    copy.write_bytes(shown.stdout)
    _committed[repo.workdir] = copy
    return True


def _file_path(repo: GitRepo) -> Path:
    path = repo.workdir / CONFIG_PATH
    if not path.exists():
        if repo.workdir in _committed:
            return _committed[repo.workdir]
        raise GitDataError("this repository has no .gitdata/config; run 'git data init' first")
    return path


def _local_path(repo: GitRepo) -> Path:
    return repo.common_dir / "config"


def file_pairs(path: Path, source: str) -> list[tuple[str, str]]:
    """(key, value) pairs of a config file in order; a key without '=' reads as 'true'."""
    if not path.exists():
        return []
    proc = git_config_file(path, "--list", "-z")
    if proc.returncode:
        raise GitDataError(f"{source}: {git_error(proc.stderr)}")
    pairs = []
    for item in proc.stdout.split(b"\0")[:-1]:
        key, newline, value = item.partition(b"\n")
        try:
            pairs.append((key.decode(), value.decode() if newline else "true"))
        except UnicodeDecodeError:  # a hostile or damaged file: one clear line, not a crash
            raise GitDataError(f"{source}: a value is not valid UTF-8 (key {key.decode(errors='replace')})") from None
    return pairs


_memo: dict[tuple[Path, Path], tuple[tuple[tuple[int, ...], ...], dict[str, str]]] = {}


def values(repo: GitRepo) -> dict[str, str]:
    """All settings, local overrides applied; keys lower-cased like git does
    except for subsection names. Read once per process while the files stay put."""
    shared, local = _file_path(repo), _local_path(repo)
    stamp = tuple(_stamp(path) for path in (shared, local))
    known = _memo.get((shared, local))
    if known is not None and known[0] == stamp:
        return dict(known[1])
    merged = dict(file_pairs(shared, CONFIG_PATH))
    for name, value in file_pairs(local, str(local)):
        if name.startswith(LOCAL_PREFIX):
            merged[name[len(LOCAL_PREFIX):]] = value
    _memo[(shared, local)] = (stamp, merged)
    return dict(merged)


def _stamp(path: Path) -> tuple[int, ...]:
    try:
        st = path.stat()
    except FileNotFoundError:
        return ()
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def get(repo: GitRepo, key: str, default: str | None = None) -> str | None:
    return values(repo).get(key, default)


def project_value(repo: GitRepo, key: str) -> str | None:
    """A setting as .gitdata/config has it, without this clone's override."""
    return dict(file_pairs(_file_path(repo), CONFIG_PATH)).get(key)


def set_value(repo: GitRepo, key: str, value: str, local: bool = False) -> None:
    path = _local_path(repo) if local else _file_path(repo)
    proc = git_config_file(path, "--replace-all", LOCAL_PREFIX + key if local else key, value)
    if proc.returncode:
        raise GitDataError(f"cannot set {key}: {git_error(proc.stderr)}")
    _memo.clear()


def unset(repo: GitRepo, key: str, local: bool = False) -> None:
    path = _local_path(repo) if local else _file_path(repo)
    proc = git_config_file(path, "--unset-all", LOCAL_PREFIX + key if local else key)
    if proc.returncode not in (0, 5):  # 5: the key was not set
        raise GitDataError(f"cannot unset {key}: {git_error(proc.stderr)}")
    _memo.clear()


def remove_section(repo: GitRepo, section: str, local: bool = False) -> None:
    """Drop a section with what is left in it (the empty header git keeps once its last
    key is gone); nothing happens if there is none."""
    path = _local_path(repo) if local else _file_path(repo)
    git_config_file(path, "--remove-section", LOCAL_PREFIX + section if local else section)
    _memo.clear()


def hash_algorithm(repo: GitRepo) -> str:
    from gitdata.hashing import DEFAULT_ALGORITHM, algorithm_name

    return algorithm_name(get(repo, "core.hash", DEFAULT_ALGORITHM) or DEFAULT_ALGORITHM)
