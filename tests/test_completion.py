from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.testing.helpers import gd, write


def complete(script: Path, words: list[str], cwd: Path) -> list[str]:
    """Run the bash completion function as bash would for `words` (the last is being typed)."""
    quoted = " ".join(f"'{w}'" for w in words)
    program = f"source {script}; COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}; _git_data; " \
              'printf "%s\\n" "${COMPREPLY[@]}"'
    proc = subprocess.run(["bash", "-c", program], cwd=cwd, capture_output=True, text=True, check=True)
    return [line for line in proc.stdout.splitlines() if line]


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_bash_completes_verbs_paths_steps_and_storages(repo: Path, tmp_path: Path) -> None:
    script = tmp_path / "git-data.bash"
    script.write_text(gd("completion", "bash").stdout)
    write(repo / "images" / "cat.png", "png")
    write(repo / "labels.csv", "a,b\n")
    gd("add", "images", "labels.csv")
    gd("storage", "add", "backup", str(tmp_path / "store"))
    write(repo / ".gitdata" / "pipelines" / "train" / "featurize.yaml", "cmd: true\n")

    assert "diff" in complete(script, ["git", "data", "di"], repo)
    assert "import-url" in complete(script, ["git", "data", "im"], repo)
    assert complete(script, ["git", "data", "cat", "ima"], repo)[:2] == ["images", "images/cat.png"]
    assert "labels.csv" in complete(script, ["git", "data", "diff", "-r", "HEAD", "lab"], repo)
    assert complete(script, ["git", "data", "gc", "--storage", ""], repo) == ["backup"]
    assert "--older-than" in complete(script, ["git", "data", "gc", "--o"], repo)
    assert "featurize" in complete(script, ["git", "data", "run", "f"], repo)
    sub = repo / "images"
    assert "cat.png" in complete(script, ["git", "data", "cat", "c"], sub)


def test_zsh_and_fish_scripts_and_aliases(repo: Path) -> None:
    zsh = gd("completion", "zsh").stdout
    assert "compdef _git-data git-data" in zsh and "--list verbs" in zsh
    fish = gd("completion", "fish").stdout
    assert "complete -c $cmd" in fish and "--list storages" in fish
    if shutil.which("fish"):
        subprocess.run(["fish", "--no-execute", "-c", fish], check=True)
    assert gd("completion", check=False).returncode == 2
    assert gd("completion", "tcsh", check=False).returncode == 2

    aliases = gd("aliases").stdout.splitlines()
    assert "alias gd='git data'" in aliases and "alias gds='git data status'" in aliases
    proc = subprocess.run(["bash", "-c", gd("aliases").stdout + "\nshopt -s expand_aliases\nalias gda"],
                          capture_output=True, text=True)
    assert proc.stdout.strip() == "alias gda='git data add'"
    assert "alias gda 'git data add'" in gd("aliases", "--shell", "fish").stdout
    assert "git config --global alias.da 'data add'" in gd("aliases", "--git").stdout
