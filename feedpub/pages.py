"""The two documents beside the feeds: ``index.html`` and ``feeds.opml``."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from email.utils import format_datetime

import jinja2

from feedpub.catalog import Catalog
from feedpub.model import FORMATS
from feedpub.model import FeedKind
from feedpub.model import Site

_SECTIONS = ((FeedKind.ALL, "Everything"), (FeedKind.TOPIC, "Topics"), (FeedKind.PROVIDER, "Providers"))

_INDEX = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True).from_string(
    """\
<!DOCTYPE html>
<html lang="{{ site.language }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ site.title }}: feeds</title>
{% for feed in catalog.feeds.values() %}
<link rel="alternate" type="application/rss+xml" title="{{ site.feed_title(feed) }} (RSS)" href="{{ site.url(feed.path('rss')) }}">
<link rel="alternate" type="application/atom+xml" title="{{ site.feed_title(feed) }} (Atom)" href="{{ site.url(feed.path('atom')) }}">
{% endfor %}
<style>
body { font: 16px/1.5 system-ui, sans-serif; max-width: 48rem; margin: 2rem auto; padding: 0 1rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .25rem .5rem; border-bottom: 1px solid #ddd; }
td.count { text-align: right; }
</style>
</head>
<body>
<h1>{{ site.title }}</h1>
<p>{{ count(catalog.entry_count, "entry", "entries") }} in {{ count(catalog.feeds|length, "feed", "feeds") }}, each as RSS 2.0 and Atom 1.0.
Subscribe to one below, or import <a href="{{ site.url('/feeds.opml') }}">feeds.opml</a> into your feed reader.</p>
{% if catalog.withheld %}
<p class="withheld">{{ catalog.withheld }} {{ "entry is" if catalog.withheld == 1 else "entries are" }} withheld as unpublished drafts.</p>
{% endif %}
{% for kind, heading in sections %}
{% set feeds = catalog.feeds.values()|selectattr("kind", "equalto", kind)|list %}
{% if feeds %}
<h2>{{ heading }}</h2>
<table>
<thead><tr><th>Feed</th><th>Entries</th><th>Newest</th><th>Subscribe</th></tr></thead>
<tbody>
{% for feed in feeds %}
<tr id="{{ feed.key|replace('/', '-') }}">
<td>{{ feed.label }}</td>
<td class="count">{{ feed.total }}</td>
<td>{% if feed.updated %}<time datetime="{{ feed.updated.isoformat() }}">{{ feed.updated.strftime("%Y-%m-%d %H:%M UTC") }}</time>{% else %}none{% endif %}</td>
<td>{% for format in formats %}<a href="{{ site.url(feed.path(format)) }}">{{ "RSS" if format == "rss" else "Atom" }}</a>{{ " " if not loop.last }}{% endfor %}</td>
</tr>
{% endfor %}
</tbody>
</table>
{% endif %}
{% endfor %}
</body>
</html>
"""
)


def index_html(catalog: Catalog, site: Site) -> bytes:
    """The HTML page listing every feed, with autodiscovery links."""
    html = _INDEX.render(catalog=catalog, site=site, sections=_SECTIONS, formats=FORMATS, count=_count)
    return html.encode("utf-8")


def _count(number: int, singular: str, plural: str) -> str:
    return f"{number} {singular if number == 1 else plural}"


def feeds_opml(catalog: Catalog, site: Site) -> bytes:
    """OPML 2.0 subscription list: every feed once (as RSS), grouped into
    topics and providers, so a reader import gives one subscription each."""
    opml = ET.Element("opml", version="2.0")
    head = ET.SubElement(opml, "head")
    ET.SubElement(head, "title").text = f"{site.title}: feeds"
    if catalog.newest is not None:
        ET.SubElement(head, "dateModified").text = format_datetime(catalog.newest)
    ET.SubElement(head, "docs").text = "http://opml.org/spec2.opml"
    body = ET.SubElement(opml, "body")
    for kind, heading in _SECTIONS:
        feeds = [feed for feed in catalog.feeds.values() if feed.kind is kind]
        if not feeds:
            continue  # no empty folder in the reader
        parent = body if kind is FeedKind.ALL else ET.SubElement(body, "outline", text=heading)
        for feed in feeds:
            title = site.feed_title(feed)
            ET.SubElement(
                parent,
                "outline",
                type="rss",
                text=title,
                title=title,
                xmlUrl=site.url(feed.path("rss")),
                htmlUrl=site.url("/"),
            )
    ET.indent(opml)
    return bytes(ET.tostring(opml, encoding="utf-8", xml_declaration=True)) + b"\n"
