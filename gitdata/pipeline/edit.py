"""Changing pipeline definitions: the typed functions behind `step` and `pipeline`."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Iterable

from gitdata.errors import GitDataError
from gitdata.git import GitRepo
from gitdata.pipeline import dag, model
from gitdata.pipeline.model import Dep, Output, Pipeline, Step


def _require_pipeline(workdir: Path, pipeline: str, create_default: bool = False) -> None:
    if model.pipeline_exists(workdir, pipeline):
        return
    if create_default and pipeline == model.default_pipeline(workdir):
        (model.pipelines_root(workdir) / pipeline).mkdir(parents=True, exist_ok=True)
        return
    raise GitDataError(f"no pipeline '{pipeline}'; create it with 'git data pipeline new {pipeline}'")


def _check_graph(workdir: Path, pipeline: str, changed: Step, removed: str | None = None) -> None:
    steps = {s.name: s for s in model.load_steps(workdir, pipeline)}
    if removed:
        steps.pop(removed, None)
    steps[changed.name] = changed
    dag.build(steps.values())


def new_step(repo: GitRepo, pipeline: str, name: str, command: str, when: str = "by_dependencies",
             workdir: str | None = None) -> Step:
    from gitdata import trust

    model.check_name(name, "step")
    _check_command(command)
    _check_when(when)
    _require_pipeline(repo.workdir, pipeline, create_default=True)
    if (repo.workdir / model.step_relpath(pipeline, name)).exists():
        raise GitDataError(f"step '{name}' already exists in pipeline '{pipeline}' (see 'git data step update')")
    step = Step(pipeline, name, command, when=when, workdir=workdir)
    model.save_step(repo.workdir, step)
    trust.approve(repo, [command])
    return step


def _check_command(command: str | None) -> None:
    if command is not None and not command.strip():
        raise GitDataError("the command is empty")


def _check_when(when: str | None) -> None:
    if when is not None and when not in model.WHEN:
        raise GitDataError(f"--when must be one of {', '.join(model.WHEN)} (found '{when}')")


def update_step(repo: GitRepo, pipeline: str, name: str, command: str | None = None,
                when: str | None = None) -> Step:
    from gitdata import trust

    _check_command(command)
    _check_when(when)
    step = model.load_step(repo.workdir, pipeline, name)
    if command is not None:
        step = step._replace(command=command)
        trust.approve(repo, [command])
    if when is not None:
        step = step._replace(when=when)
    model.save_step(repo.workdir, step)
    return step


def remove_step(repo: GitRepo, pipeline: str, name: str) -> list[str]:
    """Remove a step and every `step` dependency on it; returns the steps changed."""
    step = model.load_step(repo.workdir, pipeline, name)
    changed = []
    for other in model.load_steps(repo.workdir, pipeline):
        if other.name == name:
            continue
        kept = tuple(d for d in other.deps if not (d.kind == "step" and d.spec == name))
        if kept != other.deps:
            model.save_step(repo.workdir, other._replace(deps=kept))
            changed.append(other.name)
    model.remove_step_file(repo.workdir, step)
    return changed


def add_deps(repo: GitRepo, pipeline: str, name: str, new: Iterable[Dep]) -> Step:
    from gitdata import trust

    step = model.load_step(repo.workdir, pipeline, name)
    deps = list(step.deps)
    known = {d.key for d in deps}
    for dep in new:
        model.validate_dep(dep)
        if dep.kind == "step":
            if dep.spec == name:
                raise GitDataError(f"step '{name}' cannot depend on itself")
            if not (repo.workdir / model.step_relpath(pipeline, dep.spec)).exists():
                raise GitDataError(f"no step '{dep.spec}' in pipeline '{pipeline}'")
        if dep.key not in known:
            deps.append(dep)
            known.add(dep.key)
    step = step._replace(deps=tuple(deps))
    _check_graph(repo.workdir, pipeline, step)
    yours = [d.spec for d in deps if d.kind in ("generic", "url")]  # what you add yourself is approved
    if yours:
        trust.approve(repo, yours)
    model.save_step(repo.workdir, step)
    return step


def add_outputs(repo: GitRepo, pipeline: str, name: str, new: Iterable[Output]) -> Step:
    from gitdata.cache import open_cache
    from gitdata.pipeline.outputs import refuse_outside
    from gitdata.project import Project

    new = list(new)
    step = model.load_step(repo.workdir, pipeline, name)
    refuse_outside(Project(repo, open_cache(repo.data_dir)), step._replace(outputs=tuple(new)))
    outputs = list(step.outputs)
    others = _other_outputs(repo.workdir, pipeline, name)
    from gitdata.git import index_paths

    in_git = index_paths(repo)
    for out in new:
        if out.path.split("/")[0] in (".gitdata", ".git"):
            raise GitDataError(f"'{out.path}' cannot be an output")
        inside = [p for p in in_git if p == out.path or p.startswith(out.path + "/")]
        if inside:
            raise GitDataError(f"'{inside[0]}' is tracked by git; an output is tracked by git-data "
                               f"(stop git tracking it first: git rm --cached {inside[0]})")
        _refuse_overlap(out.path, others)
        outputs = [o for o in outputs if o.path != out.path] + [out]
    step = step._replace(outputs=tuple(outputs))
    _check_graph(repo.workdir, pipeline, step)
    model.save_step(repo.workdir, step)
    return step


def _other_outputs(workdir: Path, pipeline: str, name: str) -> dict[str, str]:
    """Every other step's outputs, in every pipeline: path -> who makes it."""
    owners = {}
    for other_pipeline in model.pipeline_names(workdir):
        where = "" if other_pipeline == pipeline else f" in pipeline '{other_pipeline}'"
        for other in model.load_steps(workdir, other_pipeline):
            if other_pipeline != pipeline or other.name != name:
                owners.update({o.path: f"step '{other.name}'{where}" for o in other.outputs})
    return owners


def _refuse_overlap(path: str, others: dict[str, str]) -> None:
    """Two steps never make the same file: each would keep restoring its version over
    the other's, and neither would ever be up to date."""
    from gitdata.paths import is_under

    for other, owner in sorted(others.items()):
        if other == path:
            raise GitDataError(f"'{path}' is already an output of {owner}")
        if is_under(path, other):
            raise GitDataError(f"'{path}' is inside '{other}', an output of {owner}")
        if is_under(other, path):
            raise GitDataError(f"'{path}' holds '{other}', an output of {owner}")


# -- pipelines -------------------------------------------------------------------------------

def new_pipeline(workdir: Path, name: str, pipeline_workdir: str = "") -> None:
    model.check_name(name, "pipeline")
    if model.pipeline_exists(workdir, name):
        raise GitDataError(f"pipeline '{name}' already exists")
    model.save_pipeline(workdir, Pipeline(name, pipeline_workdir))


def delete_pipeline(workdir: Path, name: str) -> int:
    if not model.pipeline_exists(workdir, name):
        if name == model.default_pipeline(workdir):   # listed, but has nothing on disk yet
            raise GitDataError(f"pipeline '{name}' has no steps; nothing to delete")
        raise GitDataError(f"no pipeline '{name}'")
    count = len(model.step_files(workdir, name))
    shutil.rmtree(model.pipelines_root(workdir) / name)
    if model.default_pipeline(workdir) == name:
        model.set_default_pipeline(workdir, model.DEFAULT_PIPELINE)
    return count


def update_pipeline(workdir: Path, name: str, rename: str | None = None, pipeline_workdir: str | None = None,
                    set_default: bool = False) -> str:
    if not model.pipeline_exists(workdir, name):
        raise GitDataError(f"no pipeline '{name}'")
    was_default = model.default_pipeline(workdir) == name
    if rename and rename != name:
        model.check_name(rename, "pipeline")
        if model.pipeline_exists(workdir, rename):
            raise GitDataError(f"pipeline '{rename}' already exists")
        root = model.pipelines_root(workdir)
        (root / name).rename(root / rename)
        name = rename
        if was_default:
            model.set_default_pipeline(workdir, name)
    if pipeline_workdir is not None:
        model.save_pipeline(workdir, Pipeline(name, pipeline_workdir))
    if set_default:
        model.set_default_pipeline(workdir, name)
    return name


def export_data(workdir: Path, name: str) -> dict[str, Any]:
    if not model.pipeline_exists(workdir, name):
        raise GitDataError(f"no pipeline '{name}'")
    pipeline = model.load_pipeline(workdir, name)
    steps = {}
    for step in model.load_steps(workdir, name):
        steps[step.name] = model.step_data(step._replace(record=None))
    return {"name": name, "workdir": pipeline.workdir or ".", "steps": steps, "version": 1}


def import_data(workdir: Path, data: Any, source: str, name: str | None = None, overwrite: bool = False) -> list[Step]:
    if not isinstance(data, dict) or not isinstance(data.get("steps", {}), dict):
        raise GitDataError(f"{source}: not a git-data pipeline export (expected name, workdir and steps)")
    name = model.check_name(name or str(data.get("name") or model.DEFAULT_PIPELINE), "pipeline")
    pipeline_workdir = str(data.get("workdir") or ".").rstrip("/")
    if pipeline_workdir != ".":
        from gitdata.paths import check_relpath

        check_relpath(pipeline_workdir, f"workdir in {source}")
    steps = []
    for step_name, step_data in sorted(data.get("steps", {}).items()):
        model.check_name(str(step_name), "step")
        if not isinstance(step_data, dict):
            raise GitDataError(f"{source}: step '{step_name}' must be a mapping")
        step_data = {k: v for k, v in step_data.items() if k != "last_run"}
        steps.append(model.parse_step(model.dump_yaml(step_data), f"{source} (step {step_name})", name,
                                      str(step_name)))
    dag.build(steps)
    if model.pipeline_exists(workdir, name):
        if not overwrite:
            raise GitDataError(f"pipeline '{name}' already exists (use --overwrite, or --pipeline-name NEW)")
        shutil.rmtree(model.pipelines_root(workdir) / name)
    model.save_pipeline(workdir, Pipeline(name, "" if pipeline_workdir == "." else pipeline_workdir))
    for step in steps:
        model.save_step(workdir, step)
    return steps
