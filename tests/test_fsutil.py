"""fsutil's file placement under concurrency: many threads restoring into directories
that do not exist yet (what a parallel checkout after `rm -rf data` does)."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest

from gitdata.fsutil import place_new


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
                assert place_new(str(obj), str(target), method, executable=False) == method
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


def test_a_missing_object_is_still_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        place_new(str(tmp_path / "no-such-object"), str(tmp_path / "new" / "file"), "copy", executable=False)
