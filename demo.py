#!/usr/bin/env python3
"""End-to-end demo of git-data on a throw-away repository.

Creates a repository with a dataset, tracks it, pushes the data to a local
storage, clones the repository elsewhere (the hooks bring the data along),
switches branches and restores a deleted file. Runs in a temp dir with its own
HOME, so it never touches your git config. `--keep` leaves the files behind.
"""
from __future__ import annotations

import os
import random
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def step(title: str) -> None:
    print(f"\n== {title}", flush=True)


def sh(cmd: str, cwd: Path, env: dict[str, str]) -> str:
    print(f"$ {cmd}", flush=True)
    proc = subprocess.run(cmd, shell=True, cwd=cwd, env=env, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if proc.stdout:
        print("  " + proc.stdout.rstrip().replace("\n", "\n  "), flush=True)
    if proc.returncode:
        sys.exit(f"demo failed: '{cmd}' exited {proc.returncode}")
    return proc.stdout


def check(condition: bool, what: str) -> None:
    print(f"  check: {what}: {'ok' if condition else 'FAILED'}", flush=True)
    if not condition:
        sys.exit(f"demo failed: {what}")


def make_dataset(root: Path, files: int = 200) -> None:
    rng = random.Random(42)
    for i in range(files):
        path = root / "data" / f"part{i % 4}" / f"sample{i:04d}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = "\n".join(f"{i},{rng.random():.6f},{rng.randint(0, 9)}" for _ in range(rng.randint(20, 80)))
        path.write_text("id,value,label\n" + rows + "\n")
    (root / "model.bin").write_bytes(rng.randbytes(3 << 20))


def main() -> None:
    keep = "--keep" in sys.argv
    base = Path(tempfile.mkdtemp(prefix="git-data-demo-"))
    env = dict(os.environ, HOME=str(base / "home"), GIT_CONFIG_NOSYSTEM="1",
               GIT_AUTHOR_NAME="Demo", GIT_AUTHOR_EMAIL="demo@example.com",
               GIT_COMMITTER_NAME="Demo", GIT_COMMITTER_EMAIL="demo@example.com")
    (base / "home").mkdir()
    origin, work, clone, storage = base / "origin.git", base / "work", base / "clone", base / "storage"
    try:
        step("A project with a dataset and a model")
        sh(f"git init -q --bare -b main {origin}", base, env)
        sh(f"git init -q -b main {work}", base, env)
        make_dataset(work)
        sh("git data init", work, env)
        sh("git data install --global && git data install", work, env)
        sh(f"git data storage add local {shlex.quote(str(storage))}", work, env)

        step("Track the data: hashed, cached, recorded in .gitdata/, ignored by git")
        sh("git data add data model.bin", work, env)
        sh("git data status", work, env)
        sh("git commit -qm 'Add dataset and model' && git log --stat --oneline -1", work, env)

        step("Push: git pushes the commit, the pre-push hook uploads the data")
        sh(f"git remote add origin {origin} && git push -q -u origin main", work, env)
        check(any(p.is_file() for p in storage.rglob("*")), "the storage holds objects")

        step("Change the data on a branch")
        sh("git switch -q -c more-data", work, env)
        (work / "data" / "part0" / "sample0000.csv").write_text("id,value,label\n0,0.5,1\n")
        sh("git data status", work, env)
        sh("git data commit && git commit -qm 'Fix sample 0' && git push -q origin more-data", work, env)
        sh("git switch -q main", work, env)
        check((work / "data/part0/sample0000.csv").read_text() != "id,value,label\n0,0.5,1\n",
              "switching back to main restored main's version")

        step("Restore a deleted file from the cache")
        (work / "model.bin").unlink()
        sh("git data status", work, env)
        sh("git data checkout model.bin", work, env)
        check((work / "model.bin").stat().st_size == 3 << 20, "model.bin is back")

        step("A teammate clones: the data arrives with the checkout")
        sh(f"git clone -q {origin} {clone}", base, env)
        check((clone / "model.bin").read_bytes() == (work / "model.bin").read_bytes(), "model.bin arrived")
        sh("git data status", clone, env)
        sh("git switch -q more-data", clone, env)
        check((clone / "data/part0/sample0000.csv").read_text() == "id,value,label\n0,0.5,1\n",
              "the branch switch brought the branch's data")
        print(f"\nDemo finished: everything worked.{' Files kept in ' + str(base) if keep else ''}")
    finally:
        if not keep:
            subprocess.run(["chmod", "-R", "u+w", str(base)], check=False)
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
