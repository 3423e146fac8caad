"""RSS and Atom output (SPEC §3), and the feedgen traps of issue 2.

Every check parses the output (lxml for elements, feedparser as a reader
would) rather than comparing strings.
"""

from __future__ import annotations

import calendar
import contextlib
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

from feedpub import catalog as catalogs
from feedpub import content
from feedpub import documents
from feedpub.model import Site

BASE_URL = "https://feeds.example.org"
SITE = Site(base_url=BASE_URL)
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


def render_all(content_dir: Path, **options: Any) -> dict[str, bytes]:
    """Every document of the URL space of `content_dir`, by path."""
    loaded = content.load(content_dir)
    catalog = catalogs.build(loaded.articles, **options)
    return {path: documents.render(catalog, path, SITE).body for path in documents.paths(catalog)}


def feeds_of(rendered: dict[str, bytes]) -> Iterator[tuple[str, bytes]]:
    return ((path, body) for path, body in rendered.items() if path.endswith((".rss", ".atom")))


def xml(body: bytes) -> etree._Element:
    return etree.fromstring(body)


def rss_date(text: str) -> datetime:
    return parsedate_to_datetime(text)


def atom_date(text: str) -> datetime:
    return datetime.fromisoformat(text)


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
        images=[
            {
                "url": "https://img.example.com/1.jpg",
                "width": 992,
                "height": 558,
                "title": "Cameras",
            }
        ],
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


# -- dates: from the content, never "now" ----------------------------------------------


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


def test_output_never_depends_on_the_time_of_the_build(story: Path) -> None:
    now = render_all(story)
    with feedgen_clock_at(FAR_FUTURE):
        future = render_all(story)
    assert future == now
    assert not any(b"2999" in body for body in future.values())


def test_feed_updated_is_its_newest_entry(story: Path) -> None:
    rendered = render_all(story)
    newest = {
        "/all": datetime(2024, 5, 1, 13, 36, tzinfo=UTC),
        "/providers/techcrunch": datetime(2024, 5, 1, 13, 9, tzinfo=UTC),
        "/providers/sky": datetime(2024, 5, 1, 12, 54, tzinfo=UTC),
    }
    for key, expected in newest.items():
        rss = xml(rendered[key + ".rss"])
        assert rss_date(rss.findtext("channel/lastBuildDate")) == expected
        atom = xml(rendered[key + ".atom"])
        assert atom_date(atom.findtext(f"{ATOM}updated")) == expected


def test_entry_updated_and_published_come_from_the_content(story: Path) -> None:
    atom = xml(render_all(story)["/all.atom"])
    for entry in atom.iter(f"{ATOM}entry"):
        published = atom_date(entry.findtext(f"{ATOM}published"))
        assert atom_date(entry.findtext(f"{ATOM}updated")) == published
    entry = atom.find(f"{ATOM}entry")
    assert atom_date(entry.findtext(f"{ATOM}published")) == datetime(2024, 5, 1, 13, 36, tzinfo=UTC)
    rss = xml(render_all(story)["/all.rss"])
    assert rss_date(rss.findtext("channel/item/pubDate")) == datetime(2024, 5, 1, 13, 36, tzinfo=UTC)


def test_feed_without_entries_has_a_fixed_updated(
    write_article: Callable[..., Path], content_dir: Path
) -> None:
    write_article("draft.md", published=False)
    with feedgen_clock_at(FAR_FUTURE):
        future = render_all(content_dir)
    assert render_all(content_dir) == future
    for path in ("/all.rss", "/all.atom"):
        parsed = feedparser.parse(future[path])
        assert parsed.bozo == 0 and parsed.entries == []
        assert parsed.feed.updated_parsed.tm_year < 2000


# -- order ---------------------------------------------------------------------------


def test_entries_newest_first_ties_broken_by_id(story: Path) -> None:
    rendered = render_all(story)
    atom = xml(rendered["/all.atom"])
    assert [entry.findtext(f"{ATOM}id") for entry in atom.iter(f"{ATOM}entry")] == STORY_ORDER
    rss = xml(rendered["/all.rss"])
    assert [item.findtext("guid") for item in rss.iter("item")] == STORY_ORDER
    ai = xml(rendered["/topics/ai.atom"])
    assert [entry.findtext(f"{ATOM}id") for entry in ai.iter(f"{ATOM}entry")] == STORY_ORDER


# -- links, ids, language ------------------------------------------------------------


def test_rss_channel_link_is_the_html_page_not_the_self_link(story: Path) -> None:
    for path, body in feeds_of(render_all(story)):
        if path.endswith(".rss"):
            channel = xml(body).find("channel")
            assert channel.findtext("link") == BASE_URL + "/"
            (self_link,) = channel.findall("atom:link[@rel='self']", NS)
            assert self_link.get("href") == BASE_URL + path
            assert self_link.get("type") == "application/rss+xml"


def test_atom_feed_has_absolute_self_link_html_link_and_stable_id(story: Path) -> None:
    first = render_all(story)
    ids = set()
    for path, body in feeds_of(first):
        if path.endswith(".atom"):
            feed = xml(body)
            links = {link.get("rel"): link for link in feed.findall(f"{ATOM}link")}
            assert links["self"].get("href") == BASE_URL + path
            assert links["self"].get("type") == "application/atom+xml"
            assert links["alternate"].get("href") == BASE_URL + "/"
            ids.add(feed.findtext(f"{ATOM}id"))
    assert len(ids) == 6  # one per feed, each its own
    again = render_all(story)
    assert {xml(again[path]).findtext(f"{ATOM}id") for path in again if path.endswith(".atom")} == ids


def test_language(story: Path) -> None:
    rendered = render_all(story)
    assert xml(rendered["/all.rss"]).findtext("channel/language") == "en"
    assert xml(rendered["/all.atom"]).get("{http://www.w3.org/XML/1998/namespace}lang") == "en"


def test_titles_and_descriptions(story: Path) -> None:
    rendered = render_all(story)
    assert (
        xml(rendered["/topics/computer-vision.rss"]).findtext("channel/title") == "feedpub: Computer Vision"
    )
    assert "Computer Vision" in xml(rendered["/topics/computer-vision.rss"]).findtext("channel/description")
    assert xml(rendered["/providers/abc.atom"]).findtext(f"{ATOM}title") == "feedpub: ABC"
    assert "ABC" in xml(rendered["/providers/abc.atom"]).findtext(f"{ATOM}subtitle")


# -- entries -------------------------------------------------------------------------


def test_rss_item(story: Path) -> None:
    rendered = render_all(story)
    items = {item.findtext("guid"): item for item in xml(rendered["/all.rss"]).iter("item")}
    item = items[STORY]
    assert item.find("guid").get("isPermaLink") == "false"  # the canonical URL, not necessarily the link
    assert item.findtext("title") == "Facial recognition rolled out"
    assert item.findtext("link") == STORY + "?utm_source=feed"
    assert item.findtext("description") == "Police deploy cameras."
    assert [category.text for category in item.findall("category")] == ["AI", "Computer Vision"]
    assert item.findtext("dc:creator", namespaces=NS) == "ABC"
    # <source> names the provider and points to its RSS feed, which exists.
    source = item.find("source")
    assert source.text == "ABC"
    assert source.get("url") == BASE_URL + "/providers/abc.rss"
    assert "/providers/abc.rss" in rendered
    assert items[TECHCRUNCH].find("source").get("url") == BASE_URL + "/providers/techcrunch.rss"
    assert items[TECHCRUNCH].findtext("dc:creator", namespaces=NS) == "TechCrunch"
    # Related items inherit the parent's topics.
    assert [category.text for category in items[SKY].findall("category")] == [
        "AI",
        "Computer Vision",
    ]


def test_atom_entry(story: Path) -> None:
    entries = {e.findtext(f"{ATOM}id"): e for e in xml(render_all(story)["/all.atom"]).iter(f"{ATOM}entry")}
    entry = entries[STORY]
    assert entry.findtext(f"{ATOM}title") == "Facial recognition rolled out"
    assert entry.findtext(f"{ATOM}summary") == "Police deploy cameras."
    assert [c.get("term") for c in entry.findall(f"{ATOM}category")] == ["AI", "Computer Vision"]
    assert entry.findtext(f"{ATOM}author/{ATOM}name") == "ABC"
    assert entry.findtext(f"{ATOM}author/{ATOM}uri") == "https://go.com/"
    assert entry.find(f"{ATOM}content").get("type") == "html"
    assert entries[SKY].find(f"{ATOM}summary") is None  # no excerpt, no empty summary


def test_atom_entry_has_exactly_one_link_the_alternate(story: Path) -> None:
    for path, body in feeds_of(render_all(story)):
        if path.endswith(".atom"):
            for entry in xml(body).iter(f"{ATOM}entry"):
                (link,) = entry.findall(f"{ATOM}link")
                assert link.get("rel", "alternate") == "alternate"
                assert link.get("href").startswith("https://")


def test_thumbnail_is_a_direct_child_with_size_and_never_in_a_group(story: Path) -> None:
    expected = {
        STORY: [{"url": "https://img.example.com/1.jpg", "width": "992", "height": "558"}],
        # Size unknown: no made-up size.
        TECHCRUNCH: [{"url": "https://img.example.com/2.jpg"}],
        BOLD: [{"url": "https://img.example.com/bold.jpg"}],
        SKY: [],
    }
    for path, body in feeds_of(render_all(story)):
        feed = xml(body)
        assert not list(feed.iter(f"{MEDIA}group")), path
        entry_tag = "item" if path.endswith(".rss") else f"{ATOM}entry"
        for entry in feed.iter(entry_tag):
            entry_id = entry.findtext("guid") or entry.findtext(f"{ATOM}id")
            thumbnails = entry.findall(f"{MEDIA}thumbnail")
            # Every thumbnail in the document is a direct child of an entry.
            assert len(thumbnails) == len(list(entry.iter(f"{MEDIA}thumbnail")))
            assert [dict(t.attrib) for t in thumbnails] == expected[entry_id], (path, entry_id)


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
def test_html_content_shows_image_excerpt_body_and_related_coverage(story: Path, path: str) -> None:
    html = content_html(render_all(story)[path], STORY)
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
    related = {a.get("href") for a in content_html(render_all(story)[path], SKY).iter("a")}
    assert {STORY + "?utm_source=feed", TECHCRUNCH} <= related


@pytest.mark.parametrize("path", ["/all.rss", "/all.atom"])
def test_markup_in_a_title_is_text(story: Path, path: str) -> None:
    body = render_all(story)[path]
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


# -- what readers see ------------------------------------------------------------------


def test_feedparser_reads_every_feed(story: Path) -> None:
    expected_ids = {
        "all": STORY_ORDER,
        "topics/ai": STORY_ORDER,
        "topics/computer-vision": [STORY, TECHCRUNCH, SKY],
        "providers/abc": [STORY, BOLD],
        "providers/techcrunch": [TECHCRUNCH],
        "providers/sky": [SKY],
    }
    published = {
        STORY: (2024, 5, 1, 13, 36),
        TECHCRUNCH: (2024, 5, 1, 13, 9),
        BOLD: (2024, 5, 1, 12, 54),
        SKY: (2024, 5, 1, 12, 54),
    }
    rendered = render_all(story)
    assert {path for path, _ in feeds_of(rendered)} == {
        f"/{key}.{format}" for key in expected_ids for format in ("rss", "atom")
    }
    for path, body in feeds_of(rendered):
        parsed = feedparser.parse(body)
        assert parsed.bozo == 0, (path, parsed.get("bozo_exception"))
        assert parsed.version == ("rss20" if path.endswith(".rss") else "atom10")
        ids = [entry.id for entry in parsed.entries]
        assert ids == expected_ids[path[1:].rsplit(".", 1)[0]], path
        for entry in parsed.entries:
            assert tuple(entry.published_parsed[:5]) == published[entry.id]
            assert entry.link.startswith("https://")
        assert calendar.timegm(parsed.feed.updated_parsed) == max(
            calendar.timegm(entry.published_parsed) for entry in parsed.entries
        )


def test_max_items_limits_every_feed(story: Path) -> None:
    for path, body in feeds_of(render_all(story, max_items=1)):
        assert len(feedparser.parse(body).entries) == 1, path
    atom = xml(render_all(story, max_items=1)["/all.atom"])
    assert [entry.findtext(f"{ATOM}id") for entry in atom.iter(f"{ATOM}entry")] == [STORY]


def test_only_http_urls_are_emitted(write_article: Callable[..., Path], content_dir: Path) -> None:
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
    urls = []
    for path, body in feeds_of(render_all(content_dir)):
        assert b"javascript:" not in body and b"data:image" not in body and b"file:" not in body, path
        feed = xml(body)
        for element in feed.iter():
            urls += [value for name, value in element.attrib.items() if name in ("href", "url", "src", "uri")]
            if element.tag in ("link", "guid", f"{ATOM}id", f"{ATOM}uri"):
                urls.append(element.text)
        markup = [e.text for e in feed.iter(f"{CONTENT}encoded", f"{ATOM}content")]
        # Without an excerpt, feedgen puts the HTML into the RSS <description>.
        markup += [e.text for e in feed.iterfind("channel/item/description")]
        for fragment in markup:
            html = lxml.html.fragment_fromstring(fragment, create_parent="div")
            urls += [a.get("href") for a in html.iter("a")] + [img.get("src") for img in html.iter("img")]
    assert len(urls) > 20
    assert all(url.startswith(("http://", "https://")) for url in urls), urls


def test_characters_xml_forbids_never_break_rendering(
    write_article: Callable[..., Path], content_dir: Path
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
    loaded = content.load(content_dir)
    assert not loaded.invalid_files, loaded.problems
    rendered = render_all(content_dir)
    assert "/topics/topic.rss" in rendered and "/providers/provider.atom" in rendered
    for path, body in feeds_of(rendered):
        feed = xml(body)  # raises if any forbidden character got through
        assert feedparser.parse(body).bozo == 0, path
        titles = [t.text for t in feed.iter("title", f"{ATOM}title")]
        assert "Bad title" in titles
    html = content_html(rendered["/all.atom"], "https://news.example.com/bad")
    assert "Body with  nul." in html.text_content()
