"""git data step new|list|show|update|remove|dep|out: define pipeline steps."""
from __future__ import annotations

import argparse

from gitdata import output
from gitdata.errors import GitDataError, UsageError
from gitdata.git import find_repo
from gitdata.paths import to_relpath
from gitdata.pipeline import edit, model
from gitdata.pipeline.model import Dep, Output


def _name_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", metavar="NAME", help="the step")
    parser.add_argument("-s", "--step-name", dest="step_name", metavar="NAME", help=argparse.SUPPRESS)
    _pipeline_arg(parser)


def _pipeline_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-p", "--pipeline-name", "--pipeline", dest="pipeline", metavar="PIPELINE",
                        help="the pipeline (default: the default pipeline)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True

    new = sub.add_parser("new", help="define a new step")
    _name_args(new)
    new.add_argument("-c", "--command", required=True, help="the shell command the step runs")
    new.add_argument("--when", default="by_dependencies", choices=model.WHEN,
                     help="run when dependencies change (default), always, or never")

    lst = sub.add_parser("list", help="list the steps of a pipeline")
    _pipeline_arg(lst)
    lst.add_argument("--names-only", action="store_true", help="only the names")
    lst.add_argument("--json", action="store_true", help="machine-readable output")

    show = sub.add_parser("show", help="show a step's definition and last run")
    _name_args(show)
    show.add_argument("--json", action="store_true", help="machine-readable output")

    update = sub.add_parser("update", help="change a step's command or when")
    _name_args(update)
    update.add_argument("-c", "--command", help="the new command")
    update.add_argument("--when", choices=model.WHEN)

    remove = sub.add_parser("remove", aliases=["rm"], help="remove a step and the edges to it")
    _name_args(remove)

    dep = sub.add_parser("dep", aliases=["dependency"], help="add dependencies to a step")
    _name_args(dep)
    a = dep.add_argument
    a("--step", action="append", default=[], metavar="STEP", help="run after STEP, and again when it re-ran")
    a("--file", action="append", default=[], metavar="PATH", help="a file (a directory: all files under it)")
    a("--glob", action="append", default=[], metavar="GLOB", help="the files matching GLOB")
    a("--glob-items", "--glob_items", dest="glob_items", action="append", default=[], metavar="GLOB",
      help="like --glob; the step learns which files were added, removed, changed")
    a("--lines", "--line", action="append", default=[], metavar="FILE::A-B", help="a range of lines of a file")
    a("--line-items", "--line_items", dest="line_items", action="append", default=[], metavar="FILE::A-B",
      help="like --lines; the step learns which lines were added and removed")
    a("--regex", action="append", default=[], metavar="FILE:/RE/", help="the lines of a file matching RE")
    a("--regex-items", "--regex_items", dest="regex_items", action="append", default=[], metavar="FILE:/RE/",
      help="like --regex; the step learns which lines were added and removed")
    a("--param", action="append", default=[], metavar="FILE::KEY",
      help="one value of a YAML, JSON or TOML file (dotted key)")
    a("--url", action="append", default=[], metavar="URL", help="a web resource (ETag, Last-Modified or content)")
    a("--generic", "--generic-command", action="append", default=[], metavar="CMD",
      help="the standard output of a command")
    a("--sqlite-query", "--sqlite_query", dest="sqlite_query", action="append", nargs=2, default=[],
      metavar=("DB", "SQL"), help="the rows a query returns")
    a("--schedule", action="append", default=[], metavar="WHEN",
      help="hourly, daily, weekly, a cron expression, or manual")

    out = sub.add_parser("out", aliases=["output"], help="declare a step's outputs")
    _name_args(out)
    out.add_argument("--file", action="append", default=[], metavar="PATH", help="an output file")
    out.add_argument("--dir", "--directory", dest="dir", action="append", default=[], metavar="DIR",
                     help="an output directory (all files in it)")
    out.add_argument("--metric", action="append", default=[], metavar="PATH",
                     help="a metrics file (JSON, YAML, TOML, CSV) shown by 'git data metrics'")
    out.add_argument("--image", action="append", default=[], metavar="PATH", help="an image (plot)")


def _step_name(args: argparse.Namespace) -> str:
    name = args.name or args.step_name
    if not name:
        raise UsageError("git data step: a step NAME is required")
    if args.name and args.step_name and args.name != args.step_name:
        raise UsageError("git data step: give the step name once")
    return name


def _rel(workdir, path: str) -> str:  # type: ignore[no-untyped-def]
    rel = to_relpath(workdir, path)
    if not rel:
        raise GitDataError(f"'{path}' is the repository root, not a file")
    return rel


def _rel_prefix(workdir, spec: str, sep: str) -> str:  # type: ignore[no-untyped-def]
    path, found, rest = spec.partition(sep) if sep == ":/" else spec.rpartition(sep)
    if not found:
        return spec
    return _rel(workdir, path) + sep + rest


def _glob_rel(workdir, pattern: str) -> str:  # type: ignore[no-untyped-def]
    base = to_relpath(workdir, ".")
    return f"{base}/{pattern}" if base and not pattern.startswith("/") else pattern.lstrip("/")


def collect_deps(workdir, args: argparse.Namespace) -> list[Dep]:  # type: ignore[no-untyped-def]
    deps = [Dep("step", s) for s in args.step]
    deps += [Dep("file", _rel(workdir, f)) for f in args.file]
    deps += [Dep("glob", _glob_rel(workdir, g)) for g in args.glob]
    deps += [Dep("glob-items", _glob_rel(workdir, g)) for g in args.glob_items]
    deps += [Dep("lines", _rel_prefix(workdir, s, "::")) for s in args.lines]
    deps += [Dep("line-items", _rel_prefix(workdir, s, "::")) for s in args.line_items]
    deps += [Dep("regex", _rel_prefix(workdir, s, ":/")) for s in args.regex]
    deps += [Dep("regex-items", _rel_prefix(workdir, s, ":/")) for s in args.regex_items]
    deps += [Dep("param", _rel_prefix(workdir, s, "::")) for s in args.param]
    deps += [Dep("url", u) for u in args.url]
    deps += [Dep("generic", c) for c in args.generic]
    deps += [Dep("sqlite-query", _rel(workdir, db), sql) for db, sql in args.sqlite_query]
    deps += [Dep("schedule", s) for s in args.schedule]
    return deps


def run(args: argparse.Namespace) -> int:
    from gitdata.pipeline import stepcache

    repo = find_repo()
    if not (repo.workdir / ".gitdata").is_dir():
        raise GitDataError(f"git-data is not initialised in {repo.workdir}; run 'git data init'")
    stepcache.use(repo.data_dir)
    pipeline = model.resolve_pipeline(repo.workdir, args.pipeline)
    action = {"rm": "remove", "dependency": "dep", "output": "out"}.get(args.action, args.action)
    if action == "list":
        return _list(repo.workdir, pipeline, args.names_only, args.json)
    name = _step_name(args)
    if action == "new":
        edit.new_step(repo, pipeline, name, args.command, args.when)
        output.info(f"created step '{name}' in pipeline '{pipeline}'")
    elif action == "show":
        return _show(repo.workdir, pipeline, name, args.json)
    elif action == "update":
        if args.command is None and args.when is None:
            raise UsageError("git data step update: nothing to change (give --command and/or --when)")
        edit.update_step(repo, pipeline, name, args.command, args.when)
        output.info(f"updated step '{name}'")
    elif action == "remove":
        changed = edit.remove_step(repo, pipeline, name)
        output.info(f"removed step '{name}'" + (f"; dropped the edges from {', '.join(changed)}" if changed else ""))
    elif action == "dep":
        deps = collect_deps(repo.workdir, args)
        if not deps:
            raise UsageError("git data step dep: give at least one dependency (e.g. --file PATH)")
        edit.add_deps(repo, pipeline, name, deps)
        output.verbose(f"step '{name}' now depends on {', '.join(d.describe() for d in deps)}")
    elif action == "out":
        outs = [Output("file", _rel(repo.workdir, f)) for f in args.file]
        outs += [Output("dir", _rel(repo.workdir, d)) for d in args.dir]
        outs += [Output("metric", _rel(repo.workdir, m)) for m in args.metric]
        outs += [Output("image", _rel(repo.workdir, i)) for i in args.image]
        if not outs:
            raise UsageError("git data step out: give at least one output (--file, --dir, --metric, --image)")
        edit.add_outputs(repo, pipeline, name, outs)
    return 0


def _list(workdir, pipeline: str, names_only: bool, as_json: bool) -> int:  # type: ignore[no-untyped-def]
    if not model.pipeline_exists(workdir, pipeline) and pipeline != model.default_pipeline(workdir):
        raise GitDataError(f"no pipeline '{pipeline}'")
    steps = model.load_steps(workdir, pipeline)
    if as_json:
        output.print_json([{"name": s.name, **model.step_data(s._replace(record=None))} for s in steps])
    elif names_only:
        for step in steps:
            output.out(step.name)
    else:
        for step in steps:
            when = "" if step.when == "by_dependencies" else f" [{step.when}]"
            output.out(f"{step.name}{when}: {step.command}")
    return 0


def _show(workdir, pipeline: str, name: str, as_json: bool) -> int:  # type: ignore[no-untyped-def]
    step = model.load_step(workdir, pipeline, name)
    if as_json:
        output.print_json({"name": step.name, "pipeline": step.pipeline, "file": step.relpath,
                           **model.step_data(step)})
    else:
        output.out(f"# {step.relpath}")
        output.out(model.serialize_step(step).decode("utf-8", "surrogateescape").rstrip("\n"))
    return 0
