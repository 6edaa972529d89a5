"""git data mv (move): move tracked files, globs and directories. Works from the
manifests, so the content need not be in the workspace; `cp` shares this module."""
from __future__ import annotations

import argparse
import fnmatch
import os
import time
from pathlib import Path
from typing import NamedTuple

from gitdata import output
from gitdata.errors import GitDataError, UsageError
from gitdata.fsutil import materialise, remove_empty_parents
from gitdata.manifest import TREE_DIR, Entry, Tracked
from gitdata.paths import base_name, check_relpath, ensure_inside, is_under, join, parent_dir, to_relpath
from gitdata.project import Project, has_glob, open_project
from gitdata.track import METHODS, check_method, ignore_targets, record


class Move(NamedTuple):
    src: str
    dst: str
    entry: Entry          # the source entry
    new: Entry            # the destination entry


class Plan(NamedTuple):
    moves: list[Move]
    whole_add: list[str]
    whole_remove: list[str]   # source directories added whole (mv only)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_shared_arguments(parser, "move")


def add_shared_arguments(parser: argparse.ArgumentParser, verb: str) -> None:
    parser.add_argument("paths", nargs="+", metavar="SRC... DST",
                        help=f"tracked files, directories or quoted globs to {verb}, then the destination "
                             "(an existing directory, or a path ending in '/', takes them inside)")
    parser.add_argument("--no-checkout", action="store_true",
                        help="only rewrite the manifests: do not write the destination files")
    parser.add_argument("--as", dest="method", metavar="METHOD", choices=METHODS,
                        help="method for the destination files: copy, symlink, hardlink, reflink "
                             "(default: the source's)")
    parser.add_argument("--name-only", action="store_true",
                        help="put every file directly in the destination directory under its own name, "
                             "instead of keeping its path below the source")
    parser.add_argument("-f", "--force", action="store_true",
                        help="replace destinations that exist (their content is kept in the cache)")
    parser.add_argument("-n", "--dry-run", action="store_true", help=f"show what would {verb}, change nothing")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def run(args: argparse.Namespace) -> int:
    return run_shared(args, keep_source=False)


def run_shared(args: argparse.Namespace, keep_source: bool) -> int:
    if len(args.paths) < 2:
        raise UsageError(f"{'cp' if keep_source else 'mv'} needs a source and a destination")
    project = open_project()
    moves = relocate(project, args.paths[:-1], args.paths[-1], keep_source=keep_source, method=args.method,
                     no_checkout=args.no_checkout, name_only=args.name_only, force=args.force,
                     dry_run=args.dry_run)
    if args.json:
        output.print_json([{"source": m.src, "destination": m.dst} for m in moves])
    elif args.dry_run:
        for move in moves:
            output.out(f"{move.src} -> {move.dst}")
    return 0


# -- planning ----------------------------------------------------------------

def glob_matches(pattern: str, rel: str) -> bool:
    """gitignore-free shell glob on repo-relative paths: '*' stays within one
    directory level, '**' spans any number of them."""
    return _match(pattern.split("/"), rel.split("/"))


def _match(pattern: list[str], parts: list[str]) -> bool:
    if not pattern:
        return not parts
    if pattern[0] == "**":
        return any(_match(pattern[1:], parts[i:]) for i in range(len(parts) + 1))
    return bool(parts) and fnmatch.fnmatchcase(parts[0], pattern[0]) and _match(pattern[1:], parts[1:])


def _glob_base(pattern: str) -> str:
    parts = pattern.split("/")
    fixed = []
    for part in parts[:-1]:
        if has_glob(part):
            break
        fixed.append(part)
    return "/".join(fixed)


def _relative(rel: str, base: str) -> str:
    return rel[len(base) + 1:] if base else rel


def _sources(project: Project, tracked: Tracked, arg: str) -> tuple[dict[str, str], str | None]:
    """Tracked files named by one source argument -> their path below what was named;
    and the directory named, if a directory was."""
    rel = to_relpath(project.workdir, arg)
    if has_glob(rel) and rel not in tracked.files:
        base = _glob_base(rel)
        found = {}
        for path in tracked.files:
            named = next((d for d in _ancestors_and_self(path) if glob_matches(rel, d)), None)
            if named is not None:
                found[path] = _relative(path, base)
        if not found:
            raise GitDataError(f"'{arg}' did not match any tracked file")
        return found, None
    if rel in tracked.files:
        return {rel: base_name(rel)}, None
    if rel == "":
        raise GitDataError("cannot move or copy the whole repository")
    under = tracked.under(rel)
    if not under:
        raise GitDataError(f"'{arg}' is not tracked by git-data")
    return {path: join(base_name(rel), _relative(path, rel)) for path in under}, rel


def _ancestors_and_self(rel: str) -> list[str]:
    parts = rel.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]


def plan(project: Project, tracked: Tracked, sources: list[str], destination: str, keep_source: bool,
         method: str | None = None, name_only: bool = False) -> Plan:
    dst_rel = to_relpath(project.workdir, destination)
    dst_path = project.workdir / dst_rel
    dst_is_dir = (destination.endswith(("/", os.sep)) or dst_rel == "" or
                  (dst_path.is_dir() and not dst_path.is_symlink()) or bool(tracked.under(dst_rel)) and
                  dst_rel not in tracked.files)
    named: list[tuple[dict[str, str], str | None]] = [_sources(project, tracked, arg) for arg in sources]
    total = sum(len(found) for found, _ in named)
    if (len(sources) > 1 or total > 1 and named[0][1] is None) and not dst_is_dir:
        raise GitDataError(f"'{destination}' is not a directory (end it with '/' to create one)")
    moves: dict[str, Move] = {}
    whole_add, whole_remove = [], []
    for found, directory in named:
        for src, below in sorted(found.items()):
            if name_only:
                below = base_name(src)
            elif directory is not None and not dst_is_dir:
                below = below.split("/", 1)[1]   # `mv dir new` renames dir to new
            dst = join(dst_rel, below) if dst_is_dir or directory is not None else dst_rel
            if dst in moves:
                raise GitDataError(f"'{moves[dst].src}' and '{src}' would both become '{dst}'")
            entry = tracked.files[src]
            moves[dst] = Move(src, dst, entry, entry._replace(method=method or entry.method))
        if directory is not None and is_under(join(dst_rel, base_name(directory)) if dst_is_dir else dst_rel,
                                              directory):
            raise GitDataError(f"cannot put '{directory}' inside itself")
        if directory is not None and not name_only:
            target = join(dst_rel, base_name(directory)) if dst_is_dir else dst_rel
            for whole in tracked.whole_dirs:
                if is_under(whole, directory):
                    whole_add.append(target + whole[len(directory):])
                    if not keep_source:
                        whole_remove.append(whole)
    result = Plan(sorted(moves.values()), whole_add, whole_remove)
    _check_plan(project, tracked, result, keep_source)
    return result


def _check_plan(project: Project, tracked: Tracked, plan: Plan, keep_source: bool) -> None:
    sources = {m.src for m in plan.moves}
    prefix = f"{project.workdir}{os.sep}"
    for move in plan.moves:
        check_relpath(move.dst, "destination")
        if move.dst == move.src:
            raise GitDataError(f"'{move.src}' would be {'copied' if keep_source else 'moved'} onto itself")
        if is_under(move.dst, ".gitdata"):
            raise GitDataError(f"'{move.dst}': the destination is inside .gitdata")
        if os.path.isdir(prefix + move.dst) and not os.path.islink(prefix + move.dst):
            raise GitDataError(f"'{move.dst}' is a directory")
        if not keep_source and move.dst in sources:
            raise GitDataError(f"'{move.dst}' is both a source and a destination")
    checked: set[str] = set()
    first: dict[str, str] = {}
    for move in plan.moves:
        first.setdefault(parent_dir(move.dst), move.dst)
    for directory, example in sorted(first.items()):
        for ancestor in _ancestors_and_self(directory) if directory else []:
            if ancestor in checked:
                continue
            checked.add(ancestor)
            if ancestor in tracked.files and (keep_source or ancestor not in sources):
                raise GitDataError(f"'{example}': '{ancestor}' is a tracked file, not a directory")
            if os.path.lexists(prefix + ancestor) and not os.path.isdir(prefix + ancestor):
                raise GitDataError(f"'{example}': '{ancestor}' is a file, not a directory")
        ensure_inside(project.workdir, join(directory, "x"))
    # a committed symlink could route a source path out of the worktree: moving
    # "its" file would take it away from wherever that is
    for directory in sorted({parent_dir(m.src) for m in plan.moves} - {""}):
        ensure_inside(project.workdir, join(directory, "x"))


def _check_sources(project: Project, plan: Plan) -> None:
    """Refuse when a source in the workspace differs from its manifest entry: moving the
    record would silently re-label content the manifest never saw."""
    from gitdata.workspace import MODIFIED, file_states

    moves = plan.moves
    states = file_states(project.repo, [(m.src, m.entry) for m in moves], project.cache, project.stat_cache())
    modified = sorted(m.src for m, s in zip(moves, states) if s == MODIFIED)
    if modified:
        shown = ", ".join(modified[:5]) + (f" and {len(modified) - 5} more" if len(modified) > 5 else "")
        raise GitDataError(f"modified since it was recorded: {shown}; 'git data commit' or "
                           "'git data checkout' it first")


def _check_destinations(project: Project, tracked: Tracked, plan: Plan, force: bool) -> None:
    from gitdata.git import index_paths

    in_git = index_paths(project.repo)
    clash = []
    for move in plan.moves:
        if move.dst in in_git:
            raise GitDataError(f"'{move.dst}' is tracked by git")
        if move.dst in tracked.files or os.path.lexists(project.workdir / move.dst):
            clash.append(move.dst)
    if clash and not force:
        shown = ", ".join(clash[:5]) + (f" and {len(clash) - 5} more" if len(clash) > 5 else "")
        raise GitDataError(f"destination exists: {shown} (use --force to replace)")


# -- doing -------------------------------------------------------------------

def relocate(project: Project, sources: list[str], destination: str, keep_source: bool,
             method: str | None = None, no_checkout: bool = False, name_only: bool = False,
             force: bool = False, dry_run: bool = False) -> list[Move]:
    """Move (or copy, with `keep_source`) tracked files; returns what went where."""
    check_method(method)
    tracked = project.tracked()
    the_plan = plan(project, tracked, sources, destination, keep_source, method, name_only)
    _check_sources(project, the_plan)
    _check_destinations(project, tracked, the_plan, force)
    if dry_run:
        return the_plan.moves
    unavailable = []
    if not no_checkout:
        unavailable = _update_workspace(project, the_plan, keep_source)
        if not keep_source:
            for rel in _move_the_rest(project, the_plan):
                output.warn(f"'{rel}': not tracked, and its name is taken at the destination; left where it is")
    elif not keep_source:
        _drop_sources(project, the_plan)
    changes: dict[str, Entry | None] = {m.dst: m.new for m in the_plan.moves}
    if not keep_source:
        for move in the_plan.moves:
            changes[move.src] = None
    whole = set(tracked.whole_dirs) - set(the_plan.whole_remove) | set(the_plan.whole_add)
    new_files = [m.dst for m in the_plan.moves if not any(is_under(m.dst, d) for d in whole)]
    gone = [] if keep_source else [m.src for m in the_plan.moves] + the_plan.whole_remove
    record(project, changes, whole_add=the_plan.whole_add, whole_remove=the_plan.whole_remove,
           ignore=ignore_targets(new_files, the_plan.whole_add), unignore=gone)
    verb = "copied" if keep_source else "moved"
    for move in the_plan.moves:
        output.verbose(f"{verb} {move.src} -> {move.dst}")
    output.info(f"{verb} {len(the_plan.moves)} file(s)")
    for rel in unavailable:
        output.warn(f"{rel}: content not in the cache, not written (fetch it, then 'git data checkout')")
    return the_plan.moves


def _keep_old_bytes(project: Project, path: Path, entry: Entry) -> None:
    """Before a destination is replaced (--force), carry its bytes into the cache."""
    if path.is_file() and not path.is_symlink():
        project.cache.add_file(path, entry.digest.split(":")[0])


def _update_workspace(project: Project, the_plan: Plan, keep_source: bool) -> list[str]:
    from gitdata.workspace import parallel_map

    cache = project.cache
    stats = project.stat_cache()
    started = time.time()
    remembered: list[tuple[str, os.stat_result, str]] = []

    def one(move: Move) -> str | None:
        src = project.workdir / move.src
        dst = project.workdir / move.dst   # every destination directory was checked by _check_plan
        if os.path.lexists(dst):
            _keep_old_bytes(project, dst, move.entry)
        have_src = os.path.lexists(src) and src.exists()
        if not keep_source and have_src:
            dst.parent.mkdir(parents=True, exist_ok=True)
            if move.new.method != move.entry.method:
                _carry_in(project, src, move.entry)
                materialise(cache.path(move.entry.digest), dst, move.new.method, move.entry.executable)
                src.unlink()
            else:
                os.replace(src, dst)
                remembered.append((move.dst, dst.stat(), move.entry.digest))
            return None
        if not cache.has(move.entry.digest):
            if not have_src:
                return move.dst
            if move.new.method in ("copy", "reflink"):
                materialise(src, dst, move.new.method, move.entry.executable)
                return None
            _carry_in(project, src, move.entry)
        materialise(cache.path(move.entry.digest), dst, move.new.method, move.entry.executable)
        return None

    results = []
    with output.progress("Copying" if keep_source else "Moving", len(the_plan.moves)) as bar:
        for result in parallel_map(one, the_plan.moves):
            results.append(result)
            bar.advance()
    stats.remember(remembered, started)
    if not keep_source:
        _remove_empty_dirs(project, the_plan)
    return sorted(r for r in results if r)


def _move_the_rest(project: Project, the_plan: Plan) -> list[str]:
    """mv of a directory tracked whole takes along what else is in it (files not added
    yet, ignored ones), as `git mv` renames the directory; files git tracks stay git's.
    Returns what stayed because its name is taken at the destination."""
    from gitdata.git import index_paths

    pairs = list(zip(the_plan.whole_remove, the_plan.whole_add))
    tops = [(src, dst) for src, dst in pairs if not any(src != other and is_under(src, other) for other, _ in pairs)]
    in_git = index_paths(project.repo) if tops else set()
    left, emptied = [], set()
    for src_dir, dst_dir in tops:
        for dirpath, dirnames, filenames in os.walk(project.workdir / src_dir):
            links = [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]   # moved, never followed
            for name in filenames + links:
                path = Path(dirpath) / name
                rel = path.relative_to(project.workdir).as_posix()
                target = project.workdir / (dst_dir + rel[len(src_dir):])
                if rel in in_git:
                    continue
                if os.path.lexists(target):
                    left.append(rel)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(path, target)
                emptied.add(path.parent)
    for directory in sorted(emptied, key=lambda d: len(d.parts), reverse=True):
        remove_empty_parents(directory, project.workdir)
    return left


def _carry_in(project: Project, path: Path, entry: Entry) -> None:
    if not project.cache.has(entry.digest):
        project.cache.add_file(path, entry.digest.split(":")[0], expected=entry.digest)


def _drop_sources(project: Project, the_plan: Plan) -> None:
    """mv --no-checkout: the sources leave the workspace, their bytes safe in the cache."""
    for move in the_plan.moves:
        src = project.workdir / move.src
        if os.path.lexists(src):
            if src.exists():
                _carry_in(project, src, move.entry)
            src.unlink()
    _remove_empty_dirs(project, the_plan)


def _remove_empty_dirs(project: Project, the_plan: Plan) -> None:
    stop = project.workdir
    for directory in sorted({parent_dir(m.src) for m in the_plan.moves}, key=len, reverse=True):
        if directory and not directory.startswith(TREE_DIR):
            remove_empty_parents(project.workdir / directory, stop)
