"""URLs and slugs (SPEC §2 identity of entries, §2 http(s) only, §3 slugs)."""

from __future__ import annotations

import itertools
import re

import pytest

from feedpub.urls import assign_slugs
from feedpub.urls import base_url
from feedpub.urls import canonical_url
from feedpub.urls import http_url
from feedpub.urls import slugify

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def canonical(url: str) -> str:
    checked = http_url(url)
    assert checked is not None, url
    return canonical_url(checked)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # scheme and host lower-cased; the path is case-sensitive and kept
        ("HTTPS://News.Example.COM/Story/A", "https://news.example.com/Story/A"),
        ("https://example.com/a#comments", "https://example.com/a"),
        ("https://example.com/a?utm_source=x&utm_medium=y", "https://example.com/a"),
        ("https://example.com/a?id=7&UTM_Campaign=z&page=2", "https://example.com/a?id=7&page=2"),
        ("https://example.com/a?id=7&utm_source=rss#top", "https://example.com/a?id=7"),
        # default ports are the same page; other ports are not
        ("https://example.com:443/a", "https://example.com/a"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("http://example.com:8080/a", "http://example.com:8080/a"),
        ("https://example.com", "https://example.com/"),
        # parameters that are not tracking ones stay, in their order
        ("https://example.com/a?b=2&a=1", "https://example.com/a?b=2&a=1"),
    ],
)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "HTTPS://News.Example.COM/Story/A?utm_source=x#f",
        "https://example.com/a?id=7&page=2",
        "http://example.com:8080/",
    ],
)
def test_canonical_url_is_idempotent(url: str) -> None:
    once = canonical(url)
    assert canonical(once) == once


# Dropping a tracking parameter must not re-encode the others: the same page
# with and without utm_* would get two ids.
@pytest.mark.parametrize("query", ["q=a+b", "path=%2Fx", "q=caf%C3%A9+au+lait"])
def test_removing_tracking_parameters_keeps_other_parameters_as_written(query: str) -> None:
    plain = f"https://example.com/search?{query}"
    assert canonical(f"{plain}&utm_source=newsletter") == canonical(plain)


# The fast path for already-canonical URLs must not let any tracking
# parameter through, however it is spelt.
@pytest.mark.parametrize(
    "key", ["utm_source", "UTM_Medium", "%75tm_source", "fbclid", "msclkid", "mc_eid", "_hsenc"]
)
def test_every_spelling_of_a_tracking_parameter_is_removed(key: str) -> None:
    assert canonical(f"https://example.com/a?id=1&{key}=x") == "https://example.com/a?id=1"


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/a",
        "javascript:alert(1)",
        "data:text/html,<b>x</b>",
        "mailto:someone@example.com",
        "file:///etc/passwd",
        "/relative/path",
        "example.com/a",
        "//example.com/a",
        "https://",
        "https://exa mple.com/a",
        "https://example.com/a\nb",
        "https://example.com:99999/a",
        "",
    ],
)
def test_http_url_refuses_anything_but_absolute_http_urls(url: str) -> None:
    assert http_url(url) is None


def test_http_url_accepts_http_and_https() -> None:
    assert http_url("http://example.com/a") == "http://example.com/a"
    assert http_url("  https://example.com/a?b=1  ") == "https://example.com/a?b=1"


def test_http_url_encodes_non_ascii_as_a_valid_uri() -> None:
    url = http_url("https://bücher.example/über?q=ä")
    assert url == "https://xn--bcher-kva.example/%C3%BCber?q=%C3%A4"


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Computer Vision", "computer-vision"),
        ("Künstliche Intelligenz", "kunstliche-intelligenz"),
        ("AI", "ai"),
        ("  Machine   Learning  ", "machine-learning"),
        ("C++", "c"),
        ("Crème Brûlée!", "creme-brulee"),
    ],
)
def test_slugify(name: str, slug: str) -> None:
    assert slugify(name) == slug


@pytest.mark.parametrize("name", ["../../etc/passwd", "a/b", "..", ".", "/", "\\..\\x", "x/../../y"])
def test_slug_cannot_escape_its_folder(name: str) -> None:
    slug = assign_slugs([name], "topic")[name]
    assert SLUG.match(slug), slug


def test_long_name_gets_a_short_stable_slug() -> None:
    name = "word " * 100
    slug = slugify(name)
    assert SLUG.match(slug)
    assert len(slug) <= 70
    assert slugify(name) == slug
    assert slugify(name + "other") != slug


def test_names_sharing_a_slug_get_distinct_stable_slugs() -> None:
    names = ["C", "C++", "C#", "c!"]
    first = assign_slugs(names, "topic")
    assert len(set(first.values())) == len(names)
    assert all(SLUG.match(slug) for slug in first.values())
    # One of them keeps the plain slug; the result never depends on the order
    # the names are seen in.
    assert "c" in first.values()
    for order in itertools.permutations(names):
        assert assign_slugs(order, "topic") == first


def test_a_slug_does_not_change_when_unrelated_names_come_and_go() -> None:
    before = assign_slugs(["C", "C++", "AI"], "topic")
    after = assign_slugs(["C", "C++", "Robotics", "Computer Vision"], "topic")
    assert after["C"] == before["C"]
    assert after["C++"] == before["C++"]


def test_names_without_ascii_letters_get_distinct_fallback_slugs() -> None:
    slugs = assign_slugs(["日本", "中国", "!!!"], "topic")
    assert len(set(slugs.values())) == 3
    assert all(slug.startswith("topic-") and SLUG.match(slug) for slug in slugs.values())


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://feeds.example.org", "https://feeds.example.org"),
        ("https://feeds.example.org/", "https://feeds.example.org"),
        ("http://127.0.0.1:8000/news/", "http://127.0.0.1:8000/news"),
    ],
)
def test_base_url(value: str, expected: str) -> None:
    assert base_url(value) == expected


@pytest.mark.parametrize(
    "value",
    ["ftp://x", "feeds", "/feeds", "javascript:alert(1)", "https://x.org/?a=1", "https://x.org/#f"],
)
def test_base_url_refuses_what_cannot_prefix_the_url_space(value: str) -> None:
    with pytest.raises(ValueError):
        base_url(value)
