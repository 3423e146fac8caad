"""Real servers for the tests that need one: gunicorn running feedpub the way
the README says, and a WebSub hub recording the pings it gets."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass
from dataclasses import field
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def request(
    port: int, path: str, method: str = "GET", headers: dict[str, str] | None = None, host: str = "127.0.0.1"
) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of one request on a fresh connection."""
    connection = http.client.HTTPConnection(host, port, timeout=10)
    try:
        connection.request(method, path, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


@dataclass
class Server:
    """A running gunicorn, and how to talk to it."""

    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def request(
        self, path: str, method: str = "GET", headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        return request(self.port, path, method, headers)

    def output(self) -> str:
        """What gunicorn (and feedpub's log) printed so far."""
        return self.log.read_text(errors="replace")


def start_gunicorn(
    content: Path,
    *,
    workers: int = 2,
    env: dict[str, str] | None = None,
    args: tuple[str, ...] = (),
    app: str = "wsgi:app",
    cwd: Path = REPO,
    log: Path | None = None,
    timeout: float = 30,
) -> Server:
    """Start gunicorn (gthread, `workers` × 2 threads) on `content` with
    FEEDPUB_* settings from `env`, and wait until it answers /healthz."""
    gunicorn = Path(sys.executable).with_name("gunicorn")
    port = free_port()
    log = log or content.parent / f"gunicorn-{port}.log"
    environment = {
        **os.environ,
        "FEEDPUB_CONTENT_DIR": str(content),
        "FEEDPUB_RELOAD_INTERVAL": "0.3",
        **(env or {}),
    }
    handle = log.open("wb")
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
            "info",
            *args,
            app,
        ],
        cwd=cwd,
        env=environment,
        stdout=handle,
        stderr=subprocess.STDOUT,
    )
    handle.close()
    server = Server(port, process, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited: {server.output()}")
        try:
            if server.request("/healthz")[0] in (200, 503):
                return server
        except OSError:
            time.sleep(0.1)
    stop(server)
    raise RuntimeError(f"gunicorn did not answer within {timeout} s: {server.output()}")


def stop(server: Server, how: signal.Signals = signal.SIGTERM) -> None:
    """Stop a server with `how`, killing it if it is still there after 10 s."""
    if server.process.poll() is None:
        server.process.send_signal(how)
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


def eventually(check, timeout: float = 5.0, interval: float = 0.05):  # noqa: ANN001, ANN201
    """Call `check` until it returns something true, or fail after `timeout`
    seconds with its last result; returns that result."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            assert result, f"not true within {timeout} s: {result!r}"
            return result
        time.sleep(interval)


@dataclass
class Hub:
    """A WebSub hub on 127.0.0.1: records every publish ping (``hub.url``
    values); answers `status` (500 to play a broken hub)."""

    status: int = 204
    pings: list[str] = field(default_factory=list)
    port: int = 0
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> Hub:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length", 0))
                form = urllib.parse.parse_qs(self.rfile.read(length).decode())
                if form.get("hub.mode") == ["publish"]:
                    hub.pings.extend(form.get("hub.url", []))
                self.send_response(hub.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def conditional_answers(app: Server, path: str) -> int:
    """How many requests for `path` gunicorn answered 304, by its access log.
    The log line is written after the answer has gone out: wait for a count
    with `eventually`, never read it the instant an answer arrives."""
    return sum(1 for line in app.output().splitlines() if f'"GET {path} HTTP/1.' in line and '" 304 ' in line)
