"""The installed hooks, driven by real git: checkout, switch, clone, rebase, worktrees."""
from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from tests.testing.helpers import gd, git, spy_on_hook_python, venv_bin, write

HOOKS = ("post-checkout", "post-merge", "post-rewrite", "post-commit", "pre-push")


def hooked(repo: Path, storage: Path) -> None:
    gd("storage", "add", "loc", str(storage))
    gd("install")
    git("add", ".gitattributes")


def two_branches(repo: Path) -> None:
    """main: data/a=one, data/b=two; feat: data/a changed, data/b removed, data/c added."""
    write(repo / "data" / "a", "one\n")
    write(repo / "data" / "b", "two\n")
    gd("add", "data/a", "data/b")
    git("commit", "-qm", "one")
    git("switch", "-qc", "feat")
    write(repo / "data" / "a", "changed\n")
    write(repo / "data" / "c", "three\n")
    gd("rm", "data/b")
    (repo / "data" / "b").unlink()
    gd("add", "data/a", "data/c")
    git("commit", "-qm", "two")


def test_install_writes_hooks_driver_and_attributes(repo: Path, tmp_path: Path) -> None:
    git("remote", "add", "origin", str(tmp_path / "remote.git"))
    result = gd("install")
    assert "hooks installed" in result.stderr
    for name in HOOKS:
        path = repo / ".git" / "hooks" / name
        assert path.stat().st_mode & stat.S_IXUSR
        assert venv_bin() in path.read_text()  # the interpreter it was installed with
    assert git("config", "merge.gitdata.driver").stdout.strip() == "git data merge-driver %O %A %B %P"
    assert ".gitdata/** merge=gitdata" in (repo / ".gitattributes").read_text().splitlines()
    assert "+refs/notes/gitdata/*:refs/notes/gitdata/*" in git("config", "--get-all", "remote.origin.fetch").stdout
    again = gd("install", "--json")
    assert '"post-checkout": "unchanged"' in again.stdout
    assert (repo / ".gitattributes").read_text().splitlines() == [".gitdata/** merge=gitdata", ".gitignore merge=gitdata"]
    gd("uninstall")
    assert not any((repo / ".git" / "hooks" / name).exists() for name in HOOKS)
    assert git("config", "merge.gitdata.driver", check=False).returncode == 1
    assert "notes" not in git("config", "--get-all", "remote.origin.fetch").stdout


def test_reinstall_upgrades_an_old_hook_in_place(repo: Path) -> None:
    gd("install")
    hook = repo / ".git" / "hooks" / "post-checkout"
    hook.write_text(hook.read_text().replace("GITDATA_PYTHON=", "# old version\nGITDATA_PYTHON="))
    assert '"post-checkout": "upgraded"' in gd("install", "--json").stdout
    assert "# old version" not in hook.read_text()
    assert not (repo / ".git" / "hooks" / "post-checkout.pre-gitdata").exists()
    # the pre-commit framework moved ours to pre-push.legacy and runs it from its own hook
    hooks_dir = repo / ".git" / "hooks"
    (hooks_dir / "pre-push").rename(hooks_dir / "pre-push.legacy")
    write(hooks_dir / "pre-push", "#!/bin/sh\n# pre-commit's hook\n").chmod(0o755)
    result = gd("install", "--json")
    assert '"pre-push": "upgraded"' in result.stdout
    assert (hooks_dir / "pre-push").read_text() == "#!/bin/sh\n# pre-commit's hook\n"
    assert "gitdata-hook-id" in (hooks_dir / "pre-push.legacy").read_text()
    assert not (hooks_dir / "pre-push.pre-gitdata").exists()


def test_branch_switch_updates_data_both_ways(repo: Path, tmp_path: Path) -> None:
    hooked(repo, tmp_path / "store")
    two_branches(repo)
    result = git("switch", "main")
    assert "updated 2 file(s), removed 1" in result.stderr
    assert (repo / "data" / "a").read_text() == "one\n"
    assert (repo / "data" / "b").read_text() == "two\n"
    assert not (repo / "data" / "c").exists()
    git("checkout", "-q", "feat")
    assert (repo / "data" / "a").read_text() == "changed\n"
    assert (repo / "data" / "c").read_text() == "three\n"
    assert not (repo / "data" / "b").exists()
    assert "Nothing to report" in gd("status").stdout


def test_branch_switch_reads_manifests_through_git_not_pygit2(repo: Path, tmp_path: Path) -> None:
    hooked(repo, tmp_path / "store")
    odd = "dir with space/%odd ü"
    write(repo / odd / "x", "one\n")
    gd("add", odd)
    git("commit", "-qm", "odd")
    git("switch", "-qc", "other")
    write(repo / odd / "x", "two\n")
    gd("add", odd)
    git("commit", "-qm", "odd changed")
    result = git("switch", "main", env={**os.environ, "PYTHONPROFILEIMPORTTIME": "1"})
    assert "updated 1 file(s)" in result.stderr
    assert (repo / odd / "x").read_text() == "one\n"
    assert "| gitdata.sync" in result.stderr      # the hook's Python really reported its imports
    assert "pygit2" not in result.stderr


def test_sha256_repository_switch_and_clone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    origin = tmp_path / "origin"
    git("init", "-q", "--object-format=sha256", str(origin))
    monkeypatch.chdir(origin)
    gd("init", "-q")
    hooked(origin, tmp_path / "store")
    git("add", "-A")
    git("commit", "-qm", "init")
    two_branches(origin)
    assert "updated 2 file(s), removed 1" in git("switch", "main").stderr
    gd("push", "-q")
    monkeypatch.delenv("GIT_TEMPLATE_DIR")
    gd("install", "--global")
    clone = tmp_path / "clone"
    result = git("clone", "-q", str(origin), str(clone))
    assert "updated 2 file(s)" in result.stderr     # from no commit (all zeros) to main
    assert (clone / "data" / "a").read_text() == "one\n"
    assert (clone / "data" / "b").read_text() == "two\n"


def test_sha256_repository_push_is_refused_not_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """pygit2 cannot read SHA-256 repositories: the pre-push hook must refuse the push
    (never let pointers to data out without the data), and history commands say why."""
    origin = tmp_path / "origin"
    git("init", "-q", "--object-format=sha256", str(origin))
    monkeypatch.chdir(origin)
    gd("init", "-q")
    store = tmp_path / "store"
    hooked(origin, store)
    write(origin / "data" / "a", "one\n")
    gd("add", "-q", "data")
    git("add", "-A")
    git("commit", "-qm", "init")
    git("init", "-q", "--bare", "--object-format=sha256", str(tmp_path / "remote.git"))
    git("remote", "add", "origin", str(tmp_path / "remote.git"))
    refused = git("push", "-q", "origin", "main", check=False)
    assert refused.returncode != 0
    assert "push refused" in refused.stderr and "git data push" in refused.stderr
    assert git("ls-remote", "origin", check=False).stdout == ""
    for command in (["fsck"], ["gc", "-n"], ["cat", "-r", "HEAD", "data/a"]):
        result = gd(*command, check=False)
        assert result.returncode == 1, command
        assert result.stderr.count("\n") == 1 and "SHA256 repository" in result.stderr, (command, result.stderr)
    gd("push", "-q")                          # the way the message gives
    git("push", "-q", "origin", "main", env={**os.environ, "GITDATA_SKIP_HOOKS": "1"})
    assert {p.name for p in store.rglob("*") if p.is_file() and p.parent.parent.name == "b3"}


def test_noop_checkout_does_not_start_python(repo: Path, tmp_path: Path) -> None:
    hooked(repo, tmp_path / "store")
    two_branches(repo)
    log = spy_on_hook_python(repo, "post-checkout", tmp_path)
    git("switch", "-qc", "same-data")          # same commit
    write(repo / "code.py", "print(1)\n")
    git("add", "code.py")
    git("commit", "-qm", "code only")
    git("switch", "-q", "feat")                # different commit, same .gitdata tree
    git("switch", "-q", "same-data")
    assert not log.exists()
    git("switch", "-q", "main")                # .gitdata differs: Python runs
    assert "hook-impl post-checkout" in log.read_text()
    assert (repo / "data" / "a").read_text() == "one\n"


def test_modified_unsaved_file_survives_a_checkout(repo: Path, tmp_path: Path) -> None:
    hooked(repo, tmp_path / "store")
    two_branches(repo)
    write(repo / "data" / "a", "precious unsaved work\n")
    write(repo / "data" / "c", "more unsaved work\n")
    result = git("switch", "main")
    assert result.returncode == 0
    assert "data/a: has changes that are not saved" in result.stderr
    assert "data/c: no longer tracked here, and has changes that are not saved" in result.stderr
    assert "'git data add' tracks it here" in result.stderr and "--force" not in result.stderr.split("data/c:")[1]
    assert (repo / "data" / "a").read_text() == "precious unsaved work\n"
    assert (repo / "data" / "c").read_text() == "more unsaved work\n"
    assert (repo / "data" / "b").read_text() == "two\n"   # the rest proceeded


def test_missing_objects_are_fetched_and_skip_switch_off(repo: Path, tmp_path: Path) -> None:
    hooked(repo, tmp_path / "store")
    two_branches(repo)
    gd("push", "--all-branches")
    git("switch", "-q", "main", env={"GITDATA_SKIP_HOOKS": "1"})
    assert (repo / "data" / "a").read_text() == "changed\n"  # hooks were off
    git("switch", "-q", "feat")
    for obj in (repo / ".git" / "data" / "cache").rglob("*"):
        if obj.is_file():
            obj.chmod(0o644)
            obj.unlink()
    (repo / "data" / "a").unlink()
    git("config", "gitdata.hooks.enabled", "false")
    git("switch", "-q", "main")
    assert not (repo / "data" / "a").exists()  # switched off for this repository
    git("config", "gitdata.hooks.enabled", "true")
    assert "fetched 1 object(s)" in git("switch", "feat").stderr
    assert (repo / "data" / "a").read_text() == "changed\n"
    result = git("switch", "main")
    assert "fetched 2 object(s)" in result.stderr
    assert (repo / "data" / "a").read_text() == "one\n"
    assert (repo / "data" / "b").read_text() == "two\n"
    # c is not tracked on main and its bytes are nowhere in the cache: kept, and said so
    assert "data/c: no longer tracked here, and has changes that are not saved" in result.stderr
    assert (repo / "data" / "c").read_text() == "three\n"


def test_a_directory_where_the_new_branch_tracks_a_file_is_kept_with_honest_advice(repo: Path,
                                                                                   tmp_path: Path) -> None:
    hooked(repo, tmp_path / "store")
    write(repo / "data" / "a", "one\n")
    gd("add", "data")
    git("add", "-A")
    git("commit", "-qm", "data is a directory")
    git("switch", "-qc", "asfile")
    gd("rm", "data")
    shutil.rmtree(repo / "data")
    write(repo / "data", "file\n")
    gd("add", "data")
    git("commit", "-qm", "data is a file")
    git("switch", "-q", "main")
    write(repo / "data" / "a", "unsaved\n")
    result = git("switch", "asfile")
    assert "data: a directory stands where a file is tracked; kept as it is, even by --force" in result.stderr
    assert (repo / "data" / "a").read_text() == "unsaved\n"
    assert "is a directory now" in gd("commit").stderr
    forced = gd("checkout", "--force", check=False)
    assert forced.returncode == 1 and "--force' replaces" not in forced.stderr
    gd("add", "data")   # what the advice says: the directory replaces the file
    assert (repo / "data" / "a").read_text() == "unsaved\n"
    assert gd("ls", "--no-summary", "--format", "{path}").stdout.split() == ["data/a"]


def test_file_checkout_of_a_manifest_updates_its_files(repo: Path, tmp_path: Path) -> None:
    hooked(repo, tmp_path / "store")
    two_branches(repo)
    git("checkout", "main", "--", ".gitdata/tree/data/%manifest")
    assert (repo / "data" / "a").read_text() == "one\n"
    assert (repo / "data" / "b").read_text() == "two\n"


def test_existing_hook_keeps_running_and_comes_back(repo: Path, tmp_path: Path) -> None:
    hooks_dir = repo / ".git" / "hooks"
    marker = tmp_path / "user-hook-ran"
    user_hook = f'#!/bin/sh\necho "$@" >> {marker}\ncat >> {marker}\n'
    write(hooks_dir / "post-checkout", user_hook).chmod(0o755)
    write(hooks_dir / "pre-push", user_hook).chmod(0o755)
    result = gd("install")
    assert "kept your existing hook" in result.stderr
    hooked_text = (hooks_dir / "post-checkout").read_text()
    assert "gitdata-hook-id" in hooked_text
    assert (hooks_dir / "post-checkout.pre-gitdata").read_text() == user_hook
    git("commit", "-qm", "init", "--allow-empty")
    git("switch", "-qc", "other")
    assert marker.read_text().strip().endswith(" 1")
    git("init", "-q", "--bare", str(tmp_path / "remote.git"))
    git("push", "-q", str(tmp_path / "remote.git"), "other")
    assert "refs/heads/other" in marker.read_text()  # the pre-push hook saw git's stdin
    gd("install")
    assert (hooks_dir / "post-checkout.pre-gitdata").read_text() == user_hook  # not chained twice
    gd("uninstall")
    assert (hooks_dir / "post-checkout").read_text() == user_hook
    assert (hooks_dir / "pre-push").read_text() == user_hook
    assert not (hooks_dir / "post-checkout.pre-gitdata").exists()


def test_failing_user_pre_push_hook_still_blocks(repo: Path, tmp_path: Path) -> None:
    write(repo / ".git" / "hooks" / "pre-push", "#!/bin/sh\necho user says no >&2\nexit 3\n").chmod(0o755)
    gd("install")
    git("commit", "-qm", "init", "--allow-empty")
    git("init", "-q", "--bare", str(tmp_path / "remote.git"))
    result = git("push", str(tmp_path / "remote.git"), "main", check=False)
    assert result.returncode != 0 and "user says no" in result.stderr


def test_core_hooks_path(repo: Path, tmp_path: Path) -> None:
    git("config", "core.hooksPath", ".githooks")
    gd("storage", "add", "loc", str(tmp_path / "store"))
    result = gd("install")
    assert "core.hooksPath is set to '.githooks'" in result.stderr
    assert (repo / ".githooks" / "post-checkout").exists()
    assert not (repo / ".git" / "hooks" / "post-checkout").exists()
    two_branches(repo)
    git("switch", "-q", "main")
    assert (repo / "data" / "a").read_text() == "one\n"
    gd("uninstall")
    assert not (repo / ".githooks" / "post-checkout").exists()


def test_linked_worktree_gets_its_data(repo: Path, tmp_path: Path) -> None:
    hooked(repo, tmp_path / "store")
    two_branches(repo)
    git("switch", "-q", "main")
    worktree = tmp_path / "wt"
    git("worktree", "add", "-q", str(worktree), "feat")
    assert (worktree / "data" / "a").read_text() == "changed\n"
    assert (worktree / "data" / "c").read_text() == "three\n"
    git("switch", "-q", "-c", "wt-main", "main", cwd=worktree)
    assert (worktree / "data" / "a").read_text() == "one\n"
    assert (repo / "data" / "a").read_text() == "one\n"
    gd("install", cwd=worktree)     # from a worktree: the common hooks dir
    assert not (repo / ".git" / "worktrees" / "wt" / "hooks").exists()


def test_rebase_brings_data_to_the_new_head(repo: Path, tmp_path: Path) -> None:
    hooked(repo, tmp_path / "store")
    two_branches(repo)
    git("switch", "-q", "main")
    write(repo / "data" / "d", "on main\n")
    gd("add", "data/d")
    git("commit", "-qm", "d on main")
    git("switch", "-q", "feat")
    assert not (repo / "data" / "d").exists()
    git("rebase", "-q", "main")
    assert (repo / "data" / "d").read_text() == "on main\n"
    assert (repo / "data" / "a").read_text() == "changed\n"
    assert "Nothing to report" in gd("status").stdout


def test_rebase_stopped_for_an_edit_shows_the_data_of_its_commit(repo: Path, tmp_path: Path) -> None:
    """Each pick runs post-commit: at a stop the data matches HEAD, so amending there
    does not record the new base's versions over the earlier picks' changes."""
    hooked(repo, tmp_path / "store")
    write(repo / "data" / "a", "a1\n")
    write(repo / "data" / "b", "b1\n")
    gd("add", "-q", "data")
    git("add", "-A")
    git("commit", "-qm", "init")
    git("switch", "-qc", "feat")
    for name, text in (("a", "a2\n"), ("b", "b2\n")):
        write(repo / "data" / name, text)
        gd("commit", "-q")
        git("commit", "-qam", f"{name} changed")
    git("switch", "-q", "main")
    write(repo / "code.py", "print(1)\n")
    git("add", "code.py")
    git("commit", "-qm", "code on main")
    git("switch", "-q", "feat")
    git("rebase", "-q", "-i", "main", env={**os.environ, "GIT_SEQUENCE_EDITOR": "sed -i '2s/^pick/edit/'"})
    assert (repo / "data" / "a").read_text() == "a2\n"
    assert (repo / "data" / "b").read_text() == "b2\n"
    assert "Nothing to report" in gd("status").stdout
    write(repo / "data" / "b", "b3\n")
    gd("commit", "-q")
    git("commit", "-q", "--amend", "--no-edit", "-a")
    git("rebase", "--continue", env={**os.environ, "GIT_EDITOR": "true"})
    assert gd("cat", "data/a").stdout == "a2\n"
    assert gd("cat", "data/b").stdout == "b3\n"
    assert (repo / "data" / "a").read_text() == "a2\n"


def test_global_install_clone_arrives_with_data(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GIT_TEMPLATE_DIR")
    gd("storage", "add", "loc", str(tmp_path / "store"))
    gd("install")
    two_branches(repo)
    remote = tmp_path / "remote.git"
    git("init", "-q", "--bare", str(remote))
    git("push", "-q", str(remote), "main", "feat")
    result = gd("install", "--global")
    assert "init.templateDir" in result.stderr
    clone = tmp_path / "clone"
    cloned = git("clone", "-q", "-b", "feat", str(remote), str(clone))
    assert "fetched 2 object(s)" in cloned.stderr
    assert (clone / "data" / "a").read_text() == "changed\n"
    assert (clone / "data" / "c").read_text() == "three\n"
    assert "+refs/notes/gitdata/*:refs/notes/gitdata/*" in git("config", "--get-all", "remote.origin.fetch",
                                                               cwd=clone).stdout
    git("switch", "-q", "main", cwd=clone)
    assert (clone / "data" / "b").read_text() == "two\n"
    gd("uninstall", "--global")
    other = tmp_path / "other"
    git("clone", "-q", str(remote), str(other))
    assert not (other / "data" / "a").exists()


def test_hook_without_git_data_says_so_and_never_breaks_checkout(repo: Path, tmp_path: Path) -> None:
    hooked(repo, tmp_path / "store")
    two_branches(repo)
    hooks_dir = repo / ".git" / "hooks"
    for name in ("post-checkout", "pre-push"):
        hook = hooks_dir / name
        hook.write_text(hook.read_text().replace(venv_bin(), "/nonexistent/bin")
                        .replace(str(Path(__file__).resolve().parent.parent), "/nonexistent"))
    env = {"PATH": "/usr/bin:/bin"}
    result = git("switch", "main", env=env)
    assert result.returncode == 0 and "git-data: not found" in result.stderr
    git("init", "-q", "--bare", str(tmp_path / "remote.git"))
    pushed = git("push", str(tmp_path / "remote.git"), "main", env=env, check=False)
    assert pushed.returncode != 0 and "not found" in pushed.stderr


def test_hook_impl_is_hidden_and_checks_its_arguments(repo: Path) -> None:
    assert "hook-impl" not in gd("-h").stdout and "resolve" in gd("-h").stdout
    assert gd("hook-impl", "post-checkout", "x", check=False).returncode == 0  # never fails a post hook
    result = gd("hook-impl", "bogus", check=False)
    assert result.returncode == 2
    assert os.path.exists(repo / ".gitdata")
