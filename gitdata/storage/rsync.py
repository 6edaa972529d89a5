"""A storage reached with rsync over ssh: `ssh://user@host:port/dir`, `user@host:dir`
(or a plain local path, which rsync also serves).

ssh runs with BatchMode, so it never prompts: key-based authentication only.
rsync writes each file under a temporary name and renames it when complete,
so no partial object ever appears under its final key."""
from __future__ import annotations

import os
import shlex
import shutil
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
        return f"{user}{host}:{path.rstrip('/') or '/'}", str(parsed.port) if parsed.port else None
    if url.startswith("file://"):
        return urlparse(url).path.rstrip("/"), None
    return url.rstrip("/"), None


class RsyncStorage:
    default_jobs = 8

    def __init__(self, name: str, url: str, repo_dir: Path | None = None) -> None:
        self.name, self.url = name, url
        self.root, self.port = split_target(url)
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
        control = os.path.join(tempfile.gettempdir(), "gitdata-ssh-%C")
        ssh = ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-o", "ControlMaster=auto",
               "-o", f"ControlPath={control}", "-o", "ControlPersist=60"]
        if self.port:
            ssh += ["-p", self.port]
        return ["-e", shlex.join(ssh)]

    def _rsync(self, args: list[str], what: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = ["rsync", *self._ssh(), *args]
        for attempt in range(ATTEMPTS):
            proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
            if proc.returncode == 0 or not check:
                return proc
            if proc.returncode not in TRANSIENT or attempt == ATTEMPTS - 1:
                break
            time.sleep(0.5 * 2 ** attempt)
        message = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
        raise GitDataError(f"storage '{self.name}': {what} failed: {message}")

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
            message = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
            raise GitDataError(f"storage '{self.name}': listing failed: {message}")
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
