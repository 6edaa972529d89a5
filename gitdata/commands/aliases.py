"""git data aliases: short shell aliases (or git aliases) to source."""
from __future__ import annotations

import argparse
import shlex

from gitdata import output

ALIASES = (
    ("gd", ""), ("gda", "add"), ("gds", "status"), ("gdco", "checkout"), ("gdci", "commit"),
    ("gdl", "ls"), ("gdrm", "rm"), ("gdmv", "mv"), ("gdp", "push"), ("gdf", "fetch"), ("gdpl", "pull"),
    ("gdr", "run"), ("gdst", "step"), ("gdd", "diff"), ("gdcat", "cat"), ("gdgc", "gc"), ("gdu", "update"),
    ("gdiu", "import-url"),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--shell", choices=("sh", "fish"), default="sh",
                        help="syntax: sh (bash, zsh; default) or fish")
    parser.add_argument("--git", action="store_true",
                        help="print `git config` commands for git aliases (git da, git ds, ...) instead")


def run(args: argparse.Namespace) -> int:
    for line in alias_lines(args.shell, args.git):
        output.out(line)
    return 0


def alias_lines(shell: str = "sh", as_git: bool = False) -> list[str]:
    lines = ["# git-data aliases; source them, e.g. eval \"$(git data aliases)\""]
    for name, verb in ALIASES:
        command = f"git data {verb}".rstrip()
        if as_git:
            if verb:
                lines.append(f"git config --global alias.d{name[2:]} {shlex.quote('data ' + verb)}")
        elif shell == "fish":
            lines.append(f"alias {name} {shlex.quote(command)}")
        else:
            lines.append(f"alias {name}={shlex.quote(command)}")
    return lines
