"""Property-based tests (hypothesis): the manifest format round-trips any file name,
the three-way manifest merge is symmetric where it should be and never drops an
entry silently, and path normalisation never lets a path out of the worktree."""
from __future__ import annotations

import os
import posixpath
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from gitdata.errors import GitDataError
from gitdata.manifest import METHODS, Entry, escape_name, parse, serialize, unescape_name
from gitdata.paths import check_relpath, ensure_inside, to_relpath

EXAMPLES = int(os.environ.get("GITDATA_PROPERTY_EXAMPLES", "60"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Any name a POSIX file system allows: arbitrary bytes but '/' and NUL, decoded as Python
# does for file names (non-UTF-8 bytes become surrogates).
raw_names = st.binary(min_size=1, max_size=40).filter(lambda b: b"/" not in b and b"\0" not in b)
names = raw_names.map(os.fsdecode).filter(lambda n: n not in (".", "..", ".git"))
tricky = st.sampled_from(["#whole-directory", "#gitdata-manifest v1", "a\nb", "tab\there", "100%", "%25",
                          "%2F", " leading space", "-dash", "\r", "é", "e\u0301", "\u2028", "\x85",
                          "名前.csv", "#", "%", "\udcff", "a\udc80b"])
any_name = st.one_of(names, tricky)
digests = st.tuples(st.sampled_from(["b3", "sha256", "b2b256", "sha3-256"]),
                    st.text("0123456789abcdef", min_size=64, max_size=64)).map(":".join)
extras = st.lists(st.tuples(st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8),
                            st.text(max_size=20)), max_size=3).map(tuple)
entries = st.builds(Entry, digests, st.integers(0, 1 << 60), st.booleans(), st.sampled_from(METHODS), extras)
manifests = st.dictionaries(any_name, entries, max_size=25)


@SETTINGS
@given(any_name)
@example("a\udc80b")
def test_escape_round_trip(name: str) -> None:
    escaped = escape_name(name)
    assert "\n" not in escaped and "\t" not in escaped and "\r" not in escaped
    assert not escaped.startswith("#")
    assert unescape_name(escaped) == name


@SETTINGS
@given(manifests, st.booleans())
def test_manifest_round_trip(files: dict[str, Entry], whole: bool) -> None:
    data = serialize(files, whole)
    assert parse(data, "m") == (files, whole)
    assert serialize(*parse(data, "m")) == data          # canonical: one text per content
    lines = data.decode("utf-8", "surrogateescape").split("\n")
    assert lines[-1] == "" and len(lines) == len(files) + 2 + whole  # one line per entry


@SETTINGS
@given(manifests, any_name, entries)
def test_changing_one_entry_changes_one_line(files: dict[str, Entry], name: str, entry: Entry) -> None:
    """Plain line merges (hosting servers) stay correct only if nothing else moves."""
    before = serialize(files).decode("utf-8", "surrogateescape").split("\n")
    after = serialize({**files, name: entry}).decode("utf-8", "surrogateescape").split("\n")
    import difflib

    changed = [line for line in difflib.ndiff(before, after) if line[:1] in "+-"]
    assert len(changed) <= 2


@SETTINGS
@given(manifests, st.integers(0, 200))
def test_truncated_manifest_is_refused_or_a_prefix(files: dict[str, Entry], cut: int) -> None:
    data = serialize(files)
    assume(cut < len(data))
    try:
        parsed, _ = parse(data[:cut], "m")
    except GitDataError as exc:
        assert str(exc).startswith("m:")
        return
    # only a cut exactly at a line end can parse, and then it holds a subset of the entries
    assert all(files[name] == entry for name, entry in parsed.items())


# -- the three-way merge -------------------------------------------------------------

merge = pytest.importorskip("gitdata.merge")


@st.composite
def three_sides(draw: st.DrawFn) -> tuple[dict[str, Entry], dict[str, Entry], dict[str, Entry]]:
    base = draw(st.dictionaries(st.sampled_from("abcdefgh"), entries, max_size=8))

    def side() -> dict[str, Entry]:
        result = dict(base)
        for name in draw(st.lists(st.sampled_from("abcdefghij"), max_size=6)):
            action = draw(st.sampled_from(["delete", "change", "touch-metadata"]))
            if action == "delete":
                result.pop(name, None)
            elif action == "touch-metadata" and name in result:
                result[name] = result[name]._replace(executable=not result[name].executable)
            else:
                result[name] = draw(entries)
        return result

    return base, side(), side()


@SETTINGS
@given(three_sides())
def test_merge_is_symmetric_and_drops_nothing(sides: tuple[dict[str, Entry], ...]) -> None:
    base, ours, theirs = sides
    merged, conflicts = merge.merge_entries(base, ours, theirs)
    swapped, swapped_conflicts = merge.merge_entries(base, theirs, ours)
    conflicted = {c.name for c in conflicts}
    assert conflicted == {c.name for c in swapped_conflicts}
    for name in set(merged) | set(swapped):
        if name not in conflicted:
            assert name in merged and name in swapped, name
            assert merged[name].digest == swapped[name].digest, name
    for name in set(ours) | set(theirs):
        # an entry leaves the merge only when one side deleted it and the other left it as in base
        if name in merged or name in conflicted:
            continue
        assert (name not in ours and theirs.get(name) == base.get(name)) or \
               (name not in theirs and ours.get(name) == base.get(name)), f"{name} silently dropped"
    for name in conflicted:
        assert ours.get(name) != theirs.get(name)


@SETTINGS
@given(three_sides())
def test_merge_identities(sides: tuple[dict[str, Entry], ...]) -> None:
    base, ours, theirs = sides
    assert merge.merge_entries(base, base, theirs) == (theirs, [])
    assert merge.merge_entries(base, ours, base) == (ours, [])
    assert merge.merge_entries(base, ours, ours) == (ours, [])


@SETTINGS
@given(three_sides(), st.booleans())
def test_merged_manifest_text_parses(sides: tuple[dict[str, Entry], ...], whole: bool) -> None:
    base, ours, theirs = sides
    data, conflicts = merge.merge_manifests(serialize(base), serialize(ours, whole), serialize(theirs), "m")
    parsed, _ = parse(data, "merged")
    assert parsed == merge.merge_entries(base, ours, theirs)[0]


# -- paths -----------------------------------------------------------------------------

components = st.one_of(st.sampled_from(["..", ".", "", ".git", "a", "b", "~", "%2e%2e", "..."]),
                       names.filter(lambda n: "\\" not in n))
relative = st.lists(components, min_size=1, max_size=6).map("/".join)
user_paths = st.one_of(relative, relative.map(lambda p: "/" + p))


@SETTINGS
@given(user_paths)
def test_check_relpath_never_lets_a_path_escape(rel: str) -> None:
    try:
        checked = check_relpath(rel)
    except GitDataError:
        return
    assert not checked.startswith("/")
    normal = posixpath.normpath(checked)
    assert normal == checked and ".." not in normal.split("/") and ".git" not in normal.split("/")


@pytest.fixture(scope="module")
def worktree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("props") / "work"
    (root / "a/b").mkdir(parents=True)
    outside = root.parent / "outside"
    outside.mkdir()
    (root / "a/out").symlink_to(outside)
    return root.resolve()


@SETTINGS
@given(user_paths, st.sampled_from(["", "a", "a/b"]))
def test_to_relpath_stays_inside(worktree: Path, path: str, cwd: str) -> None:
    try:
        rel = to_relpath(worktree, path, worktree / cwd)
    except GitDataError:
        return
    if rel == "":
        return
    target = Path(os.path.normpath(worktree / rel))
    assert worktree in target.parents, f"{path!r} from {cwd!r} -> {rel!r} is outside"
    assert rel.split("/")[0] != ".git" and ".." not in rel.split("/")
    if "out" not in rel.split("/")[:-1]:
        return
    pytest.fail(f"{path!r} -> {rel!r} goes through a symlink leading outside")


@SETTINGS
@given(relative)
def test_ensure_inside_refuses_symlinked_escapes(worktree: Path, rel: str) -> None:
    try:
        target = ensure_inside(worktree, rel)
    except GitDataError:
        return
    resolved_parent = target.parent.resolve()
    assert resolved_parent == worktree or worktree in resolved_parent.parents, f"{rel!r} escapes"
