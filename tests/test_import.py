from __future__ import annotations

import hashlib
import http.server
import threading
from pathlib import Path
from typing import Iterator

import pytest

from tests.testing.helpers import cache_objects, gd, git, write


class Site:
    """A loopback HTTP server whose one file can change; it honours If-None-Match."""

    def __init__(self) -> None:
        self.body = b"first version\n"
        self.requests: list[tuple[str, str | None, int]] = []
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                if self.path != "/data/table.csv":
                    self.send_error(404)
                    return
                etag = '"' + hashlib.sha1(site.body).hexdigest() + '"'
                asked = self.headers.get("If-None-Match")
                status = 304 if asked == etag else 200
                site.requests.append((self.headers.get("User-Agent") or "", asked, status))
                self.send_response(status)
                self.send_header("ETag", etag)
                self.send_header("Last-Modified", "Sat, 01 Feb 2025 10:00:00 GMT")
                if status == 200:
                    self.send_header("Content-Length", str(len(site.body)))
                self.end_headers()
                if status == 200:
                    self.wfile.write(site.body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/data/table.csv"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def site() -> Iterator[Site]:
    server = Site()
    yield server
    server.server.shutdown()
    server.server.server_close()


def manifest_line(repo: Path, name: str) -> str:
    lines = (repo / ".gitdata" / "tree" / "%manifest").read_text().splitlines()
    return next(line for line in lines if line.startswith(name + "\t"))


def test_import_url_then_update_with_304_and_with_a_change(repo: Path, site: Site) -> None:
    gd("import-url", site.url, "-A", "tester/1.0")
    assert (repo / "table.csv").read_bytes() == b"first version\n"
    line = manifest_line(repo, "table.csv")
    assert f"url={site.url}" in line and "etag=\"" in line and "agent=tester/1.0" in line
    assert "last-modified=Sat, 01 Feb 2025 10:00:00 GMT" in line
    assert "/table.csv" in (repo / ".gitignore").read_text().splitlines()
    assert [p.read_bytes() for p in cache_objects(repo)] == [b"first version\n"]
    git("commit", "-q", "-m", "import")

    result = gd("update", "table.csv")
    assert "up to date (not modified" in result.stderr
    assert site.requests[-1][1] is not None and site.requests[-1][2] == 304
    assert site.requests[-1][0] == "tester/1.0"

    site.body = b"second version, longer\n"
    result = gd("update")
    assert "table.csv: updated" in result.stderr and site.requests[-1][2] == 200
    assert (repo / "table.csv").read_bytes() == b"second version, longer\n"
    assert manifest_line(repo, "table.csv") != line
    assert gd("cat", "table.csv", "-r", "HEAD").stdout == "first version\n"
    assert "+second version, longer\n" in gd("diff", "-r", "HEAD", "table.csv").stdout


def test_update_never_overwrites_local_changes(repo: Path, site: Site) -> None:
    gd("import-url", site.url, "t.csv")
    write(repo / "t.csv", "edited by hand\n")
    site.body = b"new upstream\n"
    result = gd("update", "t.csv", check=False)
    assert result.returncode == 1 and "its content is not in the cache" in result.stderr
    assert (repo / "t.csv").read_text() == "edited by hand\n"
    gd("update", "t.csv", "--force")
    assert (repo / "t.csv").read_text() == "new upstream\n"
    assert b"edited by hand\n" in {p.read_bytes() for p in cache_objects(repo)}


def test_import_url_into_git_and_get_url(repo: Path, site: Site, tmp_path: Path) -> None:
    gd("import-url", "--git", site.url, "small.csv")
    assert "small.csv" in git("diff", "--cached", "--name-only").stdout.split()
    assert cache_objects(repo) == []
    assert f"url = {site.url}" in (repo / ".gitdata" / "imports").read_text()
    git("commit", "-q", "-m", "small")
    assert "up to date" in gd("update", "small.csv").stderr
    site.body = b"changed\n"
    gd("update", "small.csv")
    assert (repo / "small.csv").read_text() == "changed\n"

    out = tmp_path / "plain.csv"
    gd("get-url", site.url, str(out))
    assert out.read_text() == "changed\n"
    again = gd("get-url", site.url, str(out), check=False)
    assert again.returncode == 1 and "already exists" in again.stderr
    missing = gd("import-url", site.url.replace("table", "nothing"), check=False)
    assert missing.returncode == 1 and missing.stderr.startswith("git-data: error: GET ") and "404" in missing.stderr
    assert gd("import-url", "ftp://example.com/x", check=False).returncode == 1


def make_source(tmp_path: Path) -> tuple[Path, Path]:
    source, store = tmp_path / "source", tmp_path / "source-store"
    source.mkdir()
    git("init", "-q", cwd=source)
    gd("init", cwd=source)
    gd("storage", "add", "origin-data", str(store), cwd=source)
    write(source / "data" / "a.txt", "a one\n")
    write(source / "data" / "sub" / "b.txt", "b one\n")
    gd("add", "data", cwd=source)
    git("commit", "-q", "-m", "one", cwd=source)
    git("tag", "v1", cwd=source)
    gd("push", cwd=source)
    write(source / "data" / "a.txt", "a two\n")
    write(source / "data" / "c.txt", "c two\n")
    gd("add", "data", cwd=source)
    gd("rm", "data/sub/b.txt", cwd=source)
    git("commit", "-q", "-m", "two", cwd=source)
    gd("push", cwd=source)
    return source, store


def test_import_from_a_second_repository_with_its_own_storage(repo: Path, tmp_path: Path) -> None:
    source, _ = make_source(tmp_path)
    url = f"file://{source}"  # cloned: the objects must come from the source's storage
    gd("import", url, "data", "-r", "v1", "inputs")
    assert (repo / "inputs" / "a.txt").read_text() == "a one\n"
    assert (repo / "inputs" / "sub" / "b.txt").read_text() == "b one\n"
    manifest = (repo / ".gitdata" / "tree" / "inputs" / "%manifest").read_text()
    assert f"repo={url}" in manifest and "rev=v1" in manifest and "src=data" in manifest
    commit = git("rev-parse", "v1", cwd=source).stdout.strip()
    assert f"commit={commit}" in manifest
    git("commit", "-q", "-m", "import")

    gd("update", "inputs", "-r", "main")
    assert (repo / "inputs" / "a.txt").read_text() == "a two\n"
    assert (repo / "inputs" / "c.txt").read_text() == "c two\n"
    assert not (repo / "inputs" / "sub" / "b.txt").exists()  # gone upstream, so gone here
    assert "rev=main" in (repo / ".gitdata" / "tree" / "inputs" / "%manifest").read_text()
    assert gd("cat", "inputs/a.txt", "-r", "HEAD").stdout == "a one\n"

    gd("import", str(source), "data/sub/b.txt", "-r", "v1")  # a local path, single file
    assert (repo / "b.txt").read_text() == "b one\n"
    out = tmp_path / "fetched"
    gd("get", url, "data", "-o", str(out), "-r", "v1")
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == ["a.txt", "sub/b.txt"]
    bad = gd("import", url, "no/such/path", check=False)
    assert bad.returncode == 1 and "is not tracked by git-data" in bad.stderr


def test_update_force_removes_a_modified_file_the_source_dropped_keeping_its_bytes(repo: Path,
                                                                                  tmp_path: Path) -> None:
    source, _ = make_source(tmp_path)
    gd("import", str(source), "data", "-r", "v1", "inputs")
    write(repo / "inputs" / "sub" / "b.txt", "edited here\n")   # main drops sub/b.txt
    kept = gd("update", "inputs", "-r", "main")
    assert "'inputs/sub/b.txt' is no longer in the source but was modified here; kept" in kept.stderr
    assert "--force removes it" in kept.stderr
    assert (repo / "inputs" / "sub" / "b.txt").read_text() == "edited here\n"
    forced = gd("update", "inputs", "-r", "main", "-f")
    assert "its local changes kept in the cache" in forced.stderr
    assert not (repo / "inputs" / "sub" / "b.txt").exists()
    assert "inputs/sub/b.txt" not in gd("ls", "--no-summary").stdout
    assert b"edited here\n" in [p.read_bytes() for p in cache_objects(repo)]


def test_import_fails_cleanly_when_the_source_storage_lacks_the_data(repo: Path, tmp_path: Path) -> None:
    source, store = make_source(tmp_path)
    for obj in store.rglob("*"):
        if obj.is_file() and obj.name != ".gitdata-storage":
            obj.unlink()
    result = gd("import", f"file://{source}", "data", check=False)
    assert result.returncode == 1 and "is in neither its cache nor its default storage" in result.stderr
    assert not (repo / "data").exists()
    assert not (repo / ".gitdata" / "tree" / "data").exists()
