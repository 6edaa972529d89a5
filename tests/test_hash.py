from __future__ import annotations

import hashlib
from pathlib import Path

from tests.testing.helpers import gd, write


def test_hash_prints_digests_like_sha256sum(tmp_path: Path) -> None:
    write(tmp_path / "a.bin", b"alpha\n")
    write(tmp_path / "d" / "b.bin", b"beta")
    result = gd("hash", "-a", "sha256", "a.bin", "d", cwd=tmp_path)
    alpha = hashlib.sha256(b"alpha\n").hexdigest()
    expected = [f"sha256:{alpha}  a.bin",
                f"sha256:{hashlib.sha256(b'beta').hexdigest()}  d/b.bin"]
    assert result.stdout.splitlines() == expected
    hexonly = gd("hash", "-a", "sha256", "--hex", "a.bin", cwd=tmp_path).stdout
    assert hexonly == f"{alpha}  a.bin\n"
    # the output is accepted by sha256sum -c
    import subprocess

    check = subprocess.run(["sha256sum", "-c"], input=hexonly, text=True, cwd=tmp_path, capture_output=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_hash_stdin_and_default_algorithm(tmp_path: Path) -> None:
    import blake3

    out = gd("hash", "-", cwd=tmp_path, input=b"from stdin").stdout
    assert out == f"b3:{blake3.blake3(b'from stdin').hexdigest()}  -\n"
    assert gd("hash", cwd=tmp_path, input=b"from stdin").stdout == out


def test_hash_follows_repository_algorithm(tmp_path: Path) -> None:
    from tests.testing.helpers import git

    git("init", "-q", cwd=tmp_path)
    gd("init", "--hash", "sha3-256", cwd=tmp_path)
    write(tmp_path / "x", b"x")
    assert gd("hash", "x", cwd=tmp_path).stdout == f"sha3-256:{hashlib.sha3_256(b'x').hexdigest()}  x\n"


def test_hash_missing_file_reports_and_continues(tmp_path: Path) -> None:
    write(tmp_path / "ok", b"ok")
    result = gd("hash", "nope", "ok", cwd=tmp_path, check=False)
    assert result.returncode == 1
    assert result.stdout.endswith("  ok\n")
    assert result.stderr == "git-data: error: nope: No such file or directory\n"
    bad = gd("hash", "-a", "md5", "ok", cwd=tmp_path, check=False)
    assert bad.returncode == 2 and "unknown hash algorithm 'md5'" in bad.stderr   # usage


def test_hash_directory_skips_special_files(tmp_path: Path) -> None:
    import os
    import subprocess

    write(tmp_path / "d" / "a", b"a")
    os.mkfifo(tmp_path / "d" / "pipe")
    result = subprocess.run(["git", "data", "hash", "d"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.endswith("  d/a\n") and result.stdout.count("\n") == 1


def test_hash_escapes_names_like_sha256sum(tmp_path: Path) -> None:
    import subprocess

    names = ["nl\nname", "back\\slash", "cr\rname", "both\\\nname", "plain"]
    for name in names:
        write(tmp_path / name, b"c\n")
    digest = hashlib.sha256(b"c\n").hexdigest()
    sums = gd("hash", "-a", "sha256", "--hex", *names, cwd=tmp_path).stdout
    assert sums.splitlines() == [f"\\{digest}  nl\\nname", f"\\{digest}  back\\\\slash", f"\\{digest}  cr\\rname",
                                 f"\\{digest}  both\\\\\\nname", f"{digest}  plain"]
    write(tmp_path / "SUMS", sums)
    check = subprocess.run(["sha256sum", "-c", "SUMS"], cwd=tmp_path, capture_output=True, text=True)
    assert check.returncode == 0 and check.stdout.count(": OK") == len(names), check.stdout + check.stderr
