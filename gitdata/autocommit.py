"""`--to-branch BRANCH` and `--from-ref REF` for commands that record data.

`--to-branch` commits what the command recorded on BRANCH without leaving the
current branch: the recorded changes (manifest entries, .gitignore lines) are
replayed onto BRANCH's own versions of those files, key-wise, and committed
there; then the current branch's index and manifests are put back exactly as
they were, so anything the user had staged stays staged and uncommitted. The
data itself stays in the workspace and the cache. When BRANCH is the current
branch, it is an ordinary `--commit`.

`--from-ref REF` starts BRANCH from REF: a new BRANCH is created there, an
existing one moves to a commit on top of REF (only if REF contains it, so no
commit is ever dropped from BRANCH).
"""
from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, Callable, NamedTuple

from gitdata import output
from gitdata.errors import GitDataError, UsageError
from gitdata.fsutil import atomic_write, remove_empty_parents
from gitdata.git import identity, run_git

if TYPE_CHECKING:
    import pygit2

    from gitdata.git import GitRepo
    from gitdata.manifest import Tracked
    from gitdata.project import Project


def add_options(parser: argparse.ArgumentParser) -> None:
    """--commit, -m, --to-branch and --from-ref: what a recording command does with its result."""
    parser.add_argument("--commit", action="store_true", help="also make a git commit of the recorded changes")
    parser.add_argument("-m", "--message", help="commit message for --commit or --to-branch")
    parser.add_argument("--to-branch", metavar="BRANCH",
                        help="commit the result on BRANCH (created if needed) without leaving this branch")
    parser.add_argument("--from-ref", metavar="REF", help="with --to-branch: start BRANCH from REF")


def commit_records(project: Project, scopes: list[str], files: list[str], message: str) -> str:
    """Commit on top of HEAD what the workspace records for the tracked paths `scopes`
    (their manifest entries, whole-directory marks and .gitignore lines), entry by
    entry, plus the files `files` whole. Nothing else that is staged goes in, not even
    other entries of the same manifest; it all stays staged."""
    from gitdata import git, manifest

    repo = project.repo
    head = git.head_commit(repo)
    tree = head.tree if head is not None else None
    committed = manifest.read_tree_about(repo, git.subtree(tree, git.GITDATA_DIR), scopes)
    contents = _scoped_manifests(committed, project.tracked(), scopes)
    for path, data in _scoped_ignore_files(repo, tree, scopes).items():
        contents[path] = data
    for path in files:
        full = repo.workdir / path
        contents[path] = full.read_bytes() if full.is_file() else None
    oid = git.commit_contents(repo, contents, message)
    git.stage(repo, files)
    return oid


def _scoped_manifests(committed: Tracked, now: Tracked, scopes: list[str]) -> dict[str, bytes | None]:
    """The committed manifests with the entries under `scopes` as they are now."""
    from gitdata import manifest
    from gitdata.paths import base_name, is_under, parent_dir

    def in_scope(rel: str) -> bool:
        return any(is_under(rel, scope) for scope in scopes)

    directories = {parent_dir(rel) for rel in [*committed.files, *now.files] if in_scope(rel)}
    directories |= {d for d in committed.whole_dirs | now.whole_dirs if in_scope(d)}
    contents: dict[str, bytes | None] = {}
    for directory in directories:
        kept = {r: e for r, e in committed.files.items() if parent_dir(r) == directory and not in_scope(r)}
        kept.update({r: e for r, e in now.files.items() if parent_dir(r) == directory and in_scope(r)})
        entries = {base_name(r): e for r, e in kept.items()}
        whole = directory in (now.whole_dirs if in_scope(directory) else committed.whole_dirs)
        contents[manifest.manifest_path(directory)] = manifest.serialize(entries, whole) if entries or whole else None
    return contents


def _scoped_ignore_files(repo: GitRepo, tree: pygit2.Tree | None, scopes: list[str]) -> dict[str, bytes | None]:
    """The committed .gitignore files with the lines for `scopes` as they are now."""
    from gitdata import git, gitignore
    from gitdata.paths import base_name, join, parent_dir

    texts: dict[str, str] = {}
    for scope in scopes:
        path = join(parent_dir(scope), ".gitignore")
        if path not in texts:
            oid = git.entry_id(tree, path)
            texts[path] = git.blob_data(repo, oid).decode("utf-8", "surrogateescape") if oid is not None else ""
        workspace = repo.workdir / path
        now = workspace.read_text(errors="surrogateescape") if workspace.is_file() else ""
        changed = gitignore.with_names(texts[path], {base_name(scope)}, gitignore.ignores(now, base_name(scope)))
        if changed is not None:
            texts[path] = changed
    return {path: text.encode("utf-8", "surrogateescape") if text else None for path, text in texts.items()}


class Snapshot(NamedTuple):
    """git's index as it was before the command: its bytes, and path -> content."""
    data: bytes | None
    blobs: Callable[[str], bytes | None]


def run_with(project: Project, args: argparse.Namespace, action: Callable[[bool], list[str]],
             default_message: str) -> list[str]:
    """Run `action(commit)` (which records and returns the staged paths) honouring
    --commit, --to-branch and --from-ref."""
    check_options(args)
    branch, from_ref = getattr(args, "to_branch", None), getattr(args, "from_ref", None)
    if not branch:
        return action(bool(getattr(args, "commit", False)))
    return to_branch(project, branch, from_ref, args.message or default_message, action)


def check_options(args: argparse.Namespace) -> None:
    """Usage errors, before any work: an option that would be silently ignored.
    For every command with --commit and -m (and --to-branch, --from-ref)."""
    branch = getattr(args, "to_branch", None)
    if getattr(args, "from_ref", None) and not branch:
        raise UsageError("--from-ref needs --to-branch")
    if args.message is not None and not args.commit and not branch:
        raise UsageError("-m/--message needs --commit" + (" or --to-branch" if hasattr(args, "to_branch") else ""))


def to_branch(project: Project, branch: str, from_ref: str | None, message: str,
              action: Callable[[bool], list[str]]) -> list[str]:
    repo = project.repo
    ref = _branch_ref(repo, branch)
    raw = repo.raw
    if not raw.head_is_unborn and not raw.head_is_detached and raw.head.name == ref and not from_ref:
        return action(True)  # already on it: an ordinary commit
    parent = _parent(repo, ref, from_ref)
    _refuse_checked_out_elsewhere(repo, ref)
    _refuse_unstaged(repo)
    snapshot = _snapshot(repo)
    staged = action(False)
    if not staged:
        raise GitDataError("nothing to commit: the data is already recorded")
    try:
        oid = _commit_on(repo, ref, parent, staged, snapshot, message)
    finally:
        _restore(repo, staged, snapshot)
    output.info(f"committed {oid[:10]} on {branch}: {message}")
    return staged


def _branch_ref(repo: GitRepo, branch: str) -> str:
    ref = branch if branch.startswith("refs/heads/") else f"refs/heads/{branch}"
    if run_git(repo, ["check-ref-format", ref]).returncode != 0:
        raise UsageError(f"'{branch}' is not a valid branch name")
    return ref


def _parent(repo: GitRepo, ref: str, from_ref: str | None) -> pygit2.Commit | None:
    from gitdata.git import head_commit, resolve_commit

    import pygit2

    existing = repo.raw.references.get(ref)
    tip = existing.peel(pygit2.Commit) if existing is not None else None
    if from_ref is None:
        return tip if tip is not None else head_commit(repo)
    start = resolve_commit(repo, from_ref)
    if tip is not None and tip.id != start.id and not repo.raw.descendant_of(start.id, tip.id):
        raise GitDataError(f"--from-ref {from_ref} does not contain {ref[len('refs/heads/'):]}'s commits; "
                           "moving the branch there would drop them")
    return start


def _refuse_checked_out_elsewhere(repo: GitRepo, ref: str) -> None:
    listing = run_git(repo, ["worktree", "list", "--porcelain"]).stdout.decode("utf-8", "surrogateescape")
    if f"branch {ref}" in listing.splitlines():
        raise GitDataError(f"{ref[len('refs/heads/'):]} is checked out in another worktree; commit there")


def _refuse_unstaged(repo: GitRepo) -> None:
    """The manifests and .gitignore files are put back from the index afterwards,
    so they must not hold unstaged changes."""
    changed = run_git(repo, ["diff", "--name-only", "-z", "--", ".gitdata/tree", ":(glob)**/.gitignore"]).stdout
    if changed:
        first = changed.split(b"\0")[0].decode("utf-8", "surrogateescape")
        raise GitDataError(f"{first} has unstaged changes; stage or discard them before --to-branch")


def _snapshot(repo: GitRepo) -> Snapshot:
    import pygit2

    try:
        data = (repo.git_dir / "index").read_bytes()
    except FileNotFoundError:
        return Snapshot(None, lambda path: None)
    scratch = repo.git_dir / "data" / f"autocommit-index-{os.getpid()}"
    scratch.parent.mkdir(parents=True, exist_ok=True)
    scratch.write_bytes(data)
    try:
        index = pygit2.Index(str(scratch))
        index.read(True)
        ids = {entry.path: entry.id for entry in index}
    finally:
        scratch.unlink(missing_ok=True)

    def blob(path: str) -> bytes | None:
        from gitdata.git import blob_data

        oid = ids.get(path)
        return blob_data(repo, oid) if oid is not None else None

    return Snapshot(data, blob)


def _replay(repo: GitRepo, path: str, before: bytes | None, after: bytes | None, target: bytes | None) -> bytes | None:
    """This command's change to `path` (before -> after) applied to BRANCH's version."""
    from gitdata import manifest, merge

    if before == target:
        return after
    if path.startswith(manifest.TREE_DIR + "/") and path.endswith("/" + manifest.MANIFEST_NAME):
        merged, conflicts = merge.merge_manifests(before or b"", target or b"", after or b"", path)
        if conflicts:
            names = ", ".join(c.name for c in conflicts[:3])
            raise GitDataError(f"{path}: {names} changed differently on the target branch; commit there instead")
        entries, whole = manifest.parse(merged, path)
        return merged if entries or whole else None
    if path == ".gitignore" or path.endswith("/.gitignore"):
        merged_lines = merge.merge_ignore_lines(before or b"", target or b"", after or b"")
        if merged_lines is not None:
            return merged_lines or None
    raise GitDataError(f"{path} differs on the target branch; commit there instead")


def _commit_on(repo: GitRepo, ref: str, parent: pygit2.Commit | None, staged: list[str],
               snapshot: Snapshot, message: str) -> str:
    import pygit2

    from gitdata.git import blob_data

    raw = repo.raw
    scratch = pygit2.Index()
    if parent is not None:
        scratch.read_tree(parent.tree)
    for path in sorted(set(staged)):
        full = repo.workdir / path
        after = full.read_bytes() if full.is_file() else None
        before = snapshot.blobs(path)
        target = blob_data(repo, scratch[path].id) if path in scratch else None
        result = _replay(repo, path, before, after, target)
        if result is None:
            if path in scratch:
                scratch.remove(path)
        else:
            mode = pygit2.enums.FileMode.BLOB_EXECUTABLE if full.is_file() and os.access(full, os.X_OK) \
                else pygit2.enums.FileMode.BLOB
            scratch.add(pygit2.IndexEntry(path, raw.create_blob(result), mode))
    tree_id = scratch.write_tree(raw)
    if parent is not None and tree_id == parent.tree_id and raw.references.get(ref) is not None \
            and raw.references[ref].peel().id == parent.id:
        raise GitDataError(f"nothing to commit: {ref[len('refs/heads/'):]} already has this data")
    oid = raw.create_commit(None, identity(repo, "author"), identity(repo, "committer"), message, tree_id,
                            [parent.id] if parent else [])
    current = raw.references.get(ref)
    if current is None:
        raw.references.create(ref, oid)
    else:
        current.set_target(oid, f"git-data: {message}")
    return str(oid)


def _restore(repo: GitRepo, staged: list[str], snapshot: Snapshot) -> None:
    """Put the index and the recorded files back as they were before the command."""
    for path in staged:
        full = repo.workdir / path
        before = snapshot.blobs(path)
        if before is None:
            if full.is_file():
                full.unlink()
                remove_empty_parents(full.parent, repo.workdir)
        else:
            atomic_write(full, before)
    index_path = repo.git_dir / "index"
    if snapshot.data is None:
        index_path.unlink(missing_ok=True)
    else:
        atomic_write(index_path, snapshot.data)
