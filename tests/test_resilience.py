"""Containment and resilience (issue 4, items 4 and 6).

- YAML is only ever safe-loaded: a Python tag never runs, in check, build or
  the server;
- symbolic links that lead outside the content folder are refused, naming
  the file; a link to a file inside it works;
- nothing is ever written (or removed) outside ``--out``;
- a build killed with SIGKILL leaves every file complete, old or new, and
  the next build removes its temporary files;
- a real gunicorn with several workers, fetched from concurrently while
  content files are created, broken, mended and deleted, never answers 5xx
  or a malformed response.

The server helpers come from ``test_server`` (pytest puts ``tests/`` on
``sys.path``); ``bench/load_edits.py`` runs `run_load` for longer.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import http.client
import json
import os
import random
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

import feedparser
import lxml.etree
import lxml.html
import pytest
from test_server import Server
from test_server import start_gunicorn

from feedpub import catalog as catalogs
from feedpub.cli import cli
from feedpub.live import LiveCatalog
from feedpub.model import Site
from feedpub.web import create_app

BASE_URL = "https://feeds.example.org"
TEMP_PREFIX = ".feedpub-"

#: A valid article that must never be published: it lives outside the content
#: folder, so it only appears if a symbolic link was followed.
SECRET_TITLE = "SECRET outside the content folder"
SECRET_ARTICLE = f"""---
title: {SECRET_TITLE}
publishedDateTime: 2024-05-01T12:00:00Z
sourceUrl: https://secret.example.com/leak
provider:
  name: Secret Wire
topics: [Secret]
---
"""


@pytest.fixture(autouse=True)
def _cache_in_tmp_path(tmp_path, monkeypatch) -> Path:
    """`feedpub build` keeps a cache in ``$XDG_CACHE_HOME/feedpub``: keep it
    in the test's own folder, never in the home folder."""
    cache = tmp_path / "xdg-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    return cache


def _payloads(marker: Path) -> dict[str, str]:
    """Front matters whose Python tags would create `marker` if constructed."""
    command = f"touch {marker}"
    return {
        "apply-title.md": f'---\ntitle: !!python/object/apply:os.system ["{command}"]\n---\n',
        "apply-top.md": f'---\n!!python/object/apply:subprocess.call [[touch, "{marker}"]]\n---\n',
        "new.md": f'---\ntitle: x\nprovider: !!python/object/new:os.system ["{command}"]\n---\n',
        "name.md": "---\ntitle: !!python/name:os.system\n---\n",
        "module.md": "---\ntitle: !!python/module:os\n---\n",
        "related.md": (
            "---\ntitle: Related payload\npublishedDateTime: 2024-05-01T12:00:00Z\n"
            "sourceUrl: https://news.example.com/related-payload\nprovider: {name: P}\n"
            f'related:\n  - !!python/object/apply:os.system ["{command}"]\n---\n'
        ),
        "long-tag.md": (
            f'---\ntitle: !<tag:yaml.org,2002:python/object/apply:os.system> ["{command}"]\n---\n'
        ),
    }


def _build(runner, content: Path, out: Path, *options: str):
    return runner.invoke(cli, ["build", str(content), "--out", str(out), "--base-url", BASE_URL, *options])


def _files(root: Path) -> dict[str, bytes]:
    """Every regular file below `root` (not following links), by relative path."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in root.rglob("*")
        if path.is_file() and not path.is_symlink()
    }


# -- YAML is only ever safe-loaded -----------------------------------------------


def test_yaml_python_tags_never_run_in_check_build_or_serve(tmp_path, content_dir, write_article, runner):
    marker = tmp_path / "pwned"
    for name, text in _payloads(marker).items():
        (content_dir / name).write_text(text)
    write_article("good.md", title="Good article")

    checked = runner.invoke(cli, ["check", str(content_dir)])
    assert checked.exit_code == 1, checked.output
    built = _build(runner, content_dir, tmp_path / "out")
    assert built.exit_code == 0, built.output
    client = create_app({"CONTENT_DIR": str(content_dir), "RELOAD_INTERVAL": 0}).test_client()
    served = client.get("/all.atom")
    problems = {problem["path"] for problem in client.get("/healthz").get_json()["problems"]}

    assert not marker.exists()
    for name in _payloads(marker):
        assert f"{name}:" in checked.output
        assert f"{name}:" in built.output
        assert name in problems
    assert "Traceback" not in checked.output + built.output
    titles = [entry.title for entry in feedparser.parse(served.data).entries]
    assert titles == ["Good article"]
    assert titles == [e.title for e in feedparser.parse((tmp_path / "out/all.atom").read_bytes()).entries]


# -- symbolic links ---------------------------------------------------------------


def test_symlinks_out_of_the_content_folder_are_refused_and_named(
    tmp_path, content_dir, write_article, runner
):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.md").write_text(SECRET_ARTICLE)
    write_article(".hidden/inside-target.md", title="Reached through a link inside")
    write_article("plain.md", title="Plain article")

    links = {
        "leak.md": outside / "secret.md",  # absolute, to a valid article outside
        "relative.md": Path("../outside/secret.md"),
        "chain.md": Path("leak.md"),  # a link inside that leads to a link out
        "deep/up.md": Path("../../outside/secret.md"),
        "etc.txt": Path("/etc/passwd"),
        "hostname.md": Path("/etc/hostname"),
        "outside-folder.md": outside,  # a folder, named like an article
    }
    for name, target in links.items():
        (content_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (content_dir / name).symlink_to(target)
    (content_dir / "linked-folder").symlink_to(outside, target_is_directory=True)
    (content_dir / "inside.md").symlink_to(".hidden/inside-target.md")

    checked = runner.invoke(cli, ["check", str(content_dir)])
    assert checked.exit_code == 1
    out = tmp_path / "out"
    built = _build(runner, content_dir, out)
    assert built.exit_code == 0, built.output
    client = create_app({"CONTENT_DIR": str(content_dir), "RELOAD_INTERVAL": 0}).test_client()
    healthz = client.get("/healthz").get_json()

    for output in (checked.output, built.output):
        lines = output.splitlines()
        for name in links:
            named = [line for line in lines if f"/{name}:" in line]
            assert named and all("outside" in line for line in named), (name, output)
        # A symbolic link to a folder is not followed: nothing below it is read.
        assert "linked-folder" not in output
        assert "Traceback" not in output
    assert {p["path"] for p in healthz["problems"]} == set(links)

    published = sorted(e.title for e in feedparser.parse((out / "all.atom").read_bytes()).entries)
    assert published == ["Plain article", "Reached through a link inside"]
    served = sorted(e.title for e in feedparser.parse(client.get("/all.atom").data).entries)
    assert served == published
    for relpath, body in _files(out).items():
        assert b"SECRET" not in body and b"root:x:" not in body, relpath
    assert not (out / "topics/secret.rss").exists()


# -- nothing is written outside --out ---------------------------------------------


def _tree(root: Path, *skip: Path) -> dict[str, tuple]:
    """Everything below `root` but `skip`: kind, mode, mtime and bytes."""
    state: dict[str, tuple] = {}
    for folder, dirs, names in os.walk(root):  # does not follow links
        dirs[:] = [d for d in dirs if Path(folder, d) not in skip]
        for name in dirs + names:
            path = Path(folder, name)
            if path in skip:
                continue
            info = path.lstat()
            if path.is_symlink():
                state[str(path)] = ("link", os.readlink(path))
            elif path.is_dir():
                state[str(path)] = ("dir", info.st_mode)
            else:
                state[str(path)] = ("file", info.st_mode, info.st_mtime_ns, path.read_bytes())
    return state


def _temp_dir_entries() -> set[str]:
    return {name for name in os.listdir(tempfile.gettempdir()) if name.startswith(TEMP_PREFIX)}


def test_build_writes_nothing_outside_out(tmp_path, content_dir, write_article, runner, _cache_in_tmp_path):
    """Nothing but `out` and the build cache changes (``--no-cache``: nothing
    but `out`), whatever the topic and provider names."""
    hostile = [
        "../../escape",
        "/etc/passwd",
        "..",
        ".",
        "a/b/../c",
        "~root",
        "C:\\Windows",
        "%2e%2e%2f",
    ]
    write_article("a.md", title="One", topics=hostile, provider={"name": "../../../outside"})
    write_article("b.md", title="Two", topics=["AI", "../AI"], provider={"name": "/"})
    (tmp_path / "victim.rss").write_text("untouched")
    out = tmp_path / "site" / "out"
    out.parent.mkdir()
    temp_before = _temp_dir_entries()

    for step in range(4):
        no_cache = step % 2 == 1
        skip = (out,) if no_cache else (out, _cache_in_tmp_path)
        before = _tree(tmp_path, *skip)
        result = _build(runner, content_dir, out, *(["--no-cache"] if no_cache else []))
        assert result.exit_code == 0, result.output
        assert _tree(tmp_path, *skip) == before, f"build {step}"
        if step == 0:  # then remove a topic, so that stale feeds are removed
            write_article("a.md", title="One", topics=["AI"], provider={"name": "../../../outside"})
        elif step == 2:
            (content_dir / "a.md").unlink()

    assert _temp_dir_entries() == temp_before
    real_out = out.resolve()
    written = [path for path in out.rglob("*") if path.is_file()]
    assert len(written) >= 4
    assert all(path.resolve().is_relative_to(real_out) for path in written)


@pytest.mark.parametrize(
    ("link", "topics"),
    [("topics", []), ("topics", ["AI"]), ("all.rss", ["AI"])],
    ids=["folder-stale-removal", "folder-writing", "feed-file"],
)
def test_links_planted_in_out_are_never_written_through(
    tmp_path, content_dir, write_article, runner, link, topics, _cache_in_tmp_path
):
    """An output folder whose ``topics`` is a link to another folder, or whose
    ``all.rss`` is a link to another file: the target must not change, whether
    feeds are written into the folder or stale ones removed from it."""
    write_article("a.md", title="One", topics=topics)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for name in ("precious.rss", "precious.atom", f"{TEMP_PREFIX}precious.rss.x", "ai.rss"):
        (elsewhere / name).write_text("keep me")
    out = tmp_path / "out"
    out.mkdir()
    (out / link).symlink_to(elsewhere if link == "topics" else elsewhere / "precious.rss")
    before = _tree(tmp_path, out, _cache_in_tmp_path)

    result = _build(runner, content_dir, out)

    assert _tree(tmp_path, out, _cache_in_tmp_path) == before, result.output
    assert "Traceback" not in result.output
    if result.exit_code:
        assert "outside" in result.output


def test_temporary_files_of_a_killed_build_are_removed(tmp_path, content_dir, write_article, runner):
    write_article("a.md", title="One", topics=["AI"])
    out = tmp_path / "out"
    assert _build(runner, content_dir, out).exit_code == 0
    built = _files(out)
    leftovers = [
        out / f"{TEMP_PREFIX}all.rss.k2j3h4",
        out / f"{TEMP_PREFIX}index.html.zz",
        out / "topics" / f"{TEMP_PREFIX}ai.atom.abc",
        out / "providers" / f"{TEMP_PREFIX}example-news.rss.0",
    ]
    for path in leftovers:
        path.write_bytes(b'<?xml version="1.0"?><rss><chann')
    theirs = [out / "robots.txt", out / ".htaccess", out / "topics" / "README"]
    for path in theirs:
        path.write_text("not feedpub's")

    result = _build(runner, content_dir, out)

    assert result.exit_code == 0, result.output
    assert not any(path.exists() for path in leftovers)
    assert all(path.read_text() == "not feedpub's" for path in theirs)
    assert {k: v for k, v in _files(out).items() if k in built} == built


# -- SIGKILL in the middle of a build ----------------------------------------------

#: Corpus size: enough for ~400 files, which a build writes for about half a second.
KILL_ARTICLES = 600


def _write_corpus(root: Path, version: str, count: int = KILL_ARTICLES) -> None:
    """`count` small articles over many topics and providers, so that a build
    writes a few hundred feeds; every title and excerpt names `version`."""
    for i in range(count):
        folder = root / f"{i // 250:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{i:05d}.md").write_text(
            f"---\ntitle: Story {i}, version {version}\n"
            f"publishedDateTime: 2024-01-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00Z\n"
            f"sourceUrl: https://news.example.com/{i}\n"
            f"provider:\n  name: Provider {i % 80}\n  domain: p{i % 80}.example.com\n"
            f"topics: [Topic {i % 120}, Topic {i * 7 % 120}]\n"
            f"excerpt: Excerpt of story {i} <b>&amp;</b> {version}\n---\n"
        )


def _is_valid(relpath: str, body: bytes) -> bool:
    try:
        if relpath.endswith((".rss", ".atom", ".opml")):
            lxml.etree.fromstring(body)
        elif relpath.endswith(".html"):
            lxml.html.document_fromstring(body)
            return body.rstrip().endswith(b"</html>")
        return True
    except (lxml.etree.XMLSyntaxError, lxml.etree.ParserError):
        return False


def _inodes(root: Path) -> dict[str, int]:
    return {
        entry.name: entry.inode()
        for folder in (root, root / "topics", root / "providers")
        if folder.is_dir()
        for entry in os.scandir(folder)
    }


def _wait_for_no_process_using(out: Path, timeout: float = 10) -> None:
    """Wait until no process (a worker the killed build forked, say) has
    `out` on its command line, so that nothing writes into it any more."""
    if not Path("/proc/self/cmdline").exists():
        return
    needle = str(out).encode()
    deadline = time.monotonic() + timeout
    while True:
        alive = []
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                if needle in cmdline.read_bytes().split(b"\0"):
                    alive.append(cmdline.parent.name)
            except OSError:
                pass  # it ended meanwhile
        if not alive:
            return
        assert time.monotonic() < deadline, f"processes of the killed build live on: {alive}"
        time.sleep(0.02)


def test_sigkill_mid_build_leaves_every_file_old_or_new(tmp_path, runner, feedpub_script):
    content = tmp_path / "content"
    _write_corpus(content, "A")
    old_dir = tmp_path / "a"
    assert _build(runner, content, old_dir).exit_code == 0
    old = _files(old_dir)
    _write_corpus(content, "B")
    command = [str(feedpub_script), "build", str(content), "--base-url", BASE_URL, "--out"]

    new_dir = tmp_path / "b"
    with subprocess.Popen([*command, str(new_dir)], stdout=subprocess.DEVNULL) as process:
        while not (new_dir / "index.html").exists() and process.poll() is None:
            time.sleep(0.002)
        first_write = time.monotonic()
        assert process.wait() == 0
    writing = time.monotonic() - first_write
    new = _files(new_dir)
    changed = {path for path in new if new[path] != old.get(path)}
    assert len(new) > 300 and all(path in changed for path in new if path.endswith(".rss"))

    seed = random.randrange(1 << 32)
    rng = random.Random(seed)
    out = tmp_path / "out"
    outcomes: list[tuple[bool, int, int]] = []
    mixed = []
    # Early, midway and late into writing; then early again (a kill that
    # came after the build ended shows nothing) until two landed midway.
    for trial, (low, high) in enumerate([(0, 1 / 3), (1 / 3, 2 / 3), (2 / 3, 1), (0, 0.3), (0, 0.3)]):
        if trial >= 3 and len(mixed) >= 2:
            break
        shutil.rmtree(out, ignore_errors=True)
        shutil.copytree(old_dir, out)
        inodes = _inodes(out)
        delay = writing * rng.uniform(low, high)
        # stderr: worker processes of the killed build may print their broken pipes.
        with subprocess.Popen(
            [*command, str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        ) as process:
            while _inodes(out) == inodes and process.poll() is None:
                time.sleep(0.001)
            time.sleep(delay)
            process.send_signal(signal.SIGKILL)
            killed = process.wait() == -signal.SIGKILL
        _wait_for_no_process_using(out)

        found = _files(out)
        where = f"trial {trial}, {delay:.2f} s into writing (seed {seed})"
        temps = [path for path in found if path.rpartition("/")[2].startswith(TEMP_PREFIX)]
        for path in temps:
            del found[path]
        missing = (old.keys() & new.keys()) - found.keys()
        assert not missing, f"{where}: files vanished: {sorted(missing)[:5]}"
        for path, body in found.items():
            assert body in (old.get(path), new.get(path)), f"{where}: {path} is neither old nor new"
            assert _is_valid(path, body), f"{where}: {path} does not parse"
        outcomes.append((killed, sum(found.get(path) == new[path] for path in changed), len(temps)))
        mixed = [o for o in outcomes if o[0] and 0 < o[1] < len(changed)]
    print(f"\nSIGKILL trials (killed, new files of {len(changed)}, temp files): {outcomes}")
    assert len(mixed) >= 2, f"too few kills landed while writing: {outcomes} (seed {seed})"

    # The next build completes the job and leaves no temporary file behind.
    assert _build(runner, content, out).exit_code == 0
    assert _files(out) == new


# -- reloading while requests are served -----------------------------------------


class _HookedFeeds(dict):
    """A catalog's feeds that call `hook` on the first lookup by key."""

    def __init__(self, feeds, hook) -> None:
        super().__init__(feeds)
        self.hook = hook

    def get(self, key, default=None):
        hook, self.hook = self.hook, None
        if hook:
            hook()
        return super().get(key, default)


def test_a_request_rendering_during_a_reload_does_not_break_it(content_dir, write_article):
    """A request thread renders a document of the old version while the
    reload carries the old version's documents over to the new one."""
    write_article("a.md", title="Old", topics=["AI"])
    live = LiveCatalog(content_dir, reload_interval=0)
    old = live.snapshot()
    site = Site(BASE_URL)
    live.document(old, "/all.rss", site)
    renders: list[threading.Thread] = []

    def render_meanwhile() -> None:
        render = threading.Thread(target=live.document, args=(old, "/topics/ai.atom", site))
        render.start()
        render.join(timeout=0.3)  # done at once, unless the reload holds it off
        renders.append(render)

    old.catalog = dataclasses.replace(old.catalog, feeds=_HookedFeeds(old.catalog.feeds, render_meanwhile))
    write_article("a.md", title="New", topics=["AI"])

    assert live.refresh()
    assert renders, "the reload no longer looks the old feeds up: adapt this test"
    renders[0].join()
    assert [
        e.title for e in feedparser.parse(live.document(live.snapshot(), "/all.atom", site).body).entries
    ] == ["New"]


def test_a_reload_that_failed_is_tried_again(content_dir, write_article, monkeypatch):
    write_article("a.md", title="Old")
    live = LiveCatalog(content_dir, reload_interval=0)
    build = catalogs.build
    failures = iter([RuntimeError("a bug while building the catalog")])

    def flaky_build(*args, **kwargs):
        for failure in failures:
            raise failure
        return build(*args, **kwargs)

    monkeypatch.setattr(catalogs, "build", flaky_build)
    write_article("a.md", title="New")
    with pytest.raises(RuntimeError):
        live.refresh()  # the watcher thread logs this and tries again later

    assert live.refresh(), "the change was lost: no file changed since the failed reload"
    assert [e.title for e in live.snapshot().catalog.entries] == ["New"]


# -- a real server under load while the content is edited ---------------------------

#: Content files the editor keeps rewriting, breaking and deleting.
CHURN_FILES = 4
#: Byte limit of content files while under load, so that "oversized" is cheap.
LOAD_MAX_FILE_SIZE = 4096


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


_TITLES = [
    "Churn <b>bold</b> & co",
    "Ünïcödé 📰 churn",
    'Churn "quoted"',
    "Churn ]]> &amp;",
    "plain",
]


def _edit_once(path: Path, index: int, rng: random.Random, marker: Path, secret: Path) -> str:
    """One random edit of one content file; returns what it did."""
    if path.is_symlink():  # never write through a link into the secret file
        path.unlink()
    valid = _churn_article(index, f"{rng.choice(_TITLES)} {rng.randrange(10**6)}", rng)
    action = rng.choice(
        ["mend", "mend", "mend-atomic", "yaml", "garbage", "truncated", "payload", "oversized",
         "controls", "empty", "not-mapping", "bad-date", "bad-url", "symlink", "delete", "folder"]
    )  # fmt: skip
    if action == "mend":
        path.write_bytes(valid)
    elif action == "mend-atomic":
        temp = path.with_name(f".{path.name}.tmp")
        temp.write_bytes(valid)
        os.replace(temp, path)
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
    """What `run_load` saw."""

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
        return (
            f"{self.requests} requests ({statuses}), {sum(self.edits.values())} edits, "
            f"{self.versions} versions of /all.atom, {self.reconnects} reconnects, "
            f"{len(self.failures)} failures"
        )


_MEDIA_TYPES = {
    ".rss": "application/rss+xml; charset=utf-8",
    ".atom": "application/atom+xml; charset=utf-8",
    ".opml": "text/x-opml; charset=utf-8",
    "/": "text/html; charset=utf-8",
}


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

    def check(self, path, method, sent, status, headers, body) -> str | None:
        """Why the response is wrong, or None."""
        if status >= 500:
            return f"{status} for {method} {path}: {body[:300]!r}"
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
        kind = path if path == "/" else path[path.rfind(".") :]
        if headers.get("Content-Type") != _MEDIA_TYPES[kind]:
            return f"{path}: Content-Type {headers.get('Content-Type')}"
        etag = headers.get("ETag")
        if not etag:
            return f"{path}: no ETag"
        zipped = headers.get("Content-Encoding") == "gzip"
        if zipped != ("gzip" in sent.get("Accept-Encoding", "")):
            return f"{path}: Content-Encoding {headers.get('Content-Encoding')} for {sent}"
        if zipped:
            body = gzip.decompress(body)
        error = self.check_body(path, body)
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
    def check_body(path: str, body: bytes) -> str | None:
        if path == "/":
            lxml.html.document_fromstring(body)
            return None if body.rstrip().endswith(b"</html>") else "/: incomplete HTML"
        root = lxml.etree.fromstring(body)
        expected = {".rss": "rss", ".atom": "{http://www.w3.org/2005/Atom}feed", ".opml": "opml"}
        if root.tag != expected[path[path.rfind(".") :]]:
            return f"{path}: root element {root.tag}"
        if b"SECRET" in body:
            return f"{path}: the file outside the content folder was published"
        if path.endswith((".rss", ".atom")):
            parsed = feedparser.parse(body)
            if parsed.bozo:
                return f"{path}: feedparser: {parsed.bozo_exception}"
        return None


def _fetch(server: Server, checker: _Checker, deadline: float, seed: int) -> None:
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
                status, headers, body = (
                    response.status,
                    dict(response.getheaders()),
                    response.read(),
                )
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


def _edit(churn: Path, deadline: float, seed: int, marker: Path, secret: Path, report: LoadReport) -> None:
    rng = random.Random(seed)
    try:
        while time.monotonic() < deadline:
            index = rng.randrange(CHURN_FILES)
            report.edits[_edit_once(churn / f"c{index}.md", index, rng, marker, secret)] += 1
            time.sleep(rng.uniform(0, 0.03))
    except Exception as exc:  # noqa: BLE001
        report.failures.append(f"editor: {type(exc).__name__}: {exc}")


def _opml_paths(server: Server) -> list[str]:
    status, _, body = server.request("/feeds.opml")
    assert status == 200
    urls = lxml.etree.fromstring(body).xpath("//outline/@xmlUrl")
    rss = [url.removeprefix(server.base_url) for url in urls]
    return sorted(rss + [path.replace(".rss", ".atom") for path in rss])


def _settle(server: Server, churn: Path, rng: random.Random, timeout: float = 5.0) -> list[str]:
    """Mend every churn file, then wait until every worker serves that version."""
    if (churn / "sub").exists():
        shutil.rmtree(churn / "sub")
    expected = []
    for index in range(CHURN_FILES):
        path = churn / f"c{index}.md"
        path.unlink(missing_ok=True)
        path.write_bytes(_churn_article(index, f"Final {index}", rng))
        expected.append(f"Final {index}")
    deadline, streak, titles = time.monotonic() + timeout, 0, []
    while time.monotonic() < deadline and streak < 10:
        body = server.request("/all.atom")[2]
        titles = sorted(e.title for e in feedparser.parse(body).entries if e.title.startswith("Final"))
        streak = streak + 1 if titles == expected else 0
        time.sleep(0.02)
    return titles if streak < 10 else expected


def run_load(
    content: Path, seconds: float, *, workers: int = 2, clients: int = 4, seed: int | None = None
) -> LoadReport:
    """Serve `content` (which must hold a stable article under topic "Stable"
    and provider "Stable News") with gunicorn, and fetch from `clients`
    threads for `seconds` while another thread edits ``content/churn``."""
    seed = random.randrange(1 << 32) if seed is None else seed
    rng = random.Random(seed)
    churn = content / "churn"
    churn.mkdir(exist_ok=True)
    for index in range(CHURN_FILES):
        (churn / f"c{index}.md").write_bytes(_churn_article(index, f"Start {index}", rng))
    outside = content.parent / f"{content.name}-outside"
    outside.mkdir(exist_ok=True)
    secret = outside / "secret.md"
    secret.write_text(SECRET_ARTICLE)
    marker = content.parent / f"{content.name}-pwned"

    server = start_gunicorn(
        content,
        workers=workers,
        extra_env={
            "FEEDPUB_RELOAD_INTERVAL": "0.2",
            "FEEDPUB_MAX_FILE_SIZE": str(LOAD_MAX_FILE_SIZE),
        },
    )
    log: list[bytes] = []
    drain = threading.Thread(target=lambda: log.extend(server.process.stderr), daemon=True)
    drain.start()
    report = LoadReport()
    try:
        paths = ["/", "/feeds.opml", *_opml_paths(server)]
        churning = [path for path in paths if "churn" in path]
        checker = _Checker([path for path in paths if path not in churning], churning, report)
        assert "/topics/stable.atom" in checker.stable and "/providers/churn-wire.rss" in churning
        deadline = time.monotonic() + seconds
        threads = [
            threading.Thread(target=_fetch, args=(server, checker, deadline, rng.random()))
            for _ in range(clients)
        ]
        threads.append(
            threading.Thread(target=_edit, args=(churn, deadline, rng.random(), marker, secret, report))
        )
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        report.versions = len(checker.all_versions)
        final = _settle(server, churn, rng)
        if final != [f"Final {index}" for index in range(CHURN_FILES)]:
            report.failures.append(f"the last edit never reached every worker: {final}")
    finally:
        server.process.terminate()
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()
        drain.join(timeout=10)
        server.process.stderr.close()
    stderr = b"".join(log).decode(errors="replace")
    for sign in (
        "Traceback",
        "reload failed",
        "CRITICAL",
        "WORKER TIMEOUT",
        "was sent",
        "terminated",
    ):
        if sign in stderr:
            report.failures.append(f"gunicorn log has {sign!r}: {stderr[-3000:]}")
    if marker.exists():
        report.failures.append("a YAML payload ran")
    report.failures[:0] = [f"seed {seed}"] if report.failures else []
    return report


#: How long the test fetches; bench/load_edits.py runs longer.
LOAD_SECONDS = 5.0


def test_gunicorn_under_load_and_edits_never_fails(content_dir, write_article):
    for index in range(3):
        write_article(
            f"stable-{index}.md",
            title=f"Stable {index}",
            topics=["Stable", f"Topic {index}"],
            provider={"name": "Stable News"},
        )

    report = run_load(content_dir, LOAD_SECONDS)

    print(f"\nunder load and edits: {report.summary()}; edits: {dict(report.edits)}")
    assert not report.failures, f"{report.summary()}:\n" + "\n".join(report.failures[:20])
    assert report.requests > 100, report.summary()
    assert report.versions >= 2, report.summary()
    assert report.statuses[304] > 0 and report.statuses[200] > 0, report.summary()
