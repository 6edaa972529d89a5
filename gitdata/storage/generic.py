"""A storage driven by user-supplied shell command templates.

    [storage "NAME"]
        type = generic
        url = /mnt/archive            # or anything the commands understand
        processes = 4                 # parallel commands
        init = mkdir -p {url}
        list = cd {url} && find . -type f
        upload = mkdir -p {dir} && cp {local} {tmp} && mv {tmp} {remote}
        download = cp {remote} {local}
        delete = rm -f {remote}
        exists = test -e {remote}     # optional when list is given

Placeholders, each substituted shell-quoted: {local} the local file, {remote}
the object in the storage ({url}/{key}), {key} its key (<algo>/<2 hex>/<rest>),
{dir} the directory that holds it, {tmp} a fresh temporary name next to it,
{digest}, {url} and {storage} (the storage name). Because the templates come
from a committed file, each one runs only once the user approved its exact
text (`git data trust`)."""
from __future__ import annotations

import secrets
import shlex
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from gitdata.errors import GitDataError
from gitdata.storage import StorageConfig, digests_in, key_of

if TYPE_CHECKING:
    from gitdata.git import GitRepo

TEMPLATES = ("init", "list", "exists", "upload", "download", "delete")
PLACEHOLDERS = ("local", "remote", "key", "dir", "tmp", "digest", "url", "storage")
ATTEMPTS = 3


def expand(template: str, values: dict[str, str]) -> str:
    text = template
    for name in PLACEHOLDERS:
        if name in values:
            text = text.replace("{" + name + "}", shlex.quote(values[name]))
    return text


class GenericStorage:
    def __init__(self, repo: GitRepo, name: str, url: str, templates: dict[str, str], processes: int) -> None:
        self.repo, self.name, self.url = repo, name, url.rstrip("/")
        self.templates, self.default_jobs = templates, processes
        self._approved: set[str] = set()
        self._ready = False

    @classmethod
    def from_config(cls, repo: GitRepo, config: StorageConfig) -> GenericStorage:
        templates = {key: value for key in TEMPLATES if (value := config.get(key))}
        raw = config.get("processes", "4") or "4"
        if not raw.isdigit() or int(raw) < 1:
            raise GitDataError(f"storage '{config.name}': processes must be a positive number, not '{raw}'")
        return cls(repo, config.name, config.url, templates, int(raw))

    def describe(self) -> str:
        return f"generic commands for {self.url}"

    def _values(self, digest: str | None = None, local: Path | None = None) -> dict[str, str]:
        values = {"url": self.url, "storage": self.name}
        if digest is not None:
            key = key_of(digest)
            remote = f"{self.url}/{key}"
            values.update(key=key, digest=digest, remote=remote, dir=remote.rsplit("/", 1)[0],
                          tmp=f"{remote}.{secrets.token_hex(6)}.tmp")
        if local is not None:
            values["local"] = str(local)
        return values

    def _template(self, which: str) -> str:
        template = self.templates.get(which)
        if template is None:
            raise GitDataError(f"storage '{self.name}' has no '{which}' command in .gitdata/config")
        if template not in self._approved:
            from gitdata.trust import require_trusted

            require_trusted(self.repo, template, f"storage '{self.name}' ({which})")
            self._approved.add(template)
        return template

    def _run(self, which: str, values: dict[str, str], what: str, retry: bool = True,
             check: bool = True) -> subprocess.CompletedProcess[str]:
        command = expand(self._template(which), values)
        for attempt in range(ATTEMPTS if retry else 1):
            proc = subprocess.run(command, shell=True, capture_output=True, text=True,
                                  stdin=subprocess.DEVNULL, cwd=self.repo.workdir)
            if proc.returncode == 0 or not check:
                return proc
            if attempt < ATTEMPTS - 1 and retry:
                time.sleep(0.3 * 2 ** attempt)
        message = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
        raise GitDataError(f"storage '{self.name}': {what} failed: {message}")

    def prepare(self) -> None:
        if not self._ready and "init" in self.templates:
            self._run("init", self._values(), "init")
        self._ready = True

    def exists(self, digests: list[str]) -> set[str]:
        if not digests:
            return set()
        if "list" in self.templates:
            return set(self.list_digests()) & set(digests)
        if "exists" in self.templates:
            return {d for d in digests
                    if self._run("exists", self._values(d), "exists", retry=False, check=False).returncode == 0}
        raise GitDataError(f"storage '{self.name}' needs a 'list' or 'exists' command in .gitdata/config")

    def list_digests(self) -> Iterator[str]:
        self.prepare()
        proc = self._run("list", self._values(), "list")
        return digests_in(proc.stdout.splitlines())

    def upload(self, digest: str, src: Path) -> None:
        self.prepare()
        self._run("upload", self._values(digest, src), f"uploading {digest}")

    def download(self, digest: str, dest: Path) -> None:
        self._run("download", self._values(digest, dest), f"downloading {digest}")

    def delete(self, digest: str) -> None:
        self._run("delete", self._values(digest), f"deleting {digest}")
