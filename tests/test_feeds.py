"""RSS and Atom output (SPEC §3): the feedgen traps of issue 2, what every
entry shows, what readers see, the feed's identity, and the same content
always giving the same bytes (whatever the clock, the time zone, the
folder's place, or the files' names and order).

Every check parses the output (lxml for elements, feedparser as a reader
would) rather than comparing strings.
"""

from __future__ import annotations

import calendar
import contextlib
import itertools
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import feedgen.entry
import feedgen.feed
import feedparser
import lxml.html
import pytest
from lxml import etree

BASE_URL = "https://feeds.example.org"
NS = {
    "atom": "http://www.w3.org/2005/Atom",
    "media": "http://search.yahoo.com/mrss/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "content": "http://purl.org/rss/1.0/modules/content/",
}
ATOM = "{http://www.w3.org/2005/Atom}"
MEDIA = "{http://search.yahoo.com/mrss/}"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}"

STORY = "https://news.example.com/story"
TECHCRUNCH = "https://techcrunch.example.net/b"
SKY = "https://sky.example.net/c"
BOLD = "https://news.example.com/bold"

Site = dict[str, bytes]


@pytest.fixture
def publish(
    build: Callable[..., Any], read_tree: Callable[[Path], Site], tmp_path: Path
) -> Callable[..., Site]:
    """``publish(content, *options)``: build `content` from scratch (no
    store kept) into a new folder and return every document, by URL path."""
    count = itertools.count()

    def run(content: Path, *options: str) -> Site:
        out = tmp_path / f"public-{next(count)}"
        build(content, "--no-cache", *options, out=out)
        return read_tree(out)

    return run


def feeds_of(site: Site, *, stories: bool = True) -> Iterator[tuple[str, bytes]]:
    """The RSS and Atom documents of `site` (without the story feeds unless
    `stories`)."""
    for path, body in sorted(site.items()):
        if path.endswith((".rss", ".atom")) and (stories or "stories" not in path):
            yield path, body


def xml(body: bytes) -> etree._Element:
    return etree.fromstring(body)


def rss_date(text: str | None) -> datetime:
    assert text is not None
    return parsedate_to_datetime(text)


def atom_date(text: str | None) -> datetime:
    assert text is not None
    return datetime.fromisoformat(text)


def key_of(path: str) -> str:
    """``/topics/ai.atom`` → ``topics/ai``."""
    return path[1:].rsplit(".", 1)[0]


@pytest.fixture
def story(write_article: Callable[..., Path], content_dir: Path) -> Path:
    """A story with image, body and two related items, plus a second article
    whose title holds markup and that ties in time with a related item."""
    write_article(
        "story.md",
        title="Facial recognition rolled out",
        sourceUrl=STORY + "?utm_source=feed",
        excerpt="Police deploy cameras.",
        publishedDateTime="2024-05-01T13:36:00Z",
        provider={"name": "ABC", "domain": "go.com"},
        topics=["AI", "Computer Vision"],
        images=[{"url": "https://img.example.com/1.jpg", "width": 992, "height": 558, "title": "Cameras"}],
        related=[
            {
                "title": "Met switches on cameras",
                "sourceUrl": TECHCRUNCH,
                "publishedDateTime": "2024-05-01T13:09:00Z",
                "provider": {"name": "TechCrunch", "domain": "techcrunch.com"},
                "excerpt": "EU mulls a ban.",
                "images": [{"url": "https://img.example.com/2.jpg"}],
            },
            {
                "title": "'81% inaccurate' cameras",
                "sourceUrl": SKY,
                "publishedDateTime": "2024-05-01T12:54:00Z",
                "provider": {"name": "Sky", "domain": "sky.com"},
            },
        ],
        body="First paragraph with <script>alert(1)</script>.\n\nSecond & last.\n",
    )
    write_article(
        "zz-bold.md",  # after story.md, yet first of the tie by id
        title='<b>Bold</b> & "news"',  # a quote, to break out of an unescaped attribute
        sourceUrl=BOLD,
        publishedDateTime="2024-05-01T14:54:00+02:00",  # the same instant as Sky's
        provider={"name": "ABC", "domain": "go.com"},
        topics=["AI"],
        images=[{"url": "https://img.example.com/bold.jpg"}],  # no caption: the title is the alt text
    )
    return content_dir


#: Entry ids of all.* for the `story` fixture: newest first, ties by id.
STORY_ORDER = [STORY, TECHCRUNCH, BOLD, SKY]
#: The entry feeds of the `story` fixture and their entries.
STORY_FEEDS = {
    "all": STORY_ORDER,
    "topics/ai": STORY_ORDER,
    "topics/computer-vision": [STORY, TECHCRUNCH, SKY],
    "providers/abc": [STORY, BOLD],
    "providers/techcrunch": [TECHCRUNCH],
    "providers/sky": [SKY],
}


# -- dates: from the content, never "now" ------------------------------------------------


@contextlib.contextmanager
def feedgen_clock_at(when: datetime) -> Iterator[None]:
    """Make feedgen's "now" `when` meanwhile, so that any leak of it shows."""
    real = datetime

    class _Meta(type):
        # feedgen checks isinstance(value, datetime) on the dates we give it.
        def __instancecheck__(cls, value: object) -> bool:
            return isinstance(value, real)

    class Clock(real, metaclass=_Meta):
        @classmethod
        def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
            return when.astimezone(tz)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(feedgen.feed, "datetime", Clock)
        patch.setattr(feedgen.entry, "datetime", Clock)
        yield


FAR_FUTURE = datetime(2999, 1, 1, tzinfo=UTC)


def test_output_never_depends_on_feedgens_clock(story: Path, publish: Callable[..., Site]) -> None:
    now = publish(story)
    with feedgen_clock_at(FAR_FUTURE):
        future = publish(story)
    assert future == now
    assert not any(b"2999" in body for body in future.values())


def test_feed_updated_is_its_newest_entry(story: Path, publish: Callable[..., Site]) -> None:
    site = publish(story)
    newest = {
        "/all": datetime(2024, 5, 1, 13, 36, tzinfo=UTC),
        "/providers/techcrunch": datetime(2024, 5, 1, 13, 9, tzinfo=UTC),
        "/providers/sky": datetime(2024, 5, 1, 12, 54, tzinfo=UTC),
    }
    for key, expected in newest.items():
        assert rss_date(xml(site[key + ".rss"]).findtext("channel/lastBuildDate")) == expected
        assert atom_date(xml(site[key + ".atom"]).findtext(f"{ATOM}updated")) == expected


def test_entry_updated_and_published_come_from_the_content(story: Path, publish: Callable[..., Site]) -> None:
    site = publish(story)
    atom = xml(site["/all.atom"])
    for entry in atom.iter(f"{ATOM}entry"):
        assert atom_date(entry.findtext(f"{ATOM}updated")) == atom_date(entry.findtext(f"{ATOM}published"))
    entry = atom.find(f"{ATOM}entry")
    assert entry is not None
    assert atom_date(entry.findtext(f"{ATOM}published")) == datetime(2024, 5, 1, 13, 36, tzinfo=UTC)
    rss = xml(site["/all.rss"])
    assert rss_date(rss.findtext("channel/item/pubDate")) == datetime(2024, 5, 1, 13, 36, tzinfo=UTC)


def test_feed_without_entries_has_a_fixed_updated(
    write_article: Callable[..., Path], content_dir: Path, publish: Callable[..., Site]
) -> None:
    write_article("draft.md", published=False)
    with feedgen_clock_at(FAR_FUTURE):
        future = publish(content_dir)
    assert publish(content_dir) == future
    empty = list(feeds_of(future))
    assert {path for path, _ in empty} == {"/all.rss", "/all.atom", "/stories.rss", "/stories.atom"}
    for path, body in empty:
        parsed = feedparser.parse(body)
        assert parsed.bozo == 0 and parsed.entries == [], path
        assert parsed.feed.updated_parsed.tm_year < 2000, path


# -- order ---------------------------------------------------------------------------------


def test_entries_newest_first_ties_broken_by_id(story: Path, publish: Callable[..., Site]) -> None:
    site = publish(story)
    for key, expected in STORY_FEEDS.items():
        atom = xml(site[f"/{key}.atom"])
        assert [entry.findtext(f"{ATOM}id") for entry in atom.iter(f"{ATOM}entry")] == expected, key
        rss = xml(site[f"/{key}.rss"])
        assert [item.findtext("guid") for item in rss.iter("item")] == expected, key


# -- links, ids, language --------------------------------------------------------------


def test_rss_channel_link_is_the_feeds_html_page_and_self_is_the_feed(
    story: Path, publish: Callable[..., Site]
) -> None:
    """feedgen takes ``<channel><link>`` from the last link added: the self
    link must go first. Archive pages (``--max-items 1``) included."""
    site = publish(story, "--max-items", "1")
    rss = [(path, body) for path, body in feeds_of(site) if path.endswith(".rss")]
    assert any("/archive/" in path for path, _ in rss)
    for path, body in rss:
        channel = xml(body).find("channel")
        assert channel is not None
        html_page = BASE_URL + path.removesuffix(".rss") + ".html"
        assert channel.findtext("link") == html_page, path
        assert html_page.removeprefix(BASE_URL) in site
        (self_link,) = channel.findall("atom:link[@rel='self']", NS)
        assert self_link.get("href") == BASE_URL + path
        assert self_link.get("type") == "application/rss+xml"


def test_atom_feed_has_absolute_self_link_html_link_and_stable_id(
    story: Path, publish: Callable[..., Site]
) -> None:
    first = publish(story)
    ids = {}
    for path, body in feeds_of(first):
        if path.endswith(".atom"):
            feed = xml(body)
            links = {link.get("rel"): link for link in feed.findall(f"{ATOM}link")}
            assert links["self"].get("href") == BASE_URL + path
            assert links["self"].get("type") == "application/atom+xml"
            assert links["alternate"].get("href") == BASE_URL + path.removesuffix(".atom") + ".html"
            assert links["alternate"].get("type") == "text/html"
            ids[path] = feed.findtext(f"{ATOM}id")
    # One per feed (6 entry feeds, 3 story feeds), each its own ...
    assert len(ids) == 9 and len(set(ids.values())) == 9
    assert all(feed_id and feed_id.startswith("https://") for feed_id in ids.values())
    # ... and the same in the next build.
    again = publish(story)
    assert {path: xml(again[path]).findtext(f"{ATOM}id") for path in ids} == ids


def test_language(story: Path, publish: Callable[..., Site]) -> None:
    site = publish(story)
    assert xml(site["/all.rss"]).findtext("channel/language") == "en"
    assert xml(site["/all.atom"]).get("{http://www.w3.org/XML/1998/namespace}lang") == "en"


def test_titles_and_descriptions(story: Path, publish: Callable[..., Site]) -> None:
    site = publish(story)
    channel = xml(site["/topics/computer-vision.rss"]).find("channel")
    assert channel is not None
    assert channel.findtext("title") == "feedpub: Computer Vision"
    assert "Computer Vision" in (channel.findtext("description") or "")
    abc = xml(site["/providers/abc.atom"])
    assert abc.findtext(f"{ATOM}title") == "feedpub: ABC"
    assert "ABC" in (abc.findtext(f"{ATOM}subtitle") or "")


# -- entries ----------------------------------------------------------------------------


def test_rss_item(story: Path, publish: Callable[..., Site]) -> None:
    site = publish(story)
    items = {item.findtext("guid"): item for item in xml(site["/all.rss"]).iter("item")}
    item = items[STORY]
    guid = item.find("guid")
    assert guid is not None and guid.get("isPermaLink") == "false"  # the canonical URL, not the link
    assert item.findtext("title") == "Facial recognition rolled out"
    assert item.findtext("link") == STORY + "?utm_source=feed"
    assert item.findtext("description") == "Police deploy cameras."
    assert [category.text for category in item.findall("category")] == ["AI", "Computer Vision"]
    assert item.findtext("dc:creator", namespaces=NS) == "ABC"
    # <source> names the provider and points to its RSS feed, which exists.
    source = item.find("source")
    assert source is not None and source.text == "ABC"
    assert source.get("url") == BASE_URL + "/providers/abc.rss"
    assert "/providers/abc.rss" in site
    techcrunch_source = items[TECHCRUNCH].find("source")
    assert techcrunch_source is not None
    assert techcrunch_source.get("url") == BASE_URL + "/providers/techcrunch.rss"
    assert items[TECHCRUNCH].findtext("dc:creator", namespaces=NS) == "TechCrunch"
    # Related items inherit the parent's topics.
    assert [category.text for category in items[SKY].findall("category")] == ["AI", "Computer Vision"]


def test_atom_entry(story: Path, publish: Callable[..., Site]) -> None:
    atom = xml(publish(story)["/all.atom"])
    entries = {entry.findtext(f"{ATOM}id"): entry for entry in atom.iter(f"{ATOM}entry")}
    entry = entries[STORY]
    assert entry.findtext(f"{ATOM}title") == "Facial recognition rolled out"
    assert entry.findtext(f"{ATOM}summary") == "Police deploy cameras."
    assert [c.get("term") for c in entry.findall(f"{ATOM}category")] == ["AI", "Computer Vision"]
    assert entry.findtext(f"{ATOM}author/{ATOM}name") == "ABC"
    assert entry.findtext(f"{ATOM}author/{ATOM}uri") == "https://go.com/"
    content = entry.find(f"{ATOM}content")
    assert content is not None and content.get("type") == "html"
    assert entries[SKY].find(f"{ATOM}summary") is None  # no excerpt, no empty summary


def test_entries_of_entry_feeds_have_exactly_one_link(story: Path, publish: Callable[..., Site]) -> None:
    """feedgen drops ``rel`` from Atom entry links: a second one would be a
    second alternate. (Story feeds add ``rel="related"`` links on purpose.)"""
    for path, body in feeds_of(publish(story), stories=False):
        if path.endswith(".atom"):
            for entry in xml(body).iter(f"{ATOM}entry"):
                (link,) = entry.findall(f"{ATOM}link")
                assert link.get("rel", "alternate") == "alternate"
                assert (link.get("href") or "").startswith("https://")
        else:
            for item in xml(body).iter("item"):
                assert len(item.findall("link")) == 1, path
                assert not item.findall("atom:link", NS), path


def test_thumbnail_is_a_direct_child_with_size_and_never_in_a_group(
    story: Path, publish: Callable[..., Site]
) -> None:
    expected = {
        STORY: [{"url": "https://img.example.com/1.jpg", "width": "992", "height": "558"}],
        # Size unknown: no made-up size.
        TECHCRUNCH: [{"url": "https://img.example.com/2.jpg"}],
        BOLD: [{"url": "https://img.example.com/bold.jpg"}],
        SKY: [],
    }
    for path, body in feeds_of(publish(story)):
        feed = xml(body)
        assert not list(feed.iter(f"{MEDIA}group")), path
        # Every thumbnail of the document is a direct child of an entry.
        entry_tag = "item" if path.endswith(".rss") else f"{ATOM}entry"
        parents = {thumbnail.getparent().tag for thumbnail in feed.iter(f"{MEDIA}thumbnail")}
        assert parents <= {entry_tag}, path
        if "stories" in path:
            continue
        for entry in feed.iter(entry_tag):
            entry_id = entry.findtext("guid") or entry.findtext(f"{ATOM}id")
            thumbnails = [dict(t.attrib) for t in entry.findall(f"{MEDIA}thumbnail")]
            assert thumbnails == expected[entry_id], (path, entry_id)


def content_html(body: bytes, entry_id: str) -> lxml.html.HtmlElement:
    """The HTML content of one entry, parsed."""
    feed = xml(body)
    if feed.tag == "rss":
        item = next(item for item in feed.iter("item") if item.findtext("guid") == entry_id)
        # Without an excerpt, feedgen puts the HTML into <description> instead.
        markup = item.findtext("content:encoded", namespaces=NS) or item.findtext("description")
    else:
        entry = next(e for e in feed.iter(f"{ATOM}entry") if e.findtext(f"{ATOM}id") == entry_id)
        markup = entry.findtext(f"{ATOM}content")
    return lxml.html.fragment_fromstring(markup, create_parent="div")


@pytest.mark.parametrize("path", ["/all.rss", "/all.atom"])
def test_html_content_shows_image_excerpt_body_and_related_coverage(
    story: Path, publish: Callable[..., Site], path: str
) -> None:
    body = publish(story)[path]
    html = content_html(body, STORY)
    (image,) = html.iter("img")
    assert image.get("src") == "https://img.example.com/1.jpg"
    assert (image.get("width"), image.get("height")) == ("992", "558")
    paragraphs = [p.text_content() for p in html.iter("p")]
    assert "Police deploy cameras." in paragraphs
    # The body is plain text: its markup shows as text, never runs.
    assert "First paragraph with <script>alert(1)</script>." in paragraphs
    assert "Second & last." in paragraphs
    assert not list(html.iter("script"))
    links = {a.get("href"): a.text_content() for a in html.iter("a")}
    assert links[TECHCRUNCH] == "Met switches on cameras"
    assert links[SKY] == "'81% inaccurate' cameras"
    # A related item's content links back to the article and its siblings.
    related = {a.get("href") for a in content_html(body, SKY).iter("a")}
    assert {STORY + "?utm_source=feed", TECHCRUNCH} <= related


@pytest.mark.parametrize("path", ["/all.rss", "/all.atom"])
def test_markup_in_a_title_is_text(story: Path, publish: Callable[..., Site], path: str) -> None:
    body = publish(story)[path]
    feed = xml(body)
    titles = [t.text for t in feed.iter("title", f"{ATOM}title")]
    assert '<b>Bold</b> & "news"' in titles
    assert not list(feed.iter("b"))
    html = content_html(body, BOLD)
    assert not list(html.iter("b"))
    assert [img.get("alt") for img in html.iter("img")] == ['<b>Bold</b> & "news"']
    parsed = feedparser.parse(body)
    assert parsed.bozo == 0
    assert "Bold" in next(entry.title for entry in parsed.entries if entry.id == BOLD)


# -- what readers see --------------------------------------------------------------------


def test_feedparser_reads_every_feed(story: Path, publish: Callable[..., Site]) -> None:
    published = {
        STORY: (2024, 5, 1, 13, 36),
        TECHCRUNCH: (2024, 5, 1, 13, 9),
        BOLD: (2024, 5, 1, 12, 54),
        SKY: (2024, 5, 1, 12, 54),
    }
    site = publish(story)
    assert {path for path, _ in feeds_of(site, stories=False)} == {
        f"/{key}.{format}" for key in STORY_FEEDS for format in ("rss", "atom")
    }
    for path, body in feeds_of(site):
        parsed = feedparser.parse(body)
        assert parsed.bozo == 0, (path, parsed.get("bozo_exception"))
        assert parsed.version == ("rss20" if path.endswith(".rss") else "atom10")
        assert parsed.entries, path
        for entry in parsed.entries:
            assert entry.link.startswith("https://")
        assert calendar.timegm(parsed.feed.updated_parsed) == max(
            calendar.timegm(entry.published_parsed) for entry in parsed.entries
        )
        if "stories" in path:
            continue
        assert [entry.id for entry in parsed.entries] == STORY_FEEDS[key_of(path)], path
        for entry in parsed.entries:
            assert tuple(entry.published_parsed[:5]) == published[entry.id]


def test_max_items_limits_every_feed(story: Path, publish: Callable[..., Site]) -> None:
    site = publish(story, "--max-items", "1")
    subscriptions = [(path, body) for path, body in feeds_of(site) if "/archive/" not in path]
    assert len(subscriptions) == 18
    for path, body in subscriptions:
        assert len(feedparser.parse(body).entries) == 1, path
    atom = xml(site["/all.atom"])
    assert [entry.findtext(f"{ATOM}id") for entry in atom.iter(f"{ATOM}entry")] == [STORY]


def urls_in_html(markup: str) -> list[str]:
    html = lxml.html.fragment_fromstring(markup, create_parent="div")
    return [element.get(name) for name in ("href", "src") for element in html.iter() if element.get(name)]


def urls_in_json(value: Any) -> list[str]:
    """Every URL a JSON Feed document holds, its ``content_html`` links too."""
    found = []
    if isinstance(value, dict):
        for name, inner in value.items():
            if isinstance(inner, str) and (
                name.endswith("url") or name in ("id", "image", "icon", "favicon")
            ):
                found.append(inner)
            elif name == "content_html":
                found += urls_in_html(inner)
            else:
                found += urls_in_json(inner)
    elif isinstance(value, list):
        for inner in value:
            found += urls_in_json(inner)
    return found


#: The id of the story of ``a.md`` in `test_only_http_urls_are_emitted`.
STORY_ID = "tag:news.example.com,2024-05-01:story/a"


def test_only_http_urls_are_emitted(
    write_article: Callable[..., Path], content_dir: Path, publish: Callable[..., Site]
) -> None:
    """In every document: feeds, their content, JSON Feed and the web pages."""
    write_article(
        "a.md",
        images=[{"url": "javascript:alert(1)"}, {"url": "data:image/png;base64,AAAA"}],
        ampUrl="javascript:alert(2)",
        provider={"name": "Evil", "domain": "javascript:alert(3)"},
        related=[
            {
                "title": "Bad",
                "sourceUrl": "javascript:alert(4)",
                "publishedDateTime": "2024-05-01T00:00:00Z",
                "provider": {"name": "X"},
            },
            {
                "title": "Image",
                "sourceUrl": "https://x.example.net/a",
                "publishedDateTime": "2024-05-01T00:00:00Z",
                "provider": {"name": "X", "domain": "x.example.net"},
                "images": [{"url": "file:///etc/passwd"}],
            },
        ],
    )
    urls: list[str] = []
    for path, body in publish(content_dir).items():
        assert b"javascript:" not in body and b"data:image" not in body and b"file:" not in body, path
        if path.endswith(".json"):
            urls += urls_in_json(json.loads(body))
        elif path.endswith((".html", "/")):
            urls += urls_in_html(body.decode())
        elif path.endswith((".rss", ".atom")):
            feed = xml(body)
            for element in feed.iter():
                urls += [
                    value for name, value in element.attrib.items() if name in ("href", "url", "src", "uri")
                ]
                if element.tag in ("link", "guid", f"{ATOM}id", f"{ATOM}uri"):
                    urls.append(element.text)
            markup = [e.text for e in feed.iter(f"{CONTENT}encoded", f"{ATOM}content")]
            # Without an excerpt, feedgen puts the HTML into the RSS <description>.
            markup += [e.text for e in feed.iterfind("channel/item/description")]
            for fragment in markup:
                urls += urls_in_html(fragment)
    assert len(urls) > 100
    # Story entries have tag: URIs as ids (issue 14), which are no links.
    assert [url for url in urls if not url.startswith(("http://", "https://", "tag:news.example.com,"))] == []
    assert [url for url in urls if url.startswith("tag:")] == [STORY_ID] * urls.count(STORY_ID)


def test_characters_xml_forbids_never_break_rendering(
    content_dir: Path, publish: Callable[..., Site]
) -> None:
    # YAML escapes reach the loader as the characters themselves; the body is
    # not YAML, so it can hold them raw.
    front = (
        "---\n"
        'title: "Bad\\x00 \\x08title\\uFFFE"\n'
        'excerpt: "ex\\x1fcerpt\\x7f"\n'
        "sourceUrl: https://news.example.com/bad\n"
        "publishedDateTime: 2024-05-01T00:00:00Z\n"
        'provider: {name: "Pro\\x0bvider"}\n'
        'topics: ["To\\x0cpic"]\n'
        'images: [{url: "https://img.example.com/x.jpg", title: "cap\\x01tion"}]\n'
        "---\n"
    )
    (content_dir / "bad.md").write_text(front + "Body\x00 with \x1b nul\x02.\n", encoding="utf-8")
    site = publish(content_dir)
    assert "/topics/topic.rss" in site and "/providers/provider.atom" in site
    for path, body in feeds_of(site):
        feed = xml(body)  # raises if any forbidden character got through
        assert feedparser.parse(body).bozo == 0, path
        if "stories" not in path:
            assert "Bad title" in [t.text for t in feed.iter("title", f"{ATOM}title")], path
    for path, body in site.items():
        if path.endswith(".json"):
            document = json.loads(body)
            assert [item["title"] for item in document["items"]] == ["Bad title"], path
        elif path.endswith(".html"):
            page = lxml.html.document_fromstring(body)
            assert "Bad title" in page.text_content(), path
    html = content_html(site["/all.atom"], "https://news.example.com/bad")
    assert "Body with  nul." in html.text_content()


# -- the feed's identity ---------------------------------------------------------------


def test_configured_icon_logo_and_language_reach_every_format(
    story: Path, publish: Callable[..., Site]
) -> None:
    icon, logo = "https://img.example.org/icon.png", "https://img.example.org/logo.png"
    (story / "feedpub.toml").write_text(
        f'icon = "{icon}"\nlogo = "{logo}"\nlanguage = "de"\n', encoding="utf-8"
    )
    site = publish(story)
    for key in STORY_FEEDS:
        atom = xml(site[f"/{key}.atom"])
        assert (atom.findtext(f"{ATOM}icon"), atom.findtext(f"{ATOM}logo")) == (icon, logo), key
        assert atom.get("{http://www.w3.org/XML/1998/namespace}lang") == "de"
        channel = xml(site[f"/{key}.rss"]).find("channel")
        assert channel is not None
        (image,) = channel.findall("image")
        # RSS 2.0: the image links to the channel, with the channel's title.
        assert image.findtext("url") == logo
        assert image.findtext("link") == channel.findtext("link")
        assert image.findtext("title") == channel.findtext("title")
        assert channel.findtext("language") == "de"
        document = json.loads(site[f"/{key}.json"])
        assert (document["icon"], document["favicon"], document["language"]) == (logo, icon, "de")
        page = lxml.html.document_fromstring(site[f"/{key}.html"])
        assert page.get("lang") == "de"
        assert page.xpath("/html/head/link[@rel='icon']/@href") == [icon]
        parsed = feedparser.parse(site[f"/{key}.atom"])
        assert (parsed.feed.icon, parsed.feed.logo) == (icon, logo)


def test_without_icon_or_logo_no_image_is_made_up(story: Path, publish: Callable[..., Site]) -> None:
    site = publish(story)
    atom = xml(site["/all.atom"])
    assert atom.find(f"{ATOM}icon") is None and atom.find(f"{ATOM}logo") is None
    assert xml(site["/all.rss"]).find("channel/image") is None
    assert not {"icon", "favicon"} & set(json.loads(site["/all.json"]))


# -- the same content, the same bytes ---------------------------------------------------


def test_two_builds_a_second_apart_in_other_time_zones_are_byte_identical(
    feedpub_script: Path, seeds_dir: Path, tmp_path: Path, read_tree: Callable[[Path], Site]
) -> None:
    def run(out: str, zone: str) -> None:
        # A new process each time, in another time zone the second time, so
        # that neither the clock nor local time can hide in the output.
        result = subprocess.run(
            [
                str(feedpub_script),
                "build",
                str(seeds_dir),
                "--out",
                out,
                "--base-url",
                BASE_URL,
                "--unpublished",
                "--no-cache",
            ],
            cwd=tmp_path,
            env={**os.environ, "TZ": zone},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr

    run("first", "UTC")
    time.sleep(1.1)  # RFC 822 dates have whole seconds
    run("second", "Pacific/Kiritimati")
    first, second = read_tree(tmp_path / "first"), read_tree(tmp_path / "second")
    assert {"/", "/feeds.opml", "/all.rss", "/all.atom", "/all.json", "/all.html"} <= set(first)
    assert first == second


def test_the_content_folders_place_does_not_show(
    copy_seeds: Callable[[], Path], seeds_dir: Path, tmp_path: Path, publish: Callable[..., Site]
) -> None:
    elsewhere = tmp_path / "some" / "other place"
    shutil.copytree(copy_seeds(), elsewhere)
    assert publish(seeds_dir, "--unpublished") == publish(elsewhere, "--unpublished")


def test_file_names_and_order_do_not_change_the_output(
    write_article: Callable[..., Path], content_dir: Path, publish: Callable[..., Site]
) -> None:
    # An article that is also another story's related item, topics to unite,
    # and two entries published at the same instant.
    stories: dict[str, dict[str, Any]] = {
        "story": {
            "topics": ["AI"],
            "related": [
                {
                    "title": "As related",
                    "sourceUrl": "https://other.example.net/x",
                    "publishedDateTime": "2024-05-01T12:00:00Z",
                    "provider": {"name": "Other"},
                }
            ],
        },
        "other": {
            "title": "As article",
            "sourceUrl": "https://OTHER.example.net/x?utm_medium=rss",
            "provider": {"name": "Other"},
            "topics": ["Privacy"],
        },
        "tie": {"publishedDateTime": "2024-05-01T14:00:00+02:00", "topics": ["Privacy"]},
    }
    for name, fields in stories.items():
        write_article(f"a-{name}.md", **fields)
    first = publish(content_dir)

    shutil.rmtree(content_dir)
    content_dir.mkdir()
    for number, (name, fields) in enumerate(reversed(stories.items())):
        write_article(
            f"sub{number}/z{number}.md", **{"sourceUrl": f"https://news.example.com/a-{name}", **fields}
        )
    second = publish(content_dir)
    assert first == second
    other = first["/providers/other.atom"]
    assert b"As article" in other and b"As related" not in other
