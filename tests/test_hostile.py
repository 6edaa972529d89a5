"""A repository crafted to attack whoever clones it. The victim clones with the hooks
installed, checks out, pulls: nothing may be written outside the worktree, no
committed command may run before `git data trust`, and every malformed file gives
one clear error naming the file and line, exit 1, no traceback."""
from __future__ import annotations

import os
import unicodedata
from pathlib import Path

import blake3
import pytest

from tests.testing.helpers import Result, gd, git, write

HOSTILE = "#gitdata-manifest v1\n"


def b3(data: bytes) -> str:
    return "b3:" + blake3.blake3(data).hexdigest()


def entry(name: str, data: bytes, size: int | None = None) -> str:
    return f"{name}\t{b3(data)}\t{len(data) if size is None else size}\t-\tcopy\n"


def clean(result: Result, what: str = "") -> None:
    text = result.stdout + result.stderr
    assert "Traceback" not in text and "internal error" not in text, f"{what}: {text}"
    if result.returncode and "fsck" in what and "problem" in text:
        assert result.returncode == 1, f"{what}: {text}"   # a report on stdout, not an error line
    elif result.returncode:
        assert result.returncode in (1, 2), f"{what}: exit {result.returncode}"
        assert sum(line.startswith("git-data: error:") for line in result.stderr.splitlines()) == 1, \
            f"{what}: {result.stderr}"


def snapshot(root: Path, skip: Path) -> dict[str, float]:
    """Every path under root (but the victim's worktree) with its mtime."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        if Path(dirpath) == skip or skip in Path(dirpath).parents:
            dirnames[:] = []
            continue
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            found[str(path)] = path.lstat().st_mtime_ns
    return found


@pytest.fixture
def attacker(tmp_path: Path) -> Path:
    evil = tmp_path / "evil"
    evil.mkdir()
    git("init", "-q", cwd=evil)
    gd("init", cwd=evil)
    write(evil / "bait.txt", "bait\n")
    gd("add", "bait.txt", cwd=evil)
    return evil


def commit_all(repo: Path, message: str = "evil") -> None:
    git("add", "-A", "-f", cwd=repo)
    git("commit", "-q", "-m", message, cwd=repo)


def victim_clone(attacker: Path, tmp_path: Path) -> tuple[Path, Result]:
    """Clone without checkout, install the hooks, then check out: what a user with a global
    install gets from `git clone`."""
    victim = tmp_path / "victim"
    git("clone", "-q", "--no-checkout", str(attacker), str(victim))
    gd("install", cwd=victim, check=False)
    result = git("checkout", "-q", "main", cwd=victim, check=False)
    return victim, result


def test_generic_storage_and_steps_never_run_on_clone_checkout_or_pull(attacker: Path, tmp_path: Path) -> None:
    marker = tmp_path / "PWNED"
    command = f"touch {marker}-$(basename {{path}} 2>/dev/null || echo x); cp {{path}} {{url}} 2>/dev/null"
    write(attacker / ".gitdata/config", (
        "[core]\n\thash = b3\n\tdefaultStorage = evil\n"
        f"[storage \"evil\"]\n\ttype = generic\n\turl = {tmp_path}/loot\n"
        f"\tinit = touch {marker}-init\n\tlist = touch {marker}-list\n\texists = touch {marker}-exists\n"
        f"\tupload = touch {marker}-upload\n\tdownload = touch {marker}-download; {command}\n"
        f"\tdelete = touch {marker}-delete\n"))
    write(attacker / ".gitdata/pipelines/default/evil.yaml",
          f"command: touch {marker}-step\ndeps: []\nouts: []\n")
    # a manifest entry whose object nobody has: the hook will want to fetch it
    write(attacker / ".gitdata/tree/%manifest", HOSTILE + entry("bait.txt", b"bait\n") + entry("more.bin", b"x" * 99))
    commit_all(attacker)
    victim, checkout = victim_clone(attacker, tmp_path)
    outcomes = [checkout]
    for argv in (("pull",), ("fetch",), ("status",), ("run",), ("push",), ("fsck",)):
        result = gd(*argv, cwd=victim, check=False)
        clean(result, " ".join(argv))
        outcomes.append(result)
    ran = sorted(p.name for p in tmp_path.glob("PWNED*"))
    assert not ran, f"committed commands ran without 'git data trust': {ran}"
    assert any("trust" in r.stderr for r in outcomes), "nobody told the user to review and trust"


@pytest.mark.parametrize("name", ["..", ".git", "%2E%2E%2Fescaped", "%2Fabs", "a%2F..%2F..%2Fx", "%00nul", "."])
def test_hostile_names_on_clone_write_nothing_outside(attacker: Path, tmp_path: Path, name: str) -> None:
    write(attacker / ".gitdata/tree/sub/%manifest", HOSTILE + entry(name, b"bait\n"))
    commit_all(attacker)
    before = snapshot(tmp_path, tmp_path / "victim")
    victim, checkout = victim_clone(attacker, tmp_path)
    for argv in (("checkout",), ("pull",), ("status",)):
        result = gd(*argv, cwd=victim, check=False)
        clean(result, f"{name}: {argv}")
        assert result.returncode == 1 and "unsafe" in result.stderr, f"{argv}: {result.stderr}"
    assert "Traceback" not in checkout.stderr
    after = snapshot(tmp_path, tmp_path / "victim")
    assert set(after) - set(before) <= {str(tmp_path / "victim")}, sorted(set(after) - set(before))
    assert (victim / ".git/HEAD").is_file()


def test_symlink_in_the_commit_leading_outside(attacker: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (attacker / "data").symlink_to(outside)
    write(attacker / ".gitdata/tree/data/%manifest", HOSTILE + entry("bait.txt", b"bait\n"))
    commit_all(attacker)
    victim, checkout = victim_clone(attacker, tmp_path)
    assert "Traceback" not in checkout.stderr
    write(victim / "bait.txt", "bait\n")      # the content is local: tempt a write through the link
    gd("add", "bait.txt", cwd=victim, check=False)
    for argv in (("checkout",), ("checkout", "--force"), ("pull",)):
        clean(gd(*argv, cwd=victim, check=False), " ".join(argv))
    assert list(outside.iterdir()) == [], "a file was written through a symlink leading outside"


def test_names_colliding_after_case_folding_or_normalisation(attacker: Path, tmp_path: Path) -> None:
    nfc = unicodedata.normalize("NFC", "café.txt")
    nfd = unicodedata.normalize("NFD", "café.txt")
    data = {"README.txt": b"upper\n", "readme.txt": b"lower\n", nfc: b"nfc\n", nfd: b"nfd\n"}
    for name, content in data.items():
        write(attacker / name, content)
    gd("add", *data, cwd=attacker)
    commit_all(attacker)
    gd("storage", "add", "s", str(tmp_path / "store"), cwd=attacker)
    gd("push", cwd=attacker)
    commit_all(attacker, "storage")
    victim, checkout = victim_clone(attacker, tmp_path)
    result = gd("pull", cwd=victim, check=False)
    clean(result, "pull")
    # on a case- or normalisation-insensitive file system one of each pair cannot exist; here both do,
    # and no content ever lands under the other name
    for name, content in data.items():
        path = victim / name
        if path.exists() and len(list(victim.glob(name))) == 1 and os.listdir(victim).count(name) == 1:
            assert path.read_bytes() in (content, data.get(name.swapcase(), content)), name
    names = os.listdir(victim)
    for name, content in data.items():
        if name in names:
            assert (victim / name).read_bytes() == content, name


def test_enormous_manifest_and_absurd_fields(attacker: Path, tmp_path: Path) -> None:
    lines = [entry(f"f{i:06d}", f"{i}".encode()) for i in range(100_000)]
    lines.append(entry("huge-size", b"y", size=10 ** 30))
    lines.append(entry("n" * 300, b"long name"))
    write(attacker / ".gitdata/tree/big/%manifest", HOSTILE + "".join(sorted(lines)))
    commit_all(attacker)
    victim, checkout = victim_clone(attacker, tmp_path)
    assert "Traceback" not in checkout.stderr
    for argv in (("status",), ("checkout",), ("ls", "big/huge-size"), ("fsck", "--no-storage")):
        result = gd(*argv, cwd=victim, check=False)
        clean(result, " ".join(argv))
    assert not any(p.is_file() for p in (victim / "big").glob("*")) if (victim / "big").exists() else True


def test_storage_config_pointing_at_unexpected_places(attacker: Path, tmp_path: Path) -> None:
    """A committed local storage at '..' paths: the hook only reads it, never writes there."""
    target = tmp_path / "victims-home"
    target.mkdir()
    (target / "keep.txt").write_text("mine\n")
    write(attacker / ".gitdata/config", "[core]\n\thash = b3\n\tdefaultStorage = odd\n"
          "[storage \"odd\"]\n\turl = ../victims-home\n\ttype = local\n")
    write(attacker / ".gitdata/tree/%manifest", HOSTILE + entry("bait.txt", b"bait\n") + entry("gone.bin", b"zz"))
    commit_all(attacker)
    before = snapshot(target, tmp_path / "none")
    victim, checkout = victim_clone(attacker, tmp_path)
    assert "Traceback" not in checkout.stderr
    clean(gd("pull", cwd=victim, check=False), "pull")
    assert snapshot(target, tmp_path / "none") == before, "the hook or pull wrote into a committed storage path"


# -- malformed files -------------------------------------------------------------

MALFORMED_MANIFESTS = {
    "truncated": (HOSTILE + entry("a", b"a")[:-1]).encode(),
    "wrong version": ("#gitdata-manifest v9\n" + entry("a", b"a")).encode(),
    "invalid utf-8": HOSTILE.encode() + b"caf\xe9\t" + entry("x", b"a").split("\t", 1)[1].encode(),
    "duplicate": (HOSTILE + entry("a", b"a") + entry("a", b"b")).encode(),
    "bad digest": (HOSTILE + "a\tb3:zz\t1\t-\tcopy\n").encode(),
    "empty": b"",
    "binary junk": bytes(range(256)),
}


@pytest.mark.parametrize("kind", list(MALFORMED_MANIFESTS))
def test_malformed_manifest_names_file_and_line(repo: Path, kind: str) -> None:
    write(repo / "d/a", "a")
    gd("add", "d")
    write(repo / ".gitdata/tree/d/%manifest", MALFORMED_MANIFESTS[kind])
    for argv in (("status",), ("checkout",), ("add", "d"), ("fsck", "--no-storage")):
        result = gd(*argv, check=False)
        clean(result, f"{kind}: {argv}")
        assert result.returncode == 1, f"{kind}: {argv} accepted a malformed manifest"
        assert ".gitdata/tree/d/%manifest" in result.stderr + result.stdout, f"{kind}: {argv}: {result.stderr}"
        assert (repo / "d/a").read_text() == "a"
    if kind not in ("truncated", "invalid utf-8", "duplicate"):
        return
    git("add", "-A", "-f")
    git("commit", "-q", "-m", "broken", "--no-verify")
    for argv in (("cat", "-r", "HEAD", "d/a"), ("push",)):
        clean(gd(*argv, check=False), f"{kind} at HEAD: {argv}")


MALFORMED_CONFIGS = {
    "syntax": b"[core\n\thash = b3\n",
    "invalid utf-8": b"[core]\n\thash = \xff\xfe\n",
    "unknown hash": b"[core]\n\thash = md5\n",
    "storage without url": b"[core]\n\tdefaultStorage = s\n[storage \"s\"]\n\ttype = local\n",
    "unknown storage type": b"[storage \"s\"]\n\turl = /x\n\ttype = ftp\n[core]\n\tdefaultStorage = s\n",
}


@pytest.mark.parametrize("kind", list(MALFORMED_CONFIGS))
def test_malformed_config_is_one_clear_error(repo: Path, kind: str) -> None:
    write(repo / "a.txt", "a")
    gd("add", "a.txt")
    write(repo / ".gitdata/config", MALFORMED_CONFIGS[kind])
    for argv in (("add", "a.txt"), ("push",), ("storage", "list")):
        result = gd(*argv, check=False)
        clean(result, f"{kind}: {argv}")
    assert (repo / "a.txt").read_text() == "a"


MALFORMED_STEPS = {
    "yaml syntax": b"command: [unclosed\n",
    "invalid utf-8": b"command: \xff\xfe\n",
    "not a mapping": b"- just\n- a list\n",
    "wrong types": b"command: 42\ndeps: 7\n",
    "unknown dependency kind": b"command: echo\ndeps:\n  - {kind: telepathy, path: x}\n",
    "empty": b"",
}


@pytest.mark.parametrize("kind", list(MALFORMED_STEPS))
def test_malformed_step_file_is_one_clear_error(repo: Path, kind: str) -> None:
    write(repo / ".gitdata/pipelines/default/bad.yaml", MALFORMED_STEPS[kind])
    for argv in (("run",), ("step", "list"), ("status",)):
        result = gd(*argv, check=False)
        clean(result, f"{kind}: {argv}")
        if result.returncode == 1 and argv[0] in ("run", "step"):
            assert "bad.yaml" in result.stderr, f"{kind}: {argv}: the error does not name the file: {result.stderr}"


@pytest.mark.parametrize("link", [".gitdata/tree", ".gitdata/tree/d"])
def test_symlinked_manifest_directory_never_leads_writes_out(attacker: Path, tmp_path: Path, link: str) -> None:
    """Regression: a committed symlink at .gitdata/tree (or below) made `git data add` write
    the victim's manifests into whatever directory the attacker chose."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (attacker / link).parent.mkdir(parents=True, exist_ok=True)
    if (attacker / link).exists():
        import shutil

        shutil.rmtree(attacker / link)
    (attacker / link).symlink_to(outside)
    commit_all(attacker)
    victim, _ = victim_clone(attacker, tmp_path)
    write(victim / "d/new.txt", "victim's data\n")
    result = gd("add", "d", cwd=victim, check=False)
    clean(result, "add")
    assert result.returncode == 1 and "leads outside" in result.stderr, result.stderr
    assert list(outside.iterdir()) == [], "a manifest was written outside the worktree"
    assert (victim / "d/new.txt").read_text() == "victim's data\n"
