"""git data gc: remove cache (or storage) objects no longer needed.

By default only garbage goes: objects that nothing reachable from a ref (any ref under
refs/, stashes, reflogs, every worktree's HEAD and pseudo refs), no staged and no
workspace manifest references. Retention options narrow what is kept; an object
outside the policy that some local commit still references is removed only when a
storage holds a copy (or with --force), so gc never silently deletes the last copy of
a committed version."""
from __future__ import annotations

import argparse
import os
import time
from typing import NamedTuple

from gitdata import history, output
from gitdata.errors import UsageError
from gitdata.locks import lock
from gitdata.project import Project, open_project
from gitdata.retention import Policy, parse_duration, policy_keeps

DEFAULT_GRACE = "10m"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-w", "--workspace", action="store_true",
                        help="keep only what HEAD and the workspace manifests (of every worktree) use")
    parser.add_argument("-a", "--all-branches", action="store_true",
                        help="keep what the tips of all branches, tags and stashes use (not their history)")
    parser.add_argument("--keep", type=int, metavar="N", help="keep the N newest versions of every tracked path")
    parser.add_argument("--older-than", metavar="AGE",
                        help="remove versions only used by commits older than AGE (e.g. 30d, 12h, 2w)")
    parser.add_argument("-n", "--dry-run", action="store_true", help="list what would be removed, with sizes")
    parser.add_argument("--storage", metavar="NAME", help="apply the policy to this storage instead of the cache")
    parser.add_argument("-f", "--force", action="store_true",
                        help="also remove versions that local history references and no storage holds")
    parser.add_argument("--grace", default=DEFAULT_GRACE, metavar="AGE",
                        help=f"never remove cache objects younger than this (default {DEFAULT_GRACE}; 0 disables)")
    parser.add_argument("--json", action="store_true", help="machine-readable report")


def run(args: argparse.Namespace) -> int:
    if args.keep is not None and args.keep < 1:
        raise UsageError("git data gc: --keep needs a number of at least 1")
    policy = Policy(args.workspace, args.all_branches, args.keep,
                    parse_duration(args.older_than) if args.older_than else None)
    project = open_project()
    grace = parse_duration(args.grace)
    if args.storage:
        report = gc_storage(project, args.storage, policy, dry_run=args.dry_run, force=args.force)
    else:
        report = gc_cache(project, policy, dry_run=args.dry_run, force=args.force, grace=grace)
    show(report, args.dry_run, args.json)
    return 0


class Report(NamedTuple):
    where: str
    removed: list[tuple[str, int | None]]   # (digest, size if known)
    kept_unpushed: list[str]                 # outside the policy, but no storage holds them
    kept_young: int


def show(report: Report, dry_run: bool, as_json: bool) -> None:
    total = sum(size or 0 for _, size in report.removed)
    if as_json:
        output.print_json({"where": report.where, "dry_run": dry_run, "bytes": total,
                           "removed": [{"digest": d, "size": s} for d, s in report.removed],
                           "kept_unpushed": report.kept_unpushed, "kept_young": report.kept_young})
        return
    verb = "would remove" if dry_run else "removed"
    if dry_run:
        for digest, size in report.removed:
            output.out(f"{digest}\t{output.human_size(size) if size is not None else '?'}")
    output.out(f"{verb} {len(report.removed)} object(s), {output.human_size(total)} from {report.where}")
    if report.kept_unpushed:
        elsewhere = "no storage holds" if report.where == "the cache" else "the cache does not hold"
        output.warn(f"kept {len(report.kept_unpushed)} object(s) that local history references and {elsewhere}; "
                    "use --force to delete them anyway")
    if report.kept_young:
        output.info(f"kept {report.kept_young} object(s) younger than the grace period (see --grace)")


def _size(path: os.PathLike[str]) -> int | None:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return None


def gc_cache(project: Project, policy: Policy, dry_run: bool = False, force: bool = False,
             grace: float = 0.0) -> Report:
    repo, cache = project.repo, project.cache
    with lock(repo, "gc"):
        started = time.time()
        memo = history.ManifestMemo(repo)
        kept = policy_keeps(repo, policy, memo)
        candidates = [d for d in cache.digests() if d not in kept]
        young = {d for d in candidates if _is_young(cache.path(d), started, grace)}
        candidates = [d for d in candidates if d not in young]
        unpushed: list[str] = []
        if candidates and not policy.is_default and not force:
            referenced = history.referenced_by_history(repo, history.local_tips(repo), memo)
            at_risk = [d for d in candidates if d in referenced]
            safe = _held_by_default_storage(project, at_risk)
            unpushed = [d for d in at_risk if d not in safe]
            dropped = set(unpushed)
            candidates = [d for d in candidates if d not in dropped]
        removed = [(d, _size(cache.path(d))) for d in candidates]
        if not dry_run:
            for digest in candidates:
                cache.remove(digest)
        return Report("the cache", removed, unpushed, len(young))


def _is_young(path: os.PathLike[str], now: float, grace: float) -> bool:
    """Objects written moments ago may belong to an add that has not written its manifest yet."""
    if grace <= 0:
        return False
    try:
        return os.stat(path).st_mtime > now - grace
    except FileNotFoundError:
        return False


def _held_by_default_storage(project: Project, digests: list[str]) -> set[str]:
    if not digests:
        return set()
    from gitdata import transfer

    name = transfer.default_storage_name(project)
    if name is None:
        return set()
    storage = transfer.open_named_storage(project, name)
    return set(storage.exists(sorted(digests)))


def gc_storage(project: Project, name: str, policy: Policy, dry_run: bool = False, force: bool = False) -> Report:
    """The same policy on a storage; objects any remote-tracking branch references
    stay (someone else may need them), and so does the last copy of anything local
    history references that the cache does not hold (unless forced)."""
    from gitdata import transfer

    repo, cache = project.repo, project.cache
    storage = transfer.open_named_storage(project, name)
    memo = history.ManifestMemo(repo)
    kept = policy_keeps(repo, policy, memo)
    remotes = history.remote_tips(repo)
    if not remotes:
        output.warn("no remote-tracking branches: data that other clones pushed to this storage is not "
                    "protected; run 'git fetch' first if the storage is shared")
    kept |= history.referenced_by_history(repo, remotes, memo)
    sizes = _known_sizes(project, memo)
    candidates = [d for d in storage.list_digests() if d not in kept]
    unpushed: list[str] = []
    if candidates and not force:
        referenced = history.referenced_by_history(repo, history.local_tips(repo), memo)
        unpushed = [d for d in candidates if d in referenced and not cache.has(d)]
        dropped = set(unpushed)
        candidates = [d for d in candidates if d not in dropped]
    removed = [(d, sizes.get(d)) for d in candidates]
    if not dry_run:
        for digest in candidates:
            storage.delete(digest)
    return Report(f"storage '{name}'", removed, unpushed, 0)


def _known_sizes(project: Project, memo: history.ManifestMemo) -> dict[str, int]:
    sizes = history.sizes_in_history(project.repo, history.local_tips(project.repo))
    for _, tracked in history.workspace_trackeds(project.repo):
        for entry in tracked.files.values():
            sizes[entry.digest] = entry.size
    return sizes
