"""Tracked data across history: manifests at any ref, the refs that keep data alive,
and the commits reachable from them. Shared by diff, cat, cache, gc, fsck and import.

Manifests are memoised by the id of their `.gitdata/tree` git tree, so walking a long
history costs one parse per distinct manifest state, not one per commit."""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, NamedTuple, cast

from gitdata.errors import GitDataError
from gitdata.git import GitRepo, gitdata_tree, resolve_commit, subtree
from gitdata.manifest import Entry, Tracked, read_tree, read_workspace

if TYPE_CHECKING:
    import pygit2

    from gitdata.project import Project

WORKSPACE = None  # the `rev` that means "the manifests in the working tree"
_EMPTY = Tracked({}, frozenset())


_PSEUDO_REF = re.compile(r"^[A-Z][A-Z_]*_HEAD$")   # ORIG_HEAD, FETCH_HEAD, MERGE_HEAD, ...
_WORKTREE_REF_DIRS = ("refs/bisect", "refs/worktree", "refs/rewritten")


class Tip(NamedTuple):
    name: str        # e.g. refs/heads/main, HEAD, worktrees/wt/HEAD, refs/stash@{1}
    commit_id: str


def tracked_at(repo: GitRepo, rev: str | None) -> Tracked:
    """The manifests at a revision, or in the working tree when rev is None."""
    if rev is None:
        return read_workspace(repo.workdir)
    return read_tree(repo, gitdata_tree(repo, rev))


class ManifestMemo:
    """Tracked sets by `.gitdata/tree` tree id, parsed once each."""

    def __init__(self, repo: GitRepo) -> None:
        self.repo = repo
        self._by_tree: dict[str, Tracked] = {}

    def tree_id(self, commit: pygit2.Commit) -> str | None:
        tree = subtree(subtree(commit.tree, ".gitdata"), "tree")
        return str(tree.id) if tree is not None else None

    def at_commit(self, commit: pygit2.Commit) -> Tracked:
        key = self.tree_id(commit)
        if key is None:
            return _EMPTY
        found = self._by_tree.get(key)
        if found is None:
            found = read_tree(self.repo, subtree(commit.tree, ".gitdata"))
            self._by_tree[key] = found
        return found


# -- refs that keep data alive ----------------------------------------------

def _peel_commit(repo: GitRepo, oid: Any) -> str | None:
    import pygit2

    try:
        obj = repo.raw[oid]
        return str(obj.peel(pygit2.Commit).id)
    except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError):
        return None


def _ref_commit(repo: GitRepo, name: str) -> str | None:
    """The commit a ref names, through symbolic refs and annotated tags; None for a
    ref to a missing branch or to something that is no commit."""
    import pygit2

    try:
        return _peel_commit(repo, repo.raw.references[name].resolve().target)
    except (KeyError, ValueError, pygit2.GitError):
        return None


def _file_commits(repo: GitRepo, ref_file: Path) -> list[str]:
    """The commits a ref file names: `ref: <name>` or a commit id on each line, as in
    HEAD and ORIG_HEAD, or a commit id first on each line, as in FETCH_HEAD."""
    try:
        lines = ref_file.read_text(errors="replace").splitlines()
    except OSError:
        return []
    commits = []
    for line in lines:
        if line.startswith("ref:"):
            commit = _ref_commit(repo, line[4:].strip())   # None: an unborn branch
        else:
            words = line.split(None, 1)
            commit = _peel_commit(repo, words[0]) if words else None
        if commit:
            commits.append(commit)
    return commits


def worktree_heads(repo: GitRepo) -> list[Tip]:
    """HEAD of the main worktree and of every linked worktree."""
    tips = []
    for name, git_dir in _worktree_git_dirs(repo):
        tips += [Tip(f"{name}HEAD", commit) for commit in _file_commits(repo, git_dir / "HEAD")[:1]]
    return tips


def _worktree_git_dirs(repo: GitRepo) -> list[tuple[str, Path]]:
    """(prefix of its ref names, git dir) of the main and of every linked worktree."""
    return [("", repo.common_dir)] + [(f"worktrees/{d.name}/", d) for d in _linked_worktree_dirs(repo)]


def _linked_worktree_dirs(repo: GitRepo) -> list[Path]:
    base = repo.common_dir / "worktrees"
    return sorted(p for p in base.iterdir() if p.is_dir()) if base.is_dir() else []


def worktree_workdirs(repo: GitRepo) -> list[Path]:
    """The working trees of this repository (main and linked) that still exist."""
    dirs = [repo.workdir]
    if repo.common_dir.name == ".git" and repo.common_dir.parent.is_dir():
        dirs.append(repo.common_dir.parent)
    for git_dir in _linked_worktree_dirs(repo):
        try:
            dot_git = Path((git_dir / "gitdir").read_text().strip())
        except OSError:
            continue
        if dot_git.parent.is_dir():
            dirs.append(dot_git.parent)
    unique: dict[str, Path] = {}
    for d in dirs:
        unique.setdefault(os.path.realpath(d), d)
    return list(unique.values())


def local_tips(repo: GitRepo) -> list[Tip]:
    """Everything that keeps data alive by default, as git's own gc keeps commits:
    every ref (branches, tags, remote-tracking branches, refs/keep/*, refs/original/*,
    refs/jj/keep/*, ...), every worktree's HEAD, own refs and pseudo refs, every stash
    entry and every commit the reflogs remember."""
    return (worktree_heads(repo) + _refs_under(repo, "refs/") + worktree_refs(repo)
            + stash_tips(repo) + reflog_tips(repo))


def ref_tips(repo: GitRepo) -> list[Tip]:
    """Every local branch and tag, every stash entry and every worktree HEAD."""
    return worktree_heads(repo) + _refs_under(repo, "refs/heads/", "refs/tags/") + stash_tips(repo)


def _refs_under(repo: GitRepo, *prefixes: str) -> list[Tip]:
    tips = []
    for name in repo.raw.references:
        if name.startswith(prefixes):
            commit = _ref_commit(repo, name)
            if commit:
                tips.append(Tip(name, commit))
    return tips


def stash_tips(repo: GitRepo) -> list[Tip]:
    raw = repo.raw
    tips = []
    if "refs/stash" in raw.references:
        for number, entry in enumerate(raw.references["refs/stash"].log()):
            commit = _peel_commit(repo, entry.oid_new)
            if commit:
                tips.append(Tip(f"refs/stash@{{{number}}}", commit))
    return tips


def worktree_refs(repo: GitRepo) -> list[Tip]:
    """The pseudo refs (ORIG_HEAD, FETCH_HEAD, MERGE_HEAD, CHERRY_PICK_HEAD, ...) and
    the refs each worktree keeps to itself (refs/bisect/*, refs/worktree/*,
    refs/rewritten/*: git never packs them, and pygit2 lists only the current
    worktree's) of every worktree."""
    tips = []
    for prefix, git_dir in _worktree_git_dirs(repo):
        files = [f for f in _files_in(git_dir) if _PSEUDO_REF.match(f.name)]
        for refs_dir in _WORKTREE_REF_DIRS:
            files += sorted(f for f in (git_dir / refs_dir).rglob("*") if f.is_file())
        for ref_file in files:
            name = prefix + ref_file.relative_to(git_dir).as_posix()
            tips += [Tip(name, commit) for commit in _file_commits(repo, ref_file)]
    return tips


def _files_in(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.is_file()) if directory.is_dir() else []


def _reflog_files(repo: GitRepo) -> list[Path]:
    """The reflogs of every ref and of every worktree's HEAD."""
    return [f for _, git_dir in _worktree_git_dirs(repo) for f in sorted((git_dir / "logs").rglob("*"))
            if f.is_file()]


def reflog_tips(repo: GitRepo) -> list[Tip]:
    """Commits the reflogs remember (git keeps them for its own gc too): a commit
    dropped by a reset or an amend still protects its data."""
    tips: dict[str, Tip] = {}
    for path in _reflog_files(repo):
        try:
            lines = path.read_text(errors="replace").splitlines()
        except OSError:
            continue
        for number, line in enumerate(lines):
            fields = line.split(" ", 2)
            if len(fields) < 2:
                continue
            for sha in fields[:2]:
                if len(sha) == 40 and sha.strip("0") and sha not in tips:
                    commit = _peel_commit(repo, sha)
                    if commit:
                        tips[sha] = Tip(f"reflog {path.name}@{{{number}}}", commit)
    return list(tips.values())


def remote_tips(repo: GitRepo) -> list[Tip]:
    return _refs_under(repo, "refs/remotes/")


def commits_from(repo: GitRepo, tips: Iterable[Tip]) -> Iterator[pygit2.Commit]:
    """Every commit reachable from the tips, newest first (each once)."""
    import pygit2

    ids = sorted({tip.commit_id for tip in tips})
    if not ids:
        return
    from pygit2.enums import SortMode

    walker = repo.raw.walk(pygit2.Oid(hex=ids[0]), SortMode.TOPOLOGICAL | SortMode.TIME)
    for other in ids[1:]:
        walker.push(pygit2.Oid(hex=other))
    yield from walker


def workspace_trackeds(repo: GitRepo) -> list[tuple[Path, Tracked]]:
    """The workspace manifests of every worktree; an unreadable one is an error,
    since deciding what to keep without it could lose data."""
    found = []
    for workdir in worktree_workdirs(repo):
        found.append((workdir, read_workspace(workdir)))
    return found


def index_digests(repo: GitRepo) -> set[str]:
    """Objects referenced by the manifests staged in git's index of every worktree:
    a `git commit` of the index must never point at data gc removed."""
    import pygit2

    from gitdata.manifest import TREE_DIR, parse

    raw = repo.raw   # first: a repository pygit2 cannot open is refused with one clear line
    indexes = [repo.common_dir / "index"] + [d / "index" for d in _linked_worktree_dirs(repo)]
    found: set[str] = set()
    seen: set[object] = set()
    for path in indexes:
        if not path.is_file():
            continue
        for item in pygit2.Index(str(path)):
            if not item.path.startswith(TREE_DIR + "/") or item.id in seen:
                continue
            seen.add(item.id)
            try:
                blob = cast("pygit2.Blob", raw[item.id])
            except KeyError:
                continue
            entries, _ = parse(blob.data, f"index:{item.path}")
            found |= {entry.digest for entry in entries.values()}
    return found


def digests_of(tracked: Tracked) -> set[str]:
    return {entry.digest for entry in tracked.files.values()}


def referenced_by_history(repo: GitRepo, tips: Iterable[Tip], memo: ManifestMemo | None = None) -> set[str]:
    """Every object referenced by any commit reachable from the tips. Each manifest
    blob and each tree under `.gitdata/tree` is read once however many commits share
    it, so the cost follows the number of distinct manifest versions."""
    return set(sizes_in_history(repo, tips))


def sizes_in_history(repo: GitRepo, tips: Iterable[Tip], since: float | None = None) -> dict[str, int]:
    """digest -> size of every object referenced by commits reachable from the tips
    (only commits made at or after `since`, when given)."""
    import pygit2

    from gitdata.manifest import TREE_DIR, parse

    seen: set[object] = set()
    found: dict[str, int] = {}

    def visit(tree: pygit2.Tree, prefix: str) -> None:
        for item in tree:
            if item.id in seen:
                continue
            seen.add(item.id)
            if item.type == pygit2.GIT_OBJECT_TREE:
                visit(cast("pygit2.Tree", repo.raw[item.id]), f"{prefix}{item.name}/")
            elif item.type == pygit2.GIT_OBJECT_BLOB:
                data = cast("pygit2.Blob", repo.raw[item.id]).data
                entries, _ = parse(data, f"{TREE_DIR}/{prefix}{item.name}")
                for entry in entries.values():
                    found[entry.digest] = entry.size

    for commit in commits_from(repo, tips):
        if since is not None and commit.commit_time < since:
            continue
        tree = subtree(subtree(commit.tree, ".gitdata"), "tree")
        if tree is not None and tree.id not in seen:
            seen.add(tree.id)
            visit(tree, "")
    return found


# -- one path at one rev -----------------------------------------------------

def entry_at(project: Project, rel: str, rev: str | None) -> Entry:
    """The entry of a tracked file at a revision (None: the workspace manifests)."""
    tracked = tracked_at(project.repo, rev)
    entry = tracked.files.get(rel)
    if entry is None:
        where = f"at {rev}" if rev else "in the workspace manifests"
        if tracked.under(rel):
            raise GitDataError(f"'{rel}' is a tracked directory {where}; name a file inside it")
        raise GitDataError(f"'{rel}' is not tracked by git-data {where}")
    return entry


def check_rev(repo: GitRepo, rev: str) -> None:
    resolve_commit(repo, rev)


# -- objects -----------------------------------------------------------------

def ensure_in_cache(project: Project, digests: Iterable[str], fetch: bool = True) -> list[str]:
    """Bring missing objects into the cache from the default storage (when `fetch`).
    Returns the digests that are still missing."""
    missing = sorted({d for d in digests if not project.cache.has(d)})
    if not missing or not fetch:
        return missing
    try:
        from gitdata import transfer
    except ImportError:
        return missing
    if transfer.default_storage_name(project) is None:
        return missing
    lacking = set(transfer.download_missing(project, missing))
    return [d for d in missing if d in lacking or not project.cache.has(d)]


def require_in_cache(project: Project, digests: Iterable[str], fetch: bool = True,
                     names: dict[str, str] | None = None) -> None:
    """Like ensure_in_cache, but an error naming what could not be found."""
    missing = ensure_in_cache(project, digests, fetch)
    if not missing:
        return
    first = missing[0]
    label = (names or {}).get(first, first)
    hint = "run without --no-fetch, or 'git data fetch'" if not fetch else \
        "it is in neither the cache nor the default storage"
    more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
    raise GitDataError(f"content of '{label}' ({first[:16]}) is not available{more}: {hint}")


def default_storage(project: Project) -> str | None:
    try:
        from gitdata import transfer
    except ImportError:
        return None
    return transfer.default_storage_name(project)


def short(digest: str) -> str:
    algorithm, _, hexdigest = digest.partition(":")
    return f"{algorithm}:{hexdigest[:12]}"
