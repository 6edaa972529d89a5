"""Step outputs: carried into the cache and recorded in the manifests after a run (so
they push, pull and restore like any tracked data), protected before a run, and
restored from the cache instead of recomputed when the inputs are ones seen before.

The run cache remembers, locally, which outputs each (command, inputs) produced:
`<git common dir>/data/runs/<2 hex>/<rest>.json`."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Mapping, NamedTuple

from gitdata.errors import GitDataError
from gitdata.paths import ensure_inside, is_under, leads_outside
from gitdata.pipeline.model import Step
from gitdata.project import Project


class Recorded(NamedTuple):
    outputs: dict[str, str]     # output file -> digest


class Settings(NamedTuple):
    algorithm: str
    default_method: str


def settings(project: Project) -> Settings:
    from gitdata import config

    method = config.get(project.repo, "core.method", "copy") or "copy"
    return Settings(config.hash_algorithm(project.repo), method)


def refuse_outside(project: Project, step: Step) -> None:
    """Outputs are recorded, overwritten and cleaned: never through a symlink that leads
    out of the worktree (an output directory linked to a scratch disk would swallow the
    files others keep there, then delete them). A file may be a symlink into the cache
    (the symlink checkout method); a directory may not."""
    from gitdata.pipeline.deps import files_under

    def refuse(rel: str) -> GitDataError:
        return GitDataError(f"refusing output '{rel}': a symlink leads it outside the repository")

    for out in step.outputs:
        if leads_outside(project.workdir, out.path, *(() if out.kind == "dir" else (project.cache.root,))):
            raise refuse(out.path)
        if out.kind == "dir" and (project.workdir / out.path).is_dir():
            links: set[str] = set()
            files_under(project.workdir, out.path, links)
            outside = sorted(rel for rel in links if leads_outside(project.workdir, rel, project.cache.root))
            if outside:
                raise refuse(outside[0])


def expand(project: Project, step: Step) -> tuple[list[str], list[str]]:
    """(output files as they are now, output directories); a declared output that is
    not there is an error: the command did not do what the step says."""
    from gitdata.pipeline.deps import files_under

    refuse_outside(project, step)
    files: list[str] = []
    dirs: list[str] = []
    for out in step.outputs:
        path = ensure_inside(project.workdir, out.path)
        if out.kind == "dir":
            if not path.is_dir():
                raise GitDataError(f"step '{step.name}' did not produce its output directory '{out.path}'")
            dirs.append(out.path)
            files += files_under(project.workdir, out.path)
        elif path.is_file():
            files.append(out.path)
        else:
            raise GitDataError(f"step '{step.name}' did not produce its output '{out.path}'")
    return sorted(set(files)), dirs


def record(project: Project, step: Step, config: Settings) -> Recorded:
    """Hash the outputs, carry them into the cache, record them in the manifests."""
    from gitdata.track import cache_files, ignore_targets
    from gitdata.track import record as record_manifests

    files, dirs = expand(project, step)
    tracked = project.tracked()
    result = cache_files(project, files, tracked, config.algorithm, None, config.default_method)
    changes = dict(result.changes)
    for directory in dirs:
        for rel in tracked.under(directory):
            if rel not in files:
                changes[rel] = None
    new_dirs = [d for d in dirs if d not in tracked.whole_dirs]
    new_files = [r for r in files if r not in tracked.files]
    ignore = [t for t in ignore_targets(new_files, dirs) if t not in tracked.whole_dirs]
    record_manifests(project, changes, whole_add=new_dirs, ignore=ignore)
    digests = {rel: (changes.get(rel) or tracked.files[rel]).digest for rel in files}  # type: ignore[union-attr]
    return Recorded(compact(project, step, digests, config.algorithm))


def compact(project: Project, step: Step, digests: dict[str, str], algorithm: str) -> dict[str, str]:
    """What the step file records: a digest per output file, and per output directory
    one digest of its listing (the listing itself is kept in the local run cache, and
    the manifests hold it too), so a directory of many files costs one line."""
    from gitdata.pipeline.deps import listing_digest

    recorded: dict[str, str] = {}
    for out in step.outputs:
        if out.kind == "dir":
            listing = {r: d for r, d in digests.items() if is_under(r, out.path)}
            key = "dir " + listing_digest(listing, algorithm)
            _save_listing(project, key, listing)
            recorded[out.path] = key
        elif out.path in digests:
            recorded[out.path] = digests[out.path]
    return recorded


def _listing_path(project: Project, key: str) -> Path:
    hexdigest = key.split(":", 1)[-1]
    return project.repo.data_dir / "runs" / "dirs" / hexdigest[:2] / f"{hexdigest[2:]}.json"


def _save_listing(project: Project, key: str, listing: dict[str, str]) -> None:
    from gitdata.fsutil import atomic_write

    path = _listing_path(project, key)
    if not path.exists():
        atomic_write(path, json.dumps(listing, sort_keys=True).encode("utf-8", "surrogateescape"))


def expand_record(project: Project, step: Step, recorded: dict[str, str]) -> dict[str, str] | None:
    """Recorded outputs as files and digests; None when a directory's listing is known
    neither to the run cache nor to the manifests."""
    from gitdata.hashing import is_digest
    from gitdata.paths import check_relpath
    from gitdata.pipeline.deps import listing_digest

    files: dict[str, str] = {}
    tracked = None
    for out in step.outputs:
        key = recorded.get(out.path)
        if key is None:
            return None
        if out.kind != "dir":
            files[out.path] = key
            continue
        listing = None
        try:
            data = json.loads(_listing_path(project, key).read_text())
            if all(isinstance(d, str) and is_digest(d) and is_under(check_relpath(r), out.path)
                   for r, d in data.items()):
                listing = data
        except (OSError, ValueError, AttributeError, GitDataError):
            pass
        if listing is None:
            tracked = tracked or project.tracked()
            from_manifests = {r: e.digest for r, e in tracked.under(out.path).items()}
            algorithm = key.split(" ", 1)[-1].split(":", 1)[0]
            if "dir " + listing_digest(from_manifests, algorithm) != key:
                return None
            listing = from_manifests
        files.update(listing)
    return files


def protect(project: Project, current: Mapping[str, str | None], algorithm: str) -> list[str]:
    """Carry existing output files whose content is nowhere else into the cache before a
    command may overwrite them. Returns the files carried in."""
    carried = []
    for rel, digest in current.items():
        if digest is None or project.cache.has(digest):
            continue
        path = project.workdir / rel
        if path.is_file():
            project.cache.add_file(path, algorithm)
            carried.append(rel)
    return carried


def clear(project: Project, files: Iterable[str]) -> None:
    """Remove the output files before the command runs (like DVC), once `protect` put
    their bytes in the cache: what is recorded afterwards is only what this command
    made, never a file an earlier command left in an output directory."""
    for rel in files:
        (project.workdir / rel).unlink(missing_ok=True)


def restorable(project: Project, files: dict[str, str] | None) -> bool:
    return bool(files) and all(project.cache.has(d) for d in files.values())  # type: ignore[union-attr]


def fetch_from_storage(project: Project, outputs: dict[str, str]) -> None:
    """Bring recorded outputs that are not in the cache from the default storage, when
    there is one; a failure only means the step is recomputed."""
    from gitdata.pipeline import settings

    if not any(key.startswith("storage.") for key in settings.values(project.repo)):
        return
    wanted = [d for d in outputs.values() if not project.cache.has(d)]
    try:
        from gitdata.transfer import download_missing

        download_missing(project, wanted)
    except (GitDataError, ImportError, OSError):
        pass


def restore(project: Project, outputs: dict[str, str], step: Step, config: Settings) -> Recorded:
    """Put the outputs (files and digests, see expand_record) back from the cache, then
    record them like a run would. Files they replace were protected first."""
    from gitdata.fsutil import materialise

    tracked = project.tracked()
    for out in step.outputs:   # a directory output holds exactly what was recorded
        if out.kind == "dir":
            from gitdata.pipeline.deps import files_under

            for rel in files_under(project.workdir, out.path):
                if rel not in outputs:
                    (project.workdir / rel).unlink()
    for rel, digest in sorted(outputs.items()):
        target = ensure_inside(project.workdir, rel)
        old = tracked.files.get(rel)
        method = old.method if old else config.default_method
        materialise(project.cache.path(digest), target, method, old.executable if old else False)
    return record(project, step, config)


# -- the run cache ---------------------------------------------------------------------------

def run_key(step: Step, snapshot: dict[str, str]) -> str:
    from gitdata.hashing import digest_bytes

    text = json.dumps([snapshot, sorted(step.outputs)], sort_keys=True)
    return digest_bytes(text.encode("utf-8", "surrogateescape"))[3:]


def _run_path(project: Project, key: str) -> Path:
    return project.repo.data_dir / "runs" / key[:2] / f"{key[2:]}.json"


def remember_run(project: Project, step: Step, snapshot: dict[str, str], outputs: dict[str, str]) -> None:
    if not outputs:
        return
    from gitdata.fsutil import atomic_write

    atomic_write(_run_path(project, run_key(step, snapshot)), json.dumps({"outputs": outputs}, sort_keys=True).encode())


def cached_run(project: Project, step: Step, snapshot: dict[str, str]) -> dict[str, str] | None:
    from gitdata.hashing import is_digest
    from gitdata.paths import check_relpath

    try:
        data = json.loads(_run_path(project, run_key(step, snapshot)).read_text())
        outputs = data["outputs"]
        if all(isinstance(d, str) and is_digest(d.removeprefix("dir ")) and check_relpath(r)
               for r, d in outputs.items()):
            return dict(outputs)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, GitDataError):
        pass
    return None
