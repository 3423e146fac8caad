"""The URL space: which documents exist for a catalog, and their bytes.

`feedpub build` writes every path of `paths` to a file and the web app
answers each with `render`, so the two cannot drift apart.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from datetime import datetime

from feedpub.catalog import Catalog
from feedpub.errors import FeedNotFoundError
from feedpub.model import FORMATS
from feedpub.model import MEDIA_TYPES
from feedpub.model import Site

INDEX_PATH = "/"
OPML_PATH = "/feeds.opml"


@dataclass(frozen=True)
class Document:
    """One rendered document of the URL space."""

    #: URL path, e.g. ``/topics/ai.rss``.
    path: str
    #: The exact bytes served and written.
    body: bytes
    #: Media type without parameters, e.g. ``application/rss+xml``.
    media_type: str
    #: Time of the newest entry it shows (UTC), for Last-Modified.
    updated: datetime | None


def compress(body: bytes) -> bytes:
    """The gzip form of a document: the same bytes every time (no timestamp
    in the header), as the server sends and ``feedpub build --gzip`` writes."""
    return gzip.compress(body, compresslevel=6, mtime=0)


def paths(catalog: Catalog) -> tuple[str, ...]:
    """Every path of the URL space, index and OPML first."""
    return (INDEX_PATH, OPML_PATH) + tuple(f"/{key}.{format}" for key in catalog.feeds for format in FORMATS)


def file_name(path: str) -> str:
    """Where a path lives below the output folder: ``/`` is ``index.html``."""
    return "index.html" if path == INDEX_PATH else path.lstrip("/")


def render(catalog: Catalog, path: str, site: Site) -> Document:
    """The document at `path`; raises `FeedNotFoundError` for any other path."""
    # Imported here: feedgen, lxml and Jinja take a tenth of a second to
    # import, which a rebuild with little or nothing to render should not pay.
    if path in (INDEX_PATH, "/index.html", OPML_PATH):
        from feedpub import pages

        if path == OPML_PATH:
            return Document(path, pages.feeds_opml(catalog, site), MEDIA_TYPES["opml"], catalog.newest)
        return Document(INDEX_PATH, pages.index_html(catalog, site), MEDIA_TYPES["html"], catalog.newest)
    from feedpub import feeds

    key, dot, format = path.lstrip("/").rpartition(".")
    feed = catalog.feeds.get(key) if dot and format in FORMATS else None
    if feed is None:
        raise FeedNotFoundError(path, paths(catalog))
    return Document(path, feeds.render(feed, format, site), MEDIA_TYPES[format], feed.updated)
