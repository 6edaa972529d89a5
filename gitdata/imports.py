"""Imported data: files that come from a URL or from another git-data repository,
tracked with their provenance in the manifest entry's key=value fields:

    url=  etag=  last-modified=  agent=           (import-url)
    repo=  rev=  commit=  src=  dest=              (import from a repository)

A URL import kept in git itself (`import-url --git`) has no manifest entry; its
provenance lives in `.gitdata/imports` (git-config syntax), one section per path."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Mapping

from gitdata import git, output
from gitdata.errors import GitDataError
from gitdata.fsutil import atomic_write, materialise
from gitdata.hashing import digest_file, parse_digest
from gitdata.manifest import Entry, Tracked
from gitdata.paths import ensure_inside, is_under
from gitdata.project import Project
from gitdata.track import ignore_targets, record

URL_KEYS = ("url", "etag", "last-modified", "agent")
REPO_KEYS = ("repo", "rev", "commit", "src", "dest")
GIT_IMPORTS = ".gitdata/imports"


def provenance(pairs: Iterable[tuple[str, str | None]]) -> tuple[tuple[str, str], ...]:
    return tuple((k, v) for k, v in pairs if v)


def check_target(project: Project, rel: str, tracked: Tracked, force: bool) -> None:
    """Refuse to overwrite a workspace file whose bytes exist nowhere else; with
    `force` they are carried into the cache first."""
    path = ensure_inside(project.workdir, rel)
    if not os.path.lexists(path):
        return
    if path.is_dir() and not path.is_symlink():
        raise GitDataError(f"'{rel}' is a directory; give a file path")
    if path.is_symlink() and not path.exists():
        return
    entry = tracked.files.get(rel)
    algorithm = parse_digest(entry.digest).algorithm if entry else _algorithm(project)
    digest = digest_file(path, algorithm)
    if project.cache.has(digest) or (rel in git.index_paths(project.repo) and _in_head(project, rel)):
        return
    if not force:
        raise GitDataError(f"'{rel}' exists and its content is not in the cache; commit it, move it away, "
                           "or use --force (its content is kept in the cache)")
    project.cache.add_file(path, algorithm)


def _in_head(project: Project, rel: str) -> bool:
    """A file whose exact content git holds (staged or committed) is safe to overwrite."""
    import pygit2

    data = (project.workdir / rel).read_bytes()
    oid = pygit2.hash(data)
    index = project.repo.raw.index
    if rel in index and index[rel].id == oid:
        return True
    if project.repo.raw.head_is_unborn:
        return False
    return git.blob_at(project.repo, "HEAD", rel) == data


def _algorithm(project: Project) -> str:
    from gitdata.config import hash_algorithm

    return hash_algorithm(project.repo)


def check_not_in_git(project: Project, rels: Iterable[str]) -> None:
    in_git = git.index_paths(project.repo)
    for rel in rels:
        if rel in in_git:
            raise GitDataError(f"'{rel}' is tracked by git; remove it from git first ('git rm --cached {rel}')")


def place(project: Project, rel: str, entry: Entry) -> None:
    materialise(project.cache.path(entry.digest), ensure_inside(project.workdir, rel), entry.method, entry.executable)


def record_imports(project: Project, changes: Mapping[str, Entry | None], whole_dirs: Iterable[str] = ()) -> list[str]:
    """Write the manifests and .gitignore entries for imported paths; returns what was staged."""
    tracked = project.tracked()
    whole = sorted(set(whole_dirs))
    added = [rel for rel, entry in changes.items() if entry is not None]
    return record(project, dict(changes), whole_add=[d for d in whole if d not in tracked.whole_dirs],
                  ignore=ignore_targets(added, whole))


def remove_if_safe(project: Project, rel: str, entry: Entry, force: bool = False) -> bool:
    """Delete a workspace file that an update dropped, only when its content is in the
    cache; with `force`, a modified one is carried into the cache first."""
    path = project.workdir / rel
    if not os.path.lexists(path):
        return True
    algorithm = parse_digest(entry.digest).algorithm
    if path.is_symlink() or project.cache.has(digest_file(path, algorithm)):
        path.unlink()
        return True
    if force:
        digest, _ = project.cache.add_file(path, algorithm)
        path.unlink()
        output.warn(f"'{rel}' is no longer in the source; removed, its local changes kept in the cache as {digest}")
        return True
    output.warn(f"'{rel}' is no longer in the source but was modified here; kept "
                "(--force removes it, keeping its content in the cache)")
    return False


def imported_paths(tracked: Tracked, scopes: list[str]) -> dict[str, Entry]:
    return {rel: e for rel, e in tracked.files.items()
            if (e.get("url") or e.get("repo")) and any(is_under(rel, s) for s in scopes)}


# -- imports kept in git -----------------------------------------------------

def _imports_config(project: Project, create: bool = False):  # type: ignore[no-untyped-def]
    import pygit2

    path = project.workdir / GIT_IMPORTS
    if not path.exists():
        if not create:
            return None
        atomic_write(path, b"# provenance of files imported into git by 'git data import-url --git'\n")
    return pygit2.Config(str(path))


def git_imports(project: Project) -> dict[str, dict[str, str]]:
    """path -> provenance of URL imports stored in git."""
    config = _imports_config(project)
    if config is None:
        return {}
    found: dict[str, dict[str, str]] = {}
    for item in config:
        section, _, key = item.name.rpartition(".")
        if not section.startswith("import."):
            continue
        found.setdefault(section[len("import."):], {})[key] = item.value
    return found


def set_git_import(project: Project, rel: str, fields: Mapping[str, str | None]) -> None:
    config = _imports_config(project, create=True)
    for key in ("url", "etag", "last-modified", "agent", "digest"):
        name = f'import.{rel}.{key}'
        value = fields.get(key)
        if value:
            config[name] = value
        else:
            try:
                del config[name]
            except KeyError:
                pass


def write_into_git(project: Project, rel: str, tmp: Path) -> None:
    """Put a downloaded file at `rel` and stage it in git's index."""
    target = ensure_inside(project.workdir, rel)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(tmp, 0o644 & ~_umask())
    os.replace(tmp, target)
    git.stage(project.repo, [rel, GIT_IMPORTS])


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
