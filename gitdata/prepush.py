"""The work behind the pre-push hook: upload the data the pushed commits need.

For each pushed ref, the commits being pushed are those reachable from the
local sha and not from what the remote already has (the remote sha, the
remote-tracking refs of a named remote, and commits with a push receipt).
Each such commit *introduces* the digests of its manifests that none of its
parents has at the same path; only those can be missing from the storage.

A push receipt is a note in `refs/notes/gitdata/pushed/<storage>` on the
pushed tip: "every object this commit and its ancestors reference is in this
storage". Its text names the storage's settings, so a storage moved to a new
URL does not inherit old receipts. The next push of a receipted commit needs
no storage round trip at all.
"""
from __future__ import annotations

import hashlib
import os
import re
import subprocess
from typing import TYPE_CHECKING, Iterable, Iterator, NamedTuple

from gitdata import config, output
from gitdata.errors import GitDataError

if TYPE_CHECKING:
    import pygit2

    from gitdata.git import GitRepo
    from gitdata.project import Project

ZERO = "0" * 40
NOTES_PREFIX = "refs/notes/gitdata/pushed/"


class RefUpdate(NamedTuple):
    local_ref: str
    local_sha: str
    remote_ref: str
    remote_sha: str


def parse_updates(text: str) -> list[RefUpdate]:
    updates = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 4:
            updates.append(RefUpdate(*fields))
        elif fields:
            raise GitDataError(f"pre-push: unexpected input line from git: {line!r}")
    return updates


def _is_zero(sha: str) -> bool:
    return sha.strip("0") == ""


# -- receipts ------------------------------------------------------------------

def notes_ref(storage: str) -> str:
    return NOTES_PREFIX + re.sub(r"[^A-Za-z0-9._-]", "_", storage)


def receipt_key(repo: GitRepo, storage: str) -> str:
    """Identifies where the storage is, so that receipts follow its settings."""
    prefix = f"storage.{storage}."
    settings = sorted((k, v) for k, v in config.values(repo).items() if k.startswith(prefix))
    return hashlib.sha1(repr(settings).encode()).hexdigest()[:16]


def receipt_line(storage: str, key: str) -> str:
    return f"gitdata-pushed {storage} {key}"


def has_receipt(repo: GitRepo, ref: str, oid: str, line: str) -> bool:
    try:
        note = repo.raw.lookup_note(oid, ref)
    except (KeyError, ValueError):
        return False
    return line in note.message.splitlines()


def receipted_commits(repo: GitRepo, ref: str, line: str) -> list[str]:
    import pygit2

    try:
        notes = list(repo.raw.notes(ref))  # type: ignore[call-arg]  # pygit2's stub lacks the ref
    except (KeyError, pygit2.GitError):
        return []
    found = []
    for note in notes:
        try:
            if line in note.message.splitlines():
                found.append(str(note.annotated_id))
        except (KeyError, pygit2.GitError):
            continue
    return found


def write_receipts(repo: GitRepo, ref: str, line: str, oids: Iterable[str]) -> int:
    from gitdata.git import identity

    signature = identity(repo, required=False)
    written = 0
    for oid in oids:
        if has_receipt(repo, ref, oid, line):
            continue
        repo.raw.create_note(line + "\n", signature, signature, oid, ref, True)
        written += 1
    return written


# -- what the pushed commits need -----------------------------------------------

def pushed_commit(repo: GitRepo, sha: str) -> str | None:
    """The commit a pushed sha names (annotated tags peeled); None for anything else."""
    import pygit2

    try:
        return str(repo.raw[sha].peel(pygit2.Commit).id)
    except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError):
        return None


def commits_to_push(repo: GitRepo, tip: str, hidden: Iterable[str]) -> list[pygit2.Commit]:
    import pygit2

    walker = repo.raw.walk(tip, pygit2.enums.SortMode.NONE)
    for oid in hidden:
        try:
            walker.hide(oid)
        except (KeyError, ValueError, pygit2.GitError):
            continue
    return list(walker)


def remote_known(repo: GitRepo, remote: str, update: RefUpdate) -> list[str]:
    """Commits the remote already has, as far as we know."""
    known = []
    if not _is_zero(update.remote_sha) and update.remote_sha in repo.raw:
        known.append(update.remote_sha)
    prefix = f"refs/remotes/{remote}/"
    for name in repo.raw.references:
        if name.startswith(prefix):
            try:
                known.append(str(repo.raw.references[name].peel().id))
            except (KeyError, ValueError):
                continue
    return known


def introduced_digests(repo: GitRepo, commits: Iterable[pygit2.Commit]) -> set[str]:
    """Digests that appear in a commit's manifest but in none of its parents' at the same path."""
    from gitdata.git import GITDATA_DIR, blob_data, entry_id, subtree
    from gitdata.manifest import MANIFEST_NAME, TREE_DIR, parse

    def data_tree(commit: pygit2.Commit) -> pygit2.Tree | None:
        return subtree(subtree(commit.tree, GITDATA_DIR), "tree")

    def digests_of(blob_id: pygit2.Oid, path: str) -> set[str]:
        entries, _ = parse(blob_data(repo, blob_id), f"{TREE_DIR}/{path}")
        return {entry.digest for entry in entries.values()}

    found: set[str] = set()
    seen_blobs: set[pygit2.Oid] = set()
    for commit in commits:
        new_tree = data_tree(commit)
        if new_tree is None:
            continue
        parent_trees = [data_tree(parent) for parent in commit.parents] or [None]
        changed: set[str] = set()
        for parent_tree in parent_trees:
            for path, _, new_blob in diff_blobs(repo, parent_tree, new_tree):
                if new_blob is not None and path.endswith(MANIFEST_NAME):
                    changed.add(path)
        for path in changed:
            blob = new_tree[path].id
            if blob in seen_blobs:
                continue
            seen_blobs.add(blob)
            inherited: set[str] = set()
            for parent_tree in parent_trees:
                old = entry_id(parent_tree, path)
                if old is not None:
                    inherited |= digests_of(old, path)
            found |= digests_of(blob, path) - inherited
    return found


def diff_blobs(repo: GitRepo, old: pygit2.Tree | None, new: pygit2.Tree | None,
               prefix: str = "") -> Iterator[tuple[str, pygit2.Oid | None, pygit2.Oid | None]]:
    """(path, old blob id, new blob id) of every blob that differs, descending
    only into subtrees whose ids differ (in process: the walk visits many commits)."""
    if old is not None and new is not None and old.id == new.id:
        return
    old_items, new_items = _items(old), _items(new)
    for name in sorted(set(old_items) | set(new_items)):
        o, n = old_items.get(name), new_items.get(name)
        if o == n:
            continue
        path = prefix + name
        o_tree = _tree_of(repo, o[1]) if o and o[0] == "tree" else None
        n_tree = _tree_of(repo, n[1]) if n and n[0] == "tree" else None
        if o_tree is not None or n_tree is not None:
            yield from diff_blobs(repo, o_tree, n_tree, path + "/")
        o_blob = o[1] if o and o[0] == "blob" else None
        n_blob = n[1] if n and n[0] == "blob" else None
        if o_blob != n_blob:
            yield path, o_blob, n_blob


def _items(tree: pygit2.Tree | None) -> dict[str, tuple[str, pygit2.Oid]]:
    import pygit2

    if tree is None:
        return {}
    kinds = {pygit2.GIT_OBJECT_TREE: "tree", pygit2.GIT_OBJECT_BLOB: "blob"}
    return {str(item.name): (kinds.get(item.type, "other"), item.id) for item in tree}


def _tree_of(repo: GitRepo, oid: pygit2.Oid) -> pygit2.Tree:
    import pygit2

    obj = repo.raw[oid]
    if not isinstance(obj, pygit2.Tree):
        raise GitDataError(f"git object {oid} is not a tree")
    return obj


# -- the hook ----------------------------------------------------------------------

def pre_push(project: Project, remote: str, url: str, updates: list[RefUpdate]) -> int:
    """Upload what the pushed commits need; returns how many objects were sent.
    Raises GitDataError (the push is refused) when the data cannot be stored."""
    from gitdata import transfer

    repo = project.repo
    if repo.object_format != "sha1":
        raise GitDataError(f"push refused: git-data cannot yet read the pushed commits of a "
                           f"{repo.object_format.upper()} repository to find their data; upload it with "
                           "'git data push', then push with GITDATA_SKIP_HOOKS=1 git push")
    tips = {u: pushed_commit(repo, u.local_sha) for u in updates if not _is_zero(u.local_sha)}
    pushed = {u: tip for u, tip in tips.items() if tip is not None}
    if not pushed:
        return 0
    if not (repo.workdir / config.CONFIG_PATH).exists():   # pushed from a branch without git-data
        if not any(config.read_committed(repo, tip) for tip in pushed.values()):
            return 0   # no pushed commit has git-data's settings: there is no data to push
    storage = transfer.default_storage_name(project)
    ref = line = None
    if storage is not None:
        ref, line = notes_ref(storage), receipt_line(storage, receipt_key(repo, storage))
        pushed = {u: tip for u, tip in pushed.items() if not has_receipt(repo, ref, tip, line)}
        if not pushed:
            output.verbose("git-data: every pushed commit has a push receipt; nothing to check")
            return 0
    receipted = receipted_commits(repo, ref, line) if ref and line else []
    commits: dict[str, pygit2.Commit] = {}
    for update, tip in pushed.items():
        for commit in commits_to_push(repo, tip, remote_known(repo, remote, update) + receipted):
            commits[str(commit.id)] = commit
    digests = introduced_digests(repo, commits.values())
    if not digests:
        return 0
    if storage is None:
        names = transfer.storage_names(project)
        hint = (f"set one with 'git data storage default NAME' (storages: {', '.join(names)})" if names
                else "add one with 'git data storage add NAME URL'")
        raise GitDataError(f"push refused: the pushed commits reference {len(digests)} data object(s) and there "
                           f"is no default storage to upload them to; {hint} "
                           "(GITDATA_SKIP_HOOKS=1 git push pushes without the data)")
    try:
        sent = transfer.upload_missing(project, digests, storage)
    except GitDataError as exc:
        raise GitDataError(f"push refused: uploading data to storage '{storage}' failed: {exc}") from None
    if sent:
        output.info(f"git-data: uploaded {sent} object(s) to storage '{storage}'")
    else:
        output.verbose(f"git-data: storage '{storage}' already has all {len(digests)} object(s)")
    assert ref is not None and line is not None
    if write_receipts(repo, ref, line, sorted(set(pushed.values()))):
        push_receipts(repo, remote, ref)
    return sent


def push_receipts(repo: GitRepo, remote: str, ref: str) -> None:
    """Send the receipts along; a rejected update is merged with the remote's notes
    once. Failing here never fails the push: a lost receipt costs one re-check."""
    env = {**os.environ, "GITDATA_SKIP_HOOKS": "1"}

    def git(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["git", *args], cwd=repo.workdir, env=env, capture_output=True, text=True)

    refspec = f"{ref}:{ref}"
    if git("push", "--no-verify", "--quiet", remote, refspec).returncode == 0:
        return
    incoming = ref.replace("refs/notes/gitdata/", "refs/notes/gitdata-incoming/", 1)
    if (git("fetch", "--quiet", remote, f"+{ref}:{incoming}").returncode == 0
            and git("notes", f"--ref={ref}", "merge", "--quiet", "-s", "cat_sort_uniq", incoming).returncode == 0
            and git("push", "--no-verify", "--quiet", remote, refspec).returncode == 0):
        git("update-ref", "-d", incoming)
        return
    git("update-ref", "-d", incoming)
    output.warn(f"could not send push receipts to '{remote}'; the next push checks the storage again")
