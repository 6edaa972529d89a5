#!/usr/bin/env python3
"""Profile one `git data` command in-process with cProfile (see bench/PROFILE.md).

    cd REPO && /path/to/.venv/bin/python /path/to/bench/prof.py [--serial] [--top N] -- add data

cProfile sees only the thread that enables it, and our file work runs on a thread
pool; `--serial` makes `gitdata.workspace.parallel_map` run inline so every call
is counted (wall time then differs from a normal run; the shares are what matter).
Writes the raw stats to --out (default /tmp/gitdata-profile.prof) for snakeviz etc.
"""
from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--serial", action="store_true", help="run parallel_map inline (profile all work)")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--sort", default="tottime", help="pstats sort key (tottime, cumulative)")
    parser.add_argument("--out", default="/tmp/gitdata-profile.prof")
    parser.add_argument("argv", nargs=argparse.REMAINDER, help="-- then the git data arguments")
    opts = parser.parse_args()
    argv = opts.argv[1:] if opts.argv[:1] == ["--"] else opts.argv

    import gitdata.workspace

    if opts.serial:
        gitdata.workspace.parallel_map.__defaults__ = (1,)
    from gitdata.main import main as gitdata_main

    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    code = gitdata_main(argv)
    profiler.disable()
    wall = time.perf_counter() - started
    profiler.dump_stats(opts.out)
    print(f"git data {' '.join(argv)}: exit {code}, {wall:.3f} s under the profiler", file=sys.stderr)
    stats = pstats.Stats(opts.out, stream=sys.stderr)
    stats.strip_dirs().sort_stats(opts.sort).print_stats(opts.top)
    return code


if __name__ == "__main__":
    sys.exit(main())
