"""Many small file operations split across forked processes.

Threads do not help here: each small system call hands the GIL to the other
thread and back, so two threads take longer than one. Processes share no GIL.
A forked child gets a contiguous slice of the items, runs the work on each and
streams the results back through a pipe (marshal: numbers, strings, tuples,
None); the parent only waits, reports progress and collects. What a child
raises ends it and is raised here, after the other children finished their
slices; work that must go on past a failure returns it.
"""
from __future__ import annotations

import marshal
import os
import signal
import sys
from contextlib import contextmanager
from typing import Any, Callable, Iterator, TypeVar

from gitdata.errors import GitDataError

T = TypeVar("T")
R = TypeVar("R")
BATCH = 64                 # results per message: progress stays live, pipes quiet
MIN_ITEMS = 1000           # fewer items than this never pay for the forks
MAX_PROCESSES = 8


def processes_for(items: int, wanted: int) -> int:
    """How many processes `items` items are worth (1: stay in this one). Never from a
    process running other threads (the API inside someone's threaded program): a
    forked child would hold copies of their locks, taken by nobody."""
    import threading

    if items < MIN_ITEMS or not hasattr(os, "fork") or threading.active_count() > 1:
        return 1
    return max(1, min(wanted, _usable_cores(), MAX_PROCESSES, items // (MIN_ITEMS // 2)))


def _usable_cores() -> int:
    """The cores this process may run on (a container's cpuset, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def run_split(work: Callable[[T], R], items: list[T], processes: int,
              on_results: Callable[[list[R]], None] = lambda batch: None) -> list[R]:
    """work() on every item, in `processes` forked children; the results (marshal-able
    values) in item order. `on_results` sees each batch as it arrives (for a progress bar)."""
    size = -(-len(items) // processes)
    slices = [items[i:i + size] for i in range(0, len(items), size)]
    sys.stdout.flush()
    sys.stderr.flush()
    children: dict[int, tuple[int, list[R]]] = {}   # pipe fd -> (pid, results)
    try:
        for part in slices:
            read_end, write_end = os.pipe()
            with _interrupts_held():
                pid = os.fork()
                if pid == 0:   # the child: the parent stops it on an interrupt
                    signal.signal(signal.SIGINT, signal.SIG_IGN)
                    os.close(read_end)
                    _child(work, part, write_end)
                children[read_end] = (pid, [])
            os.close(write_end)
        crashes = _collect(children, on_results)
    except BaseException:
        for pid, _ in children.values():
            _stop(pid)
        raise
    finally:
        for fd in children:
            os.close(fd)
    results: list[R] = []
    for (pid, got), part in zip(children.values(), slices):
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        if code != 0 or len(got) != len(part):
            if crashes:
                raise crashes[0]
            how = f"was killed by signal {-code}" if code < 0 else f"exited {code}"
            raise GitDataError(f"a worker process {how} before finishing its share")
        results += got
    return results


@contextmanager
def _interrupts_held() -> Iterator[None]:
    """Ctrl-C (SIGINT) held back until the block is done: a child forked in it never
    sees one halfway through Python's own after-fork handlers, and the parent knows
    the child before an interrupt can make it stop its children."""
    interrupt = {signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, interrupt)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, interrupt)


def _collect(children: dict[int, tuple[int, list[R]]],
             on_results: Callable[[list[R]], None]) -> list[BaseException]:
    """Read every child's results until all pipes close; returns what crashed any."""
    import pickle
    import selectors

    crashes = []
    streams = {fd: _Stream(fd) for fd in children}
    with selectors.DefaultSelector() as selector:
        for fd in children:
            selector.register(fd, selectors.EVENT_READ)
        while streams:
            for key, _ in selector.select():
                stream = streams[key.fd]
                for crashed, payload in stream.read():
                    if crashed:
                        crashes.append(pickle.loads(payload))
                    else:
                        children[key.fd][1].extend(payload)
                        on_results(payload)
                if stream.closed:
                    selector.unregister(key.fd)
                    del streams[key.fd]
    return crashes


def _child(work: Callable[[T], R], items: list[T], fd: int) -> None:
    """Run in the forked child: never returns."""
    code = 0
    try:
        batch: list[R] = []
        for item in items:
            batch.append(work(item))
            if len(batch) == BATCH:
                _send(fd, False, batch)
                batch = []
        _send(fd, False, batch)
    except BaseException as exc:   # noqa: BLE001 - reported to the parent, which raises
        code = 1
        try:
            _send(fd, True, _pickled(exc))
        except (OSError, ValueError):
            pass
    finally:
        os._exit(code)   # no atexit handlers, no flushing of the parent's buffers


def _pickled(exc: BaseException) -> bytes:
    """The exception, to be raised again in the parent as if it had happened there."""
    import pickle

    try:
        data = pickle.dumps(exc)
        pickle.loads(data)
        return data
    except Exception:  # noqa: BLE001 - an exception that does not travel: its message does
        return pickle.dumps(GitDataError(f"worker process: {type(exc).__name__}: {exc}"))


def _send(fd: int, crashed: bool, payload: Any) -> None:
    data = marshal.dumps((crashed, payload))
    message = len(data).to_bytes(4, "little") + data
    view = memoryview(message)
    while view:
        view = view[os.write(fd, view):]


class _Stream:
    """Length-prefixed messages from one child's pipe."""

    def __init__(self, fd: int) -> None:
        self.fd, self.buffer, self.closed = fd, b"", False

    def read(self) -> list[tuple[bool, Any]]:
        chunk = os.read(self.fd, 1 << 16)
        if not chunk:
            self.closed = True
        self.buffer += chunk
        batches = []
        while len(self.buffer) >= 4:
            size = int.from_bytes(self.buffer[:4], "little")
            if len(self.buffer) < 4 + size:
                break
            batches.append(marshal.loads(self.buffer[4:4 + size]))
            self.buffer = self.buffer[4 + size:]
        return batches


def _stop(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass
