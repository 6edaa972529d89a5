"""git data cp (copy): copy tracked files, globs and directories. The copy shares
the source's cache object, so it costs no space with symlink, hardlink or reflink."""
from __future__ import annotations

import argparse

from gitdata.commands.mv import add_shared_arguments, run_shared


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_shared_arguments(parser, "copy")


def run(args: argparse.Namespace) -> int:
    return run_shared(args, keep_source=True)
