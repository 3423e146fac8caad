"""Every HTML page of the URL space (the index, a page per feed and archive
page, the 404 page) and ``feeds.opml``, as bytes.

The pages are plain HTML5 with a little CSS and no script: readable on a
phone (long words wrap rather than widen the page), and what a person sees
who clicks a feed link in a browser, since browsers are dropping XSLT.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import partial

from markupsafe import escape

from feedpub.feeds import Fragments
from feedpub.model import SECTIONS
from feedpub.model import Entry
from feedpub.model import Feed
from feedpub.model import FeedKind
from feedpub.model import Overview
from feedpub.model import Page
from feedpub.model import Site
from feedpub.urlspace import FEED_FORMATS
from feedpub.urlspace import FORMAT_NAMES
from feedpub.urlspace import MEDIA_TYPES
from feedpub.urlspace import OPML_PATH
from feedpub.urlspace import feed_path

_STYLE = """\
*, *::before, *::after { box-sizing: border-box; }
body { font: 16px/1.5 system-ui, sans-serif; max-width: 46rem; margin: 0 auto; padding: 1rem;
  overflow-wrap: anywhere; color: #222; background: #fff; }
a { color: #0645ad; }
img { max-width: 100%; height: auto; }
header { border-bottom: 1px solid #ddd; margin-bottom: 1rem; }
.site { margin: 0; font-size: .9rem; }
h1 { font-size: 1.6rem; line-height: 1.2; margin: .3rem 0; }
h2 { font-size: 1.2rem; line-height: 1.3; margin: 0 0 .3rem; }
.meta, .note { color: #555; font-size: .9rem; }
article { border-bottom: 1px solid #eee; padding: 1rem 0; }
ul.links { padding-left: 1.2rem; }
table { border-collapse: collapse; width: 100%; table-layout: fixed; }
th, td { text-align: left; padding: .3rem .4rem; border-bottom: 1px solid #ddd; vertical-align: top; }
th:nth-child(2), td:nth-child(2) { width: 4.5rem; text-align: right; }
th:nth-child(3), td:nth-child(3) { width: 7rem; }
@media (max-width: 30rem) { th:nth-child(3), td:nth-child(3) { display: none; } }
nav.pages { display: flex; justify-content: space-between; gap: 1rem; padding: 1rem 0; }
"""

# Every piece of text from content or settings goes through `_e`, as an
# attribute value or as text: markupsafe's escape (Flask's, and what Jinja2
# uses), which escapes the quotes too (``&#34;``, ``&#39;``).
_e = escape

# The pages are built from strings rather than with a template engine:
# importing Jinja2 cost a rebuild after an edit 8 % of its time.
_STYLE_ELEMENT = f"<style>\n{_e(_STYLE)}</style>\n"


def _date(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _time(moment: datetime) -> str:
    return f'<time datetime="{_e(_iso(moment))}">{_e(_date(moment))}</time>'


def _count(number: int, singular: str, plural: str) -> str:
    return f"{number} {singular if number == 1 else plural}"


def _entries_are(number: int) -> str:
    return f"{number} {'entry is' if number == 1 else 'entries are'}"


def _head(site: Site, title: str, alternates: Iterable[Feed]) -> list[str]:
    """The page up to ``<body>``: its title, icon, and the feeds a reader
    can discover from it."""
    parts = [
        "<!DOCTYPE html>\n",
        f'<html lang="{_e(site.language)}">\n',
        "<head>\n",
        '<meta charset="utf-8">\n',
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
        f"<title>{_e(title)}</title>\n",
    ]
    if site.icon:
        parts.append(f'<link rel="icon" href="{_e(site.icon)}">\n')
    for feed in alternates:
        for format in FEED_FORMATS:
            parts.append(
                f'<link rel="alternate" type="{_e(MEDIA_TYPES[format])}" title="{_e(feed.title)}'
                f' ({_e(FORMAT_NAMES[format])})" href="{_e(site.url(feed_path(feed.key, format)))}">\n'
            )
    parts += [_STYLE_ELEMENT, "</head>\n", "<body>\n"]
    return parts


def _formats(feed: Feed, site: Site, between: str) -> str:
    """A link to each format of `feed`."""
    return between.join(
        f'<a href="{_e(site.url(feed_path(feed.key, format)))}">{_e(FORMAT_NAMES[format])}</a>'
        for format in FEED_FORMATS
    )


def _page(parts: list[str]) -> bytes:
    return "".join(parts).encode("utf-8")


def index_html(overview: Overview, site: Site) -> bytes:
    """The page listing every feed, with autodiscovery links."""
    parts = _head(site, f"{site.title}: feeds", overview.feeds)
    parts += ["<header>\n", f"<h1>{_e(site.title)}</h1>\n"]
    if site.description:
        parts.append(f"<p>{_e(site.description)}</p>")
    parts.append(
        f"<p>{_e(_count(overview.entries, 'entry', 'entries'))} in"
        f" {_e(_count(len(overview.feeds), 'feed', 'feeds'))}, each as RSS 2.0, Atom 1.0, JSON Feed 1.1 and a web page.\n"
        "Subscribe to one below by copying its link into your feed reader, or import"
        f' <a href="{_e(site.url(OPML_PATH))}">feeds.opml</a> to subscribe to them all.</p>\n'
    )
    if overview.drafts:
        parts.append(
            f'<p class="note withheld">{_entries_are(overview.drafts)} withheld as unpublished drafts.</p>\n'
        )
    if overview.scheduled:
        parts.append(
            f'<p class="note scheduled">{_entries_are(overview.scheduled)} scheduled for later.</p>\n'
        )
    parts += ["</header>\n", "<main>\n"]
    for kinds, heading in SECTIONS:
        feeds = [feed for feed in overview.feeds if feed.kind in kinds]
        if not feeds:
            continue
        parts += [
            f"<h2>{_e(heading)}</h2>\n",
            "<table>\n",
            "<thead><tr><th>Feed</th><th>Entries</th><th>Newest</th><th>Subscribe</th></tr></thead>\n",
            "<tbody>\n",
        ]
        for feed in feeds:
            newest = _time(feed.newest) if feed.newest else "none"
            parts += [
                f'<tr id="{_e(feed.key.replace("/", "-"))}">\n',
                f'<td><a href="{_e(site.url(feed_path(feed.key, "html")))}">{_e(feed.label)}</a></td>\n',
                f"<td>{feed.total}</td>\n",
                f"<td>{newest}</td>\n",
                f"<td>{_formats(feed, site, ' ')}</td>\n",
                "</tr>\n",
            ]
        parts += ["</tbody>\n", "</table>\n"]
    parts += ["</main>\n", "</body>\n", "</html>"]
    return _page(parts)


def _article(entry: Entry) -> bytes:
    """One entry as it appears, verbatim, in the page of a feed."""
    meta = f"{_e(entry.provider.name)} · {_time(entry.published)}"
    if entry.updated > entry.published:
        meta += f" · updated {_time(entry.updated)}"
    if entry.topics:
        meta += f" · {_e(', '.join(entry.topics))}"
    parts = [
        "<article>\n",
        f'<h2><a href="{_e(entry.url)}">{_e(entry.title)}</a></h2>\n',
        f'<p class="meta">{meta}</p>\n',
    ]
    if entry.images:
        image = entry.images[0]
        width = f' width="{image.width}"' if image.width else ""
        height = f' height="{image.height}"' if image.height else ""
        alt = image.title or entry.title
        parts.append(f'<p><img src="{_e(image.url)}" alt="{_e(alt)}"{width}{height} loading="lazy"></p>\n')
    if entry.excerpt:
        parts.append(f"<p>{_e(entry.excerpt)}</p>")  # the first paragraph follows on the same line
    parts += [
        f"<p>{_e(paragraph.strip())}</p>\n" for paragraph in entry.body.split("\n\n") if paragraph.strip()
    ]
    links = entry.coverage or entry.related
    if links:
        parts += [
            f'<p class="meta">{"Coverage" if entry.coverage else "Related coverage"}:</p>\n',
            '<ul class="links">\n',
        ]
        for link in links:
            published = f", {_time(link.published)}" if link.published else ""
            parts.append(
                f'<li><a href="{_e(link.url)}">{_e(link.title)}</a> ({_e(link.provider)}{published})</li>\n'
            )
        parts.append("</ul>\n")
    parts.append("</article>")
    return _page(parts)


def feed_html(page: Page, site: Site, fragments: Fragments | None = None) -> bytes:
    """The readable page of one feed document: its entries newest first."""
    fragments = fragments or Fragments()
    feed = page.feed
    title = feed.title if page.number is None else f"{feed.title}: archive page {page.number}"
    newest = _e(site.url(feed_path(feed.key, "html")))
    parts = _head(site, title, (feed,))
    parts += [
        "<header>\n",
        f'<p class="site"><a href="{_e(site.url("/"))}">{_e(site.title)}</a></p>\n',
        f"<h1>{_e(feed.title)}</h1>\n",
        f"<p>{_e(feed.description)}</p>\n",
    ]
    if page.is_archive:
        parts.append(
            f'<p class="note">Archive page {page.number}: older entries, the oldest on page 1.'
            f' <a href="{newest}">The newest entries</a>.</p>\n'
        )
    parts += [
        f'<p class="subscribe">Subscribe: {_formats(feed, site, ", ")}.\n',
        "Copy one of these links into your feed reader (any reads RSS and Atom; some also JSON Feed).</p>\n",
        "</header>\n",
        "<main>\n",
    ]
    for entry in page.entries:
        parts += [fragments.shown(entry, "html", site, partial(_article, entry)).decode("utf-8"), "\n"]
    if not page.entries:
        parts.append("<p>No entries yet.</p>\n")
    parts.append("</main>\n")
    if page.newer or page.older or page.is_archive:
        if page.newer:
            newer = f'<a rel="next" href="{_e(site.url(feed_path(feed.key, "html", page.newer)))}">Newer entries</a>'
        elif page.is_archive:
            newer = f'<a href="{newest}">Newest entries</a>'
        else:
            newer = ""
        older = (
            f'<a rel="prev" href="{_e(site.url(feed_path(feed.key, "html", page.older)))}">Older entries</a>'
            if page.older
            else ""
        )
        parts += ['<nav class="pages">\n', f"<span>{newer}</span>\n", f"<span>{older}</span>\n", "</nav>\n"]
    parts += ["</body>\n", "</html>"]
    return _page(parts)


def not_found_html(path: str, feeds: tuple[Feed, ...], site: Site) -> bytes:
    """The 404 page: what was asked for, and every feed that exists."""
    parts = _head(site, "404 Not Found", ())
    parts += [
        "<h1>Not Found</h1>\n",
        f"<p>No feed at {_e(path)}. These exist:</p>\n",
        "<ul>\n",
        f'<li><a href="{_e(site.url("/"))}">/</a></li>\n',
        f'<li><a href="{_e(site.url(OPML_PATH))}">{_e(OPML_PATH)}</a></li>\n',
    ]
    for feed in feeds:
        for format in (*FEED_FORMATS, "html"):
            path_of = feed_path(feed.key, format)
            parts.append(f'<li><a href="{_e(site.url(path_of))}">{_e(path_of)}</a></li>\n')
    parts += ["</ul>\n", "</body>\n", "</html>"]
    return _page(parts)


def feeds_opml(overview: Overview, site: Site) -> bytes:
    """OPML 2.0 subscription list: every feed once (as RSS), in folders, so a
    reader import gives one subscription each; archive pages are not feeds
    to subscribe to and are not listed."""
    # Imported here: only the OPML needs them, and an edit's rebuild, which
    # renders feed pages, does not (they are a few percent of its time).
    import xml.etree.ElementTree as ET
    from email.utils import format_datetime

    opml = ET.Element("opml", version="2.0")
    head = ET.SubElement(opml, "head")
    ET.SubElement(head, "title").text = f"{site.title}: feeds"
    if overview.newest is not None:
        ET.SubElement(head, "dateModified").text = format_datetime(overview.newest)
    ET.SubElement(head, "docs").text = "http://opml.org/spec2.opml"
    body = ET.SubElement(opml, "body")
    for kinds, heading in SECTIONS:
        feeds = [feed for feed in overview.feeds if feed.kind in kinds]
        if not feeds:
            continue  # no empty folder in the reader
        parent = body if kinds == (FeedKind.ALL,) else ET.SubElement(body, "outline", text=heading)
        for feed in feeds:
            ET.SubElement(
                parent,
                "outline",
                type="rss",
                text=feed.title,
                title=feed.title,
                xmlUrl=site.url(feed_path(feed.key, "rss")),
                htmlUrl=site.url(feed_path(feed.key, "html")),
            )
    ET.indent(opml)
    return bytes(ET.tostring(opml, encoding="utf-8", xml_declaration=True)) + b"\n"
