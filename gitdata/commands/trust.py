"""git data trust: review and approve the commands committed files want to run here.

Generic storage templates in .gitdata/config, and pipeline step commands and URL
dependencies under .gitdata/pipelines/, come from whoever wrote the commit; they
run (or are requested) only once their exact text was approved in this clone."""
from __future__ import annotations

import argparse
import sys
from typing import Any, Iterator, NamedTuple

from gitdata import config, output
from gitdata.errors import GitDataError
from gitdata.git import GitRepo, find_repo
from gitdata.storage.generic import TEMPLATES
from gitdata.trust import approve, is_trusted

PIPELINES_DIR = ".gitdata/pipelines"


class Command(NamedTuple):
    where: str
    text: str


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-l", "--list", action="store_true", help="only list the commands and whether they are trusted")
    parser.add_argument("-y", "--yes", action="store_true", help="approve every untrusted command without asking")
    parser.add_argument("--json", action="store_true", help="machine-readable list")


def storage_commands(repo: GitRepo) -> Iterator[Command]:
    for key, value in sorted(config.values(repo).items()):
        parts = key.split(".")
        if parts[0] == "storage" and len(parts) >= 3 and parts[-1] in TEMPLATES and value.strip():
            yield Command(f".gitdata/config: storage '{'.'.join(parts[1:-1])}' {parts[-1]}", value)


def _commands_in(value: Any, trail: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("command", "cmd", "url") and isinstance(item, str) and item.strip():
                yield f"{trail}{key}", item
            else:
                yield from _commands_in(item, f"{trail}{key}.")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _commands_in(item, f"{trail}{index}.")


def pipeline_commands(repo: GitRepo) -> Iterator[Command]:
    import yaml

    root = repo.workdir / PIPELINES_DIR
    if not root.is_dir():
        return
    for path in sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()):
        rel = path.relative_to(repo.workdir).as_posix()
        try:
            data = yaml.safe_load(path.read_text(errors="replace"))
        except yaml.YAMLError as exc:
            output.warn(f"{rel}: not valid YAML ({str(exc).splitlines()[0]}); skipped")
            continue
        for trail, text in _commands_in(data, ""):
            yield Command(f"{rel}: {trail}", text)


def committed_commands(repo: GitRepo) -> list[Command]:
    return [*storage_commands(repo), *pipeline_commands(repo)]


def _ask(command: Command) -> bool:
    sys.stderr.write(f"\n{command.where}:\n    {command.text}\nTrust it? [y/N] ")
    sys.stderr.flush()
    answer = sys.stdin.readline().strip().lower()
    return answer in ("y", "yes")


def run(args: argparse.Namespace) -> int:
    repo = find_repo()
    if not (repo.workdir / ".gitdata" / "config").exists():
        raise GitDataError(f"git-data is not initialised in {repo.workdir}; run 'git data init'")
    commands = committed_commands(repo)
    untrusted = [c for c in commands if not is_trusted(repo, c.text)]
    if args.list or args.json:
        if args.json:
            output.print_json([{"where": c.where, "command": c.text, "trusted": is_trusted(repo, c.text)}
                               for c in commands])
        else:
            for c in commands:
                mark = "trusted  " if is_trusted(repo, c.text) else "UNTRUSTED"
                output.out(f"{mark}  {c.where}\n           {c.text}")
            if not commands:
                output.info("no commands in committed files")
        return 0
    if not untrusted:
        output.info(f"nothing to approve: {len(commands)} command(s), all trusted")
        return 0
    if args.yes:
        approved = untrusted
        for c in untrusted:
            output.info(f"approved: {c.where}: {c.text}")
    elif sys.stdin.isatty():
        approved = [c for c in untrusted if _ask(c)]
    else:
        for c in untrusted:
            output.out(f"UNTRUSTED  {c.where}\n           {c.text}")
        raise GitDataError(f"{len(untrusted)} untrusted command(s); review them, then run 'git data trust --yes'")
    approve(repo, [c.text for c in approved])
    output.info(f"approved {len(approved)} of {len(untrusted)} untrusted command(s)")
    return 0
