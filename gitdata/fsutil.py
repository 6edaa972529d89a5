"""Small file-system helpers: atomic writes and the four ways to materialise a file."""
from __future__ import annotations

import errno
import itertools
import os
import re
import stat
from pathlib import Path

FICLONE = 0x40049409


_TOKEN = os.urandom(4).hex()
_counter = itertools.count()


def unique_suffix() -> str:
    """Unique among all processes and threads: a per-process token, the pid and a counter."""
    return f"{_TOKEN}-{os.getpid()}-{next(_counter)}"


def unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def read_all(fd: int, size: int) -> bytes:
    """The file's bytes to its end, in one read when it still has the `size` it had."""
    data = os.read(fd, size + 1)
    if len(data) == size:
        return data
    chunks = [data]
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


def write_new(path: str, data: bytes, mode: int) -> None:
    """Create a file that must not exist yet, with `mode` from birth (no chmod), holding `data`."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        _write_all(fd, data)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


_O_TMPFILE = getattr(os, "O_TMPFILE", 0)
_unnamed_files = [bool(_O_TMPFILE)]   # cleared once the file system says it has none
_proc_fd_dir_handle: list[int] = []   # this process's /proc/<pid>/fd (-1: no /proc)
os.register_at_fork(after_in_child=_proc_fd_dir_handle.clear)


def write_named(directory: str, path: str, data: bytes, mode: int) -> bool:
    """Create `path`, in the existing `directory`, holding `data` and appearing whole:
    the bytes go into an unnamed file (O_TMPFILE) that is linked under its name once
    complete. A killed process leaves nothing behind, and there is no temp name to
    rename (a rename between directories is serialised file-system wide). If `path`
    exists already it is left as it is. False, with nothing written, where the system
    has no unnamed files or will not let them be named: the caller then takes the
    temp-file way."""
    proc_fds = _proc_fd_dir() if _unnamed_files[0] else None
    if proc_fds is None:
        return False
    try:
        fd = os.open(directory, _O_TMPFILE | os.O_WRONLY, mode)
    except OSError as exc:
        if exc.errno not in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOSYS):
            raise
        _unnamed_files[0] = False
        return False
    try:
        _write_all(fd, data)
        os.link(str(fd), path, src_dir_fd=proc_fds, follow_symlinks=True)
    except FileExistsError:
        pass
    except OSError as exc:   # a security module may forbid naming it through /proc: unwritten then
        if exc.errno not in (errno.EPERM, errno.EACCES, errno.EXDEV, errno.EINVAL, errno.EOPNOTSUPP):
            raise
        _unnamed_files[0] = False
        return False
    finally:
        os.close(fd)
    return True


def _proc_fd_dir() -> int | None:
    """A handle on this process's /proc/<pid>/fd: linking `<fd>` relative to it, following
    the link, names an unnamed file without privileges."""
    if not _proc_fd_dir_handle:
        try:
            _proc_fd_dir_handle.append(os.open(f"/proc/{os.getpid()}/fd", os.O_RDONLY | os.O_DIRECTORY))
        except OSError:
            _proc_fd_dir_handle.append(-1)
    fd = _proc_fd_dir_handle[0]
    return fd if fd >= 0 else None


def temp_name(path: Path) -> Path:
    return Path(temp_path(str(path)))


def temp_path(target: str) -> str:
    """A fresh temp name beside `target` (a string: this is on hot paths)."""
    directory, _, name = target.rpartition(os.sep)
    return f"{directory}{os.sep}.{name[:40]}.gitdata-{unique_suffix()}.tmp"


def made_parent(path: str, made: set[str]) -> str:
    """The directory of `path`, made if `made` (directories known to exist) lacks it."""
    directory = path.rpartition(os.sep)[0]
    if directory not in made:
        os.makedirs(directory, exist_ok=True)
        made.add(directory)
    return directory


def _ensure_parent(target: str) -> None:
    directory = target.rpartition(os.sep)[0]
    if not os.path.isdir(directory):
        os.makedirs(directory, exist_ok=True)


_TEMP_RE = re.compile(r"^\..*\.gitdata-[0-9a-f]{8}-([0-9]+)-[0-9]+\.tmp$", re.DOTALL)


def is_temp_name(name: str) -> bool:
    """A temp file of ours (temp_name), which a process killed mid-write may leave behind."""
    return name.endswith(".tmp") and _TEMP_RE.match(name) is not None


def remove_if_stale(path: str) -> None:
    """Delete a temp file of ours whose process is gone (never one still being written)."""
    match = _TEMP_RE.match(os.path.basename(path))
    if match is None or int(match.group(1)) == os.getpid():
        return
    try:
        os.kill(int(match.group(1)), 0)
        return
    except ProcessLookupError:
        pass
    except OSError:
        return
    try:
        os.unlink(path)
    except OSError:
        pass


def remove_stale_temps(directory: Path) -> None:
    """Clean up after a process killed in the middle of an atomic write into this directory."""
    try:
        names = [entry.path for entry in os.scandir(directory) if is_temp_name(entry.name)]
    except OSError:
        return
    for path in names:
        remove_if_stale(path)


def atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(path)
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def remove_empty_parents(directory: Path, stop: Path) -> None:
    while directory != stop and stop in directory.parents:
        try:
            directory.rmdir()
        except OSError:
            return
        directory = directory.parent


def reflink(src: Path, dst: Path) -> bool:
    """Clone src to dst sharing blocks; False where the file system cannot."""
    with open(src, "rb") as source, open(dst, "wb") as target:
        return clone_fd(source.fileno(), target.fileno())


def clone_fd(src_fd: int, dst_fd: int) -> bool:
    """Make the file dst_fd a clone of src_fd, sharing blocks (XFS, btrfs, bcachefs:
    no bytes move, and the clone is a snapshot); False where the file system cannot."""
    import fcntl

    try:
        fcntl.ioctl(dst_fd, FICLONE, src_fd)
        return True
    except OSError as exc:
        if exc.errno in (errno.EOPNOTSUPP, errno.EXDEV, errno.EINVAL, errno.ENOTTY, errno.EBADF):
            return False
        raise


def _copy_new(src: str, dst: str, mode: int) -> os.stat_result:
    """Copy src into a new file dst created with `mode` (umask applies): one open each,
    then sendfile the size it has (objects do not change: no read to find EOF); no
    chmod calls. Returns the stat of the copy as written. A failed copy removes dst."""
    fd_in = os.open(src, os.O_RDONLY)
    try:
        fd_out = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            size, offset = os.fstat(fd_in).st_size, 0
            while offset < size and (sent := os.sendfile(fd_out, fd_in, offset, size - offset)):
                offset += sent
            return os.fstat(fd_out)
        except BaseException:
            os.unlink(dst)
            raise
        finally:
            os.close(fd_out)
    finally:
        os.close(fd_in)


def place_new(obj: str, target: str, method: str, executable: bool) -> tuple[str, os.stat_result | None] | None:
    """Put the cache object `obj` at `target`, where nothing is, without a temp file
    and rename (half the directory updates: restoring many files is kernel-bound).
    Links appear whole; a copy killed midway leaves a prefix of the object, which is
    safe to overwrite (see `is_prefix_of`). Returns the method used (a hard link the
    file system refuses is a copy) and, for a copy, its stat as written; None if
    something is at `target` after all. Reflinks always take `materialise`. Missing
    parent directories are made only when the first try says so: no stat per file."""
    if method == "reflink":
        return None
    try:
        try:
            return _place_new(obj, target, method, executable)
        except FileNotFoundError:   # no directory yet (or no object: then the retry fails too)
            _ensure_parent(target)
            return _place_new(obj, target, method, executable)
    except FileExistsError:
        return None


def _place_new(obj: str, target: str, method: str, executable: bool) -> tuple[str, os.stat_result | None]:
    if method == "symlink":
        os.symlink(obj, target)
        return method, None
    if method == "hardlink" and hard_link(obj, target):
        return method, None
    return "copy", _copy_new(obj, target, 0o777 if executable else 0o666)


# A hard link cannot cross file systems (a worktree on another disk than the cache), nor
# pass a file's link limit, nor exist on some file systems: a copy stands in for it.
_NO_HARD_LINK = (errno.EXDEV, errno.EMLINK, errno.EPERM, errno.EOPNOTSUPP)


def hard_link(obj: str, target: str) -> bool:
    """Hard-link `target` to `obj`; False where the file system will not."""
    try:
        os.link(obj, target)
        return True
    except OSError as exc:
        if exc.errno not in _NO_HARD_LINK:
            raise
        return False


def is_prefix_of(path: str | Path, obj: str | Path) -> bool:
    """Whether the file holds only the start of the object (or nothing): what a copy
    killed midway leaves. Overwriting such a file loses no byte."""
    with open(path, "rb") as partial, open(obj, "rb") as whole:
        size = os.fstat(partial.fileno()).st_size
        if size >= os.fstat(whole.fileno()).st_size:
            return False
        while chunk := partial.read(1 << 20):
            if whole.read(len(chunk)) != chunk:
                return False
    return True


def materialise(obj: str | Path, target: str | Path, method: str, executable: bool) -> str:
    """Put the cache object `obj` at `target` atomically with the given method.
    Returns the method actually used (reflink and hardlink fall back to copy where the
    file system cannot give them)."""
    target = str(target)
    _ensure_parent(target)
    tmp = temp_path(target)
    try:
        used = method
        if method == "symlink":
            os.symlink(obj, tmp)
        elif method == "hardlink" and hard_link(str(obj), tmp):
            pass
        elif method == "reflink" and reflink(Path(obj), Path(tmp)):
            os.chmod(tmp, _file_mode(executable))
        else:
            used = "copy"
            if os.path.lexists(tmp):  # a failed reflink attempt left it
                os.unlink(tmp)
            _copy_new(str(obj), tmp, 0o777 if executable else 0o666)
        os.replace(tmp, target)
        return used
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


_UMASK = None


def _file_mode(executable: bool) -> int:
    global _UMASK
    if _UMASK is None:
        _UMASK = os.umask(0)
        os.umask(_UMASK)
    return (0o777 if executable else 0o666) & ~_UMASK


def is_executable(st: os.stat_result) -> bool:
    return bool(st.st_mode & stat.S_IXUSR)


def make_writable(path: Path) -> None:
    """Turn a link into the cache back into an ordinary private copy."""
    st = path.lstat()
    if stat.S_ISLNK(st.st_mode) or st.st_nlink > 1:
        import shutil   # rarely needed, and its import costs every command ~4 ms

        tmp = temp_name(path)
        shutil.copyfile(path, tmp)
        os.chmod(tmp, _file_mode(is_executable(path.stat())))
        os.replace(tmp, path)
