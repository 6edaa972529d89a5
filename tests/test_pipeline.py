"""Pipelines: runs, re-runs, the graph, failures, outputs, commits and pushes."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.testing.helpers import cache_objects, gd, git, ran, write

STEPS = ".gitdata/pipelines/default"


def step(name: str, command: str | None = None, *deps: str) -> None:
    gd("step", "new", name, "--command", command or f"echo {name} >> .ran-log")
    if deps:
        gd("step", "dep", name, *deps)


def test_runs_once_then_only_what_changed(repo: Path) -> None:
    for i in range(3):
        write(repo / "in" / f"{i}.txt", f"input {i}\n")
        step(f"s{i}", None, "--file", f"in/{i}.txt")
    result = gd("run", "-j", "2")
    assert sorted(ran(repo)) == ["s0", "s1", "s2"]
    assert "3 ran" in result.stderr
    record = (repo / STEPS / "s1.yaml").read_text()
    assert "last_run:" in record and "file:in/1.txt: b3:" in record
    result = gd("run")
    assert ran(repo) == [] and "everything is up to date (3 step(s))" in result.stderr
    assert [o["result"] for o in json.loads(gd("run", "--json").stdout)] == ["fresh"] * 3
    before = (repo / STEPS / "s1.yaml").read_bytes()
    gd("run")
    assert (repo / STEPS / "s1.yaml").read_bytes() == before  # nothing changes when nothing changed
    write(repo / "in" / "1.txt", "changed\n")
    assert "changed: file in/1.txt" in gd("run", "--dry-run").stdout
    assert ran(repo) == []
    gd("run")
    assert ran(repo) == ["s1"]
    gd("step", "update", "s2", "--command", "echo s2-new >> .ran-log")
    gd("run")
    assert ran(repo) == ["s2-new"]


def test_step_file_is_stable_and_validated_with_line_numbers(repo: Path) -> None:
    step("train", "echo train >> .ran-log", "--file", "b.txt", "--file", "a.txt", "--param", "p.yaml::lr")
    text = (repo / STEPS / "train.yaml").read_text()
    assert text == ("command: echo train >> .ran-log\ndeps:\n- file: a.txt\n- file: b.txt\n"
                    "- param: p.yaml::lr\n")
    write(repo / STEPS / "bad.yaml", "command: x\ndeps:\n- file: a.txt\n- flie: b.txt\n")
    result = gd("run", check=False)
    assert result.returncode == 1
    assert f"{STEPS}/bad.yaml:4: a dependency needs exactly one of" in result.stderr
    write(repo / STEPS / "bad.yaml", "command: x\nwhen: sometimes\n")
    assert f"{STEPS}/bad.yaml:2: when must be one of" in gd("run", check=False).stderr
    write(repo / STEPS / "bad.yaml", "command: [x\n")
    assert "bad.yaml:2: invalid YAML" in gd("step", "list", check=False).stderr
    (repo / STEPS / "bad.yaml").unlink()
    assert "Traceback" not in gd("step", "show", "nope", check=False).stderr


def test_implicit_edges_order_and_propagate(repo: Path) -> None:
    write(repo / "raw.txt", "raw\n")
    step("report", "cat model/m.txt > report.txt && echo report >> .ran-log", "--file", "model/m.txt")
    step("train", "mkdir -p model && cat raw.txt raw.txt > model/m.txt && echo train >> .ran-log",
         "--file", "raw.txt")
    gd("step", "out", "train", "--dir", "model")
    gd("step", "out", "report", "--file", "report.txt")
    ascii_dag = gd("dag", "--format", "ascii").stdout
    assert "train  <- raw.txt" in ascii_dag and "└── report  (via model)" in ascii_dag
    assert '"step:train" -> "file:model"' in gd("dag", "--format", "dot").stdout
    gd("run", "-j", "4")
    assert ran(repo) == ["train", "report"]
    assert (repo / "report.txt").read_text() == "raw\nraw\n"
    write(repo / "raw.txt", "new\n")
    status = json.loads(gd("status", "--json").stdout)["steps"]
    assert {s["step"]: s["state"] for s in status} == {"train": "stale", "report": "upstream"}
    assert "upstream stale: train" in {s["step"]: s for s in status}["report"]["reasons"]
    gd("run")
    assert ran(repo) == ["train", "report"]
    assert (repo / "report.txt").read_text() == "new\nnew\n"
    record = (repo / STEPS / "train.yaml").read_text()
    assert "    model: dir b3:" in record and "model/m.txt:" not in record   # one line per directory
    shutil.rmtree(repo / "model")
    shutil.rmtree(repo / ".git" / "data" / "runs")   # the listing comes back from the manifests
    assert "restored train from the cache" in gd("run").stderr
    assert ran(repo) == [] and (repo / "model" / "m.txt").read_text() == "new\nnew\n"


def test_cycles_are_refused_naming_them(repo: Path) -> None:
    step("a", "cp b.txt a.txt", "--file", "b.txt")
    step("b", "cp a.txt b.txt", "--file", "a.txt")
    gd("step", "out", "a", "--file", "a.txt")
    result = gd("step", "out", "b", "--file", "b.txt", check=False)
    assert result.returncode == 1 and "cycle: a -> b -> a" in result.stderr
    write(repo / STEPS / "b.yaml", "command: cp a.txt b.txt\ndeps:\n- file: a.txt\noutputs:\n- file: b.txt\n")
    result = gd("run", check=False)
    assert result.returncode == 1 and "the pipeline has a cycle: a -> b -> a" in result.stderr
    result = gd("step", "dep", "a", "--step", "a", check=False)
    assert "cannot depend on itself" in result.stderr
    write(repo / STEPS / "b.yaml", "command: cp a.txt b.txt\ndeps:\n- step: b\noutputs:\n- file: b.txt\n")
    result = gd("run", check=False)
    assert result.returncode == 1 and "the pipeline has a cycle: b -> b" in result.stderr
    gd("step", "remove", "b")
    step("c", "echo y >> c.txt", "--file", "c.txt")
    result = gd("step", "out", "c", "--file", "c.txt", check=False)
    assert result.returncode == 1
    assert "the pipeline has a cycle: c -> c ('c.txt' is its output and its dependency)" in result.stderr
    step("g", "mkdir -p raw/clean; cp raw/*.csv raw/clean/", "--glob", "raw/*.csv")
    gd("step", "out", "g", "--dir", "raw/clean")   # the glob does not reach into its output


def test_failure_stops_dependents_and_keep_going_runs_the_rest(repo: Path) -> None:
    step("bad", "echo oops >&2; echo bad >> .ran-log; exit 3")
    step("after", None, "--step", "bad")
    step("other", "sleep 0.3; echo other >> .ran-log")
    result = gd("run", "-j", "1", check=False)
    assert result.returncode == 1
    assert "step 'bad' failed (exit code 3)" in result.stderr and "    oops" in result.stderr
    log = result.stderr.split("full log: ")[1].split()[0]
    assert "oops" in Path(log).read_text()
    assert "after not run: upstream step 'bad' failed" in result.stderr
    assert "other" not in ran(repo)
    result = gd("run", "--keep-going", check=False)
    assert result.returncode == 1
    assert sorted(ran(repo)) == ["bad", "other"]
    assert "last_run" not in (Path(STEPS) / "bad.yaml").read_text()


def test_when_always_and_never_and_force(repo: Path) -> None:
    step("always", None)
    gd("step", "update", "always", "--when", "always")
    step("never", None)
    gd("step", "update", "never", "--when", "never")
    step("normal", None)
    gd("run")
    assert sorted(ran(repo)) == ["always", "normal"]
    gd("run")
    assert ran(repo) == ["always"]
    gd("run", "--force", "normal")
    assert sorted(ran(repo)) == ["always", "normal"]
    gd("run", "normal")
    assert ran(repo) == []
    assert "Disabled steps" in gd("status").stdout
    only = gd("status", "-s", "disabled").stdout
    assert "never" in only and "normal" not in only and "Up-to-date" not in only
    hidden = gd("status", "-x", "fresh,stale").stdout
    assert "never" in hidden and "always" not in hidden
    assert "unknown step status 'bogus'" in gd("status", "-s", "bogus", check=False).stderr


def test_when_always_step_with_outputs_runs_instead_of_being_restored(repo: Path) -> None:
    step("fetch", "echo fetch >> .ran-log; date +%s%N > latest.txt")
    gd("step", "update", "fetch", "--when", "always")
    gd("step", "out", "fetch", "--file", "latest.txt")
    gd("run")
    first = (repo / "latest.txt").read_text()
    result = gd("run")
    assert ran(repo) == ["fetch", "fetch"] and "restored" not in result.stderr
    assert (repo / "latest.txt").read_text() != first


def test_parallel_with_one_global_bound_and_no_level_barriers(repo: Path) -> None:
    stamp = 'echo {} $(date +%s.%N) >> times.log'
    step("slow", f"{stamp.format('slow-start')}; sleep 1.2; {stamp.format('slow-end')}")
    step("quick", f"{stamp.format('quick-start')}; {stamp.format('quick-end')}")
    step("next", f"{stamp.format('next-start')}; sleep 0.2; {stamp.format('next-end')}", "--step", "quick")
    for i in range(4):
        step(f"p{i}", f"{stamp.format(f'p{i}-start')}; sleep 0.3; {stamp.format(f'p{i}-end')}")
    gd("run", "-j", "3")
    times = {k: float(v) for k, v in (line.split() for line in (repo / "times.log").read_text().splitlines())}
    # `next` waits for `quick` only, never for the slow step at the same "level"
    assert times["next-start"] < times["slow-end"]
    events = sorted((t, +1 if k.endswith("start") else -1) for k, t in times.items())
    running = peak = 0
    for _, change in events:
        running += change
        peak = max(peak, running)
    assert peak <= 3 and peak >= 2


def test_outputs_are_cached_recorded_and_restored_instead_of_recomputed(repo: Path) -> None:
    write(repo / "params.yaml", "size: 1\nother: a\n")
    step("make", "python3 -c \"import yaml;n=yaml.safe_load(open('params.yaml'))['size'];"
         "open('out.txt','w').write('x'*n)\" && echo make >> .ran-log", "--param", "params.yaml::size")
    gd("step", "out", "make", "--file", "out.txt")
    gd("run")
    assert ran(repo) == ["make"]
    assert [p.read_bytes() for p in cache_objects(repo)] == [b"x"]
    assert "out.txt" in (repo / ".gitdata/tree/%manifest").read_text()
    assert "/out.txt" in (repo / ".gitignore").read_text().splitlines()
    assert "out.txt: b3:" in (repo / STEPS / "make.yaml").read_text()
    staged = git("diff", "--cached", "--name-only").stdout.split()
    assert {".gitdata/tree/%manifest", ".gitignore", f"{STEPS}/make.yaml"} <= set(staged)
    (repo / "out.txt").unlink()
    assert "output missing: out.txt" in gd("status").stdout
    assert "restored make from the cache" in gd("run").stderr
    assert ran(repo) == [] and (repo / "out.txt").read_text() == "x"
    write(repo / "params.yaml", "size: 2\nother: a\n")
    gd("run")
    assert ran(repo) == ["make"] and (repo / "out.txt").read_text() == "xx"
    write(repo / "params.yaml", "size: 1\nother: b\n")   # inputs seen before: the run cache has them
    gd("run")
    assert ran(repo) == [] and (repo / "out.txt").read_text() == "x"
    write(repo / "params.yaml", "size: 2\nother: b\n")
    gd("run", "--no-restore")
    assert ran(repo) == ["make"] and (repo / "out.txt").read_text() == "xx"


def test_hand_modified_output_is_kept_in_the_cache_before_a_rerun(repo: Path) -> None:
    step("make", "echo made > out.txt")
    gd("step", "out", "make", "--file", "out.txt")
    gd("run")
    write(repo / "out.txt", "precious edit\n")
    assert "output modified: out.txt" in gd("status").stdout
    gd("run", "--no-restore")
    assert (repo / "out.txt").read_text() == "made\n"
    assert b"precious edit\n" in [p.read_bytes() for p in cache_objects(repo)]


def test_outputs_through_a_symlink_out_of_the_repository_are_refused(repo: Path, tmp_path: Path) -> None:
    scratch = write(tmp_path / "scratch" / "notes.txt", "a colleague's only copy\n").parent
    (repo / "features").symlink_to(scratch)
    step("feat", "echo f > features/feat.bin")
    result = gd("step", "out", "feat", "--dir", "features", check=False)
    assert result.returncode == 1
    assert "refusing output 'features': a symlink leads it outside the repository" in result.stderr
    write(repo / STEPS / "feat.yaml", "command: echo f > features/feat.bin\noutputs:\n- dir: features\n")
    gd("trust", "--yes")
    result = gd("run", check=False)
    assert result.returncode == 1 and "step 'feat': refusing output 'features'" in result.stderr
    assert sorted(p.name for p in scratch.iterdir()) == ["notes.txt"]
    (repo / "features").unlink()
    outside = write(tmp_path / "outside.txt", "not ours\n")
    step("made", f"mkdir -p od; ln -s {outside} od/link; echo a > od/a")
    gd("step", "out", "made", "--dir", "od")
    result = gd("run", "made", check=False)
    assert result.returncode == 1 and "refusing output 'od/link'" in result.stderr
    assert not (repo / ".gitdata/tree/od").exists()


def test_overlapping_outputs_are_refused_in_any_pipeline(repo: Path) -> None:
    step("c", "mkdir -p od/sub; echo c > od/sub/f")
    gd("step", "out", "c", "--dir", "od")
    step("d")
    result = gd("step", "out", "d", "--file", "od/sub/g", check=False)
    assert result.returncode == 1 and "'od/sub/g' is inside 'od', an output of step 'c'" in result.stderr
    gd("step", "out", "d", "--file", "dd/d.txt")
    result = gd("step", "out", "c", "--dir", "dd", check=False)
    assert result.returncode == 1 and "'dd' holds 'dd/d.txt', an output of step 'd'" in result.stderr
    gd("pipeline", "new", "p2")
    gd("step", "new", "-p", "p2", "b", "--command", "echo B > dd/d.txt")
    result = gd("step", "out", "-p", "p2", "b", "--file", "dd/d.txt", check=False)
    assert result.returncode == 1
    assert "'dd/d.txt' is already an output of step 'd' in pipeline 'default'" in result.stderr
    assert "outputs" not in (repo / ".gitdata/pipelines/p2/b.yaml").read_text()
    gd("step", "out", "c", "--dir", "od")   # declaring its own output again is fine


def test_git_datas_own_files_cannot_be_outputs(repo: Path) -> None:
    write(repo / "f", "x\n")
    gd("add", "f")
    git("commit", "-qm", "f")
    step("a", "true")
    for flag, path in (("--dir", ".gitdata/tree"), ("--file", ".gitdata/config")):
        result = gd("step", "out", "a", flag, path, check=False)
        assert result.returncode == 1 and f"'{path}' cannot be an output" in result.stderr
        assert "git rm --cached" not in result.stderr


def test_a_directory_output_holds_only_what_the_command_made(repo: Path) -> None:
    step("d", "mkdir -p outd && echo x > outd/f1 && echo y > outd/f2")
    gd("step", "out", "d", "--dir", "outd")
    gd("run")
    write(repo / "outd" / "f1", "hand edit, only copy\n")
    gd("step", "update", "d", "--command", "mkdir -p outd && echo x2 > outd/f1")
    gd("run")
    assert sorted(p.name for p in (repo / "outd").iterdir()) == ["f1"]
    manifest = (repo / ".gitdata/tree/outd/%manifest").read_text()
    assert "f1" in manifest and "f2" not in manifest
    assert b"hand edit, only copy\n" in [p.read_bytes() for p in cache_objects(repo)]


def test_missing_output_fails_the_step(repo: Path) -> None:
    step("lazy", "true")
    gd("step", "out", "lazy", "--file", "never.txt")
    result = gd("run", check=False)
    assert result.returncode == 1 and "did not produce its output 'never.txt'" in result.stderr


def test_untrusted_committed_command_does_not_run(repo: Path) -> None:
    write(repo / STEPS / "evil.yaml", "command: echo evil >> .ran-log\n")
    result = gd("run", check=False)
    assert result.returncode == 1 and "not trusted" in result.stderr and ran(repo) == []
    gd("trust", "--yes")
    gd("run")
    assert ran(repo) == ["evil"]


def test_per_step_commit_with_message_summary_and_push(repo: Path, tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    git("init", "-q", "--bare", str(remote))
    git("remote", "add", "origin", str(remote))
    git("commit", "-q", "--allow-empty", "-m", "start")
    git("push", "-q", "-u", "origin", "main")
    script = ("from gitdata.step import commit, summary; open('m.txt','w').write('m');"
              "summary('accuracy 0.9'); commit('train: accuracy 0.9')")
    write(repo / "train.py", script)
    step("train", f"{os.environ.get('PYTHON', 'python3')} train.py", "--file", "train.py")
    gd("step", "out", "train", "--file", "m.txt")
    env = {"PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    result = gd("run", "--commit", "--push", "end", "-P", env=env)
    assert "train: accuracy 0.9" in result.stdout
    message = git("log", "-1", "--format=%B").stdout
    assert message.startswith("train: accuracy 0.9\n\naccuracy 0.9")
    committed = git("show", "--name-only", "--format=", "HEAD").stdout.split()
    assert f"{STEPS}/train.yaml" in committed and ".gitdata/tree/%manifest" in committed
    assert git("rev-parse", "HEAD").stdout == git("rev-parse", "main", cwd=remote).stdout


def test_run_commit_commits_exactly_what_the_step_recorded(repo: Path) -> None:
    step("make", "echo x > o.txt; mkdir -p od/sub; echo a > od/a; echo b > od/sub/b")
    gd("step", "out", "make", "--file", "o.txt", "--dir", "od")
    git("add", "-A", ".gitdata")
    git("commit", "-qm", "step")
    gd("run")                           # records and stages the outputs, no commit
    write(repo / "unrelated.bin", "staged, not ready to commit\n")
    gd("add", "unrelated.bin")
    gd("run", "--commit", "-f", "make")
    assert gd("cat", "-r", "HEAD", "o.txt").stdout == "x\n"
    assert gd("cat", "-r", "HEAD", "od/sub/b").stdout == "b\n"
    committed = git("show", "HEAD:.gitdata/tree/%manifest").stdout + git("show", "HEAD:.gitignore").stdout
    assert "o.txt" in committed and "/od" in committed and "unrelated.bin" not in committed
    assert git("status", "--short").stdout.splitlines() == ["M  .gitdata/tree/%manifest", "M  .gitignore"]
    git("commit", "-qm", "unrelated")
    assert "unrelated.bin" in git("show", "HEAD:.gitdata/tree/%manifest").stdout


def test_run_pushes_outputs_to_the_storage(repo: Path, tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    git("init", "-q", "--bare", str(remote))
    git("remote", "add", "origin", str(remote))
    git("commit", "-q", "--allow-empty", "-m", "start")
    git("push", "-q", "-u", "origin", "main")
    store = tmp_path / "store"
    gd("storage", "add", "--default", "loc", str(store))
    step("make", "echo data > out.bin")
    gd("step", "out", "make", "--file", "out.bin")
    gd("run", "--commit", "--push", "each")
    stored = [p.read_bytes() for p in store.rglob("*") if p.is_file()]
    assert b"data\n" in stored
    for obj in cache_objects(repo):      # a fresh clone would have neither cache nor output
        obj.chmod(0o644)
        obj.unlink()
    (repo / "out.bin").unlink()
    gd("step", "update", "make", "--command", "echo data > out.bin; echo make >> .ran-log")
    gd("run", "--no-restore")
    assert ran(repo) == ["make"]
    for obj in cache_objects(repo):
        obj.chmod(0o644)
        obj.unlink()
    (repo / "out.bin").unlink()
    assert "restored make from the cache" in gd("run").stderr
    assert ran(repo) == [] and (repo / "out.bin").read_text() == "data\n"


def test_export_import_round_trip(repo: Path, tmp_path: Path) -> None:
    step("a", None, "--file", "x.txt", "--param", "p.json::k")
    step("b", None, "--step", "a")
    gd("step", "out", "a", "--metric", "m.json")
    exported = gd("pipeline", "export").stdout
    target = tmp_path / "p.json"
    gd("pipeline", "export", "--file", str(target))
    assert json.loads(target.read_text())["steps"]["b"]["deps"] == [{"step": "a"}]
    gd("pipeline", "import", "--file", str(target), "--pipeline-name", "copy")
    again = gd("pipeline", "export", "-p", "copy").stdout
    assert again.replace("name: copy", "name: default") == exported
    result = gd("pipeline", "import", "--file", str(target), "--pipeline-name", "copy", check=False)
    assert result.returncode == 1 and "already exists" in result.stderr
    gd("pipeline", "import", "--format", "yaml", "--pipeline-name", "copy", "--overwrite", input=exported)
    assert gd("step", "list", "-p", "copy", "--names-only").stdout.split() == ["a", "b"]
    listed = gd("pipeline", "list").stdout
    assert "  copy (2 step(s))" in listed and "* default (2 step(s))" in listed


def test_pipelines_new_update_delete_and_workdir(repo: Path) -> None:
    (repo / "sub").mkdir()
    gd("pipeline", "new", "p2", "--workdir", "sub")
    gd("step", "new", "where", "-p", "p2", "--command", "pwd > here.txt")
    gd("run", "-p", "p2")
    assert (repo / "sub" / "here.txt").read_text().strip() == str(repo / "sub")
    gd("pipeline", "update", "p2", "--rename", "p3", "--set-default")
    assert "* p3 (1 step(s), workdir sub)" in gd("pipeline", "list").stdout
    assert gd("step", "list", "--names-only").stdout.split() == ["where"]
    gd("step", "remove", "where")
    gd("pipeline", "delete", "p3")
    assert "p3" not in gd("pipeline", "list").stdout
    assert "no pipeline 'nope'" in gd("run", "-p", "nope", check=False).stderr
    assert "* default (0 step(s))" in gd("pipeline", "list").stdout
    result = gd("pipeline", "delete", "default", check=False)
    assert result.returncode == 1 and "pipeline 'default' has no steps; nothing to delete" in result.stderr


def test_step_remove_drops_edges(repo: Path) -> None:
    step("a", None)
    step("b", None, "--step", "a")
    gd("step", "remove", "a")
    assert "step: a" not in (repo / STEPS / "b.yaml").read_text()
    gd("run")
    assert ran(repo) == ["b"]


def test_metrics_show_and_diff(repo: Path) -> None:
    step("eval", "python3 -c \"import json;json.dump({'acc': float(open('v').read())}, open('m.json','w'))\"",
         "--file", "v")
    gd("step", "out", "eval", "--metric", "m.json")
    write(repo / "v", "0.5")
    gd("run", "--commit")
    assert gd("metrics").stdout == "m.json\tacc\t0.5\n"
    write(repo / "v", "0.75")
    gd("run")
    assert gd("metrics", "diff").stdout == "m.json\tacc\t0.5 -> 0.75\t+0.25\n"
    diff = json.loads(gd("metrics", "diff", "-r", "HEAD..", "--json").stdout)
    assert diff == [{"path": "m.json", "key": "acc", "old": 0.5, "new": 0.75, "change": 0.25}]
    result = gd("metrics", "show", "m.json", "nosuch.json", check=False)
    assert result.returncode == 1 and result.stdout == "m.json\tacc\t0.75\n"
    assert result.stderr == "git-data: error: nosuch.json does not exist\n"


def test_dag_formats(repo: Path) -> None:
    step("a", None, "--file", "in.txt")
    assert gd("dag", "--format", "mermaid").stdout.startswith("flowchart LR\n")
    result = gd("pipeline", "dag", "--format", "svg", "--file", "g.svg", check=False)
    if result.returncode == 0:
        assert "<svg" in (repo / "g.svg").read_text()
    else:
        assert "Graphviz" in result.stderr


def test_commands_reject_bad_input_cleanly(repo: Path) -> None:
    assert gd("step", "new", "-bad", "--command", "x", check=False).returncode == 2
    assert "invalid step name" in gd("step", "new", "a/b", "--command", "x", check=False).stderr
    step("a", None)
    assert "already exists" in gd("step", "new", "a", "--command", "y", check=False).stderr
    for bad in (["--lines", "f.txt::0-2"], ["--regex", "f.txt:/(/"], ["--schedule", "sometimes"],
                ["--file", "../outside"], ["--url", "ftp://x"], ["--step", "ghost"]):
        result = gd("step", "dep", "a", *bad, check=False)
        assert result.returncode == 1 and "Traceback" not in result.stderr, bad
    assert gd("step", "dep", "a", check=False).returncode == 2
    write(repo / "in_git.txt", "x")
    git("add", "in_git.txt")
    assert "is tracked by git" in gd("step", "out", "a", "--file", "in_git.txt", check=False).stderr
    assert gd("run", "-j", "-1", check=False).returncode == 2



def test_one_run_per_pipeline_at_a_time(repo: Path) -> None:
    step("slow", "sleep 2")
    first = subprocess.Popen(["git", "data", "run"], cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 20
        while not list((repo / ".git/data/logs/default").glob("slow.log")) and time.time() < deadline:
            time.sleep(0.05)
        result = gd("run", check=False)
        assert result.returncode == 1 and "another 'git data run' is running pipeline 'default'" in result.stderr
    finally:
        assert first.wait(timeout=60) == 0


@pytest.mark.parametrize("method", ["hardlink", "symlink"])
def test_a_run_never_writes_through_a_linked_output_into_the_cache(repo: Path, method: str) -> None:
    write(repo / "in.txt", "1\n")
    step("s", "cat in.txt > o.txt", "--file", "in.txt")
    gd("step", "out", "s", "--file", "o.txt")
    gd("run")
    gd("add", "--as", method, "o.txt")
    git("add", "-A")
    git("commit", "-q", "-m", "v1")
    write(repo / "in.txt", "2\n")
    gd("run")
    assert (repo / "o.txt").read_text() == "2\n"
    assert (repo / "o.txt").is_symlink() == (method == "symlink")   # put back as a link to the new object
    assert gd("cat", "-r", "HEAD", "o.txt").stdout == "1\n"
    assert Path(gd("cache", "path", "o.txt").stdout.strip()).read_text() == "2\n"
    write(repo / "in.txt", "1\n")
    assert "restored s from the cache" in gd("run").stderr
    assert (repo / "o.txt").read_text() == "1\n"
    assert "all good" in gd("fsck").stdout
