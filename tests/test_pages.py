"""``index.html`` and ``feeds.opml`` (SPEC §3)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import lxml.html
import pytest

from feedpub import catalog as catalogs
from feedpub import content
from feedpub import documents
from feedpub.catalog import Catalog
from feedpub.model import Site

BASE_URL = "https://feeds.example.org"
SITE = Site(base_url=BASE_URL)
EVIL = "<script>alert(1)</script>"


def load_catalog(content_dir: Path, **options: Any) -> Catalog:
    return catalogs.build(content.load(content_dir).articles, **options)


def index(catalog: Catalog) -> lxml.html.HtmlElement:
    return lxml.html.document_fromstring(documents.render(catalog, "/", SITE).body)


def opml(catalog: Catalog) -> ET.Element:
    return ET.fromstring(documents.render(catalog, "/feeds.opml", SITE).body)


@pytest.fixture
def site_content(write_article: Callable[..., Path], content_dir: Path) -> Path:
    """Three providers (one named like markup), two topics, one draft."""
    write_article("a.md", topics=["AI", "Computer Vision"], publishedDateTime="2024-05-03T10:00:00Z")
    write_article("b.md", topics=["AI"], provider={"name": "Sky"}, publishedDateTime="2024-05-02T10:00:00Z")
    write_article("c.md", topics=["AI"], provider={"name": EVIL}, publishedDateTime="2024-05-01T10:00:00Z")
    write_article("d.md", published=False, topics=["Hidden"], provider={"name": "Drafty"})
    return content_dir


def feed_urls(catalog: Catalog, format: str) -> set[str]:
    return {SITE.url(feed.path(format)) for feed in catalog.feeds.values()}


# -- index.html ------------------------------------------------------------------------


def test_index_has_autodiscovery_for_every_feed_in_both_formats(site_content: Path) -> None:
    catalog = load_catalog(site_content)
    page = index(catalog)
    links = page.xpath("//head/link[@rel='alternate']")
    found = {(link.get("type"), link.get("href")) for link in links}
    expected = {("application/rss+xml", url) for url in feed_urls(catalog, "rss")}
    expected |= {("application/atom+xml", url) for url in feed_urls(catalog, "atom")}
    assert found == expected
    # all, 2 topics, 3 providers, each twice; nothing of the draft.
    assert len(links) == 12
    assert not [href for _, href in found if "hidden" in href or "drafty" in href]
    assert all(link.get("title") for link in links)


def test_index_lists_every_feed_with_count_and_newest_date(site_content: Path) -> None:
    catalog = load_catalog(site_content)
    page = index(catalog)
    anchors = {a.get("href") for a in page.iter("a")}
    assert feed_urls(catalog, "rss") | feed_urls(catalog, "atom") <= anchors
    rows = {
        row.get("id"): (
            row[0].text_content(),
            row[1].text_content(),
            row.xpath(".//time/@datetime"),
        )
        for row in page.xpath("//tbody/tr")
    }
    assert rows["all"] == ("All entries", "3", ["2024-05-03T10:00:00+00:00"])
    assert rows["topics-ai"] == ("AI", "3", ["2024-05-03T10:00:00+00:00"])
    assert rows["topics-computer-vision"] == ("Computer Vision", "1", ["2024-05-03T10:00:00+00:00"])
    assert rows["providers-sky"] == ("Sky", "1", ["2024-05-02T10:00:00+00:00"])
    assert len(rows) == len(catalog.feeds)


def test_index_counts_all_entries_not_only_those_in_the_feed(site_content: Path) -> None:
    page = index(load_catalog(site_content, max_items=1))
    (row,) = page.xpath("//tr[@id='all']")
    assert row[1].text_content() == "3"


def test_index_escapes_text(site_content: Path) -> None:
    body = documents.render(load_catalog(site_content), "/", SITE).body
    page = lxml.html.document_fromstring(body)
    assert not page.xpath("//script")
    assert EVIL.encode() not in body
    assert EVIL in page.text_content()
    assert any(EVIL in link.get("title") for link in page.xpath("//link[@rel='alternate']"))


def test_index_says_how_many_entries_are_withheld(site_content: Path) -> None:
    text = " ".join(index(load_catalog(site_content)).text_content().split())
    assert "1 entry is withheld" in text
    preview = " ".join(index(load_catalog(site_content, include_unpublished=True)).text_content().split())
    assert "withheld" not in preview


def test_index_with_drafts_only(write_article: Callable[..., Path], content_dir: Path) -> None:
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
    page = index(load_catalog(content_dir))
    text = " ".join(page.text_content().split())
    assert "2 entries are withheld" in text
    assert [row.get("id") for row in page.xpath("//tbody/tr")] == ["all"]
    # A reader importing the list gets no empty Topics or Providers folder.
    outlines = opml(load_catalog(content_dir)).find("body")
    assert [outline.get("xmlUrl", "").rsplit("/", 1)[-1] for outline in outlines] == ["all.rss"]


def test_index_summary_uses_singular_for_one_feed(
    write_article: Callable[..., Path], content_dir: Path
) -> None:
    write_article("d.md", published=False)
    text = " ".join(index(load_catalog(content_dir)).text_content().split())
    assert "1 feed," in text or "1 feed " in text


# -- feeds.opml ------------------------------------------------------------------------


def test_opml_lists_every_feed_grouped_by_topics_and_providers(site_content: Path) -> None:
    catalog = load_catalog(site_content)
    root = opml(catalog)
    assert root.tag == "opml" and root.get("version") == "2.0"
    assert root.findtext("head/title")
    assert (
        parsedate_to_datetime(root.findtext("head/dateModified")).isoformat() == "2024-05-03T10:00:00+00:00"
    )
    body = root.find("body")
    subscriptions = [outline for outline in body.iter("outline") if outline.get("xmlUrl")]
    # Every feed once (a reader importing it subscribes once to each).
    assert sorted(o.get("xmlUrl") for o in subscriptions) == sorted(feed_urls(catalog, "rss"))
    for outline in subscriptions:
        assert outline.get("type") == "rss"
        assert outline.get("text")
        assert outline.get("htmlUrl") == BASE_URL + "/"
    groups = {
        group.get("text"): [o.get("xmlUrl") for o in group.findall("outline")]
        for group in body.findall("outline")
        if not group.get("xmlUrl")
    }
    assert groups == {
        "Topics": [f"{BASE_URL}/topics/ai.rss", f"{BASE_URL}/topics/computer-vision.rss"],
        "Providers": [
            f"{BASE_URL}/providers/example-news.rss",
            f"{BASE_URL}/providers/script-alert-1-script.rss",
            f"{BASE_URL}/providers/sky.rss",
        ],
    }
    (everything,) = [o for o in body.findall("outline") if o.get("xmlUrl")]
    assert everything.get("xmlUrl") == f"{BASE_URL}/all.rss"


def test_opml_escapes_names(site_content: Path) -> None:
    body = documents.render(load_catalog(site_content), "/feeds.opml", SITE).body
    assert EVIL.encode() not in body
    texts = [outline.get("text") for outline in ET.fromstring(body).iter("outline")]
    assert any(EVIL in text for text in texts)
