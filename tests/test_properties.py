"""Property tests (SPEC §5): whatever the content, parsing and building
never raise, every feed is well-formed XML (or JSON) that feedparser reads
without complaint, and nothing withheld or secret reaches any output.

Articles are drawn within the schema (with random Unicode, control
characters, odd dates and URLs, colliding names, drafts, duplicates), then
written with ``yaml.safe_dump`` as a real file would be. Each story carries
tokens that random text practically never contains: ``T<n>Q`` in its title,
``U<n>Q`` in its URL and ``zzSECRET<n>zz`` as its ``secured`` value, so that
a leak is found by a substring search of the output.

Sites go through the real pipeline (`feedpub.site.Pipeline`: a store, a
refresh, every document of the URL space rendered), which costs tens of
milliseconds per example: those properties run few examples; the ones that
only parse run more.
"""

from __future__ import annotations

import json
import re
import tempfile
from datetime import date
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from pathlib import Path
from typing import Any

import feedparser
import lxml.etree
import lxml.html
import yaml
from hypothesis import HealthCheck
from hypothesis import example
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from feedpub import content
from feedpub import settings as feedpub_settings
from feedpub.model import Article
from feedpub.settings import MAX_FILE_BYTES
from feedpub.site import Pipeline

BASE_URL = "https://feeds.example.org"
#: Building a site per example is slow: few examples, no deadline.
SITES = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
#: Parsing one file is fast.
FILES = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_TITLE_TOKEN = re.compile(r"T\d+Q")
_URL_TOKEN = re.compile(r"U\d+Q")

# -- strategies -------------------------------------------------------------------


def mostly(good: st.SearchStrategy[Any], odd: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """`good` five times in six, else `odd`: most stories must get through
    the loader for the feeds to be exercised at all."""
    return st.integers(0, 5).flatmap(lambda n: odd if n == 5 else good)


#: Any text without surrogates (YAML and UTF-8 cannot carry those), control
#: characters, U+FFFE and other characters XML forbids included.
weird_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
odd_text = weird_text | st.sampled_from(
    [
        "",
        "   ",
        "<script>alert(1)</script>",
        "a & b",
        "]]>",
        "\x00\x01\x0b",
        "\ufffe\uffff",
        "\u2028\x85",
    ]
)
#: Text that is never blank.
text = st.builds(lambda t: f"{t}x", weird_text) | odd_text
names = mostly(
    st.sampled_from(
        [
            "AI",
            "ai",
            " AI ",
            "A.I.",
            "C",
            "C++",
            "../../etc",
            "..",
            "/",
            "日本語",
            "Künstliche Intelligenz",
        ]
    )
    | st.builds(lambda t: f"{t}n", weird_text),
    odd_text,
)
#: What may follow a URL's host: no white space or controls, anything else.
url_text = st.text(st.characters(exclude_categories=["Cs", "Cc", "Zs", "Zl", "Zp"]), max_size=20)

offsets = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(lambda minutes: timezone(timedelta(minutes=minutes)))
dates = mostly(
    st.one_of(
        st.datetimes(min_value=datetime(1900, 1, 2), timezones=offsets),  # a YAML timestamp
        st.datetimes(min_value=datetime(1900, 1, 2)),  # no offset: UTC, with a warning
        st.dates(min_value=date(1900, 1, 2)),
        st.datetimes(timezones=offsets).map(lambda d: d.isoformat()),  # a string
    ),
    st.sampled_from(
        [
            "2024-02-30T00:00:00Z",
            "9999-12-31T23:59:59-23:59",
            "0001-01-01T00:00:00+01:00",
            "yesterday",
            "",
        ]
    )
    | weird_text
    | st.integers()
    | st.datetimes(),
)

hosts = st.sampled_from(
    [
        "news.example.com",
        "NEWS.Example.COM",
        "bücher.example",
        "[::1]",
        "example.com:8080",
        "u:p@example.com",
    ]
)
odd_urls = (
    st.sampled_from(
        [
            "javascript:alert(1)",
            "data:text/html,<b>x</b>",
            "ftp://example.com/a",
            "/relative",
            "example.com/a",
            "http://",
            "https://exa mple.com/",
            "https://example.com:99999/",
            "http://[::1/",
            "https://" + "a" * 3000 + ".com/",
            "",
        ]
    )
    | weird_text
)


def urls(token: str) -> st.SearchStrategy[str]:
    return mostly(
        st.builds(
            lambda scheme, host, path, tail: f"{scheme}://{host}/{token}{path}{tail}",
            st.sampled_from(["http", "https", "HTTPS"]),
            hosts,
            url_text,
            st.sampled_from(["", "?utm_source=x", "?q=a+b&utm_medium=y", "#top", "?a=1&a=2", "?q=%2Fx"]),
        ),
        odd_urls,
    )


@st.composite
def stories(draw: st.DrawFn, number: int, related: bool) -> dict[str, Any]:
    """The fields of one article (or related item), numbered `number`."""
    story: dict[str, Any] = {
        "title": f"{draw(odd_text)} T{number}Q",
        "sourceUrl": draw(urls(f"U{number}Q")),
        "publishedDateTime": draw(dates),
        "provider": draw(
            mostly(
                st.fixed_dictionaries({"name": names}, optional={"domain": odd_text | hosts}),
                st.sampled_from([None, "ABC", ["x"], {"domain": "x.example"}]),
            )
        ),
        "secured": f"zzSECRET{number}zz",
    }
    optional = {
        "excerpt": odd_text,
        "topics": mostly(st.lists(names, max_size=4), st.sampled_from(["AI", None, [["x"]]])),
        "images": st.lists(
            mostly(
                st.fixed_dictionaries(
                    {"url": mostly(st.just("https://img.example.com/a.jpg") | urls("I"), odd_urls)},
                    optional={
                        "width": st.integers(-5, 200_000),
                        "height": st.integers(),
                        "title": odd_text,
                    },
                ),
                st.sampled_from(["https://img.example.com/b.jpg", None, 5]),
            ),
            max_size=3,
        ),
        "ampUrl": urls("A"),
        "quality": st.integers(-10, 110) | st.floats(allow_nan=True) | odd_text,
        "heat": st.integers(-2, 10**6),
        "category": odd_text,
        "type": odd_text,
    }
    for key, strategy in optional.items():
        if draw(st.booleans()):
            story[key] = draw(strategy)
    if related:
        story["published"] = draw(mostly(st.sampled_from([True, False]), st.sampled_from(["no", None, 0])))
        if story["published"] is None:
            del story["published"]
    return story


@st.composite
def sites(draw: st.DrawFn) -> list[tuple[str, bytes]]:
    """A few content files, each an article with related items; some URLs
    reused across stories so that merging is exercised."""
    files = []
    number = 0
    urls: list[str] = []
    for index in range(draw(st.integers(1, 4))):
        fields = draw(stories(number, related=True))
        number += 1
        items = []
        for _ in range(draw(st.integers(0, 3))):
            item = draw(stories(number, related=False))
            number += 1
            items.append(item)
        if draw(st.booleans()):
            fields["related"] = items + draw(
                st.sampled_from([[], ["a string"], [None], [{"title": "no url"}]])
            )
        for story in [fields, *items]:
            if urls and draw(st.integers(0, 5)) == 0:
                story["sourceUrl"] = draw(st.sampled_from(urls))  # the same story twice
            urls.append(str(story["sourceUrl"]))
        body = draw(st.sampled_from(["", "Body.\n", "<p>x</p>\n\n\x00second\n"]) | weird_text)
        text = "---\n" + yaml.safe_dump(fields, allow_unicode=True) + "---\n" + body
        files.append((f"{index}.md", text.encode("utf-8")))
    return files


# -- properties -------------------------------------------------------------------


def _build(files: list[tuple[str, bytes]], unpublished: bool) -> tuple[dict[str, bytes], int]:
    """Every document of the site the files make, by path, and how many
    entries it publishes: the pipeline of ``feedpub build``, rendered in
    memory; a preview (`unpublished`) also publishes future-dated articles."""
    with tempfile.TemporaryDirectory(prefix="feedpub-properties-") as temp:
        root = Path(temp) / "content"
        root.mkdir()
        for name, data in files:
            (root / name).write_bytes(data)
        options = {
            "content_dir": root, "base_url": BASE_URL, "unpublished": unpublished, "future": unpublished,
            "max_items": 20, "store": Path(temp) / "site.sqlite3", "jobs": 1,
        }
        pipeline = Pipeline(feedpub_settings.load(options, environ={}))
        try:
            pipeline.refresh()
            documents = pipeline.render(pipeline.all_documents(), pipeline.site())
            rendered = {document.ref.path: document.body for document in documents}
            return rendered, pipeline.overview().entries
        finally:
            pipeline.close()


def _check_output(files: list[tuple[str, bytes]], articles: list[Article], unpublished: bool) -> None:
    rendered, entries = _build(files, unpublished)
    for path, body in rendered.items():
        if path.endswith(".json"):
            assert json.loads(body)["version"] == "https://jsonfeed.org/version/1.1"
        elif path == "/" or path.endswith(".html"):
            lxml.html.document_fromstring(body)
        else:
            lxml.etree.fromstring(body)  # well-formed, or this raises
        if path in ("/all.rss", "/all.atom"):
            parsed = feedparser.parse(body)
            assert parsed.bozo == 0, (path, parsed.get("bozo_exception"))
            assert len(parsed.entries) == min(20, entries)
    everything = b"\n".join(rendered.values()).decode("utf-8")
    assert "SECRET" not in everything
    if unpublished:
        return
    visible = {
        story.canonical for article in articles if not article.draft for story in (article, *article.related)
    }
    for article in articles:
        if not article.draft:
            continue
        for story in (article, *article.related):
            # A draft's title never shows, even where a published story has
            # the same URL (its fields win); its URL shows only then.
            assert _TITLE_TOKEN.search(story.title).group() not in everything
            if story.canonical not in visible:
                token = _URL_TOKEN.search(story.url)
                assert token is None or token.group() not in everything


def _parse(name: str, data: bytes) -> content.ParsedFile:
    parsed = content.parse(name, data, max_bytes=MAX_FILE_BYTES)
    assert parsed.path == name
    assert parsed.article is not None or any(problem.is_error for problem in parsed.problems), parsed
    for problem in parsed.problems:
        assert problem.path == name and problem.message
        assert problem.line is None or problem.line >= 1
    return parsed


@SITES
@given(sites())
@example(  # a raw NEL (U+0085) in a title: YAML reads it as a line break
    [
        (
            "0.md",
            "---\ntitle: a\x85b T0Q\nsourceUrl: https://x.example/U0Q\n"
            "publishedDateTime: 2024-01-01T00:00:00Z\nprovider: {name: X}\n---\n".encode(),
        )
    ]
)
def test_any_site_builds_into_valid_feeds(files: list[tuple[str, bytes]]) -> None:
    articles = [parsed.article for name, data in files if (parsed := _parse(name, data)).article is not None]
    _check_output(files, articles, unpublished=False)
    _check_output(files, articles, unpublished=True)


# Values of every YAML type, for fields of the wrong type.
yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | text | st.dates() | st.datetimes(),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(text, children, max_size=3),
    max_leaves=8,
)
FIELDS = [
    "title",
    "sourceUrl",
    "publishedDateTime",
    "provider",
    "excerpt",
    "topics",
    "images",
    "related",
    "ampUrl",
    "quality",
    "heat",
    "published",
    "secured",
    "category",
    "type",
]


@FILES
@given(
    st.dictionaries(st.sampled_from(FIELDS) | text, yaml_values, max_size=8),
    st.dictionaries(st.sampled_from(["name", "domain"]) | text, yaml_values, max_size=3),
)
@example(
    {
        "title": "x",
        "sourceUrl": "https://a.example/",
        "publishedDateTime": "2024-01-01",
        "related": [{}],
    },
    {},
)
def test_fields_of_any_type_give_problems_not_exceptions(
    fields: dict[Any, Any], provider: dict[Any, Any]
) -> None:
    fields.setdefault("provider", provider)
    data = ("---\n" + yaml.safe_dump(fields, allow_unicode=True) + "---\n").encode()
    parsed = _parse("a.md", data)
    if parsed.article is not None:
        _check_output([("a.md", data)], [parsed.article], unpublished=True)


@FILES
@given(
    st.binary(max_size=600)
    | st.builds(lambda b: b"---\n" + b + b"\n---\n", st.binary(max_size=600))
    | st.builds(lambda t: f"---\n{t}\n---\n".encode("utf-8", "surrogatepass"), st.text(max_size=300))
)
@example(b"---\n\xed\xa0\x80\n---\n")  # an encoded surrogate: not UTF-8
@example("---\n\ud800\n---\n".encode("utf-8", "surrogatepass"))
@example(b"---\n!!python/object/apply:os.system [true]\n---\n")
@example(b"---\n&a [*a]\n---\n")
def test_random_bytes_give_a_problem_not_an_exception(data: bytes) -> None:
    _parse("random.md", data)


FORBIDDEN = [
    "\x00",
    "\x01",
    "\x08",
    "\x0b",
    "\x0c",
    "\x1f",
    "\x7f",
    "\x85",
    "\x9f",
    "\ufffe",
    "\uffff",
]
ARTICLE = (
    "---\n"
    "title: A story\n"
    "sourceUrl: https://news.example.com/a\n"
    "publishedDateTime: 2024-05-01T12:00:00Z\n"
    "provider:\n"
    "  name: Example News\n"
    "topics: [AI, Computer Vision]\n"
    "related:\n"
    "  - title: 'Other story'\n"
    "    sourceUrl: https://other.example.net/b\n"
    "    publishedDateTime: 2024-05-01T11:00:00Z\n"
    "    provider: {name: Other}\n"
    "---\n"
    "Body.\n"
)


@FILES
@given(st.lists(st.tuples(st.integers(0, len(ARTICLE)), st.sampled_from(FORBIDDEN)), max_size=6))
@example([(len("---"), "\x01")])  # in the opening fence
@example([(ARTICLE.index("---\nBody") + 1, "\x0c")])  # in the closing fence
def test_raw_forbidden_characters_anywhere_are_removed(
    insertions: list[tuple[int, str]],
) -> None:
    """Raw control characters wherever they fall: the article is the same as
    without them, with a warning at each line that had one."""
    text = ARTICLE
    for position, character in sorted(insertions, reverse=True):
        text = text[:position] + character + text[position:]
    parsed = _parse("a.md", text.encode("utf-8"))
    assert parsed.article == _parse("a.md", ARTICLE.encode()).article
    lines = {ARTICLE.count("\n", 0, position) + 1 for position, _ in insertions}
    warned = {problem.line for problem in parsed.problems}
    assert all(not problem.is_error for problem in parsed.problems)
    assert warned <= lines and bool(warned) == bool(insertions)
    assert min(lines, default=None) in warned | {None}


YAML_TAGS = [
    "!!bool",
    "!!int",
    "!!float",
    "!!timestamp",
    "!!null",
    "!!str",
    "!!binary",
    "!!set",
    "!!omap",
    "!!pairs",
    "!!seq",
    "!!map",
    "!!merge",
    "!!value",
    "!!python/none",
    "!x",
]


@FILES
@given(
    st.sampled_from(YAML_TAGS),
    st.text(st.characters(codec="ascii", exclude_categories=["Cc"]), max_size=12),
    st.sampled_from(["quality", "published", "publishedDateTime", "topics", "title", "x"]),
)
@example("!!bool", "maybe", "published")  # PyYAML raised KeyError: 'maybe'
@example("!!timestamp", "abc", "x")  # AttributeError: 'NoneType' object has no attribute ...
@example("!!int", "", "quality")  # IndexError: string index out of range
def test_explicit_yaml_tags_give_problems_not_exceptions(tag: str, value: str, field: str) -> None:
    data = ARTICLE.replace("---\nBody", f"{field}: {tag} {value}\n---\nBody").encode()
    _parse("a.md", data)
