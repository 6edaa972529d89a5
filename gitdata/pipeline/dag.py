"""The graph of a pipeline's steps: explicit `step` dependencies, plus an implicit edge
from every step whose output another step consumes through a path dependency.
Cycles are refused, naming the steps on the cycle. Drawings: dot, mermaid, ascii."""
from __future__ import annotations

import fnmatch
from typing import Iterable, NamedTuple

from gitdata.errors import GitDataError
from gitdata.paths import is_under
from gitdata.pipeline.model import Dep, Step

PATH_KINDS = ("file", "glob", "glob-items", "lines", "line-items", "regex", "regex-items", "param", "sqlite-query")
WILDCARDS = "*?["


class Edge(NamedTuple):
    upstream: str
    downstream: str
    via: str            # "step" for explicit edges, else the path that links them


class Graph(NamedTuple):
    steps: dict[str, Step]
    upstream: dict[str, set[str]]
    downstream: dict[str, set[str]]
    edges: list[Edge]

    def order(self) -> list[str]:
        return topological_order(self)

    def ancestors(self, names: Iterable[str]) -> set[str]:
        return _closure(names, self.upstream)

    def descendants(self, names: Iterable[str]) -> set[str]:
        return _closure(names, self.downstream)


def _closure(names: Iterable[str], links: dict[str, set[str]]) -> set[str]:
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        for other in links.get(name, ()):
            if other not in seen:
                seen.add(other)
                todo.append(other)
    return seen


def dep_path(dep: Dep) -> str:
    """The repository path a path-like dependency reads."""
    if dep.kind in ("lines", "line-items", "param"):
        return dep.spec.rpartition("::")[0]
    if dep.kind in ("regex", "regex-items"):
        return dep.spec.partition(":/")[0]
    return dep.spec.rstrip("/")


def _glob_reaches(pattern: str, output: str, is_dir: bool) -> bool:
    if fnmatch.fnmatchcase(output, pattern):
        return True
    if not is_dir:
        return False
    cut = min((pattern.find(c) for c in WILDCARDS if c in pattern), default=len(pattern))
    fixed = pattern[:cut].rsplit("/", 1)[0] if "/" in pattern[:cut] else ""
    return is_under(fixed, output) or is_under(output, fixed)


def build(steps: Iterable[Step]) -> Graph:
    by_name = {s.name: s for s in steps}
    upstream: dict[str, set[str]] = {name: set() for name in by_name}
    downstream: dict[str, set[str]] = {name: set() for name in by_name}
    edges: list[Edge] = []
    producers: dict[str, tuple[str, bool]] = {}
    for step in by_name.values():
        for out in step.outputs:
            producers[out.path] = (step.name, out.kind == "dir")

    def link(up: str, down: str, via: str) -> None:
        if up == down:
            reads = "" if via == "step" else f" ('{via}' is its output and its dependency)"
            raise GitDataError(f"the pipeline has a cycle: {up} -> {up}{reads}")
        if up in upstream[down]:
            return
        upstream[down].add(up)
        downstream[up].add(down)
        edges.append(Edge(up, down, via))

    for step in by_name.values():
        for dep in step.deps:
            if dep.kind == "step":
                if dep.spec not in by_name:
                    raise GitDataError(f"step '{step.name}' depends on step '{dep.spec}', "
                                       f"which pipeline '{step.pipeline}' does not have")
                link(dep.spec, step.name, "step")
            elif dep.kind in PATH_KINDS:
                for producer, via in _producers_of(dep, producers):
                    if producer != step.name or _reads_itself(dep, via):
                        link(producer, step.name, via)
    graph = Graph(by_name, upstream, downstream, edges)
    topological_order(graph)
    return graph


def _producers_of(dep: Dep, producers: dict[str, tuple[str, bool]]) -> Iterable[tuple[str, str]]:
    path = dep_path(dep)
    if dep.kind in ("glob", "glob-items"):
        for out, (name, is_dir) in producers.items():
            if _glob_reaches(path, out, is_dir):
                yield name, out
        return
    parts = path.split("/")
    for cut in range(len(parts), 0, -1):   # the dependency is an output, or inside an output directory
        hit = producers.get("/".join(parts[:cut]))
        if hit is not None:
            yield hit[0], "/".join(parts[:cut])
    if dep.kind == "file":                 # the dependency is a directory holding outputs
        for out, (name, _) in producers.items():
            if out != path and is_under(out, path):
                yield name, out


def _reads_itself(dep: Dep, output: str) -> bool:
    """Whether a step's dependency surely reads its own output. A glob's edge to an
    output directory is a guess (it orders steps safely), not proof of a cycle."""
    return dep.kind not in ("glob", "glob-items") or fnmatch.fnmatchcase(output, dep_path(dep))


def topological_order(graph: Graph) -> list[str]:
    """Steps in an order where every step comes after its upstreams; refuses cycles."""
    pending = {name: len(ups) for name, ups in graph.upstream.items()}
    ready = sorted(name for name, count in pending.items() if count == 0)
    order = []
    while ready:
        name = ready.pop(0)
        order.append(name)
        for down in sorted(graph.downstream[name]):
            pending[down] -= 1
            if pending[down] == 0:
                ready.append(down)
    if len(order) != len(pending):
        cycle = find_cycle(graph, {n for n, c in pending.items() if c > 0})
        raise GitDataError("the pipeline has a cycle: " + " -> ".join(cycle))
    return order


def find_cycle(graph: Graph, candidates: set[str]) -> list[str]:
    for start in sorted(candidates):
        path = [start]
        seen = {start}
        node = start
        while True:
            nexts = sorted(d for d in graph.downstream[node] if d in candidates)
            if not nexts:
                break
            node = nexts[0]
            if node in seen:
                return path[path.index(node):] + [node]
            seen.add(node)
            path.append(node)
    return sorted(candidates)


def select(graph: Graph, targets: Iterable[str]) -> list[str]:
    """The targets and everything upstream of them, in run order."""
    targets = list(targets)
    for name in targets:
        if name not in graph.steps:
            raise GitDataError(f"no step '{name}' in this pipeline")
    wanted = set(targets) | graph.ancestors(targets)
    return [name for name in graph.order() if name in wanted]


# -- drawings --------------------------------------------------------------------------

def _file_nodes(graph: Graph) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(file -> step) input edges and (step -> file) output edges."""
    inputs, outputs = [], []
    for name in graph.order():
        step = graph.steps[name]
        for dep in step.deps:
            if dep.kind != "step":
                inputs.append((dep.describe() if dep.kind not in PATH_KINDS else dep_path(dep), name))
        for out in step.outputs:
            outputs.append((name, out.path))
    return inputs, outputs


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(graph: Graph, pipeline: str) -> str:
    lines = [f"digraph {_dot_quote(pipeline)} {{", "  rankdir=LR;", "  node [shape=box, style=rounded];"]
    inputs, outputs = _file_nodes(graph)
    files = sorted({f for f, _ in inputs} | {f for _, f in outputs})
    for name in graph.order():
        lines.append(f"  {_dot_quote('step:' + name)} [label={_dot_quote(name)}];")
    for file in files:
        lines.append(f"  {_dot_quote('file:' + file)} [label={_dot_quote(file)}, shape=note, style=\"\"];")
    for file, name in inputs:
        lines.append(f"  {_dot_quote('file:' + file)} -> {_dot_quote('step:' + name)};")
    for name, file in outputs:
        lines.append(f"  {_dot_quote('step:' + name)} -> {_dot_quote('file:' + file)};")
    for edge in sorted(graph.edges):
        if edge.via == "step":
            lines.append(f"  {_dot_quote('step:' + edge.upstream)} -> {_dot_quote('step:' + edge.downstream)} "
                         "[style=dashed];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_mermaid(graph: Graph) -> str:
    ids: dict[str, str] = {}

    def node(key: str) -> str:
        if key not in ids:
            ids[key] = f"n{len(ids)}"
        return ids[key]

    def label(text: str) -> str:
        return text.replace('"', "#quot;")

    lines = ["flowchart LR"]
    inputs, outputs = _file_nodes(graph)
    for name in graph.order():
        lines.append(f"  {node('step:' + name)}[\"{label(name)}\"]")
    for file in sorted({f for f, _ in inputs} | {f for _, f in outputs}):
        lines.append(f"  {node('file:' + file)}[(\"{label(file)}\")]")
    for file, name in inputs:
        lines.append(f"  {node('file:' + file)} --> {node('step:' + name)}")
    for name, file in outputs:
        lines.append(f"  {node('step:' + name)} --> {node('file:' + file)}")
    for edge in sorted(graph.edges):
        if edge.via == "step":
            lines.append(f"  {node('step:' + edge.upstream)} -.-> {node('step:' + edge.downstream)}")
    return "\n".join(lines) + "\n"


def to_ascii(graph: Graph) -> str:
    """A tree from the steps nothing feeds; a step reached again is shown once, then referred to."""
    lines: list[str] = []
    shown: set[str] = set()
    vias = {(e.upstream, e.downstream): e.via for e in graph.edges}

    def inputs_of(name: str) -> str:
        files = [dep_path(d) if d.kind in PATH_KINDS else d.describe() for d in graph.steps[name].deps
                 if d.kind != "step"]
        return f"  <- {', '.join(files)}" if files else ""

    def walk(name: str, prefix: str, last: bool, parent: str | None) -> None:
        branch = "" if parent is None else ("└── " if last else "├── ")
        via = ""
        if parent is not None:
            link = vias.get((parent, name), "step")
            via = f"  (via {link})" if link != "step" else ""
        if name in shown:
            lines.append(f"{prefix}{branch}{name}{via}  (see above)")
            return
        shown.add(name)
        lines.append(f"{prefix}{branch}{name}{via if parent is not None else inputs_of(name)}")
        children = sorted(graph.downstream[name])
        extension = "" if parent is None else ("    " if last else "│   ")
        for index, child in enumerate(children):
            walk(child, prefix + extension, index == len(children) - 1, name)

    for root in [n for n in graph.order() if not graph.upstream[n]]:
        walk(root, "", True, None)
    return "\n".join(lines) + ("\n" if lines else "")
