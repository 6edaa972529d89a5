"""A storage reached with rsync over ssh: `ssh://user@host:port/dir`, `user@host:dir`
(or a plain local path, which rsync also serves).

ssh runs with BatchMode, so it never prompts: key-based authentication only.
Keys, ports and users come from ~/.ssh/config as for any ssh; the command
itself can be replaced with GITDATA_SSH_COMMAND (like git's GIT_SSH_COMMAND),
e.g. `ssh -i ~/.ssh/deploy_key`. git-data appends its own options after the
user's, and ssh keeps the first value it sees for an option, so the user's win.
rsync writes each file under a temporary name and renames it when complete,
so no partial object ever appears under its final key."""
from __future__ import annotations

import os
import re
import shlex
import shutil
import stat
import subprocess
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Iterator
from urllib.parse import urlparse

from gitdata.errors import GitDataError
from gitdata.storage import MARKER, MARKER_TEXT, StorageConfig, digests_in, key_of

if TYPE_CHECKING:
    from gitdata.git import GitRepo

ATTEMPTS = 3
TRANSIENT = {5, 10, 11, 12, 23, 30, 35, 255}
SSH_COMMAND_ENV = "GITDATA_SSH_COMMAND"
# A dead network is noticed within a minute instead of hanging a transfer forever.
SSH_OPTIONS = ("BatchMode=yes", "ConnectTimeout=10", "ServerAliveInterval=15", "ServerAliveCountMax=4")
# Failures that another attempt cannot fix (and retrying logins can get an address banned),
# with what the user can do about them.
_HINTS = {
    re.compile(r"Permission denied \([a-z]"): "ssh never prompts here: use a key from ssh-agent or ~/.ssh/config,"
                                               f" or set {SSH_COMMAND_ENV}, e.g. 'ssh -i KEYFILE'",
    re.compile(r"Host key verification failed"): "the host's key is unknown or has changed: connect once"
                                                 " with ssh to check and accept it",
}


def split_target(url: str) -> tuple[str, str | None]:
    """(rsync destination root, ssh port) for a storage URL."""
    if url.startswith("ssh://"):
        parsed = urlparse(url)
        host = parsed.hostname or ""
        if not host:
            raise GitDataError(f"no host in '{url}'")
        user = f"{parsed.username}@" if parsed.username else ""
        path = parsed.path or "/"
        if path.startswith("/~"):
            path = path[1:]
        try:
            port = parsed.port
        except ValueError:
            raise GitDataError(f"storage URL '{url}': the port is not a number from 1 to 65535") from None
        return f"{user}{host}:{path.rstrip('/') or '/'}", str(port) if port else None
    if url.startswith("file://"):
        return urlparse(url).path.rstrip("/"), None
    return url.rstrip("/"), None


def check_target(url: str, root: str) -> None:
    """A user, host or path that begins with '-' would reach rsync or ssh as an
    option (`-oProxyCommand=...` runs a command), and URLs come from committed files."""
    if root.startswith("-") or any(part.startswith("-") for part in root.split(":", 1)[0].split("@")):
        raise GitDataError(f"storage URL '{url}' is not allowed: a user, host or path must not begin with '-'")


def ssh_command() -> list[str]:
    """The user's ssh command (GITDATA_SSH_COMMAND, split like a shell line) or plain ssh."""
    text = os.environ.get(SSH_COMMAND_ENV, "").strip()
    if not text:
        return ["ssh"]
    try:
        return shlex.split(text)
    except ValueError as exc:
        raise GitDataError(f"{SSH_COMMAND_ENV}: {exc}") from None


def control_dir() -> str | None:
    """A directory only this user can write to for shared ssh connections, or None
    (no sharing): a socket someone else planted in /tmp would see every transfer."""
    path = os.path.join(tempfile.gettempdir(), f"gitdata-ssh-{os.getuid()}")
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        info = os.lstat(path)
    except OSError:
        return None
    private = stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o077
    return path if private else None


def hint_for(message: str) -> str | None:
    return next((hint for pattern, hint in _HINTS.items() if pattern.search(message)), None)


def failure_reason(stderr: str, returncode: int) -> str:
    """The line that says what went wrong. When ssh fails, rsync's own last line only
    says the connection closed: ssh's last line (refused, timed out, denied) is the one."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip() and not line.startswith("Warning: ")]
    from_ssh = [line for line in lines if not line.startswith("rsync")]
    if from_ssh:
        return from_ssh[-1]
    details = [line for line in lines if line.startswith("rsync:")]
    return (details or lines or [f"exit code {returncode}"])[0]


class RsyncStorage:
    default_jobs = 8

    def __init__(self, name: str, url: str, repo_dir: Path | None = None) -> None:
        self.name, self.url = name, url
        self.root, self.port = split_target(url)
        check_target(url, self.root)
        if ":" not in self.root.split("/")[0] and not os.path.isabs(self.root) and repo_dir is not None:
            self.root = str(repo_dir / self.root)
        self._ready = False

    @classmethod
    def from_config(cls, repo: GitRepo, config: StorageConfig) -> RsyncStorage:
        if shutil.which("rsync") is None:
            raise GitDataError(f"storage '{config.name}' needs rsync, which is not installed")
        return cls(config.name, config.url, repo.workdir)

    def describe(self) -> str:
        return f"rsync to {self.root}" + (f" (ssh port {self.port})" if self.port else "")

    @property
    def remote(self) -> bool:
        return ":" in self.root.split("/")[0]

    def _ssh(self) -> list[str]:
        if not self.remote:
            return []
        options = list(SSH_OPTIONS)
        control = control_dir()
        if control:
            options += ["ControlMaster=auto", f"ControlPath={control}/%C", "ControlPersist=60"]
        ssh = ssh_command() + [word for option in options for word in ("-o", option)]
        if self.port:
            ssh += ["-p", self.port]
        return ["-e", shlex.join(ssh)]

    def _rsync(self, args: list[str], what: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = ["rsync", *self._ssh(), *args]
        for attempt in range(ATTEMPTS):
            proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
            if proc.returncode == 0 or not check:
                return proc
            if proc.returncode not in TRANSIENT or hint_for(proc.stderr) or attempt == ATTEMPTS - 1:
                break
            time.sleep(0.5 * 2 ** attempt)
        raise self._failure(what, proc)

    def _failure(self, what: str, proc: subprocess.CompletedProcess[str]) -> GitDataError:
        message = failure_reason(proc.stderr, proc.returncode)
        hint = hint_for(message)
        return GitDataError(f"storage '{self.name}': {what} failed: {message}" + (f" ({hint})" if hint else ""))

    def prepare(self) -> None:
        if self._ready:
            return
        if not self.remote:
            Path(self.root).mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / MARKER).write_bytes(MARKER_TEXT)
            self._rsync(["--ignore-existing", str(Path(tmp) / MARKER), self.root + "/"], "writing the marker")
        self._ready = True

    def _listing(self) -> Iterator[str]:
        proc = self._rsync(["-r", "--list-only", self.root + "/"], "listing", check=False)
        if proc.returncode != 0:
            if "No such file or directory" in proc.stderr and "change_dir" in proc.stderr:
                return iter(())
            raise self._failure("listing", proc)
        return (line.split(None, 4)[-1] for line in proc.stdout.splitlines() if line.startswith("-"))

    def exists(self, digests: list[str]) -> set[str]:
        if not digests:
            return set()
        return set(digests_in(self._listing())) & set(digests)

    def list_digests(self) -> Iterator[str]:
        return digests_in(self._listing())

    def upload(self, digest: str, src: Path) -> None:
        self.prepare()
        key = key_of(digest)
        text = str(src)
        if text.endswith("/" + key):
            source = text[: -len(key)] + "./" + key
            self._rsync(["-R", "--chmod=F444", source, self.root + "/"], f"uploading {digest}")
            return
        with tempfile.TemporaryDirectory() as tmp:
            staged = Path(tmp) / key
            staged.parent.mkdir(parents=True)
            os.symlink(src, staged)
            self._rsync(["-R", "-L", "--chmod=F444", f"{tmp}/./{key}", self.root + "/"], f"uploading {digest}")

    def download(self, digest: str, dest: Path) -> None:
        proc = self._rsync([f"{self.root}/{key_of(digest)}", str(dest)], f"downloading {digest}", check=False)
        if proc.returncode == 23 and "No such file" in proc.stderr:
            raise GitDataError(f"storage '{self.name}' does not have object {digest}")
        if proc.returncode != 0:
            self._rsync([f"{self.root}/{key_of(digest)}", str(dest)], f"downloading {digest}")

    def delete(self, digest: str) -> None:
        key = key_of(digest)
        directory, name = key.rsplit("/", 1)
        with tempfile.TemporaryDirectory() as empty:
            self._rsync(["-r", "--delete", f"--include=/{name}", "--exclude=*", empty + "/",
                         f"{self.root}/{directory}/"], f"deleting {digest}")
