"""Three-way merges of what git-data commits, and the conflicts they leave.

Manifests merge key-wise: an entry changed on one side only takes that side;
an entry changed differently on both sides is a conflict. A conflicted entry
keeps "ours" in the merged manifest, so the file always parses, and the
conflict (base, ours, theirs, the branch names) is recorded in
`<git dir>/data/conflicts/`, where `git data status` and `git data resolve`
find it. git marks the manifest conflicted until `resolve` stages it.

Pipeline step files merge key-wise on their top-level mapping; a key changed
differently on both sides falls back to git's line merge with markers.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from gitdata import manifest
from gitdata.config import file_pairs, git_config_file
from gitdata.errors import GitDataError
from gitdata.fsutil import atomic_write
from gitdata.manifest import Entry
from gitdata.paths import join

if TYPE_CHECKING:
    import pygit2

    from gitdata.git import GitRepo

STEP_FILE = re.compile(r"^\.gitdata/pipelines/[^/]+/[^/]+\.ya?ml$")


class EntryConflict(NamedTuple):
    name: str
    base: Entry | None
    ours: Entry | None
    theirs: Entry | None


class Conflict(NamedTuple):
    """One conflicted data file."""
    path: str                 # the workspace file
    manifest: str             # the manifest that holds it
    base: Entry | None
    ours: Entry | None
    theirs: Entry | None
    ours_label: str
    theirs_label: str


# -- manifests ---------------------------------------------------------------------

def merge_entries(base: dict[str, Entry], ours: dict[str, Entry],
                  theirs: dict[str, Entry]) -> tuple[dict[str, Entry], list[EntryConflict]]:
    merged: dict[str, Entry] = {}
    conflicts = []
    for name in sorted(set(base) | set(ours) | set(theirs)):
        b, o, t = base.get(name), ours.get(name), theirs.get(name)
        if o == t or t == b:
            chosen = o
        elif o == b:
            chosen = t
        elif o is not None and t is not None and o.digest == t.digest:
            chosen = o  # same content, different metadata: not a data conflict
        else:
            conflicts.append(EntryConflict(name, b, o, t))
            chosen = o
        if chosen is not None:
            merged[name] = chosen
    return merged, conflicts


def merge_manifests(base: bytes, ours: bytes, theirs: bytes,
                    source: str) -> tuple[bytes, list[EntryConflict]]:
    def parsed(data: bytes, side: str) -> tuple[dict[str, Entry], bool]:
        return manifest.parse(data, f"{source} ({side})") if data else ({}, False)

    (b, bw), (o, ow), (t, tw) = parsed(base, "base"), parsed(ours, "ours"), parsed(theirs, "theirs")
    merged, conflicts = merge_entries(b, o, t)
    whole = tw if ow == bw else ow
    return manifest.serialize(merged, whole), conflicts


# -- pipeline step files ----------------------------------------------------------------

LAST_RUN = "last_run"


def merge_mappings(base: dict[str, Any], ours: dict[str, Any],
                   theirs: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    merged: dict[str, Any] = {}
    conflicts = []
    missing = object()
    for key in list(ours) + [k for k in theirs if k not in ours] + [k for k in base if k not in ours and k not in theirs]:
        b, o, t = base.get(key, missing), ours.get(key, missing), theirs.get(key, missing)
        if o == t or t == b:
            chosen = o
        elif o == b:
            chosen = t
        elif key == LAST_RUN:
            # Both sides ran the step differently: drop the record, so the merged
            # step is simply stale and re-runs. Nothing is lost but a cached run.
            chosen = missing
        else:
            conflicts.append(key)
            chosen = o
        if chosen is not missing:
            merged[key] = chosen
    return merged, conflicts


def _yaml_mapping(data: bytes) -> dict[str, Any] | None:
    import yaml

    try:
        value = yaml.safe_load(data) if data.strip() else {}
    except yaml.YAMLError:
        return None
    return value if isinstance(value, dict) else None


def merge_step_file(base: bytes, ours: bytes, theirs: bytes, labels: tuple[str, str, str]) -> tuple[bytes, list[str]]:
    """Returns the merged text and the conflicting top-level keys (then the text
    is git's line merge with conflict markers)."""
    import yaml

    line_text, line_clean = line_merge(base, ours, theirs, labels)
    mappings = [_yaml_mapping(side) for side in (base, ours, theirs)]
    if any(m is None for m in mappings):
        return line_text, ([] if line_clean else ["(not a YAML mapping)"])
    merged, conflicts = merge_mappings(*mappings)  # type: ignore[arg-type]
    if conflicts:
        return line_text, conflicts
    if line_clean and _yaml_mapping(line_text) == merged:
        return line_text, []  # the line merge keeps the author's layout and comments
    if merged == mappings[1]:
        return ours, []
    if merged == mappings[2]:
        return theirs, []
    return yaml.safe_dump(merged, sort_keys=False, allow_unicode=True).encode(), []


def line_merge(base: bytes, ours: bytes, theirs: bytes, labels: tuple[str, str, str]) -> tuple[bytes, bool]:
    """git's own line merge (`git merge-file`), markers and all."""
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory(prefix="gitdata-merge-") as tmp:
        paths = []
        for name, data in (("ours", ours), ("base", base), ("theirs", theirs)):
            path = os.path.join(tmp, name)
            with open(path, "wb") as handle:
                handle.write(data)
            paths.append(path)
        proc = subprocess.run(["git", "merge-file", "-p", "-L", labels[1], "-L", labels[0], "-L", labels[2], *paths],
                              capture_output=True)
    if proc.returncode < 0 or proc.returncode > 127:
        raise GitDataError(f"git merge-file failed: {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout, proc.returncode == 0


# -- .gitdata/config (git-config syntax) ---------------------------------------------------

def _config_items(path: str) -> dict[str, list[str]] | None:
    try:
        pairs = file_pairs(Path(path), path)
    except GitDataError:
        return None
    items: dict[str, list[str]] = {}
    for key, value in pairs:
        items.setdefault(key, []).append(value)
    return items


def merge_config(base: bytes, ours: bytes, theirs: bytes, labels: tuple[str, str, str]) -> tuple[bytes, list[str]]:
    """Key-wise merge of a git-config file (two branches that each add a storage
    append sections at the same place, which a line merge calls a conflict).
    Their changes are applied to our file with `git config`, keeping our layout."""
    import tempfile

    text, clean = line_merge(base, ours, theirs, labels)
    if clean:
        return text, []
    with tempfile.TemporaryDirectory(prefix="gitdata-merge-") as tmp:
        paths = {}
        for name, data in (("base", base), ("ours", ours), ("theirs", theirs)):
            paths[name] = os.path.join(tmp, name)
            with open(paths[name], "wb") as handle:
                handle.write(data)
        b, o, t = (_config_items(paths[n]) for n in ("base", "ours", "theirs"))
        if b is None or o is None or t is None:
            return text, ["(not git-config syntax)"]
        keys = sorted(set(b) | set(o) | set(t))
        conflicts = [k for k in keys if o.get(k) != b.get(k) and t.get(k) != b.get(k) and o.get(k) != t.get(k)]
        if conflicts:
            return text, conflicts
        for key in keys:
            if t.get(key) == b.get(key) or t.get(key) == o.get(key):
                continue
            git_config_file(Path(paths["ours"]), "--unset-all", key)
            for value in t.get(key, []):
                if git_config_file(Path(paths["ours"]), "--add", key, value).returncode:
                    return text, [key]
        with open(paths["ours"], "rb") as handle:
            return handle.read(), []


# -- .gitignore files ------------------------------------------------------------------

def merge_ignore_lines(base: bytes, ours: bytes, theirs: bytes) -> bytes | None:
    """Set-wise merge of .gitignore lines: what either side added is kept, what
    either side removed goes. None when order matters (negations), so that
    git's line merge decides."""
    sides = [data.decode("utf-8", "surrogateescape").splitlines() for data in (base, ours, theirs)]
    if any(line.startswith("!") for side in sides for line in side):
        return None
    b, o, t = sides
    removed = (set(b) - set(o)) | (set(b) - set(t))
    merged = [line for line in o if line not in removed]
    merged += [line for line in t if line not in b and line not in o]
    unique: list[str] = []
    seen: set[str] = set()
    for line in merged:
        if line.startswith("/") and line in seen:
            continue
        seen.add(line)
        unique.append(line)
    return ("\n".join(unique) + "\n").encode("utf-8", "surrogateescape") if unique else b""


# -- labels ----------------------------------------------------------------------------

def _name_of(repo: GitRepo, oid: str) -> str:
    for prefix in ("refs/heads/", "refs/remotes/", "refs/tags/"):
        for name in sorted(repo.raw.references):
            if name.startswith(prefix):
                try:
                    if str(repo.raw.references[name].peel().id) == oid:
                        return name[len(prefix):]
                except (KeyError, ValueError):
                    continue
    return oid[:10]


def side_labels(repo: GitRepo) -> tuple[str, str]:
    """Names for ours and theirs: branch names where git knows them."""
    raw = repo.raw
    ours = "HEAD"
    if not raw.head_is_detached and not raw.head_is_unborn:
        ours = raw.head.shorthand
    elif not raw.head_is_unborn:
        ours = str(raw.head.target)[:10]
    theirs = "theirs"
    head_sha = "" if raw.head_is_unborn else str(raw.head.target)
    named = [value for key, value in os.environ.items() if key.startswith("GITHEAD_") and key[8:] != head_sha]
    if len(named) == 1:  # git merge names the merged head this way
        return ours, named[0]
    rebasing = repo.git_dir / "rebase-merge"
    if (rebasing / "head-name").is_file():
        # a rebase replays "theirs" (the branch being rebased) onto "ours" (the upstream)
        onto = (rebasing / "onto").read_text().strip() if (rebasing / "onto").is_file() else ""
        head_name = (rebasing / "head-name").read_text().strip()
        return (_name_of(repo, onto) if onto else ours), head_name.removeprefix("refs/heads/")
    for special in ("MERGE_HEAD", "REBASE_HEAD", "CHERRY_PICK_HEAD", "REVERT_HEAD"):
        path = repo.git_dir / special
        if path.is_file():
            oid = path.read_text().split()[0] if path.read_text().split() else ""
            if oid:
                theirs = _name_of(repo, oid)
                break
    return ours, theirs


def safe_label(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", label).strip("-.") or "theirs"


def both_name(path: str, label: str) -> str:
    """`dir/name.ext` -> `dir/name.<label>.ext` for `resolve --both`."""
    directory, _, base = path.rpartition("/")
    stem, dot, ext = base.rpartition(".")
    if not stem:  # no extension, or a dot file
        renamed = f"{base}.{safe_label(label)}"
    else:
        renamed = f"{stem}.{safe_label(label)}{dot}{ext}"
    return f"{directory}/{renamed}" if directory else renamed


# -- conflict records ----------------------------------------------------------------

def conflicts_dir(repo: GitRepo) -> Path:
    return repo.git_dir / "data" / "conflicts"


def _record_path(repo: GitRepo, manifest_relpath: str) -> Path:
    import hashlib

    key = hashlib.sha1(manifest_relpath.encode("utf-8", "surrogateescape")).hexdigest()
    return conflicts_dir(repo) / f"{key}.json"


def _entry_text(name: str, entry: Entry | None) -> str | None:
    if entry is None:
        return None
    return manifest.serialize({name: entry}).decode("utf-8", "surrogateescape").split("\n")[1]


def _entry_from(text: str | None) -> Entry | None:
    if text is None:
        return None
    data = f"{manifest.HEADER}\n{text}\n".encode("utf-8", "surrogateescape")
    entries, _ = manifest.parse(data, "conflict record")
    return next(iter(entries.values()))


def write_record(repo: GitRepo, manifest_relpath: str, conflicts: list[EntryConflict],
                 labels: tuple[str, str]) -> None:
    path = _record_path(repo, manifest_relpath)
    if not conflicts:
        path.unlink(missing_ok=True)
        return
    record = {
        "version": 1,
        "manifest": manifest_relpath,
        "ours_label": labels[0],
        "theirs_label": labels[1],
        "entries": [{"name": c.name, "base": _entry_text(c.name, c.base), "ours": _entry_text(c.name, c.ours),
                     "theirs": _entry_text(c.name, c.theirs)} for c in conflicts],
    }
    _write_record(path, record)


def _write_record(path: Path, record: dict[str, Any]) -> None:
    import json

    atomic_write(path, json.dumps(record, indent=1, ensure_ascii=False).encode("utf-8", "surrogateescape"))


def _read_record(path: Path) -> dict[str, Any] | None:
    import json

    try:
        record = json.loads(path.read_bytes().decode("utf-8", "surrogateescape"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and isinstance(record.get("entries"), list) else None


def conflicted_index_paths(repo: GitRepo) -> dict[str, tuple[pygit2.Oid | None, ...]]:
    """Paths git has in a conflicted state: path -> (base, ours, theirs) blob ids."""
    index = repo.raw.index
    index.read(False)
    conflicts = index.conflicts
    if conflicts is None:
        return {}
    found: dict[str, tuple[pygit2.Oid | None, ...]] = {}
    for base, ours, theirs in conflicts:
        entry = base or ours or theirs
        found[entry.path] = tuple(e.id if e is not None else None for e in (base, ours, theirs))
    return found


def load_conflicts(repo: GitRepo) -> list[Conflict]:
    """Every open data conflict. Records whose manifest git no longer has conflicted
    (the merge was aborted or settled by hand) are dropped; a conflicted manifest
    without a record (git did not run the driver: modify/delete) gets one."""
    in_git = {p: ids for p, ids in conflicted_index_paths(repo).items()
              if p.startswith(manifest.TREE_DIR + "/") and p.endswith("/" + manifest.MANIFEST_NAME)}
    recorded: dict[str, dict[str, Any]] = {}
    directory = conflicts_dir(repo)
    if directory.is_dir():
        for path in sorted(directory.glob("*.json")):
            record = _read_record(path)
            if record is None or record.get("manifest") not in in_git:
                path.unlink(missing_ok=True)
                continue
            recorded[record["manifest"]] = record
    for relpath, ids in in_git.items():
        if relpath not in recorded:
            record = _record_from_index(repo, relpath, ids)
            if record is not None:
                recorded[relpath] = record
    found = []
    for relpath, record in sorted(recorded.items()):
        folder = manifest.directory_of(relpath[len(manifest.TREE_DIR) + 1:])
        for item in record["entries"]:
            found.append(Conflict(join(folder, item["name"]), relpath, _entry_from(item["base"]),
                                  _entry_from(item["ours"]), _entry_from(item["theirs"]),
                                  record["ours_label"], record["theirs_label"]))
    return found


def _record_from_index(repo: GitRepo, relpath: str, ids: tuple[pygit2.Oid | None, ...]) -> dict[str, Any] | None:
    """git settled this manifest without our driver (modify/delete): do what the
    driver would have done, so that resolving starts from the merged entries."""
    from gitdata.git import stage

    from gitdata.git import blob_data

    sides = [blob_data(repo, i) if i is not None else b"" for i in ids]
    try:
        merged, conflicts = merge_manifests(sides[0], sides[1], sides[2], relpath)
    except GitDataError:
        return None
    atomic_write(repo.workdir / relpath, merged)
    if not conflicts:
        stage(repo, [relpath])
        return None
    write_record(repo, relpath, conflicts, side_labels(repo))
    return _read_record(_record_path(repo, relpath))


def drop_resolved(repo: GitRepo, manifest_relpath: str, names: set[str]) -> bool:
    """Remove settled entries from a record; True when none are left."""
    path = _record_path(repo, manifest_relpath)
    record = _read_record(path)
    if record is None:
        return True
    record["entries"] = [e for e in record["entries"] if e["name"] not in names]
    if not record["entries"]:
        path.unlink(missing_ok=True)
        return True
    _write_record(path, record)
    return False


def short(entry: Entry | None) -> str:
    if entry is None:
        return "deleted"
    algorithm, _, hexdigest = entry.digest.partition(":")
    return f"{algorithm}:{hexdigest[:12]}"


def conflicts_if_merging(repo: GitRepo) -> list[Conflict]:
    """load_conflicts, skipped (no index read) when no merge-like operation is under way."""
    markers = ("MERGE_HEAD", "REBASE_HEAD", "CHERRY_PICK_HEAD", "REVERT_HEAD", "rebase-merge", "rebase-apply")
    recorded = conflicts_dir(repo)
    if not any((repo.git_dir / m).exists() for m in markers) and not (recorded.is_dir() and any(recorded.iterdir())):
        return []
    return load_conflicts(repo)


def show_conflicts(conflicts: list[Conflict]) -> None:
    """The `git data status` section."""
    from gitdata import output

    output.out("Data merge conflicts (use 'git data resolve --ours|--theirs|--both PATH'):")
    for c in conflicts:
        output.out("\t" + output.color(c.path, "red") + f"  ours ({c.ours_label}): {short(c.ours)}, "
                   f"theirs ({c.theirs_label}): {short(c.theirs)}")
    output.out()


def conflicts_json(conflicts: list[Conflict]) -> list[dict[str, Any]]:
    return [{"path": c.path, "manifest": c.manifest, "base": c.base.digest if c.base else None,
             "ours": c.ours.digest if c.ours else None, "theirs": c.theirs.digest if c.theirs else None,
             "ours_label": c.ours_label, "theirs_label": c.theirs_label} for c in conflicts]
