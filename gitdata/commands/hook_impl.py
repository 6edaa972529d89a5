"""git data hook-impl HOOK ARGS: the work behind the installed git hooks (hidden).

post-* hooks never fail the git command: whatever goes wrong is reported and
the exit code is 0. pre-push fails the push when the data cannot be stored."""
from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from gitdata import output
from gitdata.errors import GitDataError, UsageError

if TYPE_CHECKING:
    from gitdata.git import GitRepo
    from gitdata.project import Project

HOOKS = ("post-checkout", "post-merge", "post-rewrite", "post-commit", "pre-push")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("hook", choices=HOOKS)
    parser.add_argument("hook_args", nargs="*", metavar="ARG", help="the arguments git gave the hook")


def run(args: argparse.Namespace) -> int:
    from gitdata.git import find_repo
    from gitdata.hooks import hooks_enabled

    repo = find_repo()
    if not hooks_enabled(repo.workdir):
        return 0
    if args.hook == "pre-push":
        return pre_push_hook(repo, args.hook_args, sys.stdin.read())
    try:
        post_hook(repo, args.hook, args.hook_args)
    except GitDataError as exc:
        output.warn(f"{args.hook}: {exc}; run 'git data checkout' to bring the data files up to date")
    except Exception as exc:  # noqa: BLE001 - a post hook must never break git
        output.warn(f"{args.hook}: internal error: {type(exc).__name__}: {exc}; "
                    "run 'git data checkout' to bring the data files up to date")
    return 0


def _project(repo: GitRepo) -> Project:
    """The project, without requiring .gitdata/config: a checkout may leave a branch
    that has none, and its files must still go."""
    from gitdata.cache import open_cache
    from gitdata.project import Project

    return Project(repo, open_cache(repo.data_dir))


def post_hook(repo: GitRepo, hook: str, hook_args: list[str]) -> None:
    from gitdata import sync

    project = _project(repo)
    changes: list[sync.ManifestChange] = []
    if hook == "post-checkout":
        if len(hook_args) != 3:
            raise UsageError("post-checkout expects OLD NEW FLAG")
        old, new, flag = hook_args
        if flag == "1":
            changes = sync.changed_manifests(repo, old, new)
            if old.strip("0") == "":
                _after_clone(repo)
        else:
            changes = sync.workspace_changes(repo, sync.directories_touched_since_sync(repo))
    elif hook == "post-merge":
        if hook_args[:1] == ["1"]:
            changes = sync.workspace_changes(repo, sync.directories_touched_since_sync(repo))
        else:
            changes = sync.changed_manifests(repo, "ORIG_HEAD", "HEAD")
    elif hook == "post-commit":
        # a merge concluded after a conflict, a cherry-pick, a revert: what HEAD brought
        changes = sync.changed_manifests(repo, "HEAD^", "HEAD")
    elif hook == "post-rewrite":
        if hook_args[:1] != ["rebase"]:
            return
        changes = sync.changed_manifests(repo, "ORIG_HEAD", "HEAD")
        # The picks rewrote manifests after the checkout of the new base: recheck
        # every entry of those, not only what differs from the old branch tip.
        touched = set(sync.directories_touched_since_sync(repo))
        covered = {c.directory for c in changes}
        changes = [c._replace(old={n: e for n, e in c.old.items() if n not in c.new}) if c.directory in touched
                   else c for c in changes]
        changes += sync.workspace_changes(repo, sorted(touched - covered))
    if not changes:
        from gitdata.hooks import touch_sync_stamp

        touch_sync_stamp(repo.git_dir)
        return
    result = sync.sync(project, changes)
    sync.report(result, hook)


def _after_clone(repo: GitRepo) -> None:
    """A fresh clone: make fetches bring our notes back too."""
    from gitdata import hooks

    for remote in hooks.remotes(repo.workdir):
        hooks.ensure_notes_refspec(repo.workdir, remote)


def pre_push_hook(repo: GitRepo, hook_args: list[str], stdin: str) -> int:
    from gitdata import hooks, prepush

    if len(hook_args) != 2:
        raise UsageError("pre-push expects REMOTE URL")
    remote, url = hook_args
    updates = prepush.parse_updates(stdin)
    if not updates:
        return 0
    if remote != url and not remote.startswith(("/", ".")):
        hooks.ensure_notes_refspec(repo.workdir, remote)
    prepush.pre_push(_project(repo), remote, url, updates)
    return 0
