"""git data pipeline new|list|update|delete|dag|export|import."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from gitdata import output
from gitdata.errors import GitDataError, UsageError
from gitdata.git import find_repo
from gitdata.paths import to_relpath
from gitdata.pipeline import edit, model


def _pipeline_arg(parser: argparse.ArgumentParser, required: bool = False) -> None:
    parser.add_argument("name", nargs="?", metavar="NAME", help="the pipeline")
    parser.add_argument("-p", "--pipeline-name", "--name", dest="pipeline", metavar="NAME", help=argparse.SUPPRESS)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    new = sub.add_parser("new", help="create a pipeline")
    _pipeline_arg(new)
    new.add_argument("--workdir", metavar="DIR", help="where its commands run (default: the repository root)")
    new.add_argument("--set-default", action="store_true", help="make it the default pipeline")

    lst = sub.add_parser("list", help="list pipelines")
    lst.add_argument("--json", action="store_true", help="machine-readable output")

    update = sub.add_parser("update", help="rename a pipeline, change its workdir, make it the default")
    _pipeline_arg(update)
    update.add_argument("--rename", metavar="NEW", help="the new name")
    update.add_argument("--workdir", metavar="DIR", help="where its commands run")
    update.add_argument("--set-default", action="store_true", help="make it the default pipeline")

    delete = sub.add_parser("delete", aliases=["rm"], help="delete a pipeline and its steps")
    _pipeline_arg(delete)

    dag = sub.add_parser("dag", help="draw the pipeline graph (same as 'git data dag')")
    from gitdata.commands.dag import add_arguments as dag_arguments

    dag_arguments(dag)

    export = sub.add_parser("export", help="write a pipeline's definition as YAML or JSON")
    _pipeline_arg(export)
    export.add_argument("--format", choices=("yaml", "json"), help="default: from --file's extension, else yaml")
    export.add_argument("--file", "-o", dest="file", metavar="FILE", help="write to FILE (default: stdout)")

    imp = sub.add_parser("import", help="create a pipeline from an export")
    imp.add_argument("--file", "-i", dest="file", metavar="FILE", help="read FILE (default: stdin, with --format)")
    imp.add_argument("--format", choices=("yaml", "json"), help="the format (default: from the extension)")
    imp.add_argument("--pipeline-name", "-p", "--name", dest="pipeline", metavar="NAME",
                     help="name of the new pipeline (default: the name in the file)")
    imp.add_argument("--overwrite", action="store_true", help="replace a pipeline of that name")


def _name(args: argparse.Namespace, workdir: Path) -> str:
    name = args.name or args.pipeline
    return model.check_name(name, "pipeline") if name else model.default_pipeline(workdir)


def _workdir_arg(repo_workdir: Path, value: str) -> str:
    rel = to_relpath(repo_workdir, value)
    if rel and not (repo_workdir / rel).is_dir():
        raise GitDataError(f"--workdir '{value}' is not a directory")
    return rel


def run(args: argparse.Namespace) -> int:
    action = {"rm": "delete"}.get(args.action, args.action)
    if action == "dag":
        from gitdata.commands.dag import draw

        return draw(args.pipeline, args.format, args.file)
    repo = find_repo()
    workdir = repo.workdir
    if not (workdir / ".gitdata").is_dir():
        raise GitDataError(f"git-data is not initialised in {workdir}; run 'git data init'")
    if action == "list":
        return _list(workdir, args.json)
    if action == "import":
        return _import(workdir, args)
    name = _name(args, workdir)
    if action == "new":
        if not (args.name or args.pipeline):
            raise UsageError("git data pipeline new: a NAME is required")
        edit.new_pipeline(workdir, name, _workdir_arg(workdir, args.workdir) if args.workdir else "")
        if args.set_default:
            model.set_default_pipeline(workdir, name)
        output.info(f"created pipeline '{name}'")
    elif action == "update":
        if not (args.rename or args.workdir is not None or args.set_default):
            raise UsageError("git data pipeline update: nothing to change (--rename, --workdir, --set-default)")
        new = edit.update_pipeline(workdir, name, args.rename,
                                   _workdir_arg(workdir, args.workdir) if args.workdir is not None else None,
                                   args.set_default)
        output.info(f"updated pipeline '{new}'")
    elif action == "delete":
        count = edit.delete_pipeline(workdir, name)
        output.info(f"deleted pipeline '{name}' and its {count} step(s)")
    elif action == "export":
        fmt = args.format or ("json" if args.file and args.file.endswith(".json") else "yaml")
        data = edit.export_data(workdir, name)
        text = json.dumps(data, indent=2, sort_keys=True) + "\n" if fmt == "json" else \
            model.dump_yaml(data).decode("utf-8", "surrogateescape")
        if args.file:
            from gitdata.fsutil import atomic_write

            atomic_write(Path(args.file).absolute(), text.encode("utf-8", "surrogateescape"))
            output.info(f"exported pipeline '{name}' to {args.file}")
        else:
            sys.stdout.write(text)
    return 0


def _list(workdir: Path, as_json: bool) -> int:
    default = model.default_pipeline(workdir)
    names = model.pipeline_names(workdir)
    if default not in names:
        names = sorted(names + [default])
    rows = []
    for name in names:
        pipeline = model.load_pipeline(workdir, name)
        rows.append({"name": name, "default": name == default, "workdir": pipeline.workdir or ".",
                     "steps": len(model.step_files(workdir, name))})
    if as_json:
        output.print_json(rows)
        return 0
    for row in rows:
        mark = "*" if row["default"] else " "
        where = f", workdir {row['workdir']}" if row["workdir"] != "." else ""
        output.out(f"{mark} {row['name']} ({row['steps']} step(s){where})")
    return 0


def _import(workdir: Path, args: argparse.Namespace) -> int:
    if args.file and args.file != "-":
        try:
            raw = Path(args.file).read_bytes()
        except OSError as exc:
            raise GitDataError(f"cannot read {args.file}: {exc.strerror}") from None
        source = args.file
        fmt = args.format or ("json" if args.file.endswith(".json") else "yaml")
    else:
        if not args.format:
            raise UsageError("git data pipeline import: reading standard input needs --format yaml|json")
        raw, source, fmt = sys.stdin.buffer.read(), "<stdin>", args.format
    try:
        if fmt == "json":
            data = json.loads(raw)
        else:
            import yaml

            data = yaml.load(raw, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except Exception as exc:  # noqa: BLE001 - json and yaml errors alike
        raise GitDataError(f"{source}: not valid {fmt.upper()}: {str(exc).splitlines()[0]}") from None
    steps = edit.import_data(workdir, data, source, args.pipeline, args.overwrite)
    name = steps[0].pipeline if steps else (args.pipeline or (data or {}).get("name"))
    output.info(f"imported pipeline '{name}' with {len(steps)} step(s); "
                "review the commands, then approve them with 'git data trust'")
    return 0
