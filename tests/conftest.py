"""Every test runs with its own HOME, git identity and template dir, and the real
`git-data` executable of this interpreter's environment first on PATH."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.testing.helpers import gd, git, venv_bin
from tests.testing.s3server import s3_bucket, s3_server  # noqa: F401 - fixtures


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("home")
    templates = tmp_path_factory.mktemp("git-templates")
    for name in list(os.environ):
        if name.startswith(("GIT_", "GITDATA_", "AWS_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_TEMPLATE_DIR", str(templates))
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Test User")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "test@example.com")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Test User")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "test@example.com")
    monkeypatch.setenv("PATH", venv_bin() + os.pathsep + os.environ["PATH"])
    monkeypatch.delenv("NO_COLOR", raising=False)
    (home / ".gitconfig").write_text("[init]\n\tdefaultBranch = main\n[user]\n\tname = Test User\n\temail = test@example.com\n")
    return home


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh git repository with git-data initialised, as the current directory."""
    path = tmp_path / "repo"
    path.mkdir()
    git("init", "-q", cwd=path)
    gd("init", cwd=path)
    monkeypatch.chdir(path)
    return path
