"""The Flask app through its test client: routes, headers, reloading."""

from __future__ import annotations

import gzip
import time
from datetime import UTC
from datetime import datetime

import feedparser
import pytest
from werkzeug.http import http_date
from werkzeug.http import parse_date

from feedpub.web import create_app

SEEDS_PATHS = [
    "/",
    "/feeds.opml",
    "/all.rss",
    "/all.atom",
    "/topics/ai.rss",
    "/topics/ai.atom",
    "/topics/computer-vision.rss",
    "/topics/computer-vision.atom",
    "/providers/abc.rss",
    "/providers/abc.atom",
    "/providers/sky.rss",
    "/providers/techcrunch.atom",
    "/providers/independent.rss",
]


@pytest.fixture
def seeds_app(seeds_dir):
    return create_app({"CONTENT_DIR": str(seeds_dir), "UNPUBLISHED": True, "RELOAD_INTERVAL": 0})


@pytest.fixture
def seeds_client(seeds_app):
    return seeds_app.test_client()


def test_factory_layers_defaults_environment_and_test_config(monkeypatch, seeds_dir):
    assert create_app({"CONTENT_DIR": str(seeds_dir), "RELOAD_INTERVAL": 0}).config["CACHE_MAX_AGE"] == 300
    monkeypatch.setenv("FEEDPUB_CACHE_MAX_AGE", "60")
    monkeypatch.setenv("FEEDPUB_CONTENT_DIR", str(seeds_dir))
    monkeypatch.setenv("FEEDPUB_RELOAD_INTERVAL", "0")
    assert create_app().config["CACHE_MAX_AGE"] == 60
    assert create_app({"CACHE_MAX_AGE": 5}).config["CACHE_MAX_AGE"] == 5


def test_environment_flag_publishes_drafts(monkeypatch, seeds_dir):
    monkeypatch.setenv("FEEDPUB_CONTENT_DIR", str(seeds_dir))
    monkeypatch.setenv("FEEDPUB_RELOAD_INTERVAL", "0")
    assert len(feedparser.parse(create_app().test_client().get("/all.atom").data).entries) == 0
    monkeypatch.setenv("FEEDPUB_UNPUBLISHED", "1")
    assert len(feedparser.parse(create_app().test_client().get("/all.atom").data).entries) == 4


@pytest.mark.parametrize(
    "setting",
    [
        {"BASE_URL": "ftp://example.org"},
        {"MAX_ITEMS": 0},
        {"UNPUBLISHED": "maybe"},
        {"CONTENT_DIR": "/no/such/dir"},
    ],
)
def test_bad_settings_fail_at_start_with_a_clear_error(setting, seeds_dir):
    from feedpub.errors import ConfigError

    with pytest.raises(ConfigError):
        create_app({"CONTENT_DIR": str(seeds_dir), "RELOAD_INTERVAL": 0, **setting})


@pytest.mark.parametrize("path", SEEDS_PATHS)
def test_every_path_of_the_url_space_answers(seeds_client, path):
    response = seeds_client.get(path)
    assert response.status_code == 200
    assert response.headers["Content-Type"].endswith("; charset=utf-8")
    assert response.headers["Cache-Control"] == "public, max-age=300"
    assert response.headers["ETag"].startswith('"')


@pytest.mark.parametrize(
    ("path", "media_type"),
    [
        ("/all.rss", "application/rss+xml"),
        ("/all.atom", "application/atom+xml"),
        ("/feeds.opml", "text/x-opml"),
        ("/", "text/html"),
        ("/index.html", "text/html"),
    ],
)
def test_content_types(seeds_client, path, media_type):
    assert seeds_client.get(path).mimetype == media_type


def test_served_bytes_equal_the_built_files(seeds_dir, tmp_path, runner):
    from feedpub.cli import cli

    out = tmp_path / "public"
    result = runner.invoke(
        cli,
        ["build", str(seeds_dir), "--out", str(out), "--base-url", "http://feeds.test:8080", "--unpublished"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0
    client = create_app(
        {"CONTENT_DIR": str(seeds_dir), "UNPUBLISHED": True, "RELOAD_INTERVAL": 0}
    ).test_client()
    files = sorted(p for p in out.rglob("*") if p.is_file())
    assert len(files) == 16
    for file in files:
        path = "/" + file.relative_to(out).as_posix()
        served = client.get(path, base_url="http://feeds.test:8080")
        assert served.status_code == 200, path
        assert served.data == file.read_bytes(), path


def test_self_links_follow_the_request_host_unless_configured(seeds_dir):
    app = create_app({"CONTENT_DIR": str(seeds_dir), "UNPUBLISHED": True, "RELOAD_INTERVAL": 0})
    feed = feedparser.parse(app.test_client().get("/all.atom", base_url="http://a.test").data)
    assert feed.feed.id == "http://a.test/all.atom"
    app = create_app(
        {
            "CONTENT_DIR": str(seeds_dir),
            "UNPUBLISHED": True,
            "RELOAD_INTERVAL": 0,
            "BASE_URL": "https://f.example/",
        }
    )
    feed = feedparser.parse(app.test_client().get("/all.atom", base_url="http://a.test").data)
    assert feed.feed.id == "https://f.example/all.atom"


def test_forwarded_headers_only_count_when_the_operator_says_so(seeds_dir):
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "public.example"}
    config = {"CONTENT_DIR": str(seeds_dir), "UNPUBLISHED": True, "RELOAD_INTERVAL": 0}
    plain = create_app(config).test_client().get("/all.atom", headers=forwarded)
    assert feedparser.parse(plain.data).feed.id == "http://localhost/all.atom"
    proxied = create_app({**config, "PROXY_FIX": 1}).test_client().get("/all.atom", headers=forwarded)
    assert feedparser.parse(proxied.data).feed.id == "https://public.example/all.atom"


def test_etag_answers_304_without_a_body(seeds_client):
    first = seeds_client.get("/topics/ai.rss")
    again = seeds_client.get("/topics/ai.rss", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == first.headers["ETag"]
    other = seeds_client.get("/topics/ai.rss", headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200


def test_last_modified_is_the_newest_entry_and_answers_304(seeds_client):
    first = seeds_client.get("/providers/sky.atom")
    assert parse_date(first.headers["Last-Modified"]) == datetime(2020, 1, 24, 12, 54, tzinfo=UTC)
    again = seeds_client.get(
        "/providers/sky.atom", headers={"If-Modified-Since": first.headers["Last-Modified"]}
    )
    assert again.status_code == 304
    assert again.data == b""
    older = http_date(datetime(2020, 1, 1, tzinfo=UTC))
    assert seeds_client.get("/providers/sky.atom", headers={"If-Modified-Since": older}).status_code == 200


def test_head_has_the_headers_of_get_and_no_body(seeds_client):
    get = seeds_client.get("/all.rss")
    head = seeds_client.head("/all.rss")
    assert head.status_code == 200
    assert head.data == b""
    for name in ("Content-Type", "Content-Length", "ETag", "Last-Modified", "Cache-Control"):
        assert head.headers[name] == get.headers[name]


def test_gzip_when_asked_with_vary(seeds_client):
    plain = seeds_client.get("/all.atom")
    packed = seeds_client.get("/all.atom", headers={"Accept-Encoding": "gzip, deflate"})
    assert plain.headers["Vary"] == packed.headers["Vary"] == "Accept-Encoding"
    assert "Content-Encoding" not in plain.headers
    assert packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.data) == plain.data
    assert packed.headers["ETag"] != plain.headers["ETag"]
    refused = seeds_client.get("/all.atom", headers={"Accept-Encoding": "gzip;q=0"})
    assert "Content-Encoding" not in refused.headers
    revalidated = seeds_client.get(
        "/all.atom", headers={"Accept-Encoding": "gzip", "If-None-Match": packed.headers["ETag"]}
    )
    assert revalidated.status_code == 304


def test_unknown_feed_is_a_404_listing_the_feeds(seeds_client):
    response = seeds_client.get("/topics/nope.rss")
    assert response.status_code == 404
    assert b"/topics/ai.rss" in response.data
    assert b"/providers/abc.atom" in response.data
    assert seeds_client.get("/topics/ai.json").status_code == 404
    assert seeds_client.get("/../etc/passwd").status_code == 404


def test_other_methods_are_405(seeds_client):
    for method in ("post", "put", "delete"):
        assert getattr(seeds_client, method)("/all.rss").status_code == 405


def test_cache_max_age_is_configurable(seeds_dir):
    app = create_app({"CONTENT_DIR": str(seeds_dir), "RELOAD_INTERVAL": 0, "CACHE_MAX_AGE": 42})
    assert app.test_client().get("/all.rss").headers["Cache-Control"] == "public, max-age=42"


def test_healthz_reports_the_content(seeds_client):
    response = seeds_client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["entries"] == 4
    assert body["feeds"] == 7
    assert body["withheld"] == 0
    assert body["problems"] == []
    assert datetime.fromisoformat(body["last_reload"]) <= datetime.now(UTC)


def test_each_document_is_rendered_once_per_content_version(seeds_app, monkeypatch):
    from feedpub import documents

    calls = []
    real_render = documents.render
    monkeypatch.setattr(documents, "render", lambda *a: calls.append(a[1]) or real_render(*a))
    client = seeds_app.test_client()
    for _ in range(3):
        assert client.get("/all.atom").status_code == 200
        assert client.get("/all.atom", headers={"Accept-Encoding": "gzip"}).status_code == 200
    assert calls == ["/all.atom"]


def test_reload_picks_up_added_edited_broken_and_deleted_files(content_dir, write_article):
    root = content_dir
    write_article("a.md", title="First")
    app = create_app({"CONTENT_DIR": str(root), "RELOAD_INTERVAL": 0})
    live = app.extensions["feedpub"]
    client = app.test_client()

    def titles():
        return [entry.title for entry in feedparser.parse(client.get("/all.atom").data).entries]

    assert titles() == ["First"]
    write_article("b.md", title="Second", publishedDateTime="2024-05-02T10:00:00Z")
    assert live.refresh()
    assert titles() == ["Second", "First"]
    assert live._loader.parsed_last == 1  # only the new file was parsed

    write_article("a.md", title="First, edited")
    assert live.refresh()
    assert titles() == ["Second", "First, edited"]

    (root / "b.md").write_text("---\ntitle: [unclosed\n---\n")
    assert live.refresh()
    assert titles() == ["First, edited"]
    problems = client.get("/healthz").get_json()["problems"]
    assert [(p["path"], p["severity"]) for p in problems] == [("b.md", "error")]
    assert client.get("/all.rss").status_code == 200

    (root / "a.md").unlink()
    assert live.refresh()
    assert titles() == []
    assert not live.refresh()  # nothing changed since


def test_unchanged_feeds_are_not_rendered_again_after_a_reload(content_dir, write_article, monkeypatch):
    from feedpub import documents

    write_article("a.md", title="A", provider={"name": "One"}, topics=["X"])
    write_article("b.md", title="B", provider={"name": "Two"}, topics=["Y"])
    app = create_app({"CONTENT_DIR": str(content_dir), "RELOAD_INTERVAL": 0})
    client = app.test_client()
    for path in ("/providers/one.rss", "/providers/two.rss"):
        client.get(path)
    calls = []
    real_render = documents.render
    monkeypatch.setattr(documents, "render", lambda *a: calls.append(a[1]) or real_render(*a))
    write_article("b.md", title="B2", provider={"name": "Two"}, topics=["Y"])
    assert app.extensions["feedpub"].refresh()
    assert b"B2" in client.get("/providers/two.rss").data
    assert b"<title>A</title>" in client.get("/providers/one.rss").data
    assert calls == ["/providers/two.rss"]


def test_watcher_thread_reloads_without_a_request_driving_it(content_dir, write_article):
    app = create_app({"CONTENT_DIR": str(content_dir), "RELOAD_INTERVAL": 0.1})
    client = app.test_client()
    assert feedparser.parse(client.get("/all.atom").data).entries == []
    write_article("new.md", title="Fresh")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if feedparser.parse(client.get("/all.atom").data).entries:
            break
        time.sleep(0.05)
    assert [entry.title for entry in feedparser.parse(client.get("/all.atom").data).entries] == ["Fresh"]


def test_content_folder_vanishing_keeps_serving_the_last_version(content_dir, write_article):
    root = content_dir
    write_article("a.md", title="Kept")
    app = create_app({"CONTENT_DIR": str(root), "RELOAD_INTERVAL": 0})
    live = app.extensions["feedpub"]
    (root / "a.md").unlink()
    root.rmdir()
    assert not live.refresh()
    client = app.test_client()
    assert b"Kept" in client.get("/all.atom").data
    assert "does not exist" in client.get("/healthz").get_json()["reload_error"]


def test_many_hosts_do_not_grow_the_render_cache_without_bound(seeds_app):
    from feedpub.live import MAX_SITES

    client = seeds_app.test_client()
    for number in range(MAX_SITES * 3):
        assert client.get("/all.rss", base_url=f"http://host{number}.test").status_code == 200
    assert len(seeds_app.extensions["feedpub"].snapshot().rendered) == MAX_SITES
