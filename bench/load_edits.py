"""Fetch documents from gunicorn while the content is edited, broken and mended.

    .venv/bin/python bench/load_edits.py [--seconds 60] [--workers 2] [--clients 4] [--seed N]

Not a timing benchmark: a longer run of what the test suite checks for a few
seconds. gunicorn (gthread, --workers × 4 threads, FEEDPUB_RELOAD_INTERVAL
0.2, FEEDPUB_BASE_URL set unless --no-base-url) serves a content folder
holding three stable articles and a few "churn" files; client threads fetch
random documents on keep-alive connections (plain, gzip, HEAD, with
If-None-Match and If-Modified-Since) and check every answer: no 5xx; 404
only for documents that come and go with the churn; every 304 empty and
answering a conditional request; the media type of each path; a 200 body
that parses (XML feeds and OPML, JSON Feed, HTML) and, if feedparser is
installed, that it reads with bozo 0; never the bytes of the file outside
the content folder that a symbolic link points to; one ETag never served
with two bodies. Meanwhile an editor thread rewrites, breaks (bad YAML,
garbage, truncation, a YAML payload, oversized, control characters, empty,
wrong dates and URLs), replaces atomically, links outside, deletes and nests
the churn files. At the end every churn file is mended and every worker
must serve that version. Prints the request count and every failure; exits
1 on any failure.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import http.client
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402 - bench/ is not a package
from common import BASE_URL  # noqa: E402
from common import REPO  # noqa: E402

try:
    import feedparser
except ImportError:  # the check is skipped; the XML must still parse
    feedparser = None

STABLE = """---
title: Stable {index}
publishedDateTime: 2024-05-0{day}T12:00:00Z
sourceUrl: https://news.example.com/stable-{index}
provider:
  name: Stable News
topics: [Stable, Topic {index}]
---
"""
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
#: Content files the editor keeps rewriting, breaking and deleting.
CHURN_FILES = 4
#: Byte limit of content files while under load, so that "oversized" is cheap.
MAX_FILE_SIZE = 4096
MEDIA_TYPES = {
    "rss": "application/rss+xml; charset=utf-8",
    "atom": "application/atom+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "opml": "text/x-opml; charset=utf-8",
}
TITLES = ["Churn <b>bold</b> & co", "Ünïcödé 📰 churn", 'Churn "quoted"', "Churn ]]> &amp;", "plain"]
ACTIONS = [
    "mend", "mend", "mend-atomic", "yaml", "garbage", "truncated", "payload", "oversized", "controls",
    "empty", "not-mapping", "bad-date", "bad-url", "symlink", "delete", "folder",
]  # fmt: skip


def churn_article(index: int, title: str, rng: random.Random) -> bytes:
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


def edit_once(path: Path, index: int, rng: random.Random, marker: Path, secret: Path) -> str:
    """One random edit of one content file; returns what it did."""
    if path.is_symlink():  # never write through a link into the secret file
        path.unlink()
    valid = churn_article(index, f"{rng.choice(TITLES)} {rng.randrange(10**6)}", rng)
    action = rng.choice(ACTIONS)
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
        path.write_bytes(valid + b"x" * MAX_FILE_SIZE)
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
            (folder / "nested.md").write_bytes(churn_article(index + 10, "Nested churn", rng))
    return action


@dataclass
class Report:
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


class Checker:
    """Validates every answer; remembers validators for conditional requests."""

    def __init__(self, stable: list[str], churning: list[str], report: Report) -> None:
        self.stable, self.churning, self.report = stable, churning, report
        self.lock = threading.Lock()
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

    def check(
        self, path: str, method: str, sent: dict[str, str], status: int, headers: dict[str, str], body: bytes
    ) -> str | None:
        """Why the answer is wrong, or None."""
        if status >= 500:
            return f"{status} for {method} {path}: {body[:300]!r}"
        if status == 404:
            return None if path in self.churning else f"404 for a path that always exists: {path}"
        if status == 304:
            if body or not ("If-None-Match" in sent or "If-Modified-Since" in sent):
                return f"bad 304 for {path}: {sent} → {body[:100]!r}"
            return None
        if status != 200:
            return f"{status} for {method} {path}"
        if method == "HEAD":
            return (
                None if not body and int(headers.get("content-length", 0)) > 0 else f"HEAD {path}: {headers}"
            )
        if path == "/healthz":
            return None  # 200 or 503 with a reason: both honest while files are broken
        kind = "html" if path == "/" else path.rpartition(".")[2]
        if headers.get("content-type") != MEDIA_TYPES[kind]:
            return f"{path}: Content-Type {headers.get('content-type')}"
        etag = headers.get("etag")
        if not etag:
            return f"{path}: no ETag"
        zipped = headers.get("content-encoding") == "gzip"
        if zipped != ("gzip" in sent.get("Accept-Encoding", "")):
            return f"{path}: Content-Encoding {headers.get('content-encoding')} for {sent}"
        if zipped:
            body = gzip.decompress(body)
        error = self.check_body(path, kind, body)
        if error:
            return error
        digest = hashlib.sha256(body).hexdigest()
        with self.lock:
            known = self.bodies.setdefault((path, etag), digest)
            self.validators[(path, zipped)] = (etag, headers.get("last-modified"))
            if path == "/all.atom":
                self.all_versions.add(digest)
        return None if known == digest else f"{path}: ETag {etag} served with two different bodies"

    @staticmethod
    def check_body(path: str, kind: str, body: bytes) -> str | None:
        if SECRET_TITLE.encode() in body:
            return f"{path}: the file outside the content folder was published"
        if kind == "html":
            return None if body.rstrip().endswith(b"</html>") else f"{path}: incomplete HTML"
        if kind == "json":
            document = json.loads(body)
            ok = str(document.get("version", "")).startswith("https://jsonfeed.org/version/")
            return None if ok else f"{path}: not a JSON Feed"
        root = ET.fromstring(body)
        expected = {"rss": "rss", "atom": "{http://www.w3.org/2005/Atom}feed", "opml": "opml"}
        if root.tag != expected[kind]:
            return f"{path}: root element {root.tag}"
        if feedparser is not None and kind in ("rss", "atom"):
            parsed = feedparser.parse(body)
            if parsed.bozo:
                return f"{path}: feedparser: {parsed.bozo_exception}"
        return None


def fetch(port: int, checker: Checker, deadline: float, seed: float) -> None:
    rng = random.Random(seed)
    report = checker.report
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    fresh = True
    try:
        while time.monotonic() < deadline:
            path, method, sent = checker.request(rng)
            try:
                connection.request(method, path, headers=sent)
                response = connection.getresponse()
                status, body = response.status, response.read()
                headers = {k.lower(): v for k, v in response.getheaders()}
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


def edit(churn: Path, deadline: float, seed: float, marker: Path, secret: Path, report: Report) -> None:
    rng = random.Random(seed)
    try:
        while time.monotonic() < deadline:
            index = rng.randrange(CHURN_FILES)
            report.edits[edit_once(churn / f"c{index}.md", index, rng, marker, secret)] += 1
            time.sleep(rng.uniform(0, 0.03))
    except Exception as exc:  # noqa: BLE001
        report.failures.append(f"editor: {type(exc).__name__}: {exc}")


def settle(port: int, churn: Path, rng: random.Random, timeout: float = 10.0) -> list[str]:
    """Mend every churn file, then wait until every worker serves that
    version (ten answers in a row on new connections)."""
    if (churn / "sub").exists():
        shutil.rmtree(churn / "sub")
    expected = []
    for index in range(CHURN_FILES):
        path = churn / f"c{index}.md"
        path.unlink(missing_ok=True)
        path.write_bytes(churn_article(index, f"Final {index}", rng))
        expected.append(f"Final {index}")
    deadline, streak, titles = time.monotonic() + timeout, 0, []
    namespace = "{http://www.w3.org/2005/Atom}"
    while time.monotonic() < deadline and streak < 10:
        body = common.request(port, "/all.atom")[2]
        found = [e.findtext(f"{namespace}title") or "" for e in ET.fromstring(body).iter(f"{namespace}entry")]
        titles = sorted(t for t in found if t.startswith("Final"))
        streak = streak + 1 if titles == expected else 0
        time.sleep(0.02)
    return titles if streak < 10 else expected


def run_load(content: Path, work: Path, args: argparse.Namespace, seed: int) -> Report:
    rng = random.Random(seed)
    churn = content / "churn"
    churn.mkdir(exist_ok=True)
    for index in range(CHURN_FILES):
        (churn / f"c{index}.md").write_bytes(churn_article(index, f"Start {index}", rng))
    outside = work / "outside"
    outside.mkdir(exist_ok=True)
    secret = outside / "secret.md"
    secret.write_text(SECRET_ARTICLE)
    marker = work / "pwned"
    env = {
        "FEEDPUB_CONTENT_DIR": str(content),
        "FEEDPUB_STORE": str(work / "store" / "site.sqlite3"),
        "FEEDPUB_RELOAD_INTERVAL": "0.2",
        "FEEDPUB_MAX_FILE_SIZE": str(MAX_FILE_SIZE),
        "XDG_CACHE_HOME": str(work / "xdg-cache"),
    }
    if not args.no_base_url:
        env["FEEDPUB_BASE_URL"] = BASE_URL
    server = common.start_gunicorn(
        "load", "wsgi:app", cwd=REPO, env=env, work=work, workers=args.workers, threads=args.threads
    )
    report = Report()
    try:
        server.first_answer("/healthz", 60)
        server.wait_workers(args.workers, 60)
        paths = common.subscription_documents(server.port)
        churning = [path for path in paths if "churn" in path]
        checker = Checker([path for path in paths if path not in churning], churning, report)
        if "/topics/stable.atom" not in checker.stable or "/providers/churn-wire.rss" not in churning:
            sys.exit(f"unexpected URL space: {paths}")
        deadline = time.monotonic() + args.seconds
        threads = [
            threading.Thread(target=fetch, args=(server.port, checker, deadline, rng.random()))
            for _ in range(args.clients)
        ]
        threads.append(
            threading.Thread(target=edit, args=(churn, deadline, rng.random(), marker, secret, report))
        )
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        report.versions = len(checker.all_versions)
        final = settle(server.port, churn, rng)
        if final != [f"Final {index}" for index in range(CHURN_FILES)]:
            report.failures.append(f"the last edit never reached every worker: {final}")
    finally:
        common.stop(server)
    for sign in server.bad_signs():
        if sign != "refresh failed":  # a broken file is a problem, not a failed refresh; see the log
            report.failures.append(f"gunicorn log has {sign!r}: {server.output()[-3000:]}")
    if marker.exists():
        report.failures.append("a YAML payload ran")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument(
        "--no-base-url",
        action="store_true",
        help="no FEEDPUB_BASE_URL: self links from the Host header, documents rendered per worker",
    )
    parser.add_argument("--smoke", action="store_true", help="5 seconds")
    args = parser.parse_args(argv)
    if args.smoke:
        args.seconds = 5.0
    seed = random.randrange(1 << 32) if args.seed is None else args.seed
    print(
        f"{common.machine()}\n  {common.feedpub_code()}; seed {seed}; {args.seconds:g} s, "
        f"{args.workers} workers × {args.threads} threads, {args.clients} clients"
        + ("" if feedparser else "; feedparser not installed: feeds are only parsed as XML"),
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="feedpub-bench-load-") as folder:
        work = Path(folder)
        content = work / "content"
        content.mkdir()
        for index in range(3):
            (content / f"stable-{index}.md").write_text(STABLE.format(index=index, day=index + 1))
        report = run_load(content, work, args, seed)
    print(f"{report.summary()}; {report.requests / args.seconds:.0f} requests/s")
    print("edits:", dict(report.edits))
    for failure in report.failures[:50]:
        print("FAIL", failure)
    if report.failures:
        print(f"(seed {seed}: --seed {seed} repeats the edits and requests)")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
