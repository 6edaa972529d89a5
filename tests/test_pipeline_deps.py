"""Every dependency kind: changes that must re-run a step, and changes that must not."""
from __future__ import annotations

import http.server
import sqlite3
import threading
from pathlib import Path
from typing import Iterator

import pytest

from tests.testing.helpers import gd, ran, write

STEPS = ".gitdata/pipelines/default"


def define(name: str, *deps: str, command: str | None = None) -> None:
    gd("step", "new", name, "--command", command or f"echo {name} >> .ran-log")
    gd("step", "dep", name, *deps)


def test_file_and_directory(repo: Path) -> None:
    write(repo / "a.txt", "a\n")
    write(repo / "d" / "x.txt", "x\n")
    define("f", "--file", "a.txt")
    define("d", "--file", "d")
    gd("run")
    assert sorted(ran(repo)) == ["d", "f"]
    write(repo / "a.txt", "a\n")          # same bytes, new mtime: nothing to do
    write(repo / "d" / "y.txt", "y\n")    # a new file in the directory
    gd("run")
    assert ran(repo) == ["d"]
    (repo / "a.txt").unlink()
    result = gd("run", check=False)
    assert result.returncode == 1 and "dependency 'a.txt' does not exist" in result.stderr


def test_glob_and_glob_items(repo: Path) -> None:
    write(repo / "data" / "1.csv", "1\n")
    write(repo / "data" / "2.csv", "2\n")
    write(repo / "data" / "notes.md", "n\n")
    define("g", "--glob", "data/*.csv")
    items_cmd = ('printf "%s|%s|%s|%s\\n" "$GITDATA_ALL_GLOB_ITEMS" "$GITDATA_ADDED_GLOB_ITEMS" '
                 '"$GITDATA_REMOVED_GLOB_ITEMS" "$GITDATA_CHANGED_GLOB_ITEMS" | tr "\\n" " " >> items.log;'
                 ' echo >> items.log; echo gi >> .ran-log')
    define("gi", "--glob-items", "data/*.csv", command=items_cmd)
    gd("run")
    assert sorted(ran(repo)) == ["g", "gi"]
    write(repo / "data" / "notes.md", "changed\n")
    gd("run")
    assert ran(repo) == []
    write(repo / "data" / "3.csv", "3\n")
    write(repo / "data" / "1.csv", "one\n")
    (repo / "data" / "2.csv").unlink()
    gd("run")
    assert sorted(ran(repo)) == ["g", "gi"]
    last = (repo / "items.log").read_text().splitlines()[-1]
    assert last.split("|") == ["data/1.csv data/3.csv", "data/3.csv", "data/2.csv", "data/1.csv "]


def test_lines_and_line_items(repo: Path) -> None:
    write(repo / "list.txt", "a\nb\nc\nd\n")
    define("l", "--lines", "list.txt::2-3")
    define("li", "--line-items", "list.txt::1-2",
           command='echo "$GITDATA_ADDED_LINE_ITEMS/$GITDATA_REMOVED_LINE_ITEMS" >> items.log; echo li >> .ran-log')
    gd("run")
    assert sorted(ran(repo)) == ["l", "li"]
    write(repo / "list.txt", "a\nb\nc\nD\n")   # outside both ranges
    gd("run")
    assert ran(repo) == []
    write(repo / "list.txt", "a\nB\nc\nD\n")   # inside both
    gd("run")
    assert sorted(ran(repo)) == ["l", "li"]
    assert (repo / "items.log").read_text().splitlines()[-1] == "B/b"


def test_regex_and_regex_items(repo: Path) -> None:
    write(repo / "log.txt", "ok 1\nerror: disk\nok 2\n")
    define("r", "--regex", "log.txt:/^error/")
    define("ri", "--regex-items", "log.txt:/^error/",
           command='echo "$GITDATA_ADDED_REGEX_ITEMS" >> items.log; echo ri >> .ran-log')
    gd("run")
    assert sorted(ran(repo)) == ["r", "ri"]
    write(repo / "log.txt", "ok 1\nerror: disk\nok 2\nok 3\n")
    gd("run")
    assert ran(repo) == []
    write(repo / "log.txt", "ok 1\nerror: disk\nerror: net\n")
    gd("run")
    assert sorted(ran(repo)) == ["r", "ri"]
    assert (repo / "items.log").read_text().splitlines()[-1] == "error: net"


@pytest.mark.parametrize("name,before,other_changed,value_changed", [
    ("params.yaml", "train:\n  lr: 0.1\n  epochs: 3\n", "train:\n  lr: 0.1\n  epochs: 5\n",
     "train:\n  lr: 0.2\n  epochs: 5\n"),
    ("params.json", '{"train": {"lr": 0.1, "epochs": 3}}', '{"train": {"epochs": 5, "lr": 0.1}}',
     '{"train": {"lr": 0.2, "epochs": 5}}'),
    ("params.toml", "[train]\nlr = 0.1\nepochs = 3\n", "[train]\nlr = 0.1\nepochs = 5\n",
     "[train]\nlr = 0.2\nepochs = 5\n"),
])
def test_param_counts_only_its_value(repo: Path, name: str, before: str, other_changed: str,
                                     value_changed: str) -> None:
    write(repo / name, before)
    define("p", "--param", f"{name}::train.lr")
    gd("run")
    assert ran(repo) == ["p"]
    write(repo / name, other_changed)
    gd("run")
    assert ran(repo) == []
    write(repo / name, value_changed)
    assert "param changed: train.lr = 0.2" in gd("status").stdout
    gd("run")
    assert ran(repo) == ["p"]


class _Handler(http.server.BaseHTTPRequestHandler):
    state = {"etag": '"v1"', "body": b"one", "use_etag": True, "requests": 0}

    def _headers(self) -> None:
        self.state["requests"] += 1
        self.send_response(200)
        if self.state["use_etag"]:
            self.send_header("ETag", self.state["etag"])
        self.send_header("Content-Length", str(len(self.state["body"])))
        self.end_headers()

    def do_HEAD(self) -> None:  # noqa: N802 - the http.server interface
        self._headers()

    def do_GET(self) -> None:  # noqa: N802
        self._headers()
        self.wfile.write(self.state["body"])

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/data.csv"
    httpd.shutdown()


def test_url_etag_then_content(repo: Path, server: str) -> None:
    state = _Handler.state
    state.update(etag='"v1"', body=b"one", use_etag=True)
    define("u", "--url", server)
    gd("run")
    assert ran(repo) == ["u"]
    state["body"] = b"two"           # the ETag says nothing changed: trust it
    gd("run")
    assert ran(repo) == []
    state["etag"] = '"v2"'
    gd("run")
    assert ran(repo) == ["u"]
    state["use_etag"] = False        # no ETag nor Last-Modified: the content decides
    gd("run")
    assert ran(repo) == ["u"]
    gd("run")
    assert ran(repo) == []
    state["body"] = b"three"
    gd("run")
    assert ran(repo) == ["u"]


def test_a_committed_url_dependency_sends_no_request_until_trusted(repo: Path, server: str) -> None:
    _Handler.state.update(etag='"v1"', body=b"one", use_etag=True, requests=0)
    write(repo / STEPS / "u.yaml", f"command: echo u >> .ran-log\ndeps:\n- url: {server}\n")
    for verb in ("run", "status"):
        result = gd(verb, check=False)
        assert "url dependency is not trusted here" in result.stdout + result.stderr
    assert _Handler.state["requests"] == 0 and ran(repo) == []
    assert server in gd("trust", "--list").stdout
    gd("trust", "--yes")
    gd("run")
    assert ran(repo) == ["u"] and _Handler.state["requests"] > 0


def test_generic_command_output(repo: Path) -> None:
    write(repo / "version", "1\n")
    define("g", "--generic", "cat version | cut -c1")
    gd("run")
    assert ran(repo) == ["g"]
    write(repo / "version", "1 and more\n")
    gd("run")
    assert ran(repo) == []
    write(repo / "version", "2\n")
    gd("run")
    assert ran(repo) == ["g"]
    assert "- generic:\n    command: cat version | cut -c1\n" in (repo / STEPS / "g.yaml").read_text()
    write(repo / STEPS / "h.yaml", "command: echo h >> .ran-log\ndeps:\n- generic:\n    command: echo 1\n")
    result = gd("run", check=False)
    assert result.returncode == 1 and "generic dependency command is not trusted" in result.stderr
    assert "echo 1" in gd("trust", "--list").stdout
    gd("trust", "--yes")
    gd("run")
    assert ran(repo) == ["h"]


def test_sqlite_query_read_only(repo: Path) -> None:
    db = sqlite3.connect(repo / "app.db")
    db.executescript("CREATE TABLE t (k TEXT, v INT); INSERT INTO t VALUES ('a', 1), ('b', 2);")
    db.commit()
    define("q", "--sqlite-query", "app.db", "SELECT v FROM t WHERE k = 'a'")
    gd("run")
    assert ran(repo) == ["q"]
    db.execute("UPDATE t SET v = 5 WHERE k = 'b'")
    db.commit()
    gd("run")
    assert ran(repo) == []
    db.execute("UPDATE t SET v = 7 WHERE k = 'a'")
    db.commit()
    gd("run")
    assert ran(repo) == ["q"]
    gd("step", "update", "q", "--command", "echo q >> .ran-log")
    write(repo / STEPS / "w.yaml",
          "command: 'true'\ndeps:\n- sqlite-query: app.db\n  query: DELETE FROM t\n")
    gd("trust", "--yes")
    result = gd("run", "w", check=False)
    assert result.returncode == 1 and "readonly" in result.stderr
    assert db.execute("SELECT count(*) FROM t").fetchone() == (2,)


def test_schedules_with_an_injected_clock(repo: Path) -> None:
    define("d", "--schedule", "daily")
    define("c", "--schedule", "0 6 * * *")
    define("m", "--schedule", "manual")
    at = {"GITDATA_NOW": "2026-03-02T09:00:00"}
    gd("run", env=at)
    assert sorted(ran(repo)) == ["c", "d", "m"]
    gd("run", env={"GITDATA_NOW": "2026-03-02T23:00:00"})
    assert ran(repo) == []
    status = gd("status", env={"GITDATA_NOW": "2026-03-03T05:00:00"}).stdout
    assert "schedule due: daily (2026-03-03)" in status
    gd("run", env={"GITDATA_NOW": "2026-03-03T05:00:00"})
    assert ran(repo) == ["d"]
    gd("run", env={"GITDATA_NOW": "2026-03-03T06:30:00"})
    assert ran(repo) == ["c"]
    gd("run", "--force", "m", env={"GITDATA_NOW": "2026-03-03T06:30:00"})
    assert ran(repo) == ["m"]


def test_step_dependency_reruns_after_upstream_reran(repo: Path) -> None:
    write(repo / "in.txt", "1")
    define("up", "--file", "in.txt")
    define("down", "--step", "up")
    gd("run")
    assert ran(repo) == ["up", "down"]
    gd("run")
    assert ran(repo) == []
    write(repo / "in.txt", "2")
    gd("run")
    assert ran(repo) == ["up", "down"]
