"""nginx's cache in front of feedpub against nginx serving the built file, with wrk.

    .venv/bin/python bench/nginx_cache.py [--articles 10000] [--rounds 5] [--duration 10]
    .venv/bin/python bench/nginx_cache.py --smoke

The two production shapes of ``deploy/`` side by side on 127.0.0.1, with
the same main nginx settings (Debian's: sendfile, tcp_nopush; no access log;
``worker_processes auto``):

(A) ``deploy/nginx-static.conf`` serving the folder ``feedpub build`` wrote
    from the corpus (bench/corpus.py, N articles);
(B) ``deploy/nginx-proxy.conf`` in front of ``gunicorn wsgi:app`` (gthread,
    2 workers × 4 threads) serving the same corpus, with the same base URL,
    so that both answer the same bytes; FEEDPUB_CACHE_MAX_AGE is an hour, so
    the cached copy stays fresh for the whole run (the cache is warm: every
    request is a HIT, as a check before and after each run confirms).

Each round runs wrk for a fixed time against, back to back, in an order
that rotates: the static file, the cached feed, then both again with
``Accept-Encoding: gzip``. It prints requests/s (median, min, max) and the
ratio cache/static of each round; the target of issue 5 is ≥ 0.8 for plain
requests. With gzip, (A) sends the ``FILE.gz`` that ``feedpub build --gzip``
wrote (nginx's ``gzip_static``) and (B) the gzip bytes feedpub's server made
once; that ratio is shown for information. A fifth configuration, also for
information, has the static server send the cache file's own bytes from
the offset where the body starts (a ``Range`` request on a copy of the
file): the cache sends its body with sendfile from that unaligned offset,
and this shows what that alone costs. The CPU time of the nginx processes
per answer is printed beside requests/s.

Needs nginx and wrk (Debian packages ``nginx`` and ``wrk``), the test
dependencies (it reuses the helpers of tests/test_nginx.py) and the corpus
cache of bench/build.py (made here if missing).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(REPO / "tests"))

from serve import TARGET_ARTICLES  # noqa: E402
from serve import Load  # noqa: E402
from serve import corpus_folder  # noqa: E402
from serve import free_port  # noqa: E402
from serve import loadavg  # noqa: E402
from serve import request  # noqa: E402
from serve import start  # noqa: E402
from serve import stop  # noqa: E402
from serve import summary  # noqa: E402
from serve import wrk  # noqa: E402
from test_nginx import proxy_nginx  # noqa: E402
from test_nginx import static_nginx  # noqa: E402
from test_nginx import stop_nginx  # noqa: E402

BASE_URL = "https://feeds.example.org"
CACHE_RATIO_TARGET = 0.8


def check(static_port: int, proxy_port: int, path: str, public: Path) -> None:
    """Both answer 200 with the built file's bytes; the proxy from its cache."""
    expected = (public / path.lstrip("/")).read_bytes()
    status, headers, body = request(static_port, path)
    if (status, body) != (200, expected):
        sys.exit(f"static nginx answered {status} and {len(body)} bytes for {path}")
    print(f"  static {path}: 200, {headers['content-type']}, {len(body):,} bytes (the built file)")
    request(proxy_port, path)  # fills the cache
    status, headers, body = request(proxy_port, path)
    if (status, body, headers.get("x-cache-status")) != (200, expected, "HIT"):
        sys.exit(
            f"the proxy answered {status}, {headers.get('x-cache-status')}, {len(body)} bytes "
            "(expected 200, HIT and the built file's bytes)"
        )
    print(f"  cache  {path}: 200, {headers['content-type']}, X-Cache-Status HIT, the same bytes")
    for port, what in ((static_port, "static"), (proxy_port, "cache")):
        status, headers, _ = request(port, path, {"Accept-Encoding": "gzip"})
        if (status, headers.get("content-encoding")) != (200, "gzip"):
            sys.exit(f"{what} answered {status} {headers.get('content-encoding')} to gzip")


def cache_status(port: int, path: str, headers: dict[str, str]) -> str:
    return request(port, path, headers)[1].get("x-cache-status", "?")


def cpu_seconds(pid: int) -> float:
    """CPU time used so far by nginx's master `pid` and its children."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    ticks = 0
    for each in (pid, *map(int, children)):
        fields = Path(f"/proc/{each}/stat").read_text().rpartition(")")[2].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def unaligned_copy(proxy_prefix: Path, public: Path, path: str) -> tuple[str, int]:
    """A file of the build folder that holds, like nginx's cache file of `path`,
    the body after a header: (its URL path, the body's offset in it)."""
    body = (public / path.lstrip("/")).read_bytes()
    cached = [f for f in (proxy_prefix / "cache").rglob("*") if f.is_file() and f.read_bytes().endswith(body)]
    offset = cached[0].stat().st_size - len(body)
    padded = public / ".bench-unaligned"
    padded.write_bytes(cached[0].read_bytes())
    return "/" + padded.name, offset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=TARGET_ARTICLES)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--content", help="use a copy of this folder instead of the synthetic corpus")
    parser.add_argument("--cache", default=str(BENCH / ".cache"))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=int, default=10, help="seconds of wrk per run")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of wrk per configuration first")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--nginx-workers", default="auto", help="worker_processes of both nginx")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    parser.add_argument("--path", default="/all.atom")
    parser.add_argument("--startup-timeout", type=float, default=600)
    parser.add_argument("--smoke", action="store_true", help="200 articles, 1 short round")
    args = parser.parse_args()
    if args.smoke:
        args.articles, args.rounds, args.duration, args.warmup = 200, 1, 1, 1
    for tool in ("nginx", "wrk"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed (Debian: apt-get install {tool})")
    nginx = shutil.which("nginx")
    targets = args.articles == TARGET_ARTICLES and not args.content
    version = subprocess.run([nginx, "-v"], capture_output=True, text=True).stderr.strip()
    print(f"{platform.node()}: {os.cpu_count()} CPUs, {version}; load average {loadavg()}")
    print(
        f"nginx worker_processes {args.nginx_workers}; "
        f"gunicorn gthread {args.workers}×{args.threads}; "
        f"wrk -t{args.wrk_threads} -c{args.connections} -d{args.duration}s; {args.rounds} rounds",
        flush=True,
    )
    source = corpus_folder(args)
    feedpub = Path(sys.executable).with_name("feedpub")
    with tempfile.TemporaryDirectory(prefix="feedpub-nginx-") as temp:
        work = Path(temp)
        content = work / "content"
        shutil.copytree(source, content, ignore=shutil.ignore_patterns(".complete"))
        public = work / "public"
        started = time.perf_counter()
        subprocess.run(
            [str(feedpub), "build", str(content), "--out", str(public), "--base-url", BASE_URL, "--gzip"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        print(f"built {public} from a copy of {source} in {time.perf_counter() - started:.1f} s")

        env = {
            "FEEDPUB_CONTENT_DIR": str(content),
            "FEEDPUB_BASE_URL": BASE_URL,
            "FEEDPUB_PROXY_FIX": "1",
            "FEEDPUB_CACHE_MAX_AGE": "3600",
        }
        app = start("feedpub", "wsgi:app", REPO, env, args, work)
        servers = []
        try:
            app.wait_ready(args.workers, args.startup_timeout)
            print(f"gunicorn ready in {max(app.ready.values()) - app.started:.1f} s", flush=True)
            static = static_nginx(nginx, work / "static", public, free_port(), workers=args.nginx_workers)
            servers.append(static)
            proxy = proxy_nginx(nginx, work / "proxy", app.port, free_port(), workers=args.nginx_workers)
            servers.append(proxy)
            print("\nchecks")
            check(static.port, proxy.port, args.path, public)

            gzip = {"Accept-Encoding": "gzip"}
            unaligned, offset = unaligned_copy(proxy.prefix, public, args.path)
            print(
                f"  the cache file holds the body after a {offset}-byte header; "
                f"{unaligned} is a copy, in the build folder"
            )
            configurations = [
                ("static", static, args.path, {}),
                ("cache", proxy, args.path, {}),
                ("static gzip", static, args.path, gzip),
                ("cache gzip", proxy, args.path, gzip),
                ("static offset", static, unaligned, {"Range": f"bytes={offset}-"}),
            ]
            print(f"\nserving {args.path}; warm-up: {args.warmup} s of wrk per configuration")
            for what, server, path, headers in configurations:
                wrk(what, server.port, path, headers, args, args.warmup)
            results: dict[str, list[Load]] = {what: [] for what, *_ in configurations}
            for index in range(args.rounds):
                shift = 2 * (index % 2)  # alternate which shape goes first
                order = configurations[shift:] + configurations[:shift]
                before = loadavg()
                for what, server, path, headers in order:
                    cpu = cpu_seconds(server.process.pid)
                    load = wrk(what, server.port, path, headers, args, args.duration)
                    load.cpu_seconds = cpu_seconds(server.process.pid) - cpu
                    if load.non_2xx_3xx or load.socket_errors:
                        sys.exit(f"{what}: {load.non_2xx_3xx} bad answers, {load.socket_errors} errors")
                    if what.startswith("cache") and cache_status(server.port, path, headers) != "HIT":
                        sys.exit(f"{what}: the cache no longer answers HIT")
                    results[what].append(load)
                line = ", ".join(
                    f"{what} {results[what][-1].requests_per_second:,.0f}/s "
                    f"({results[what][-1].cpu_per_request:.0f} µs)"
                    for what, *_ in order
                )
                print(f"  round {index + 1}: {line}; load average {before} -> {loadavg()}", flush=True)
        finally:
            for server in servers:
                stop_nginx(server)
            stop(app)

    print("\nfigures")
    rates = {what: [load.requests_per_second for load in loads] for what, loads in results.items()}
    for what, values in rates.items():
        size = statistics.median(load.bytes_per_response for load in results[what])
        print(f"  {what:<18} {summary(values, ' req/s', 0)}  ({size:,.0f} B per answer)")
    cpu = {what: [load.cpu_per_request for load in loads] for what, loads in results.items()}
    for what, values in cpu.items():
        print(f"  {what + ' CPU':<18} {summary(values, ' µs/answer', 1)} (nginx processes)")
    for name, top, bottom in (
        ("cache/static", "cache", "static"),
        ("by CPU", "static", "cache"),
        ("gzip", "cache gzip", "static gzip"),
        ("cache/offset", "cache", "static offset"),
        ("offset/static", "static offset", "static"),
    ):
        source = cpu if name == "by CPU" else rates
        values = [a / b for a, b in zip(source[top], source[bottom], strict=True)]
        line = f"  {name:<18} {summary(values, '×', 2)}"
        if name == "cache/static":
            line += f"  target ≥ {CACHE_RATIO_TARGET}"
            if targets:
                ok = statistics.median(values) >= CACHE_RATIO_TARGET
                line += "  meets the target" if ok else "  MISSES the target"
        print(line)
    print(
        "  (offset: the static server sending the bytes of the cache file after its header,"
        " with a Range request, as the cache does: sendfile from the same unaligned offset)"
    )
    print(f"  load average now {loadavg()}")


if __name__ == "__main__":
    main()
