"""One `Page` → RSS 2.0, Atom 1.0 or JSON Feed 1.1 bytes. The only module that
imports feedgen.

feedgen has defaults that would leak into our output, so this module:

- sets every ``updated``/``lastBuildDate`` from the content (feedgen stamps
  the current time otherwise), so the same content gives the same bytes;
- adds the ``self`` link before the HTML one (RSS ``<channel><link>`` is the
  last link added);
- gives an entry feed's entries exactly one link (feedgen drops ``rel`` from
  Atom entry links, so a second one would become a duplicate alternate) and
  writes a story's ``rel="related"`` links itself;
- writes ``media:thumbnail`` itself, as a direct child of the item (feedgen's
  media extension wraps it in a one-child ``media:group``, which validators
  reject), the RSS-only ``<source>`` and ``dc:creator``, and the RFC 5005
  links and ``fh:archive`` marker that feedgen has no place for in RSS.

A document is feedgen's rendering of the feed's own elements with each
entry's element spliced in before the closing tag. Each entry element is
rendered once by feedgen, in a parent with the document's namespaces and
depth (so its bytes are those it has in any document), and `Fragments` keeps
it for the other feeds showing the same entry.
"""

from __future__ import annotations

import contextlib
import html
import json
from collections import OrderedDict
from collections.abc import Callable
from collections.abc import Iterator
from datetime import UTC
from datetime import datetime

from feedgen.entry import FeedEntry
from feedgen.ext.base import BaseEntryExtension
from feedgen.ext.base import BaseExtension
from feedgen.feed import FeedGenerator
from feedgen.util import xml_elem
from lxml import etree

from feedpub import reuse
from feedpub.documents import EntryCache
from feedpub.errors import RenderError
from feedpub.model import Entry
from feedpub.model import Page
from feedpub.model import Site
from feedpub.urls import http_url
from feedpub.urlspace import MEDIA_TYPES
from feedpub.urlspace import feed_path

#: ``updated`` of a feed without entries: fixed, never "now".
EMPTY_FEED_UPDATED = datetime(1970, 1, 1, tzinfo=UTC)
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"

_ATOM_NS = "http://www.w3.org/2005/Atom"
_MEDIA_NS = "http://search.yahoo.com/mrss/"
_DC_NS = "http://purl.org/dc/elements/1.1/"
_HISTORY_NS = "http://purl.org/syndication/history/1.0"
_CONTENT_NS = "http://purl.org/rss/1.0/modules/content/"
_NAMESPACES = {"media": _MEDIA_NS, "dc": _DC_NS, "fh": _HISTORY_NS}


def render(page: Page, format: str, site: Site, fragments: Fragments | None = None) -> bytes:
    """The page as RSS (``format="rss"``), Atom (``"atom"``) or JSON (``"json"``)."""
    fragments = fragments or Fragments()
    if format == "json":
        return _json(page, site, fragments)
    if format not in ("rss", "atom"):
        raise ValueError(f"unknown feed format {format!r}")
    try:
        head = _generator(page, format, site)
        document = bytes(head.rss_str(pretty=True) if format == "rss" else head.atom_str(pretty=True))
        entries = b"".join(fragments.xml(entry, format, site) for entry in page.entries)
    except ValueError as exc:
        raise RenderError(f"cannot render {feed_path(page.feed.key, format, page.number)}: {exc}") from exc
    closing = b"  </channel>\n</rss>\n" if format == "rss" else b"</feed>\n"
    assert document.endswith(closing)
    return document[: -len(closing)] + entries + closing


class Fragments:
    """Rendered entries (each format's element, the HTML body, a page's
    article) by key, for the documents of one version of the store (an
    entry has one state per version): an entry shown by five feeds is
    rendered once. Holds at most `limit` of them, the least recently used
    going first; `render` orders documents so that those showing the same
    entries come close together. While a `reuse.Recorder` is set
    (`recording`), an entry not yet rendered is copied from the document's
    previous bytes where it is unchanged, and what the document shows is
    recorded."""

    def __init__(self, limit: int = 24_000) -> None:
        self.limit = limit
        self._rendered: OrderedDict[tuple[str, ...], object] = OrderedDict()
        #: The entries themselves, as the store gave them in this version.
        self.entries = EntryCache()
        self._version: int | None = None
        self._recorder: reuse.Recorder | None = None

    def of_version(self, version: int) -> Fragments:
        """This cache for the documents of store version `version`: emptied
        if what it holds was rendered for another one."""
        if version != self._version:
            self._rendered.clear()
            self.entries.clear()
            self._version = version
        return self

    @contextlib.contextmanager
    def recording(self, recorder: reuse.Recorder | None) -> Iterator[None]:
        """Render one document with `recorder` (None: none)."""
        self._recorder = recorder
        try:
            yield
        finally:
            self._recorder = None

    def get(self, key: tuple[str, ...], make: Callable[[], object]) -> object:
        """The fragment at `key`, made by `make` the first time."""
        found = self._rendered.get(key)
        if found is None:
            found = self._rendered[key] = make()
            if len(self._rendered) > self.limit:
                self._rendered.popitem(last=False)
        else:
            self._rendered.move_to_end(key)
        return found

    def shown(self, entry: Entry, kind: str, site: Site, make: Callable[[], bytes]) -> bytes:
        """The bytes of `entry` in a document of format `kind` (``rss``,
        ``atom``, ``json`` or ``html``), made by `make` unless cached or
        copied from the document's previous bytes."""
        key = (entry.id, kind, site.base_url)
        recorder = self._recorder
        if recorder is None:
            return self.get(key, make)  # type: ignore[return-value]
        revision: str = self.get((entry.id, "revision", site.base_url), lambda: reuse.revision(entry, site))  # type: ignore[assignment]
        piece: bytes = self.get(key, lambda: recorder.copied(entry.id, revision) or make())  # type: ignore[assignment]
        recorder.shown(entry.id, revision, piece)
        return piece

    def content(self, entry: Entry) -> str:
        """The entry's HTML body (`content_html`), the same in every format."""
        return self.get((entry.id, "content"), lambda: content_html(entry))  # type: ignore[return-value]

    def xml(self, entry: Entry, format: str, site: Site) -> bytes:
        """The entry's ``<item>`` or ``<entry>`` element as it appears in a document."""
        return self.shown(entry, format, site, lambda: _xml_entry(entry, format, site, self.content(entry)))

    def json(self, entry: Entry, site: Site) -> bytes:
        """The entry's JSON Feed item, encoded."""
        make = lambda: json.dumps(_json_item(entry, self.content(entry)), ensure_ascii=False).encode()  # noqa: E731
        return self.shown(entry, "json", site, make)


def _links(page: Page, format: str, site: Site) -> list[tuple[str, str]]:
    """(rel, href) of the feed-level links beyond self and alternate: WebSub
    hubs and the RFC 5005 links between archive pages."""
    key = page.feed.key
    links = [("hub", hub) for hub in site.hubs]
    if page.older is not None:
        links.append(("prev-archive", site.url(feed_path(key, format, page.older))))
    if page.newer is not None:
        links.append(("next-archive", site.url(feed_path(key, format, page.newer))))
    if page.is_archive:
        links.append(("current", site.url(feed_path(key, format))))
    return links


def _generator(page: Page, format: str, site: Site) -> FeedGenerator:
    feed = page.feed
    generator = FeedGenerator()
    generator.register_extension("feedpub", _FeedExtension, _EntryExtension, atom=True, rss=True)
    extension: _FeedExtension = generator.feedpub
    extension.links = _links(page, format, site)
    extension.archive = page.is_archive
    self_url = site.url(feed_path(feed.key, format, page.number))
    # One logical feed, one id: its archive pages carry the subscription
    # document's (RFC 5005 reconstructs the feed from them all).
    generator.id(site.url(feed_path(feed.key, format)))
    # Not "page n of m": a sealed page must not change as pages are added.
    title = feed.title if page.number is None else f"{feed.title} (archive page {page.number})"
    generator.title(title)
    generator.subtitle(feed.description)  # also the RSS <description>
    generator.link(href=self_url, rel="self", type=MEDIA_TYPES[format])
    if format == "atom":
        for rel, href in extension.links:
            generator.link(href=href, rel=rel)
    generator.link(href=site.url(feed_path(feed.key, "html", page.number)), rel="alternate", type="text/html")
    generator.language(site.language)
    generator.generator("feedpub")
    if site.icon:
        generator.icon(site.icon)
    if site.logo or site.icon:
        generator.logo(site.logo or site.icon)  # also the RSS <image>
    generator.updated(page.updated or EMPTY_FEED_UPDATED)
    generator.lastBuildDate(page.updated or EMPTY_FEED_UPDATED)
    return generator


def _xml_entry(entry: Entry, format: str, site: Site, content: str) -> bytes:
    item = FeedEntry()
    item.register_extension("feedpub", _EntryExtension, atom=True, rss=True)
    item.id(entry.id)
    item.title(entry.title)
    item.link(href=entry.url)
    item.published(entry.published)
    item.updated(entry.updated)
    if entry.excerpt:
        # RSS readers take <description> as HTML, Atom's <summary> is text:
        # the excerpt is plain text, so RSS gets it escaped. Set first, as
        # feedgen's summary() would otherwise copy the raw text into RSS.
        item.description(html.escape(entry.excerpt, quote=False))
        item.summary(entry.excerpt)
    item.content(content, type="html")
    author = {"name": entry.provider.name}
    homepage = _homepage(entry)
    if homepage:
        author["uri"] = homepage
    item.author(author)
    if entry.topics:
        item.category([{"term": topic} for topic in entry.topics])
    extension: _EntryExtension = item.feedpub
    extension.entry = entry
    extension.source_url = site.url(feed_path(entry.provider_feed, "rss"))
    element = item.atom_entry() if format == "atom" else item.rss_entry()
    root, parent, closing = _PARENTS[format]
    parent.append(element)  # the namespaces the document declares are not declared again
    try:
        text = etree.tostring(root, pretty_print=True, encoding="UTF-8", xml_declaration=False)
    finally:
        parent.remove(element)
    # The entry's lines are all but the parent's opening and closing ones.
    start = text.index(b">\n", text.index(b"<channel") if format == "rss" else 0) + 2
    return bytes(text[start : text.rindex(closing)])


def _parents() -> dict[str, tuple[etree._Element, etree._Element, bytes]]:
    """Per format, an element like the document's root (its namespaces, and
    for RSS its channel) to render an entry in: the entry's bytes are those
    it has in the document, indentation included."""
    namespaces: dict[str | None, str] = {None: _ATOM_NS}
    namespaces.update(_NAMESPACES)
    feed = etree.Element(f"{{{_ATOM_NS}}}feed", nsmap=namespaces)
    rss = etree.Element("rss", nsmap={"atom": _ATOM_NS, "content": _CONTENT_NS, **_NAMESPACES})
    channel = etree.SubElement(rss, "channel")
    return {"atom": (feed, feed, b"</feed>"), "rss": (rss, channel, b"  </channel>")}


_PARENTS = _parents()


def _homepage(entry: Entry) -> str | None:
    return http_url(f"https://{entry.provider.domain}/") if entry.provider.domain else None


def content_html(entry: Entry) -> str:
    """The entry's HTML body: image, excerpt, body paragraphs and related
    coverage (a story's: every item with its outlet and date); every piece
    of text escaped, as the content is plain text."""
    parts = []
    if entry.images:
        image = entry.images[0]
        size = "".join(
            f' {name}="{value}"'
            for name, value in (("width", image.width), ("height", image.height))
            if value
        )
        alt = html.escape(image.title or entry.title)
        parts.append(f'<p><img src="{html.escape(image.url)}"{size} alt="{alt}"></p>')
    if entry.excerpt:
        parts.append(f"<p>{html.escape(entry.excerpt)}</p>")
    for paragraph in entry.body.split("\n\n"):
        if paragraph.strip():
            parts.append(f"<p>{html.escape(paragraph.strip())}</p>")
    if entry.coverage:
        items = "".join(
            f'<li><a href="{html.escape(link.url)}">{html.escape(link.title)}</a>'
            f" ({html.escape(link.provider)}"
            + (f", {link.published.strftime('%Y-%m-%d %H:%M UTC')}" if link.published else "")
            + ")</li>"
            for link in entry.coverage
        )
        parts.append(f"<p>Coverage:</p><ul>{items}</ul>")
    elif entry.related:
        links = "".join(
            f'<li><a href="{html.escape(link.url)}">{html.escape(link.title)}</a>'
            f" ({html.escape(link.provider)})</li>"
            for link in entry.related
        )
        parts.append(f"<p>Related coverage:</p><ul>{links}</ul>")
    parts.append(f'<p>Source: <a href="{html.escape(entry.url)}">{html.escape(entry.provider.name)}</a></p>')
    return "\n".join(parts)


class _FeedExtension(BaseExtension):  # type: ignore[misc]
    """Declares our namespaces; writes RFC 5005's marker and, in RSS, the
    links feedgen only writes in Atom."""

    def __init__(self) -> None:
        self.links: list[tuple[str, str]] = []
        self.archive = False

    def extend_ns(self) -> dict[str, str]:
        return dict(_NAMESPACES)

    def extend_atom(self, feed: etree._Element) -> etree._Element:
        if self.archive:
            xml_elem(f"{{{_HISTORY_NS}}}archive", feed)
        return feed

    def extend_rss(self, feed: etree._Element) -> etree._Element:
        channel = feed[0]
        for rel, href in self.links:
            xml_elem(f"{{{_ATOM_NS}}}link", channel, rel=rel, href=href)
        if self.archive:
            xml_elem(f"{{{_HISTORY_NS}}}archive", channel)
        return feed


class _EntryExtension(BaseEntryExtension):  # type: ignore[misc]
    """Writes what feedgen gets wrong or lacks for one entry."""

    def __init__(self) -> None:
        self.entry: Entry | None = None
        self.source_url = ""

    def extend_atom(self, element: etree._Element) -> etree._Element:
        assert self.entry is not None
        for link in self._related():
            xml_elem(f"{{{_ATOM_NS}}}link", element, rel="related", href=link.url, title=link.title)
        self._thumbnail(element)
        return element

    def extend_rss(self, element: etree._Element) -> etree._Element:
        assert self.entry is not None
        creator = xml_elem(f"{{{_DC_NS}}}creator", element)
        creator.text = self.entry.provider.name
        source = xml_elem("source", element, url=self.source_url)
        source.text = self.entry.provider.name
        for link in self._related():
            xml_elem(f"{{{_ATOM_NS}}}link", element, rel="related", href=link.url, title=link.title)
        self._thumbnail(element)
        return element

    def _related(self) -> list:  # type: ignore[type-arg]
        """A story's other items: one ``rel="related"`` link each."""
        assert self.entry is not None
        return [link for link in self.entry.coverage if link.url != self.entry.url]

    def _thumbnail(self, element: etree._Element) -> None:
        assert self.entry is not None
        if not self.entry.images:
            return
        image = self.entry.images[0]
        thumbnail = xml_elem(f"{{{_MEDIA_NS}}}thumbnail", element, url=image.url)
        if image.width and image.height:
            thumbnail.set("width", str(image.width))
            thumbnail.set("height", str(image.height))


# -- JSON Feed 1.1 -------------------------------------------------------------------


def _json(page: Page, site: Site, fragments: Fragments) -> bytes:
    feed = page.feed
    document: dict[str, object] = {
        "version": JSON_FEED_VERSION,
        "title": feed.title if page.number is None else f"{feed.title} (archive page {page.number})",
        "home_page_url": site.url(feed_path(feed.key, "html", page.number)),
        "feed_url": site.url(feed_path(feed.key, "json", page.number)),
        "description": feed.description,
        "language": site.language,
    }
    if site.logo or site.icon:
        document["icon"] = site.logo or site.icon
    if site.icon:
        document["favicon"] = site.icon
    if page.older is not None:
        # JSON Feed pages from newest to oldest: next_url is RFC 5005's prev-archive.
        document["next_url"] = site.url(feed_path(feed.key, "json", page.older))
    if site.hubs:
        document["hubs"] = [{"type": "WebSub", "url": hub} for hub in site.hubs]
    document["_feedpub"] = {
        "archive": page.is_archive,
        "current": site.url(feed_path(feed.key, "json")),
        **({"newer": site.url(feed_path(feed.key, "json", page.newer))} if page.newer else {}),
    }
    head = json.dumps(document, ensure_ascii=False).encode()
    items = b",".join(fragments.json(entry, site) for entry in page.entries)
    return head[:-1] + b',"items":[' + items + b"]}\n"


def _json_item(entry: Entry, content: str) -> dict[str, object]:
    author: dict[str, str] = {"name": entry.provider.name}
    homepage = _homepage(entry)
    if homepage:
        author["url"] = homepage
    item: dict[str, object] = {
        "id": entry.id,
        "url": entry.url,
        "title": entry.title,
        "content_html": content,
    }
    if entry.excerpt:
        item["summary"] = entry.excerpt
    if entry.images:
        item["image"] = entry.images[0].url
    item["date_published"] = _rfc3339(entry.published)
    item["date_modified"] = _rfc3339(entry.updated)
    item["authors"] = [author]
    if entry.topics:
        item["tags"] = list(entry.topics)
    links = entry.coverage or entry.related
    if links:
        name = "coverage" if entry.coverage else "related"
        item["_feedpub"] = {
            name: [
                {
                    "url": link.url,
                    "title": link.title,
                    "provider": link.provider,
                    **({"date_published": _rfc3339(link.published)} if link.published else {}),
                }
                for link in links
            ]
        }
    return item


def _rfc3339(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
