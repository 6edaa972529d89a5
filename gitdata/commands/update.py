"""git data update: refresh imported files from their source. URL imports are asked
with a conditional request (ETag / Last-Modified) and downloaded only when changed;
repository imports move to the newest commit of their rev (or to --rev)."""
from __future__ import annotations

import argparse

from gitdata import download, imports, output
from gitdata.errors import GitDataError
from gitdata.hashing import parse_digest
from gitdata.manifest import Entry
from gitdata.paths import is_under
from gitdata.project import Project, open_project, scopes_or_all
from gitdata.track import commit_if_asked


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", metavar="PATH", help="imported files or directories (default: all)")
    parser.add_argument("-r", "--rev", metavar="REV", help="for repository imports: move to this rev instead")
    parser.add_argument("-f", "--force", action="store_true",
                        help="replace locally modified files (their content is kept in the cache)")
    parser.add_argument("--commit", action="store_true", help="also commit the updates")
    parser.add_argument("-m", "--message", help="commit message for --commit")


def run(args: argparse.Namespace) -> int:
    from gitdata.autocommit import check_options

    check_options(args)
    project = open_project()
    staged = update(project, scopes_or_all(project, args.paths), rev=args.rev, force=args.force)
    commit_if_asked(project, staged, args.commit, args.message, "git data update")
    return 0


def update(project: Project, scopes: list[str], rev: str | None = None, force: bool = False) -> list[str]:
    tracked = project.tracked()
    found = imports.imported_paths(tracked, scopes)
    in_git = {rel: f for rel, f in imports.git_imports(project).items() if any(is_under(rel, s) for s in scopes)}
    if not found and not in_git:
        where = "" if scopes == [""] else f" under {', '.join(scopes)}"
        raise GitDataError(f"no imported files{where}")
    staged: list[str] = []
    url_changes: dict[str, Entry | None] = {}
    for rel, entry in sorted(found.items()):
        if entry.get("url"):
            new = update_url_entry(project, rel, entry, tracked, force)
            if new is not None:
                url_changes[rel] = new
    if url_changes:
        staged += imports.record_imports(project, url_changes)
    for rel, fields in sorted(in_git.items()):
        staged += update_git_import(project, rel, fields)
    repo_imports = sorted({(e.get("repo"), e.get("src"), e.get("dest"), e.get("rev"))
                           for e in found.values() if e.get("repo")})
    for url, src, dest, old_rev in repo_imports:
        from gitdata.commands.import_repo import import_repo

        if not (url and src and dest):
            raise GitDataError(f"the provenance of '{dest or src}' is incomplete; import it again")
        methods = {e.method for r, e in tracked.files.items() if is_under(r, dest)}
        staged += import_repo(project, url, src, dest, rev or old_rev, method=None if len(methods) != 1 else
                              methods.pop(), force=force)
    return staged


def update_url_entry(project: Project, rel: str, entry: Entry, tracked, force: bool) -> Entry | None:  # type: ignore[no-untyped-def]
    """The new entry for a URL import, or None when nothing changed."""
    url = entry.get("url") or ""
    tmp = project.cache.new_temp()
    try:
        fetched = download.fetch(url, tmp, parse_digest(entry.digest).algorithm, entry.get("agent"),
                                 entry.get("etag"), entry.get("last-modified"))
        if not fetched.changed:
            output.info(f"{rel}: up to date (not modified since {entry.get('last-modified') or entry.get('etag')})")
            return None
        assert fetched.digest is not None
        fields = imports.provenance([("url", url), ("etag", fetched.etag), ("last-modified", fetched.last_modified),
                                     ("agent", entry.get("agent"))])
        if fetched.digest == entry.digest:
            output.info(f"{rel}: up to date (same content)")
            return entry._replace(extra=fields) if fields != entry.extra else None
        imports.check_target(project, rel, tracked, force)
        project.cache.adopt(tmp, fetched.digest)
    finally:
        tmp.unlink(missing_ok=True)
    new = Entry(fetched.digest, fetched.size, False, entry.method, fields)
    imports.place(project, rel, new)
    output.info(f"{rel}: updated from {url} ({output.human_size(fetched.size)})")
    return new


def update_git_import(project: Project, rel: str, fields: dict[str, str]) -> list[str]:
    url = fields.get("url")
    if not url:
        return []
    digest = fields.get("digest")
    algorithm = parse_digest(digest).algorithm if digest else "sha256"
    tmp = project.cache.new_temp()
    try:
        fetched = download.fetch(url, tmp, algorithm, fields.get("agent"), fields.get("etag"),
                                 fields.get("last-modified"))
        if not fetched.changed or fetched.digest == digest:
            output.info(f"{rel}: up to date")
            return []
        imports.check_target(project, rel, project.tracked(), force=False)
        imports.set_git_import(project, rel, {"url": url, "etag": fetched.etag, "last-modified": fetched.last_modified,
                                              "agent": fields.get("agent"), "digest": fetched.digest})
        imports.write_into_git(project, rel, tmp)
    finally:
        tmp.unlink(missing_ok=True)
    output.info(f"{rel}: updated from {url}")
    return [rel, imports.GIT_IMPORTS]
