"""Running a pipeline: a ready queue under one global concurrency bound (a step starts
as soon as its own upstreams are done, never waiting for a whole "level"), steps
run through the shell in the pipeline workdir, logs under `<git common dir>/data/logs/`.

Freshness is decided in the scheduling thread just before a step would start, from
digests snapshotted then; those are what get recorded, so an input that changes
while its step runs leaves the step stale for next time."""
from __future__ import annotations

import os
import time
from collections import deque
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, NamedTuple

from gitdata import output
from gitdata.errors import GitDataError
from gitdata.pipeline import dag, deps, freshness, model
from gitdata.pipeline import outputs as outs
from gitdata.pipeline.model import Pipeline, Record, Step
from gitdata.project import Project

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor

STDERR_TAIL = 20
ENV_FILES = {"commit": "GITDATA_COMMIT_MSG_FILE", "summary": "GITDATA_SUMMARY_FILE", "push": "GITDATA_PUSH_FILE"}


class Options(NamedTuple):
    targets: tuple[str, ...] = ()
    jobs: int = 0
    dry_run: bool = False
    force_all: bool = False
    force: frozenset[str] = frozenset()
    keep_going: bool = False
    no_restore: bool = False
    commit: bool | None = None       # None: the step's setting, else the config default
    push: str | None = None          # "each", "end", None: the config default
    data_push: bool = True


class Outcome(NamedTuple):
    step: str
    result: str        # ran, restored, fresh, would-run, never, failed, skipped, not-run
    reasons: list[str]
    message: str = ""
    seconds: float = 0.0


class Executed(NamedTuple):
    returncode: int
    stderr: bytes
    seconds: float
    log: Path


def pipeline_cwd(project: Project, pipeline: Pipeline, step: Step) -> Path:
    rel = step.workdir if step.workdir is not None else pipeline.workdir
    from gitdata.paths import ensure_inside

    return ensure_inside(project.workdir, rel) if rel else project.workdir


def log_dir(project: Project, pipeline: str) -> Path:
    return project.repo.data_dir / "logs" / pipeline


def open_context(project: Project, config: dict[str, str]) -> deps.Context:
    from gitdata.hashing import DEFAULT_ALGORITHM, algorithm_name

    def trusted() -> set[str]:
        from gitdata.trust import trusted_fingerprints

        return trusted_fingerprints(project.repo)

    algorithm = algorithm_name(config.get("core.hash", DEFAULT_ALGORITHM) or DEFAULT_ALGORITHM)
    return deps.Context(project.workdir, project.stat_cache(), algorithm, trusted)


class Runner:
    """Runs one pipeline's stale steps; the scheduler state lives here."""

    def __init__(self, project: Project, pipeline: Pipeline, steps: list[Step], options: Options,
                 config: dict[str, str]) -> None:
        from gitdata.pipeline import settings

        self.project, self.pipeline, self.options, self.config = project, pipeline, options, config
        self.graph = dag.build(steps)
        self.order = dag.select(self.graph, options.targets) if options.targets else self.graph.order()
        self.wanted = set(self.order)
        self.steps = dict(self.graph.steps)
        self.records: dict[str, Record | None] = {n: s.record for n, s in self.steps.items()}
        self.ctx = open_context(project, config)
        self.outcomes: dict[str, Outcome] = {}
        self.verdicts: dict[str, freshness.Verdict] = {}
        self.would_run: set[str] = set()
        self.blocked: dict[str, str] = {}
        self.to_push: set[str] = set()
        self.to_stage: list[str] = []
        self.push_mode = options.push or config.get("run.push") or None
        if self.push_mode not in (None, "each", "end", "none"):
            raise GitDataError(f"run.push must be each, end or none (found '{self.push_mode}')")
        self.default_commit = settings.as_bool(config.get("run.commit"))
        self._settings: outs.Settings | None = None
        self.tmp = project.repo.data_dir / "tmp" / f"run-{os.getpid()}"
        self._made_dirs = False

    # -- the loop ----------------------------------------------------------------------

    def run(self) -> list[Outcome]:
        jobs = self.options.jobs or os.cpu_count() or 2
        pending = {n: len(self.graph.upstream[n] & self.wanted) for n in self.order}
        position = {n: i for i, n in enumerate(self.order)}
        ready = deque(n for n in self.order if pending[n] == 0)
        running: dict[Future[Executed], str] = {}
        stop = False

        def release(name: str) -> None:
            for down in sorted(self.graph.downstream[name] & self.wanted, key=position.__getitem__):
                pending[down] -= 1
                if pending[down] == 0:
                    ready.append(down)

        with _Pool(jobs) as pool:
            try:
                while ready or running:
                    while ready and len(running) < jobs and not stop:
                        name = ready.popleft()
                        if name in self.blocked:
                            continue
                        try:
                            future = self._start(name, pool)
                        except GitDataError as exc:
                            self._fail(name, f"step '{name}': {exc}")
                            future = None
                        if future is not None:
                            running[future] = name
                        elif self._failed(name):
                            stop = not self.options.keep_going
                        else:
                            release(name)
                    if not running:
                        if stop or not ready:
                            break
                        continue
                    from concurrent.futures import FIRST_COMPLETED, wait

                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in sorted(done, key=lambda f: position[running[f]]):
                        name = running.pop(future)
                        self._finish(name, future.result())
                        if self._failed(name):
                            stop = stop or not self.options.keep_going
                        else:
                            release(name)
            finally:
                self.ctx.flush()
                if self.to_stage:
                    from gitdata import git

                    git.stage(self.project.repo, self.to_stage)
                if self._made_dirs:
                    import shutil

                    shutil.rmtree(self.tmp, ignore_errors=True)
        if self.push_mode == "end" and not self.options.dry_run:
            self._push("end of run")
        for name in self.order:
            if name not in self.outcomes:
                self.outcomes[name] = Outcome(name, "not-run", [], "not started: an earlier step failed")
        return [self.outcomes[n] for n in self.order]

    def _failed(self, name: str) -> bool:
        return self.outcomes[name].result == "failed"

    def _fail(self, name: str, message: str, reasons: list[str] | None = None, seconds: float = 0.0) -> None:
        self.outcomes[name] = Outcome(name, "failed", reasons or [], message, seconds)
        for down in self.graph.descendants([name]) & self.wanted:
            if down not in self.outcomes:
                self.blocked[down] = name
                self.outcomes[down] = Outcome(down, "skipped", [], f"upstream step '{name}' failed")

    # -- one step -----------------------------------------------------------------------

    def _cwd(self, step: Step) -> Path:
        return pipeline_cwd(self.project, self.pipeline, step)

    def _start(self, name: str, pool: _Pool) -> Future[Executed] | None:
        step = self.steps[name]
        forced = self.options.force_all or name in self.options.force
        cwd = self._cwd(step)
        verdict = freshness.evaluate(self.ctx, step, cwd, self.records.get, forced)
        self.verdicts[name] = verdict
        if verdict.state == freshness.ERROR:
            self._fail(name, verdict.reasons[0])
            return None
        if verdict.state == freshness.NEVER:
            self.outcomes[name] = Outcome(name, "never", verdict.reasons)
            return None
        reasons = list(verdict.reasons)
        upstream_would = sorted(self.graph.upstream[name] & self.would_run)
        if verdict.state == freshness.FRESH and not upstream_would:
            self.outcomes[name] = Outcome(name, "fresh", [])
            output.verbose(f"{name}: up to date")
            return None
        if self.options.dry_run:
            reasons += [f"upstream step {u} would run" for u in upstream_would]
            self.would_run.add(name)
            self.outcomes[name] = Outcome(name, "would-run", reasons)
            return None
        outs.refuse_outside(self.project, step)   # before anything restores, overwrites or cleans
        if verdict.missing_deps:
            self._fail(name, f"dependency '{verdict.missing_deps[0]}' does not exist (and no step made it)", reasons)
            return None
        if self._may_restore(step, forced) and self._try_restore(step, verdict):
            return None
        from gitdata.trust import require_trusted

        try:
            require_trusted(self.project.repo, step.command, f"step '{step.id}'")
            outs.protect(self.project, verdict.output_files, self.ctx.algorithm)
            outs.clear(self.project, verdict.output_files)
        except GitDataError as exc:
            self._fail(name, str(exc), reasons)
            return None
        output.info(f"running {name}: {_short(reasons)}")
        env = self._env(step, verdict)
        return pool.get().submit(execute, step, cwd, env, log_dir(self.project, self.pipeline.name) / f"{name}.log")

    def _settings_once(self) -> outs.Settings:
        if self._settings is None:
            self._settings = outs.settings(self.project)
        return self._settings

    def _may_restore(self, step: Step, forced: bool) -> bool:
        """Restoring stands in for running only when the outputs are a function of the
        recorded inputs; `when: always` says they are not (fetch-latest, side effects)."""
        return bool(step.outputs) and not forced and not self.options.no_restore and step.when != "always"

    def _try_restore(self, step: Step, verdict: freshness.Verdict) -> bool:
        candidates: list[dict[str, str] | None] = []
        if step.record is not None and freshness.only_outputs_missing(verdict, step):
            candidates.append(step.record.outputs)
        candidates.append(outs.cached_run(self.project, step, verdict.snapshot))
        for recorded in candidates:
            candidate = outs.expand_record(self.project, step, recorded) if recorded else None
            if candidate and not outs.restorable(self.project, candidate):
                outs.fetch_from_storage(self.project, candidate)
            if candidate and outs.restorable(self.project, candidate):
                try:
                    outs.protect(self.project, verdict.output_files, self.ctx.algorithm)
                    restored = outs.restore(self.project, candidate, step, self._settings_once())
                except GitDataError as exc:
                    output.warn(f"{step.name}: could not restore outputs from the cache ({exc}); running it")
                    return False
                self._record(step, verdict, restored.outputs)
                self.to_stage.append(step.relpath)
                self.outcomes[step.name] = Outcome(step.name, "restored", verdict.reasons)
                output.info(f"restored {step.name} from the cache: {_short(verdict.reasons)}")
                return True
        return False

    def _env(self, step: Step, verdict: freshness.Verdict) -> dict[str, str]:
        env = dict(os.environ)
        env.update(GITDATA_STEP=step.name, GITDATA_PIPELINE=step.pipeline, GITDATA_ROOT=str(self.project.workdir))
        if not self._made_dirs:
            self.tmp.mkdir(parents=True, exist_ok=True)
            log_dir(self.project, self.pipeline.name).mkdir(parents=True, exist_ok=True)
            self._made_dirs = True
        for kind, variable in ENV_FILES.items():   # a fresh directory per run: no stale files
            env[variable] = f"{self.tmp}/{step.name}.{kind}"
        for dep in step.deps:
            if dep.kind in model.ITEM_KINDS:
                old = step.record.items.get(dep.key) if step.record else None
                env.update(deps.items_env(dep, old, verdict.items.get(dep.key)))
        return env

    def _finish(self, name: str, executed: Executed) -> None:
        step = self.steps[name]
        verdict = self.verdicts[name]
        self.ctx.forget([])
        if output.is_verbose():
            _show_log(name, executed.log)
        if executed.returncode != 0:
            tail = executed.stderr.decode(errors="replace").rstrip("\n").splitlines()[-STDERR_TAIL:]
            shown = "".join(f"\n    {line}" for line in tail)
            how = f"exit code {executed.returncode}" if executed.returncode > 0 else f"signal {-executed.returncode}"
            self._fail(name, f"step '{name}' failed ({how}){shown}\n  full log: {executed.log}",
                       verdict.reasons, executed.seconds)
            return
        try:
            recorded = outs.record(self.project, step, self._settings_once()) if step.outputs else None
        except GitDataError as exc:
            self._fail(name, str(exc), verdict.reasons, executed.seconds)
            return
        produced = recorded.outputs if recorded else {}
        self._record(step, verdict, produced)
        if recorded is not None:
            self.to_stage.append(step.relpath)   # beside the manifests `record` staged
        outs.remember_run(self.project, step, verdict.snapshot, produced)
        self.to_push.update(produced.values())
        self.outcomes[name] = Outcome(name, "ran", verdict.reasons, "", executed.seconds)
        (output.info if executed.seconds >= 1 else output.verbose)(f"ran {name} ({executed.seconds:.2f} s)")
        summary = _read_env_file(self.tmp / f"{name}.summary")
        if summary:
            output.out(f"{name}: {summary}")
        try:
            self._commit_and_push(step, summary)
        except GitDataError as exc:
            self._fail(name, f"step '{name}' ran, but: {exc}", verdict.reasons, executed.seconds)

    def _record(self, step: Step, verdict: freshness.Verdict, produced: dict[str, str]) -> None:
        record = Record(dict(verdict.snapshot), dict(verdict.items), dict(produced))
        updated = step._replace(record=record)
        model.save_step(self.project.workdir, updated, before=step)
        self.steps[step.name] = updated
        self.records[step.name] = record

    # -- commits and pushes ---------------------------------------------------------------

    def _commit_and_push(self, step: Step, summary: str) -> None:
        wanted = self.options.commit
        if wanted is None:
            wanted = step.commit if step.commit is not None else self.default_commit
        if wanted:
            message = _read_env_file(self.tmp / f"{step.name}.commit") or f"git data run: {step.id}"
            if summary:
                message += "\n\n" + summary
            from gitdata.autocommit import commit_records

            try:
                oid = commit_records(self.project, [o.path for o in step.outputs], [step.relpath], message + "\n")
                output.info(f"committed {oid[:10]}: {message.splitlines()[0]}")
            except GitDataError as exc:
                if "nothing to commit" not in str(exc):
                    raise
        asked = (self.tmp / f"{step.name}.push").exists()
        if self.push_mode == "each" or asked or (step.push and self.push_mode != "none"):
            self._push(f"after step {step.name}")

    def _push(self, when: str) -> None:
        import subprocess

        proc = subprocess.run(["git", "push", "--quiet"], cwd=self.project.workdir, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if proc.returncode != 0:
            last = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["?"]
            raise GitDataError(f"git push ({when}) failed: {last[0]}")
        output.info(f"pushed git ({when})")
        if self.options.data_push and self.to_push:
            from gitdata.transfer import upload_missing

            count = upload_missing(self.project, sorted(self.to_push))
            output.info(f"pushed {count} data object(s) ({when})")
            self.to_push.clear()


class _Pool:
    """A thread pool made only when a step actually runs (a no-op run needs none)."""

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs
        self.pool: ThreadPoolExecutor | None = None

    def get(self) -> ThreadPoolExecutor:
        if self.pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self.pool = ThreadPoolExecutor(max_workers=self.jobs)
        return self.pool

    def __enter__(self) -> _Pool:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True)


@contextmanager
def run_lock(project: Project, pipeline: str) -> Iterator[None]:
    """One `run` per pipeline at a time (flock: released if the process dies)."""
    import fcntl

    directory = project.repo.data_dir / "locks"
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / f"pipeline-run-{pipeline}.lock", "a") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise GitDataError(f"another 'git data run' is running pipeline '{pipeline}' in this repository") from None
        yield


def execute(step: Step, cwd: Path, env: dict[str, str], log: Path) -> Executed:
    """Run a step's command through the shell; stdout and stderr go to its log."""
    import shlex
    import subprocess
    started = time.monotonic()
    with open(log, "wb") as handle:
        handle.write(f"$ cd {shlex.quote(str(cwd))} && {step.command}\n".encode("utf-8", "surrogateescape"))
        handle.flush()
        try:
            proc = subprocess.Popen(step.command, shell=True, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                    stdout=handle, stderr=subprocess.PIPE)
        except OSError as exc:
            message = f"cannot start the command: {exc.strerror}".encode()
            handle.write(message + b"\n")
            return Executed(127, message, time.monotonic() - started, log)
        _, stderr = proc.communicate()
        if stderr:
            handle.write(b"--- stderr ---\n" + stderr)
        handle.write(f"--- exit {proc.returncode} after {time.monotonic() - started:.2f} s\n".encode())
    return Executed(proc.returncode, stderr, time.monotonic() - started, log)


def _show_log(name: str, log: Path) -> None:
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return
    output.info(output.color(f"── {name} ", "bold", stream=__import__("sys").stderr) + f"({log})")
    for line in text.rstrip("\n").splitlines()[1:]:
        output.info("   " + line)


def _read_env_file(path: Path) -> str:
    try:
        return path.read_text(errors="replace").strip()
    except OSError:
        return ""


def _short(reasons: list[str]) -> str:
    if not reasons:
        return "stale"
    return "; ".join(reasons[:3]) + (f" (+{len(reasons) - 3} more)" if len(reasons) > 3 else "")


def run(project: Project, pipeline_name: str | None, options: Options) -> list[Outcome]:
    from gitdata.pipeline import settings, stepcache

    stepcache.use(project.repo.data_dir)
    name = model.resolve_pipeline(project.workdir, pipeline_name)
    if pipeline_name and not model.pipeline_exists(project.workdir, name):
        raise GitDataError(f"no pipeline '{name}' (see 'git data pipeline list')")
    with run_lock(project, name):
        steps = model.load_steps(project.workdir, name)
        config = settings.values(project.repo)
        runner = Runner(project, model.load_pipeline(project.workdir, name), steps, options, config)
        return runner.run()


def outcome_json(outcome: Outcome) -> dict[str, Any]:
    return {"step": outcome.step, "result": outcome.result, "reasons": outcome.reasons,
            "message": outcome.message, "seconds": round(outcome.seconds, 3)}
