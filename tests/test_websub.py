"""WebSub (issue 13, items 3 and 4): with ``hubs`` in ``feedpub.toml``, every
feed advertises its hubs and itself, and feedpub pings the hubs for exactly
the feed documents whose bytes changed: after ``feedpub build --ping``, and
after a server's refresh, once across all its workers. A hub that is down
or failing fails nothing and delays nothing.

The hub is `tests._servers.Hub`, on 127.0.0.1, recording each ping's
``hub.url``.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from _servers import Hub
from _servers import eventually
from _servers import free_port
from _servers import start_gunicorn
from _servers import stop
from click.testing import Result
from lxml import etree

from feedpub import settings as settings_module
from feedpub.site import Pipeline

BASE_URL = "https://feeds.example.org"
ATOM = "{http://www.w3.org/2005/Atom}"
FEED_FORMATS = ("rss", "atom", "json")
#: The feeds of `two_stories`: article A's (topic Alpha, provider Prov A)
#: and B's (topic Beta, provider Prov B).
A_FEEDS = ["all", "stories", "topics/alpha", "topics/alpha/stories", "providers/prov-a"]
B_FEEDS = ["topics/beta", "topics/beta/stories", "providers/prov-b"]


def documents(keys: list[str]) -> set[str]:
    """The subscription documents (what readers poll, what hubs are pinged
    for) of the feeds `keys`."""
    return {f"/{key}.{fmt}" for key in keys for fmt in FEED_FORMATS}


@pytest.fixture(autouse=True)
def _hubs_take_bursts(monkeypatch: pytest.MonkeyPatch) -> None:
    """`Hub` listens with socketserver's backlog of 5 connections: feedpub
    pings feeds in parallel, and connections beyond the backlog would wait
    for the kernel's one-second SYN retry, slowing the tests (not feedpub)."""
    monkeypatch.setattr(ThreadingHTTPServer, "request_queue_size", 128)


@pytest.fixture(scope="module")
def _working_hub() -> Iterator[Hub]:
    """One hub for the module's tests: stopping one takes half a second."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ThreadingHTTPServer, "request_queue_size", 128)
        hub = Hub().start()
    yield hub
    hub.stop()


@pytest.fixture
def hub(_working_hub: Hub) -> Hub:
    """A hub answering 204, with no pings recorded yet."""
    _working_hub.pings.clear()
    return _working_hub


def configure_hubs(content: Path, *hubs: str) -> None:
    (content / "feedpub.toml").write_text(f"hubs = {json.dumps(list(hubs))}\n", encoding="utf-8")


def write_a(write_article: Callable[..., Path], excerpt: str = "A first") -> None:
    write_article("a.md", sourceUrl="https://a.example/story", title="Story A", excerpt=excerpt,
                  publishedDateTime="2024-05-02T12:00:00Z", topics=["Alpha"],
                  provider={"name": "Prov A", "domain": "a.example"})


@pytest.fixture
def two_stories(content_dir: Path, write_article: Callable[..., Path]) -> Path:
    """Two articles sharing no feed but ``all`` and ``stories``."""
    write_a(write_article)
    write_article("b.md", sourceUrl="https://b.example/story", title="Story B",
                  publishedDateTime="2024-05-01T12:00:00Z", topics=["Beta"],
                  provider={"name": "Prov B", "domain": "b.example"})
    return content_dir


def feed_documents(tree: dict[str, bytes]) -> dict[str, bytes]:
    """The RSS, Atom and JSON documents of a built tree, archives included."""
    return {path: body for path, body in tree.items() if path.rpartition(".")[2] in FEED_FORMATS}


def advertised(path: str, body: bytes) -> tuple[list[str], list[str]]:
    """(hub URLs, self URLs) a feed document advertises."""
    if path.endswith(".json"):
        document = json.loads(body)
        assert all(hub["type"] == "WebSub" for hub in document.get("hubs", []))
        return [hub["url"] for hub in document.get("hubs", [])], [document["feed_url"]]
    root = etree.fromstring(body)
    container = root if path.endswith(".atom") else root.find("channel")
    links = container.findall(f"{ATOM}link")
    return ([link.get("href") for link in links if link.get("rel") == "hub"],
            [link.get("href") for link in links if link.get("rel") == "self"])


@pytest.mark.parametrize("hubs", [(), ("https://hub.example/", "https://pubsubhubbub.example/hub")],
                         ids=["no-hubs", "two-hubs"])
def test_every_feed_advertises_its_hubs_and_itself(
    hubs: tuple[str, ...], two_stories: Path, build: Callable[..., Result], make_app: Callable[..., Any],
    read_tree: Callable[[Path], dict[str, bytes]], tmp_path: Path,
) -> None:
    """In the document (Atom link, RSS atom:link, JSON Feed ``hubs``) and in
    the HTTP Link header; archive pages included (--max-items 1)."""
    configure_hubs(two_stories, *hubs)
    build(two_stories, "--max-items", "1")
    built = feed_documents(read_tree(tmp_path / "public"))
    assert "/all/archive/1.atom" in built and "/all.rss" in built and "/stories.json" in built
    client = make_app(MAX_ITEMS=1).test_client()
    for path, body in built.items():
        assert advertised(path, body) == (list(hubs), [BASE_URL + path]), path
        response = client.get(path)
        assert response.data == body
        expected = ", ".join([*(f'<{hub}>; rel="hub"' for hub in hubs), f'<{BASE_URL}{path}>; rel="self"'])
        assert response.headers.get("Link") == (expected if hubs else None), path


def test_build_ping_pings_once_for_each_feed_whose_bytes_changed(
    two_stories: Path, write_article: Callable[..., Path], build: Callable[..., Result], hub: Hub,
    read_tree: Callable[[Path], dict[str, bytes]], tmp_path: Path,
) -> None:
    configure_hubs(two_stories, hub.url)
    out = tmp_path / "public"
    first = build(two_stories, "--ping")
    assert Counter(hub.pings) == Counter(BASE_URL + path for path in documents(A_FEEDS + B_FEEDS))
    assert "pinged 1 hub for 24 changed feeds" in first.output

    hub.pings.clear()
    before = feed_documents(read_tree(out))
    write_a(write_article, excerpt="A edited")
    edited = build(two_stories, "--ping")
    after = feed_documents(read_tree(out))
    changed = {path for path in after if after[path] != before.get(path) and "/archive/" not in path}
    assert changed == documents(A_FEEDS)
    assert Counter(hub.pings) == Counter(BASE_URL + path for path in changed)
    assert "pinged 1 hub for 15 changed feeds" in edited.output

    hub.pings.clear()
    again = build(two_stories, "--ping")
    assert hub.pings == []
    assert "pinged 1 hub for 0 changed feeds" in again.output


def test_build_ping_without_hubs_pings_nothing(
    two_stories: Path, build: Callable[..., Result],
) -> None:
    result = build(two_stories, "--ping")
    assert "no WebSub hubs configured" in result.output


def test_hubs_that_are_down_or_failing_fail_no_build(
    two_stories: Path, build: Callable[..., Result], hub: Hub, tmp_path: Path,
) -> None:
    """One hub refuses connections, one answers 500: the build succeeds,
    the working hub gets every ping, the summary lists each failure, and the
    retries take seconds, not minutes."""
    failing = Hub(status=500).start()
    down = f"http://127.0.0.1:{free_port()}/"
    try:
        configure_hubs(two_stories, down, failing.url, hub.url)
        started = time.monotonic()
        result = build(two_stories, "--ping")
        elapsed = time.monotonic() - started
    finally:
        failing.stop()
    assert result.exit_code == 0
    assert (tmp_path / "public" / "all.atom").is_file()
    expected = Counter(BASE_URL + path for path in documents(A_FEEDS + B_FEEDS))
    assert Counter(hub.pings) == expected
    assert len(failing.pings) >= len(expected)  # tried (and retried)
    assert "pinged 3 hubs for 24 changed feeds; 48 pings failed" in result.output
    assert f"WebSub ping of {down} for {BASE_URL}/all.atom failed: cannot reach the hub" in result.output
    assert f"WebSub ping of {failing.url} for {BASE_URL}/all.atom failed: the hub answered 500" in (
        result.output
    )
    assert elapsed < 30, elapsed


# -- in a server ------------------------------------------------------------------


def test_a_failing_hub_delays_no_ping_to_another_hub(
    two_stories: Path, make_app: Callable[..., Any], hub: Hub,
) -> None:
    """The server pings in the background; a hub answering 500 is retried
    with backoff, which must not hold up the pings to a working hub. A
    stopped server drops the pings still queued and retries none."""
    failing = Hub(status=500).start()
    try:
        configure_hubs(two_stories, failing.url, hub.url)
        app = make_app()  # its first refresh renders every feed: 24 changed documents
        try:
            eventually(lambda: len(hub.pings) >= 24, timeout=1)
        finally:
            app.extensions["feedpub"].stop()
        tried = len(failing.pings)
        time.sleep(1.6)  # the first two retries come 0.5 s and 1.5 s after the first ping
        assert len(failing.pings) <= tried + 1, "pinged after the server stopped"  # one was under way
    finally:
        failing.stop()
    assert Counter(hub.pings) == Counter(BASE_URL + path for path in documents(A_FEEDS + B_FEEDS))


def test_two_workers_rendering_one_version_at_once_report_each_change_once(
    two_stories: Path, tmp_path: Path,
) -> None:
    """What every gunicorn worker does on starting: refresh (one at a time,
    under the store's lock), then render the documents readers poll; the
    paths it returns are the ones pinged. Two workers, one version: each
    changed document must be reported by one of them only."""
    settings = settings_module.load(
        {"content_dir": str(two_stories), "base_url": BASE_URL, "store": str(tmp_path / "site.sqlite3")}
    )
    workers = [Pipeline(settings), Pipeline(settings)]
    try:
        workers[0].refresh()
        start = threading.Barrier(len(workers))
        reported: list[list[str]] = [[] for _ in workers]

        def render(number: int) -> None:
            start.wait()
            reported[number] = workers[number].render_hot()

        threads = [threading.Thread(target=render, args=(number,)) for number in range(len(workers))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert documents(A_FEEDS + B_FEEDS) <= {*reported[0], *reported[1]}
        assert set(reported[0]) & set(reported[1]) == set()
    finally:
        for worker in workers:
            worker.close()


def serve(content: Path) -> Any:
    """gunicorn with two workers on `content`, for BASE_URL (its hubs come
    from the content folder's feedpub.toml)."""
    return start_gunicorn(content, workers=2, env={"FEEDPUB_BASE_URL": BASE_URL})


def test_gunicorn_pings_once_per_changed_feed_across_its_workers(
    two_stories: Path, write_article: Callable[..., Path], hub: Hub,
) -> None:
    configure_hubs(two_stories, hub.url)
    server = serve(two_stories)
    try:
        # Starting on a new store renders every feed, so each is pinged; at
        # times twice, as both workers may render them at once on starting
        # (test_two_workers_rendering_one_version_at_once_report_each_change_once):
        # only the edit's pings are counted.
        everything = {BASE_URL + path for path in documents(A_FEEDS + B_FEEDS)}
        eventually(lambda: set(hub.pings) == everything, timeout=10)
        time.sleep(0.5)
        status, headers, _ = server.request("/all.atom")
        assert status == 200
        assert headers["Link"] == f'<{hub.url}>; rel="hub", <{BASE_URL}/all.atom>; rel="self"'
        before = {path: server.request(path)[2] for path in documents(A_FEEDS + B_FEEDS)}

        hub.pings.clear()
        write_a(write_article, excerpt="A edited by hand")
        expected = Counter(BASE_URL + path for path in documents(A_FEEDS))
        eventually(lambda: len(hub.pings) >= len(expected), timeout=10)
        time.sleep(0.5)  # a second worker pinging too would have done so by now
        assert Counter(hub.pings) == expected

        def changed() -> set[str]:
            return {path for path, body in before.items() if server.request(path)[2] != body}

        eventually(lambda: changed() == documents(A_FEEDS), timeout=5)
    finally:
        stop(server)


def test_gunicorn_with_a_failing_hub_delays_no_response(
    two_stories: Path, write_article: Callable[..., Path],
) -> None:
    """While the pings to a hub answering 500 are retried in the background
    (with backoff, seconds long), every response comes at once, an edit is
    served, and each failure is a line of the server's log."""
    failing = Hub(status=500).start()
    configure_hubs(two_stories, failing.url)
    try:
        server = serve(two_stories)
    except BaseException:
        failing.stop()
        raise
    try:
        eventually(lambda: failing.pings, timeout=10)
        write_a(write_article, excerpt="A edited while the hub fails")
        slowest = 0.0

        def served_and_logged() -> bool:
            nonlocal slowest
            for path in ("/all.atom", "/topics/beta.json", "/healthz"):
                started = time.monotonic()
                status, _, _ = server.request(path)
                slowest = max(slowest, time.monotonic() - started)
                assert status == 200, (path, status)
            edited = b"A edited while the hub fails" in server.request("/all.atom")[2]
            return edited and "WebSub ping of " in server.output()

        eventually(served_and_logged, timeout=20)
        assert slowest < 2, slowest  # a response waiting for a ping would take seconds
        assert f"WebSub ping of {failing.url} for {BASE_URL}/" in server.output()
        assert "failed: the hub answered 500" in server.output()
    finally:
        stop(server)
        failing.stop()
