"""One `Feed` → RSS 2.0 or Atom 1.0 bytes. The only module that imports
feedgen.

feedgen has defaults that would leak into our output, so this module:

- sets every ``updated``/``lastBuildDate`` from the content (feedgen stamps
  the current time otherwise), so the same content gives the same bytes;
- appends entries in our order (feedgen prepends by default);
- adds the ``self`` link before the HTML one (RSS ``<channel><link>`` is the
  last link added);
- gives an entry exactly one link (feedgen drops ``rel`` from Atom entry
  links, so a second one would become a duplicate alternate) and puts the
  related coverage into the HTML content instead;
- writes ``media:thumbnail`` itself, as a direct child of the item (feedgen's
  media extension wraps it in a one-child ``media:group``, which validators
  reject), and the RSS-only ``<source>`` and ``dc:creator``.
"""

from __future__ import annotations

import html
from datetime import UTC
from datetime import datetime

from feedgen.entry import FeedEntry
from feedgen.ext.base import BaseEntryExtension
from feedgen.ext.base import BaseExtension
from feedgen.feed import FeedGenerator
from feedgen.util import xml_elem
from lxml.etree import _Element

from feedpub.errors import RenderError
from feedpub.model import MEDIA_TYPES
from feedpub.model import Entry
from feedpub.model import Feed
from feedpub.model import Site
from feedpub.urls import http_url

#: ``updated`` of a feed without entries: fixed, never "now".
EMPTY_FEED_UPDATED = datetime(1970, 1, 1, tzinfo=UTC)


_MEDIA_NS = "http://search.yahoo.com/mrss/"
_DC_NS = "http://purl.org/dc/elements/1.1/"


def render(feed: Feed, format: str, site: Site) -> bytes:
    """The feed as RSS (``format="rss"``) or Atom (``"atom"``) bytes."""
    generator = _generator(feed, format, site)
    try:
        if format == "rss":
            return bytes(generator.rss_str(pretty=True))
        if format == "atom":
            return bytes(generator.atom_str(pretty=True))
    except ValueError as exc:
        raise RenderError(f"cannot render {feed.path(format)}: {exc}") from exc
    raise ValueError(f"unknown feed format {format!r}")


def _generator(feed: Feed, format: str, site: Site) -> FeedGenerator:
    generator = FeedGenerator()
    generator.register_extension("feedpub", _FeedExtension, _EntryExtension)
    self_url = site.url(feed.path(format))
    generator.id(self_url)
    generator.title(site.feed_title(feed))
    generator.subtitle(feed.description)  # also the RSS <description>
    generator.link(href=self_url, rel="self", type=MEDIA_TYPES[format])
    generator.link(href=site.url("/"), rel="alternate", type="text/html")
    generator.language(site.language)
    generator.generator("feedpub")
    generator.updated(feed.updated or EMPTY_FEED_UPDATED)
    for entry in feed.entries:
        _add_entry(generator, entry, site)
    return generator


def _add_entry(generator: FeedGenerator, entry: Entry, site: Site) -> None:
    item: FeedEntry = generator.add_entry(order="append")
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
    item.content(content_html(entry), type="html")
    author = {"name": entry.provider.name}
    homepage = http_url(f"https://{entry.provider.domain}/") if entry.provider.domain else None
    if homepage:
        author["uri"] = homepage
    item.author(author)
    if entry.topics:
        item.category([{"term": topic} for topic in entry.topics])
    extension: _EntryExtension = item.feedpub
    extension.entry = entry
    extension.source_url = site.url(f"/{entry.provider_feed}.rss")


def content_html(entry: Entry) -> str:
    """The entry's HTML body: image, excerpt, body paragraphs and related
    coverage; every piece of text escaped, as the content is plain text."""
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
    if entry.related:
        links = "".join(
            f'<li><a href="{html.escape(link.url)}">{html.escape(link.title)}</a>'
            f" ({html.escape(link.provider)})</li>"
            for link in entry.related
        )
        parts.append(f"<p>Related coverage:</p><ul>{links}</ul>")
    parts.append(f'<p>Source: <a href="{html.escape(entry.url)}">{html.escape(entry.provider.name)}</a></p>')
    return "\n".join(parts)


class _FeedExtension(BaseExtension):  # type: ignore[misc]
    """Declares the namespaces our entry extension writes."""

    def extend_ns(self) -> dict[str, str]:
        return {"media": _MEDIA_NS, "dc": _DC_NS}


class _EntryExtension(BaseEntryExtension):  # type: ignore[misc]
    """Writes what feedgen gets wrong or lacks for one entry."""

    def __init__(self) -> None:
        self.entry: Entry | None = None
        self.source_url = ""

    def extend_atom(self, element: _Element) -> _Element:
        self._thumbnail(element)
        return element

    def extend_rss(self, element: _Element) -> _Element:
        assert self.entry is not None
        creator = xml_elem(f"{{{_DC_NS}}}creator", element)
        creator.text = self.entry.provider.name
        source = xml_elem("source", element, url=self.source_url)
        source.text = self.entry.provider.name
        self._thumbnail(element)
        return element

    def _thumbnail(self, element: _Element) -> None:
        assert self.entry is not None
        if not self.entry.images:
            return
        image = self.entry.images[0]
        thumbnail = xml_elem(f"{{{_MEDIA_NS}}}thumbnail", element, url=image.url)
        if image.width and image.height:
            thumbnail.set("width", str(image.width))
            thumbnail.set("height", str(image.height))
