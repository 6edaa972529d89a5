"""git data dag: draw the pipeline graph (dot, mermaid, ascii; svg or png through Graphviz)."""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys

from gitdata import output
from gitdata.errors import GitDataError
from gitdata.git import find_repo

FORMATS = ("ascii", "dot", "mermaid", "svg", "png")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-p", "--pipeline-name", "--pipeline", dest="pipeline", metavar="PIPELINE",
                        help="the pipeline (default: the default pipeline)")
    parser.add_argument("--format", choices=FORMATS, default=None,
                        help="ascii (default on a terminal), dot (default otherwise), mermaid, svg, png")
    parser.add_argument("--mermaid", dest="format", action="store_const", const="mermaid", help=argparse.SUPPRESS)
    parser.add_argument("-o", "--file", "--output", dest="file", metavar="FILE", help="write to FILE")


def draw(pipeline: str | None, fmt: str | None, target: str | None) -> int:
    from gitdata.pipeline import dag, model

    repo = find_repo()
    name = model.resolve_pipeline(repo.workdir, pipeline)
    if pipeline and not model.pipeline_exists(repo.workdir, name):
        raise GitDataError(f"no pipeline '{name}'")
    graph = dag.build(model.load_steps(repo.workdir, name))
    if fmt is None:
        fmt = "ascii" if target is None and sys.stdout.isatty() else "dot"
    if fmt in ("svg", "png"):
        data = render(dag.to_dot(graph, name), fmt)
        if target is None:
            if sys.stdout.isatty():
                raise GitDataError(f"refusing to write {fmt} to a terminal; use --file FILE")
            sys.stdout.buffer.write(data)
        else:
            _write(target, data)
        return 0
    text = {"dot": lambda: dag.to_dot(graph, name), "mermaid": lambda: dag.to_mermaid(graph),
            "ascii": lambda: dag.to_ascii(graph)}[fmt]()
    if target is None:
        sys.stdout.write(text if text else "(no steps)\n")
    else:
        _write(target, text.encode())
        output.info(f"wrote {target}")
    return 0


def render(dot_text: str, fmt: str) -> bytes:
    dot = shutil.which("dot")
    if dot is None:
        raise GitDataError(f"--format {fmt} needs Graphviz's 'dot', which is not installed "
                           "(install graphviz, or use --format dot or mermaid)")
    proc = subprocess.run([dot, f"-T{fmt}"], input=dot_text.encode(), capture_output=True)
    if proc.returncode != 0:
        raise GitDataError(f"dot failed: {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout


def _write(target: str, data: bytes) -> None:
    from pathlib import Path

    from gitdata.fsutil import atomic_write

    try:
        atomic_write(Path(target).absolute(), data)
    except OSError as exc:
        raise GitDataError(f"cannot write {target}: {exc.strerror}") from None


def run(args: argparse.Namespace) -> int:
    return draw(args.pipeline, args.format, args.file)
