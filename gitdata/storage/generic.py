"""A storage driven by user-supplied shell command templates.

    [storage "NAME"]
        type = generic
        url = /mnt/archive            # or anything the commands understand
        processes = 4                 # parallel commands
        timeout = 3600                # seconds one command may take; 0 = no limit
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
text (`git data trust`).

A command still running after `timeout` seconds is killed with everything it
started (it runs in its own session, so its whole process group goes), and
the transfer fails naming the storage and the command. A timed-out command is
not retried: it already used its whole budget, and the next push or pull
picks up where this one stopped. Nor is a command killed by a signal; other
failures are retried."""
from __future__ import annotations

import functools
import math
import os
import secrets
import shlex
import signal
import subprocess
import threading
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Callable, Iterator

from gitdata.errors import GitDataError
from gitdata.storage import StorageConfig, digests_in, key_of

if TYPE_CHECKING:
    from gitdata.git import GitRepo

TEMPLATES = ("init", "list", "exists", "upload", "download", "delete")
PLACEHOLDERS = ("local", "remote", "key", "dir", "tmp", "digest", "url", "storage")
ATTEMPTS = 3
DEFAULT_TIMEOUT = 3600.0
_running: set[int] = set()   # process groups of the commands in flight
_stopping = False   # git-data got a signal: every command is to be killed


def expand(template: str, values: dict[str, str]) -> str:
    text = template
    for name in PLACEHOLDERS:
        if name in values:
            text = text.replace("{" + name + "}", shlex.quote(values[name]))
    return text


def timeout_of(config: StorageConfig) -> float | None:
    """The `timeout` setting in seconds (None: no limit)."""
    raw = config.get("timeout") or str(DEFAULT_TIMEOUT)
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not math.isfinite(seconds) or seconds < 0:
        raise GitDataError(f"storage '{config.name}': timeout must be a number of seconds "
                           f"(0 for no limit), not '{raw}'")
    return seconds or None


def _signal_group(group: int, signum: int) -> None:
    try:
        os.killpg(group, signum)
    except ProcessLookupError:
        pass


def _stop_commands_on_signals() -> None:
    """Commands run in their own session, out of reach of a Ctrl-C, a hang-up or a
    SIGTERM sent to git-data's process group: on any of these kill them as a timeout
    does (SIGINT would spare what they started in the background, which shells shield
    from it), then let the signal stop git-data as it did before. Like ninja, nothing
    can be done for SIGKILL: the commands then run to their end or their timeout."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        previous = signal.getsignal(signum)
        ours = isinstance(previous, functools.partial) and previous.func is _stop_commands_then
        if previous not in (signal.SIG_IGN, None) and not ours:
            signal.signal(signum, functools.partial(_stop_commands_then, previous))


def _stop_commands_then(previous: Callable[[int, FrameType | None], object] | int,
                        signum: int, frame: FrameType | None) -> None:
    # No locks here: a second signal runs this again inside the first run.
    global _stopping
    _stopping = True
    for group in list(_running):
        _signal_group(group, signal.SIGKILL)
    if callable(previous):
        previous(signum, frame)
    else:
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


def _stop(proc: subprocess.Popen[str]) -> None:
    _signal_group(proc.pid, signal.SIGKILL)
    proc.wait()


def run_command(command: str, cwd: Path, timeout: float | None) -> subprocess.CompletedProcess[str] | None:
    """Run a shell command in its own session; None when it was still running after
    `timeout` seconds, and so was killed together with everything it started."""
    with subprocess.Popen(command, shell=True, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, cwd=cwd, start_new_session=True) as proc:
        try:
            _running.add(proc.pid)
            if _stopping:   # the signal came while this one was starting
                _signal_group(proc.pid, signal.SIGKILL)
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _stop(proc)
            return None
        except BaseException:   # Ctrl-C in this thread: nothing it started may outlive it
            _stop(proc)
            raise
        finally:
            _running.discard(proc.pid)
    return subprocess.CompletedProcess(command, proc.returncode, stdout, stderr)


class GenericStorage:
    def __init__(self, repo: GitRepo, name: str, url: str, templates: dict[str, str], processes: int,
                 timeout: float | None = DEFAULT_TIMEOUT) -> None:
        self.repo, self.name, self.url = repo, name, url.rstrip("/")
        self.templates, self.default_jobs, self.timeout = templates, processes, timeout
        self._approved: set[str] = set()
        self._ready = False
        _stop_commands_on_signals()

    @classmethod
    def from_config(cls, repo: GitRepo, config: StorageConfig) -> GenericStorage:
        templates = {key: value for key in TEMPLATES if (value := config.get(key))}
        raw = config.get("processes", "4") or "4"
        if not raw.isdigit() or int(raw) < 1:
            raise GitDataError(f"storage '{config.name}': processes must be a positive number, not '{raw}'")
        return cls(repo, config.name, config.url, templates, int(raw), timeout_of(config))

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
            proc = self._run_once(which, command, what)
            if proc.returncode == 0 or not check:
                return proc
            if proc.returncode < 0:   # killed by a signal (Ctrl-C, the OOM killer): not a hiccup
                break
            if attempt < ATTEMPTS - 1 and retry:
                time.sleep(0.3 * 2 ** attempt)
        code = proc.returncode
        status = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
        message = (proc.stderr.strip().splitlines() or [status])[-1]
        raise GitDataError(f"storage '{self.name}': {what} failed: {message}")

    def _run_once(self, which: str, command: str, what: str) -> subprocess.CompletedProcess[str]:
        proc = run_command(command, self.repo.workdir, self.timeout)
        if proc is None:
            raise GitDataError(f"storage '{self.name}': the {which} command was stopped after {self.timeout:g} s "
                               f"({what}); if it needs longer, raise storage.{self.name}.timeout")
        return proc

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
