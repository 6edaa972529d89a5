"""fsutil's file placement: many threads restoring into directories that do not exist
yet (what a parallel checkout after `rm -rf data` does), and files that appear whole."""
from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from gitdata import fsutil
from gitdata.cache import Cache
from gitdata.fsutil import place_new, write_named


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@pytest.mark.parametrize("method", ["copy", "hardlink", "symlink"])
def test_threads_placing_files_into_the_same_missing_directories_all_succeed(tmp_path: Path, method: str) -> None:
    obj = tmp_path / "object"
    obj.write_bytes(b"content\n")
    threads, per_thread = 8, 40
    start = threading.Barrier(threads)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        start.wait()
        try:
            for i in range(per_thread):
                target = tmp_path / "work" / f"d{i % 4}" / f"sub{i % 2}" / f"f{n}-{i}"
                placed = place_new(str(obj), str(target), method, executable=False)
                assert placed is not None and placed[0] == method
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    placed = [p for p in (tmp_path / "work").rglob("f*")]
    assert len(placed) == threads * per_thread
    assert all(p.read_bytes() == b"content\n" for p in placed)


def test_a_copy_placed_reports_the_stat_it_was_written_with(tmp_path: Path) -> None:
    obj = tmp_path / "object"
    obj.write_bytes(b"content\n")
    target = tmp_path / "new" / "file"
    placed = place_new(str(obj), str(target), "copy", executable=False)
    assert placed is not None and placed[1] is not None
    st = target.stat()   # the stat cache keeps this key for the digest: it must be the file's
    assert (placed[1].st_size, placed[1].st_mtime_ns, placed[1].st_ino) == (st.st_size, st.st_mtime_ns, st.st_ino)
    assert place_new(str(obj), str(target), "copy", executable=False) is None   # something is there now


def test_a_missing_object_is_still_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        place_new(str(tmp_path / "no-such-object"), str(tmp_path / "new" / "file"), "copy", executable=False)


def test_write_named_makes_a_whole_read_only_file_and_leaves_no_trace(tmp_path: Path) -> None:
    target = tmp_path / "ab" / "cdef"
    target.parent.mkdir()
    assert write_named(str(target.parent), str(target), b"payload", 0o444)
    assert target.read_bytes() == b"payload"
    assert stat.S_IMODE(target.stat().st_mode) == 0o444 & ~current_umask()
    assert os.listdir(target.parent) == ["cdef"]


def test_write_named_leaves_an_existing_file_as_it_is(tmp_path: Path) -> None:
    target = tmp_path / "object"
    target.write_bytes(b"first")
    assert write_named(str(tmp_path), str(target), b"second", 0o444)
    assert target.read_bytes() == b"first"
    assert os.listdir(tmp_path) == ["object"]


def test_write_named_in_a_forked_child_names_its_own_file(tmp_path: Path) -> None:
    assert write_named(str(tmp_path), str(tmp_path / "parent"), b"p", 0o444)   # opens the /proc handle
    pid = os.fork()
    if pid == 0:   # the child's fd numbers are its own: the parent's /proc handle would name the wrong file
        os._exit(0 if write_named(str(tmp_path), str(tmp_path / "child"), b"c", 0o444) else 1)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
    assert (tmp_path / "child").read_bytes() == b"c"


@pytest.mark.parametrize("unnamed", [True, False], ids=["unnamed-file", "temp-file"])
def test_cache_objects_appear_whole_read_only_and_deduplicated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              unnamed: bool) -> None:
    if not unnamed:   # as on a file system without O_TMPFILE
        monkeypatch.setattr(fsutil, "_unnamed_files", [False])
    cache = Cache(tmp_path / "cache")
    sources = []
    for name, content in [("a", b"same"), ("b", b"same"), ("c", b"other"), ("empty", b"")]:
        sources.append(tmp_path / name)
        sources[-1].write_bytes(content)
    digests = [cache.add_file(src, "b3")[0] for src in sources]
    assert digests[0] == digests[1] and len(set(digests)) == 3
    assert sorted(cache.digests()) == sorted(set(digests))
    for src, digest in zip(sources, digests):
        assert cache.path(digest).read_bytes() == src.read_bytes()
        assert not os.access(cache.path(digest), os.W_OK) or os.geteuid() == 0
        assert stat.S_IMODE(cache.path(digest).stat().st_mode) & 0o222 == 0
    assert list((tmp_path / "cache").glob("tmp/*")) == []


def test_cache_falls_back_to_a_temp_file_when_unnamed_files_cannot_be_named(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_link = os.link

    def refused(src: str, dst: str, **kwargs: object) -> None:
        if kwargs.get("src_dir_fd") is not None:   # naming through /proc, as a security module may forbid
            raise PermissionError(1, "Operation not permitted")
        real_link(src, dst, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(fsutil, "_unnamed_files", [True])
    monkeypatch.setattr(os, "link", refused)
    source = tmp_path / "src"
    source.write_bytes(b"bytes")
    cache = Cache(tmp_path / "cache")
    digest, size = cache.add_file(source, "b3")
    assert cache.path(digest).read_bytes() == b"bytes" and size == 5
    assert fsutil._unnamed_files == [False]   # not tried again for every object


def test_stray_files_in_the_cache_are_neither_objects_nor_in_the_way(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache")
    source = tmp_path / "src"
    source.write_bytes(b"bytes")
    digest = cache.add_file(source, "b3")[0]
    shard = cache.path(digest).parent
    (shard.parent / "zz").write_bytes(b"a file where an object directory belongs")
    (shard / ".DS_Store").write_bytes(b"")
    (shard / digest[5:].upper()).write_bytes(b"")
    assert list(cache.digests()) == [digest]
    assert sorted(path for path, found in cache.entries() if found is None) == \
        sorted(str(p) for p in [shard.parent / "zz", shard / ".DS_Store", shard / digest[5:].upper()])
    absent = [f"b3:{n:064x}" for n in range(3000)]   # enough to list directories, not probe objects
    assert cache.missing(absent + [digest]) == set(absent)
    assert [key for key, _ in cache.stamp()] == [f"b3/{digest[3:5]}"]
