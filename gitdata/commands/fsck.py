"""git data fsck: verify every cache object against its digest, every manifest's syntax
(at HEAD and in the workspace), and that every object they reference is in the cache
or the storage. Corrupt objects are moved aside to `<data dir>/corrupt/` so the next
fetch can bring a good copy."""
from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Iterator, NamedTuple

from gitdata import history, output
from gitdata.errors import GitDataError
from gitdata.fsutil import is_temp_name, remove_if_stale
from gitdata.hashing import digest_file, parse_digest
from gitdata.manifest import TREE_DIR, MANIFEST_NAME, directory_of, parse
from gitdata.paths import join
from gitdata.project import Project, open_project
from gitdata.workspace import parallel_map


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--storage", metavar="NAME",
                        help="look for objects missing from the cache in this storage (default: the default storage)")
    parser.add_argument("--no-storage", action="store_true", help="do not ask any storage about missing objects")
    parser.add_argument("--json", action="store_true", help="machine-readable report")


class Problem(NamedTuple):
    kind: str       # corrupt, stray, manifest, missing
    subject: str
    detail: str


class Report(NamedTuple):
    objects: int
    manifests: int
    referenced: int
    problems: list[Problem]


def run(args: argparse.Namespace) -> int:
    project = open_project()
    report = fsck(project, None if args.no_storage else args.storage, use_storage=not args.no_storage)
    if args.json:
        output.print_json({"objects": report.objects, "manifests": report.manifests,
                           "referenced": report.referenced, "ok": not report.problems,
                           "problems": [p._asdict() for p in report.problems]})
    else:
        for problem in report.problems:
            output.out(f"{problem.kind}: {problem.subject}: {problem.detail}")
        output.out(f"checked {report.objects} object(s), {report.manifests} manifest(s), "
                   f"{report.referenced} referenced object(s): "
                   + (f"{len(report.problems)} problem(s)" if report.problems else "all good"))
    return 1 if report.problems else 0


def fsck(project: Project, storage_name: str | None = None, use_storage: bool = True) -> Report:
    problems = list(check_objects(project))
    objects = sum(1 for _ in project.cache.digests()) + sum(1 for p in problems if p.kind == "corrupt")
    manifests = 0
    referenced: dict[str, str] = {}
    in_workspace: dict[str, str] = {}
    for source, relpath, data in manifest_files(project):
        manifests += 1
        try:
            directory = directory_of(relpath)
            entries, _ = parse(data, f"{source}:{TREE_DIR}/{relpath}")
        except GitDataError as exc:
            problems.append(Problem("manifest", f"{source}:{TREE_DIR}/{relpath}", str(exc)))
            continue
        for name, entry in entries.items():
            referenced.setdefault(entry.digest, f"{source}:{join(directory, name)}")
            if source == "workspace":
                in_workspace.setdefault(entry.digest, join(directory, name))
    recover_from_workspace(project, [d for d in in_workspace if not project.cache.has(d)], in_workspace)
    problems += missing_objects(project, referenced, storage_name, use_storage)
    return Report(objects, manifests, len(referenced), problems)


def check_objects(project: Project) -> Iterator[Problem]:
    cache = project.cache

    def verify(digest: str) -> Problem | None:
        actual = digest_file(cache.path(digest), parse_digest(digest).algorithm)
        if actual == digest:
            return None
        moved = move_aside(project, digest)
        return Problem("corrupt", digest, f"content hashes to {actual}; moved to {moved}")

    digests = []
    for path, digest in cache.entries():
        if digest is None:
            yield Problem("stray", path, "not a cache object; left in place")
        else:
            digests.append(digest)
    with output.progress("Verifying", len(digests)) as bar:
        for problem in parallel_map(verify, digests):
            bar.advance()
            if problem is not None:
                yield problem


def move_aside(project: Project, digest: str) -> Path:
    algorithm, hexdigest = parse_digest(digest)
    target_dir = project.repo.data_dir / "corrupt"
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / f"{algorithm}-{hexdigest}"
    number = 1
    while target.exists():
        target = target_dir / f"{algorithm}-{hexdigest}.{number}"
        number += 1
    os.replace(project.cache.path(digest), target)
    return target


def manifest_files(project: Project) -> Iterator[tuple[str, str, bytes]]:
    """(source, path relative to .gitdata/tree, content) at HEAD and in the workspace."""
    repo = project.repo
    if not repo.raw.head_is_unborn:
        from gitdata.git import subtree, walk_blobs

        tree = subtree(history.gitdata_tree(repo, "HEAD"), "tree")
        if tree is not None:
            for relpath, data in walk_blobs(repo, tree):
                yield "HEAD", relpath, data
    root = project.workdir / TREE_DIR
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            relpath = Path(dirpath, name).relative_to(root).as_posix()
            if is_temp_name(name):  # a manifest write a killed process left half done
                remove_if_stale(os.path.join(dirpath, name))
                if not os.path.exists(os.path.join(dirpath, name)):
                    continue
            if name != MANIFEST_NAME:
                yield "workspace", relpath, b""
                continue
            yield "workspace", relpath, Path(dirpath, name).read_bytes()


def recover_from_workspace(project: Project, digests: list[str], paths: dict[str, str]) -> None:
    """A missing (or just moved aside) object whose workspace file still holds exactly
    that content is carried back into the cache."""
    for digest in digests:
        rel = paths[digest]
        path = project.workdir / rel
        if not path.is_file():
            continue
        try:
            project.cache.add_file(path, parse_digest(digest).algorithm, expected=digest)
        except (GitDataError, OSError):
            continue
        output.info(f"recovered {digest} from the workspace file '{rel}'")


def missing_objects(project: Project, referenced: dict[str, str], storage_name: str | None,
                    use_storage: bool) -> list[Problem]:
    missing = sorted(d for d in referenced if not project.cache.has(d))
    if not missing:
        return []
    where = "the cache"
    if use_storage:
        from gitdata import transfer

        name = storage_name or transfer.default_storage_name(project)
        if name is not None:
            try:
                present = transfer.open_named_storage(project, name).exists(missing)
            except GitDataError as exc:   # fsck reports what it can; the storage's problem is one line
                output.warn(f"{exc}; objects missing from the cache were not looked for there")
            else:
                missing = [d for d in missing if d not in present]
                where = f"the cache nor storage '{name}'"
    return [Problem("missing", referenced[d], f"object {d} is in neither {where}" if where != "the cache"
                    else f"object {d} is not in the cache") for d in missing]
