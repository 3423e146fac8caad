"""Serving benchmark: feedpub under gunicorn against a bare Flask route, with wrk.

    .venv/bin/python bench/serve.py [--articles 10000] [--rounds 5] [--duration 10]
    .venv/bin/python bench/serve.py --smoke

On a synthetic corpus of N articles (bench/corpus.py), two servers run side by
side in the same configuration, gunicorn gthread with 2 workers × 4 threads
on 127.0.0.1: ``gunicorn wsgi:app`` (feedpub) and ``gunicorn bare_app:app``
(bench/bare_app.py, a Flask route returning the bytes feedpub serves for the
measured feed, with the same content type). Each round runs wrk for a fixed
time against, back to back and in an order that rotates from round to round:

(a) feedpub, the feed (``/all.atom``: 50 entries), answering 200;
(b) the bare route, the same bytes, 200;
(c) feedpub with ``If-None-Match`` set to the feed's ETag, answering 304;
(d) feedpub with ``Accept-Encoding: gzip``, answering 200 gzip.

Before any load, one plain request checks that each configuration answers
what it should (status, content type, the same bytes, a 304 with an empty
body, a gzip body that unpacks to the feed), and every wrk run must end with
no socket error and no response outside 2xx/3xx; the average response size
of each run is printed as a check that the 304 run got 304s and the gzip
run gzip. Besides requests/s, each run reads the CPU time of the server's
processes before and after (``/proc/<pid>/stat``) and prints the CPU time
per answer: on a machine shared with other work, throughput follows the
neighbours' load while CPU per answer mostly does not, so the ratios are
printed both ways. The CPU time of every rescan of the reload watchers is
logged too, and what they cost during the serving rounds printed.

Then, on the same feedpub server:

- **memory**: VmRSS (and VmHWM, the peak) of each gunicorn worker from
  ``/proc/<pid>/status``, right after start-up, after the serving rounds,
  after every document of the URL space was requested (each rendered
  document is kept in memory, plain and gzip), and after the reloads;
- **reload**: the title of the newest article is edited; a gunicorn hook
  (``post_worker_init``, in the config file this script writes) times each
  worker's ``LiveCatalog.refresh`` that swaps the new version in, so the
  figure "noticed → swapped" runs from the start of the rescan that found
  the change to the new snapshot being in place. The script also polls the
  feed on new connections until the new title is served, and prints change
  → first served, which includes waiting for the next rescan (up to
  ``--reload-interval``) and the render of the feed on first request;
- **start-up**: from starting gunicorn to every worker having loaded the
  app (the same hook logs when each is ready), i.e. parsing the corpus.

Figures are printed with median, min and max over the rounds, ratios per
round (both sides measured back to back), the load average before and after
each round, and the targets of issue 5. Needs wrk (Debian package ``wrk``),
gunicorn beside the running interpreter (``pip install -e '.[server]'``), and
the corpus cache of bench/build.py (made here if missing).
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))

import corpus  # noqa: E402 - bench/ is not a package

#: Targets of issue 5.
BARE_RATIO_TARGET = 0.9
NOT_MODIFIED_RATIO_TARGET = 1.0
GZIP_RATIO_TARGET = 0.85
RSS_MB_TARGET = 300
RELOAD_SECONDS_TARGET = 0.5
TARGET_ARTICLES = 10_000

#: gunicorn settings file for both servers: no control socket (several
#: gunicorns on one machine would fight over the default one), feedpub's
#: INFO log on stderr with epoch times, and timing hooks. Keys gunicorn does
#: not know (older versions) are ignored.
GUNICORN_CONF = '''\
import logging
import os
import sys
import time

control_socket_disable = True


def _say(message):
    sys.stderr.write(f"bench {time.time():.6f} {os.getpid()} {message}\\n")
    sys.stderr.flush()


def post_worker_init(worker):
    """Log that the app is loaded; time every content reload that swaps."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("bench %(created).6f %(process)d %(name)s %(message)s"))
    logger = logging.getLogger("feedpub")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    live = getattr(worker.wsgi, "extensions", {}).get("feedpub")
    if live is not None:
        refresh = live.refresh

        def timed_refresh():
            began, cpu = time.time(), time.thread_time()
            swapped = refresh()
            cpu = time.thread_time() - cpu
            _say(f"{'swapped' if swapped else 'rescanned'} cpu={cpu:.6f} began={began:.6f}")
            return swapped

        # The watcher thread calls self.refresh(): the instance attribute wins.
        live.refresh = timed_refresh
    _say("ready")
'''

_BENCH_LINE = re.compile(r"^bench (\d+\.\d+) (\d+) (.*)$")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def request(port: int, path: str, headers: dict[str, str] | None = None, method: str = "GET"):
    """(status, headers, body) of one request on a new connection."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, headers=headers or {})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


@dataclass
class Server:
    """A gunicorn started by this script, and its log."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    #: Wall clock when the process was started.
    started: float
    #: Worker pid → wall clock when it had loaded the app.
    ready: dict[int, float] = field(default_factory=dict)

    def events(self, since: int = 0) -> list[tuple[float, int, str]]:
        """(time, pid, message) of the ``bench`` log lines from byte `since` on."""
        with open(self.log, "rb") as stream:
            stream.seek(since)
            text = stream.read().decode("utf-8", "replace")
        found = []
        for line in text.splitlines():
            match = _BENCH_LINE.match(line)
            if match:
                found.append((float(match[1]), int(match[2]), match[3]))
        return found

    def log_size(self) -> int:
        return self.log.stat().st_size

    def cpu_seconds(self) -> float:
        """User and system CPU time used so far by the master and its workers."""
        ticks = 0
        for pid in (self.process.pid, *self.ready):
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
        return ticks / os.sysconf("SC_CLK_TCK")

    def wait_ready(self, workers: int, timeout: float) -> None:
        """Wait until every worker has loaded the app and the server answers."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                sys.exit(f"{self.name}: gunicorn exited:\n{self.log.read_text()[-3000:]}")
            self.ready = {pid: at for at, pid, message in self.events() if message == "ready"}
            if len(self.ready) >= workers:
                try:
                    request(self.port, "/healthz")
                    return
                except OSError:
                    pass
            time.sleep(0.05)
        stop(self)
        sys.exit(f"{self.name}: not ready within {timeout:.0f} s:\n{self.log.read_text()[-3000:]}")


def start(
    name: str,
    app: str,
    cwd: Path,
    env: dict[str, str],
    args: argparse.Namespace,
    work: Path,
    options: tuple[str, ...] = (),
) -> Server:
    """``gunicorn APP`` in the measured configuration, on a free port."""
    conf = work / "gunicorn_bench.conf.py"
    conf.write_text(GUNICORN_CONF)
    gunicorn = Path(sys.executable).with_name("gunicorn")
    port = free_port()
    log = work / f"{name}.log"
    argv = [
        str(gunicorn), "--config", str(conf), "--bind", f"127.0.0.1:{port}",
        "--worker-class", "gthread", "--workers", str(args.workers), "--threads", str(args.threads),
        "--log-level", "info", *options, app,
    ]  # fmt: skip
    with open(log, "wb") as stream:
        started = time.time()
        process = subprocess.Popen(
            argv,
            cwd=cwd,
            env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
            stdout=stream,
            stderr=stream,
        )
    return Server(name, port, process, log, started)


def stop(server: Server) -> None:
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


# -- wrk ---------------------------------------------------------------------------


@dataclass
class Load:
    """One wrk run."""

    what: str
    requests_per_second: float
    requests: int
    bytes_read: float
    non_2xx_3xx: int
    socket_errors: int
    latency: str
    #: CPU time the server's processes used during the run.
    cpu_seconds: float = 0.0

    @property
    def bytes_per_response(self) -> float:
        return self.bytes_read / max(self.requests, 1)

    @property
    def cpu_per_request(self) -> float:
        """Server CPU time per answer, in microseconds."""
        return 1e6 * self.cpu_seconds / max(self.requests, 1)


_UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}


def wrk(
    what: str,
    port: int,
    path: str,
    headers: dict[str, str],
    args: argparse.Namespace,
    seconds: int,
) -> Load:
    """Run wrk against 127.0.0.1:`port``path` for `seconds`."""
    argv = ["wrk", f"-t{args.wrk_threads}", f"-c{args.connections}", f"-d{seconds}s"]
    for name, value in headers.items():
        argv += ["-H", f"{name}: {value}"]
    argv.append(f"http://127.0.0.1:{port}{path}")
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in [\d.]+\w+, ([\d.]+)(\w+) read", out)
    if rps is None or total is None:
        sys.exit(f"cannot read wrk's output:\n{out}")
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    latency = re.search(r"Latency\s+(\S+)", out)
    return Load(
        what=what,
        requests_per_second=float(rps[1]),
        requests=int(total[1]),
        bytes_read=float(total[2]) * _UNITS[total[3]],
        non_2xx_3xx=int(non_2xx[1]) if non_2xx else 0,
        socket_errors=sum(int(n) for n in errors.groups()) if errors else 0,
        latency=latency[1] if latency else "?",
    )


# -- corpus ------------------------------------------------------------------------


def corpus_folder(args: argparse.Namespace) -> Path:
    """The cached corpus of bench/build.py, made if missing."""
    if args.content:
        return Path(args.content)
    folder = Path(args.cache) / f"corpus-v{corpus.VERSION}-n{args.articles}-s{args.seed}"
    if not (folder / ".complete").exists():
        print(f"  making {folder} ...", flush=True)
        partial = folder.with_name(folder.name + f".partial-{os.getpid()}")
        shutil.rmtree(partial, ignore_errors=True)
        corpus.generate(partial, args.articles, seed=args.seed)
        (partial / ".complete").write_text("complete\n")
        shutil.rmtree(folder, ignore_errors=True)
        partial.rename(folder)
    return folder


# -- figures -----------------------------------------------------------------------


def summary(values: list[float], unit: str = "", digits: int = 1) -> str:
    if not values:
        return "n/a"
    return (
        f"median {statistics.median(values):.{digits}f}{unit}  "
        f"(min {min(values):.{digits}f}, max {max(values):.{digits}f}, n={len(values)})"
    )


def verdict(value: float, target: float, *, at_least: bool, enabled: bool) -> str:
    if not enabled:
        return ""
    ok = value >= target if at_least else value <= target
    return "  meets the target" if ok else "  MISSES the target"


def loadavg() -> str:
    return "/".join(f"{value:.2f}" for value in os.getloadavg())


def memory(pids: list[int]) -> dict[int, dict[str, int]]:
    """VmRSS, VmHWM and Pss (kB) of each process; Pss counts a page shared
    by n processes as 1/n (workers forked after ``--preload`` share pages)."""
    found = {}
    for pid in pids:
        values = {}
        for file in ("status", "smaps_rollup"):
            for line in Path(f"/proc/{pid}/{file}").read_text().splitlines():
                name, _, rest = line.partition(":")
                if name in ("VmRSS", "VmHWM", "Pss"):
                    values[name] = int(rest.split()[0])
        found[pid] = values
    return found


def print_memory(when: str, usage: dict[int, dict[str, int]]) -> None:
    parts = [
        f"pid {pid}: RSS {v['VmRSS'] / 1024:.0f} MB (peak {v['VmHWM'] / 1024:.0f} MB, "
        f"PSS {v['Pss'] / 1024:.0f} MB)"
        for pid, v in usage.items()
    ]
    print(f"  {when}: " + "; ".join(parts), flush=True)


def url_space(port: int) -> list[str]:
    """Every path of the URL space, from the OPML list (RSS) and their Atom twins."""
    status, _, body = request(port, "/feeds.opml")
    if status != 200:
        sys.exit(f"/feeds.opml answered {status}")
    paths = ["/", "/feeds.opml"]
    for outline in ET.fromstring(body).iter("outline"):
        url = outline.get("xmlUrl")
        if url:
            path = "/" + url.split("/", 3)[3]
            paths += [path, path.rsplit(".", 1)[0] + ".atom"]
    return paths


# -- the benchmark -----------------------------------------------------------------


def check_answers(feedpub: Server, bare: Server, path: str) -> tuple[str, bytes]:
    """One plain request per configuration: each must answer what it is meant to."""
    status, headers, body = request(feedpub.port, path)
    if status != 200:
        sys.exit(f"feedpub answered {status} for {path}")
    entries = body.count(b"<entry>") + body.count(b"<item>")
    etag = headers["etag"]
    print(f"  feedpub {path}: 200, {headers['content-type']}, {len(body):,} bytes", end="")
    print(f", {entries} entries, ETag {etag}")
    status, bare_headers, bare_body = request(bare.port, path)
    if (status, bare_body, bare_headers["content-type"]) != (200, body, headers["content-type"]):
        sys.exit(f"the bare app answered {status}, {bare_headers.get('content-type')}, other bytes")
    print(f"  bare    {path}: 200, {bare_headers['content-type']}, the same bytes")
    status, _, empty = request(feedpub.port, path, {"If-None-Match": etag})
    if (status, empty) != (304, b""):
        sys.exit(f"feedpub answered {status} with {len(empty)} bytes to If-None-Match")
    print(f"  feedpub {path} If-None-Match: 304, empty body")
    status, gz_headers, packed = request(feedpub.port, path, {"Accept-Encoding": "gzip"})
    if status != 200 or gz_headers.get("content-encoding") != "gzip" or gzip.decompress(packed) != body:
        encoding = gz_headers.get("content-encoding")
        sys.exit(f"feedpub answered {status} {encoding} to Accept-Encoding: gzip")
    print(f"  feedpub {path} Accept-Encoding gzip: 200, gzip, {len(packed):,} bytes, unpacks")
    return etag, body


def serving_rounds(
    feedpub: Server, bare: Server, etag: str, args: argparse.Namespace
) -> dict[str, list[Load]]:
    path = args.path
    configurations = [
        ("feedpub 200", feedpub, {}),
        ("bare Flask 200", bare, {}),
        ("feedpub 304", feedpub, {"If-None-Match": etag}),
        ("feedpub gzip 200", feedpub, {"Accept-Encoding": "gzip"}),
    ]
    print(f"  warm-up: {args.warmup} s of wrk per configuration", flush=True)
    for what, server, headers in configurations:
        wrk(what, server.port, path, headers, args, args.warmup)
    results: dict[str, list[Load]] = {what: [] for what, _, _ in configurations}
    offset, started = feedpub.log_size(), time.time()
    for index in range(args.rounds):
        shift = index % len(configurations)
        order = configurations[shift:] + configurations[:shift]
        before = loadavg()
        for what, server, headers in order:
            cpu = server.cpu_seconds()
            load = wrk(what, server.port, path, headers, args, args.duration)
            load.cpu_seconds = server.cpu_seconds() - cpu
            if load.non_2xx_3xx or load.socket_errors:
                sys.exit(
                    f"{what}: {load.non_2xx_3xx} responses outside 2xx/3xx, "
                    f"{load.socket_errors} socket errors"
                )
            results[what].append(load)
        line = ", ".join(
            f"{what} {load.requests_per_second:,.0f}/s "
            f"({load.bytes_per_response:,.0f} B, {load.cpu_per_request:,.0f} µs CPU)"
            for what, load in ((what, results[what][-1]) for what, _, _ in order)
        )
        print(f"  round {index + 1}: {line}; load average {before} -> {loadavg()}", flush=True)
    # What the reload watcher cost meanwhile: each rescan stats every file
    # and holds its worker's GIL while it does.
    # What the reload watchers cost meanwhile: each rescan stats every file
    # (CPU time of the watcher thread alone).
    rescans = [
        float(message.split()[1].split("=")[1])
        for _, _, message in feedpub.events(offset)
        if message.startswith(("rescanned cpu=", "swapped cpu="))
    ]
    elapsed = time.time() - started
    used = sum(load.cpu_seconds for what in results if what != "bare Flask 200" for load in results[what])
    print(
        f"  meanwhile the reload watchers rescanned the folder {len(rescans)} times, "
        f"{summary([1000 * seconds for seconds in rescans], ' ms', 0)} of CPU each, "
        f"{sum(rescans):.1f} s in all over {elapsed:.0f} s: "
        f"{sum(rescans) / max(used, 1e-9):.0%} of the CPU time feedpub used under load"
    )
    return results


def reload_rounds(feedpub: Server, content: Path, args: argparse.Namespace) -> list[dict[str, float]]:
    edited = corpus.newest_article(content)
    print(f"  editing the title of {edited.relative_to(content)} (the newest article)", flush=True)
    pids = sorted(feedpub.ready)
    found = []
    for index in range(args.reload_rounds):
        time.sleep(args.reload_interval + 0.5)  # let the previous round settle
        marker = f"(reload {index + 1}-{os.getpid()})"
        offset = feedpub.log_size()
        corpus.edit_title(edited, marker)
        changed = time.time()
        first_served = None
        deadline = time.monotonic() + args.reload_interval + args.reload_timeout
        swapped: dict[int, tuple[float, float]] = {}
        while time.monotonic() < deadline:
            status, _, body = request(feedpub.port, "/all.atom")
            if status == 200 and marker.encode() in body and first_served is None:
                first_served = time.time()
            for at, pid, message in feedpub.events(offset):
                if message.startswith("swapped cpu="):
                    swapped[pid] = (float(message.rpartition("began=")[2]), at)
            if first_served is not None and len(swapped) >= len(pids):
                break
            time.sleep(0.01)
        else:
            tail = feedpub.log.read_text()[-3000:]
            sys.exit(f"reload round {index + 1}: not served within the timeout; log:\n{tail}")
        reparsed = [m for _, _, m in feedpub.events(offset) if "content reloaded" in m]
        work = [at - began for began, at in swapped.values()]
        entry = {
            "change_to_first_served": first_served - changed,
            "change_to_every_worker_swapped": max(at for _, at in swapped.values()) - changed,
            "noticed_to_swapped": work,
        }
        found.append(entry)
        print(
            f"  round {index + 1}: noticed -> swapped "
            + ", ".join(f"{seconds:.3f} s" for seconds in work)
            + f" (per worker); change -> first served {entry['change_to_first_served']:.3f} s, "
            f"-> every worker swapped {entry['change_to_every_worker_swapped']:.3f} s; "
            f"{'; '.join(m.split(' ', 1)[1] for m in reparsed[:1])}; load average {loadavg()}",
            flush=True,
        )
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=TARGET_ARTICLES)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--content", help="serve a copy of this folder instead of the synthetic corpus")
    parser.add_argument("--cache", default=str(BENCH / ".cache"))
    parser.add_argument(
        "--rounds", type=int, default=5, help="wrk rounds (each runs all four configurations)"
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds of wrk per configuration and round")
    parser.add_argument(
        "--warmup", type=int, default=2, help="seconds of wrk per configuration before the rounds"
    )
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    parser.add_argument("--path", default="/all.atom", help="the feed to load (50 entries)")
    parser.add_argument("--reload-interval", type=float, default=2.0, help="FEEDPUB_RELOAD_INTERVAL")
    parser.add_argument("--reload-rounds", type=int, default=3, help="0: no reload figures")
    parser.add_argument("--reload-timeout", type=float, default=120)
    parser.add_argument("--startup-timeout", type=float, default=600)
    parser.add_argument(
        "--preload", action="store_true", help="gunicorn --preload for feedpub: parse once, fork workers"
    )
    parser.add_argument("--json", help="write every measurement to this file")
    parser.add_argument(
        "--smoke", action="store_true", help="200 articles, 1 short round: checks the script only"
    )
    args = parser.parse_args()
    if args.smoke:
        args.articles, args.rounds, args.duration, args.warmup, args.reload_rounds = 200, 1, 1, 1, 1
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (Debian: apt-get install wrk)")
    targets = args.articles == TARGET_ARTICLES and not args.content

    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split()[:2]
    print(
        f"{platform.node()}: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{' '.join(wrk_version)}; load average {loadavg()}"
    )
    print(
        f"gunicorn gthread {args.workers} workers × {args.threads} threads"
        f"{' --preload (feedpub)' if args.preload else ''}; "
        f"wrk -t{args.wrk_threads} -c{args.connections} -d{args.duration}s; {args.rounds} rounds",
        flush=True,
    )
    source = corpus_folder(args)
    record: dict[str, object] = {"args": vars(args)}
    with tempfile.TemporaryDirectory(prefix="feedpub-serve-") as temp:
        work = Path(temp)
        content = work / "content"
        shutil.copytree(source, content, ignore=shutil.ignore_patterns(".complete"))
        print(f"content: a copy of {source}", flush=True)

        env = {
            "FEEDPUB_CONTENT_DIR": str(content),
            "FEEDPUB_BASE_URL": "https://feeds.example.org",
            "FEEDPUB_RELOAD_INTERVAL": f"{args.reload_interval:g}",
        }
        options = ("--preload",) if args.preload else ()
        feedpub = start("feedpub", "wsgi:app", REPO, env, args, work, options)
        bare = None
        try:
            feedpub.wait_ready(args.workers, args.startup_timeout)
            startup = max(feedpub.ready.values()) - feedpub.started
            print(
                f"start-up: every worker loaded the content {startup:.1f} s after gunicorn started "
                f"({'parsed once, then forked' if args.preload else 'each worker parses the folder'}); "
                f"load average {loadavg()}",
                flush=True,
            )
            record["startup_seconds"] = startup
            pids = sorted(feedpub.ready)
            memory_after_start = memory(pids)

            body_file = work / "body"
            status, headers, body = request(feedpub.port, args.path)
            body_file.write_bytes(body)
            bare_env = {
                "BENCH_BODY_FILE": str(body_file),
                "BENCH_CONTENT_TYPE": headers["content-type"],
            }
            bare = start("bare", "bare_app:app", BENCH, bare_env, args, work)
            bare.wait_ready(args.workers, 60)

            print("\nchecks")
            etag, _ = check_answers(feedpub, bare, args.path)

            print("\nserving", flush=True)
            results = serving_rounds(feedpub, bare, etag, args)
            record["serving"] = {what: [asdict(load) for load in loads] for what, loads in results.items()}
            stop(bare)
            bare = None

            print("\nmemory of the feedpub workers")
            print_memory("after start-up", memory_after_start)
            memory_after_serving = memory(pids)
            print_memory("after the serving rounds", memory_after_serving)
            paths = url_space(feedpub.port)
            for _ in range(4):  # new connections: each worker gets its share
                for path in paths:
                    status = request(feedpub.port, path, {"Accept-Encoding": "gzip"})[0]
                    if status != 200:
                        sys.exit(f"{path} answered {status}")
            memory_all = memory(pids)
            print_memory(f"after requesting all {len(paths)} documents 4 times", memory_all)
            record["memory_kb"] = {
                "start": memory_after_start,
                "serving": memory_after_serving,
                "all": memory_all,
            }

            reloads = []
            if args.reload_rounds:
                print(f"\nreload (FEEDPUB_RELOAD_INTERVAL={args.reload_interval:g})", flush=True)
                reloads = reload_rounds(feedpub, content, args)
                record["reload"] = reloads
                memory_reloaded = memory(pids)
                print_memory("after the reloads", memory_reloaded)
                record["memory_kb"]["reloaded"] = memory_reloaded
        finally:
            if bare is not None:
                stop(bare)
            stop(feedpub)

    print("\nfigures")
    rates = {what: [load.requests_per_second for load in loads] for what, loads in results.items()}
    for what, values in rates.items():
        print(f"  {what:<22} {summary(values, ' req/s', 0)}")
    cpu = {what: [load.cpu_per_request for load in loads] for what, loads in results.items()}
    for what, values in cpu.items():
        print(f"  {what + ' CPU':<22} {summary(values, ' µs/answer', 0)} (server processes)")
    pairs = (
        ("feedpub/bare", "feedpub 200", "bare Flask 200", BARE_RATIO_TARGET),
        ("304/200", "feedpub 304", "feedpub 200", NOT_MODIFIED_RATIO_TARGET),
        ("gzip/200", "feedpub gzip 200", "feedpub 200", GZIP_RATIO_TARGET),
    )
    record["ratios"] = {}
    for name, top, bottom, target in pairs:
        values = [a / b for a, b in zip(rates[top], rates[bottom], strict=True)]
        record["ratios"][name] = values
        mark = verdict(statistics.median(values), target, at_least=True, enabled=targets)
        print(f"  {name:<22} {summary(values, '×', 2)}  target ≥ {target}{mark}")
        by_cpu = [b / a for a, b in zip(cpu[top], cpu[bottom], strict=True)]
        record["ratios"][name + " by CPU"] = by_cpu
        print(f"  {name + ' by CPU':<22} {summary(by_cpu, '×', 2)}  (CPU per answer, inverted)")
    worst = max(v["VmRSS"] for v in memory_all.values()) / 1024
    peak = max(v["VmHWM"] for v in memory_all.values()) / 1024
    mark = verdict(worst, RSS_MB_TARGET, at_least=False, enabled=targets)
    print(
        f"  {'worker RSS':<22} {worst:.0f} MB with every document rendered (peak {peak:.0f} MB)"
        f"  target ≤ {RSS_MB_TARGET} MB{mark}"
    )
    if reloads:
        work_times = [seconds for entry in reloads for seconds in entry["noticed_to_swapped"]]
        median = statistics.median(work_times)
        mark = verdict(median, RELOAD_SECONDS_TARGET, at_least=False, enabled=targets)
        print(
            f"  {'reload noticed->swap':<22} {summary(work_times, ' s', 3)}"
            f"  target ≤ {RELOAD_SECONDS_TARGET} s{mark}"
        )
        served = [entry["change_to_first_served"] for entry in reloads]
        print(
            f"  {'reload change->served':<22} {summary(served, ' s', 3)}"
            f"  (includes up to {args.reload_interval:g} s waiting for the next rescan)"
        )
        peak = max(v["VmHWM"] for v in memory_reloaded.values()) / 1024
        print(f"  {'worker peak RSS':<22} {peak:.0f} MB, reloads included")
    print(f"  {'start-up':<22} {startup:.1f} s (one start)")
    print(f"  {'load average now':<22} {loadavg()}")
    if args.json:
        Path(args.json).write_text(json.dumps(record, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
