"""Step files: `.gitdata/pipelines/<pipeline>/<step>.yaml`, one per step, hand-editable.

    command: python train.py
    deps:
    - file: data/train.csv
    - param: params.yaml::train.lr
    outputs:
    - file: models/model.pkl
    when: by_dependencies          (only written when not the default)
    last_run:                      (what the step last ran with; written by `run`)
      deps:
        file:data/train.csv: b3:...
      outputs:
        models/model.pkl: b3:...

Mappings are written with sorted keys and one dependency per list item, and
nothing in the file changes unless the step or its inputs changed, so that
git's plain line merge works on them. Paths are relative to the repository
root; commands run in the pipeline's workdir.

Pipeline settings live in `<pipeline>/%pipeline.yaml` (workdir) and the default
pipeline's name in `.gitdata/pipelines/%settings.yaml`: '%' never occurs in a
step or pipeline name, so these can never collide with a step file.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, NamedTuple

from gitdata.errors import GitDataError
from gitdata.paths import check_relpath

PIPELINES_DIR = ".gitdata/pipelines"
PIPELINE_FILE = "%pipeline.yaml"
SETTINGS_FILE = "%settings.yaml"
DEFAULT_PIPELINE = "default"
WHEN = ("by_dependencies", "always", "never")
DEP_KINDS = ("step", "file", "glob", "glob-items", "lines", "line-items", "regex", "regex-items",
             "param", "url", "generic", "sqlite-query", "schedule")
ITEM_KINDS = ("glob-items", "line-items", "regex-items")
OUTPUT_KINDS = ("file", "dir", "metric", "image")
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]*$")


class Dep(NamedTuple):
    kind: str
    spec: str
    query: str = ""          # sqlite-query only

    @property
    def key(self) -> str:
        """Identity of the dependency in the last-run record."""
        return f"{self.kind}:{self.spec}::{self.query}" if self.kind == "sqlite-query" else f"{self.kind}:{self.spec}"

    def describe(self) -> str:
        return f"{self.kind} {self.spec}" + (f" {self.query!r}" if self.query else "")


class Output(NamedTuple):
    kind: str
    path: str


class Record(NamedTuple):
    """What a step last ran with: dependency digests (by Dep.key), the items of *-items
    dependencies, and the digests of the output files it produced."""

    deps: dict[str, str]
    items: dict[str, Any]
    outputs: dict[str, str]


class Step(NamedTuple):
    pipeline: str
    name: str
    command: str
    deps: tuple[Dep, ...] = ()
    outputs: tuple[Output, ...] = ()
    when: str = "by_dependencies"
    workdir: str | None = None
    commit: bool | None = None
    push: bool | None = None
    record: Record | None = None

    @property
    def id(self) -> str:
        return f"{self.pipeline}/{self.name}"

    @property
    def relpath(self) -> str:
        return step_relpath(self.pipeline, self.name)


class Pipeline(NamedTuple):
    name: str
    workdir: str = ""


# -- names and paths -----------------------------------------------------------

def check_name(name: str, what: str) -> str:
    if not _NAME.match(name) or name.endswith(".yaml") or len(name) > 200:
        raise GitDataError(f"invalid {what} name '{name}': use letters, digits, '_', '.', '+', '-' "
                           "(not starting with '.' or '-')")
    return name


def pipelines_root(workdir: Path) -> Path:
    return workdir / PIPELINES_DIR


def step_relpath(pipeline: str, name: str) -> str:
    return f"{PIPELINES_DIR}/{pipeline}/{name}.yaml"


def has_pipelines(workdir: Path) -> bool:
    return os.path.isdir(pipelines_root(workdir))


# -- YAML --------------------------------------------------------------------------

def _yaml():  # type: ignore[no-untyped-def]
    import yaml

    return yaml


def _loader():  # type: ignore[no-untyped-def]
    yaml = _yaml()
    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def dump_yaml(data: Any) -> bytes:
    yaml = _yaml()
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    text = yaml.dump(data, Dumper=dumper, sort_keys=True, default_flow_style=False,
                     allow_unicode=True, width=1 << 16)
    return text.encode("utf-8", "surrogateescape")


class _Where:
    """Turns a YAML node into 'file:line' for error messages."""

    def __init__(self, source: str) -> None:
        self.source = source

    def __call__(self, node: Any) -> str:
        line = node.start_mark.line + 1 if node is not None and getattr(node, "start_mark", None) else 1
        return f"{self.source}:{line}"


def compose(data: bytes, source: str) -> Any:
    yaml = _yaml()
    try:
        return yaml.compose(data, Loader=_loader())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise GitDataError(f"{source}{line}: invalid YAML: {problem}") from None


def _mapping(node: Any, where: _Where, what: str) -> list[tuple[str, Any]]:
    yaml = _yaml()
    if not isinstance(node, yaml.MappingNode):
        raise GitDataError(f"{where(node)}: {what} must be a mapping")
    pairs = []
    seen = set()
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            raise GitDataError(f"{where(key_node)}: keys must be plain strings")
        if key_node.value in seen:
            raise GitDataError(f"{where(key_node)}: duplicate key '{key_node.value}'")
        seen.add(key_node.value)
        pairs.append((key_node.value, value_node))
    return pairs


def _string(node: Any, where: _Where, what: str) -> str:
    yaml = _yaml()
    if not isinstance(node, yaml.ScalarNode) or node.tag == "tag:yaml.org,2002:null":
        raise GitDataError(f"{where(node)}: {what} must be a string")
    return str(node.value)


def _bool(node: Any, where: _Where, what: str) -> bool:
    value = _string(node, where, what).lower()
    if value in ("true", "yes", "on"):
        return True
    if value in ("false", "no", "off"):
        return False
    raise GitDataError(f"{where(node)}: {what} must be true or false")


def _sequence(node: Any, where: _Where, what: str) -> list[Any]:
    yaml = _yaml()
    if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null":
        return []
    if not isinstance(node, yaml.SequenceNode):
        raise GitDataError(f"{where(node)}: {what} must be a list")
    return list(node.value)


def _plain(node: Any) -> Any:
    """A node as plain Python values (for the free-form items of a record)."""
    yaml = _yaml()
    return yaml.load(yaml.serialize(node), Loader=_loader()) if node is not None else None


def parse_dep(node: Any, where: _Where) -> Dep:
    pairs = dict(_mapping(node, where, "a dependency"))
    kinds = [k for k in pairs if k in DEP_KINDS]
    if len(kinds) != 1:
        raise GitDataError(f"{where(node)}: a dependency needs exactly one of: {', '.join(DEP_KINDS)}")
    kind = kinds[0]
    extra = set(pairs) - {kind, "query"} if kind == "sqlite-query" else set(pairs) - {kind}
    if extra:
        raise GitDataError(f"{where(node)}: unknown key '{sorted(extra)[0]}' in a {kind} dependency")
    value = pairs[kind]
    if kind == "generic" and isinstance(value, _yaml().MappingNode):
        # written as {generic: {command: CMD}} so that `git data trust` lists the command
        inner = dict(_mapping(value, where, "a generic dependency"))
        if set(inner) != {"command"}:
            raise GitDataError(f"{where(value)}: a generic dependency is 'generic: {{command: CMD}}'")
        value = inner["command"]
    spec = _string(value, where, f"the {kind} dependency")
    query = ""
    if kind == "sqlite-query":
        if "query" not in pairs:
            raise GitDataError(f"{where(node)}: a sqlite-query dependency needs a 'query'")
        query = _string(pairs["query"], where, "query")
    dep = Dep(kind, spec, query)
    try:
        validate_dep(dep)
    except GitDataError as exc:
        raise GitDataError(f"{where(pairs[kind])}: {exc}") from None
    return dep


def validate_dep(dep: Dep) -> None:
    """Check a dependency's spelling (paths inside the repository, ranges, regexes...)."""
    from gitdata.pipeline import deps

    deps.validate(dep)


def parse_output(node: Any, where: _Where) -> Output:
    pairs = _mapping(node, where, "an output")
    if len(pairs) != 1 or pairs[0][0] not in OUTPUT_KINDS:
        raise GitDataError(f"{where(node)}: an output is one of: {', '.join(f'{k}: PATH' for k in OUTPUT_KINDS)}")
    kind, value = pairs[0]
    path = _string(value, where, f"the {kind} output").rstrip("/")
    try:
        check_relpath(path, "output path")
    except GitDataError as exc:
        raise GitDataError(f"{where(value)}: {exc} (paths are relative to the repository root)") from None
    if path.split("/")[0] == ".gitdata":
        raise GitDataError(f"{where(value)}: '{path}' cannot be an output (.gitdata/ belongs to git-data)")
    return Output(kind, path)


def parse_record(node: Any, where: _Where) -> Record:
    deps: dict[str, str] = {}
    outputs: dict[str, str] = {}
    items: dict[str, Any] = {}
    for key, value in _mapping(node, where, "last_run"):
        if key == "deps":
            for dep_key, digest in _mapping(value, where, "last_run.deps"):
                deps[dep_key] = _string(digest, where, "a recorded digest")
        elif key == "outputs":
            for path, digest in _mapping(value, where, "last_run.outputs"):
                outputs[path] = _string(digest, where, "a recorded digest")
        elif key == "items":
            for dep_key, value_node in _mapping(value, where, "last_run.items"):
                items[dep_key] = _plain(value_node)
        else:
            raise GitDataError(f"{where(value)}: unknown key '{key}' in last_run")
    return Record(deps, items, outputs)


def parse_step(data: bytes, source: str, pipeline: str, name: str) -> Step:
    where = _Where(source)
    root = compose(data, source)
    if root is None:
        raise GitDataError(f"{source}:1: empty step file (it needs at least a 'command')")
    fields: dict[str, Any] = {}
    command = None
    for key, value in _mapping(root, where, "a step file"):
        if key == "command":
            command = _string(value, where, "command")
        elif key == "deps":
            found = [parse_dep(item, where) for item in _sequence(value, where, "deps")]
            keys = [d.key for d in found]
            for index, key_ in enumerate(keys):
                if key_ in keys[:index]:
                    raise GitDataError(f"{where(value.value[index])}: duplicate dependency {found[index].describe()}")
            fields["deps"] = tuple(found)
        elif key == "outputs":
            fields["outputs"] = tuple(parse_output(item, where) for item in _sequence(value, where, "outputs"))
        elif key == "when":
            when = _string(value, where, "when")
            if when not in WHEN:
                raise GitDataError(f"{where(value)}: when must be one of {', '.join(WHEN)} (found '{when}')")
            fields["when"] = when
        elif key == "workdir":
            workdir = _string(value, where, "workdir").rstrip("/")
            if workdir not in ("", "."):
                check_relpath(workdir, f"workdir in {source}")
            fields["workdir"] = "" if workdir == "." else workdir
        elif key in ("commit", "push"):
            fields[key] = _bool(value, where, key)
        elif key == "last_run":
            fields["record"] = parse_record(value, where)
        else:
            raise GitDataError(f"{where(value)}: unknown key '{key}' (known: command, deps, outputs, when, "
                               "workdir, commit, push, last_run)")
    if command is None or not command.strip():
        raise GitDataError(f"{source}:1: the step has no command")
    return Step(pipeline, name, command, **fields)


def step_data(step: Step) -> dict[str, Any]:
    data: dict[str, Any] = {"command": step.command}
    if step.deps:
        data["deps"] = [_dep_data(d) for d in sorted(step.deps, key=lambda d: (d.kind, d.spec, d.query))]
    if step.outputs:
        data["outputs"] = [{o.kind: o.path} for o in sorted(step.outputs, key=lambda o: (o.path, o.kind))]
    if step.when != "by_dependencies":
        data["when"] = step.when
    if step.workdir is not None:
        data["workdir"] = step.workdir or "."
    for key in ("commit", "push"):
        if getattr(step, key) is not None:
            data[key] = getattr(step, key)
    if step.record is not None:
        record: dict[str, Any] = {"deps": dict(step.record.deps)}
        if step.record.items:
            record["items"] = dict(step.record.items)
        if step.record.outputs:
            record["outputs"] = dict(step.record.outputs)
        data["last_run"] = record
    return data


def _dep_data(dep: Dep) -> dict[str, Any]:
    if dep.kind == "sqlite-query":
        return {dep.kind: dep.spec, "query": dep.query}
    if dep.kind == "generic":
        return {dep.kind: {"command": dep.spec}}
    return {dep.kind: dep.spec}


def serialize_step(step: Step) -> bytes:
    return dump_yaml(step_data(step))


# -- reading and writing ---------------------------------------------------------

def pipeline_names(workdir: Path) -> list[str]:
    root = pipelines_root(workdir)
    try:
        return sorted(e.name for e in os.scandir(root) if e.is_dir() and not e.name.startswith("%"))
    except FileNotFoundError:
        return []


def step_files(workdir: Path, pipeline: str) -> list[tuple[str, Path]]:
    """(step name, path) of a pipeline's step files, by name."""
    directory = pipelines_root(workdir) / pipeline
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return []
    found = [(e.name[:-5], Path(e.path)) for e in entries
             if e.name.endswith(".yaml") and not e.name.startswith(("%", ".")) and e.is_file()]
    return sorted(found)


def load_steps(workdir: Path, pipeline: str) -> list[Step]:
    from gitdata.pipeline import stepcache

    return stepcache.load(workdir, pipeline, step_files(workdir, pipeline))


def read_step_file(path: Path, pipeline: str, name: str) -> Step:
    source = step_relpath(pipeline, name)
    check_name(name, "step")
    return parse_step(path.read_bytes(), source, pipeline, name)


def load_step(workdir: Path, pipeline: str, name: str) -> Step:
    path = workdir / step_relpath(pipeline, name)
    if not path.is_file():
        raise GitDataError(f"no step '{name}' in pipeline '{pipeline}'")
    return read_step_file(path, pipeline, name)


def save_step(workdir: Path, step: Step, before: Step | None = None) -> str:
    """Write a step file; with `before` (the step as loaded), nothing is written when
    nothing changed, so a hand-formatted file keeps its layout."""
    from gitdata.fsutil import atomic_write

    if before is not None and step == before:
        return step.relpath
    atomic_write(workdir / step.relpath, serialize_step(step))
    return step.relpath


def remove_step_file(workdir: Path, step: Step) -> None:
    (workdir / step.relpath).unlink(missing_ok=True)


def load_pipeline(workdir: Path, name: str) -> Pipeline:
    path = pipelines_root(workdir) / name / PIPELINE_FILE
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return Pipeline(name)
    source = f"{PIPELINES_DIR}/{name}/{PIPELINE_FILE}"
    where = _Where(source)
    root = compose(data, source)
    workdir_value = ""
    for key, value in _mapping(root, where, "a pipeline file") if root is not None else []:
        if key == "workdir":
            workdir_value = _string(value, where, "workdir").rstrip("/")
            if workdir_value in (".", ""):
                workdir_value = ""
            else:
                check_relpath(workdir_value, f"workdir in {source}")
        else:
            raise GitDataError(f"{where(value)}: unknown key '{key}' (known: workdir)")
    return Pipeline(name, workdir_value)


def save_pipeline(workdir: Path, pipeline: Pipeline) -> None:
    from gitdata.fsutil import atomic_write

    directory = pipelines_root(workdir) / pipeline.name
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / PIPELINE_FILE
    if pipeline.workdir:
        atomic_write(path, dump_yaml({"workdir": pipeline.workdir}))
    else:
        path.unlink(missing_ok=True)


def default_pipeline(workdir: Path) -> str:
    path = pipelines_root(workdir) / SETTINGS_FILE
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return DEFAULT_PIPELINE
    source = f"{PIPELINES_DIR}/{SETTINGS_FILE}"
    where = _Where(source)
    root = compose(data, source)
    for key, value in _mapping(root, where, "the settings file") if root is not None else []:
        if key == "default":
            return check_name(_string(value, where, "default"), "pipeline")
        raise GitDataError(f"{where(value)}: unknown key '{key}' (known: default)")
    return DEFAULT_PIPELINE


def set_default_pipeline(workdir: Path, name: str) -> None:
    from gitdata.fsutil import atomic_write

    path = pipelines_root(workdir) / SETTINGS_FILE
    if name == DEFAULT_PIPELINE:
        path.unlink(missing_ok=True)
    else:
        atomic_write(path, dump_yaml({"default": name}))


def pipeline_exists(workdir: Path, name: str) -> bool:
    return (pipelines_root(workdir) / name).is_dir()


def resolve_pipeline(workdir: Path, name: str | None) -> str:
    """The pipeline a command works on: the named one, else the default."""
    return check_name(name, "pipeline") if name else default_pipeline(workdir)
