"""git data status: tracked data that needs attention, grouped like git status."""
from __future__ import annotations

import argparse
from typing import Any

from gitdata import output
from gitdata.cleanmemo import workspace_status
from gitdata.project import Project, open_project, scopes_or_all, select
from gitdata.workspace import Status

GROUPS = (
    ("modified", "Modified (use 'git data commit' to record, 'git data checkout' to discard)", "red"),
    ("missing", "Missing (use 'git data checkout' to restore)", "red"),
    ("missing_not_in_cache", "Missing, and not in the cache (use 'git data pull' to fetch and restore)", "red"),
    ("not_in_cache", "Not in cache (use 'git data commit' to carry in)", "yellow"),
    ("untracked", "Untracked files in tracked directories (use 'git data add')", "red"),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", metavar="PATH")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("-c", "--check-storage", action="store_true", help="also list files not in the default storage")
    parser.add_argument("--storage", metavar="NAME", help="also list files not in this storage")
    parser.add_argument("-s", "--step-status", action="append", default=[], metavar="STATE",
                        help="only steps in these states: stale, upstream, error, fresh, disabled")
    parser.add_argument("-x", "--exclude-step-status", action="append", default=[], metavar="STATE",
                        help="hide steps in these states")


def run(args: argparse.Namespace) -> int:
    project = open_project()
    scopes = scopes_or_all(project, args.paths)
    status, total = workspace_status(project, scopes)
    groups = {name: getattr(status, name) for name in Status._fields}
    groups["missing_not_in_cache"] = to_fetch = _not_cached(project, status.missing)
    absent = storage_name = None
    if args.check_storage or args.storage:
        from gitdata.transfer import default_storage_name, not_in_storage

        absent = not_in_storage(project, select(project.tracked(), scopes, new_files=project.workdir), args.storage)
        storage_name = args.storage or default_storage_name(project)
    from gitdata.merge import conflicts_if_merging, conflicts_json, show_conflicts

    conflicts = conflicts_if_merging(project.repo)
    steps = pipeline_steps(project, args.step_status, args.exclude_step_status)
    if args.json:
        extra: dict[str, list[str] | list[dict[str, Any]]] = {"not_in_storage": absent} if absent is not None else {}
        if conflicts:
            extra["conflicts"] = conflicts_json(conflicts)
        if steps is not None:
            extra["steps"] = [state.as_json() for state in steps]
        output.print_json({**groups, **extra})   # "missing" lists every missing file
    else:
        if conflicts:
            show_conflicts(conflicts)
        fetch_first = set(to_fetch)
        groups["missing"] = [rel for rel in status.missing if rel not in fetch_first]
        show(groups, total, more_below=bool(absent))
        if absent:
            output.out()
            output.out(f"Not in storage '{storage_name}' (use 'git data push'):")
            for path in absent:
                output.out("\t" + output.color(output.quote_path(path), "yellow"))
        if steps:
            from gitdata.pipeline.report import show as show_steps

            output.out()
            show_steps(steps, output.out, output.color)
    return 0


def pipeline_steps(project, only: list[str], exclude: list[str]):  # type: ignore[no-untyped-def]
    """Pipeline steps and their freshness; None (at no cost) when there are no pipelines."""
    from gitdata.pipeline.model import has_pipelines

    if not has_pipelines(project.workdir):
        return None
    from gitdata.pipeline.report import check_states, step_states

    wanted, hidden = check_states(only), check_states(exclude)
    return [s for s in step_states(project) if (not wanted or s.state in wanted) and s.state not in hidden]


def _not_cached(project: Project, missing: list[str]) -> list[str]:
    """The missing files whose content the cache lacks too: checkout cannot bring them."""
    if not missing:
        return []
    files = project.tracked().files
    absent = project.cache.missing(files[rel].digest for rel in missing if rel in files)
    return [rel for rel in missing if rel in files and files[rel].digest in absent]


def show(groups: dict[str, list[str]], total: int, more_below: bool = False) -> None:
    shown = False
    for name, title, colour in GROUPS:
        paths = groups[name]
        if not paths:
            continue
        if shown:
            output.out()
        output.out(f"{title}:")
        for path in paths:
            output.out("\t" + output.color(output.quote_path(path), colour))
        shown = True
    if not shown and not more_below:
        output.out(f"Nothing to report: {total} tracked file(s) match their manifests.")
