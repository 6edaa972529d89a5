"""Every step's freshness and why, for `git data status`: nothing runs (generic
dependency commands run only when trusted), upstream staleness is transitive."""
from __future__ import annotations

from typing import Any, NamedTuple

from gitdata.errors import GitDataError, UsageError
from gitdata.pipeline import dag, freshness, model
from gitdata.project import Project

STATES = ("stale", "upstream", "error", "fresh", "disabled")
TITLES = {
    "stale": ("Stale steps (use 'git data run')", "red"),
    "upstream": ("Steps behind a stale upstream step", "yellow"),
    "error": ("Steps that cannot be checked", "red"),
    "fresh": ("Up-to-date steps", "green"),
    "disabled": ("Disabled steps (when: never)", "dim"),
}


class StepState(NamedTuple):
    pipeline: str
    step: str
    state: str
    reasons: list[str]

    def as_json(self) -> dict[str, Any]:
        return {"pipeline": self.pipeline, "step": self.step, "state": self.state, "reasons": self.reasons}


def step_states(project: Project) -> list[StepState]:
    from gitdata.pipeline import runner, settings, stepcache

    stepcache.use(project.repo.data_dir)
    config = settings.values(project.repo)
    ctx = runner.open_context(project, config)
    states: list[StepState] = []
    try:
        for name in model.pipeline_names(project.workdir):
            states += _pipeline_states(project, ctx, name)
    finally:
        ctx.flush()
    return states


def _pipeline_states(project: Project, ctx: Any, name: str) -> list[StepState]:
    from gitdata.pipeline.runner import pipeline_cwd

    try:
        steps = model.load_steps(project.workdir, name)
        pipeline = model.load_pipeline(project.workdir, name)
        graph = dag.build(steps)
    except GitDataError as exc:
        return [StepState(name, "*", "error", [str(exc)])]
    found: dict[str, StepState] = {}
    records = {s.name: s.record for s in steps}
    for step_name in graph.order():
        step = graph.steps[step_name]
        try:
            verdict = freshness.evaluate(ctx, step, pipeline_cwd(project, pipeline, step), records.get)
        except GitDataError as exc:
            found[step_name] = StepState(name, step_name, "error", [str(exc)])
            continue
        bad_ups = sorted(u for u in graph.upstream[step_name] if found[u].state in ("stale", "upstream", "error"))
        if verdict.state == freshness.ERROR:
            state, reasons = "error", verdict.reasons
        elif verdict.state == freshness.NEVER:
            state, reasons = "disabled", verdict.reasons
        elif verdict.state == freshness.STALE:
            state, reasons = "stale", verdict.reasons + [f"upstream stale: {u}" for u in bad_ups]
        elif bad_ups:
            state, reasons = "upstream", [f"upstream stale: {u}" for u in bad_ups]
        else:
            state, reasons = "fresh", []
        found[step_name] = StepState(name, step_name, state, reasons)
    return [found[n] for n in graph.order()]


def check_states(names: list[str]) -> set[str]:
    wanted = set()
    for item in names:
        for name in item.split(","):
            name = name.strip()
            if name not in STATES:
                raise UsageError(f"unknown step status '{name}' (choose from {', '.join(STATES)})")
            wanted.add(name)
    return wanted


def show(states: list[StepState], out: Any, color: Any) -> bool:
    """Print the steps grouped by state; returns whether anything was printed."""
    shown = False
    many = len({s.pipeline for s in states}) > 1
    for state in STATES:
        group = [s for s in states if s.state == state]
        if not group:
            continue
        if shown:
            out()
        title, colour = TITLES[state]
        out(f"{title}:")
        for item in group:
            label = f"{item.pipeline}/{item.step}" if many or item.pipeline != model.DEFAULT_PIPELINE else item.step
            why = f"  ({'; '.join(item.reasons[:4])}{' ...' if len(item.reasons) > 4 else ''})" if item.reasons else ""
            out("\t" + color(label, colour) + why)
        shown = True
    return shown
