"""The nginx configurations of ``deploy/``, run by a real nginx on 127.0.0.1.

- ``deploy/nginx-static.conf`` (shape A): nginx serving a ``feedpub build``
  folder: media types of every document (feeds in three formats, their
  archive pages, the HTML pages, the OPML list), validators from the files,
  304s, gzip, and the ``.gz`` files of a ``--gzip`` build;
- ``deploy/nginx-proxy.conf`` (shape B): nginx caching ``gunicorn wsgi:app``:
  the same bytes and headers, cache hits, revalidation with feedpub's ETag
  once the max-age has passed, 304s from the cache, X-Forwarded-* headers;
  feedpub's ``stale-while-revalidate`` and ``stale-if-error`` honoured.

The files are used as an operator would copy them; only the listen address,
the folder and the upstream change, by exact replacement (a test fails if
the line it replaces is gone). nginx runs with its own prefix under
``tmp_path``.
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
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import feedparser
import pytest
from _servers import Server
from _servers import conditional_answers
from _servers import eventually
from _servers import free_port
from _servers import start_gunicorn
from _servers import stop

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy"

#: What feedpub's server sends, and what nginx-static.conf sends too.
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".rss": "application/rss+xml; charset=utf-8",
    ".atom": "application/atom+xml; charset=utf-8",
    ".json": "application/feed+json; charset=utf-8",
    ".opml": "text/x-opml; charset=utf-8",
}
STATIC_CACHE_CONTROL = "public, max-age=300, stale-while-revalidate=60, stale-if-error=86400"


def site_config(name: str, replacements: dict[str, str]) -> str:
    """``deploy/<name>`` with each `replacements` key, which must occur once, replaced."""
    text = (DEPLOY / name).read_text()
    for old, new in replacements.items():
        count = text.count(old)
        assert count == 1, f"{name}: expected {old!r} once, found it {count} times"
        text = text.replace(old, new)
    return text


def main_config(prefix: Path, site: str) -> Path:
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
        "worker_processes 1;",
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


def start_nginx(nginx: str, prefix: Path, conf: Path, port: int) -> Nginx:
    """Start nginx in the foreground on `conf`; wait until `port` accepts."""
    process = subprocess.Popen(
        [nginx, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log"), "-g", "daemon off;"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )
    server = Nginx(port, process, prefix / "error.log")

    def listening() -> bool:
        assert process.poll() is None, f"nginx exited: {server.output() if server.log.exists() else ''}"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            return False

    try:
        eventually(listening, timeout=10)
    except BaseException:
        stop_nginx(server)
        raise
    return server


def stop_nginx(server: Nginx) -> None:
    stop(server, signal.SIGQUIT)  # graceful: finish requests, then exit


@pytest.fixture
def nginx(require_tool: Callable[[str], str]) -> str:
    return require_tool("nginx")


# -- shape A: static files ------------------------------------------------------------


@pytest.fixture
def static_site(nginx: str, tmp_path: Path, build: Callable[..., object], seeds_dir: Path
                ) -> Callable[..., tuple[Path, Nginx]]:
    """``static_site(*options)``: the seeds built with ``--unpublished
    --max-items 2`` (so that every feed of four entries has an archive page)
    and `options` into tmp_path/public, served by deploy/nginx-static.conf."""
    started: list[Nginx] = []

    def serve(*options: str) -> tuple[Path, Nginx]:
        port = free_port()
        public = tmp_path / "public"
        build(seeds_dir, "--unpublished", "--max-items", "2", *options, out=public,
              base_url=f"http://127.0.0.1:{port}")
        site = site_config("nginx-static.conf", {"listen 80;": f"listen 127.0.0.1:{port};",
                                                 "root /srv/feedpub/public;": f"root {public};"})
        prefix = tmp_path / "nginx"
        started.append(start_nginx(nginx, prefix, main_config(prefix, site), port))
        return public, started[-1]

    yield serve
    for server in started:
        stop_nginx(server)


def test_static_folder_types_validators_and_gzip(static_site: Callable[..., tuple[Path, Nginx]]) -> None:
    public, server = static_site()
    files = sorted(path for path in public.rglob("*") if path.is_file())
    assert {path.suffix for path in files} == set(MEDIA_TYPES)
    assert {"all/archive/1.atom", "topics/ai/archive/1.json", "providers/abc.html"} <= {
        path.relative_to(public).as_posix() for path in files
    }
    for file in files:
        path = "/" + file.relative_to(public).as_posix()
        status, headers, body = server.request(path)
        assert status == 200, path
        assert headers["Content-Type"] == MEDIA_TYPES[file.suffix], path
        assert body == file.read_bytes(), path
        assert headers["Cache-Control"] == STATIC_CACHE_CONTROL, path
        assert re.fullmatch(r'"[0-9a-f]+-[0-9a-f]+"', headers["ETag"]), path
        assert headers["Last-Modified"].endswith(" GMT"), path
        assert "Set-Cookie" not in headers, path

    status, headers, body = server.request("/")
    assert (status, headers["Content-Type"]) == (200, MEDIA_TYPES[".html"])
    assert body == (public / "index.html").read_bytes()

    status, headers, body = server.request("/topics/ai.atom")
    assert len(feedparser.parse(body).entries) == 2  # --max-items 2
    for validator in ({"If-None-Match": headers["ETag"]}, {"If-Modified-Since": headers["Last-Modified"]}):
        status, again, empty = server.request("/topics/ai.atom", headers=validator)
        assert (status, empty) == (304, b""), validator
        assert again["ETag"] == headers["ETag"]

    for path in ("/all.rss", "/all.json", "/all/archive/1.atom", "/"):
        status, packed, packed_body = server.request(path, headers={"Accept-Encoding": "gzip"})
        assert status == 200, path
        assert packed["Content-Encoding"] == "gzip", path
        assert packed["Vary"] == "Accept-Encoding", path
        assert packed["Content-Type"] == MEDIA_TYPES[Path(path).suffix or ".html"], path
        plain = public / (path.lstrip("/") or "index.html")
        assert gzip.decompress(packed_body) == plain.read_bytes(), path
    # nginx weakens the ETag of what it compresses; it still validates.
    status, packed, _ = server.request("/all.rss", headers={"Accept-Encoding": "gzip"})
    status, _, empty = server.request("/all.rss",
                                      headers={"Accept-Encoding": "gzip", "If-None-Match": packed["ETag"]})
    assert (status, empty) == (304, b"")

    for missing in ("/topics/missing.atom", "/topics/", "/topics", "/index.php", "/all/archive/9.atom",
                    "/all/archive/"):
        status, headers, body = server.request(missing)
        assert (status, headers["Content-Type"]) == (404, MEDIA_TYPES[".html"]), missing
        assert b"/topics/ai.atom" in body, missing  # the index: every feed


def test_static_folder_sends_the_gzip_files_of_a_gzip_build(
    static_site: Callable[..., tuple[Path, Nginx]]
) -> None:
    public, server = static_site("--gzip")
    for path in ("/all.rss", "/topics/ai.atom", "/all.json", "/providers/abc.html", "/all/archive/1.rss",
                 "/feeds.opml"):
        status, packed, body = server.request(path, headers={"Accept-Encoding": "gzip"})
        assert (status, packed["Content-Encoding"]) == (200, "gzip"), path
        assert packed["Content-Type"] == MEDIA_TYPES[Path(path).suffix], path
        assert body == (public / (path.lstrip("/") + ".gz")).read_bytes(), path  # as written, not redone
        status, plain, body = server.request(path)
        assert "Content-Encoding" not in plain and body == (public / path.lstrip("/")).read_bytes(), path


# -- shape B: caching reverse proxy ---------------------------------------------------


@pytest.fixture
def proxied(nginx: str, tmp_path: Path, seeds_dir: Path
            ) -> Iterator[Callable[..., tuple[Nginx, Server, Path]]]:
    """``proxied(**env)``: gunicorn (one worker) on a copy of the seeds
    (drafts shown, max-age 1 s, proxy fix, FEEDPUB_* `env`), nginx's cache in
    front of it. gunicorn logs each request (``--access-logfile -``)."""
    running: list[tuple[Nginx | None, Server]] = []

    def start(**env: str) -> tuple[Nginx, Server, Path]:
        content = tmp_path / "content"
        shutil.copytree(seeds_dir, content)
        settings = {"UNPUBLISHED": "1", "CACHE_MAX_AGE": "1", "PROXY_FIX": "1", **env}
        env = {f"FEEDPUB_{key}": value for key, value in settings.items()}
        app = start_gunicorn(content, workers=1, env=env, args=("--access-logfile", "-"))
        running.append((None, app))
        server = proxy_nginx(nginx, tmp_path / "nginx", app.port, free_port())
        running[-1] = (server, app)
        return server, app, content

    yield start
    for server, app in running:
        if server is not None:
            stop_nginx(server)
        stop(app)


def proxy_nginx(nginx: str, prefix: Path, upstream: int, port: int) -> Nginx:
    """deploy/nginx-proxy.conf in front of 127.0.0.1:`upstream`, on `port`."""
    site = site_config(
        "nginx-proxy.conf",
        {
            "listen 80;": f"listen 127.0.0.1:{port};",
            "server 127.0.0.1:8000;": f"server 127.0.0.1:{upstream};",
            "/var/cache/nginx/feedpub": str(prefix / "cache"),
        },
    )
    return start_nginx(nginx, prefix, main_config(prefix, site), port)


def _next_miss(server: Nginx, path: str) -> tuple[int, dict[str, str], bytes]:
    """The first answer to `path` that the cache did not serve as fresh."""
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline:
        answer = server.request(path)
        if answer[1]["X-Cache-Status"] != "HIT":
            return answer
        time.sleep(0.05)
    raise AssertionError(f"{path} still a cache HIT after 4 s")


def test_proxy_caches_and_revalidates_with_etags(proxied: Callable[..., tuple[Nginx, Server, Path]]) -> None:
    # Without stale-while-revalidate, an expired entry is revalidated while
    # the reader waits, which this test watches step by step.
    server, app, content = proxied(STALE_WHILE_REVALIDATE="0", STALE_IF_ERROR="0", MAX_ITEMS="2")
    path = "/topics/ai.atom"
    status, first, body = server.request(path)
    assert status == 200
    assert first["X-Cache-Status"] == "MISS"
    assert first["Content-Type"] == MEDIA_TYPES[".atom"]
    assert first["Cache-Control"] == "public, max-age=1, stale-while-revalidate=0, stale-if-error=0"
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
    eventually(lambda: conditional_answers(app, path) == 1, timeout=5)

    # A changed feed is fetched whole once its cached copy expires.
    seed = next(content.glob("*.txt"))
    text = seed.read_text(encoding="utf-8")
    seed.write_text(text.replace('title: "', 'title: "Edited ', 1), encoding="utf-8")
    deadline = time.monotonic() + 8
    while True:  # until gunicorn has noticed (0.3 s interval)
        status, headers, changed = _next_miss(server, path)
        if headers["X-Cache-Status"] != "REVALIDATED" or time.monotonic() > deadline:
            break
        assert changed == body
    assert (status, headers["X-Cache-Status"]) == (200, "EXPIRED")
    assert headers["ETag"] != first["ETag"]
    assert b"Edited " in changed


def test_proxy_passes_every_kind_of_document_with_feedpubs_headers(
    proxied: Callable[..., tuple[Nginx, Server, Path]]
) -> None:
    """Media types, bytes, ETag, Cache-Control and the surrogate keys of each
    kind of document reach clients as feedpub sent them; no cookie ever."""
    server, app, _ = proxied(MAX_ITEMS="2", CACHE_MAX_AGE="300")
    for path in ("/", "/feeds.opml", "/all.rss", "/all.atom", "/all.json", "/all.html",
                 "/topics/ai/archive/1.json", "/all/archive/1.html"):
        status, via, body = server.request(path)
        direct = app.request(path, headers={"Host": f"127.0.0.1:{server.port}"})
        assert (status, body) == (direct[0], direct[2]) == (200, direct[2]), path
        suffix = Path(path).suffix or ".html"
        for name in ("Content-Type", "ETag", "Last-Modified", "Cache-Control", "Surrogate-Key", "Cache-Tag"):
            assert via[name] == direct[1][name], (path, name)
        assert via["Content-Type"] == MEDIA_TYPES[suffix], path
        assert "Set-Cookie" not in via, path
        assert server.request(path)[1]["X-Cache-Status"] == "HIT", path
    assert "entry:" in server.request("/all.json")[1]["Surrogate-Key"]


def test_proxy_serves_stale_while_revalidating(proxied: Callable[..., tuple[Nginx, Server, Path]]) -> None:
    """Past the max-age but within stale-while-revalidate, a reader gets the
    cached copy at once and nginx revalidates it in the background, with the
    ETag (feedpub answers 304)."""
    server, app, _ = proxied(STALE_WHILE_REVALIDATE="30", STALE_IF_ERROR="0")
    path = "/all.json"
    status, first, body = server.request(path)
    assert (status, first["X-Cache-Status"]) == (200, "MISS")
    status, stale, again = _next_miss(server, path)
    assert (status, stale["X-Cache-Status"], again) == (200, "STALE", body)
    eventually(lambda: conditional_answers(app, path) == 1, timeout=5)
    assert server.request(path)[1]["X-Cache-Status"] == "HIT"


def test_proxy_serves_stale_while_feedpub_is_down(proxied: Callable[..., tuple[Nginx, Server, Path]]) -> None:
    """Without stale-while-revalidate, only stale-if-error lets nginx answer
    from its expired copy: it does while feedpub is down."""
    server, app, _ = proxied(STALE_WHILE_REVALIDATE="0", STALE_IF_ERROR="3600")
    path = "/topics/ai.rss"
    status, _, body = server.request(path)
    assert status == 200
    stop(app, signal.SIGINT)  # at once, as a crash would (a graceful stop waits for idle keep-alives)
    status, stale, again = _next_miss(server, path)
    assert (status, stale["X-Cache-Status"], again) == (200, "STALE", body)
