"""``deploy/varnish.vcl``, run by a real Varnish (Debian's varnishd 7) in
front of a real gunicorn, the way an operator would copy it (only the
backend port changes, by exact replacement).

What feedpub's CDN-ready headers promise, checked through the cache:
documents are cached (a second request is a hit, with ``Age``) for
``max-age``; readers' ``If-None-Match`` is answered from the cache; an
expired copy is served stale within ``stale-while-revalidate`` while Varnish
revalidates it with feedpub's ETag (a 304), or revalidated while the reader
waits once that has passed; while feedpub is down, the copy is served for
``stale-if-error``; a ``BAN`` by surrogate key, from localhost only, evicts
exactly the documents whose ``Surrogate-Key`` names it; no ``Set-Cookie``.
"""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import subprocess
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from _servers import Server
from _servers import conditional_answers
from _servers import eventually
from _servers import free_port
from _servers import start_gunicorn
from _servers import stop
from click.testing import CliRunner

from feedpub.cli import cli
from feedpub.site import entry_key

REPO = Path(__file__).resolve().parent.parent
VCL = REPO / "deploy" / "varnish.vcl"
CC_COMMAND = "exec gcc -O0 -Wall -Werror -Wno-error=unused-result -pthread -fpic -shared -Wl,-x -o %o %s"
BASE_URL = "https://feeds.example.org"

SKY_URL = "https://news.sky.com/story/metropolitan-police-to-make-81-inaccurate-live-facial-recognition-operational-11916479"


@dataclass
class Varnish(Server):
    """A running varnishd (its `request` is the gunicorn server's)."""


def start_varnish(varnishd: str, folder: Path, backend: int) -> Varnish:
    """varnishd in the foreground on deploy/varnish.vcl, its backend on
    127.0.0.1:`backend`, its working folder in `folder`; once it answers."""
    text = VCL.read_text()
    assert text.count('.port = "8000";') == 1, "deploy/varnish.vcl: the backend's port line is gone"
    folder.mkdir(parents=True, exist_ok=True)
    vcl = folder / "feedpub.vcl"
    vcl.write_text(text.replace('.port = "8000";', f'.port = "{backend}";'))
    port = free_port()
    log = folder / "varnishd.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            # -j none: no jail, so that the workers need not drop to the
            # varnish user (who could not read tmp_path) when run as root.
            # cc_command: Debian's, without optimising (half the start-up).
            [varnishd, "-F", "-j", "none", "-n", str(folder / "work"), "-a", f"127.0.0.1:{port}",
             "-f", str(vcl), "-s", "malloc,32m", "-T", "none", "-p", f"cc_command={CC_COMMAND}"],
            stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
        )
    server = Varnish(port, process, log)

    def answers() -> bool | str:
        assert process.poll() is None, f"varnishd exited: {server.output()}"
        try:
            status, _, body = server.request("/healthz")
        except OSError as error:
            return not str(error)  # False, and why, in the failure message
        return status == 200 or not f"{status} {body[:300]!r} {server.output()}"

    try:
        eventually(answers, timeout=30, interval=0.1)
    except BaseException:
        stop(server)
        raise
    return server


def ban(server: Varnish, keys: str, source: str = "127.0.0.1") -> tuple[int, str]:
    """Status and reason of ``BAN`` with ``Surrogate-Key: keys``, sent from `source`."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10, source_address=(source, 0))
    try:
        connection.request("BAN", "/", headers={"Surrogate-Key": keys})
        response = connection.getresponse()
        response.read()
        return response.status, response.reason
    finally:
        connection.close()


def next_uncached(server: Varnish, path: str, timeout: float = 5) -> tuple[int, dict[str, str], bytes]:
    """The first answer to `path` that was not a fresh cache hit."""
    return eventually(lambda: (answer := server.request(path))[1]["X-Cache"] != "HIT" and answer,
                      timeout=timeout, interval=0.05)


@pytest.fixture
def varnishd(require_tool: Callable[[str], str]) -> str:
    return require_tool("varnishd")


def _gunicorn(content: Path, **settings: str) -> Server:
    """gunicorn (one worker) on `content` for BASE_URL, drafts shown,
    FEEDPUB_* `settings`, logging every request."""
    env = {"FEEDPUB_BASE_URL": BASE_URL, "FEEDPUB_UNPUBLISHED": "1",
           **{f"FEEDPUB_{key}": value for key, value in settings.items()}}
    return start_gunicorn(content, workers=1, env=env, args=("--access-logfile", "-"))


def _down(app: Server) -> None:
    """Stop gunicorn at once (SIGINT), as a crash would: a graceful stop
    waits for Varnish's idle keep-alive connections to close."""
    stop(app, signal.SIGINT)


@pytest.fixture
def gunicorn() -> Iterator[Callable[..., Server]]:
    """``gunicorn(content, **settings)``: a gunicorn of the test's own (see
    `_gunicorn`), stopped after the Varnish in front of it."""
    started: list[Server] = []

    def start(content: Path, **settings: str) -> Server:
        started.append(_gunicorn(content, **settings))
        return started[-1]

    yield start
    for app in started:
        _down(app)


@pytest.fixture(scope="module")
def seeds_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, list[str]]]:
    """One gunicorn on the seeds (default lifetimes: max-age 300) for the
    tests that only read, and every path of its URL space (as built)."""
    folder = tmp_path_factory.mktemp("varnish-seeds")
    with pytest.MonkeyPatch.context() as patch:
        for name in [name for name in os.environ if name.startswith("FEEDPUB_")]:
            patch.delenv(name)
        result = CliRunner().invoke(cli, ["build", str(REPO / "seeds"), "--out", str(folder / "public"),
                                          "--base-url", BASE_URL, "--unpublished", "--no-cache"])
        assert result.exit_code == 0, result.output
        public = folder / "public"
        paths = sorted("/" if file.name == "index.html" else "/" + file.relative_to(public).as_posix()
                       for file in public.rglob("*") if file.is_file())
        shutil.copytree(REPO / "seeds", folder / "content")
        app = _gunicorn(folder / "content")
    try:
        yield app, paths
    finally:
        _down(app)


@pytest.fixture
def cache(varnishd: str, tmp_path: Path, gunicorn: Callable[..., Server]
          ) -> Iterator[Callable[[Server], Varnish]]:
    """``cache(app)``: a fresh Varnish in front of `app`."""
    started: list[Varnish] = []

    def start(app: Server) -> Varnish:
        started.append(start_varnish(varnishd, tmp_path / f"varnish-{len(started)}", app.port))
        return started[-1]

    yield start
    for server in started:
        stop(server)


def test_a_second_request_is_a_hit_with_feedpubs_bytes_and_headers(
    cache: Callable[[Server], Varnish], seeds_app: tuple[Server, list[str]]
) -> None:
    """Varnish stores feedpub's gzip answer (it asks for gzip) and unzips it
    for readers that take none, giving those a weak form of its ETag."""
    app, paths = seeds_app
    server = cache(app)
    gzipped = {"Accept-Encoding": "gzip"}
    for path in ("/", "/feeds.opml", "/all.rss", "/topics/ai.atom", "/providers/sky.json", "/stories.html"):
        direct = app.request(path, headers=gzipped)
        status, first, body = server.request(path, headers=gzipped)
        assert (status, first["X-Cache"], body) == (200, "MISS", direct[2]), path
        for name in ("Content-Type", "Content-Encoding", "ETag", "Last-Modified", "Cache-Control", "Vary",
                     "Surrogate-Key", "Cache-Tag"):
            assert first[name] == direct[1][name], (path, name)
        assert "Set-Cookie" not in first and "Set-Cookie" not in direct[1], path

        # Cookies do not split the cache (feedpub reads none).
        status, second, again = server.request(path, headers={**gzipped, "Cookie": "session=reader-1"})
        assert (status, second["X-Cache"], again) == (200, "HIT", body), path
        assert int(second["Age"]) >= 0 and "Set-Cookie" not in second, path

        status, plain, plain_body = server.request(path)
        assert (status, plain["X-Cache"], plain_body) == (200, "HIT", app.request(path)[2]), path
        assert "Content-Encoding" not in plain and plain["ETag"] == "W/" + direct[1]["ETag"], path

        # Readers' own validators are answered from the cache.
        for headers in ({**gzipped, "If-None-Match": first["ETag"]}, {"If-None-Match": plain["ETag"]},
                        {"If-Modified-Since": first["Last-Modified"]}):
            status, cached, empty = server.request(path, headers=headers)
            assert (status, cached["X-Cache"], empty) == (304, "HIT", b""), (path, headers)
    assert conditional_answers(app, "/all.rss") == 0


def test_a_ban_by_surrogate_key_evicts_exactly_the_documents_naming_it(
    cache: Callable[[Server], Varnish], seeds_app: tuple[Server, list[str]]
) -> None:
    app, paths = seeds_app
    server = cache(app)
    keys = {path: set(app.request(path)[1]["Surrogate-Key"].split()) for path in paths}
    for path in paths:
        status, headers, _ = server.request(path)
        assert (status, headers["X-Cache"]) == (200, "MISS") and "Set-Cookie" not in headers, path
    assert {path for path in paths if server.request(path)[1]["X-Cache"] != "HIT"} == set()

    sky = f"entry:{entry_key(SKY_URL)}"  # the Sky item's key
    assert sky in keys["/providers/sky.atom"]
    assert ban(server, sky, source="127.0.0.2")[0] == 403  # purges come from localhost only
    assert ban(server, "entry:.*")[0] == 400  # keys, not expressions
    assert all(server.request(path)[1]["X-Cache"] == "HIT" for path in paths)

    assert ban(server, sky) == (200, "Banned")
    evicted = {path for path in paths if server.request(path)[1]["X-Cache"] == "MISS"}
    assert evicted == {path for path in paths if sky in keys[path]}
    # Every entry of the seed lists Sky as related coverage: every feed names it.
    assert {"/all.atom", "/topics/ai.json", "/providers/sky.html", "/feeds/high-quality.rss",
            "/providers/abc.atom", "/stories.atom"} <= evicted
    assert not evicted & {"/", "/feeds.opml"}

    # Several keys at once: every document naming any of them, whole
    # (feed:topics:ai is no prefix of feed:topics:ai:stories).
    assert ban(server, "feed:providers:abc feed:topics:ai") == (200, "Banned")
    evicted = {path for path in paths if server.request(path)[1]["X-Cache"] == "MISS"}
    assert evicted == {path for path in paths if keys[path] & {"feed:providers:abc", "feed:topics:ai"}}
    assert evicted == {f"/{key}.{format}" for key in ("providers/abc", "topics/ai")
                       for format in ("rss", "atom", "json", "html")}


def test_an_expired_copy_is_served_while_varnish_revalidates_it_with_the_etag(
    cache: Callable[[Server], Varnish], gunicorn: Callable[..., Server], copy_seeds: Callable[[], Path]
) -> None:
    """Within stale-while-revalidate: the stale copy at once, and one
    background request with If-None-Match, which feedpub answers 304."""
    app = gunicorn(copy_seeds(), CACHE_MAX_AGE="1", STALE_WHILE_REVALIDATE="30", STALE_IF_ERROR="0")
    server = cache(app)
    path = "/topics/ai.atom"
    status, first, body = server.request(path)
    assert (status, first["X-Cache"]) == (200, "MISS")
    assert server.request(path)[1]["X-Cache"] == "HIT"
    status, stale, again = next_uncached(server, path)
    assert (status, stale["X-Cache"], again) == (200, "STALE", body)
    assert int(stale["Age"]) >= 1
    eventually(lambda: conditional_answers(app, path) == 1, timeout=5)
    status, fresh, again = eventually(
        lambda: (answer := server.request(path))[1]["X-Cache"] == "HIT" and answer)
    assert (status, again, fresh["ETag"]) == (200, body, first["ETag"])


def test_past_stale_while_revalidate_the_reader_waits_and_while_feedpub_is_down_gets_the_stale_copy(
    cache: Callable[[Server], Varnish], gunicorn: Callable[..., Server], copy_seeds: Callable[[], Path]
) -> None:
    """stale-while-revalidate=0: an expired copy is revalidated (304) before
    it is served; stale-if-error alone lets Varnish serve it when feedpub
    does not answer, and only what it has a copy of."""
    app = gunicorn(copy_seeds(), CACHE_MAX_AGE="1", STALE_WHILE_REVALIDATE="0", STALE_IF_ERROR="3600")
    server = cache(app)
    path = "/all.json"
    status, first, body = server.request(path)
    assert (status, first["X-Cache"]) == (200, "MISS")
    status, revalidated, again = next_uncached(server, path)
    assert (status, revalidated["X-Cache"], again) == (200, "REVALIDATED", body)
    eventually(lambda: conditional_answers(app, path) == 1, timeout=5)
    assert server.request(path)[1]["X-Cache"] == "HIT"

    _down(app)
    status, stale, again = next_uncached(server, path)
    assert (status, stale["X-Cache"], again) == (200, "STALE", body)
    assert server.request("/all.atom")[0] == 503  # never cached: nothing to serve


def test_a_ban_by_the_edited_entrys_key_leaves_no_stale_document(
    cache: Callable[[Server], Varnish], gunicorn: Callable[..., Server], copy_seeds: Callable[[], Path],
    seeds_app: tuple[Server, list[str]]
) -> None:
    """The use of surrogate keys (issue 13): after an edit, a purge by the
    key of the entry edited hits every document the edit changed. Here the
    Sky item's title changes; every entry's content lists it as related
    coverage, so every feed changes, and every feed names its key."""
    _, paths = seeds_app
    content = copy_seeds()
    app = gunicorn(content)
    server = cache(app)
    before = {path: server.request(path)[2] for path in paths}
    sky = f"entry:{entry_key(SKY_URL)}"
    seed = next(content.glob("*.txt"))
    text = seed.read_text(encoding="utf-8")
    assert text.count('title: "Metropolitan Police') == 1
    seed.write_text(text.replace('title: "Metropolitan Police', 'title: "Edited Metropolitan Police'),
                    encoding="utf-8")
    eventually(lambda: b"Edited Metropolitan" in app.request("/providers/sky.atom")[2], timeout=10)
    assert ban(server, sky) == (200, "Banned")
    changed = {path for path in paths if app.request(path)[2] != before[path]}
    assert "/providers/sky.atom" in changed
    stale = {path for path in changed if server.request(path)[2] == before[path]}
    assert stale == set()
