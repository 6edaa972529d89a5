"""git data install: the git hooks, the merge driver and the notes refspecs."""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from gitdata import hooks, output


def add_arguments(parser: argparse.ArgumentParser) -> None:
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument("--global", dest="global_", action="store_true",
                       help="set up your git so every future clone and init gets the hooks")
    scope.add_argument("--local", action="store_true", help="this repository only (the default)")
    parser.add_argument("--json", action="store_true", help="machine-readable report")


def run(args: argparse.Namespace) -> int:
    report = install_global() if args.global_ else install_local(Path.cwd())
    if args.json:
        output.print_json(report)
    return 0


def _say(actions: list[hooks.HookAction], directory: Path) -> None:
    for action in actions:
        detail = f" ({action.detail})" if action.detail else ""
        if action.action == "skipped":
            output.warn(f"{action.name}: {action.detail}")
        else:
            output.verbose(f"{action.name}: {action.action}{detail}")
            if action.action == "chained":
                output.info(f"{action.name}: kept your existing hook; it runs before ours{detail}")
    output.info(f"git-data hooks installed in {directory}")


def install_local(cwd: Path) -> dict[str, object]:
    from gitdata.git import find_repo

    repo = find_repo(cwd)
    directory, hooks_path = hooks.hooks_dir(repo.workdir)
    if hooks_path:
        output.info(f"core.hooksPath is set to '{hooks_path}': installing the hooks there")
    actions = hooks.install_hooks(directory)
    _say(actions, directory)
    hooks.register_merge_driver(repo.workdir, "local")
    staged = []
    if (repo.workdir / ".gitdata").is_dir() and hooks.ensure_gitattributes(repo.workdir):
        from gitdata import git

        git.stage(repo, [".gitattributes"])
        staged.append(".gitattributes")
        output.info(f"added '{hooks.ATTRIBUTES_LINE}' to .gitattributes (staged; commit it)")
    refspecs = [r for r in hooks.remotes(repo.workdir) if hooks.ensure_notes_refspec(repo.workdir, r)]
    hooks.touch_sync_stamp(repo.git_dir)
    return {"scope": "local", "hooks_dir": str(directory), "core_hooks_path": hooks_path,
            "hooks": {a.name: a.action for a in actions}, "staged": staged, "notes_fetch_added": refspecs}


def install_global() -> dict[str, object]:
    template, configure = hooks.global_template_dir()
    directory = template / "hooks"
    actions = hooks.install_hooks(directory)
    if configure:
        hooks.config_set("init.templateDir", str(template), scope="global")
        output.info(f"set init.templateDir to {template}")
    _say(actions, directory)
    hooks.register_merge_driver(None, "global")
    if os.environ.get("GIT_TEMPLATE_DIR"):
        output.warn(f"GIT_TEMPLATE_DIR is set ({os.environ['GIT_TEMPLATE_DIR']}) and overrides init.templateDir "
                    "while it is")
    global_hooks_path = hooks.config_get("core.hooksPath", scope="global")
    if global_hooks_path:
        output.warn(f"core.hooksPath is set globally to '{global_hooks_path}': git runs hooks from there, not "
                    "from the template; run 'git data install' inside each repository")
    output.info("every new 'git clone' and 'git init' now gets the hooks; "
                "run 'git data install' in repositories you already have")
    return {"scope": "global", "template_dir": str(template), "hooks_dir": str(directory),
            "hooks": {a.name: a.action for a in actions}}
