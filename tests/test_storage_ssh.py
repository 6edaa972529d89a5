"""rsync storages over a real ssh server on loopback, end to end through `git data`
and git's pre-push hook: both URL forms, clone-side pull, corrupt objects, and the
failures a user meets (nothing listening, no route, the wrong key)."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.testing.helpers import cache_objects, gd, git, tracked_data
from tests.testing.s3server import free_port
from tests.testing.sshd import ALIAS, SshServer, ssh_env  # noqa: F401 - fixture
from tests.testing.sshd import sshd  # noqa: F401 - fixture


def stored(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))


def clone_of(repo: Path, tmp_path: Path) -> Path:
    remote, clone = tmp_path / "remote.git", tmp_path / "clone"
    git("clone", "-q", "--bare", str(repo), str(remote))
    git("clone", "-q", str(remote), str(clone))
    return clone


def errors(stderr: str) -> list[str]:
    assert "Traceback" not in stderr
    return [line for line in stderr.splitlines() if line.startswith("git-data: error:")]


def test_push_and_clone_side_pull_over_an_ssh_url(repo: Path, tmp_path: Path, ssh_env: SshServer) -> None:
    files = tracked_data(repo, scale=100)
    store = tmp_path / "remote-store"
    gd("storage", "add", "box", f"ssh://{ssh_env.user}@127.0.0.1:{ssh_env.port}{store}")
    assert "pushed 3 object(s)" in gd("push").stderr
    assert len(stored(store)) == 3 and (store / ".gitdata-storage").exists()
    assert "pushed 0 object(s)" in gd("push").stderr
    git("commit", "-qm", "storage")
    clone = clone_of(repo, tmp_path)
    gd("pull", cwd=clone)
    assert {rel: (clone / rel).read_bytes() for rel in files} == files


def test_pre_push_hook_to_a_host_from_the_ssh_config(repo: Path, tmp_path: Path, ssh_env: SshServer) -> None:
    """`user@host:dir`: the port comes from the Host block of the ssh config, as users set it up."""
    store = tmp_path / "remote-store"
    gd("storage", "add", "box", f"{ssh_env.user}@{ALIAS}:{store}")
    remote = tmp_path / "remote.git"
    git("init", "-q", "--bare", str(remote))
    git("remote", "add", "origin", str(remote))
    gd("install")
    files = tracked_data(repo, scale=100)
    pushed = git("push", "-u", "origin", "main")
    assert "uploaded 3 object(s) to storage 'box'" in pushed.stderr
    assert len(stored(store)) == 3
    clone = tmp_path / "clone"
    git("clone", "-q", str(remote), str(clone))
    gd("pull", cwd=clone)
    assert {rel: (clone / rel).read_bytes() for rel in files} == files


def test_a_corrupt_remote_object_is_rejected_on_pull(repo: Path, tmp_path: Path, ssh_env: SshServer) -> None:
    files = tracked_data(repo, scale=100)
    store = tmp_path / "remote-store"
    gd("storage", "add", "box", f"ssh://{ssh_env.user}@127.0.0.1:{ssh_env.port}{store}")
    gd("push")
    git("commit", "-qm", "storage")
    victim = stored(store)[0]
    victim.chmod(0o644)
    victim.write_bytes(b"not what was pushed")
    clone = clone_of(repo, tmp_path)
    pull = gd("pull", cwd=clone, check=False)
    assert pull.returncode == 1
    [error] = errors(pull.stderr)
    assert "corrupt" in error and "'box'" in error and victim.parent.name + victim.name in error
    assert len(cache_objects(clone)) == 2   # the good objects arrived, the corrupt one did not
    assert all((clone / rel).read_bytes() == files[rel] for rel in files if (clone / rel).exists())


def failed_push(repo: Path, url: str) -> tuple[str, float]:
    """The one error line of a push to `url`, and how long the push took; stdin closed."""
    tracked_data(repo, scale=100)
    gd("storage", "add", "box", url)
    start = time.monotonic()
    push = gd("push", check=False, input="")
    elapsed = time.monotonic() - start
    assert push.returncode == 1
    [error] = errors(push.stderr)
    return error, elapsed


def test_nothing_listening_is_one_clear_line(repo: Path, ssh_env: SshServer) -> None:
    error, elapsed = failed_push(repo, f"ssh://{ssh_env.user}@127.0.0.1:{free_port()}/srv/data")
    assert "storage 'box'" in error and "Connection refused" in error
    assert elapsed < 10


def test_an_unreachable_host_gives_up_after_the_connect_timeout(repo: Path, ssh_env: SshServer,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # 10.255.255.1 is not routed: the connection attempt hangs (or fails at once) and
    # ConnectTimeout bounds it; the user's option comes first in the ssh command, so it wins.
    monkeypatch.setenv("GITDATA_SSH_COMMAND", f"{ssh_env.command()} -o ConnectTimeout=2")
    error, elapsed = failed_push(repo, "ssh://nobody@10.255.255.1/srv/data")
    assert "storage 'box'" in error and "10.255.255.1" in error
    assert elapsed < 15


def test_the_wrong_key_is_refused_without_a_prompt(repo: Path, ssh_env: SshServer,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITDATA_SSH_COMMAND", ssh_env.command(ssh_env.wrong_key))
    error, elapsed = failed_push(repo, f"{ssh_env.user}@{ALIAS}:/srv/data")
    assert "Permission denied (publickey)" in error and "GITDATA_SSH_COMMAND" in error
    assert elapsed < 10   # one attempt: a failed login is not retried


def test_a_bad_ssh_command_is_one_clear_line(repo: Path, ssh_env: SshServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITDATA_SSH_COMMAND", "ssh -i 'unterminated")
    error, _ = failed_push(repo, f"{ssh_env.user}@{ALIAS}:/srv/data")
    assert "GITDATA_SSH_COMMAND" in error and "quotation" in error


@pytest.mark.parametrize("url", ["ssh://me@-oProxyCommand=touch%20owned/x", "-oProxyCommand=touch owned:x",
                                 "me@-oProxyCommand=touch:x"])
def test_a_url_that_would_reach_ssh_as_an_option_is_refused(repo: Path, ssh_env: SshServer, url: str) -> None:
    tracked_data(repo, scale=100)
    config = repo / ".gitdata" / "config"
    config.write_text(config.read_text() + f'[storage "evil"]\n\ttype = rsync\n\turl = {url}\n')
    push = gd("push", "--storage", "evil", check=False, input="")
    assert push.returncode == 1
    [error] = errors(push.stderr)
    assert "must not begin with '-'" in error
    assert not list(repo.rglob("owned"))
