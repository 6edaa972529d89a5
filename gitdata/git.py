"""Every touch of git lives here. pygit2 is imported only when git objects are needed,
so commands that only look at the workspace start fast."""
from __future__ import annotations

import os
import time
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator, Mapping, cast

from gitdata.errors import GitDataError

if TYPE_CHECKING:
    import subprocess

    import pygit2

GITDATA_DIR = ".gitdata"


class GitRepo:
    """A non-bare git repository: its worktree and its (common) git dirs."""

    def __init__(self, workdir: Path, git_dir: Path, common_dir: Path) -> None:
        self.workdir, self.git_dir, self.common_dir = workdir, git_dir, common_dir

    @cached_property
    def raw(self) -> pygit2.Repository:
        import pygit2

        try:
            return pygit2.Repository(str(self.git_dir))
        except pygit2.GitError as exc:
            if self.object_format != "sha1":
                raise GitDataError(f"this command cannot read a {self.object_format.upper()} repository yet "
                                   "(pygit2 reads only SHA-1 ones); the workspace commands, checkouts and "
                                   "'git data push' work") from None
            raise GitDataError(f"cannot open the git repository {self.git_dir}: {exc}") from None

    @cached_property
    def object_format(self) -> str:
        """"sha1" or "sha256": how this repository names its objects."""
        found = run_git(self, ["rev-parse", "--show-object-format"]).stdout.decode().strip()
        return found or "sha1"

    @property
    def data_dir(self) -> Path:
        """Local git-data state, shared by all worktrees."""
        return self.common_dir / "data"

    def abspath(self, rel: str) -> Path:
        return self.workdir / rel


def _git_dir_of(dot_git: Path) -> Path | None:
    if dot_git.is_dir():
        return dot_git
    if dot_git.is_file():
        text = dot_git.read_text(errors="replace").strip()
        if text.startswith("gitdir:"):
            target = Path(text[len("gitdir:"):].strip())
            return target if target.is_absolute() else (dot_git.parent / target).resolve()
    return None


def find_repo(start: str | os.PathLike[str] | None = None) -> GitRepo:
    """The repository containing `start` (default: the current directory)."""
    env_dir = os.environ.get("GIT_DIR")
    here = Path(start or os.getcwd()).absolute()
    if env_dir and start is None:
        git_dir = Path(env_dir).absolute()
        workdir = Path(os.environ.get("GIT_WORK_TREE") or here)
        return _repo(workdir, git_dir)
    for candidate in (here, *here.parents):
        found = _git_dir_of(candidate / ".git")
        if found is not None:
            return _repo(candidate, found)
    raise GitDataError(f"not a git repository (or any parent up to /): {here}")


def _repo(workdir: Path, git_dir: Path) -> GitRepo:
    commondir_file = git_dir / "commondir"
    common = git_dir
    if commondir_file.is_file():
        common = (git_dir / commondir_file.read_text().strip()).resolve()
    return GitRepo(workdir.resolve(), git_dir.resolve(), common)


def resolve_commit(repo: GitRepo, rev: str) -> pygit2.Commit:
    import pygit2

    try:
        obj = repo.raw.revparse_single(rev)
        return obj.peel(pygit2.Commit)
    except (KeyError, ValueError, pygit2.GitError):
        raise GitDataError(f"unknown revision '{rev}'") from None


def head_commit(repo: GitRepo) -> pygit2.Commit | None:
    import pygit2

    if repo.raw.head_is_unborn:
        return None
    return repo.raw.head.peel(pygit2.Commit)


def subtree(tree: pygit2.Tree | None, path: str) -> pygit2.Tree | None:
    """The tree at `path` inside `tree`, or None."""
    import pygit2

    if tree is None:
        return None
    try:
        obj = tree[path] if path else tree
    except KeyError:
        return None
    return obj if isinstance(obj, pygit2.Tree) else None


def entry_id(tree: pygit2.Tree | None, path: str) -> pygit2.Oid | None:
    """The id of whatever sits at `path` inside `tree`, or None."""
    if tree is None:
        return None
    try:
        return tree[path].id
    except KeyError:
        return None


def gitdata_tree(repo: GitRepo, rev: str) -> pygit2.Tree | None:
    """The `.gitdata` tree at a revision, or None when it has none."""
    return subtree(resolve_commit(repo, rev).tree, GITDATA_DIR)


def walk_blobs(repo: GitRepo, tree: pygit2.Tree, prefix: str = "") -> Iterator[tuple[str, bytes]]:
    """(path, content) of every blob under a tree."""
    import pygit2

    for item in tree:
        path = f"{prefix}{item.name}"
        if item.type == pygit2.GIT_OBJECT_TREE:
            yield from walk_blobs(repo, repo.raw[item.id].peel(pygit2.Tree), path + "/")
        elif item.type == pygit2.GIT_OBJECT_BLOB:
            yield path, repo.raw[item.id].peel(pygit2.Blob).data


def blob_data(repo: GitRepo, oid: pygit2.Oid | str) -> bytes:
    import pygit2

    obj = repo.raw[oid]
    if not isinstance(obj, pygit2.Blob):
        raise GitDataError(f"git object {oid} is not a blob")
    return obj.data


def blob_at(repo: GitRepo, rev: str, path: str) -> bytes | None:
    """The file's content at a revision; None when no file is there (nothing, or a directory)."""
    import pygit2

    tree = resolve_commit(repo, rev).tree
    try:
        obj = tree[path]
    except KeyError:
        return None
    return obj.data if isinstance(obj, pygit2.Blob) else None


# -- objects through git itself: for hooks, where importing pygit2 costs ~60 ms ---------

# The empty tree, which every repository knows without storing it, by object id length.
_EMPTY_TREE = {40: "4b825dc642cb6eb9a060e54bf8d69288fbee4904",
               64: "6ef19b41225c5369f1c104d45d8d85efa9b057b53b14b4b9b939dd74decc5321"}


def _git_output(repo: GitRepo, args: list[str], stdin: bytes | None = None) -> bytes:
    proc = run_git(repo, args, stdin)
    if proc.returncode:
        raise GitDataError(f"git {args[0]} failed: {git_error(proc.stderr)}")
    return proc.stdout


def tree_ids(repo: GitRepo, specs: list[str]) -> list[str | None]:
    """The tree id each `REV:PATH` names; None where that is no tree (unknown
    revision, no such path). One git process for all."""
    listing = "".join(spec + "\n" for spec in specs).encode()
    lines = _git_output(repo, ["cat-file", "--batch-check=%(objectname) %(objecttype)"], listing).splitlines()
    found = [line.split() for line in lines]
    return [words[0].decode() if words[-1] == b"tree" else None for words in found]


def diff_tree_blobs(repo: GitRepo, old: str | None, new: str | None) -> list[tuple[str, str | None, str | None]]:
    """(path, old blob id, new blob id) of every file that differs between two
    trees (None: no tree, or no file on that side), by `git diff-tree -r`."""
    if old == new:
        return []
    width = len(old or new or "")
    out = _git_output(repo, ["diff-tree", "-r", "-z", "--no-renames", "--no-ext-diff",
                             old or _EMPTY_TREE[width], new or _EMPTY_TREE[width]])
    fields = out.split(b"\0")
    changes = []
    for header, path in zip(fields[0::2], fields[1::2]):
        old_mode, new_mode, old_id, new_id, _ = header.decode().lstrip(":").split(" ")
        changes.append((os.fsdecode(path), _blob_id(old_mode, old_id), _blob_id(new_mode, new_id)))
    return changes


def _blob_id(mode: str, object_id: str) -> str | None:
    """A file's id from a raw diff line; None for no file or a submodule."""
    return None if mode in ("000000", "160000") else object_id


def read_blobs(repo: GitRepo, ids: Iterable[str]) -> dict[str, bytes]:
    """The content of each blob, by id: one `git cat-file --batch`."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    out = _git_output(repo, ["cat-file", "--batch"], "".join(i + "\n" for i in wanted).encode())
    blobs, at = {}, 0
    for object_id in wanted:
        end = out.index(b"\n", at)
        header = out[at:end].split()
        if header[1:2] != [b"blob"]:
            raise GitDataError(f"git object {object_id} is missing or not a blob")
        size = int(header[2])
        blobs[object_id] = out[end + 1:end + 1 + size]
        at = end + 1 + size + 1
    return blobs


def run_git(repo: GitRepo, args: list[str], stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """git itself on this repository and its own index (whatever GIT_INDEX_FILE a
    calling hook has set), output captured. Cheaper than importing pygit2."""
    import subprocess

    env = {key: value for key, value in os.environ.items() if key != "GIT_INDEX_FILE"}
    env.update(GIT_DIR=str(repo.git_dir), GIT_WORK_TREE=str(repo.workdir))
    return subprocess.run(["git", *args], cwd=repo.workdir, env=env, input=stdin, capture_output=True)


def _update_index(repo: GitRepo, options: list[str], paths: Iterable[str]) -> None:
    """`git update-index OPTIONS` for these paths, under our lock and retried while
    another git process holds index.lock for a moment."""
    listing = b"".join(os.fsencode(path) + b"\0" for path in paths)
    if not listing:
        return
    from gitdata.locks import lock

    # Read-modify-write of the index: without our lock, two git-data processes
    # would each write back the index they read, and one's changes would be lost.
    with lock(repo, "git-index"):
        for attempt in range(100):
            proc = run_git(repo, ["update-index", *options, "-z", "--stdin"], listing)
            if proc.returncode == 0:
                return
            if b"index.lock" not in proc.stderr or attempt == 99:
                raise GitDataError(f"cannot update git's index: {git_error(proc.stderr)}")
            time.sleep(0.05)


def stage(repo: GitRepo, paths: Iterable[str]) -> None:
    """Make git's index match the workspace for these paths (add or remove)."""
    _update_index(repo, ["--add", "--remove"], sorted(set(paths)))


def remove_from_index(repo: GitRepo, paths: Iterable[str]) -> None:
    """Like `git rm --cached`: git stops tracking the paths; the files stay."""
    _update_index(repo, ["--force-remove"], sorted(set(paths)))


def staged_new(repo: GitRepo, paths: Iterable[str]) -> list[str]:
    """Those of `paths` that git's index holds and HEAD does not (staged, never committed)."""
    proc = run_git(repo, ["diff", "--cached", "--name-only", "--diff-filter=A", "-z", "--", *paths])
    if proc.returncode:
        raise GitDataError(f"cannot read git's index: {git_error(proc.stderr)}")
    return [os.fsdecode(path) for path in proc.stdout.split(b"\0") if path]


def index_paths(repo: GitRepo) -> set[str]:
    proc = run_git(repo, ["ls-files", "-z"])
    if proc.returncode:
        raise GitDataError(f"cannot read git's index: {git_error(proc.stderr)}")
    return {os.fsdecode(path) for path in proc.stdout.split(b"\0") if path}


def git_error(stderr: bytes) -> str:
    """The line worth showing from what a failed git command printed."""
    lines = stderr.decode(errors="replace").strip().splitlines()
    return lines[0].removeprefix("fatal: ").removeprefix("error: ") if lines else "git failed"


def identity(repo: GitRepo, role: str = "committer", required: bool = True) -> pygit2.Signature:
    """Who is acting, by git's rules: GIT_AUTHOR_*/GIT_COMMITTER_* first, then user.name/email.
    For metadata nobody reads as authorship (notes), `required=False` falls back to a neutral name."""
    import pygit2

    prefix = "GIT_AUTHOR" if role == "author" else "GIT_COMMITTER"
    config = repo.raw.config
    name = os.environ.get(f"{prefix}_NAME") or _config_value(config, "user.name")
    email = os.environ.get(f"{prefix}_EMAIL") or _config_value(config, "user.email")
    if not (name and email):
        if required:
            raise GitDataError("tell git who you are first: git config user.name 'Your Name'; "
                               "git config user.email you@example.com")
        name, email = name or "git-data", email or "git-data@localhost"
    return pygit2.Signature(name, email)


def _config_value(config: pygit2.Config, key: str) -> str | None:
    try:
        return config[key]
    except KeyError:
        return None


def commit_paths(repo: GitRepo, paths: Iterable[str], message: str) -> str:
    """Commit on top of HEAD what git's index holds for `paths` (the command staged
    them; a path the index lacks, like a file git-data took over from git, leaves the
    tree); nothing else the user staged goes into this commit, and it stays staged."""
    import pygit2

    index = repo.raw.index
    index.read()
    contents: dict[str, bytes | None] = {}
    executable = []
    for path in sorted(set(paths)):
        if path in index:
            entry = index[path]
            contents[path] = cast("pygit2.Blob", repo.raw[entry.id]).data
            if entry.mode == pygit2.enums.FileMode.BLOB_EXECUTABLE:
                executable.append(path)
        else:
            contents[path] = None
    return commit_contents(repo, contents, message, executable)


def commit_contents(repo: GitRepo, contents: Mapping[str, bytes | None], message: str,
                    executable: Iterable[str] = ()) -> str:
    """Commit on top of HEAD with these files holding these bytes (None: removed); the
    index is left alone, so nothing else the user staged goes in."""
    import pygit2

    raw = repo.raw
    parent = head_commit(repo)
    scratch = pygit2.Index()
    if parent is not None:
        scratch.read_tree(parent.tree)
    executable = set(executable)
    for path, data in sorted(contents.items()):
        if data is not None:
            mode = pygit2.enums.FileMode.BLOB_EXECUTABLE if path in executable else pygit2.enums.FileMode.BLOB
            scratch.add(pygit2.IndexEntry(path, raw.create_blob(data), mode))
        elif path in scratch:
            scratch.remove(path)
    tree_id = scratch.write_tree(raw)
    if parent is not None and tree_id == parent.tree_id:
        raise GitDataError("nothing to commit: the data is already committed")
    signature = identity(repo, "author")
    parents = [parent.id] if parent is not None else []
    oid = raw.create_commit("HEAD", signature, identity(repo, "committer"), message, tree_id, parents)
    return str(oid)
