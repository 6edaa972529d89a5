"""git data version."""
from __future__ import annotations

import argparse

from gitdata import __version__, output


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    output.out(f"git-data {__version__}")
    return 0
