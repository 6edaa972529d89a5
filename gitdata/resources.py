"""Files shipped beside the package: hook templates and man pages."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path


def _candidates(name: str) -> list[Path]:
    checkout = Path(__file__).resolve().parent.parent / name
    installed = Path(sys.prefix) / "share" / ("man/man1" if name == "man" else f"git-data/{name}")
    return [checkout, installed]


def resource_dir(name: str) -> Path:
    """`hooks` or `man`, from a checkout or an installed prefix."""
    for candidate in _candidates(name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"git-data's {name} directory is missing from this installation")


def show_man_page(page: str) -> bool:
    """Show a man page on a terminal; False when that is not possible."""
    if not sys.stdout.isatty() or shutil.which("man") is None:
        return False
    try:
        path = resource_dir("man") / f"{page}.1"
    except FileNotFoundError:
        return False
    if not path.exists():
        return False
    return subprocess.call(["man", "-l", str(path)], env=dict(os.environ)) == 0
