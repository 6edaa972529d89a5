"""git data metrics [show|diff -r A..B]: the values in steps' metric outputs, and how they
changed between revisions (or between a revision and the workspace)."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TypeGuard

from gitdata import output
from gitdata.errors import GitDataError, UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", nargs="?", choices=("show", "diff"), default="show", help="show (default) or diff")
    parser.add_argument("paths", nargs="*", metavar="FILE", help="metric files (default: every step's metrics)")
    parser.add_argument("-p", "--pipeline-name", "--pipeline", dest="pipeline", metavar="PIPELINE",
                        help="only this pipeline's metrics")
    parser.add_argument("-r", "--revisions", "--rev", dest="revisions", metavar="A..B",
                        help="show: at revision A; diff: from A to B (B empty: the workspace; default HEAD..)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def metric_files(workdir: Path, pipeline: str | None) -> list[str]:
    from gitdata.pipeline import model

    names = [model.resolve_pipeline(workdir, pipeline)] if pipeline else model.pipeline_names(workdir)
    found: set[str] = set()
    for name in names:
        for step in model.load_steps(workdir, name):
            found.update(o.path for o in step.outputs if o.kind == "metric")
    return sorted(found)


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat.update(flatten(item, f"{prefix}{key}."))
        return flat
    if isinstance(value, list):
        flat = {}
        for index, item in enumerate(value):
            flat.update(flatten(item, f"{prefix}{index}."))
        return flat
    return {prefix.rstrip("."): value}


def parse_metrics(data: bytes, rel: str) -> dict[str, Any]:
    import json

    suffix = Path(rel).suffix.lower()
    try:
        if suffix == ".json":
            value = json.loads(data)
        elif suffix == ".toml":
            import tomllib

            value = tomllib.loads(data.decode("utf-8"))
        else:
            import yaml

            value = yaml.load(data, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except Exception as exc:  # noqa: BLE001 - three parsers
        raise GitDataError(f"cannot parse metrics file {rel}: {str(exc).splitlines()[0] if str(exc) else exc}") \
            from None
    return flatten(value)


def content_at(project: Any, rev: str | None, rel: str) -> bytes | None:
    """A metric file's bytes in the workspace (rev None) or at a revision: through its
    manifest entry and the cache, or from git when git tracks it."""
    if rev is None:
        try:
            return (project.workdir / rel).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None
    from gitdata import git, manifest

    tracked = manifest.read_tree(project.repo, git.gitdata_tree(project.repo, rev))
    entry = tracked.files.get(rel)
    if entry is not None:
        if not project.cache.has(entry.digest):
            raise GitDataError(f"{rel} at {rev} is not in the cache (run 'git data fetch')")
        return project.cache.path(entry.digest).read_bytes()
    return git.blob_at(project.repo, rev, rel)


def values_at(project: Any, rev: str | None, files: list[str]) -> dict[str, dict[str, Any]]:
    found = {}
    for rel in files:
        data = content_at(project, rev, rel)
        if data is not None:
            found[rel] = parse_metrics(data, rel)
    return found


def run(args: argparse.Namespace) -> int:
    from gitdata.project import open_project, relpaths

    project = open_project()
    files = relpaths(project, args.paths) if args.paths else metric_files(project.workdir, args.pipeline)
    if not files:
        output.info("no metrics: declare them with 'git data step out STEP --metric FILE'")
        if args.json:
            output.print_json({})
        return 0
    if args.action == "show":
        rev = args.revisions
        if rev and ".." in rev:
            raise UsageError("git data metrics show: -r takes one revision")
        found = values_at(project, rev, files)
        if args.json:
            output.print_json(found)
            return 0
        for rel, values in found.items():
            for key, value in values.items():
                output.out(f"{rel}\t{key}\t{value}")
        missing = [rel for rel in files if rel not in found]
        for rel in missing:   # a named file is an error; a declared metric not made yet is not
            (output.error if args.paths else output.warn)(f"{rel} does not exist" + (f" at {rev}" if rev else ""))
        return 1 if args.paths and missing else 0
    old_rev, _, new_rev = (args.revisions or "HEAD..").partition("..")
    old = values_at(project, old_rev or "HEAD", files)
    new = values_at(project, new_rev or None, files)
    rows = []
    for rel in files:
        keys = sorted(set(old.get(rel, {})) | set(new.get(rel, {})))
        for key in keys:
            a, b = old.get(rel, {}).get(key), new.get(rel, {}).get(key)
            if a == b:
                continue
            change = b - a if _number(a) and _number(b) else None
            rows.append({"path": rel, "key": key, "old": a, "new": b, "change": change})
    if args.json:
        output.print_json(rows)
        return 0
    if not rows:
        output.info("no metric changed")
    for row in rows:
        change_text = f"\t{row['change']:+g}" if row["change"] is not None else ""
        output.out(f"{row['path']}\t{row['key']}\t{_show(row['old'])} -> {_show(row['new'])}{change_text}")
    return 0


def _number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _show(value: Any) -> str:
    return "-" if value is None else str(value)
