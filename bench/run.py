#!/usr/bin/env python3
"""git-data benchmark suite: our `git data` beside DVC on identical data, in one run.

    python3 bench/run.py                  # full run (15 x 1000 files, 1 GiB file), ~10-15 min
    python3 bench/run.py --quick          # smoke run with small sizes, ~1 min
    python3 bench/run.py -w w1,w2 --big-mib 256 --repeat 5

Uses `git data` from PATH and DVC from its own venv (created on first use with
`pip install dvc`). Every timed command runs with its untimed setup redone before
each repeat; the median wall time is reported with the peak RSS (largest single
process, from wait4) and a check of the result. Writes bench/RESULTS.md (or --out).
Only the standard library is used.
"""
from __future__ import annotations

import argparse
import filecmp
import os
import platform
import random
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterator, NamedTuple

KEEP_MARK = "<!-- hand-written below: bench/run.py keeps everything after this line -->"
HERE = Path(__file__).resolve().parent
SEED_TREE, SEED_BIG, SEED_STEPS = 42, 7, 3
TIME_BIN = shutil.which("time", path="/usr/bin:/bin")
FULL_SIZE = True  # the issues' sizes (15 x 1000 files, 1 GiB): absolute anchor seconds apply

# Best anchor per workload as stated in issues 2-5 (seconds, measured on this 2-core machine)
# and the DVC time of that same anchor run, so that "target x best anchor" can be expressed
# as a ratio to the DVC time measured in *this* run (anchor/DVC from the anchor run).
#   key: (target factor, anchor name, anchor s, DVC s in that anchor run)
TARGETS = {
    "add": (0.4, "DVC", 5.41, 5.41),
    "status": (0.3, "dvx", 0.568, 1.23),
    "restore": (0.7, "Xvc", 2.26, 6.37),
    "push": (0.5, "Xvc", 3.00, 7.17),
    "pull": (0.5, "dvx", 5.94, 9.31),
    "pipe-first": (0.6, "dvx", 0.837, 11.0),
    "pipe-noop": (0.5, "Xvc", 0.374, 1.73),
}


class Row(NamedTuple):
    workload: str
    step: str
    tool: str
    command: str
    walls: list[float]
    rss_mb: float
    status: str  # ok | FAIL | skipped | n/a
    check: str
    cpus: tuple[float, ...] = ()  # user + system CPU seconds of each run

    @property
    def median(self) -> float | None:
        return statistics.median(self.walls) if self.walls and self.status == "ok" else None

    @property
    def cpu(self) -> float | None:
        return statistics.median(self.cpus) if self.cpus and self.status == "ok" else None


class Bench:
    def __init__(self, opts: argparse.Namespace) -> None:
        self.opts = opts
        self.work = Path(opts.work).resolve()
        self.src = self.work / "src"
        self.logs = self.work / "logs"
        self.rows: list[Row] = []
        self.notes: list[str] = []
        self.env = dict(os.environ)
        self.dvc_bin: str | None = None
        self.ours = shlex.split(opts.ours)

    # ------------------------------------------------------------------ helpers
    def log(self, msg: str) -> None:
        print(time.strftime("[%H:%M:%S] ") + msg, file=sys.stderr, flush=True)

    def sh(self, cmd: str | list[str], cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess:
        """Untimed helper command; output captured."""
        proc = subprocess.run(cmd, cwd=cwd, env=self.env, shell=isinstance(cmd, str),
                              capture_output=True, text=True, errors="replace")
        if check and proc.returncode != 0:
            raise RuntimeError(f"{cmd!r} in {cwd} exited {proc.returncode}: {(proc.stderr or proc.stdout)[-400:]}")
        return proc

    def gd(self, *args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
        return self.sh([*self.ours, *args], cwd=cwd, check=check)

    def ours_has(self, verb: str) -> bool:
        """Probe with a bogus option: a missing verb says 'not available', a present one
        gives a usage error (`-h` after the verb is not reliable: the top parser may take it)."""
        proc = self.sh([*self.ours, verb, "--bench-probe"], cwd=self.work, check=False)
        return "not available" not in proc.stderr and proc.returncode in (0, 2)

    def timed(self, cmd: str, cwd: Path, logfile: Path) -> tuple[float, float, float, int]:
        """(wall s, peak RSS MB of the largest process in the tree, user+sys CPU s, exit code).

        RSS comes from /usr/bin/time's %M: a child forked straight from this Python process
        would report our own RSS as its high-water mark (Linux keeps it across exec)."""
        rssfile = logfile.with_suffix(".rss")
        argv = ["bash", "-c", cmd]
        if TIME_BIN:
            argv = [TIME_BIN, "-q", "-f", "%M %U %S", "-o", str(rssfile), *argv]
        with open(logfile, "wb") as out:
            t0 = time.perf_counter()
            proc = subprocess.run(argv, cwd=cwd, env=self.env, stdout=out, stderr=subprocess.STDOUT)
            wall = time.perf_counter() - t0
        rss = cpu = 0.0
        if TIME_BIN and rssfile.exists():
            fields = rssfile.read_text().split()[-3:]
            try:
                rss, cpu = int(fields[0]) / 1024, float(fields[1]) + float(fields[2])
            except (ValueError, IndexError):
                pass
        return wall, rss, cpu, proc.returncode

    def measure(self, workload: str, step: str, tool: str, cmd: str, cwd: Path | Callable[[], Path],
                setup: Callable[[int], None] | None = None, check: Callable[[Path], str] | None = None,
                repeat: int | None = None) -> Row:
        """Run CMD `repeat` times (once if the first run is slow), setup redone before each run."""
        n = repeat or self.opts.repeat
        walls: list[float] = []
        cpus: list[float] = []
        rss = 0.0
        status, note = "ok", ""
        i = 0
        while i < n:
            try:
                if setup:
                    setup(i)
            except Exception as exc:  # noqa: BLE001 - a failed setup is a result, not a crash
                status, note = "FAIL", f"setup failed: {exc}"[:300]
                break
            where = cwd() if callable(cwd) else cwd
            os.sync()  # setup's dirty pages must not be written back inside the timed run
            logfile = self.logs / f"{workload}.{tool}.{''.join(c if c.isalnum() else '_' for c in step)}.{i}.log"
            wall, peak, cpu, rc = self.timed(cmd, where, logfile)
            walls.append(wall)
            cpus.append(cpu)
            rss = max(rss, peak)
            if rc != 0:
                tail = logfile.read_text(errors="replace").strip().splitlines()[-3:]
                status, note = "FAIL", f"exit {rc}: " + " | ".join(tail)[:300]
                break
            if i == 0 and wall > self.opts.repeat_under:
                n = 1
            i += 1
        if status == "ok" and check:
            try:
                note = check(cwd() if callable(cwd) else cwd)
            except Exception as exc:  # noqa: BLE001
                note = f"check crashed: {exc}"
            if note.startswith(("MISMATCH", "BAD")):
                status = "FAIL"
        row = Row(workload, step, tool, cmd, walls, rss, status, note, tuple(cpus))
        self.rows.append(row)
        med = f"{row.median:.3f}s" if row.median is not None else "-"
        self.log(f"  {workload} {tool:5} {step}: {status} median={med} runs={[round(w, 3) for w in walls]} "
                 f"cpu={row.cpu or 0:.2f}s rss={rss:.0f}MB {note}")
        return row

    def skip(self, workload: str, step: str, tool: str, status: str, note: str) -> None:
        self.rows.append(Row(workload, step, tool, "", [], 0.0, status, note))
        self.log(f"  {workload} {tool:5} {step}: {status} {note}")

    # ------------------------------------------------------------------ environment and data
    def setup_env(self) -> None:
        home = self.work / "home"
        home.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        self.env.update(HOME=str(home), GIT_CONFIG_NOSYSTEM="1", DVC_NO_ANALYTICS="1",
                        GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@example.invalid",
                        GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="bench@example.invalid",
                        LC_ALL="C")
        self.env.pop("GIT_DIR", None)
        self.env.pop("GIT_WORK_TREE", None)
        for key, value in (("init.defaultBranch", "main"), ("advice.detachedHead", "false"),
                           ("user.name", "bench"), ("user.email", "bench@example.invalid")):
            self.sh(["git", "config", "--global", key, value])

    def setup_dvc(self) -> None:
        if "dvc" not in self.opts.tools:
            return
        venv = Path(self.opts.dvc_venv).resolve()
        dvc = venv / "bin" / "dvc"
        if not dvc.exists():
            self.log(f"installing dvc into {venv} (pip install dvc)")
            try:
                subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
                subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "dvc"], check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            except (subprocess.CalledProcessError, OSError) as exc:
                self.notes.append(f"DVC could not be installed ({exc}); DVC columns are empty.")
                return
        self.dvc_bin = str(dvc)

    def gen_data(self) -> None:
        o = self.opts
        stamp = f"{o.dirs} {o.files} {o.big_mib} {o.steps} {o.trivial_steps} v1"
        stamp_file = self.src / ".stamp"
        if stamp_file.exists() and stamp_file.read_text() == stamp:
            return
        self.log(f"generating data in {self.src}: {o.dirs}x{o.files} files of 1-4 KiB, "
                 f"{o.big_mib} MiB file, {o.steps} + {o.trivial_steps} step inputs")
        shutil.rmtree(self.src, ignore_errors=True)
        rng = random.Random(SEED_TREE)
        for d in range(o.dirs):
            folder = self.src / "data" / f"d{d:02d}"
            folder.mkdir(parents=True)
            for f in range(o.files):
                (folder / f"f{f:04d}.bin").write_bytes(rng.randbytes(rng.randint(1024, 4096)))
        rng = random.Random(SEED_BIG)
        with open(self.src / "big.bin", "wb") as out:
            left = o.big_mib << 20
            while left:
                chunk = min(left, 16 << 20)
                out.write(rng.randbytes(chunk))
                left -= chunk
        rng = random.Random(SEED_STEPS)
        (self.src / "steps").mkdir()
        for i in range(1, o.steps + 1):
            (self.src / "steps" / f"in{i:03d}.txt").write_bytes(rng.randbytes(rng.randint(256, 2048)).hex().encode() + b"\n")
        (self.src / "trivial").mkdir()
        for i in range(1, o.trivial_steps + 1):
            (self.src / "trivial" / f"t{i:04d}.txt").write_text(f"{i}\n")
        stamp_file.write_text(stamp)

    # ------------------------------------------------------------------ tool adapters
    def init_repo(self, tool: str, repo: Path, items: tuple[str, ...]) -> None:
        shutil.rmtree(repo, ignore_errors=True)
        repo.mkdir(parents=True)
        for item in items:
            self.sh(["cp", "-a", str(self.src / item), str(repo / item)])
        self.sh(["git", "init", "-q", "."], cwd=repo)
        if tool == "dvc":
            self.sh([self.dvc_bin, "init", "-q"], cwd=repo)
            self.sh(["git", "commit", "-qm", "dvc init"], cwd=repo)
        else:
            self.gd("init", cwd=repo)
            self.sh("git add -A .gitdata .gitattributes 2>/dev/null; git commit -q --allow-empty -m init", cwd=repo)

    def tool_cmd(self, tool: str, verb: str, *args: str) -> str:
        base = [self.dvc_bin] if tool == "dvc" else self.ours
        return shlex.join([*base, verb, *args])

    def commit_all(self, repo: Path, msg: str) -> None:
        self.sh(f"git add -A && git commit -qm {shlex.quote(msg)} || true", cwd=repo)

    def cache_objects(self, tool: str, repo: Path) -> int:
        if tool == "dvc":
            root = repo / ".dvc" / "cache"
        else:
            common = self.sh(["git", "rev-parse", "--git-common-dir"], cwd=repo).stdout.strip()
            root = (repo / common / "data" / "cache").resolve()
        return sum(len(files) for _, _, files in os.walk(root))

    def same_tree(self, got: Path, want: Path) -> str:
        """Byte-for-byte comparison of two trees (ignoring .gitignore files)."""
        count, bad = 0, []
        for dirpath, _, files in os.walk(want):
            for name in files:
                rel = os.path.relpath(os.path.join(dirpath, name), want)
                other = got / rel
                count += 1
                if not other.is_file() or not filecmp.cmp(other, os.path.join(dirpath, name), shallow=False):
                    bad.append(rel)
        extra = sum(1 for _, _, files in os.walk(got) for name in files if name != ".gitignore") - count
        if bad or extra:
            return f"MISMATCH: {len(bad)} of {count} files differ/missing, {extra} extra (e.g. {bad[:2]})"
        return f"{count} files identical to source"

    # ------------------------------------------------------------------ workloads
    def tools(self) -> list[str]:
        return [t for t in ("ours", "dvc") if t in self.opts.tools and (t == "ours" or self.dvc_bin)]

    def run_tree(self, tool: str) -> Iterator[None]:
        """W1 add, W2 status, W3 restore, re-add, W5 push/pull, hooks: all on one repo.
        Yields after each workload, so that the driver can interleave the tools."""
        base = self.work / "runs" / tool
        repo = base / "w1"
        n = self.opts.dirs * self.opts.files
        add = self.tool_cmd(tool, "add", "data")

        def objects(r: Path) -> str:
            return f"cache objects: {self.cache_objects(tool, r)}"

        if self.want("w1"):
            if tool == "ours":  # reference: creating the same 15k files, no hashing or bookkeeping
                floor = self.work / "runs" / "cp-floor"
                floor.parent.mkdir(parents=True, exist_ok=True)
                self.measure("W1", f"add {n} files (reference)", "cp", f"cp -a {shlex.quote(str(self.src / 'data'))} "
                             f"{shlex.quote(str(floor))}", self.work, setup=lambda i: shutil.rmtree(floor, ignore_errors=True))
                shutil.rmtree(floor, ignore_errors=True)
            row = self.measure("W1", f"add {n} files", tool, add, repo,
                               setup=lambda i: self.init_repo(tool, repo, ("data",)), check=objects)
            ok = row.status == "ok"
        else:
            self.init_repo(tool, repo, ("data",))
            ok = self.sh(add, cwd=repo, check=False).returncode == 0
        if not ok:
            self.skip("W2-W5", "all", tool, "skipped", "add of the tree failed")
            return
        self.commit_all(repo, "track data")
        yield

        if self.want("w2"):
            if tool == "ours":
                self.measure("W2", "no-op status (reference)", "git", "git status", repo,
                             check=lambda r: f"{len(self.sh('git status --porcelain', cwd=r).stdout.splitlines())} changes")
            self.measure("W2", "no-op status", tool, self.tool_cmd(tool, "status"), repo,
                         check=lambda r: self.clean_status(tool, r))

        yield
        if self.want("w3"):
            if tool == "ours":
                self.measure("W3", "restore after rm -rf data (reference)", "cp",
                             f"cp -a {shlex.quote(str(self.src / 'data'))} data", repo,
                             setup=lambda i: shutil.rmtree(repo / "data"))
            restore = self.tool_cmd(tool, "checkout")
            row = self.measure("W3", "restore after rm -rf data", tool, restore, repo,
                               setup=lambda i: shutil.rmtree(repo / "data"),
                               check=lambda r: self.same_tree(r / "data", self.src / "data"))
            if row.status != "ok":
                shutil.rmtree(repo / "data", ignore_errors=True)
                shutil.copytree(self.src / "data", repo / "data")

        yield
        if self.want("w4"):  # re-add after a one-file change belongs to the "add" issue
            one = f"d{self.opts.dirs // 2:02d}/f{self.opts.files // 2:04d}.bin"
            victim = repo / "data" / one

            def change_one(i: int) -> None:
                victim.write_bytes(random.Random(1000 + i).randbytes(2048))

            self.measure("W4", f"re-add after changing 1 of {n} files", tool, add, repo, setup=change_one,
                         check=lambda r: self.clean_status(tool, r))
            victim.write_bytes((self.src / "data" / one).read_bytes())
            self.sh(add, cwd=repo)
            self.commit_all(repo, "restore victim")

        yield
        if self.want("w5"):
            self.run_push_pull(tool, repo, base)
        yield
        if self.want("hooks"):
            if tool == "ours":
                self.run_hooks(repo)
            else:
                self.run_switch(tool, repo, hooks=False)

    def phases(self, tool: str) -> Iterator[None]:
        if self.want({"w1", "w2", "w3", "w4", "w5", "hooks"}):
            yield from self.run_tree(tool)
            yield
        shutil.rmtree(self.work / "runs" / tool / "w1", ignore_errors=True)
        if self.want("w4"):
            self.run_big(tool)
            yield
        if self.want("w6"):
            self.run_pipelines(tool)
            yield
        shutil.rmtree(self.work / "runs" / tool, ignore_errors=True)

    def clean_status(self, tool: str, repo: Path) -> str:
        out = self.sh(self.tool_cmd(tool, "status"), cwd=repo).stdout.strip()
        clean = ("Nothing to report" in out) if tool == "ours" else ("up to date" in out)
        return ("clean: " if clean else "BAD status: ") + out.splitlines()[0][:80] if out else "BAD: empty status"

    def run_push_pull(self, tool: str, repo: Path, base: Path) -> None:
        remote, clone = base / "remote", base / "clone"
        n = self.opts.dirs * self.opts.files
        steps = (f"push {n} files", f"pull {n} files (fresh clone)")
        if tool == "ours" and not (self.ours_has("push") and self.ours_has("pull") and self.ours_has("storage")):
            for step in steps:
                self.skip("W5", step, tool, "skipped", "'git data push/pull/storage' not available yet")
            return
        try:
            remote.mkdir(parents=True, exist_ok=True)
            if tool == "dvc":
                self.sh([self.dvc_bin, "remote", "add", "-f", "-d", "loc", str(remote)], cwd=repo)
            else:
                if self.gd("storage", "add", "loc", str(remote), "--default", cwd=repo, check=False).returncode:
                    self.gd("storage", "add", "loc", str(remote), cwd=repo)
            self.commit_all(repo, "storage")
        except RuntimeError as exc:
            for step in steps:
                self.skip("W5", step, tool, "FAIL", f"storage setup: {exc}"[:300])
            return

        def empty_remote(i: int) -> None:
            shutil.rmtree(remote, ignore_errors=True)
            remote.mkdir()

        def remote_files(r: Path) -> str:
            return f"files in storage: {sum(len(f) for _, _, f in os.walk(remote))}"

        row = self.measure("W5", steps[0], tool, self.tool_cmd(tool, "push"), repo,
                           setup=empty_remote, check=remote_files)
        if row.status != "ok":
            self.skip("W5", steps[1], tool, "skipped", "push failed")
            return

        def fresh_clone(i: int) -> None:
            shutil.rmtree(clone, ignore_errors=True)
            self.sh(["git", "clone", "-q", str(repo), str(clone)])

        self.measure("W5", steps[1], tool, self.tool_cmd(tool, "pull"), clone,
                     setup=fresh_clone, check=lambda r: self.same_tree(r / "data", self.src / "data"))
        shutil.rmtree(clone, ignore_errors=True)
        shutil.rmtree(remote, ignore_errors=True)

    def run_hooks(self, repo: Path) -> None:
        """`git checkout` between two branches with identical .gitdata, before/after install."""
        if not self.ours_has("install"):
            self.skip("hooks", "2 checkouts, hooks installed", "ours", "skipped", "'git data install' not available yet")
            return
        self.sh("git checkout -q -b bench-a && echo a > branch.txt && git add branch.txt && git commit -qm a"
                " && git checkout -q -b bench-b && echo b > branch.txt && git commit -qam b", cwd=repo)
        flip = "git checkout -q bench-a && git checkout -q bench-b"
        reps = max(self.opts.repeat, 7)
        plain = self.measure("hooks", "2 checkouts, no hooks", "git", flip, repo, repeat=reps)
        try:
            self.gd("install", cwd=repo)
        except RuntimeError as exc:
            self.skip("hooks", "2 checkouts, hooks installed", "ours", "FAIL", f"install: {exc}"[:300])
            return
        hooked = self.measure("hooks", "2 checkouts, hooks installed", "ours", flip, repo, repeat=reps,
                              check=lambda r: self.clean_status("ours", r))
        if plain.median is not None and hooked.median is not None:
            self.notes.append(f"Hook overhead per `git checkout` (identical .gitdata): "
                              f"{(hooked.median - plain.median) / 2 * 1000:.1f} ms (target < 20 ms).")
        self.run_switch("ours", repo, hooks=True)
        self.gd("uninstall", cwd=repo, check=False)

    def run_switch(self, tool: str, repo: Path, hooks: bool) -> None:
        """`git checkout` to a branch where 1,000 of the 15,000 files differ: our hooks
        bring the data along; DVC needs `git checkout && dvc checkout`."""
        changed = min(1000, self.opts.files)
        step = f"switch branch, {changed} of {self.opts.dirs * self.opts.files} files differ"
        if tool == "ours" and not hooks:
            return
        base = self.sh("git rev-parse --abbrev-ref HEAD", cwd=repo).stdout.strip()
        rng = random.Random(99)
        wanted = {f"d00/f{k:04d}.bin": rng.randbytes(rng.randint(1024, 4096)) for k in range(changed)}
        try:
            self.sh("git checkout -q -b bench-c", cwd=repo)
            for rel, data in wanted.items():
                target = repo / "data" / rel
                target.unlink()
                target.write_bytes(data)
            self.sh(self.tool_cmd(tool, "add", "data"), cwd=repo)
            self.commit_all(repo, "change 1000 files")
            back = f"git checkout -q {shlex.quote(base)}" + ("" if hooks else f" && {self.tool_cmd(tool, 'checkout')}")
            self.sh(back, cwd=repo)
            if (repo / "data" / "d00" / "f0000.bin").read_bytes() != (self.src / "data" / "d00" / "f0000.bin").read_bytes():
                raise RuntimeError(f"switching back to {base} did not restore the data")
        except RuntimeError as exc:
            self.skip("hooks", step, tool, "FAIL", f"setup: {exc}"[:300])
            return

        def check(r: Path) -> str:
            bad = [rel for rel, data in wanted.items() if (r / "data" / rel).read_bytes() != data]
            if bad:
                return f"MISMATCH: {len(bad)} of {len(wanted)} changed files not switched"
            return f"{len(wanted)} changed files switched"

        cmd = "git checkout -q bench-c" + ("" if hooks else f" && {self.tool_cmd(tool, 'checkout')}")
        self.measure("hooks", step, tool, cmd, repo, setup=lambda i: self.sh(back, cwd=repo), check=check)
        self.sh(back, cwd=repo, check=False)

    def run_big(self, tool: str) -> None:
        repo = self.work / "runs" / tool / "w4"
        size = self.opts.big_mib
        if tool == "ours":  # reference: a plain copy of the same file, same page-cache state
            self.measure("W4", f"add one {size} MiB file (reference)", "cp", "cp big.bin big.copy", repo,
                         setup=lambda i: self.init_repo(tool, repo, ("big.bin",)))
        self.measure("W4", f"add one {size} MiB file", tool, self.tool_cmd(tool, "add", "big.bin"), repo,
                     setup=lambda i: self.init_repo(tool, repo, ("big.bin",)),
                     check=lambda r: f"cache objects: {self.cache_objects(tool, r)}; "
                                     + ("file intact" if filecmp.cmp(r / "big.bin", self.src / "big.bin", shallow=False)
                                        else "MISMATCH: big.bin changed"))
        shutil.rmtree(repo, ignore_errors=True)

    # ---- pipelines
    def define_steps(self, tool: str, repo: Path, names: list[str], deps: list[str], commands: list[str]) -> None:
        if tool == "dvc":
            lines = ["stages:"]
            for name, dep, command in zip(names, deps, commands):
                lines += [f"  {name}:", f"    cmd: {command}", "    deps:", f"    - {dep}"]
            (repo / "dvc.yaml").write_text("\n".join(lines) + "\n")
            return
        # The first step through the CLI; the others as copies of the file it wrote (with the
        # name, input and command substituted): 2 CLI calls per step would dominate setup time.
        before = set(self.pipeline_files(repo))
        self.gd("step", "new", names[0], "--command", commands[0], cwd=repo)
        self.gd("step", "dep", names[0], "--file", deps[0], cwd=repo)
        written = [p for p in self.pipeline_files(repo) if p not in before]
        template = written[0].read_text() if len(written) == 1 and names[0] in written[0].name else None
        for name, dep, command in zip(names[1:], deps[1:], commands[1:]):
            if template is not None:
                text = template.replace(commands[0], command).replace(deps[0], dep).replace(names[0], name)
                (written[0].parent / written[0].name.replace(names[0], name)).write_text(text)
            else:
                self.gd("step", "new", name, "--command", command, cwd=repo)
                self.gd("step", "dep", name, "--file", dep, cwd=repo)
        if template is not None:
            # Copied step files hold commands this clone has not approved: approve them, as a
            # user who wrote step files by hand would (the CLI approves what it writes).
            if self.ours_has("trust"):
                self.gd("trust", "-y", cwd=repo)
            listed = self.gd("step", "list", cwd=repo, check=False).stdout
            if listed and sum(name in listed for name in names[:3] + names[-3:]) < 6:
                raise RuntimeError("copied step files are not listed by 'git data step list'")

    @staticmethod
    def pipeline_files(repo: Path) -> list[Path]:
        root = repo / ".gitdata" / "pipelines"
        return sorted(root.rglob("*.y*ml")) if root.exists() else []

    def run_pipelines(self, tool: str) -> None:
        repo = self.work / "runs" / tool / "w6"
        k, m = self.opts.steps, self.opts.trivial_steps
        if tool == "ours" and not (self.ours_has("step") and self.ours_has("run")):
            for step in (f"pipeline first run ({k} steps)", f"pipeline no-op rerun ({k} steps)",
                         f"pipeline no-op rerun ({m} trivial steps)"):
                self.skip("W6", step, tool, "skipped", "'git data step/run' not available yet")
            return
        run = (shlex.join([self.dvc_bin, "repro"]) if tool == "dvc"
               else shlex.join([*self.ours, "run", "-j", "2"]))
        log = repo / ".ran-log"

        def executed(r: Path) -> int:
            n = len(log.read_text().splitlines()) if log.exists() else 0
            log.write_text("")
            return n

        def prep(count: int, trivial: bool) -> Callable[[int], None]:
            def setup(i: int) -> None:
                self.init_repo(tool, repo, ("trivial",) if trivial else ("steps",))
                if trivial:
                    names = [f"t{k:04d}" for k in range(1, count + 1)]
                    deps = [f"trivial/t{k:04d}.txt" for k in range(1, count + 1)]
                    cmds = [f"echo {name} >> .ran-log" for name in names]
                else:
                    names = [f"s{k:03d}" for k in range(1, count + 1)]
                    deps = [f"steps/in{k:03d}.txt" for k in range(1, count + 1)]
                    cmds = [f"sha1sum steps/in{k:03d}.txt >> .ran-log" for k in range(1, count + 1)]
                self.define_steps(tool, repo, names, deps, cmds)
                (repo / ".ran-log").write_text("")
                self.sh("echo .ran-log >> .gitignore", cwd=repo)
                self.commit_all(repo, "pipeline")
            return setup

        first = self.measure("W6", f"pipeline first run ({k} steps)", tool, run, repo, setup=prep(k, False),
                             check=lambda r: self.expect_steps(executed(r), k))
        if first.status == "ok":
            self.measure("W6", f"pipeline no-op rerun ({k} steps)", tool, run, repo,
                         check=lambda r: self.expect_steps(executed(r), 0))
        else:
            self.skip("W6", f"pipeline no-op rerun ({k} steps)", tool, "skipped", "first run failed")
        if tool == "dvc" and not self.opts.dvc_trivial:
            self.skip("W6", f"pipeline no-op rerun ({m} trivial steps)", tool, "n/a",
                      "not run for DVC (its untimed first run takes minutes; target is absolute)")
        else:
            try:
                prep(m, True)(0)
                self.sh(run, cwd=repo)
                done = executed(repo)
                self.measure("W6", f"pipeline no-op rerun ({m} trivial steps)", tool, run, repo,
                             check=lambda r: f"first run executed {done}; " + self.expect_steps(executed(r), 0))
            except RuntimeError as exc:
                self.skip("W6", f"pipeline no-op rerun ({m} trivial steps)", tool, "FAIL", str(exc)[:300])
        shutil.rmtree(repo, ignore_errors=True)

    @staticmethod
    def expect_steps(got: int, want: int) -> str:
        return f"steps executed: {got}" if got == want else f"BAD: steps executed {got}, expected {want}"

    # ------------------------------------------------------------------ driver
    def run(self) -> None:
        t0 = time.time()
        self.load_before = os.getloadavg()
        self.work.mkdir(parents=True, exist_ok=True)
        self.setup_env()
        if self.sh([*self.ours, "--version"], check=False).returncode != 0:
            sys.exit(f"bench: '{self.opts.ours}' does not run; put git-data on PATH")
        self.setup_dvc()
        self.gen_data()
        self.ours_rev = self.sh(["git", "-C", str(HERE), "rev-parse", "--short", "HEAD"], check=False).stdout.strip()
        # Interleave the tools workload by workload (ours, DVC, ours, DVC...), so both see
        # the same machine load; this machine's load changes a lot within minutes.
        phases = {tool: self.phases(tool) for tool in self.tools()}
        while phases:
            for tool, gen in list(phases.items()):
                if next(gen, StopIteration) is StopIteration:
                    del phases[tool]
        self.total = time.time() - t0
        self.load_after = os.getloadavg()
        report = render(self)
        out = Path(self.opts.out)
        kept = out.read_text().partition(KEEP_MARK)[2] if out.exists() else ""
        out.write_text(report + (f"\n{KEEP_MARK}{kept}" if kept else ""))
        print(table(self.rows, self.opts))
        self.log(f"wrote {self.opts.out} ({self.total:.0f} s)")
        if not self.opts.keep:
            shutil.rmtree(self.work / "runs", ignore_errors=True)
            if self.opts.big_mib >= 256:  # don't leave a GiB behind in /tmp
                (self.src / "big.bin").unlink(missing_ok=True)
                (self.src / ".stamp").unlink(missing_ok=True)

    def want(self, w: str | set[str]) -> bool:
        ws = {w} if isinstance(w, str) else w
        return bool(ws & set(self.opts.workloads))


# ---------------------------------------------------------------------- report
def fmt(s: float | None) -> str:
    if s is None:
        return "-"
    return f"{s:.3f} s" if s < 10 else f"{s:.1f} s"


def find(rows: list[Row], workload: str, step: str, tool: str) -> Row | None:
    for row in rows:
        if row.workload == workload and row.step == step and row.tool == tool:
            return row
    return None


def target_for(workload: str, step: str) -> str | None:
    if workload == "W1":
        return "add"
    if workload == "W2" and "reference" not in step:
        return "status"
    if workload == "W3":
        return "restore"
    if workload == "W5":
        return "push" if step.startswith("push") else "pull"
    if workload == "W6" and "first" in step:
        return "pipe-first"
    if workload == "W6" and "trivial" not in step:
        return "pipe-noop"
    return None


def verdict(rows: list[Row], ours: Row) -> str:
    """Target from the issues, judged in this run."""
    med = ours.median
    if med is None:
        return "not measured"
    if ours.workload == "W4" and ours.step.startswith("re-add"):
        return f"≤ 0.3 s: {'met' if med <= 0.3 else 'NOT met'}"
    if ours.workload == "W4":
        cp = find(rows, "W4", ours.step + " (reference)", "cp")
        parts = []
        if cp and cp.median:
            r = med / cp.median
            parts.append(f"≤ 1.1x cp: {r:.2f}x {'met' if r <= 1.1 else 'NOT met'}")
        parts.append(f"RSS < 100 MB: {ours.rss_mb:.0f} MB {'met' if ours.rss_mb < 100 else 'NOT met'}")
        return "; ".join(parts)
    if ours.workload == "hooks" and ours.step.startswith("switch"):
        dvc = find(rows, "hooks", ours.step, "dvc")
        if dvc and dvc.median:
            r = dvc.median / med
            return f"≥ 3x faster than DVC: {r:.1f}x {'met' if r >= 3 else 'NOT met'}"
        return "≥ 3x faster than DVC: no DVC in this run"
    if ours.workload == "hooks":
        plain = find(rows, "hooks", "2 checkouts, no hooks", "git")
        if plain and plain.median:
            extra = (med - plain.median) / 2 * 1000
            return f"< 20 ms added per checkout: {extra:.0f} ms {'met' if extra < 20 else 'NOT met'}"
    if ours.workload == "W6" and "trivial" in ours.step:
        return f"< 1 s: {'met' if med < 1 else 'NOT met'}"
    key = target_for(ours.workload, ours.step)
    if key is None:
        return ""
    factor, anchor, anchor_s, dvc_then = TARGETS[key]
    dvc = find(rows, ours.workload, ours.step, "dvc")
    if ours.workload == "W2":
        git_row = find(rows, "W2", "no-op status (reference)", "git")
        if git_row and git_row.median:
            extra = f" (git status {med / git_row.median:.1f}x)"
        else:
            extra = ""
    else:
        extra = ""
    if dvc and dvc.median:
        limit = factor * anchor_s / dvc_then  # the target as a ratio to DVC
        r = med / dvc.median
        approx = f" ≈ ≤ {limit:.2f}x DVC" if anchor != "DVC" else ""
        return (f"≤ {factor}x {anchor}{approx}: {r:.2f}x "
                f"{'met' if r <= limit else 'NOT met'}{extra}")
    if not FULL_SIZE:
        return f"≤ {factor}x {anchor}: n/a (no DVC in this run, and not the issue's data size)"
    return f"≤ {factor}x {anchor} ({factor * anchor_s:.2f} s in the issue's run): " \
           f"{'met' if med <= factor * anchor_s else 'NOT met'} (no DVC in this run){extra}"


def table(rows: list[Row], opts: argparse.Namespace) -> str:
    lines = ["| workload | step | ours | DVC | ours/DVC | ours/DVC CPU | reference | ours peak RSS | DVC peak RSS "
             "| target (issues) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    seen = set()
    for row in rows:
        key = (row.workload, row.step.replace(" (reference)", ""))
        if key in seen or row.tool not in ("ours", "dvc", "git", "cp"):
            continue
        seen.add(key)
        ours = find(rows, key[0], key[1], "ours")
        dvc = find(rows, key[0], key[1], "dvc")
        ref = find(rows, key[0], key[1] + " (reference)", "git") or find(rows, key[0], key[1] + " (reference)", "cp")
        if key[1] == "2 checkouts, no hooks":
            continue
        if key[1] == "2 checkouts, hooks installed":
            ref = find(rows, "hooks", "2 checkouts, no hooks", "git")

        def cell(r: Row | None) -> str:
            if r is None:
                return "-"
            return fmt(r.median) if r.status == "ok" else r.status

        ratio = f"{ours.median / dvc.median:.2f}x" if ours and dvc and ours.median and dvc.median else "-"
        refcell = "-"
        if ref and ref.median:
            label = {"W1": "cp -a", "W2": "git status", "W3": "cp -a", "hooks": "no hooks"}.get(key[0], ref.tool)
            refcell = f"{label}: {fmt(ref.median)}"
            if ours and ours.median:
                refcell += f" (ours {ours.median / ref.median:.2f}x)"
        cpu_ratio = f"{ours.cpu / dvc.cpu:.2f}x" if ours and dvc and ours.cpu and dvc.cpu else "-"
        lines.append(f"| {key[0]} | {key[1]} | {cell(ours)} | {cell(dvc)} | {ratio} | {cpu_ratio} | {refcell} | "
                     f"{f'{ours.rss_mb:.0f} MB' if ours and ours.walls else '-'} | "
                     f"{f'{dvc.rss_mb:.0f} MB' if dvc and dvc.walls else '-'} | "
                     f"{verdict(rows, ours) if ours else ''} |")
    return "\n".join(lines)


def machine() -> list[str]:
    def run(cmd: str) -> str:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()

    cpu = run("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-").strip()
    mem = run("free -h | awk '/Mem:/ {print $2}'")
    return [f"date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
            f"machine: {os.cpu_count()} cores, {cpu}, {mem} RAM, {platform.system()} {platform.release()}",
            f"disk: {run('df -h --output=source,fstype,size /tmp | tail -1')}",
            f"python: {platform.python_version()}; {run('git --version')}"]


def render(bench: Bench) -> str:
    o = bench.opts
    ours_v = bench.sh([*bench.ours, "--version"], check=False).stdout.strip()
    ours_rev = bench.ours_rev
    dvc_v = bench.sh([bench.dvc_bin, "--version"], check=False).stdout.strip() if bench.dvc_bin else "not run"
    out = [
        "# Benchmark results: git data vs DVC",
        "",
        f"Generated by `bench/run.py {' '.join(sys.argv[1:])}` (see bench/README.md).",
        f"Data: {o.dirs} dirs x {o.files} files of 1-4 KiB, one {o.big_mib} MiB random file, "
        f"{o.steps} pipeline steps, {o.trivial_steps} trivial steps. Median of up to {o.repeat} runs "
        f"(one run when the first takes over {o.repeat_under:g} s), untimed setup redone before each; "
        "warm page cache, `sync` before each run. Peak RSS is the largest single process; CPU is user + system",
        "seconds of the command's process tree. Tools are interleaved workload by workload (same load).",
        "",
        "Targets are the ratios from issues 2-5 against the best anchor tool (dvx, Xvc or DVC). Only DVC",
        "runs here, so a target \"≤ F x anchor\" is turned into \"≤ F x (anchor/DVC) x DVC\" with the",
        "anchor/DVC ratio from the anchor run quoted in the issues (/work/shared/bench-anchors):",
        "compare within one run, this machine is noisy (20-80 % run to run).",
        "",
        table(bench.rows, o),
        "",
    ]
    if bench.notes:
        out += ["## Notes", ""] + [f"- {n}" for n in bench.notes] + [""]
    skipped = [r for r in bench.rows if r.status != "ok"]
    if skipped:
        out += ["## Skipped or failed", ""] + [f"- {r.workload} {r.tool} {r.step}: {r.status} — {r.check}" for r in skipped] + [""]
    out += ["## All measurements", "",
            "| W | tool | step | command | runs (s) | median | CPU s (median) | peak RSS | status | check |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for r in bench.rows:
        cmd = r.command.replace(str(bench.dvc_bin), "dvc") if bench.dvc_bin else r.command
        out.append(f"| {r.workload} | {r.tool} | {r.step} | `{cmd}` | {', '.join(f'{w:.3f}' for w in r.walls)} | "
                   f"{fmt(r.median)} | {fmt(r.cpu)} | {r.rss_mb:.0f} MB | {r.status} | {r.check} |".replace("``", ""))
    out += ["", "## Machine and versions", "", "```", *machine(),
            f"ours: {ours_v} (commit {ours_rev})", f"dvc: {dvc_v}", f"total wall: {bench.total:.0f} s",
            "load average (1/5/15 min) at start: {:.1f} {:.1f} {:.1f}, at end: {:.1f} {:.1f} {:.1f}".format(
                *bench.load_before, *bench.load_after),
            "```", ""]
    return "\n".join(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small sizes: 3x100 files, 32 MiB, 10+50 steps")
    p.add_argument("-w", "--workloads", default="w1,w2,w3,w4,w5,w6,hooks",
                   help="comma list of w1..w6,hooks (default: all)")
    p.add_argument("--tools", default="ours,dvc", help="comma list: ours,dvc")
    p.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    p.add_argument("--repeat-under", type=float, default=8.0, help="repeat only commands faster than this (s)")
    p.add_argument("--dirs", type=int, default=15)
    p.add_argument("--files", type=int, default=1000, help="files per directory")
    p.add_argument("--big-mib", type=int, default=1024, help="size of the big file (MiB)")
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--trivial-steps", type=int, default=1000)
    p.add_argument("--dvc-trivial", action="store_true", help="also run the 1000 trivial steps with DVC (slow)")
    p.add_argument("--work", default="/tmp/gitdata-bench/work", help="scratch directory")
    p.add_argument("--dvc-venv", default="/tmp/gitdata-bench/venv-dvc")
    p.add_argument("--ours", default="git data", help="how to run our CLI")
    p.add_argument("--out", default=None, help="report path (default bench/RESULTS.md; quick: WORK/RESULTS-quick.md)")
    p.add_argument("--keep", action="store_true", help="keep the scratch repositories")
    opts = p.parse_args()
    if opts.quick:
        opts.dirs, opts.files, opts.big_mib, opts.steps, opts.trivial_steps = 3, 100, 32, 10, 50
    global FULL_SIZE
    FULL_SIZE = (opts.dirs, opts.files, opts.big_mib, opts.steps) == (15, 1000, 1024, 100)
    opts.workloads = [w.strip().lower() for w in opts.workloads.split(",") if w.strip()]
    opts.tools = [t.strip() for t in opts.tools.split(",") if t.strip()]
    if opts.out is None:
        opts.out = str(Path(opts.work) / "RESULTS-quick.md") if opts.quick else str(HERE / "RESULTS.md")
    Bench(opts).run()


if __name__ == "__main__":
    main()
