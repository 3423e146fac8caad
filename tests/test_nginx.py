"""The nginx configurations of ``deploy/``, run by a real nginx on 127.0.0.1.

- ``deploy/nginx-static.conf`` (shape A): nginx serving a ``feedpub build``
  folder: content types, validators from the files, 304s, gzip;
- ``deploy/nginx-proxy.conf`` (shape B): nginx caching ``gunicorn wsgi:app``:
  the same bytes, cache hits, revalidation with feedpub's ETag once the
  max-age has passed, 304s from the cache, X-Forwarded-* headers.

The files are used as an operator would copy them; only the listen address,
the folder and the upstream change, by exact replacement (a test fails if
the line it replaces is gone). nginx runs with its own prefix under
``tmp_path``. bench/nginx_cache.py reuses these helpers.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import feedparser
import pytest
from test_server import Server
from test_server import free_port
from test_server import start_gunicorn
from test_server import stop

from feedpub.cli import cli

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy"


def site_config(name: str, replacements: dict[str, str]) -> str:
    """``deploy/<name>`` with each `replacements` key, which must occur once, replaced."""
    text = (DEPLOY / name).read_text()
    for old, new in replacements.items():
        count = text.count(old)
        assert count == 1, f"{name}: expected {old!r} once, found it {count} times"
        text = text.replace(old, new)
    return text


def main_config(prefix: Path, site: str, *, workers: int | str = 1) -> Path:
    """A main ``nginx.conf`` in `prefix` around `site`, the way Debian's
    /etc/nginx/nginx.conf includes conf.d/: every path nginx writes (pid,
    logs, temporary files) inside `prefix`."""
    temp = prefix / "temp"
    temp.mkdir(parents=True, exist_ok=True)
    mime_types = Path("/etc/nginx/mime.types")
    (prefix / "site.conf").write_text(site)
    lines = [
        # Workers drop to `nobody` when the master runs as root, and could
        # not read a tmp_path; an unprivileged master keeps its own user.
        "user root;" if os.geteuid() == 0 else "",
        f"worker_processes {workers};",
        f"pid {prefix}/nginx.pid;",
        f"error_log {prefix}/error.log warn;",
        "events { worker_connections 1024; }",
        "http {",
        "    access_log off;",
        "    sendfile on;",
        "    tcp_nopush on;",
        f"    include {mime_types};" if mime_types.exists() else "",
        "    default_type application/octet-stream;",
        *(f"    {kind}_temp_path {temp}/{kind};" for kind in ("proxy", "fastcgi", "uwsgi", "scgi")),
        f"    client_body_temp_path {temp}/client_body;",
        f"    include {prefix}/site.conf;",
        "}",
    ]
    conf = prefix / "nginx.conf"
    conf.write_text("\n".join(line for line in lines if line) + "\n")
    return conf


@dataclass
class Nginx(Server):
    """A running nginx (its `request` is the gunicorn server's)."""

    prefix: Path = Path()


def start_nginx(nginx: str, prefix: Path, conf: Path, port: int) -> Nginx:
    """Start nginx in the foreground on `conf`; wait until `port` accepts."""
    process = subprocess.Popen(
        [
            nginx,
            "-p",
            str(prefix),
            "-c",
            str(conf),
            "-e",
            str(prefix / "error.log"),
            "-g",
            "daemon off;",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    server = Nginx(port, process, prefix)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = (prefix / "error.log").read_text() if (prefix / "error.log").exists() else ""
            raise RuntimeError(f"nginx exited: {process.stderr.read().decode()}{log}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server
        except OSError:
            time.sleep(0.05)
    stop_nginx(server)
    raise RuntimeError("nginx did not listen within 10 s")


def stop_nginx(server: Nginx) -> None:
    stop(server, signal.SIGQUIT)  # graceful: finish requests, then exit


def static_nginx(nginx: str, prefix: Path, root: Path, port: int, *, workers: int | str = 1) -> Nginx:
    """deploy/nginx-static.conf serving `root` on 127.0.0.1:`port`."""
    site = site_config(
        "nginx-static.conf",
        {"listen 80;": f"listen 127.0.0.1:{port};", "root /srv/feedpub/public;": f"root {root};"},
    )
    return start_nginx(nginx, prefix, main_config(prefix, site, workers=workers), port)


def proxy_nginx(nginx: str, prefix: Path, upstream: int, port: int, *, workers: int | str = 1) -> Nginx:
    """deploy/nginx-proxy.conf in front of 127.0.0.1:`upstream`, on `port`."""
    site = site_config(
        "nginx-proxy.conf",
        {
            "listen 80;": f"listen 127.0.0.1:{port};",
            "server 127.0.0.1:8000;": f"server 127.0.0.1:{upstream};",
            "/var/cache/nginx/feedpub": str(prefix / "cache"),
        },
    )
    return start_nginx(nginx, prefix, main_config(prefix, site, workers=workers), port)


# -- shape A: static files ------------------------------------------------------------

MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".rss": "application/rss+xml; charset=utf-8",
    ".atom": "application/atom+xml; charset=utf-8",
    ".opml": "text/x-opml; charset=utf-8",
}


@pytest.fixture
def nginx(require_tool) -> str:
    return require_tool("nginx")


def _static_site(nginx: str, tmp_path: Path, runner, seeds_dir: Path, *options: str) -> tuple[Path, Nginx]:
    """The seeds built with `options` into tmp_path/public, served by nginx."""
    port = free_port()
    public = tmp_path / "public"
    arguments = ["build", str(seeds_dir), "--out", str(public), "--base-url", f"http://127.0.0.1:{port}"]
    result = runner.invoke(cli, [*arguments, "--unpublished", *options], catch_exceptions=False)
    assert result.exit_code == 0
    return public, static_nginx(nginx, tmp_path / "nginx", public, port)


def test_static_folder_types_validators_and_gzip(nginx, tmp_path, runner, seeds_dir):
    public, server = _static_site(nginx, tmp_path, runner, seeds_dir)
    try:
        files = sorted(path for path in public.rglob("*") if path.is_file())
        assert {path.suffix for path in files} == set(MEDIA_TYPES)
        for file in files:
            path = "/" + file.relative_to(public).as_posix()
            status, headers, body = server.request(path)
            assert status == 200, path
            assert headers["Content-Type"] == MEDIA_TYPES[file.suffix], path
            assert body == file.read_bytes(), path
            assert headers["Cache-Control"] == "public, max-age=300", path
            assert re.fullmatch(r'"[0-9a-f]+-[0-9a-f]+"', headers["ETag"]), path
            assert headers["Last-Modified"].endswith(" GMT"), path

        status, headers, body = server.request("/")
        assert (status, headers["Content-Type"]) == (200, MEDIA_TYPES[".html"])
        assert body == (public / "index.html").read_bytes()

        status, headers, body = server.request("/topics/ai.atom")
        assert len(feedparser.parse(body).entries) == 4
        for validator in (
            {"If-None-Match": headers["ETag"]},
            {"If-Modified-Since": headers["Last-Modified"]},
        ):
            status, again, empty = server.request("/topics/ai.atom", headers=validator)
            assert (status, empty) == (304, b""), validator
            assert again["ETag"] == headers["ETag"]

        status, packed, packed_body = server.request("/all.rss", headers={"Accept-Encoding": "gzip"})
        assert status == 200
        assert packed["Content-Encoding"] == "gzip"
        assert packed["Vary"] == "Accept-Encoding"
        assert packed["Content-Type"] == MEDIA_TYPES[".rss"]
        assert gzip.decompress(packed_body) == (public / "all.rss").read_bytes()
        # nginx weakens the ETag of what it compresses; it still validates.
        status, _, empty = server.request(
            "/all.rss", headers={"Accept-Encoding": "gzip", "If-None-Match": packed["ETag"]}
        )
        assert (status, empty) == (304, b"")

        for missing in ("/topics/missing.atom", "/topics/", "/topics", "/index.php"):
            status, headers, body = server.request(missing)
            assert (status, headers["Content-Type"]) == (404, MEDIA_TYPES[".html"]), missing
            assert b"/topics/ai.atom" in body, missing  # the index: every feed
    finally:
        stop_nginx(server)


def test_static_folder_sends_the_gzip_files_of_a_gzip_build(nginx, tmp_path, runner, seeds_dir):
    public, server = _static_site(nginx, tmp_path, runner, seeds_dir, "--gzip")
    try:
        for path in ("/all.rss", "/topics/ai.atom", "/feeds.opml"):
            status, packed, body = server.request(path, headers={"Accept-Encoding": "gzip"})
            assert (status, packed["Content-Encoding"]) == (200, "gzip"), path
            assert body == (public / (path.lstrip("/") + ".gz")).read_bytes(), path  # as written, not redone
            status, plain, body = server.request(path)
            assert "Content-Encoding" not in plain and body == (public / path.lstrip("/")).read_bytes(), path
    finally:
        stop_nginx(server)


# -- shape B: caching reverse proxy ---------------------------------------------------


@pytest.fixture
def proxied(nginx, tmp_path, seeds_dir) -> Iterator[tuple[Nginx, Server, Path]]:
    """gunicorn (max-age 1 s) on the seeds, nginx's cache in front of it."""
    content = tmp_path / "content"
    shutil.copytree(seeds_dir, content)
    app = start_gunicorn(
        content,
        extra_env={
            "FEEDPUB_UNPUBLISHED": "1",
            "FEEDPUB_CACHE_MAX_AGE": "1",
            "FEEDPUB_PROXY_FIX": "1",
        },
    )
    try:
        server = proxy_nginx(nginx, tmp_path / "nginx", app.port, free_port())
        try:
            yield server, app, content
        finally:
            stop_nginx(server)
    finally:
        stop(app)


def test_proxy_caches_and_revalidates_with_etags(proxied):
    server, app, content = proxied
    path = "/topics/ai.atom"
    status, first, body = server.request(path)
    assert status == 200
    assert first["X-Cache-Status"] == "MISS"
    assert first["Content-Type"] == "application/atom+xml; charset=utf-8"
    assert first["Cache-Control"] == "public, max-age=1"
    # X-Forwarded-Host/-Port reached feedpub: self links name nginx, not gunicorn.
    links = feedparser.parse(body).feed.links
    assert [link.href for link in links if link.rel == "self"] == [server.base_url + path]
    direct = app.request(path, headers={"Host": f"127.0.0.1:{server.port}"})
    assert direct[0] == 200
    assert body == direct[2]
    assert first["ETag"] == direct[1]["ETag"]

    status, second, again = server.request(path)
    assert (status, second["X-Cache-Status"], again) == (200, "HIT", body)

    status, cached, empty = server.request(path, headers={"If-None-Match": first["ETag"]})
    assert (status, cached["X-Cache-Status"], empty) == (304, "HIT", b"")

    status, packed, packed_body = server.request(path, headers={"Accept-Encoding": "gzip"})
    assert (status, packed["Content-Encoding"], packed["X-Cache-Status"]) == (200, "gzip", "MISS")
    assert gzip.decompress(packed_body) == body
    status, packed, again = server.request(path, headers={"Accept-Encoding": "gzip, deflate, br"})
    assert (status, packed["X-Cache-Status"], again) == (200, "HIT", packed_body)

    status, head, head_body = server.request(path, method="HEAD")
    assert (status, head["X-Cache-Status"], head_body) == (200, "HIT", b"")

    # Past max-age=1 (nginx counts whole seconds: up to 2 s), nginx asks
    # feedpub again with the ETag it holds, and feedpub answers 304.
    status, revalidated, again = _next_miss(server, path)
    assert (status, revalidated["X-Cache-Status"], again) == (200, "REVALIDATED", body)
    assert server.request(path)[1]["X-Cache-Status"] == "HIT"

    # A changed feed is fetched whole once its cached copy expires.
    seed = next(content.glob("*.txt"))
    seed.write_text(
        seed.read_text(encoding="utf-8").replace('title: "', 'title: "Edited ', 1), encoding="utf-8"
    )
    deadline = time.monotonic() + 8
    while True:  # until every gunicorn worker has noticed (0.3 s interval)
        status, headers, changed = _next_miss(server, path)
        if headers["X-Cache-Status"] != "REVALIDATED" or time.monotonic() > deadline:
            break
        assert changed == body
    assert (status, headers["X-Cache-Status"]) == (200, "EXPIRED")
    assert headers["ETag"] != first["ETag"]
    assert b"Edited " in changed


def _next_miss(server: Nginx, path: str):
    """The first answer to `path` that the cache did not serve by itself."""
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline:
        answer = server.request(path)
        if answer[1]["X-Cache-Status"] != "HIT":
            return answer
        time.sleep(0.05)
    raise AssertionError(f"{path} still a cache HIT after 4 s")
