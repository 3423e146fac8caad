"""The Flask app: the URL space over HTTP, the way feed readers poll it.

Configuration comes in layers: defaults, then ``FEEDPUB_*`` environment
variables, then the mapping passed to `create_app`. The view only looks a
path up in the current snapshot and adds headers; rendering, compression and
reloading live in `feedpub.live`.
"""

from __future__ import annotations

import html
from typing import Any

from flask import Flask
from flask import Response
from flask import current_app
from flask import jsonify
from flask import request
from werkzeug.exceptions import BadRequest
from werkzeug.http import is_resource_modified
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response as BaseResponse

from feedpub import catalog as catalogs
from feedpub import content
from feedpub.errors import ConfigError
from feedpub.errors import FeedNotFoundError
from feedpub.live import LiveCatalog
from feedpub.model import Site
from feedpub.urls import base_url as parse_base_url

#: Settings and their defaults; each can be set as ``FEEDPUB_<NAME>``.
DEFAULTS: dict[str, Any] = {
    "CONTENT_DIR": "seeds",
    "BASE_URL": None,  # None: self links follow the request's own host
    "UNPUBLISHED": False,
    "MAX_ITEMS": catalogs.DEFAULT_MAX_ITEMS,
    "MAX_FILE_SIZE": content.MAX_FILE_BYTES,
    "CACHE_MAX_AGE": 300,
    "RELOAD_INTERVAL": 2.0,  # seconds; 0 turns live reload off
    "PROXY_FIX": 0,  # how many proxies' X-Forwarded-* headers to trust
    "TITLE": "feedpub",
}


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app: defaults, then ``FEEDPUB_*`` variables, then `test_config`."""
    app = Flask(__name__)
    app.config.from_mapping(DEFAULTS)
    app.config.from_prefixed_env(prefix="FEEDPUB")
    if test_config is not None:
        app.config.from_mapping(test_config)
    settings = _settings(app.config)
    app.extensions["feedpub"] = LiveCatalog(
        settings["CONTENT_DIR"],
        include_unpublished=settings["UNPUBLISHED"],
        max_items=settings["MAX_ITEMS"],
        max_bytes=settings["MAX_FILE_SIZE"],
        reload_interval=settings["RELOAD_INTERVAL"],
    )
    app.config.update(settings)
    app.config["CACHE_CONTROL"] = f"public, max-age={settings['CACHE_MAX_AGE']}"
    app.extensions["feedpub.sites"] = {}
    if settings["PROXY_FIX"]:
        hops = settings["PROXY_FIX"]
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops, x_prefix=hops
        )
    app.add_url_rule("/healthz", view_func=healthz)
    app.add_url_rule("/", view_func=document, defaults={"path": ""})
    app.add_url_rule("/<path:path>", view_func=document)
    app.register_error_handler(FeedNotFoundError, _not_found)
    return app


def get_live_catalog() -> LiveCatalog:
    """The current app's live catalog."""
    live: LiveCatalog = current_app.extensions["feedpub"]
    return live


def _settings(config: Any) -> dict[str, Any]:
    """Check and convert every setting; raises `ConfigError` naming the bad one."""
    try:
        base_url = config["BASE_URL"]
        return {
            "CONTENT_DIR": str(config["CONTENT_DIR"]),
            "BASE_URL": parse_base_url(str(base_url)) if base_url else None,
            "UNPUBLISHED": _flag(config["UNPUBLISHED"]),
            "MAX_ITEMS": _number(config["MAX_ITEMS"], int, 1),
            "MAX_FILE_SIZE": _number(config["MAX_FILE_SIZE"], int, 1),
            "CACHE_MAX_AGE": _number(config["CACHE_MAX_AGE"], int, 0),
            "RELOAD_INTERVAL": _number(config["RELOAD_INTERVAL"], float, 0),
            "PROXY_FIX": _number(config["PROXY_FIX"], int, 0),
            "TITLE": content.clean_text(str(config["TITLE"])).strip() or "feedpub",
        }
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"invalid FEEDPUB setting: {exc}") from exc


def _flag(value: Any) -> bool:
    if isinstance(value, bool | int):
        return bool(value)
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"", "0", "false", "no", "off"}:
        return False
    raise ValueError(f"{value!r} is not a yes/no value")


def _number(value: Any, kind: type, low: float) -> Any:
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a number")
    number = kind(value)
    if number < low:
        raise ValueError(f"{value!r} is below {low}")
    return number


def _site() -> Site:
    """The base URL configured, or else the one the request came to."""
    sites: dict[str | None, Site] = current_app.extensions["feedpub.sites"]
    configured = current_app.config["BASE_URL"]
    host_url = None if configured else request.host_url
    site = sites.get(host_url)
    if site is None:
        try:
            site = Site(configured or parse_base_url(host_url or ""), title=current_app.config["TITLE"])
        except ValueError:
            raise BadRequest("invalid Host header") from None
        if len(sites) >= MAX_HOSTS:  # Host headers are the client's to choose
            sites.clear()
        sites[host_url] = site
    return site


#: Hosts whose base URL is remembered between requests.
MAX_HOSTS = 64


def document(path: str) -> BaseResponse:
    """Any document of the URL space, with validators, caching and gzip.

    Polling readers make this the hot path: everything but the choice of
    encoding and the validator check is computed once per document."""
    live = get_live_catalog()
    rendered = live.document(live.snapshot(), "/" + path, _site())
    environ = request.environ
    # Parse Accept-Encoding only when it can say gzip at all.
    gzipped = "gzip" in environ.get("HTTP_ACCEPT_ENCODING", "") and request.accept_encodings["gzip"] > 0
    etag = f'"{rendered.etag}-gzip"' if gzipped else f'"{rendered.etag}"'
    headers = [
        ("Vary", "Accept-Encoding"),
        ("Cache-Control", current_app.config["CACHE_CONTROL"]),
        ("ETag", etag),
    ]
    if rendered.http_date is not None:
        headers.append(("Last-Modified", rendered.http_date))
    if ("HTTP_IF_NONE_MATCH" in environ or "HTTP_IF_MODIFIED_SINCE" in environ) and not is_resource_modified(
        environ, etag=etag.strip('"'), last_modified=rendered.last_modified
    ):
        return Response(status=304, headers=headers)
    headers.append(("Content-Type", rendered.content_type))
    if gzipped:
        headers.append(("Content-Encoding", "gzip"))
    return Response(rendered.gzipped if gzipped else rendered.body, headers=headers)


def healthz() -> Response:
    """State of the content, as JSON; 200 while serving."""
    live = get_live_catalog()
    snapshot = live.snapshot()
    catalog = snapshot.catalog
    response = jsonify(
        status="ok",
        files=snapshot.files,
        entries=catalog.entry_count,
        feeds=len(catalog.feeds),
        withheld=catalog.withheld,
        problems=[
            {
                "path": problem.path,
                "line": problem.line,
                "severity": problem.severity.value,
                "message": problem.message,
            }
            for problem in snapshot.problems
        ],
        reload_error=live.reload_error,
        last_reload=snapshot.loaded_at.isoformat(),
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _not_found(error: FeedNotFoundError) -> tuple[str, int, dict[str, str]]:
    site = _site()
    items = "".join(
        f'<li><a href="{html.escape(site.url(path))}">{html.escape(path)}</a></li>' for path in error.existing
    )
    body = (
        "<!DOCTYPE html>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n"
        f"<p>No feed at {html.escape(error.path)}. These exist:</p>\n<ul>{items}</ul>\n"
    )
    return body, 404, {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "public, max-age=60"}
