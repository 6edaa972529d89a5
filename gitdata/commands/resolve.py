"""git data resolve: settle data merge conflicts left by `git merge`, `pull`, `rebase`."""
from __future__ import annotations

import argparse
import os

from gitdata import git, manifest, merge, output, sync
from gitdata.errors import GitDataError, UsageError
from gitdata.manifest import Entry
from gitdata.merge import Conflict
from gitdata.paths import is_under
from gitdata.project import Project, open_project, relpaths


def add_arguments(parser: argparse.ArgumentParser) -> None:
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--ours", dest="mode", action="store_const", const="ours",
                      help="keep the version of the branch you are on")
    mode.add_argument("--theirs", dest="mode", action="store_const", const="theirs",
                      help="take the version of the branch being merged")
    mode.add_argument("--both", dest="mode", action="store_const", const="both",
                      help="keep ours at PATH and theirs beside it as name.<branch>.ext")
    parser.add_argument("paths", nargs="*", metavar="PATH", help="conflicted files or directories ('.' for all)")
    parser.add_argument("--json", action="store_true", help="machine-readable list of conflicts")


def run(args: argparse.Namespace) -> int:
    project = open_project()
    conflicts = merge.load_conflicts(project.repo)
    if args.mode is None:
        if args.paths:
            raise UsageError("say how to settle: --ours, --theirs or --both")
        show(conflicts, args.json)
        return 0
    if not args.paths:
        raise UsageError("name the conflicted files to settle ('.' for all of them)")
    scopes = relpaths(project, args.paths)
    chosen = [c for c in conflicts if any(is_under(c.path, s) for s in scopes)]
    for scope in scopes:
        if not any(is_under(c.path, scope) for c in conflicts):
            raise GitDataError(f"'{scope or '.'}' has no data conflict" + ("" if conflicts else " (there are none)"))
    settled = resolve(project, chosen, args.mode)
    left = len(conflicts) - len(settled)
    output.info(f"settled {len(settled)} conflict(s) with --{args.mode}"
                + (f"; {left} left (see 'git data status')" if left else ""))
    if args.json:
        output.print_json({"settled": settled, "left": left})
    return 0


def show(conflicts: list[Conflict], as_json: bool) -> None:
    if as_json:
        output.print_json(merge.conflicts_json(conflicts))
        return
    if not conflicts:
        output.out("No data conflicts.")
        return
    for c in conflicts:
        output.out(f"{c.path}\tours ({c.ours_label}): {merge.short(c.ours)}\ttheirs ({c.theirs_label}): {merge.short(c.theirs)}")


def resolve(project: Project, conflicts: list[Conflict], mode: str) -> list[str]:
    """Settle these conflicts; returns their paths. Updates the manifests, the
    workspace files, and stages each manifest once none of its conflicts is left."""
    from gitdata.gitignore import ignore_paths
    from gitdata.workspace import recheck

    repo = project.repo
    tracked = project.tracked()
    changes: dict[str, Entry | None] = {}
    renamed: list[str] = []
    for c in conflicts:
        keep = c.ours if mode in ("ours", "both") else c.theirs
        changes[c.path] = keep
        if mode == "both" and c.theirs is not None:
            other = merge.both_name(c.path, c.theirs_label)
            if other in tracked.files or os.path.lexists(project.workdir / other):
                raise GitDataError(f"cannot keep theirs as '{other}': that path exists; use --ours or --theirs")
            changes[other] = c.theirs
            renamed.append(other)
    wanted = {rel: e for rel, e in changes.items() if e is not None}
    sync.fetch_missing(project, wanted, None)
    gone = {c.path: c.ours for c in conflicts if changes[c.path] is None and c.ours is not None}
    removed, kept_gone = sync.remove_untracked(project, gone)
    written = manifest.update(repo, changes)
    whole = tracked.whole_dirs
    staged = ignore_paths(project.workdir, [r for r in renamed if not any(is_under(r, d) for d in whole)])
    result = recheck(repo, wanted, project.cache, project.stat_cache())
    by_manifest: dict[str, set[str]] = {}
    for c in conflicts:
        by_manifest.setdefault(c.manifest, set()).add(c.path.rsplit("/", 1)[-1])
    for relpath, names in by_manifest.items():
        if merge.drop_resolved(repo, relpath, names):
            staged.append(relpath)
    git.stage(repo, sorted(set(staged) | (set(written) - set(by_manifest))))
    others = sync.sync(project, sync.changes_against_head(repo))
    sync.report(sync.SyncResult(sorted(set(result.restored) | set(others.restored)), removed + others.removed,
                                sorted(set(result.kept + others.kept)),
                                sorted(set(result.unavailable + others.unavailable)), others.fetched,
                                sorted(set(result.blocked + others.blocked)), sorted(set(kept_gone + others.left))),
                "resolve")
    return sorted(c.path for c in conflicts)
