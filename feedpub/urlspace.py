"""The URL space: its paths, formats and media types, built in one place and
parsed in one place.

Every feed has four forms (``.rss``, ``.atom``, ``.json`` and a readable
``.html`` page) and RFC 5005 archive pages of its older entries, numbered
from the oldest:

| path | document |
|---|---|
| ``/`` (``index.html``) | the index page |
| ``/feeds.opml`` | every feed, to import into a reader |
| ``/all.{rss,atom,json,html}`` | every entry |
| ``/stories.{…}`` | every story, once, with its coverage |
| ``/topics/<slug>.{…}`` | the entries of one topic |
| ``/topics/<slug>/stories.{…}`` | the stories of one topic |
| ``/providers/<slug>.{…}`` | the entries of one provider |
| ``/feeds/<name>.{…}`` | a curated feed of ``feedpub.toml`` |
| ``/<feed key>/archive/<n>.{…}`` | archive page n of a feed (1 = oldest) |
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from feedpub.model import FeedKind

#: Every form of every feed, by file extension.
FORMATS = ("rss", "atom", "json", "html")
#: The forms a feed reader subscribes to.
FEED_FORMATS = ("rss", "atom", "json")
#: Media types of the documents, by file extension (``Content-Type`` adds
#: ``; charset=utf-8``).
MEDIA_TYPES = {
    "rss": "application/rss+xml",
    "atom": "application/atom+xml",
    "json": "application/feed+json",
    "html": "text/html",
    "opml": "text/x-opml",
}
#: Human names of the formats, for links and titles.
FORMAT_NAMES = {"rss": "RSS", "atom": "Atom", "json": "JSON Feed", "html": "Web page"}

INDEX_PATH = "/"
OPML_PATH = "/feeds.opml"

#: Folder of each kind of feed that has one, and the kinds that have none.
_FOLDERS = {FeedKind.TOPIC: "topics", FeedKind.PROVIDER: "providers", FeedKind.CURATED: "feeds"}
_FIXED_KEYS = {FeedKind.ALL: "all", FeedKind.STORIES: "stories"}
_SLUG = r"[a-z0-9][a-z0-9-]*"
_KEY = re.compile(rf"all|stories|(?:topics|providers|feeds)/{_SLUG}|topics/{_SLUG}/stories")
_PATH = re.compile(r"/(?P<key>[a-z0-9/-]+?)(?:/archive/(?P<page>[1-9][0-9]{0,8}))?\.(?P<format>[a-z]+)")


def feed_key(kind: FeedKind, slug: str = "") -> str:
    """The key of a feed: ``all``, ``topics/ai``, ``topics/ai/stories``…"""
    if kind in _FIXED_KEYS:
        return _FIXED_KEYS[kind]
    if kind is FeedKind.TOPIC_STORIES:
        return f"topics/{slug}/stories"
    return f"{_FOLDERS[kind]}/{slug}"


def feed_path(key: str, format: str, page: int | None = None) -> str:
    """Path of a feed document: ``/topics/ai.rss``, ``/all/archive/3.atom``."""
    if page is None:
        return f"/{key}.{format}"
    return f"/{key}/archive/{page}.{format}"


@dataclass(frozen=True)
class DocumentRef:
    """What a path of the URL space names."""

    #: Feed key, or None for the index page and the OPML list.
    feed: str | None
    #: Archive page number, or None for the subscription document.
    page: int | None
    #: File extension: one of `FORMATS`, or ``opml``.
    format: str

    @property
    def path(self) -> str:
        """The canonical path of the document (``/`` for the index)."""
        if self.feed is None:
            return OPML_PATH if self.format == "opml" else INDEX_PATH
        return feed_path(self.feed, self.format, self.page)

    @property
    def media_type(self) -> str:
        """Media type without parameters."""
        return MEDIA_TYPES[self.format]

    @property
    def is_hot(self) -> bool:
        """Whether readers poll it: everything but archive pages, which the
        server renders on demand instead of keeping ready."""
        return self.page is None


INDEX = DocumentRef(None, None, "html")
OPML = DocumentRef(None, None, "opml")


def parse(path: str) -> DocumentRef | None:
    """The document `path` names, or None if it names none."""
    if path in (INDEX_PATH, "/index.html"):
        return INDEX
    if path == OPML_PATH:
        return OPML
    match = _PATH.fullmatch(path)
    if match is None or match["format"] not in FORMATS or not _KEY.fullmatch(match["key"]):
        return None
    page = match["page"]
    return DocumentRef(match["key"], int(page) if page else None, match["format"])


def file_name(path: str) -> str:
    """Where a path lives below the output folder: ``/`` is ``index.html``."""
    return "index.html" if path == INDEX_PATH else path.lstrip("/")


def feed_documents(key: str, pages: int) -> list[DocumentRef]:
    """Every document of one feed: its subscription document and its
    archive pages, each in every format."""
    numbers: list[int | None] = [None, *range(1, pages + 1)]
    return [DocumentRef(key, number, format) for number in numbers for format in FORMATS]


#: Top-level folders of the output that hold feeds, and the suffixes of the
#: files feedpub writes there: a stale one (a feed that no longer exists) is
#: removed.
OWNED_FOLDERS = ("topics", "providers", "feeds", "all", "stories")
OWNED_SUFFIXES = tuple(f".{format}" for format in FORMATS) + (".gz",)
OWNED_TOP_FILES = ("all", "stories")
