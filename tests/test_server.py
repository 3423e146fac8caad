"""A real `gunicorn wsgi:app` on 127.0.0.1, spoken to over real HTTP."""

from __future__ import annotations

import gzip
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import feedparser
import pytest

from feedpub.cli import cli

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A running gunicorn, and how to talk to it."""

    port: int
    process: subprocess.Popen[bytes]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def request(self, path: str, method: str = "GET", headers: dict[str, str] | None = None):
        """(status, headers, body) of one request on a fresh connection."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request(method, path, headers=headers or {})
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()


def start_gunicorn(content: Path, *, workers: int = 2, extra_env: dict[str, str] | None = None) -> Server:
    """Start `gunicorn wsgi:app` the way the README says, wait until it answers."""
    gunicorn = Path(sys.executable).with_name("gunicorn")
    port = free_port()
    env = {
        **os.environ,
        "FEEDPUB_CONTENT_DIR": str(content),
        "FEEDPUB_RELOAD_INTERVAL": "0.3",
        **(extra_env or {}),
    }
    process = subprocess.Popen(
        [
            str(gunicorn),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--threads",
            "2",
            "--worker-class",
            "gthread",
            "--log-level",
            "warning",
            "wsgi:app",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    server = Server(port, process)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited: {process.stderr.read().decode()}")
        try:
            if server.request("/healthz")[0] == 200:
                return server
        except OSError:
            time.sleep(0.1)
    stop(server)
    raise RuntimeError("gunicorn did not answer within 20 s")


def stop(server: Server, how: signal.Signals = signal.SIGTERM) -> None:
    """Stop a server with `how`, killing it if it is still there after 10 s."""
    server.process.send_signal(how)
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()
    server.process.stderr.close()


@pytest.fixture(scope="module")
def seeds_server(tmp_path_factory) -> Iterator[Server]:
    content = tmp_path_factory.mktemp("seeds")
    shutil.copytree(REPO / "seeds", content, dirs_exist_ok=True)
    server = start_gunicorn(content, extra_env={"FEEDPUB_UNPUBLISHED": "1"})
    yield server
    stop(server)


def test_serves_every_built_file_byte_for_byte(seeds_server, tmp_path, runner):
    out = tmp_path / "public"
    result = runner.invoke(
        cli,
        [
            "build",
            str(REPO / "seeds"),
            "--out",
            str(out),
            "--base-url",
            seeds_server.base_url,
            "--unpublished",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0
    files = [path for path in out.rglob("*") if path.is_file()]
    assert len(files) == 16
    for file in files:
        path = "/" + file.relative_to(out).as_posix()
        status, _, body = seeds_server.request(path)
        assert status == 200, path
        assert body == file.read_bytes(), path


def test_conditional_get_head_gzip_and_404_over_http(seeds_server):
    status, headers, body = seeds_server.request("/topics/ai.atom")
    assert status == 200
    assert headers["Content-Type"] == "application/atom+xml; charset=utf-8"
    assert headers["Cache-Control"] == "public, max-age=300"
    assert len(feedparser.parse(body).entries) == 4

    for validator in ({"If-None-Match": headers["ETag"]}, {"If-Modified-Since": headers["Last-Modified"]}):
        status, again, body_304 = seeds_server.request("/topics/ai.atom", headers=validator)
        assert status == 304
        assert body_304 == b""
        assert again["ETag"] == headers["ETag"]

    status, head, head_body = seeds_server.request("/topics/ai.atom", method="HEAD")
    assert (status, head_body) == (200, b"")
    assert head["Content-Length"] == str(len(body))

    status, packed, packed_body = seeds_server.request("/topics/ai.atom", headers={"Accept-Encoding": "gzip"})
    assert status == 200
    assert packed["Content-Encoding"] == "gzip"
    assert packed["Vary"] == "Accept-Encoding"
    assert gzip.decompress(packed_body) == body

    status, _, missing = seeds_server.request("/topics/missing.atom")
    assert status == 404
    assert b"/topics/ai.atom" in missing
    assert seeds_server.request("/all.rss", method="POST")[0] == 405


def _titles(server: Server) -> list[str]:
    return [entry.title for entry in feedparser.parse(server.request("/all.atom")[2]).entries]


def _eventually(server: Server, expected: list[str], timeout: float = 5.0) -> None:
    """Wait until every worker serves `expected`: several requests in a row,
    each on a new connection, so both workers are asked."""
    deadline = time.monotonic() + timeout
    streak = 0
    while time.monotonic() < deadline:
        streak = streak + 1 if _titles(server) == expected else 0
        if streak >= 8:
            return
        time.sleep(0.02)
    assert _titles(server) == expected


def test_content_changes_reach_every_worker_without_a_restart(content_dir, write_article):
    write_article("a.md", title="First")
    server = start_gunicorn(content_dir)
    try:
        assert _titles(server) == ["First"]
        started = time.monotonic()
        write_article("b.md", title="Second", publishedDateTime="2024-05-02T10:00:00Z")
        _eventually(server, ["Second", "First"])
        assert time.monotonic() - started < 5

        write_article("a.md", title="First, edited")
        _eventually(server, ["Second", "First, edited"])

        (content_dir / "b.md").write_text("---\ntitle: [broken\n---\n")
        _eventually(server, ["First, edited"])
        problems = server.request("/healthz")[2]
        assert b"b.md" in problems

        (content_dir / "a.md").unlink()
        _eventually(server, [])
        assert server.request("/all.rss")[0] == 200
    finally:
        stop(server)
