"""git-data: data version control and data pipelines inside git."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from gitdata.api import Repo


def __getattr__(name: str) -> Any:
    # The API pulls in pygit2; keep `import gitdata` itself free.
    if name == "Repo":
        from gitdata.api import Repo

        return Repo
    raise AttributeError(name)
