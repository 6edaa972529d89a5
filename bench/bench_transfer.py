#!/usr/bin/env python3
"""Transfer benchmark for git-data storages (issue 3): push and pull a tree of many
small files and one big file, to a local directory and to an S3 server on loopback,
beside `dvc push` / `dvc pull` to the same kind of remote.

    PATH=$PWD/.venv/bin:$PATH .venv/bin/python bench/bench_transfer.py              # full: 15000 files, 1 GiB, 3 runs
    PATH=$PWD/.venv/bin:$PATH .venv/bin/python bench/bench_transfer.py --files 2000 --big-mib 0 --repeat 1

The S3 server is s3rver (npm, installed under --tools-dir on first use; needs
node/npm) or moto's standalone server (`--server moto`, from the venv that runs
this; about 2.5x the CPU per request of s3rver, so it bounds both tools sooner).
DVC comes from --dvc, else from --dvc-venv, created on first use with
`pip install 'dvc[s3]'`.

Every timed run starts from a fresh state: a new bucket or directory for push,
a new clone for pull (storage pointed at the last push); `sync` before it. The
tools alternate run by run. A push is checked by counting what the storage
holds; a pull by comparing every pulled byte with the source. Prints a
Markdown table of medians."""
from __future__ import annotations

import argparse
import filecmp
import os
import random
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, NamedTuple

S3RVER = "s3rver@3.7.1"
# s3rver accepts only its own access key; moto accepts any.
ENV = {**os.environ, "AWS_ACCESS_KEY_ID": "S3RVER", "AWS_SECRET_ACCESS_KEY": "S3RVER",
       "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true", "DVC_NO_ANALYTICS": "1",
       "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "b@example.com",
       "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "b@example.com"}


class Failure(Exception):
    """A setup step or a check failed: one line for the user."""


class Cost(NamedTuple):
    wall: float
    cpu: float  # user + system seconds of the command's process tree
    server: float  # CPU seconds the S3 server spent meanwhile (0 without one)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def process_cpu(pid: int | None) -> float:
    """User + system seconds of a running process (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except (OSError, TypeError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def sh(cmd: list[str], cwd: Path, server_pid: int | None = None) -> Cost:
    """What one command cost; a failure raises with its last stderr line."""
    cpu, server, started = children_cpu(), process_cpu(server_pid), time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=cwd, env=ENV, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    except OSError as exc:
        raise Failure(f"cannot run '{cmd[0]}': {exc.strerror or exc}") from None
    wall = time.perf_counter() - started
    if proc.returncode:
        last = (proc.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise Failure(f"'{' '.join(cmd)}' failed in {cwd}: {last}")
    return Cost(wall, children_cpu() - cpu, process_cpu(server_pid) - server)


def gen(root: Path, files: int, big_mib: int) -> None:
    """The same data as run.py: Random(42) for the tree, Random(7) for the big file."""
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


# -- the S3 server -------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(port: int, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        if proc.poll() is not None:
            raise Failure(f"the S3 server exited at start (status {proc.returncode})")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise Failure(f"the S3 server did not listen on port {port} within 30 s")


def s3rver_command(tools_dir: Path) -> list[str]:
    exe = tools_dir / "node_modules" / ".bin" / "s3rver"
    if not exe.exists():
        if not shutil.which("npm"):
            raise Failure("npm not found: install Node.js and npm (apt-get install npm), or use --server moto")
        print(f"installing {S3RVER} into {tools_dir} (npm install)", file=sys.stderr)
        tools_dir.mkdir(parents=True, exist_ok=True)
        sh(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(tools_dir), S3RVER], tools_dir)
    return [str(exe)]


def start_server(server: str, tools_dir: Path, work: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = dict(ENV)
    if server == "s3rver":
        data = work / "s3rver-data"
        data.mkdir()
        # s3rver's list continuation token uses a cipher OpenSSL 3 keeps in its legacy provider.
        env["NODE_OPTIONS"] = "--openssl-legacy-provider"
        cmd = s3rver_command(tools_dir) + ["-d", str(data), "-a", "127.0.0.1", "-p", str(port), "--silent",
                                           "--no-vhost-buckets"]
    else:
        cmd = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(port, proc)
    return proc, f"http://127.0.0.1:{port}"


def s3_client(endpoint: str):  # type: ignore[no-untyped-def]
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="S3RVER",
                        aws_secret_access_key="S3RVER", config=Config(s3={"addressing_style": "path"}))


# -- storages: a fresh one per push ----------------------------------------------

class Place(NamedTuple):
    url: str
    stored: Callable[[], int]


def new_place(kind: str, work: Path, endpoint: str, label: str) -> Place:
    """An empty storage location and a way to count the objects pushed there."""
    if kind == "local":
        path = Path(tempfile.mkdtemp(prefix=f"{label}-", dir=work))
        return Place(str(path), lambda: sum(len(files) for _, _, files in os.walk(path)))
    bucket = f"{label}-{time.time_ns()}"
    client = s3_client(endpoint)
    client.create_bucket(Bucket=bucket)

    def count() -> int:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        return sum(len(page.get("Contents", ())) for page in pages)

    return Place(f"s3://{bucket}/p", count)


# -- the two tools ------------------------------------------------------------------

class Tool(NamedTuple):
    name: str
    setup: Callable[[Path, list[str], str, str], None]
    point: Callable[[Path, str], None]
    push: Callable[[str], list[str]]
    pull: Callable[[str], list[str]]


def ours_setup(repo: Path, items: list[str], url: str, endpoint: str) -> None:
    sh(["git", "init", "-q"], repo)
    sh(["git", "data", "init"], repo)
    sh(["git", "data", "add", *items], repo)
    sh(["git", "data", "storage", "add", "st", url] + (["--endpoint-url", endpoint] if url.startswith("s3:") else []),
       repo)
    sh(["git", "add", "-A"], repo)
    sh(["git", "commit", "-qm", "data"], repo)


def ours_point(repo: Path, url: str) -> None:
    sh(["git", "config", "gitdata.storage.st.url", url], repo)


def dvc_tool(dvc: str) -> Tool:
    def setup(repo: Path, items: list[str], url: str, endpoint: str) -> None:
        sh(["git", "init", "-q"], repo)
        sh([dvc, "init", "-q"], repo)
        sh([dvc, "add", "-q", *items], repo)
        sh([dvc, "remote", "add", "-d", "st", url], repo)
        if url.startswith("s3:"):
            sh([dvc, "remote", "modify", "st", "endpointurl", endpoint], repo)
        sh(["git", "add", "-A"], repo)
        sh(["git", "commit", "-qm", "data"], repo)

    def point(repo: Path, url: str) -> None:
        sh([dvc, "remote", "modify", "--local", "st", "url", url], repo)

    return Tool("dvc", setup, point, lambda item: [dvc, "push", "-q", item + ".dvc"],
                lambda item: [dvc, "pull", "-q", item + ".dvc"])


OURS = Tool("ours", ours_setup, ours_point, lambda item: ["git", "data", "push", "-q", item],
            lambda item: ["git", "data", "pull", "-q", item])


def dvc_executable(opts: argparse.Namespace) -> str:
    if opts.dvc:
        return str(opts.dvc)
    venv = Path(opts.dvc_venv)
    dvc = venv / "bin" / "dvc"
    if not dvc.exists():
        print(f"installing dvc[s3] into {venv} (pip install 'dvc[s3]')", file=sys.stderr)
        sh([sys.executable, "-m", "venv", str(venv)], Path.cwd())
        sh([str(venv / "bin" / "pip"), "install", "-q", "dvc[s3]"], Path.cwd())
    return str(dvc)


# -- measuring ----------------------------------------------------------------------

class Row(NamedTuple):
    kind: str
    what: str
    step: str
    tool: str
    runs: list[Cost]
    check: str


def same_tree(a: Path, b: Path) -> bool:
    """Every file under `a` is under `b` with the same bytes (and nothing more)."""
    if a.is_file():
        return b.is_file() and filecmp.cmp(a, b, shallow=False)
    compared = filecmp.dircmp(a, b)
    if compared.left_only or compared.right_only or compared.funny_files:
        return False
    _, mismatch, errors = filecmp.cmpfiles(a, b, compared.common_files, shallow=False)
    return not mismatch and not errors and all(same_tree(a / d, b / d) for d in compared.common_dirs)


def timed(cmd: list[str], cwd: Path, server_pid: int | None) -> Cost:
    os.sync()  # the setup's dirty pages must not be written back inside the timed run
    return sh(cmd, cwd, server_pid)


def bench_item(tools: list[Tool], repos: dict[str, Path], kind: str, item: str, src: Path, work: Path,
               endpoint: str, repeat: int, server_pid: int | None) -> list[Row]:
    """Push `item` `repeat` times per tool (fresh storage each), then pull it into fresh clones."""
    pushes: dict[str, list[Cost]] = {t.name: [] for t in tools}
    counts: dict[str, list[int]] = {t.name: [] for t in tools}
    last: dict[str, str] = {}
    for _ in range(repeat):
        for tool in tools:
            place = new_place(kind, work, endpoint, f"{tool.name}-{kind}")
            tool.point(repos[tool.name], place.url)
            pushes[tool.name].append(timed(tool.push(item), repos[tool.name], server_pid))
            counts[tool.name].append(place.stored())
            last[tool.name] = place.url
    pulls: dict[str, list[Cost]] = {t.name: [] for t in tools}
    bad: dict[str, int] = {t.name: 0 for t in tools}
    for run in range(repeat):
        for tool in tools:
            clone = work / f"{tool.name}-{kind}-clone{run}"
            sh(["git", "clone", "-q", str(repos[tool.name]), str(clone)], work)
            tool.point(clone, last[tool.name])
            pulls[tool.name].append(timed(tool.pull(item), clone, server_pid))
            bad[tool.name] += not same_tree(src / item, clone / item)
            shutil.rmtree(clone)
    rows = []
    for tool in tools:
        stored = sorted(set(counts[tool.name]))
        rows.append(Row(kind, item, "push", tool.name, pushes[tool.name],
                        f"objects stored: {'/'.join(map(str, stored))}"))
        rows.append(Row(kind, item, "pull", tool.name, pulls[tool.name],
                        "identical to source" if not bad[tool.name] else f"DIFFERS in {bad[tool.name]} run(s)"))
    return rows


def bench_kind(tools: list[Tool], kind: str, items: list[str], src: Path, work: Path, endpoint: str,
               repeat: int, server_pid: int | None) -> list[Row]:
    repos = {}
    for tool in tools:
        repo = work / f"{tool.name}-{kind}"
        shutil.copytree(src, repo)
        tool.setup(repo, items, new_place(kind, work, endpoint, f"{tool.name}-{kind}-init").url, endpoint)
        repos[tool.name] = repo
    rows = []
    for item in items:
        rows += bench_item(tools, repos, kind, item, src, work, endpoint, repeat, server_pid if kind == "s3" else None)
    return rows


def median(runs: list[Cost], field: str) -> float:
    return statistics.median(getattr(run, field) for run in runs)


def table(rows: list[Row], opts: argparse.Namespace, server: str) -> list[str]:
    """Medians; DVC/ours above 1 means git-data is faster (CPU: of the command's processes)."""
    what = {"data": f"{opts.files} files of 1-4 KiB", "big.bin": f"one {opts.big_mib} MiB file"}
    out = ["| storage | data | step | git-data | DVC | DVC/ours | CPU git-data | CPU DVC | CPU DVC/ours "
           "| server CPU git-data / DVC | runs git-data / DVC (s) | check |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in (r for r in rows if r.tool == "ours"):
        other = next((r for r in rows if r.tool == "dvc" and r[:3] == row[:3]), None)
        theirs = other.runs if other else []
        cells = [f"S3 ({server})" if row.kind == "s3" else "local", what[row.what], row.step]
        for field in ("wall", "cpu"):
            ours_s = median(row.runs, field)
            dvc_s = median(theirs, field) if theirs else None
            cells += [f"{ours_s:.2f} s", f"{dvc_s:.2f} s" if dvc_s else "-",
                      f"{dvc_s / ours_s:.2f}x" if dvc_s and ours_s else "-"]
        cells.append(f"{median(row.runs, 'server'):.1f} / {median(theirs, 'server'):.1f} s"
                     if row.kind == "s3" and theirs else "-")
        cells.append(" / ".join(", ".join(f"{c.wall:.1f}" for c in runs) for runs in (row.runs, theirs) if runs))
        cells.append(f"ours {row.check}" + (f"; DVC {other.check}" if other else ""))
        out.append("| " + " | ".join(cells) + " |")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--files", type=int, default=15000)
    parser.add_argument("--big-mib", type=int, default=1024, help="size of the big file (0: none)")
    parser.add_argument("--kinds", default="s3,local", help="storage kinds, comma-separated (s3, local)")
    parser.add_argument("--server", choices=("s3rver", "moto"), default="s3rver", help="the loopback S3 server")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per step (median reported)")
    parser.add_argument("--tools", default="ours,dvc", help="ours, dvc or both")
    parser.add_argument("--dvc", help="a dvc executable with S3 support (default: from --dvc-venv)")
    parser.add_argument("--dvc-venv", default="/tmp/gitdata-bench/venv-dvc-s3")
    parser.add_argument("--tools-dir", default="/tmp/gitdata-bench/s3rver", help="where s3rver is installed")
    parser.add_argument("--work", help="scratch directory (default: a new one under /tmp)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    opts = parser.parse_args()
    kinds = [k for k in opts.kinds.split(",") if k]
    if any(k not in ("s3", "local") for k in kinds) or opts.repeat < 1 or opts.files < 1:
        parser.error("--kinds takes s3 and/or local; --repeat and --files must be at least 1")
    work = Path(tempfile.mkdtemp(prefix="gitdata-bench-transfer-", dir=opts.work))
    server = None
    try:
        tools = [OURS] if "ours" in opts.tools else []
        if "dvc" in opts.tools:
            tools.append(dvc_tool(dvc_executable(opts)))
        src = work / "src"
        gen(src, opts.files, opts.big_mib)
        items = ["data"] + (["big.bin"] if opts.big_mib else [])
        endpoint = ""
        if "s3" in kinds:
            server, endpoint = start_server(opts.server, Path(opts.tools_dir), work)
        rows = []
        for kind in kinds:
            rows += bench_kind(tools, kind, items, src, work, endpoint, opts.repeat, server.pid if server else None)
        print(f"median of {opts.repeat} run(s); DVC/ours above 1 means git-data is faster")
        print("\n".join(table(rows, opts, opts.server)))
    except Failure as exc:
        print(f"bench_transfer: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        if server is not None:
            server.terminate()
            server.wait()
        if not opts.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
