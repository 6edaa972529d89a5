"""Another git-data repository to import from: a local path (read in place) or a git
URL (cloned bare into a temp dir). Its manifests are read at a revision, and its
objects come from its local cache (when it is on this machine) or from its default
storage, opened with that repository's own `.gitdata/config`.

Everything read from it is untrusted: manifest paths are checked by the manifest
parser, objects are verified against their digests, and a storage that would run
commands from its config (the generic kind) is refused."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, NamedTuple

from gitdata.errors import GitDataError
from gitdata.git import GitRepo, find_repo, resolve_commit
from gitdata.hashing import digest_file, parse_digest
from gitdata.manifest import Entry, Tracked, read_tree
from gitdata.paths import is_under

if TYPE_CHECKING:
    from gitdata.project import Project
    from gitdata.storage import Storage


class Source(NamedTuple):
    repo: GitRepo
    url: str            # as recorded in provenance: an absolute path or the URL
    rev: str
    commit: str
    local: bool         # its cache is on this machine


def _is_local(url: str) -> bool:
    if url.startswith("file://"):
        return False  # let git clone handle it like any URL
    return os.path.isdir(os.path.expanduser(url))


@contextmanager
def open_source(url: str, rev: str | None) -> Iterator[Source]:
    rev = rev or "HEAD"
    if _is_local(url):
        path = Path(os.path.expanduser(url)).resolve()
        if (path / "HEAD").is_file() and (path / "objects").is_dir():
            repo = GitRepo(path, path, path)
        else:
            repo = find_repo(path)
        yield Source(repo, str(path), rev, str(resolve_commit(repo, rev).id), True)
        return
    with tempfile.TemporaryDirectory(prefix="git-data-import-") as tmp:
        bare = Path(tmp) / "source.git"
        _clone(url, rev, bare)
        repo = GitRepo(bare, bare, bare)
        yield Source(repo, url, rev, str(resolve_commit(repo, rev).id), False)


_BRANCH_NAME = re.compile(r"^(?!-)[A-Za-z0-9._/-]+$")
_HEXISH = re.compile(r"^[0-9a-f]{7,40}$")


def _clone(url: str, rev: str, target: Path) -> None:
    """A bare clone; only the one commit when `rev` is HEAD or a branch or tag name
    (imports read a single commit), else the full history."""
    attempts: list[list[str]] = []
    if rev == "HEAD":
        attempts.append(["--depth", "1"])
    elif _BRANCH_NAME.match(rev) and not _HEXISH.match(rev) and ".." not in rev:
        attempts.append(["--depth", "1", "--branch", rev])
    attempts.append([])
    detail = "git clone failed"
    for extra in attempts:
        shutil.rmtree(target, ignore_errors=True)
        proc = subprocess.run(["git", "clone", "--bare", "--quiet", *extra, "--", url, str(target)],
                              stdin=subprocess.DEVNULL, capture_output=True, text=True)
        if proc.returncode == 0:
            return
        lines = proc.stderr.strip().splitlines()
        fatal = [line for line in lines if line.startswith("fatal:")]
        detail = (fatal or lines or [detail])[0].removeprefix("fatal: ")
    raise GitDataError(f"cannot clone '{url}': {detail}")


def tracked(source: Source) -> Tracked:
    from gitdata.git import subtree

    return read_tree(source.repo, subtree(resolve_commit(source.repo, source.commit).tree, ".gitdata"))


def select_files(source: Source, src: str) -> tuple[dict[str, Entry], bool]:
    """Entries at `src` (a file or a directory), keyed by their path relative to src
    ('' for a single file), and whether src is a directory."""
    everything = tracked(source)
    if src in everything.files:
        return {"": everything.files[src]}, False
    found = {rel[len(src) + 1:] if src else rel: e for rel, e in everything.files.items() if is_under(rel, src)}
    if not found:
        raise GitDataError(f"'{src}' is not tracked by git-data in {source.url} at {source.rev}")
    return found, True


def _settings(source: Source) -> dict[str, str]:
    """The source's `.gitdata/config` at the imported commit, plus its clone-local overrides."""
    import pygit2

    from gitdata.git import blob_at

    data = blob_at(source.repo, source.commit, ".gitdata/config")
    settings: dict[str, str] = {}
    if data is not None:
        with tempfile.NamedTemporaryFile(prefix="git-data-config-", delete=False) as handle:
            handle.write(data)
        try:
            settings = {e.name: e.value or "" for e in pygit2.Config(handle.name)}
        except pygit2.GitError as exc:
            raise GitDataError(f"{source.url}: .gitdata/config: {exc}") from None
        finally:
            os.unlink(handle.name)
    if source.local:
        local = source.repo.common_dir / "config"
        if local.is_file():
            for e in pygit2.Config(str(local)):
                if e.name.startswith("gitdata."):
                    settings[e.name[len("gitdata."):]] = e.value or ""
    return settings


def open_default_storage(source: Source) -> Storage | None:
    from gitdata.storage import open_storage, storage_config

    settings = _settings(source)
    name: str | None = settings.get("core.defaultstorage")
    if not name:
        names = sorted({k[len("storage."):-len(".url")] for k in settings
                        if k.startswith("storage.") and k.endswith(".url")})
        name = names[0] if len(names) == 1 else None
    if name is None:
        return None
    config = storage_config(settings, name)
    if config.kind == "generic":
        raise GitDataError(f"{source.url}: storage '{name}' runs commands from that repository's config; "
                           "importing from it is refused (push the data to a storage of another kind)")
    return open_storage(source.repo, config)


def _source_cache_path(source: Source, digest: str) -> Path | None:
    if not source.local:
        return None
    algorithm, hexdigest = parse_digest(digest)
    path = source.repo.data_dir / "cache" / algorithm / hexdigest[:2] / hexdigest[2:]
    return path if path.is_file() else None


def fetch_objects(source: Source, digests: list[str], new_temp: Callable[[], Path],
                  deliver: Callable[[str, Path], None]) -> None:
    """Get each object into a temp file (from the source's cache, else its storage) and
    hand it to `deliver(digest, tmp)`, which verifies it and moves it into place."""
    storage: Storage | None = None
    storage_opened = False
    lacking = []
    for digest in sorted(set(digests)):
        tmp = new_temp()
        try:
            cached = _source_cache_path(source, digest)
            if cached is not None:
                shutil.copyfile(cached, tmp)
            else:
                if not storage_opened:
                    storage, storage_opened = open_default_storage(source), True
                if storage is None or digest not in storage.exists([digest]):
                    lacking.append(digest)
                    continue
                storage.download(digest, tmp)
            deliver(digest, tmp)
        finally:
            tmp.unlink(missing_ok=True)
    if lacking:
        where = "its cache nor its default storage" if storage is not None else \
            "its cache, and it has no default storage"
        more = f" (and {len(lacking) - 1} more)" if len(lacking) > 1 else ""
        raise GitDataError(f"object {lacking[0]}{more} of {source.url} is in neither {where}")


def into_cache(project: Project, source: Source, digests: list[str]) -> None:
    missing = [d for d in digests if not project.cache.has(d)]
    if missing:
        fetch_objects(source, missing, project.cache.new_temp, lambda digest, tmp: project.cache.adopt(tmp, digest))


def verified_move(digest: str, tmp: Path, target: Path) -> None:
    actual = digest_file(tmp, parse_digest(digest).algorithm)
    if actual != digest:
        raise GitDataError(f"object {digest} is corrupt (its content hashes to {actual})")
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, target)
