"""The domain model: frozen dataclasses, no I/O.

Glossary (one word for one thing, everywhere in feedpub):

- **article**: what one content file holds: a story as one outlet told it,
  with its front matter fields and an optional body (`Article`).
- **related item**: another outlet's coverage of the same story, listed
  under an article's ``related`` (`Item`, in `Article.related`).
- **item**: an article or one of its related items, as written in a file:
  the unit the loader produces and the store keeps (`Item`).
- **entry**: one URL after deduplication: every item with the same
  canonical URL is one entry; the top-level article's fields win (`Entry`).
- **story**: the entries connected by being items of the same files: an
  article, its related items, and every other file sharing a URL with them.
  Story feeds show each story once, as one entry listing its coverage.
- **feed**: a list of entries (or stories) with a key: ``all``,
  ``topics/ai``, ``providers/abc``, ``feeds/NAME``, ``stories``,
  ``topics/ai/stories`` (`Feed`).
- **page**: the part of a feed one document shows: the subscription
  document (the newest entries) or one archive page of older ones (`Page`).
- **document**: one path of the URL space and its bytes in one format
  (``/topics/ai.atom``, ``/all/archive/3.json``, ``/feeds.opml``).
- **site**: the whole URL space of one content folder, and what every
  document needs to know about it (`Site`).

Every datetime in this module is timezone-aware and in UTC. Every string has
been cleaned of characters that XML 1.0 forbids. Collections are tuples, so
that every object is hashable and comparable.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime


class Severity(enum.Enum):
    """How bad a problem is: an error refuses something, a warning fixes it up."""

    ERROR = "error"
    WARNING = "warning"


# Control characters, and the backslash that introduces an escape: a path
# holding a newline must not split one problem over two lines.
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\\]")
_ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r", "\\": "\\\\"}


def escape_controls(text: str) -> str:
    """`text` with control characters escaped the way ``ls -b`` shows them
    (``\\n``, ``\\t``, ``\\x1b``), so that it always stays on one line."""
    if not _UNPRINTABLE.search(text):
        return text
    return _UNPRINTABLE.sub(lambda m: _ESCAPES.get(m[0]) or f"\\x{ord(m[0]):02x}", text)


@dataclass(frozen=True, order=True)
class Problem:
    """Something wrong in one content file (or in the settings), as shown to
    the user."""

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
        """``path:line: message`` on one line, the form editors and CI logs
        link to; control characters in the path are escaped."""
        path = f"{root.rstrip('/')}/{self.path}" if root else self.path
        where = escape_controls(f"{path}:{self.line}" if self.line else path)
        label = "" if self.is_error else "warning: "
        return f"{where}: {label}{escape_controls(self.message)}"


@dataclass(frozen=True)
class Provider:
    """The outlet that published an item."""

    #: Display name; it identifies the provider (several share one domain).
    name: str
    #: The outlet's domain, e.g. ``go.com``; may be empty.
    domain: str = ""


@dataclass(frozen=True)
class Image:
    """An image of an item."""

    #: Absolute http(s) URL.
    url: str
    #: Pixel width, when known.
    width: int | None = None
    #: Pixel height, when known.
    height: int | None = None
    #: Caption or alt text; may be empty.
    title: str = ""


@dataclass(frozen=True, kw_only=True)
class Item:
    """An article or a related item, as its file writes it."""

    #: Headline, plain text.
    title: str
    #: Absolute http(s) URL of the item, as written.
    url: str
    #: The canonical form of `url`: which entry the item is part of.
    canonical: str
    #: Publication time (UTC).
    published: datetime
    #: The publisher.
    provider: Provider
    #: Plain-text summary; may be empty.
    excerpt: str = ""
    #: Topic names as written, in file order, without duplicates.
    topics: tuple[str, ...] = ()
    #: Images, the first one is the thumbnail.
    images: tuple[Image, ...] = ()
    #: AMP version of the page, if any (http(s)).
    amp_url: str = ""
    #: Editorial category, e.g. ``news``; may be empty.
    category: str = ""
    #: Kind of item, e.g. ``article`` (the ``type`` field); may be empty.
    type: str = ""
    #: Editorial quality score 0-100, or None when not given.
    quality: int | None = None
    #: Editorial heat score, or None when unknown (files write -1 for that).
    heat: int | None = None


@dataclass(frozen=True, kw_only=True)
class Article(Item):
    """What one content file holds: its item, its related items and its body."""

    #: Content file, relative to the content folder.
    path: str
    #: Other outlets' coverage of the same story, in file order.
    related: tuple[Item, ...] = ()
    #: Article body after the front matter, plain text; may be empty.
    body: str = ""
    #: True for a draft (``published: false``); its related items are drafts too.
    draft: bool = False
    #: Line of the file's own ``sourceUrl``, if found without composing the
    #: YAML again: for problems found later, when entries are merged.
    source_line: int | None = None


@dataclass(frozen=True)
class Link:
    """A link to another item of the same story: related coverage."""

    #: Absolute http(s) URL.
    url: str
    #: Headline of the linked item.
    title: str
    #: Name of its provider.
    provider: str
    #: Its publication time (UTC), or None where it is not shown.
    published: datetime | None = None


@dataclass(frozen=True)
class Entry:
    """One entry of a feed: an item after deduplication, or a whole story.

    A story entry carries its lead item's title, link, image and excerpt,
    and lists every item of the story (the lead too) in `coverage`.
    """

    #: Stable id/guid: the canonical URL it was first published under, kept
    #: by the id ledger; a ``tag:`` URI for a story.
    id: str
    #: URL the entry links to.
    url: str
    #: Headline, plain text.
    title: str
    #: Publication time (UTC).
    published: datetime
    #: Last real edit (UTC): from the id ledger, else the publication time.
    updated: datetime
    #: The publisher.
    provider: Provider
    #: Feed key of the provider's feed, e.g. ``providers/abc``.
    provider_feed: str
    #: Plain-text summary; may be empty.
    excerpt: str = ""
    #: Topic display names, sorted.
    topics: tuple[str, ...] = ()
    #: Images, the first one is the thumbnail.
    images: tuple[Image, ...] = ()
    #: Other coverage of the same story, newest first (entry feeds).
    related: tuple[Link, ...] = ()
    #: Body text, plain; may be empty.
    body: str = ""
    #: Every item of the story, newest first (story feeds only).
    coverage: tuple[Link, ...] = ()


class FeedKind(enum.Enum):
    """What a feed groups its entries by."""

    ALL = "all"
    STORIES = "stories"
    CURATED = "curated"
    TOPIC = "topic"
    TOPIC_STORIES = "topic-stories"
    PROVIDER = "provider"

    @property
    def shows_stories(self) -> bool:
        """Whether the feed's entries are stories."""
        return self in (FeedKind.STORIES, FeedKind.TOPIC_STORIES)


#: The index's sections and the OPML's folders, in order.
SECTIONS = (
    ((FeedKind.ALL,), "Everything"),
    ((FeedKind.STORIES, FeedKind.TOPIC_STORIES), "Stories"),
    ((FeedKind.CURATED,), "Curated feeds"),
    ((FeedKind.TOPIC,), "Topics"),
    ((FeedKind.PROVIDER,), "Providers"),
)


@dataclass(frozen=True)
class Feed:
    """One feed of the URL space, as data, without its entries."""

    #: Feed key: ``all``, ``topics/ai``, ``providers/abc``, ``feeds/NAME``,
    #: ``stories``, ``topics/ai/stories``.
    key: str
    #: What the feed groups by.
    kind: FeedKind
    #: Topic, provider or curated feed name; empty for ``all`` and ``stories``.
    name: str
    #: Feed title, e.g. ``feedpub: AI``.
    title: str
    #: One sentence saying what the feed holds.
    description: str
    #: How many entries the feed has in all, archives included.
    total: int = 0
    #: Publication time of its newest entry, or None for an empty feed.
    newest: datetime | None = None

    @property
    def label(self) -> str:
        """Short name for lists: ``All entries``, ``AI``, ``ABC``."""
        if self.kind is FeedKind.ALL:
            return "All entries"
        if self.kind is FeedKind.STORIES:
            return "All stories"
        if self.kind is FeedKind.TOPIC_STORIES:
            return f"{self.name}: stories"
        return self.name


@dataclass(frozen=True)
class Page:
    """What one document of a feed shows: the subscription document (the
    newest entries) or one archive page (RFC 5005) of older ones."""

    #: The feed.
    feed: Feed
    #: None for the subscription document; else the archive page's number,
    #: 1 for the oldest.
    number: int | None
    #: How many archive pages the feed has (0: none).
    pages: int
    #: Newest first.
    entries: tuple[Entry, ...]

    @property
    def updated(self) -> datetime | None:
        """The latest `Entry.updated` shown, or None without entries."""
        return max((entry.updated for entry in self.entries), default=None)

    @property
    def is_archive(self) -> bool:
        """Whether this is an archive page."""
        return self.number is not None

    @property
    def older(self) -> int | None:
        """Number of the next older archive page (``prev-archive``), if any."""
        if self.number is None:
            return self.pages or None
        return self.number - 1 or None

    @property
    def newer(self) -> int | None:
        """Number of the next newer archive page (``next-archive``), if any."""
        if self.number is None or self.number >= self.pages:
            return None
        return self.number + 1


@dataclass(frozen=True)
class Overview:
    """What the index page and the OPML list show of the whole site."""

    #: Every feed, in URL-space order (see `SECTIONS`).
    feeds: tuple[Feed, ...]
    #: How many entries are published.
    entries: int
    #: Publication time of the newest entry, if any.
    newest: datetime | None
    #: Entries withheld because every item of them is a draft.
    drafts: int = 0
    #: Entries withheld until their time comes.
    scheduled: int = 0


@dataclass(frozen=True)
class Site:
    """What every document of the URL space needs to know about the site."""

    #: Absolute http(s) URL the URL space lives under, without a trailing slash.
    base_url: str
    #: Site name, shown in feed titles and on the index page.
    title: str = "feedpub"
    #: One sentence about the site, for the index page and the ``all`` feed.
    description: str = ""
    #: Language of the feeds, as an RFC 5646 tag.
    language: str = "en"
    #: Absolute URL of a small square icon, if configured.
    icon: str = ""
    #: Absolute URL of a larger logo, if configured.
    logo: str = ""
    #: WebSub hubs every feed advertises.
    hubs: tuple[str, ...] = field(default=())

    def url(self, path: str) -> str:
        """Absolute URL of a path of the URL space (``/all.rss``)."""
        return self.base_url + path
