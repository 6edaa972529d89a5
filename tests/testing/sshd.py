"""A real OpenSSH server on loopback for the tests: its own host key, client keys
and sshd_config in a temp dir, started once per session (per xdist worker) as
the current user. Tests reach it with the real ssh and rsync, pointing ssh at
the test key the way a user would: GITDATA_SSH_COMMAND."""
from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator, NamedTuple

import pytest

from tests.testing.s3server import free_port

SSHD = "/usr/sbin/sshd"
ALIAS = "gitdata-test-host"   # a Host block in the client config: 127.0.0.1 and the port


class SshServer(NamedTuple):
    port: int
    user: str
    key: Path          # authorized
    wrong_key: Path    # not authorized
    config: Path       # ssh client config: the alias, a private known_hosts, no agent keys

    def command(self, key: Path | None = None) -> str:
        """An ssh command for GITDATA_SSH_COMMAND that logs in with `key`."""
        return f"ssh -F {self.config} -i {key or self.key}"


def _missing_tools() -> list[str]:
    return [tool for tool in ("ssh", "ssh-keygen", "rsync", SSHD) if shutil.which(tool) is None]


def _keygen(path: Path) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True,
                   stdin=subprocess.DEVNULL, capture_output=True)
    return path


def _write_configs(root: Path, port: int) -> tuple[Path, Path]:
    """(sshd_config, ssh client config). The high MaxStartups and MaxSessions keep
    sshd from dropping the parallel connections of a push (8 jobs, two workers)."""
    server = root / "sshd_config"
    server.write_text(
        f"ListenAddress 127.0.0.1\nPort {port}\nHostKey {_keygen(root / 'host_key')}\n"
        f"AuthorizedKeysFile {root / 'authorized_keys'}\nPidFile {root / 'sshd.pid'}\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\n"
        "StrictModes no\nUsePAM no\nPermitRootLogin prohibit-password\nMaxStartups 100\nMaxSessions 50\n")
    client = root / "ssh_config"
    client.write_text(
        f"Host {ALIAS}\n    HostName 127.0.0.1\n    Port {port}\n"
        "Host *\n    IdentitiesOnly yes\n    IdentityAgent none\n"
        f"    UserKnownHostsFile {root / 'known_hosts'}\n    StrictHostKeyChecking accept-new\n")
    return server, client


def _wait_listening(proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
    import socket

    deadline = time.monotonic() + 15
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"sshd did not start:\n{log.read_text(errors='replace')}") from None
            time.sleep(0.05)


@pytest.fixture(scope="session")
def sshd() -> Iterator[SshServer]:
    missing = _missing_tools()
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (apt-get install openssh-server openssh-client rsync)")
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege-separation dir
    root = Path(tempfile.mkdtemp(prefix="gd-sshd-"))
    key, wrong_key = _keygen(root / "client_key"), _keygen(root / "wrong_key")
    (root / "authorized_keys").write_text(Path(f"{key}.pub").read_text())
    port = free_port()
    server_config, client_config = _write_configs(root, port)
    log = root / "sshd.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(server_config)], stdin=subprocess.DEVNULL,
                                stdout=sink, stderr=sink)
    try:
        _wait_listening(proc, port, log)
        yield SshServer(port, pwd.getpwuid(os.getuid()).pw_name, key, wrong_key, client_config)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def ssh_env(sshd: SshServer, isolated_env: object, monkeypatch: pytest.MonkeyPatch) -> Iterator[SshServer]:
    """GITDATA_SSH_COMMAND set to log in with the test key, and a fresh TMPDIR so
    each test gets its own shared ssh connections (closed afterwards)."""
    tmp = Path(tempfile.mkdtemp(prefix="gd-"))  # short: ssh control socket paths are limited to ~100 bytes
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setenv("GITDATA_SSH_COMMAND", sshd.command())
    try:
        yield sshd
    finally:
        for socket_path in tmp.rglob("*"):
            if socket_path.is_socket():
                subprocess.run(["ssh", "-F", str(sshd.config), "-S", str(socket_path), "-O", "exit", ALIAS],
                               capture_output=True, stdin=subprocess.DEVNULL, timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)
