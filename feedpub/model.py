"""The domain model: frozen dataclasses, no I/O.

Every datetime in this module is timezone-aware and in UTC. Every string has
been cleaned of characters that XML 1.0 forbids. Collections are tuples, so
that every object is hashable and comparable; the server relies on equality
to tell which feeds changed between two versions of the content.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


class Severity(enum.Enum):
    """How bad a problem is: an error refuses something, a warning fixes it up."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, order=True)
class Problem:
    """Something wrong in one content file, as shown to the user."""

    #: The file, as a path relative to the content folder (``news/a.md``).
    path: str
    #: 1-based line number in the file, when known.
    line: int | None
    #: What is wrong, naming the field at fault where there is one.
    message: str
    #: `Severity.ERROR` when something was refused, else `Severity.WARNING`.
    severity: Severity = Severity.ERROR

    @property
    def is_error(self) -> bool:
        """True when something of the file was not published."""
        return self.severity is Severity.ERROR

    def format(self, root: str = "") -> str:
        """``path:line: message``, the form editors and CI logs link to."""
        path = f"{root.rstrip('/')}/{self.path}" if root else self.path
        where = f"{path}:{self.line}" if self.line else path
        label = "" if self.is_error else "warning: "
        return f"{where}: {label}{self.message}"


@dataclass(frozen=True)
class Provider:
    """The outlet that published an article."""

    #: Display name; it identifies the provider (several share one domain).
    name: str
    #: The outlet's domain, e.g. ``go.com``; may be empty.
    domain: str = ""


@dataclass(frozen=True)
class Image:
    """An image of an article."""

    #: Absolute http(s) URL.
    url: str
    #: Pixel width, when known.
    width: int | None = None
    #: Pixel height, when known.
    height: int | None = None
    #: Caption or alt text; may be empty.
    title: str = ""


@dataclass(frozen=True)
class Article:
    """One story as written in a content file, or one of its related items.

    A related item is an `Article` with no `related` of its own and the
    parent's `path`; it does not yet carry the parent's topics (the catalog
    adds them).
    """

    #: Content file, relative to the content folder.
    path: str
    #: Headline, plain text.
    title: str
    #: Absolute http(s) URL of the story, as written.
    url: str
    #: The canonical form of `url`: the id of the entry the story becomes.
    id: str
    #: Publication time (UTC).
    published: datetime
    #: The publisher.
    provider: Provider
    #: Plain-text summary; may be empty.
    excerpt: str = ""
    #: Topic names, in file order, without duplicates.
    topics: tuple[str, ...] = ()
    #: Images, first one is the thumbnail.
    images: tuple[Image, ...] = ()
    #: Other outlets' coverage of the same story.
    related: tuple[Article, ...] = ()
    #: Article body after the front matter, plain text; may be empty.
    body: str = ""
    #: False for a draft (``published: false``).
    is_published: bool = True
    #: AMP version of the page, if any (http(s)).
    amp_url: str = ""
    #: Editorial category, e.g. ``news``.
    category: str = ""
    #: Kind of item, e.g. ``article``.
    kind: str = ""
    #: Editorial quality score 0-100, if given.
    quality: int | None = None
    #: Editorial heat score; -1 means unknown.
    heat: int | None = None


@dataclass(frozen=True)
class Link:
    """A link to related coverage, shown in an entry's HTML content."""

    #: Absolute http(s) URL.
    url: str
    #: Headline of the linked story.
    title: str
    #: Name of its provider.
    provider: str


@dataclass(frozen=True)
class Entry:
    """One feed entry: an article or related item after deduplication."""

    #: Canonical URL; the stable id/guid of the entry.
    id: str
    #: URL the entry links to.
    url: str
    #: Headline, plain text.
    title: str
    #: Publication time (UTC).
    published: datetime
    #: Last significant change (UTC); the publication time, as content files
    #: carry no modification time of their own.
    updated: datetime
    #: The publisher.
    provider: Provider
    #: URL-space key of the provider's feed, e.g. ``providers/abc``.
    provider_feed: str
    #: Plain-text summary; may be empty.
    excerpt: str = ""
    #: Topic display names, sorted.
    topics: tuple[str, ...] = ()
    #: Images, first one is the thumbnail.
    images: tuple[Image, ...] = ()
    #: Other coverage of the same story, newest first.
    related: tuple[Link, ...] = ()
    #: Body text, plain; may be empty.
    body: str = ""


#: Feed formats, by file extension.
FORMATS = ("rss", "atom")
#: Media types of the documents of the URL space, by file extension.
MEDIA_TYPES = {
    "rss": "application/rss+xml",
    "atom": "application/atom+xml",
    "opml": "text/x-opml",
    "html": "text/html",
}


class FeedKind(enum.Enum):
    """What a feed groups its entries by."""

    ALL = "all"
    TOPIC = "topic"
    PROVIDER = "provider"


@dataclass(frozen=True)
class Feed:
    """One feed of the URL space, in both formats, as data."""

    #: URL-space key without extension: ``all``, ``topics/ai``, ``providers/abc``.
    key: str
    #: What the feed groups by.
    kind: FeedKind
    #: Topic or provider display name; empty for the all-entries feed.
    name: str
    #: Newest first, at most the configured number of items.
    entries: tuple[Entry, ...]
    #: How many entries the group has in all (before the item limit).
    total: int
    #: Time of the newest entry, or None for an empty feed.
    updated: datetime | None = None

    def path(self, format: str) -> str:
        """Path of the feed in the URL space: ``/topics/ai.rss``."""
        return f"/{self.key}.{format}"

    @property
    def label(self) -> str:
        """Short name for lists: ``All entries``, ``AI``, ``ABC``."""
        return self.name or "All entries"

    @property
    def description(self) -> str:
        """One sentence saying what the feed holds."""
        if self.kind is FeedKind.TOPIC:
            return f"Stories about {self.name} and their coverage across outlets"
        if self.kind is FeedKind.PROVIDER:
            return f"Stories from {self.name}"
        return "Every story and its related coverage across outlets"


@dataclass(frozen=True)
class Site:
    """What every document of the URL space needs to know about the site."""

    #: Absolute http(s) URL the URL space lives under, without a trailing slash.
    base_url: str
    #: Site name, shown in feed titles and on the index page.
    title: str = "feedpub"
    #: Language of the feeds, as an RFC 5646 tag.
    language: str = "en"

    def url(self, path: str) -> str:
        """Absolute URL of a path of the URL space (``/all.rss``)."""
        return self.base_url + path

    def feed_title(self, feed: Feed) -> str:
        """Title of a feed, e.g. ``feedpub: AI``."""
        return f"{self.title}: {feed.label if feed.name else 'all entries'}"
