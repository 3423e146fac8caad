"""The Flask app: the URL space over HTTP, the way feed readers, polling bots
and CDNs need it.

Settings come from `feedpub.settings` (`create_app`'s mapping, then
``FEEDPUB_*``, then ``feedpub.toml``). Documents are answered by
`DocumentServer`, a WSGI layer in front of Flask: polling readers make it the
hot path, and everything it sends (bytes, gzip form, header lists) is
computed once per document version. Anything else (``/healthz``, a 404, a
405, an untrusted host) goes on to Flask.

Self links need a base URL. With ``FEEDPUB_BASE_URL`` set, it is used
whatever a request says. Without it, the request's host is used, but only
for hosts in ``FEEDPUB_TRUSTED_HOSTS`` (default: the loopback names), others
get 400, and responses say ``Vary: Host``. Forwarded headers count only
when ``FEEDPUB_PROXY_FIX`` says how many proxies to trust, whatever the WSGI
server (gunicorn trusts ``X-Forwarded-Proto`` from 127.0.0.1 by default)
made of them.
"""

from __future__ import annotations

import ctypes
import logging
import os
import ssl
import sys
from collections.abc import Iterable
from datetime import UTC
from datetime import datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from flask import Flask
from flask import Response
from flask import current_app
from flask import jsonify
from flask import request
from flask import send_from_directory
from werkzeug.exceptions import NotFound
from werkzeug.http import is_resource_modified
from werkzeug.http import parse_accept_header
from werkzeug.middleware.proxy_fix import ProxyFix

from feedpub import pages
from feedpub import settings as settings_module
from feedpub import urlspace
from feedpub.live import Live
from feedpub.live import Served
from feedpub.settings import Settings
from feedpub.urls import base_url as parse_base_url

_HEALTH_PATH = "/healthz"
#: glibc's ``mallopt`` parameter M_ARENA_MAX.
_M_ARENA_MAX = -8


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app: `test_config` (keys as ``FEEDPUB_*`` names without the
    prefix, any case), then ``FEEDPUB_*`` variables, then ``feedpub.toml``.
    Raises `ConfigError` for a bad setting."""
    options = {key.lower(): value for key, value in (test_config or {}).items()}
    settings = settings_module.load(options)
    _log_to_stderr()
    _fewer_malloc_arenas()
    app = Flask(__name__)
    live = Live(settings)
    app.extensions["feedpub"] = live
    server = DocumentServer(live, settings, app.wsgi_app)
    app.wsgi_app = server  # type: ignore[method-assign]
    if settings.proxy_fix:
        hops = settings.proxy_fix
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            server, x_for=hops, x_proto=hops, x_host=hops, x_port=hops, x_prefix=hops
        )
    app.add_url_rule(_HEALTH_PATH, view_func=healthz)
    app.add_url_rule("/", view_func=not_found, defaults={"path": ""})
    app.add_url_rule("/<path:path>", view_func=not_found)
    app.register_error_handler(NotFound, _not_found_page)
    return app


def _log_to_stderr() -> None:
    """Under gunicorn (or any server that configures no logging), feedpub's
    refreshes and problems go to standard error, which the server keeps."""
    logger = logging.getLogger("feedpub")
    if not logger.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(
            logging.Formatter("[%(asctime)s] [%(process)d] [feedpub] %(levelname)s %(message)s")
        )
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


def get_live() -> Live:
    """The current app's live pipeline."""
    live: Live = current_app.extensions["feedpub"]
    return live


def request_base(environ: dict[str, Any], settings: Settings) -> str | None:
    """The base URL a request's documents are rendered for: the configured
    one, else the request's own (scheme and trusted host); None for a host
    that is not trusted or not a host at all."""
    if settings.base_url is not None:
        return settings.base_url
    host = environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME', '')}:{environ.get('SERVER_PORT', '')}"
    if not _trusted(host, settings.trusted_hosts):
        return None
    if settings.proxy_fix:
        scheme = environ.get("wsgi.url_scheme", "http")  # as ProxyFix set it
    elif "gunicorn.socket" in environ:
        # gunicorn sets wsgi.url_scheme from X-Forwarded-Proto when the peer
        # is in --forwarded-allow-ips (127.0.0.1 by default): ask the socket.
        scheme = "https" if isinstance(environ["gunicorn.socket"], ssl.SSLSocket) else "http"
    else:
        scheme = environ.get("wsgi.url_scheme", "http")
    try:
        return parse_base_url(f"{scheme}://{host}")
    except ValueError:
        return None


_UNTRUSTED_HOST = (
    b"400 Bad Request: this server answers only for its trusted host names "
    b"(FEEDPUB_TRUSTED_HOSTS), or has a configured base URL (FEEDPUB_BASE_URL).\n"
)


def _trusted(host: str, trusted: tuple[str, ...]) -> bool:
    """Whether a ``Host`` value (``name``, ``name:port``, ``[v6]:port``)
    names a trusted host; ``.example.org`` trusts every subdomain too.
    (werkzeug's `host_is_trusted` cannot match a bracketed IPv6 host.)"""
    host = host.strip().lower()
    if host.startswith("["):
        name, bracket, rest = host[1:].partition("]")
        if not bracket or (rest and not rest[1:].isdigit()) or (rest and rest[0] != ":"):
            return False
    else:
        name, _, port = host.partition(":")
        if port and not port.isdigit():
            return False
    name = name.rstrip(".")
    if not name:
        return False
    for pattern in trusted:
        if pattern.startswith("."):
            if name == pattern[1:] or name.endswith(pattern):
                return True
        elif name == pattern:
            return True
    return False


class DocumentServer:
    """Answers GET and HEAD for every document of the URL space; hands
    everything else to the Flask app."""

    def __init__(self, live: Live, settings: Settings, app: Any) -> None:
        self.live = live
        self.settings = settings
        self.app = app
        self.cache_control = settings.cache_control()
        self.vary = "Accept-Encoding" if settings.base_url else "Accept-Encoding, Host"

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        if method != "GET" and method != "HEAD":
            return self.app(environ, start_response)  # type: ignore[no-any-return]
        base = request_base(environ, self.settings)
        served = self.live.document(environ.get("PATH_INFO", ""), base) if base else None
        if served is None:
            return self.app(environ, start_response)  # type: ignore[no-any-return]
        if not self.live._started:
            self.live.start()
        if served.headers is None:
            served.headers = self._headers(served, base or "")
        plain, packed, not_modified = served.headers
        # Parse Accept-Encoding only when it can say gzip at all.
        accept = environ.get("HTTP_ACCEPT_ENCODING", "")
        gzipped = "gzip" in accept and _accepts_gzip(accept)
        etag = f'"{served.etag}-gzip"' if gzipped else f'"{served.etag}"'
        if (
            "HTTP_IF_NONE_MATCH" in environ or "HTTP_IF_MODIFIED_SINCE" in environ
        ) and not is_resource_modified(environ, etag=etag.strip('"'), last_modified=_last_modified(served)):
            start_response("304 Not Modified", [*not_modified, ("ETag", etag), *self._date_bound(served)])
            return []
        headers = packed if gzipped else plain
        start_response("200 OK", [*headers, *self._date_bound(served)])
        if method == "HEAD":
            return []
        return [served.gzipped if gzipped else served.body]

    def _headers(self, served: Served, base: str) -> tuple[list[tuple[str, str]], ...]:
        """The header lists of one document: plain 200, gzip 200, 304."""
        common = [("Cache-Control", self.cache_control), ("Vary", self.vary)]
        if served.keys:
            common += [("Surrogate-Key", served.keys), ("Cache-Tag", served.keys.replace(" ", ","))]
        ref = served.ref
        if ref.feed is not None and ref.format != "html" and self.settings.hubs:
            links = [f'<{hub}>; rel="hub"' for hub in self.settings.hubs]
            links.append(f'<{base}{ref.path}>; rel="self"')
            common.append(("Link", ", ".join(links)))
        content_type = ("Content-Type", f"{ref.media_type}; charset=utf-8")
        plain = [
            *common,
            content_type,
            ("ETag", f'"{served.etag}"'),
            ("Content-Length", str(len(served.body))),
        ]
        packed = [
            *common,
            content_type,
            ("Content-Encoding", "gzip"),
            ("ETag", f'"{served.etag}-gzip"'),
            ("Content-Length", str(len(served.gzipped))),
        ]
        return plain, packed, common

    @staticmethod
    def _date_bound(served: Served) -> list[tuple[str, str]]:
        """``Last-Modified``, never later than the response's ``Date`` (RFC
        9110): a future-dated entry published with ``--future`` does not
        make the document look modified in the future."""
        if served.last_modified is None:
            return []
        now = datetime.now(UTC)
        if served.last_modified > now:
            return [("Last-Modified", format_datetime(now, usegmt=True))]
        return [("Last-Modified", served.http_date or "")]


def _accepts_gzip(accept: str) -> bool:
    return parse_accept_header(accept)["gzip"] > 0


def _fewer_malloc_arenas() -> None:
    """Two malloc arenas for the process, unless ``MALLOC_ARENA_MAX`` says.
    glibc gives threads that allocate at once arenas of their own, up to
    eight per core, and each keeps the memory freed in it: at 100,000
    articles a worker (four request threads, the watcher) held 20-40 MB more
    after serving every subscription document (`bench/HISTORY.md`)."""
    if "MALLOC_ARENA_MAX" in os.environ or not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(None).mallopt(_M_ARENA_MAX, 2)
    except (OSError, AttributeError):  # not glibc: its allocator has no such arenas
        pass


def _last_modified(served: Served) -> datetime | None:
    if served.last_modified is None:
        return None
    return min(served.last_modified, datetime.now(UTC))


def healthz() -> tuple[Response, int]:
    """The state of the content and the store, as JSON: 503 with a reason
    when the content folder cannot be read or the last refresh failed."""
    live = get_live()
    live.start()
    live.catch_up()
    status, body = live.health()
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response, status


def not_found(path: str) -> Response:
    """Every path the document server did not answer."""
    raise NotFound()


def _not_found_page(error: NotFound) -> tuple[bytes, int, dict[str, str]]:
    live = get_live()
    base = request_base(request.environ, live.settings)
    if base is None:
        return (
            _UNTRUSTED_HOST,
            400,
            {"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store"},
        )
    body = pages.not_found_html(request.path, live.feeds(), live.site(base))
    return body, 404, {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "public, max-age=60"}


def create_static_app(folder: str | Path) -> Flask:
    """An app serving a folder that ``feedpub build`` wrote, with the media
    types production sends (``feedpub serve --static``): a preview of what a
    static host will serve."""
    root = Path(folder).resolve()
    app = Flask(__name__, static_folder=None)

    def serve(path: str = "") -> Response:
        name = urlspace.file_name("/" + path) if path else "index.html"
        suffix = name.rpartition(".")[2]
        mimetype = urlspace.MEDIA_TYPES.get(suffix, "application/octet-stream")
        response = send_from_directory(root, name, mimetype=mimetype)
        response.headers["Content-Type"] = f"{mimetype}; charset=utf-8"
        return response

    app.add_url_rule("/", view_func=serve)
    app.add_url_rule("/<path:path>", view_func=serve)
    return app
