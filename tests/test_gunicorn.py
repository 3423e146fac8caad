"""A real gunicorn (gthread, two workers unless said) on 127.0.0.1, spoken to
over real HTTP: what only a real server shows. Workers share one store and
converge on one version; a worker on a current store parses nothing;
``--preload`` and the importable factory work from any folder; gunicorn's
own trust of forwarded headers changes nothing; a file turning unreadable
or into a FIFO is reported as ``check`` reports it; edits under load never
give a 5xx or a broken body.

The Flask test client covers the rest of the HTTP behaviour
(``test_serve.py``).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.client
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections import Counter
from dataclasses import dataclass
from dataclasses import field
from email.utils import parsedate_to_datetime
from pathlib import Path

import feedparser
import lxml.etree
import lxml.html
import pytest
from _servers import REPO
from _servers import Server
from _servers import eventually
from _servers import start_gunicorn
from _servers import stop

from feedpub.cli import cli
from feedpub.store import Store

BASE_URL = "https://feeds.example.org"
MEDIA_TYPES = {
    "rss": "application/rss+xml; charset=utf-8",
    "atom": "application/atom+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "opml": "text/x-opml; charset=utf-8",
}
ARTICLE = """---
title: {title}
publishedDateTime: {published}
sourceUrl: https://news.example.com/{slug}
provider: {{name: {provider}}}
topics: [{topic}]
---
"""


def article(title: str, slug: str, published: str = "2024-05-01T12:00:00Z", provider: str = "Example News",
            topic: str = "AI") -> str:
    return ARTICLE.format(title=json.dumps(title), slug=slug, published=published, provider=provider,
                          topic=topic)


@contextlib.contextmanager
def _no_feedpub_environment():
    """For module-scoped servers, started before the autouse fixture that
    clears ``FEEDPUB_*`` for each test: the machine's settings must not
    reach them either."""
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("FEEDPUB_"):
                patch.delenv(name)
        yield


def titles(server: Server, path: str = "/all.atom", headers: dict[str, str] | None = None
           ) -> list[str] | None:
    """The entry titles of a feed; None if it did not answer 200."""
    status, _, body = server.request(path, headers=headers)
    if status != 200:
        return None
    return [entry.title for entry in feedparser.parse(body).entries]


def health(server: Server) -> tuple[int, dict]:
    status, _, body = server.request("/healthz")
    return status, json.loads(body)


def every_worker(server: Server, check, streak: int = 8, timeout: float = 10.0) -> None:
    """Wait until `check(server)` holds for `streak` requests in a row, each
    on a new connection, so that every worker has answered."""
    state = {"streak": 0, "last": None}

    def holds() -> bool:
        state["last"] = result = check(server)
        state["streak"] = state["streak"] + 1 if result else 0
        return state["streak"] >= streak

    try:
        eventually(holds, timeout=timeout, interval=0.02)
    except AssertionError:
        raise AssertionError(f"not on every worker within {timeout} s; last: {state['last']!r}") from None


@dataclass
class Served:
    """A module's server and the content folder it serves."""

    server: Server
    content: Path


# -- a server without a base URL: self links follow trusted hosts ---------------------


@pytest.fixture(scope="module")
def seeds_server(tmp_path_factory):
    """The seeds (drafts published, two entries a page, so that there are
    archive pages), served by ``gunicorn wsgi:app`` from the repository, as
    the README says, without a base URL."""
    root = tmp_path_factory.mktemp("seeds-served")
    content = root / "content"
    shutil.copytree(REPO / "seeds", content)
    env = {"FEEDPUB_UNPUBLISHED": "1", "FEEDPUB_MAX_ITEMS": "2"}
    with _no_feedpub_environment():
        server = start_gunicorn(content, env=env)
    yield Served(server, content)
    stop(server)


def test_serves_every_built_file_byte_for_byte(seeds_server, build, read_tree, tmp_path):
    server = seeds_server.server
    build(seeds_server.content, "--unpublished", "--max-items", "2", base_url=server.base_url)
    built = read_tree(tmp_path / "public")
    assert {"/all.json", "/all.html", "/all/archive/1.atom", "/stories.rss", "/feeds.opml"} <= built.keys()
    for path, body in built.items():
        status, headers, served = server.request(path)
        assert status == 200, path
        assert served == body, path
        kind = "html" if path == "/" else path.rpartition(".")[2]
        assert headers["Content-Type"] == MEDIA_TYPES[kind], path


def test_conditional_get_head_gzip_and_404_over_http(seeds_server):
    server = seeds_server.server
    status, headers, body = server.request("/topics/ai.atom")
    assert status == 200
    assert headers["Content-Type"] == "application/atom+xml; charset=utf-8"
    assert headers["Cache-Control"] == "public, max-age=300, stale-while-revalidate=60, stale-if-error=86400"
    assert headers["Vary"] == "Accept-Encoding, Host"
    assert len(feedparser.parse(body).entries) == 2
    assert parsedate_to_datetime(headers["Last-Modified"]) <= parsedate_to_datetime(headers["Date"])
    responses = [headers]

    for validator in ({"If-None-Match": headers["ETag"]}, {"If-Modified-Since": headers["Last-Modified"]}):
        status, again, body_304 = server.request("/topics/ai.atom", headers=validator)
        assert (status, body_304) == (304, b""), validator
        assert again["ETag"] == headers["ETag"]
        responses.append(again)

    status, head, head_body = server.request("/topics/ai.atom", method="HEAD")
    assert (status, head_body) == (200, b"")
    assert head["Content-Length"] == str(len(body))
    assert head["ETag"] == headers["ETag"]

    status, packed, packed_body = server.request("/topics/ai.atom", headers={"Accept-Encoding": "gzip"})
    assert status == 200
    assert packed["Content-Encoding"] == "gzip"
    assert packed["Vary"] == "Accept-Encoding, Host"
    assert gzip.decompress(packed_body) == body

    status, missing, missing_body = server.request("/topics/missing.atom")
    assert status == 404
    assert b"/topics/ai.atom" in missing_body
    status, refused, _ = server.request("/all.rss", method="POST")
    assert status == 405
    responses += [head, packed, missing, refused]
    assert not [r for r in responses if "Set-Cookie" in r]


@pytest.mark.parametrize("host", ["evil.example", "-", "localhost.evil.example", "127.0.0.1.nip.io"])
def test_without_a_base_url_an_untrusted_host_gets_400(seeds_server, host):
    server = seeds_server.server
    for path in ("/all.atom", "/feeds.opml", "/", "/nope.rss"):
        status, _, body = server.request(path, headers={"Host": host})
        assert status == 400, path
        assert f"://{host}".encode() not in body, path


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_without_a_base_url_a_trusted_host_is_the_base_of_self_links(seeds_server, host):
    server = seeds_server.server
    named = f"{host}:{server.port}"
    status, headers, body = server.request("/all.atom", headers={"Host": named})
    assert status == 200
    assert headers["Vary"] == "Accept-Encoding, Host"
    assert feedparser.parse(body).feed.id == f"http://{named}/all.atom"


@pytest.mark.parametrize(
    "forwarded",
    [
        {"X-Forwarded-Proto": "https"},
        {"X-Forwarded-Ssl": "on"},
        {"X-Forwarded-Protocol": "ssl"},
        {"X-Forwarded-Host": "evil.example", "X-Forwarded-Port": "443"},
        {"Forwarded": "for=203.0.113.9;proto=https;host=evil.example"},
        {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Prefix": "/evil"},
    ],
)
def test_without_proxy_fix_forwarded_headers_change_no_byte(seeds_server, forwarded):
    """gunicorn trusts ``X-Forwarded-Proto`` and friends from 127.0.0.1 by
    default (``--forwarded-allow-ips``): feedpub must not."""
    server = seeds_server.server
    for path in ("/all.atom", "/feeds.opml", "/", "/topics/ai/archive/1.json"):
        plain = server.request(path)
        status, headers, body = server.request(path, headers=forwarded)
        assert status == 200, path
        assert body == plain[2], path
        assert headers["ETag"] == plain[1]["ETag"], path


def test_with_proxy_fix_forwarded_headers_count(copy_seeds):
    env = {"FEEDPUB_UNPUBLISHED": "1", "FEEDPUB_PROXY_FIX": "1"}
    server = start_gunicorn(copy_seeds(), workers=1, env=env)
    try:
        own = f"127.0.0.1:{server.port}"
        assert feedparser.parse(server.request("/all.atom")[2]).feed.id == f"http://{own}/all.atom"
        for forwarded in ({"X-Forwarded-Proto": "https"}, {"X-Forwarded-Ssl": "on"}):
            assert feedparser.parse(server.request("/all.atom", headers=forwarded)[2]).feed.id == (
                f"https://{own}/all.atom"
            ), forwarded
    finally:
        stop(server)


# -- a server with a base URL, the factory from another folder, --preload --------------


@pytest.fixture(scope="module")
def configured_server(tmp_path_factory):
    """The seeds (a draft: withheld) and a published article, served for
    BASE_URL by ``gunicorn --preload 'feedpub.web:create_app()'`` run from
    a folder that is not the repository."""
    root = tmp_path_factory.mktemp("configured")
    content = root / "content"
    shutil.copytree(REPO / "seeds", content)
    (content / "present.md").write_text(article("Present day", "present-day", provider="Present News"))
    elsewhere = root / "elsewhere"
    elsewhere.mkdir()
    with _no_feedpub_environment():
        server = start_gunicorn(
            content, env={"FEEDPUB_BASE_URL": BASE_URL},
            app="feedpub.web:create_app()", cwd=elsewhere, args=("--preload",),
        )
    yield Served(server, content)
    stop(server)


def test_the_app_factory_serves_from_any_folder_with_preload(configured_server):
    server = configured_server.server
    assert not (Path(os.readlink(f"/proc/{server.process.pid}/cwd")) / "wsgi.py").exists()
    status, body = health(server)
    assert (status, body["status"], body["entries"], body["withheld"]) == (200, "ok", 1, 4)
    every_worker(server, lambda s: titles(s) == ["Present day"])
    assert "Traceback" not in server.output()


@pytest.mark.parametrize(
    "headers",
    [{"Host": "evil.example"}, {"Host": "-"}, {"Host": "localhost"},
     {"X-Forwarded-Proto": "http", "X-Forwarded-Host": "evil.example", "X-Forwarded-Ssl": "off"}],
)
def test_with_a_base_url_any_host_gets_the_configured_bytes(
    configured_server, build, read_tree, tmp_path, headers
):
    server = configured_server.server
    build(configured_server.content)
    built = read_tree(tmp_path / "public")
    for path, body in built.items():
        status, answered, served = server.request(path, headers=headers)
        assert status == 200, path
        assert served == body, path
        assert answered["Vary"] == "Accept-Encoding", path


# -- every worker on one store ------------------------------------------------------------


class _Sampler:
    """Threads asking /healthz over and over, each time on a new connection
    (so that every worker answers), recording when each request started
    and the store version it reported."""

    def __init__(self, server: Server, threads: int = 3) -> None:
        self.server = server
        self.samples: list[tuple[float, int, int]] = []
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def __enter__(self) -> _Sampler:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=15)

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                status, body = health(self.server)
            except Exception as exc:  # noqa: BLE001 - reported by the test
                with self._lock:
                    self.errors.append(f"{type(exc).__name__}: {exc}")
                continue
            with self._lock:
                self.samples.append((started, status, body["version"]))

    def since(self, moment: float) -> list[tuple[float, int, int]]:
        with self._lock:
            return [sample for sample in self.samples if sample[0] >= moment]


#: The reload interval of the convergence test: every worker must serve an
#: edit within it plus 0.5 s (issue 8).
CONVERGENCE_INTERVAL = 1.0


def test_every_worker_follows_the_content_folder_on_one_version(content_dir, runner):
    """The life of a content folder, followed by every worker without a
    restart, the watcher alone noticing: missing at start (503 with a
    reason), created, files added, edited, broken and turned into a FIFO,
    the folder vanishing (503, the last version still served) and coming
    back (200), a file deleted. Under concurrent requests, every /healthz
    request made later than the reload interval plus 0.5 s after an edit of
    a file in a watched folder reports the version every worker ends on
    (issue 8)."""

    def put(name: str, text: str) -> None:  # one change: an atomic replace
        temporary = content_dir / f".{name}.tmp"
        temporary.write_text(text)
        os.replace(temporary, content_dir / name)

    def create_folder() -> None:
        temporary = content_dir.with_name("content.tmp")
        temporary.mkdir()
        (temporary / "a.md").write_text(article("First", "a"))
        os.replace(temporary, content_dir)

    content_dir.rmdir()
    env = {"FEEDPUB_RELOAD_INTERVAL": str(CONVERGENCE_INTERVAL)}
    server = start_gunicorn(content_dir, env=env)
    lags = []
    try:
        status, body = health(server)
        assert status == 503
        assert str(content_dir) in body["reason"]
        with _Sampler(server) as sampler:

            def step(change, served, timed: bool = True) -> None:
                changed = time.monotonic()
                change()
                every_worker(server, served)
                settled = time.monotonic()
                eventually(lambda: len(sampler.since(settled)) >= 20, timeout=10)
                after = sampler.since(settled)
                versions = {version for _, _, version in after}
                assert len(versions) == 1, f"workers disagree after settling: {after}"
                stale = [started for started, _, version in sampler.since(changed) if version not in versions]
                if timed:
                    lags.append(max(stale, default=changed) - changed)

            # A folder that is not there is polled for, every reload interval.
            step(create_folder, lambda s: health(s)[0] == 200 and titles(s) == ["First"], timed=False)
            step(lambda: put("b.md", article("Second", "b", published="2024-05-02T10:00:00Z")),
                 lambda s: titles(s) == ["Second", "First"])
            step(lambda: put("a.md", article("First, edited", "a")),
                 lambda s: titles(s) == ["Second", "First, edited"])
            step(lambda: put("b.md", "---\ntitle: [broken\n---\n"),
                 lambda s: titles(s) == ["First, edited"] and "b.md" in _problem_paths(s))
            step(lambda: os.mkfifo(content_dir / "pipe.txt"), lambda s: "pipe.txt" in _problem_paths(s))
            problems = {p["path"]: p for p in health(server)[1]["problems"]}
            step(lambda: shutil.rmtree(content_dir), lambda s: health(s)[0] == 503, timed=False)
            assert "does not exist" in health(server)[1]["reason"]
            assert titles(server) == ["First, edited"]  # the last version, still served
            step(create_folder, lambda s: health(s)[0] == 200 and titles(s) == ["First"], timed=False)
            # Untimed: the watcher polls for a while after the folder came back.
            step(lambda: (content_dir / "a.md").unlink(), lambda s: titles(s) == [], timed=False)
            assert server.request("/all.rss")[0] == 200
        assert not sampler.errors, sampler.errors[:5]
    finally:
        stop(server)
    print(f"\nseconds from each edit to one version on every worker: {[round(lag, 2) for lag in lags]}")
    assert max(lags) <= CONVERGENCE_INTERVAL + 0.5, f"edit to one version, seconds: {lags}"
    assert problems["b.md"]["severity"] == "error"
    # The FIFO is refused with the message of `check` (which never opens it).
    os.mkfifo(content_dir / "pipe.txt")
    checked = runner.invoke(cli, ["check", str(content_dir)])
    assert f"{content_dir}/pipe.txt: {problems['pipe.txt']['message']}" in checked.output.splitlines()
    assert "Traceback" not in server.output()


def test_processes_opening_a_new_store_at_once_share_it(tmp_path):
    """What two gunicorn workers do when they start on a store that does not
    exist yet (once, about one start in four set the other's half-made store
    aside, and the two workers served different versions for good): here two
    threads, twenty times, for a result that does not depend on luck."""
    for trial in range(20):
        path = tmp_path / f"trial-{trial}" / "site.sqlite3"
        first, second = _open_at_once(path)
        try:
            with first.transaction():
                first.put("probe", trial)
            assert second.get("probe") == trial, f"trial {trial}: two stores"
            assert not list(path.parent.glob("*.broken*")), f"trial {trial}: a new store was set aside"
        finally:
            first.close()
            second.close()


def _open_at_once(path: Path) -> list[Store]:
    """Two stores at `path`, opened by two threads at the same moment."""
    start = threading.Barrier(2)
    opened: list[Store] = []

    def open_store() -> None:
        start.wait()
        opened.append(Store.open(path))

    threads = [threading.Thread(target=open_store) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return opened


def _problem_paths(server: Server) -> set[str]:
    return {problem["path"] for problem in health(server)[1]["problems"]}


def test_a_worker_started_on_a_current_store_serves_without_parsing(content_dir, tmp_path):
    """The second start's log says nothing was parsed, and an edit the store
    cannot know of proves it: the file's bytes change but not its signature
    (size, modification time, inode, mode), so only a server that parsed
    the folder again would serve them."""
    path = content_dir / "a.md"
    path.write_text(article("Alpha edition", "a"))
    env = {"FEEDPUB_STORE": str(tmp_path / "store" / "site.sqlite3")}
    first = start_gunicorn(content_dir, workers=1, env=env)
    try:
        version = health(first)[1]["version"]
        assert titles(first) == ["Alpha edition"]
    finally:
        stop(first)
    assert "1 files parsed again" in first.output()

    before = path.stat()
    with path.open("r+b") as handle:
        data = handle.read()
        handle.seek(0)
        handle.write(data.replace(b"Alpha", b"Bravo"))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns, after.st_ino, after.st_mode) == (
        before.st_size, before.st_mtime_ns, before.st_ino, before.st_mode)

    second = start_gunicorn(content_dir, env=env)
    try:
        every_worker(second, lambda s: health(s)[1]["version"] == version and titles(s) == ["Alpha edition"])
    finally:
        stop(second)
    assert "files parsed again" not in second.output()


def _lock_holder(lock: Path) -> int | None:
    """The pid holding the ``flock`` on `lock`, by the kernel's table."""
    device = os.stat(lock)
    inode = f":{device.st_ino}"
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if "->" not in fields and fields[1] == "FLOCK" and fields[5].endswith(inode):
            return int(fields[4])
    return None


def test_when_the_watching_worker_is_killed_a_waiting_worker_watches_at_once(content_dir, tmp_path):
    """The workers that do not watch wait for the watch lock in the kernel;
    SIGKILL of its holder (no clean-up of any kind) hands it to one of
    them, which refreshes and watches: the next edit reaches every worker
    without a restart. (A worker starts its threads on its first request:
    a preloaded app cannot start them before the fork.)"""
    (content_dir / "a.md").write_text(article("Before", "a"))
    store = tmp_path / "store" / "site.sqlite3"
    server = start_gunicorn(content_dir, env={"FEEDPUB_STORE": str(store), "FEEDPUB_RELOAD_INTERVAL": "1"})
    try:
        every_worker(server, lambda s: titles(s) == ["Before"])
        lock = Path(f"{store}.watch.lock")
        holder = eventually(lambda: lock.exists() and _lock_holder(lock))
        os.kill(holder, signal.SIGKILL)
        killed = time.monotonic()

        def successor_holds() -> int | None:
            server.request("/healthz")  # a worker that never answered has no threads yet
            pid = _lock_holder(lock)
            return pid if pid not in (holder, None) else None

        successor = eventually(successor_holds, timeout=10, interval=0.005)
        taken = time.monotonic() - killed
        (content_dir / "a.md").write_text(article("After", "a"))
        every_worker(server, lambda s: titles(s) == ["After"])
    finally:
        stop(server)
    print(f"\nseconds from the watcher's death to its successor {successor}: {taken:.3f}")
    assert "Traceback" not in server.output()


# -- a file that becomes unreadable to the server --------------------------------------

#: Imported by gunicorn's master (root) before its workers switch to nobody,
#: and by `check` before it does: this interpreter's standard library may
#: live where nobody cannot read (a pyenv under /root).
WARM_IMPORTS = "import encodings.idna, feedgen.feed, feedgen.version, feedpub.cli, feedpub.web, watchfiles\n"


@pytest.fixture
def nobody_folder():
    """A folder that the user nobody owns, outside ``tmp_path`` (whose
    parents only root may enter): (folder, uid, gid)."""
    if os.geteuid() != 0:
        pytest.skip("needs root: only a server running as another user can be refused a file "
                    "(root reads any file)")
    import grp
    import pwd

    try:
        uid, gid = pwd.getpwnam("nobody").pw_uid, grp.getgrnam("nogroup").gr_gid
    except KeyError:
        pytest.skip("no user nobody or group nogroup on this machine")
    folder = Path(tempfile.mkdtemp(prefix="feedpub-nobody-"))
    os.chmod(folder, 0o755)
    os.chown(folder, uid, gid)
    yield folder, uid, gid
    shutil.rmtree(folder)


def _check_as(uid: int, gid: int, content: Path) -> str:
    """What ``feedpub check --no-cache CONTENT`` prints, run as `uid`."""
    script = WARM_IMPORTS + textwrap.dedent(f"""
        import os, sys
        os.setgroups([])
        os.setgid({gid})
        os.setuid({uid})
        from feedpub.cli import cli
        cli(["check", sys.argv[1], "--no-cache"])
    """)
    result = subprocess.run([sys.executable, "-c", script, str(content)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 1 and " checked; " in result.stdout, result.stdout + result.stderr
    return result.stderr


def test_a_file_turning_unreadable_is_reported_as_check_reports_it_and_withdrawn(nobody_folder, tmp_path):
    folder, uid, gid = nobody_folder
    content = folder / "content"
    content.mkdir()
    (content / "a.md").write_text(article("Readable", "a"))
    (content / "b.md").write_text(article("Soon unreadable", "b", published="2024-05-02T10:00:00Z"))
    for path in (content, *content.iterdir()):
        os.chown(path, uid, gid)
    config = tmp_path / "gunicorn.conf.py"
    config.write_text(WARM_IMPORTS)
    server = start_gunicorn(
        content, env={"FEEDPUB_STORE": str(folder / "store" / "site.sqlite3")},
        args=("--user", "nobody", "--group", "nogroup", "-c", str(config)), log=tmp_path / "gunicorn.log",
    )
    try:
        assert titles(server) == ["Soon unreadable", "Readable"]
        (content / "b.md").chmod(0)
        every_worker(server, lambda s: titles(s) == ["Readable"] and "b.md" in _problem_paths(s))
        problem = next(p for p in health(server)[1]["problems"] if p["path"] == "b.md")
        assert f"{content}/b.md: {problem['message']}" in _check_as(uid, gid, content).splitlines()

        (content / "b.md").chmod(0o644)
        every_worker(server, lambda s: titles(s) == ["Soon unreadable", "Readable"] and not _problem_paths(s))
    finally:
        stop(server)
    assert "Traceback" not in server.output()


# -- under load, with edits ------------------------------------------------------------

#: How long the load test fetches while the content is edited.
LOAD_SECONDS = 2.5
#: Content files the editor keeps rewriting, breaking and deleting.
CHURN_FILES = 4
#: Byte limit of content files under load, so that "oversized" is cheap.
LOAD_MAX_FILE_SIZE = 4096
SECRET_ARTICLE = article("SECRET outside the content folder", "secret", provider="Secret Wire",
                         topic="Secret")


def _churn_article(index: int, title: str, rng: random.Random) -> bytes:
    topics = ["Churn", "Stable"] if rng.random() < 0.5 else ["Churn"]
    return (
        f"---\ntitle: {json.dumps(title, ensure_ascii=False)}\n"
        f"publishedDateTime: 2024-06-{1 + index:02d}T{rng.randrange(24):02d}:00:00+02:00\n"
        f"sourceUrl: https://churn.example.com/{index}?v={rng.randrange(3)}\n"
        f"provider:\n  name: Churn Wire\n  domain: churn.example.com\n"
        f"topics: {json.dumps(topics)}\n"
        f"excerpt: {json.dumps(rng.choice(['<p>tags & entities</p>', ']]> cdata', 'plain']))}\n"
        "---\nBody text.\n"
    ).encode()


_TITLES = ["Churn <b>bold</b> & co", "Ünïcödé 📰 churn", 'Churn "quoted"', "Churn ]]> &amp;", "plain"]
_EDITS = ["mend", "mend", "mend-atomic", "yaml", "garbage", "truncated", "payload", "oversized", "controls",
          "empty", "not-mapping", "bad-date", "bad-url", "symlink", "fifo", "delete", "folder"]


def _edit_once(path: Path, index: int, rng: random.Random, marker: Path, secret: Path) -> str:
    """One random edit of one content file; returns what it did."""
    if path.is_symlink() or (path.exists() and not path.is_file()):
        path.unlink()  # never write through a link, never block on a FIFO
    valid = _churn_article(index, f"{rng.choice(_TITLES)} {rng.randrange(10**6)}", rng)
    action = rng.choice(_EDITS)
    if action == "mend":
        path.write_bytes(valid)
    elif action == "mend-atomic":
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_bytes(valid)
        os.replace(temporary, path)
    elif action == "yaml":
        path.write_bytes(b"---\ntitle: [unclosed\npublishedDateTime: 2024\n---\n")
    elif action == "garbage":
        path.write_bytes(rng.randbytes(rng.randrange(1, 3000)))
    elif action == "truncated":
        path.write_bytes(valid[: rng.randrange(1, len(valid))])
    elif action == "payload":
        path.write_bytes(f'---\ntitle: !!python/object/apply:os.system ["touch {marker}"]\n---\n'.encode())
    elif action == "oversized":
        path.write_bytes(valid + b"x" * LOAD_MAX_FILE_SIZE)
    elif action == "controls":
        path.write_bytes(valid.replace(b'title: "', b'title: "\\0\\e\\x7f\\x85\\uFFFE\\x01 ', 1))
    elif action == "empty":
        path.write_bytes(b"")
    elif action == "not-mapping":
        path.write_bytes(b"---\n- a list\n- not fields\n---\n")
    elif action == "bad-date":
        path.write_bytes(valid.replace(b"publishedDateTime: 2024", b"publishedDateTime: yesterday 2024"))
    elif action == "bad-url":
        path.write_bytes(valid.replace(b"sourceUrl: https:", b"sourceUrl: javascript:"))
    elif action == "symlink":
        path.unlink(missing_ok=True)
        path.symlink_to(secret)
    elif action == "fifo":
        path.unlink(missing_ok=True)
        os.mkfifo(path)
    elif action == "delete":
        path.unlink(missing_ok=True)
    elif action == "folder":
        folder = path.parent / "sub"
        if folder.exists():
            shutil.rmtree(folder)
        else:
            folder.mkdir()
            (folder / "nested.md").write_bytes(_churn_article(index + 10, "Nested churn", rng))
    return action


@dataclass
class LoadReport:
    """What the load test saw."""

    requests: int = 0
    statuses: Counter = field(default_factory=Counter)
    edits: Counter = field(default_factory=Counter)
    #: Distinct bodies served for /all.atom: proof that edits were served.
    versions: int = 0
    #: Keep-alive connections the server had closed before a request was sent.
    reconnects: int = 0
    failures: list[str] = field(default_factory=list)

    def summary(self) -> str:
        statuses = ", ".join(f"{status}: {count}" for status, count in sorted(self.statuses.items()))
        return (f"{self.requests} requests ({statuses}), {sum(self.edits.values())} edits, "
                f"{self.versions} versions of /all.atom, {self.reconnects} reconnects, "
                f"{len(self.failures)} failures")


class _Checker:
    """Validates every response; remembers validators for conditional requests."""

    def __init__(self, stable: list[str], churning: list[str], report: LoadReport) -> None:
        self.stable, self.churning, self.report = stable, churning, report
        self.lock = threading.Lock()
        #: (path, gzip) → the last ETag and Last-Modified seen.
        self.validators: dict[tuple[str, bool], tuple[str, str | None]] = {}
        #: (path, ETag) → digest of the body: one ETag must mean one body.
        self.bodies: dict[tuple[str, str], str] = {}
        self.all_versions: set[str] = set()

    def request(self, rng: random.Random) -> tuple[str, str, dict[str, str]]:
        path = rng.choice(self.stable + self.churning + ["/healthz"])
        method = "HEAD" if rng.random() < 0.05 else "GET"
        zipped = rng.random() < 0.4
        headers = {"Accept-Encoding": "gzip"} if zipped else {}
        with self.lock:
            etag, modified = self.validators.get((path, zipped), (None, None))
        if etag and rng.random() < 0.4:
            headers["If-None-Match"] = etag
        elif modified and rng.random() < 0.2:
            headers["If-Modified-Since"] = modified
        return path, method, headers

    def check(self, path, method, sent, status, headers, body) -> str | None:  # noqa: ANN001
        """Why the response is wrong, or None."""
        if status >= 500:
            return f"{status} for {method} {path}: {body[:300]!r}"
        if "Set-Cookie" in headers:
            return f"{path}: Set-Cookie {headers['Set-Cookie']}"
        if status == 404:
            ok = path in self.churning and (method == "HEAD" or b"Not Found" in body)
            return None if ok else f"404 for a path that always exists: {path}"
        if status == 304:
            if body or not ("If-None-Match" in sent or "If-Modified-Since" in sent):
                return f"bad 304 for {path}: {sent} → {body[:100]!r}"
            return None
        if status != 200:
            return f"{status} for {method} {path}"
        if method == "HEAD":
            return None if not body and int(headers["Content-Length"]) > 0 else f"HEAD {path}: {headers}"
        if path == "/healthz":
            return None if json.loads(body)["status"] == "ok" else f"healthz: {body[:200]!r}"
        kind = "html" if path == "/" else path.rpartition(".")[2]
        if headers.get("Content-Type") != MEDIA_TYPES[kind]:
            return f"{path}: Content-Type {headers.get('Content-Type')}"
        if "stale-while-revalidate=" not in headers.get("Cache-Control", ""):
            return f"{path}: Cache-Control {headers.get('Cache-Control')}"
        etag = headers.get("ETag")
        if not etag:
            return f"{path}: no ETag"
        zipped = headers.get("Content-Encoding") == "gzip"
        if zipped != ("gzip" in sent.get("Accept-Encoding", "")):
            return f"{path}: Content-Encoding {headers.get('Content-Encoding')} for {sent}"
        if zipped:
            body = gzip.decompress(body)
        error = self.check_body(kind, path, body)
        if error:
            return error
        digest = hashlib.sha256(body).hexdigest()
        with self.lock:
            known = self.bodies.setdefault((path, etag), digest)
            self.validators[(path, zipped)] = (etag, headers.get("Last-Modified"))
            if path == "/all.atom":
                self.all_versions.add(digest)
        return None if known == digest else f"{path}: ETag {etag} served with two different bodies"

    @staticmethod
    def check_body(kind: str, path: str, body: bytes) -> str | None:
        if b"SECRET" in body:
            return f"{path}: the file outside the content folder was published"
        if kind == "html":
            lxml.html.document_fromstring(body)
            return None if body.rstrip().endswith(b"</html>") else f"{path}: incomplete HTML"
        if kind == "json":
            document = json.loads(body)
            ok = (document["version"] == "https://jsonfeed.org/version/1.1"
                  and isinstance(document["items"], list))
            return None if ok else f"{path}: not a JSON Feed 1.1"
        root = lxml.etree.fromstring(body)
        expected = {"rss": "rss", "atom": "{http://www.w3.org/2005/Atom}feed", "opml": "opml"}
        if root.tag != expected[kind]:
            return f"{path}: root element {root.tag}"
        if kind in ("rss", "atom"):
            parsed = feedparser.parse(body)
            if parsed.bozo:
                return f"{path}: feedparser: {parsed.bozo_exception}"
        return None


def _fetch(server: Server, checker: _Checker, deadline: float, seed: float) -> None:
    rng = random.Random(seed)
    report = checker.report
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    fresh = True
    try:
        while time.monotonic() < deadline:
            path, method, sent = checker.request(rng)
            try:
                connection.request(method, path, headers=sent)
                response = connection.getresponse()
                status, headers, body = response.status, dict(response.getheaders()), response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                connection.close()
                if fresh:
                    raise
                with checker.lock:  # an idle keep-alive connection closed: retry once
                    report.reconnects += 1
                fresh = True
                continue
            fresh = response.will_close
            if fresh:
                connection.close()
            try:
                error = checker.check(path, method, sent, status, headers, body)
            except Exception as exc:  # noqa: BLE001 - a body that does not parse
                error = f"{path}: {type(exc).__name__}: {exc}"
            with checker.lock:
                report.requests += 1
                report.statuses[status] += 1
                if error:
                    report.failures.append(error)
    except Exception as exc:  # noqa: BLE001 - reported, not lost in a thread
        with checker.lock:
            report.failures.append(f"client: {type(exc).__name__}: {exc}")
    finally:
        connection.close()


def _edit(churn: Path, deadline: float, seed: float, marker: Path, secret: Path, report: LoadReport) -> None:
    rng = random.Random(seed)
    try:
        while time.monotonic() < deadline:
            index = rng.randrange(CHURN_FILES)
            report.edits[_edit_once(churn / f"c{index}.md", index, rng, marker, secret)] += 1
            time.sleep(rng.uniform(0, 0.03))
    except Exception as exc:  # noqa: BLE001
        report.failures.append(f"editor: {type(exc).__name__}: {exc}")


def _every_path(server: Server) -> list[str]:
    """The index, the OPML list and every form of every feed it lists."""
    status, _, body = server.request("/feeds.opml")
    assert status == 200
    feeds_ = [url.removeprefix(server.base_url).removesuffix(".rss")
              for url in lxml.etree.fromstring(body).xpath("//outline/@xmlUrl")]
    forms = ("rss", "atom", "json", "html")
    return ["/", "/feeds.opml"] + sorted(f"{feed}.{form}" for feed in feeds_ for form in forms)


def test_under_load_and_edits_gunicorn_never_fails(content_dir, write_article):
    """Four clients fetch every document (conditional, gzip, HEAD) from two
    workers while the content is created, broken, mended and deleted: no
    5xx, no malformed body, one body per ETag, and the last edit reaches
    every worker."""
    seed = random.randrange(1 << 32)
    rng = random.Random(seed)
    for index in range(3):
        write_article(f"stable-{index}.md", title=f"Stable {index}", topics=["Stable", f"Topic {index}"],
                      provider={"name": "Stable News"})
    churn = content_dir / "churn"
    churn.mkdir()
    for index in range(CHURN_FILES):
        (churn / f"c{index}.md").write_bytes(_churn_article(index, f"Start {index}", rng))
    outside = content_dir.parent / "outside"
    outside.mkdir()
    secret = outside / "secret.md"
    secret.write_text(SECRET_ARTICLE)
    marker = content_dir.parent / "pwned"

    env = {"FEEDPUB_RELOAD_INTERVAL": "0.2", "FEEDPUB_MAX_FILE_SIZE": str(LOAD_MAX_FILE_SIZE)}
    server = start_gunicorn(content_dir, env=env)
    report = LoadReport()
    try:
        paths = _every_path(server)
        churning = [path for path in paths if "churn" in path]
        checker = _Checker([path for path in paths if path not in churning], churning, report)
        assert "/topics/stable.json" in checker.stable and "/providers/churn-wire.html" in churning
        deadline = time.monotonic() + LOAD_SECONDS
        threads = [threading.Thread(target=_fetch, args=(server, checker, deadline, rng.random()))
                   for _ in range(4)]
        editor = (churn, deadline, rng.random(), marker, secret, report)
        threads.append(threading.Thread(target=_edit, args=editor))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        report.versions = len(checker.all_versions)

        # Mend every file; then every worker must serve that version.
        shutil.rmtree(churn / "sub", ignore_errors=True)
        final = []
        for index in range(CHURN_FILES):
            path = churn / f"c{index}.md"
            path.unlink(missing_ok=True)
            path.write_bytes(_churn_article(index, f"Final {index}", rng))
            final.append(f"Final {index}")
        every_worker(server, lambda s: sorted(t for t in titles(s) or [] if t.startswith("Final")) == final,
                     streak=10)
    finally:
        stop(server)
    log = server.output()
    for sign in ("Traceback", "refresh failed", "CRITICAL", "WORKER TIMEOUT", "was sent", "terminated"):
        if sign in log:
            report.failures.append(f"gunicorn log has {sign!r}: {log[-3000:]}")
    if marker.exists():
        report.failures.append("a YAML payload ran")
    print(f"\nunder load and edits (seed {seed}): {report.summary()}; edits: {dict(report.edits)}")
    assert not report.failures, f"seed {seed}: {report.summary()}:\n" + "\n".join(report.failures[:20])
    assert report.requests > 100, report.summary()
    assert report.versions >= 2, report.summary()
    assert report.statuses[304] > 0 and report.statuses[200] > 0, report.summary()
