"""The Flask app through its test client: the URL space over HTTP,
validators and cache headers, hosts, /healthz, rendering once, live reload.

What only a real server shows (several workers, gunicorn's own handling of
forwarded headers, a worker running as another user) is in
``test_gunicorn.py``; the layering of settings and their checks, and
``Last-Modified`` against ``Date``, in ``test_config.py``.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import shutil
import threading
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path

import feedparser
import lxml.etree
import pytest
from _servers import eventually
from conftest import article_text
from werkzeug.http import http_date
from werkzeug.http import parse_date

from feedpub import catalog
from feedpub import feeds
from feedpub.errors import ConfigError

BASE_URL = "https://feeds.example.org"
CACHE_CONTROL = "public, max-age=300, stale-while-revalidate=60, stale-if-error=86400"


def reload(app):
    """Refresh the app's store from its folder and switch the app to the
    new version; whether the store changed. (`Live.refresh` alone leaves
    the process serving its cached documents until its version poller, off
    with RELOAD_INTERVAL=0, catches up: see
    `test_a_refresh_is_served_at_once_by_the_process_that_made_it`.)"""
    live = app.extensions["feedpub"]
    changed = live.refresh()
    live.catch_up()
    return changed


def titles(client, path="/all.atom", **options):
    response = client.get(path, **options)
    assert response.status_code == 200, (path, response.status_code)
    return [entry.title for entry in feedparser.parse(response.data).entries]


@pytest.fixture
def seeds(copy_seeds):
    """A copy of ``seeds/``: one draft article (ABC) with three related
    items (TechCrunch, Sky, Independent), topics AI and Computer Vision."""
    return copy_seeds()


@pytest.fixture
def seeds_app(make_app, seeds):
    """The seeds with drafts published, for BASE_URL, two entries a page
    (so that every feed of four entries has an archive page)."""
    return make_app(CONTENT_DIR=str(seeds), UNPUBLISHED=True, MAX_ITEMS=2)


@pytest.fixture
def seeds_client(seeds_app):
    return seeds_app.test_client()


@pytest.fixture
def renders(monkeypatch):
    """Every `feedpub.feeds.render` call from now on, as (feed key, page
    number, format)."""
    calls = []
    real = feeds.render

    def counting(page, format, *args, **kwargs):
        calls.append((page.feed.key, page.number, format))
        return real(page, format, *args, **kwargs)

    monkeypatch.setattr(feeds, "render", counting)
    return calls


# -- settings -------------------------------------------------------------------


def test_the_environment_flag_publishes_drafts(make_app, seeds, monkeypatch):
    client = make_app(CONTENT_DIR=str(seeds)).test_client()
    assert titles(client) == []
    assert client.get("/healthz").get_json()["withheld"] == 4

    monkeypatch.setenv("FEEDPUB_UNPUBLISHED", "1")
    client = make_app(CONTENT_DIR=str(seeds)).test_client()
    assert len(titles(client)) == 4
    assert client.get("/healthz").get_json()["withheld"] == 0


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ({"PROXY_FIX": -1}, "proxy"),
        ({"PROXY_FIX": 11}, "proxy"),
        ({"TRUSTED_HOSTS": ["not a host/"]}, "trusted"),
        ({"TRUSTED_HOSTS": [""]}, "trusted"),
        ({"RELOAD_INTERVAL": -1}, "reload"),
        ({"STORE": 3}, "store"),
    ],
)
def test_bad_server_settings_fail_at_start_naming_the_setting(make_app, config, named):
    """Settings only the server has; the shared ones are in test_config.py."""
    with pytest.raises(ConfigError) as raised:
        make_app(**config)
    assert named in str(raised.value)


# -- the URL space ----------------------------------------------------------------


def test_every_document_is_served_with_the_bytes_build_writes(
    build, read_tree, tmp_path, seeds, seeds_client
):
    """Every file of a build, archive pages, JSON and HTML forms included,
    is served with the same bytes for the same base URL and settings."""
    build(seeds, "--unpublished", "--max-items", "2")
    built = read_tree(tmp_path / "public")
    assert {"/", "/feeds.opml", "/all.json", "/all.html", "/all/archive/1.atom", "/topics/ai/archive/1.rss",
            "/stories.atom", "/feeds/high-quality.rss"} <= built.keys()
    for path, body in built.items():
        response = seeds_client.get(path)
        assert response.status_code == 200, path
        assert response.data == body, path
        assert response.headers["Content-Type"].endswith("; charset=utf-8"), path
        assert response.headers["ETag"].startswith('"'), path
        assert response.headers["Cache-Control"] == CACHE_CONTROL, path
    assert seeds_client.get("/index.html").data == built["/"]


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/all.rss", "application/rss+xml; charset=utf-8"),
        ("/all.atom", "application/atom+xml; charset=utf-8"),
        ("/all.json", "application/feed+json; charset=utf-8"),
        ("/all.html", "text/html; charset=utf-8"),
        ("/topics/ai/archive/1.json", "application/feed+json; charset=utf-8"),
        ("/topics/ai/archive/1.atom", "application/atom+xml; charset=utf-8"),
        ("/feeds.opml", "text/x-opml; charset=utf-8"),
        ("/", "text/html; charset=utf-8"),
        ("/index.html", "text/html; charset=utf-8"),
    ],
)
def test_content_types(seeds_client, path, content_type):
    assert seeds_client.get(path).headers["Content-Type"] == content_type


@pytest.mark.parametrize(
    "path",
    ["/topics/nope.rss", "/topics/ai.xml", "/ALL.atom", "/all.atom/", "/all/archive/0.atom",
     "/all/archive/9.atom", "/../etc/passwd", "/topics/../all.atom"],
)
def test_an_unknown_path_is_a_404_listing_the_feeds(seeds_client, path):
    response = seeds_client.get(path)
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    for listed in (b"/topics/ai.rss", b"/providers/abc.atom", b"/all.json", b"/stories.html"):
        assert listed in response.data
    assert seeds_client.head(path).status_code == 404


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
@pytest.mark.parametrize("path", ["/all.rss", "/", "/nope.atom", "/healthz"])
def test_other_methods_are_405(seeds_client, method, path):
    response = seeds_client.open(path, method=method)
    assert response.status_code == 405
    assert {"GET", "HEAD"} <= {name.strip() for name in response.headers["Allow"].split(",")}


# -- validators, HEAD, gzip, cache headers ---------------------------------------------


def test_etag_answers_304_without_a_body(seeds_client):
    first = seeds_client.get("/topics/ai.rss")
    etag = first.headers["ETag"]
    for sent in (etag, f'"something-else", {etag}', "*"):
        again = seeds_client.get("/topics/ai.rss", headers={"If-None-Match": sent})
        assert again.status_code == 304, sent
        assert again.data == b""
        assert again.headers["ETag"] == etag
        assert again.headers["Cache-Control"] == first.headers["Cache-Control"]
        assert again.headers["Vary"] == first.headers["Vary"]
    other = seeds_client.get("/topics/ai.rss", headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200
    assert other.data == first.data


def test_last_modified_is_the_newest_entry_and_answers_304(seeds_client):
    first = seeds_client.get("/providers/sky.atom")
    assert parse_date(first.headers["Last-Modified"]) == datetime(2020, 1, 24, 12, 54, tzinfo=UTC)
    since = {"If-Modified-Since": first.headers["Last-Modified"]}
    again = seeds_client.get("/providers/sky.atom", headers=since)
    assert again.status_code == 304
    assert again.data == b""
    older = http_date(datetime(2020, 1, 1, tzinfo=UTC))
    assert seeds_client.get("/providers/sky.atom", headers={"If-Modified-Since": older}).status_code == 200


@pytest.mark.parametrize("encoding", [None, "gzip"])
def test_head_has_the_headers_of_get_and_no_body(seeds_client, encoding):
    headers = {"Accept-Encoding": encoding} if encoding else {}
    get = seeds_client.get("/all.rss", headers=headers)
    head = seeds_client.head("/all.rss", headers=headers)
    assert head.status_code == 200
    assert head.data == b""
    for name in ("Content-Type", "Content-Length", "Content-Encoding", "ETag", "Last-Modified",
                 "Cache-Control", "Vary", "Surrogate-Key"):
        assert head.headers.get(name) == get.headers.get(name), name
    assert int(head.headers["Content-Length"]) == len(get.data)


def test_gzip_when_asked_with_vary(seeds_client):
    plain = seeds_client.get("/all.atom")
    packed = seeds_client.get("/all.atom", headers={"Accept-Encoding": "gzip, deflate"})
    assert plain.headers["Vary"] == packed.headers["Vary"] == "Accept-Encoding"
    assert "Content-Encoding" not in plain.headers
    assert packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.data) == plain.data
    assert packed.headers["ETag"] == plain.headers["ETag"][:-1] + '-gzip"'
    assert int(packed.headers["Content-Length"]) == len(packed.data)
    refused = seeds_client.get("/all.atom", headers={"Accept-Encoding": "gzip;q=0, identity"})
    assert "Content-Encoding" not in refused.headers
    assert refused.data == plain.data
    revalidated = seeds_client.get(
        "/all.atom", headers={"Accept-Encoding": "gzip", "If-None-Match": packed.headers["ETag"]}
    )
    assert revalidated.status_code == 304
    assert revalidated.headers["ETag"] == packed.headers["ETag"]


def test_surrogate_keys_name_the_feed_and_its_entries(make_app, write_article):
    """A CDN purges by key: each document's keys are its feed's and those
    of every entry it shows, an entry having the same key in every
    document; ``Cache-Tag`` is the same list, comma-separated."""
    write_article("a.md", title="A", provider={"name": "One"}, topics=["X"])
    write_article("b.md", title="B", provider={"name": "Two"}, topics=["X"],
                  publishedDateTime="2024-05-02T12:00:00Z")
    write_article("c.md", title="C", provider={"name": "Two"}, topics=["Y"],
                  publishedDateTime="2024-05-03T12:00:00Z")
    client = make_app(MAX_ITEMS=2).test_client()

    def keys(path):
        response = client.get(path)
        found = response.headers["Surrogate-Key"].split(" ")
        assert response.headers["Cache-Tag"].split(",") == found
        return found[0], set(found[1:])

    one, one_entries = keys("/providers/one.atom")
    two, two_entries = keys("/providers/two.rss")
    topic, topic_entries = keys("/topics/x.json")
    newest, newest_entries = keys("/all.atom")
    oldest, oldest_entries = keys("/all/archive/1.atom")
    assert (one, two, topic, newest, oldest) == (
        "feed:providers:one", "feed:providers:two", "feed:topics:x", "feed:all", "feed:all")
    assert len(one_entries) == 1 and len(two_entries) == 2 and not one_entries & two_entries
    assert topic_entries == one_entries | (two_entries & topic_entries) and len(topic_entries) == 2
    assert len(newest_entries) == 2 and newest_entries <= two_entries | topic_entries
    assert oldest_entries == one_entries
    assert newest_entries | oldest_entries == one_entries | two_entries


def test_no_response_ever_sets_a_cookie(make_app, seeds):
    configured = make_app(CONTENT_DIR=str(seeds), UNPUBLISHED=True).test_client()
    by_host = make_app(CONTENT_DIR=str(seeds), UNPUBLISHED=True, BASE_URL=None).test_client()
    etag = configured.get("/all.atom").headers["ETag"]
    responses = [
        configured.get("/all.atom"),
        configured.get("/all.atom", headers={"Accept-Encoding": "gzip"}),
        configured.get("/all.atom", headers={"If-None-Match": etag}),
        configured.head("/"),
        configured.get("/nope.rss"),
        configured.post("/all.atom"),
        configured.get("/healthz"),
        by_host.get("/all.atom"),
        by_host.get("/all.atom", headers={"Host": "evil.example"}),
    ]
    assert [r.status_code for r in responses] == [200, 200, 304, 200, 404, 405, 200, 200, 400]
    for response in responses:
        assert "Set-Cookie" not in response.headers, response


# -- hosts and forwarded headers --------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "base"),
    [
        ("localhost", "http://localhost"),
        ("localhost:8080", "http://localhost:8080"),
        ("127.0.0.1", "http://127.0.0.1"),
        ("evil.example", None),
        ("localhost.evil.example", None),
        ("-", None),
        ("localhost/x", None),
    ],
)
def test_without_a_base_url_only_trusted_hosts_are_answered(make_app, seeds, host, base):
    client = make_app(CONTENT_DIR=str(seeds), UNPUBLISHED=True, BASE_URL=None).test_client()
    response = client.get("/all.atom", headers={"Host": host})
    if base is None:
        assert response.status_code == 400
        assert client.get("/nope.atom", headers={"Host": host}).status_code == 400
        return
    assert response.status_code == 200
    assert response.headers["Vary"] == "Accept-Encoding, Host"
    feed = feedparser.parse(response.data).feed
    assert feed.id == f"{base}/all.atom"
    assert all(link.href.startswith(base + "/") for link in feed.links)


def test_trusted_hosts_are_configurable(make_app, seeds):
    client = make_app(CONTENT_DIR=str(seeds), BASE_URL=None, TRUSTED_HOSTS=["feeds.internal"]).test_client()
    opml = client.get("/feeds.opml", headers={"Host": "feeds.internal"})
    assert opml.status_code == 200
    urls = lxml.etree.fromstring(opml.data).xpath("//outline/@xmlUrl")
    assert urls and all(url.startswith("http://feeds.internal/") for url in urls)
    assert client.get("/feeds.opml", headers={"Host": "localhost"}).status_code == 400


@pytest.mark.parametrize("host", ["[::1]", "[::1]:8000"])
def test_the_ipv6_loopback_is_trusted_by_default(make_app, seeds, host):
    client = make_app(CONTENT_DIR=str(seeds), UNPUBLISHED=True, BASE_URL=None).test_client()
    response = client.get("/all.atom", headers={"Host": host})
    assert response.status_code == 200
    assert feedparser.parse(response.data).feed.id == f"http://{host}/all.atom"


@pytest.mark.parametrize(
    "headers",
    [{"Host": "evil.example"}, {"Host": "-"},
     {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "http"}],
)
def test_with_a_base_url_any_host_gets_the_configured_bytes(seeds_client, headers):
    expected = seeds_client.get("/all.atom")
    response = seeds_client.get("/all.atom", headers=headers)
    assert response.status_code == 200
    assert response.data == expected.data
    assert response.headers["ETag"] == expected.headers["ETag"]
    assert response.headers["Vary"] == "Accept-Encoding"
    assert feedparser.parse(response.data).feed.id == f"{BASE_URL}/all.atom"


def test_forwarded_headers_only_count_when_the_operator_says_so(make_app, seeds):
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "public.example"}
    config = {"CONTENT_DIR": str(seeds), "UNPUBLISHED": True, "BASE_URL": None}
    plain = make_app(**config).test_client()
    assert plain.get("/all.atom", headers=forwarded).data == plain.get("/all.atom").data
    feed = feedparser.parse(plain.get("/all.atom", headers=forwarded).data).feed
    assert feed.id == "http://localhost/all.atom"
    proxied = make_app(**config, PROXY_FIX=1, TRUSTED_HOSTS=["public.example"]).test_client()
    assert feedparser.parse(proxied.get("/all.atom", headers=forwarded).data).feed.id == (
        "https://public.example/all.atom"
    )


# -- /healthz -----------------------------------------------------------------------


def test_healthz_reports_the_content(make_app, content_dir, write_article):
    related = {"title": "Also shown", "sourceUrl": "https://other.example/x",
               "publishedDateTime": "2024-05-01T10:00:00Z", "provider": {"name": "Other"}}
    write_article("a.md", title="Shown", related=[related])
    write_article("draft.md", title="Draft", published=False)
    later = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    write_article("later.md", title="Later", publishedDateTime=later)
    (content_dir / "broken\nname.md").write_text("---\ntitle: [unclosed\n---\n")
    before = datetime.now(UTC)
    response = make_app().test_client().get("/healthz")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["status"] == "ok" and body["reason"] is None and body["refresh_error"] is None
    assert (body["files"], body["entries"], body["withheld"], body["scheduled"]) == (4, 2, 1, 1)
    assert body["feeds"] == 6  # all, stories, topics/ai, topics/ai/stories, providers/example-news and /other
    assert isinstance(body["version"], int) and body["version"] >= 1
    assert before <= datetime.fromisoformat(body["last_refresh"]) <= datetime.now(UTC)
    # The raw name, not the escaped one `check` prints.
    assert [(p["path"], p["severity"]) for p in body["problems"]] == [("broken\nname.md", "error")]


# -- rendering once --------------------------------------------------------------------


@pytest.mark.parametrize("base_url", [BASE_URL, None], ids=["configured", "by-host"])
def test_each_document_is_rendered_once_per_content_version(make_app, write_article, renders, base_url):
    write_article("a.md", title="First")
    app = make_app(BASE_URL=base_url)
    client = app.test_client()

    def fetch_all_forms():
        etag = client.get("/all.atom").headers["ETag"]
        for _ in range(3):
            assert client.get("/all.atom").status_code == 200
            assert client.get("/all.atom", headers={"Accept-Encoding": "gzip"}).status_code == 200
            assert client.head("/all.atom").status_code == 200
            assert client.get("/all.atom", headers={"If-None-Match": etag}).status_code == 304

    fetch_all_forms()
    assert renders.count(("all", None, "atom")) == 1
    write_article("a.md", title="First, edited")
    assert reload(app)
    fetch_all_forms()
    assert titles(client) == ["First, edited"]
    assert renders.count(("all", None, "atom")) == 2


def test_unchanged_documents_are_not_rendered_again_after_a_reload(make_app, write_article, renders):
    write_article("a.md", title="A", provider={"name": "One"}, topics=["X"])
    write_article("b.md", title="B", provider={"name": "Two"}, topics=["Y"])
    app = make_app()
    client = app.test_client()
    for path in ("/providers/one.rss", "/providers/two.rss", "/topics/x.atom"):
        assert client.get(path).status_code == 200
    renders.clear()

    write_article("b.md", title="B2", provider={"name": "Two"}, topics=["Y"])
    assert reload(app)
    assert titles(client, "/providers/two.rss") == ["B2"]
    assert titles(client, "/providers/one.rss") == ["A"]
    assert titles(client, "/topics/x.atom") == ["A"]
    rendered = {key for key, _, _ in renders}
    assert {"providers/two", "topics/y", "all"} <= rendered
    assert not rendered & {"providers/one", "topics/x", "topics/x/stories"}


# -- live reload -----------------------------------------------------------------------


def test_reload_picks_up_added_edited_broken_and_deleted_files(make_app, content_dir, write_article, caplog):
    caplog.set_level(logging.INFO, logger="feedpub")
    write_article("a.md", title="First")
    app = make_app()
    client = app.test_client()
    assert titles(client) == ["First"]

    caplog.clear()
    write_article("b.md", title="Second", publishedDateTime="2024-05-02T10:00:00Z")
    assert reload(app)
    assert titles(client) == ["Second", "First"]
    assert "1 files parsed again" in caplog.text  # only the new file

    write_article("a.md", title="First, edited")
    assert reload(app)
    assert titles(client) == ["Second", "First, edited"]

    (content_dir / "b.md").write_text("---\ntitle: [unclosed\n---\n")
    assert reload(app)
    assert titles(client) == ["First, edited"]
    problems = client.get("/healthz").get_json()["problems"]
    assert [(p["path"], p["severity"]) for p in problems] == [("b.md", "error")]

    (content_dir / "a.md").unlink()
    assert reload(app)
    assert titles(client) == []
    assert client.get("/all.rss").status_code == 200
    assert not reload(app)  # nothing changed since


def test_the_watcher_reloads_without_a_request_driving_it(make_app, write_article):
    write_article("a.md", title="Old")
    app = make_app(RELOAD_INTERVAL=0.2)
    live = app.extensions["feedpub"]
    live.start()
    client = app.test_client()
    assert titles(client) == ["Old"]
    version = live.version

    write_article("new.md", title="Fresh", publishedDateTime="2024-05-02T10:00:00Z")
    eventually(lambda: live.version > version, timeout=10)
    assert titles(client) == ["Fresh", "Old"]


def test_the_watcher_follows_a_content_folder_replaced_at_its_path(make_app, tmp_path):
    """A deployment swaps a symlink to a new release, or renames a new
    folder into place: the watcher notices that another folder is at the
    path, serves it, and watches it (not the old one) from then on."""

    def release(name: str, title: str) -> Path:
        folder = tmp_path / name
        folder.mkdir()
        (folder / "a.md").write_text(article_text("a.md", title=title))
        return folder

    site = tmp_path / "site"
    site.symlink_to(release("one", "Release one"))
    app = make_app(CONTENT_DIR=str(site), RELOAD_INTERVAL=0.2)
    live = app.extensions["feedpub"]
    live.start()
    client = app.test_client()
    assert titles(client) == ["Release one"]
    swap = tmp_path / "site.new"
    swap.symlink_to(release("two", "Release two"))
    os.replace(swap, site)
    eventually(lambda: titles(client) == ["Release two"], timeout=10)
    (tmp_path / "two" / "a.md").write_text((tmp_path / "two" / "a.md").read_text().replace("two", "2"))
    eventually(lambda: titles(client) == ["Release 2"], timeout=10)


def test_a_vanished_content_folder_keeps_the_last_version_served_and_fails_healthz(
    make_app, content_dir, write_article
):
    write_article("a.md", title="Kept")
    app = make_app()
    client = app.test_client()
    assert titles(client) == ["Kept"]

    shutil.rmtree(content_dir)
    assert not reload(app)
    assert titles(client) == ["Kept"]
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "failing"
    assert "does not exist" in body["reason"]
    assert "does not exist" in body["refresh_error"]

    write_article("a.md", title="Back")
    assert reload(app)
    assert titles(client) == ["Back"]
    body = client.get("/healthz").get_json()
    assert (body["status"], body["reason"], body["refresh_error"]) == ("ok", None, None)


def test_a_content_folder_missing_at_start_fails_healthz_until_it_exists(make_app, tmp_path):
    folder = tmp_path / "not-yet"
    app = make_app(CONTENT_DIR=str(folder))
    client = app.test_client()
    response = client.get("/healthz")
    assert response.status_code == 503
    assert str(folder) in response.get_json()["reason"]

    folder.mkdir()
    (folder / "a.md").write_text("---\ntitle: Arrived\npublishedDateTime: 2024-05-01T12:00:00Z\n"
                                 "sourceUrl: https://news.example.com/a\nprovider: {name: P}\n---\n")
    assert reload(app)
    assert client.get("/healthz").status_code == 200
    assert titles(client) == ["Arrived"]


def test_a_request_during_a_refresh_is_answered_from_the_previous_version(
    make_app, write_article, monkeypatch
):
    """A request that renders a document while another thread's refresh is
    midway (inside its write transaction) is neither held up nor shown a
    half-written version."""
    write_article("a.md", title="Old", topics=["AI"])
    app = make_app(BASE_URL=None)  # documents are rendered on request
    client = app.test_client()
    assert titles(client) == ["Old"]
    during: list[tuple[int, bytes]] = []
    real_derive = catalog.derive

    def derive_and_meanwhile_request(*args, **kwargs):
        result = real_derive(*args, **kwargs)
        if not during:
            request = threading.Thread(target=lambda: during.append(_get(client, "/topics/ai.atom")))
            request.start()
            request.join(timeout=10)  # done at once, unless the refresh holds it off
            assert not request.is_alive(), "a request waited for the refresh to finish"
        return result

    monkeypatch.setattr(catalog, "derive", derive_and_meanwhile_request)
    write_article("a.md", title="New", topics=["AI"])
    assert reload(app)
    assert during, "the refresh no longer derives entries: adapt this test"
    status, body = during[0]
    assert status == 200
    assert [entry.title for entry in feedparser.parse(body).entries] == ["Old"]
    assert titles(client, "/topics/ai.atom") == ["New"]
    assert json.loads(client.get("/topics/ai.json").data)["items"][0]["title"] == "New"


def test_a_refresh_is_served_at_once_by_the_process_that_made_it(make_app, write_article):
    write_article("a.md", title="Old")
    app = make_app()
    client = app.test_client()
    assert titles(client) == ["Old"]
    write_article("a.md", title="New")
    assert app.extensions["feedpub"].refresh()
    assert titles(client) == ["New"]


def test_after_an_edit_the_server_renders_only_the_edited_entry(
    make_app, write_article, build, read_tree, tmp_path, content_dir, rendered_entries
):
    """The other entries of the feeds it is in are copied from the bytes the
    store kept, and every feed is served with the bytes a build writes."""
    for number in range(8):
        write_article(f"n{number}.md", title=f"Story {number}", topics=[f"Topic {number % 3}"],
                      publishedDateTime=f"2024-05-0{1 + number}T12:00:00Z")
    app = make_app()
    client = app.test_client()
    rendered_entries.clear()
    write_article("n3.md", title="Story 3, corrected", topics=["Topic 0"],
                  publishedDateTime="2024-05-04T12:00:00Z")

    assert app.extensions["feedpub"].refresh()

    edited = {entry for entry, _ in rendered_entries}
    assert "https://news.example.com/n3" in edited
    assert all(entry == "https://news.example.com/n3" or entry.startswith("tag:") for entry in edited)
    build(content_dir)
    built = read_tree(tmp_path / "public")
    for path in ("/all.atom", "/all.rss", "/all.json", "/all.html", "/topics/topic-0.atom", "/stories.json"):
        assert client.get(path).data == built[path], path


def test_a_build_sharing_the_servers_store_leaves_it_the_bytes_it_serves(
    make_app, write_article, build, content_dir, rendered_entries
):
    """A build of the same folder and base URL uses the server's store; the
    documents whose bytes did not change stay ready to serve, not rendered
    again on the next request."""
    write_article("a.md", title="One")
    make_app()  # renders what readers poll into the store
    build(content_dir)
    rendered_entries.clear()

    client = make_app().test_client()  # a worker starting on that store
    assert titles(client) == ["One"]
    assert rendered_entries == []


def _get(client, path):
    response = client.get(path)
    return response.status_code, response.data
