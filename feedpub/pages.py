"""Every HTML page of the URL space (the index, a page per feed and archive
page, the 404 page) and ``feeds.opml``, as bytes.

The pages are plain HTML5 with a little CSS and no script: readable on a
phone (long words wrap rather than widen the page), and what a person sees
who clicks a feed link in a browser, since browsers are dropping XSLT.
"""

from __future__ import annotations

import contextlib
import pickle
from functools import partial
from pathlib import Path

import jinja2
from markupsafe import Markup

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

# The templates never change while a process runs (auto_reload off), and
# `_TEMPLATES` gives them names, so that Jinja can keep them compiled
# (`keep_compiled_templates`).
_ENV = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True, auto_reload=False)
_ENV.globals.update(formats=FEED_FORMATS, format_names=FORMAT_NAMES, media_types=MEDIA_TYPES, style=_STYLE)
_ENV.filters["date"] = lambda moment: moment.strftime("%Y-%m-%d %H:%M UTC")
_ENV.filters["iso"] = lambda moment: moment.isoformat().replace("+00:00", "Z")


def _template(name: str) -> jinja2.Template:
    """The template `name` of `_TEMPLATES`, compiled when first used:
    compiling them all on import would cost every build, even one that
    renders no page."""
    return _ENV.get_template(name)


def keep_compiled_templates(folder: Path) -> None:
    """Keep the compiled templates in `folder`, for the processes after this
    one: compiling the two a feed's page needs costs a rebuild after an edit
    about 20 ms, more than rendering its pages."""
    if _ENV.bytecode_cache is not None:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return  # compiled each time: slower, not wrong
    _ENV.bytecode_cache = _CompiledTemplates(str(folder))


class _CompiledTemplates(jinja2.FileSystemBytecodeCache):
    """Jinja's folder of compiled templates (written atomically, checked
    against the template's source and Jinja's and Python's versions), where
    a file that cannot be read or written only means compiling again."""

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except (OSError, EOFError, ValueError, TypeError, pickle.UnpicklingError):  # damaged: compiled again
            bucket.reset()

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        with contextlib.suppress(OSError):
            super().dump_bytecode(bucket)


_HEAD = """\
<!DOCTYPE html>
<html lang="{{ site.language }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
{% if site.icon %}
<link rel="icon" href="{{ site.icon }}">
{% endif %}
{% for feed in alternates %}
{% for format in formats %}
<link rel="alternate" type="{{ media_types[format] }}" title="{{ feed.title }} ({{ format_names[format] }})" href="{{ site.url(path(feed.key, format)) }}">
{% endfor %}
{% endfor %}
<style>
{{ style }}</style>
</head>
<body>
"""

_INDEX = (
    _HEAD
    + """\
<header>
<h1>{{ site.title }}</h1>
{% if site.description %}<p>{{ site.description }}</p>{% endif %}
<p>{{ count(overview.entries, "entry", "entries") }} in {{ count(overview.feeds|length, "feed", "feeds") }}, each as RSS 2.0, Atom 1.0, JSON Feed 1.1 and a web page.
Subscribe to one below by copying its link into your feed reader, or import <a href="{{ site.url(opml) }}">feeds.opml</a> to subscribe to them all.</p>
{% if overview.drafts %}
<p class="note withheld">{{ overview.drafts }} {{ "entry is" if overview.drafts == 1 else "entries are" }} withheld as unpublished drafts.</p>
{% endif %}
{% if overview.scheduled %}
<p class="note scheduled">{{ overview.scheduled }} {{ "entry is" if overview.scheduled == 1 else "entries are" }} scheduled for later.</p>
{% endif %}
</header>
<main>
{% for kinds, heading in sections %}
{% set feeds = overview.feeds|selectattr("kind", "in", kinds)|list %}
{% if feeds %}
<h2>{{ heading }}</h2>
<table>
<thead><tr><th>Feed</th><th>Entries</th><th>Newest</th><th>Subscribe</th></tr></thead>
<tbody>
{% for feed in feeds %}
<tr id="{{ feed.key|replace('/', '-') }}">
<td><a href="{{ site.url(path(feed.key, 'html')) }}">{{ feed.label }}</a></td>
<td>{{ feed.total }}</td>
<td>{% if feed.newest %}<time datetime="{{ feed.newest|iso }}">{{ feed.newest|date }}</time>{% else %}none{% endif %}</td>
<td>{% for format in formats %}<a href="{{ site.url(path(feed.key, format)) }}">{{ format_names[format] }}</a>{{ " " if not loop.last }}{% endfor %}</td>
</tr>
{% endfor %}
</tbody>
</table>
{% endif %}
{% endfor %}
</main>
</body>
</html>
"""
)

_FEED = (
    _HEAD
    + """\
<header>
<p class="site"><a href="{{ site.url('/') }}">{{ site.title }}</a></p>
<h1>{{ page.feed.title }}</h1>
<p>{{ page.feed.description }}</p>
{% if page.is_archive %}
<p class="note">Archive page {{ page.number }}: older entries, the oldest on page 1. <a href="{{ site.url(path(page.feed.key, 'html')) }}">The newest entries</a>.</p>
{% endif %}
<p class="subscribe">Subscribe: {% for format in formats %}<a href="{{ site.url(path(page.feed.key, format)) }}">{{ format_names[format] }}</a>{{ ", " if not loop.last }}{% endfor %}.
Copy one of these links into your feed reader (any reads RSS and Atom; some also JSON Feed).</p>
</header>
<main>
{% for article in articles %}
{{ article }}
{% else %}
<p>No entries yet.</p>
{% endfor %}
</main>
{% if page.newer or page.older or page.is_archive %}
<nav class="pages">
<span>{% if page.newer %}<a rel="next" href="{{ site.url(path(page.feed.key, 'html', page.newer)) }}">Newer entries</a>{% elif page.is_archive %}<a href="{{ site.url(path(page.feed.key, 'html')) }}">Newest entries</a>{% endif %}</span>
<span>{% if page.older %}<a rel="prev" href="{{ site.url(path(page.feed.key, 'html', page.older)) }}">Older entries</a>{% endif %}</span>
</nav>
{% endif %}
</body>
</html>
"""
)

_ARTICLE = """\
<article>
<h2><a href="{{ entry.url }}">{{ entry.title }}</a></h2>
<p class="meta">{{ entry.provider.name }} · <time datetime="{{ entry.published|iso }}">{{ entry.published|date }}</time>{% if entry.updated > entry.published %} · updated <time datetime="{{ entry.updated|iso }}">{{ entry.updated|date }}</time>{% endif %}{% if entry.topics %} · {{ entry.topics|join(", ") }}{% endif %}</p>
{% if entry.images %}
{% set image = entry.images[0] %}
<p><img src="{{ image.url }}" alt="{{ image.title or entry.title }}"{% if image.width %} width="{{ image.width }}"{% endif %}{% if image.height %} height="{{ image.height }}"{% endif %} loading="lazy"></p>
{% endif %}
{% if entry.excerpt %}<p>{{ entry.excerpt }}</p>{% endif %}
{% for paragraph in entry.body.split("\\n\\n") if paragraph.strip() %}
<p>{{ paragraph.strip() }}</p>
{% endfor %}
{% set links = entry.coverage or entry.related %}
{% if links %}
<p class="meta">{{ "Coverage" if entry.coverage else "Related coverage" }}:</p>
<ul class="links">
{% for link in links %}
<li><a href="{{ link.url }}">{{ link.title }}</a> ({{ link.provider }}{% if link.published %}, <time datetime="{{ link.published|iso }}">{{ link.published|date }}</time>{% endif %})</li>
{% endfor %}
</ul>
{% endif %}
</article>
"""

_NOT_FOUND = (
    _HEAD
    + """\
<h1>Not Found</h1>
<p>No feed at {{ path_asked }}. These exist:</p>
<ul>
<li><a href="{{ site.url('/') }}">/</a></li>
<li><a href="{{ site.url(opml) }}">{{ opml }}</a></li>
{% for feed in feeds %}
{% for format in formats + ("html",) %}
<li><a href="{{ site.url(path(feed.key, format)) }}">{{ path(feed.key, format) }}</a></li>
{% endfor %}
{% endfor %}
</ul>
</body>
</html>
"""
)


def _count(number: int, singular: str, plural: str) -> str:
    return f"{number} {singular if number == 1 else plural}"


_TEMPLATES = {"index.html": _INDEX, "feed.html": _FEED, "article.html": _ARTICLE, "404.html": _NOT_FOUND}
_ENV.loader = jinja2.DictLoader(_TEMPLATES)


def _common(site: Site) -> dict[str, object]:
    return {"site": site, "path": feed_path, "opml": OPML_PATH, "sections": SECTIONS, "count": _count}


def index_html(overview: Overview, site: Site) -> bytes:
    """The page listing every feed, with autodiscovery links."""
    return (
        _template("index.html")
        .render(**_common(site), overview=overview, title=f"{site.title}: feeds", alternates=overview.feeds)
        .encode("utf-8")
    )


def _article(entry: Entry) -> bytes:
    """One entry as it appears, verbatim, in the page of a feed."""
    return _template("article.html").render(entry=entry).encode("utf-8")


def feed_html(page: Page, site: Site, fragments: Fragments | None = None) -> bytes:
    """The readable page of one feed document: its entries newest first."""
    fragments = fragments or Fragments()
    title = page.feed.title if page.number is None else f"{page.feed.title}: archive page {page.number}"
    articles = [
        Markup(fragments.shown(entry, "html", site, partial(_article, entry)).decode("utf-8"))
        for entry in page.entries
    ]
    return (
        _template("feed.html")
        .render(**_common(site), page=page, title=title, alternates=(page.feed,), articles=articles)
        .encode("utf-8")
    )


def not_found_html(path: str, feeds: tuple[Feed, ...], site: Site) -> bytes:
    """The 404 page: what was asked for, and every feed that exists."""
    return (
        _template("404.html")
        .render(**_common(site), path_asked=path, feeds=feeds, title="404 Not Found", alternates=())
        .encode("utf-8")
    )


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
