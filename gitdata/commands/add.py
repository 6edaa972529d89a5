"""git data add (track): hash files, carry them into the cache, record them."""
from __future__ import annotations

import argparse
import os
from typing import Iterable, NamedTuple

from gitdata import config, git, output
from gitdata.errors import GitDataError
from gitdata.ignore import IgnoreRules
from gitdata.manifest import Entry, Tracked, manifest_path
from gitdata.paths import is_under, parent_dir
from gitdata.project import Project, open_project, relpaths
from gitdata.track import METHODS, cache_files, check_method, commit_if_asked, ignore_targets, record
from gitdata.workspace import walk_files, warn_damaged_object


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files, directories or globs")
    parser.add_argument("--as", dest="method", metavar="METHOD", choices=METHODS,
                        help="how the workspace file is kept: copy (default), symlink, hardlink, reflink")
    parser.add_argument("--no-commit", action="store_true", help="record the digests without caching the content")
    parser.add_argument("--include-git-files", action="store_true",
                        help="also take over files git tracks (they leave git's index)")
    from gitdata.autocommit import add_options

    add_options(parser)


def run(args: argparse.Namespace) -> int:
    from gitdata.autocommit import run_with

    project = open_project()
    rels = relpaths(project, args.paths)
    run_with(project, args, lambda commit: add(project, rels, method=args.method, no_commit=args.no_commit,
                                               include_git_files=args.include_git_files, commit=commit,
                                               message=args.message), "git data add " + " ".join(rels))
    return 0


def expand(project: Project, rels: list[str], include_git_files: bool,
           in_git: set[str]) -> tuple[list[str], list[str], list[str]]:
    """(files to add, directories added whole, git-tracked files taken over); `in_git`:
    the paths in git's index."""
    refuse_beyond_links(project, rels)
    rules = IgnoreRules(project.workdir)
    files: list[str] = []
    whole_dirs = []
    maybe_links: set[str] = set()  # what may lead outside: symlinks, and paths named directly
    for rel in rels:
        path = project.workdir / rel
        if not os.path.lexists(path):
            raise GitDataError(f"pathspec '{rel}' did not match any files")
        if path.is_symlink() and path.is_dir():
            maybe_links.add(rel)   # no file, and no directory to walk: reported below
        elif path.is_dir():
            if rel == "" or rules.ignored(rel, is_dir=True):
                raise GitDataError(f"'{rel or '.'}' cannot be tracked as a whole; add the directories inside it")
            whole_dirs.append(rel)
            files += walk_files(project.workdir, rel, rules, symlinks=maybe_links)
        elif rules.ignored(rel):
            output.warn(f"'{rel}' is ignored by {rules.reason(rel)}; skipped")
        elif not path.is_symlink() and not path.is_file():
            raise GitDataError(f"'{rel}' is not a regular file, a directory or a symbolic link")
        else:
            files.append(rel)
            maybe_links.add(rel)
    for rel in sorted(maybe_links.difference(files)):   # links to directories
        output.warn(_linked_directory(project, rel))
    files = [rel for rel in files if rel not in maybe_links or _inside(project, rel)]
    taken = [rel for rel in files if rel in in_git]
    if taken and not include_git_files:
        named = set(rels)
        for rel in taken:   # a warning for what was named, as for ignored files; found in a walk, chatter
            say = output.warn if rel in named else output.verbose
            say(f"'{rel}' is tracked by git; skipped (see --include-git-files)")
        files = [rel for rel in files if rel not in in_git]
        taken = []
    return files, whole_dirs, taken


def refuse_beyond_links(project: Project, rels: list[str]) -> None:
    """As git does: nothing is added through a symlinked directory, where the manifest
    and .gitignore would be written through the link (at another path than the data's)."""
    fine = {""}
    for rel in rels:
        directory = parent_dir(rel)
        above = []
        while directory not in fine:
            above.append(directory)
            directory = parent_dir(directory)
        for directory in reversed(above):   # from the top: name the first link
            if os.path.islink(f"{project.workdir}{os.sep}{directory}"):
                raise GitDataError(f"'{rel}' is beyond a symbolic link ('{directory}')")
            fine.add(directory)


def _linked_directory(project: Project, rel: str) -> str:
    """Why a symlink to a directory is skipped: git-data tracks files, and following
    it would track the same files twice (or in circles)."""
    target = os.path.realpath(f"{project.workdir}{os.sep}{rel}")
    if not target.startswith(f"{project.workdir}{os.sep}"):
        return f"'{rel}' is a symlink leading outside the repository; skipped"
    real = os.path.relpath(target, project.workdir).replace(os.sep, "/")
    return f"'{rel}' is a symbolic link to the directory '{real}'; skipped (add '{real}' itself)"


def _inside(project: Project, rel: str) -> bool:
    """Symlinks that lead outside the worktree are never followed."""
    path = f"{project.workdir}{os.sep}{rel}"
    if not os.path.islink(path):
        return True
    if not os.path.exists(path):
        output.warn(f"'{rel}' is a broken symbolic link; skipped")
        return False
    target = os.path.realpath(path)
    if target.startswith(str(project.workdir) + os.sep) or target.startswith(str(project.cache.root) + os.sep):
        return True
    output.warn(f"'{rel}' is a symlink leading outside the repository; skipped")
    return False


def add(project: Project, rels: list[str], method: str | None = None, no_commit: bool = False,
        include_git_files: bool = False, commit: bool = False, message: str | None = None) -> list[str]:
    """Track these paths; returns the files staged in git's index."""
    check_method(method)
    in_git = git.index_paths(project.repo)
    files, whole_dirs, taken = expand(project, rels, include_git_files, in_git)
    tracked = project.tracked()
    algorithm = config.hash_algorithm(project.repo)
    default_method = config.get(project.repo, "core.method", "copy") or "copy"
    check_method(default_method)
    recorded = cache_files(project, files, tracked, algorithm, method, default_method, no_commit)
    for rel in recorded.damaged:
        warn_damaged_object(rel, tracked.files[rel].digest)
    changes: dict[str, Entry | None] = dict(recorded.changes)
    # Re-adding a directory records it as it is now: files deleted from it leave the
    # manifest (their content stays in the cache).
    for rel in _deleted_under(project, tracked, whole_dirs, files):
        changes[rel] = None
    replaced = replaced_by(project, tracked, in_git, [rel for rel in files if rel not in tracked.files], whole_dirs)
    for rel in replaced.files:
        changes[rel] = None
    if replaced.in_git:   # first: git's index refuses x/.gitignore while it holds the file x
        git.remove_from_index(project.repo, replaced.in_git)
    new_whole = [d for d in whole_dirs if d not in tracked.whole_dirs]
    ignore = ignore_targets(_outside(recorded.changes, tracked.whole_dirs), whole_dirs)
    unignore = sorted((replaced.files | replaced.whole_dirs) - set(ignore))
    staged = replaced.in_git + record(project, changes, whole_add=new_whole, whole_remove=replaced.whole_dirs,
                                      ignore=ignore, unignore=unignore)
    if taken:
        git.remove_from_index(project.repo, taken)
        staged += taken
    removed = len(changes) - len(recorded.changes)
    output.info(f"added {len(recorded.changes)} file(s), {recorded.unchanged} unchanged"
                + (f", {removed} deleted file(s) untracked" if removed else ""))
    commit_if_asked(project, staged, commit, message, "git data add " + " ".join(rels))
    return staged


def _deleted_under(project: Project, tracked: Tracked, whole_dirs: list[str], found: list[str]) -> list[str]:
    """Tracked files under these directories that the walk did not find and that are gone."""
    unseen = tracked.files.keys() - set(found)   # usually none: cheaper than walking the tracked list
    return sorted(rel for rel in unseen if any(is_under(rel, d) for d in whole_dirs)
                  and not os.path.lexists(f"{project.workdir}{os.sep}{rel}"))


class Replaced(NamedTuple):
    files: set[str]        # tracked files that stop being tracked
    whole_dirs: set[str]   # directories no longer tracked whole
    in_git: list[str]      # paths that leave git's index


def replaced_by(project: Project, tracked: Tracked, in_git: set[str], new_files: list[str],
                dirs: list[str]) -> Replaced:
    """As in git's index, a path is a file or a directory, never both: what adding these
    (untracked) files and directories replaces. A file where a directory is now needed
    (x, for x/inner or the directory x), and what was inside a path that is a file now
    (d/y, the directory d tracked whole, and git-data's d/.gitignore, for the file d)."""
    needed_dirs = _with_ancestors({parent_dir(rel) for rel in new_files} | set(dirs))
    were_dirs = _were_directories(project, new_files)
    return Replaced({d for d in needed_dirs if d in tracked.files} | _inside_any(tracked.files, were_dirs),
                    {d for d in tracked.whole_dirs if any(is_under(d, f) for f in were_dirs)},
                    sorted({d for d in needed_dirs if d in in_git} | _inside_any(in_git, were_dirs)))


def _were_directories(project: Project, new_files: list[str]) -> set[str]:
    """The new files standing where git-data tracks a directory: those with a manifest
    directory under .gitdata/tree (one stat each, beside reading them)."""
    prefix = f"{project.workdir}{os.sep}"
    return {rel for rel in new_files if os.path.isdir(prefix + parent_dir(manifest_path(rel)))}


def _inside_any(known: Iterable[str], directories: set[str]) -> set[str]:
    """The known paths inside these directories (a pass over all of them, so only when
    there are any: rarely)."""
    if not directories:
        return set()
    return {rel for rel in known if any(rel.startswith(d + "/") for d in directories)}


def _with_ancestors(directories: Iterable[str]) -> set[str]:
    """These directories and every directory above them (not the root, '')."""
    found: set[str] = set()
    for directory in directories:
        while directory and directory not in found:
            found.add(directory)
            directory = parent_dir(directory)
    return found


def _outside(rels: Iterable[str], whole_dirs: frozenset[str]) -> list[str]:
    """The paths not inside a directory already tracked whole (git ignores those already)."""
    kept = []
    for rel in rels:
        directory = parent_dir(rel)
        while directory and directory not in whole_dirs:
            directory = parent_dir(directory)
        if not directory:
            kept.append(rel)
    return kept
