"""Which objects a gc keeps. A retention policy names the versions worth keeping;
objects outside it are candidates, and a candidate still referenced by any local
history is removed only when a storage holds it (or the user forces it), so gc
never destroys the last copy of a committed version by surprise."""
from __future__ import annotations

import re
import time
from typing import NamedTuple, cast

from gitdata import history
from gitdata.errors import UsageError
from gitdata.git import GitRepo, resolve_commit

_UNITS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "mo": 30 * 86400, "y": 365 * 86400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|min|m|h|d|w|mo|y)?\s*$")


def parse_duration(text: str) -> float:
    """'30d', '12h', '2w', '90m', '0' -> seconds."""
    match = _DURATION.match(text)
    if not match:
        raise UsageError(f"bad duration '{text}' (use e.g. 30d, 12h, 2w, 90min, 0)")
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]


class Policy(NamedTuple):
    workspace_only: bool = False     # -w: what HEAD and the workspaces use
    all_branches: bool = False       # -a: the tips of every branch and tag
    keep: int | None = None          # --keep N: the N newest versions of every path
    older_than: float | None = None  # --older-than: versions in commits newer than this

    @property
    def is_default(self) -> bool:
        return not (self.workspace_only or self.all_branches or self.keep is not None or self.older_than is not None)

    def describe(self) -> str:
        if self.is_default:
            return "everything reachable from any ref, stash, reflog or worktree"
        parts = ["HEAD and the workspaces" if self.workspace_only else "branch and tag tips and the workspaces"]
        if self.keep is not None:
            parts.append(f"the {self.keep} newest version(s) of every path")
        if self.older_than is not None:
            parts.append(f"versions committed in the last {self.older_than / 86400:g} day(s)")
        return ", ".join(parts)


def newest_versions(repo: GitRepo, tips: list[history.Tip], count: int, memo: history.ManifestMemo) -> set[str]:
    """The `count` most recent distinct contents of every tracked path along history
    (files inside tracked directories included), newest commits first. A manifest
    (or tree) already seen at the same place adds nothing new, so it is skipped."""
    import pygit2

    from gitdata.manifest import TREE_DIR, directory_of, parse
    from gitdata.paths import join

    versions: dict[str, list[str]] = {}
    seen: set[tuple[object, str]] = set()

    def visit(tree: pygit2.Tree, prefix: str) -> None:
        for item in tree:
            key = (item.id, prefix)
            if key in seen:
                continue
            seen.add(key)
            if item.type == pygit2.GIT_OBJECT_TREE:
                visit(cast("pygit2.Tree", repo.raw[item.id]), f"{prefix}{item.name}/")
            elif item.type == pygit2.GIT_OBJECT_BLOB:
                relpath = f"{prefix}{item.name}"
                directory = directory_of(relpath)
                entries, _ = parse(cast("pygit2.Blob", repo.raw[item.id]).data, f"{TREE_DIR}/{relpath}")
                for name, entry in entries.items():
                    found = versions.setdefault(join(directory, name), [])
                    if len(found) < count and entry.digest not in found:
                        found.append(entry.digest)

    for commit in history.commits_from(repo, tips):
        tree = history.subtree(history.subtree(commit.tree, ".gitdata"), "tree")
        if tree is not None and (tree.id, "") not in seen:
            seen.add((tree.id, ""))
            visit(tree, "")
    return {digest for found in versions.values() for digest in found}


def recent_versions(repo: GitRepo, tips: list[history.Tip], cutoff: float) -> set[str]:
    """Objects used by any commit made since the cutoff."""
    return set(history.sizes_in_history(repo, tips, since=cutoff))


def policy_keeps(repo: GitRepo, policy: Policy, memo: history.ManifestMemo, now: float | None = None) -> set[str]:
    """Objects the policy keeps: always every worktree's workspace manifests, plus
    the versions the policy names. The default keeps everything local history and
    the reflogs reach; the other policies start from the refs themselves."""
    kept = history.index_digests(repo)
    for _, tracked in history.workspace_trackeds(repo):
        kept |= history.digests_of(tracked)
    if policy.is_default:
        return kept | history.referenced_by_history(repo, history.local_tips(repo), memo)
    tips = history.worktree_heads(repo) if policy.workspace_only else history.ref_tips(repo)
    for tip in tips:
        kept |= history.digests_of(memo.at_commit(resolve_commit(repo, tip.commit_id)))
    if policy.keep is not None:
        kept |= newest_versions(repo, tips, policy.keep, memo)
    if policy.older_than is not None:
        cutoff = (now or time.time()) - policy.older_than
        kept |= recent_versions(repo, tips, cutoff)
    return kept
