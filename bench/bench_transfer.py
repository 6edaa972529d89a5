#!/usr/bin/env python3
"""Transfer benchmark for git-data storages: push and pull many small files and
one big file, to a local directory and to an S3 server on loopback (moto),
beside DVC when a DVC with S3 support is given. Stdlib only (plus the moto and
boto3 of the venv that runs it, for the S3 server).

    PATH=$PWD/.venv/bin:$PATH .venv/bin/python bench/bench_transfer.py --files 15000 --big-mib 1024
    .venv/bin/python bench/bench_transfer.py --files 2000 --big-mib 0 --kinds s3
    .venv/bin/python bench/bench_transfer.py --dvc /tmp/gitdata-bench/venv-dvc/bin/dvc   # needs dvc[s3]

Each timing is the wall time of one command in a fresh state (empty storage
for push, fresh clone for pull). Prints a table; run.py owns RESULTS.md."""
from __future__ import annotations

import argparse
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ENV = {**os.environ, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
       "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
       "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "b@example.com",
       "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "b@example.com"}


def sh(cmd: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=ENV, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed in {cwd}:\n{proc.stderr}")
    return time.perf_counter() - started


def gen(root: Path, files: int, big_mib: int) -> None:
    rng = random.Random(42)
    for i in range(files):
        path = root / "data" / f"d{i // 1000:02}" / f"f{i % 1000:04}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rng.randbytes(rng.randint(1024, 4096)))
    if big_mib:
        big = random.Random(7)
        with open(root / "big.bin", "wb") as handle:
            for _ in range(big_mib):
                handle.write(big.randbytes(1 << 20))


def s3_server() -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    return proc, f"http://127.0.0.1:{port}"


def make_bucket(endpoint: str, name: str) -> None:
    import boto3

    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="bench",
                 aws_secret_access_key="bench").create_bucket(Bucket=name)


def bench_ours(work: Path, src: Path, kind: str, endpoint: str | None, items: list[str]) -> dict[str, float]:
    repo = work / f"ours-{kind}"
    shutil.copytree(src, repo)
    sh(["git", "init", "-q"], repo)
    sh(["git", "data", "init"], repo)
    sh(["git", "data", "add", *items], repo)
    if kind == "local":
        sh(["git", "data", "storage", "add", "st", str(work / "ours-local-store")], repo)
    else:
        bucket = f"ours-{int(time.time() * 1000)}"
        make_bucket(endpoint or "", bucket)
        sh(["git", "data", "storage", "add", "st", f"s3://{bucket}/p", "--endpoint-url", endpoint or ""], repo)
    sh(["git", "commit", "-qm", "data"], repo)
    times = {"push": sh(["git", "data", "push", "-q"], repo)}
    clone = work / f"ours-{kind}-clone"
    sh(["git", "clone", "-q", str(repo), str(clone)], work)
    times["pull"] = sh(["git", "data", "pull", "-q"], clone)
    return times


def bench_dvc(dvc: str, work: Path, src: Path, kind: str, endpoint: str | None, items: list[str]) -> dict[str, float]:
    repo = work / f"dvc-{kind}"
    shutil.copytree(src, repo)
    sh(["git", "init", "-q"], repo)
    sh([dvc, "init", "-q"], repo)
    sh([dvc, "add", "-q", *items], repo)
    if kind == "local":
        sh([dvc, "remote", "add", "-d", "st", str(work / "dvc-local-store")], repo)
    else:
        bucket = f"dvc-{int(time.time() * 1000)}"
        make_bucket(endpoint or "", bucket)
        sh([dvc, "remote", "add", "-d", "st", f"s3://{bucket}/p"], repo)
        sh([dvc, "remote", "modify", "st", "endpointurl", endpoint or ""], repo)
    sh(["git", "add", "-A"], repo)
    sh(["git", "commit", "-qm", "data"], repo)
    times = {"push": sh([dvc, "push", "-q"], repo)}
    clone = work / f"dvc-{kind}-clone"
    sh(["git", "clone", "-q", str(repo), str(clone)], work)
    times["pull"] = sh([dvc, "pull", "-q"], clone)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=15000)
    parser.add_argument("--big-mib", type=int, default=1024)
    parser.add_argument("--kinds", default="local,s3")
    parser.add_argument("--dvc", help="a dvc executable (with S3 support for the s3 kind)")
    parser.add_argument("--keep", action="store_true")
    opts = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="gitdata-bench-transfer-"))
    server = None
    try:
        src = work / "src"
        gen(src, opts.files, opts.big_mib)
        items = ["data"] + (["big.bin"] if opts.big_mib else [])
        endpoint = None
        rows = []
        for kind in opts.kinds.split(","):
            if kind == "s3" and server is None:
                server, endpoint = s3_server()
            ours = bench_ours(work, src, kind, endpoint, items)
            theirs = bench_dvc(opts.dvc, work, src, kind, endpoint, items) if opts.dvc else {}
            for step in ("push", "pull"):
                other = theirs.get(step)
                ratio = f"{ours[step] / other:.2f}x" if other else "-"
                rows.append((kind, step, f"{ours[step]:.2f}", f"{other:.2f}" if other else "-", ratio))
        print(f"{opts.files} files of 1-4 KiB" + (f" + {opts.big_mib} MiB file" if opts.big_mib else ""))
        print(f"{'storage':<8} {'step':<5} {'git-data s':>10} {'dvc s':>8} {'ours/dvc':>9}")
        for row in rows:
            print(f"{row[0]:<8} {row[1]:<5} {row[2]:>10} {row[3]:>8} {row[4]:>9}")
    finally:
        if server is not None:
            server.terminate()
            server.wait()
        if not opts.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
