"""git data import-url: download a file and track it with its provenance
(URL, ETag, Last-Modified, agent), so `git data update` can refresh it."""
from __future__ import annotations

import argparse
import os

from gitdata import config, download, imports, output
from gitdata.errors import GitDataError
from gitdata.manifest import Entry
from gitdata.paths import join
from gitdata.project import Project, open_project, relpaths
from gitdata.track import METHODS, check_method, commit_if_asked

GIT_SIZE_WARNING = 10 << 20


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # options may sit between the positionals (`import REPO PATH -r v1 DEST`), as users type them
    parser.parse_args = parser.parse_intermixed_args  # type: ignore[method-assign]
    parser.add_argument("url", metavar="URL", help="http, https or file URL")
    parser.add_argument("path", nargs="?", metavar="PATH",
                        help="where to put it (default: the URL's file name; an existing directory: inside it)")
    parser.add_argument("--git", action="store_true", help="store the (small) file in git itself, not the cache")
    parser.add_argument("-A", "--user-agent", metavar="AGENT", help="User-Agent header to send (and record)")
    parser.add_argument("--as", dest="method", metavar="METHOD", choices=METHODS,
                        help="copy (default), symlink, hardlink, reflink")
    parser.add_argument("-f", "--force", action="store_true",
                        help="replace an existing file (its content is kept in the cache)")
    parser.add_argument("--commit", action="store_true", help="also commit the import")
    parser.add_argument("-m", "--message", help="commit message for --commit")


def run(args: argparse.Namespace) -> int:
    from gitdata.autocommit import check_options

    check_options(args)
    project = open_project()
    rel = target_path(project, args.url, args.path)
    staged = import_url(project, args.url, rel, to_git=args.git, agent=args.user_agent, method=args.method,
                        force=args.force)
    commit_if_asked(project, staged, args.commit, args.message, f"git data import-url {args.url}")
    return 0


def target_path(project: Project, url: str, path: str | None) -> str:
    download.check_url(url)
    if path is None:
        return relpaths(project, [download.file_name(url)])[0]
    rel = relpaths(project, [path])[0]
    if rel == "" or os.path.isdir(project.workdir / rel) and not os.path.islink(project.workdir / rel):
        return join(rel, download.file_name(url))
    return rel


def import_url(project: Project, url: str, rel: str, to_git: bool = False, agent: str | None = None,
               method: str | None = None, force: bool = False) -> list[str]:
    """Download `url` to `rel` and record it; returns the paths staged in git."""
    check_method(method)
    tracked = project.tracked()
    if to_git and rel in tracked.files:
        raise GitDataError(f"'{rel}' is tracked by git-data; untrack it before importing it into git")
    if not to_git:
        imports.check_not_in_git(project, [rel])
    imports.check_target(project, rel, tracked, force)
    algorithm = config.hash_algorithm(project.repo)
    tmp = project.cache.new_temp()
    try:
        fetched = download.fetch(url, tmp, algorithm, agent)
        assert fetched.digest is not None
        fields = {"url": url, "etag": fetched.etag, "last-modified": fetched.last_modified, "agent": agent}
        if to_git:
            if fetched.size > GIT_SIZE_WARNING:
                output.warn(f"'{rel}' is {output.human_size(fetched.size)}; large files belong in the cache "
                            "(import without --git)")
            imports.set_git_import(project, rel, {**fields, "digest": fetched.digest})
            imports.write_into_git(project, rel, tmp)
            output.info(f"imported {url} into git as {rel} ({output.human_size(fetched.size)})")
            return [rel, imports.GIT_IMPORTS]
        project.cache.adopt(tmp, fetched.digest)
    finally:
        tmp.unlink(missing_ok=True)
    old = tracked.files.get(rel)
    chosen = method or (old.method if old else config.get(project.repo, "core.method", "copy") or "copy")
    entry = Entry(fetched.digest, fetched.size, False, chosen, imports.provenance(fields.items()))
    imports.place(project, rel, entry)
    staged = imports.record_imports(project, {rel: entry})
    output.info(f"imported {url} as {rel} ({output.human_size(fetched.size)})")
    return staged
