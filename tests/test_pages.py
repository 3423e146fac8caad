"""The web pages and the subscription list (SPEC §3, issue 11): the index
(``/``), the readable HTML page of every feed document (``/all.html``,
``/topics/ai.html``, archive pages' ``…/archive/<n>.html``) and
``/feeds.opml``.

Read with lxml.html (whose HTML5 parser logs every markup error) and
ElementTree, as a browser or a reader importing the list would.
"""

from __future__ import annotations

import itertools
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from lxml import etree

BASE_URL = "https://feeds.example.org"
EVIL = "<script>alert(1)</script>"
ATOM = "{http://www.w3.org/2005/Atom}"
FEED_TYPES = {
    "rss": "application/rss+xml",
    "atom": "application/atom+xml",
    "json": "application/feed+json",
}
#: NOW for `publish`: after every date the tests write.
NOW = "2024-07-01T00:00:00Z"

Site = dict[str, bytes]


@pytest.fixture
def publish(
    build: Callable[..., Any], read_tree: Callable[[Path], Site], tmp_path: Path
) -> Callable[..., Site]:
    """``publish(content, *options)``: build `content` at `NOW` from scratch
    into a new folder and return every document, by URL path."""
    count = itertools.count()

    def run(content: Path, *options: str) -> Site:
        out = tmp_path / f"public-{next(count)}"
        build(content, "--no-cache", "--now", NOW, *options, out=out)
        return read_tree(out)

    return run


def parse_html(body: bytes) -> lxml.html.HtmlElement:
    """The page, parsed; fails on any markup error the HTML5 parser logs."""
    parser = lxml.html.HTMLParser()
    page = lxml.html.document_fromstring(body, parser=parser)
    assert [error.message for error in parser.error_log] == []
    return page


def moment(value: str | None) -> datetime:
    assert value is not None
    return datetime.fromisoformat(value)


def text(element: lxml.html.HtmlElement) -> str:
    return " ".join(element.text_content().split())


def feed_keys(site: Site) -> set[str]:
    """Every feed of the URL space: those with a subscription document."""
    return {path[1 : -len(".rss")] for path in site if path.endswith(".rss") and "/archive/" not in path}


def rows(page: lxml.html.HtmlElement) -> dict[str, lxml.html.HtmlElement]:
    """The index's table rows, by id."""
    return {row.get("id"): row for row in page.xpath("//tbody/tr")}


@pytest.fixture
def site_content(write_article: Callable[..., Path], content_dir: Path) -> Path:
    """Three providers (one named like markup), two topics, one draft."""
    write_article("a.md", topics=["AI", "Computer Vision"], publishedDateTime="2024-05-03T10:00:00Z")
    write_article("b.md", topics=["AI"], provider={"name": "Sky"}, publishedDateTime="2024-05-02T10:00:00Z")
    write_article("c.md", topics=["AI"], provider={"name": EVIL}, publishedDateTime="2024-05-01T10:00:00Z")
    write_article("d.md", published=False, topics=["Hidden"], provider={"name": "Drafty"})
    return content_dir


#: The feeds of `site_content`.
SITE_FEEDS = {
    "all",
    "stories",
    "topics/ai",
    "topics/ai/stories",
    "topics/computer-vision",
    "topics/computer-vision/stories",
    "providers/example-news",
    "providers/script-alert-1-script",
    "providers/sky",
}


# -- index.html ---------------------------------------------------------------------------


def test_index_has_autodiscovery_for_every_feed_in_every_format(
    site_content: Path, publish: Callable[..., Site]
) -> None:
    site = publish(site_content)
    assert feed_keys(site) == SITE_FEEDS
    page = parse_html(site["/"])
    links = page.xpath("/html/head/link[@rel='alternate']")
    found = {(link.get("type"), link.get("href")) for link in links}
    assert found == {(FEED_TYPES[fmt], f"{BASE_URL}/{key}.{fmt}") for key in SITE_FEEDS for fmt in FEED_TYPES}
    # Each once (9 feeds, 3 formats), titled; nothing of the draft.
    assert len(links) == 27
    assert all(link.get("title") for link in links)
    assert not [href for _, href in found if "hidden" in href or "drafty" in href]


def test_index_lists_every_feed_with_count_newest_date_page_and_subscriptions(
    site_content: Path, publish: Callable[..., Site]
) -> None:
    site = publish(site_content)
    table = rows(parse_html(site["/"]))
    assert set(table) == {key.replace("/", "-") for key in SITE_FEEDS}
    summary = {
        row_id: (text(row[0]), text(row[1]), row.xpath(".//time/@datetime")) for row_id, row in table.items()
    }
    assert summary["all"] == ("All entries", "3", ["2024-05-03T10:00:00Z"])
    assert summary["stories"] == ("All stories", "3", ["2024-05-03T10:00:00Z"])
    assert summary["topics-ai"] == ("AI", "3", ["2024-05-03T10:00:00Z"])
    assert summary["topics-computer-vision"] == ("Computer Vision", "1", ["2024-05-03T10:00:00Z"])
    assert summary["providers-sky"] == ("Sky", "1", ["2024-05-02T10:00:00Z"])
    for key in SITE_FEEDS:
        row = table[key.replace("/", "-")]
        # The feed's name links its web page, which exists; then one link per format.
        assert row[0].xpath(".//a/@href") == [f"{BASE_URL}/{key}.html"]
        assert f"/{key}.html" in site
        assert row.xpath("./td[last()]//a/@href") == [f"{BASE_URL}/{key}.{fmt}" for fmt in FEED_TYPES]


def test_index_counts_all_entries_not_only_those_in_the_feed(
    site_content: Path, publish: Callable[..., Site]
) -> None:
    table = rows(parse_html(publish(site_content, "--max-items", "1")["/"]))
    assert text(table["all"][1]) == "3"
    assert text(table["topics-ai"][1]) == "3"


def test_index_escapes_text(site_content: Path, publish: Callable[..., Site]) -> None:
    body = publish(site_content)["/"]
    page = parse_html(body)
    assert not page.xpath("//script")
    assert EVIL.encode() not in body
    assert EVIL in page.text_content()
    assert any(EVIL in (link.get("title") or "") for link in page.xpath("//link[@rel='alternate']"))


def test_index_says_how_many_entries_are_withheld(site_content: Path, publish: Callable[..., Site]) -> None:
    assert "1 entry is withheld" in text(parse_html(publish(site_content)["/"]))
    assert "withheld" not in text(parse_html(publish(site_content, "--unpublished")["/"]))


def test_index_says_how_many_entries_are_scheduled(
    write_article: Callable[..., Path], content_dir: Path, publish: Callable[..., Site]
) -> None:
    write_article("now.md")
    write_article("later.md", publishedDateTime="2024-08-01T00:00:00Z")
    write_article("much-later.md", publishedDateTime="2025-01-01T00:00:00Z")
    page = text(parse_html(publish(content_dir)["/"]))
    assert "2 entries are scheduled for later" in page
    assert "withheld" not in page
    assert "scheduled" not in text(parse_html(publish(content_dir, "--future")["/"]))


def test_index_and_opml_with_drafts_only(
    write_article: Callable[..., Path], content_dir: Path, publish: Callable[..., Site]
) -> None:
    write_article(
        "d.md",
        published=False,
        related=[
            {
                "title": "R",
                "sourceUrl": "https://r.example.net/r",
                "publishedDateTime": "2024-05-01T00:00:00Z",
                "provider": {"name": "R"},
            }
        ],
    )
    site = publish(content_dir)
    page = parse_html(site["/"])
    assert "2 entries are withheld" in text(page)
    assert "0 entries in 2 feeds" in text(page)
    assert sorted(rows(page)) == ["all", "stories"]
    # A reader importing the list gets no empty Topics or Providers folder.
    body = ET.fromstring(site["/feeds.opml"]).find("body")
    assert body is not None
    assert [o.get("xmlUrl") for o in body.iter("outline") if o.get("xmlUrl")] == [
        f"{BASE_URL}/all.rss",
        f"{BASE_URL}/stories.rss",
    ]
    assert [folder.get("text") for folder in body.iter("outline") if not folder.get("xmlUrl")] == ["Stories"]


def test_index_summary_uses_the_singular_for_one_entry(
    write_article: Callable[..., Path], content_dir: Path, publish: Callable[..., Site]
) -> None:
    write_article("a.md")
    assert "1 entry in 5 feeds" in text(parse_html(publish(content_dir)["/"]))


# -- feeds.opml -------------------------------------------------------------------------


def test_opml_lists_every_feed_once_as_rss_in_folders_and_no_archive_page(
    site_content: Path, publish: Callable[..., Site]
) -> None:
    site = publish(site_content, "--max-items", "1")  # archive pages exist ...
    assert any("/archive/" in path for path in site)
    root = ET.fromstring(site["/feeds.opml"])
    assert root.tag == "opml" and root.get("version") == "2.0"
    assert root.findtext("head/title")
    modified = parsedate_to_datetime(root.findtext("head/dateModified") or "")
    assert modified.isoformat() == "2024-05-03T10:00:00+00:00"
    body = root.find("body")
    assert body is not None
    subscriptions = [outline for outline in body.iter("outline") if outline.get("xmlUrl")]
    # Every feed once (a reader importing it subscribes once to each) ...
    assert sorted(o.get("xmlUrl") for o in subscriptions) == sorted(
        f"{BASE_URL}/{key}.rss" for key in SITE_FEEDS
    )
    for outline in subscriptions:
        assert outline.get("type") == "rss"
        assert outline.get("text")
        assert outline.get("htmlUrl") == (outline.get("xmlUrl") or "").removesuffix(".rss") + ".html"
    # ... and no archive page, which is no feed to subscribe to.
    assert not [
        o for o in body.iter("outline") if "/archive/" in (o.get("xmlUrl", "") + o.get("htmlUrl", ""))
    ]
    groups = {
        group.get("text"): [o.get("xmlUrl") for o in group.findall("outline")]
        for group in body.findall("outline")
        if not group.get("xmlUrl")
    }
    assert groups == {
        "Stories": [
            f"{BASE_URL}/stories.rss",
            f"{BASE_URL}/topics/ai/stories.rss",
            f"{BASE_URL}/topics/computer-vision/stories.rss",
        ],
        "Topics": [f"{BASE_URL}/topics/ai.rss", f"{BASE_URL}/topics/computer-vision.rss"],
        "Providers": [
            f"{BASE_URL}/providers/example-news.rss",
            f"{BASE_URL}/providers/script-alert-1-script.rss",
            f"{BASE_URL}/providers/sky.rss",
        ],
    }
    (everything,) = [o for o in body.findall("outline") if o.get("xmlUrl")]
    assert everything.get("xmlUrl") == f"{BASE_URL}/all.rss"


def test_opml_escapes_names(site_content: Path, publish: Callable[..., Site]) -> None:
    body = publish(site_content)["/feeds.opml"]
    assert EVIL.encode() not in body
    assert any(EVIL in (outline.get("text") or "") for outline in ET.fromstring(body).iter("outline"))


# -- a page per feed ----------------------------------------------------------------------


@pytest.fixture
def story(write_article: Callable[..., Path], content_dir: Path) -> Path:
    """An article with image, excerpt, body and two related items; an older
    one whose title holds markup; and one older still, without image."""
    write_article(
        "story.md",
        title="Facial recognition rolled out",
        excerpt="Police deploy cameras.",
        publishedDateTime="2024-05-03T13:36:00Z",
        provider={"name": "ABC", "domain": "go.com"},
        topics=["AI"],
        images=[{"url": "https://img.example.com/1.jpg", "width": 992, "height": 558, "title": "Cameras"}],
        body="First paragraph with <script>alert(1)</script>.\n\nSecond & last.\n",
        related=[
            {
                "title": "Met switches on cameras",
                "sourceUrl": "https://techcrunch.example.net/b",
                "publishedDateTime": "2024-05-03T13:09:00Z",
                "provider": {"name": "TechCrunch"},
            },
            {
                "title": "'81% inaccurate' cameras",
                "sourceUrl": "https://sky.example.net/c",
                "publishedDateTime": "2024-05-01T12:54:00Z",
                "provider": {"name": "Sky"},
            },
        ],
    )
    write_article("bold.md", title='<b>Bold</b> & "news"', publishedDateTime="2024-05-02T00:00:00Z")
    write_article("old.md", title="Old news", publishedDateTime="2024-04-01T00:00:00Z", topics=["Robotics"])
    return content_dir


def articles(page: lxml.html.HtmlElement) -> list[lxml.html.HtmlElement]:
    return page.xpath("/html/body/main/article")


def test_every_feed_page_is_html5_with_its_feeds_autodiscovery_and_no_script(
    story: Path, publish: Callable[..., Site]
) -> None:
    site = publish(story, "--max-items", "1")  # archive pages have pages too
    feed_pages = [path for path in site if path.endswith(".html")]
    assert {f"/{key}.html" for key in feed_keys(site)} <= set(feed_pages)
    assert any("/archive/" in path for path in feed_pages)
    for path in feed_pages:
        body = site[path]
        assert body.startswith(b"<!DOCTYPE html>\n"), path
        page = parse_html(body)
        assert page.getroottree().docinfo.doctype == "<!DOCTYPE html>"
        assert page.get("lang") == "en", path
        assert page.xpath("/html/head/meta/@charset") == ["utf-8"], path
        assert page.xpath("/html/head/meta[@name='viewport']/@content"), path
        key = path[1:].split("/archive/")[0].removesuffix(".html")
        feed = json.loads(site[f"/{key}.json"])
        assert feed["title"] in text(page.xpath("/html/head/title")[0]), path
        assert text(page.xpath("//h1")[0]) == feed["title"], path
        # Autodiscovery: the feed's three subscription documents, in <head>.
        links = page.xpath("/html/head/link[@rel='alternate']")
        assert [(link.get("type"), link.get("href")) for link in links] == [
            (FEED_TYPES[fmt], f"{BASE_URL}/{key}.{fmt}") for fmt in FEED_TYPES
        ], path
        assert not page.xpath("//script"), path
        assert not [name for element in page.iter() for name in element.attrib if name.startswith("on")], path


def test_feed_page_shows_entries_newest_first_as_the_atom_feed_has_them(
    story: Path, publish: Callable[..., Site]
) -> None:
    site = publish(story)
    for key in ("all", "topics/ai", "providers/example-news"):
        atom = etree.fromstring(site[f"/{key}.atom"])
        expected = [
            (
                entry.findtext(f"{ATOM}title"),
                entry.find(f"{ATOM}link").get("href"),
                entry.findtext(f"{ATOM}author/{ATOM}name"),
                entry.findtext(f"{ATOM}published"),
            )
            for entry in atom.iter(f"{ATOM}entry")
        ]
        shown = []
        for article in articles(parse_html(site[f"/{key}.html"])):
            (heading,) = article.xpath("./h2/a")
            meta = article.xpath("./p[@class='meta']")[0]
            (published,) = meta.xpath(".//time/@datetime")
            provider = text(meta).split(" · ")[0]
            shown.append((text(heading), heading.get("href"), provider, published))
        assert len(shown) == len(expected) >= 2, key
        assert [(title, href, provider) for title, href, provider, _ in shown] == [
            (title, href, provider) for title, href, provider, _ in expected
        ], key
        assert [moment(published) for *_, published in shown] == [
            moment(published) for *_, published in expected
        ], key


def test_feed_page_entry_shows_image_excerpt_body_and_related_coverage(
    story: Path, publish: Callable[..., Site]
) -> None:
    page = parse_html(publish(story)["/all.html"])
    by_title = {text(article.xpath("./h2")[0]): article for article in articles(page)}
    article = by_title["Facial recognition rolled out"]
    (image,) = article.iter("img")
    assert image.get("src") == "https://img.example.com/1.jpg"
    assert (image.get("width"), image.get("height"), image.get("alt")) == ("992", "558", "Cameras")
    paragraphs = [text(p) for p in article.iter("p")]
    assert "Police deploy cameras." in paragraphs
    # The body is plain text: its markup shows as text, never runs.
    assert "First paragraph with <script>alert(1)</script>." in paragraphs
    assert "Second & last." in paragraphs
    assert "AI" in text(article.xpath("./p[@class='meta']")[0])
    coverage = {a.get("href"): text(a) for a in article.xpath(".//ul//a")}
    assert coverage == {
        "https://techcrunch.example.net/b": "Met switches on cameras",
        "https://sky.example.net/c": "'81% inaccurate' cameras",
    }
    # A related item's own entry lists the article and its sibling.
    sky = by_title["'81% inaccurate' cameras"]
    assert {a.get("href") for a in sky.xpath(".//ul//a")} == {
        "https://news.example.com/story",
        "https://techcrunch.example.net/b",
    }
    # No image, no excerpt: no empty image or paragraph.
    old = by_title["Old news"]
    assert not list(old.iter("img"))
    assert [text(p) for p in old.xpath("./p[not(@class)]")] == []


def test_feed_page_shows_markup_in_a_title_as_text(story: Path, publish: Callable[..., Site]) -> None:
    body = publish(story)["/all.html"]
    page = parse_html(body)
    assert '<b>Bold</b> & "news"' in [text(h2) for h2 in page.xpath("//article/h2")]
    assert not page.xpath("//article//b")
    assert b"<b>Bold" not in body


def test_feed_page_has_subscribe_links_in_every_format(story: Path, publish: Callable[..., Site]) -> None:
    site = publish(story, "--max-items", "1")
    for path in ("/topics/ai.html", "/all.html", "/all/archive/1.html"):
        page = parse_html(site[path])
        key = path[1:].split("/archive/")[0].removesuffix(".html")
        (subscribe,) = page.xpath("//*[@class='subscribe']")
        assert subscribe.xpath(".//a/@href") == [f"{BASE_URL}/{key}.{fmt}" for fmt in FEED_TYPES], path
        assert "feed reader" in text(subscribe)  # and how


def test_feed_pages_link_older_entries_through_every_archive_page(
    story: Path, publish: Callable[..., Site]
) -> None:
    site = publish(story, "--max-items", "2")
    expected = [text(a) for a in parse_html(publish(story)["/all.html"]).xpath("//article/h2")]
    assert len(expected) == 5
    seen = []
    path: str | None = "/all.html"
    while path is not None:
        page = parse_html(site[path])
        seen += [text(h2) for h2 in page.xpath("//article/h2")]
        if path != "/all.html":
            # An archive page says so, and links the newest entries.
            assert f"{BASE_URL}/all.html" in page.xpath("//a/@href"), path
        older = page.xpath("//a[@rel='prev']/@href")
        assert len(older) <= 1
        path = older[0].removeprefix(BASE_URL) if older else None
        assert path is None or "/all/archive/" in path
    assert seen == expected  # every entry once, newest first
    # A feed without archive pages links no older entries.
    assert not parse_html(site["/topics/robotics.html"]).xpath("//a[@rel='prev']")


def test_an_empty_feed_page_says_so(
    write_article: Callable[..., Path], content_dir: Path, publish: Callable[..., Site]
) -> None:
    write_article("d.md", published=False)
    page = parse_html(publish(content_dir)["/all.html"])
    assert articles(page) == []
    assert "No entries yet" in text(page)
