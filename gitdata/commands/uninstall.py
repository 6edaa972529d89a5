"""git data uninstall: remove our hooks and merge driver, restoring earlier hooks."""
from __future__ import annotations

import argparse
from pathlib import Path

from gitdata import hooks, output


def add_arguments(parser: argparse.ArgumentParser) -> None:
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument("--global", dest="global_", action="store_true",
                       help="undo 'git data install --global' (repositories keep their hooks)")
    scope.add_argument("--local", action="store_true", help="this repository only (the default)")
    parser.add_argument("--json", action="store_true", help="machine-readable report")


def run(args: argparse.Namespace) -> int:
    report = uninstall_global() if args.global_ else uninstall_local(Path.cwd())
    if args.json:
        output.print_json(report)
    return 0


def _say(actions: list[hooks.HookAction], directory: Path) -> None:
    for action in actions:
        if action.action == "skipped":
            output.info(f"{action.name}: {action.detail}")
        elif action.action == "restored":
            output.info(f"{action.name}: removed ours; {action.detail}")
        else:
            output.verbose(f"{action.name}: {action.action}")
    output.info(f"git-data hooks removed from {directory}")


def uninstall_local(cwd: Path) -> dict[str, object]:
    from gitdata.git import find_repo

    repo = find_repo(cwd)
    directory, _ = hooks.hooks_dir(repo.workdir)
    actions = hooks.uninstall_hooks(directory)
    _say(actions, directory)
    hooks.unregister_merge_driver(repo.workdir, "local")
    for remote in hooks.remotes(repo.workdir):
        hooks.remove_notes_refspec(repo.workdir, remote)
    return {"scope": "local", "hooks_dir": str(directory), "hooks": {a.name: a.action for a in actions}}


def uninstall_global() -> dict[str, object]:
    template, _ = hooks.global_template_dir()
    directory = template / "hooks"
    actions = hooks.uninstall_hooks(directory) if directory.is_dir() else []
    _say(actions, directory)
    hooks.unregister_merge_driver(None, "global")
    if hooks.is_our_template_dir(template):
        hooks.config_unset("init.templateDir", scope="global")
        output.info("unset init.templateDir (git's own template is used again)")
    return {"scope": "global", "hooks_dir": str(directory), "hooks": {a.name: a.action for a in actions}}
