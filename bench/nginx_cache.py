"""nginx's cache in front of feedpub against nginx serving the built file, with wrk.

    .venv/bin/python bench/nginx_cache.py [--articles 10000] [--rounds 5] [--duration 10]
    .venv/bin/python bench/nginx_cache.py --smoke

The two production shapes of ``deploy/`` side by side on 127.0.0.1, with
the same main nginx settings (Debian's: sendfile, tcp_nopush; no access log;
``worker_processes auto``):

(A) ``deploy/nginx-static.conf`` serving the folder ``feedpub build --gzip``
    wrote from the corpus (bench/corpus.py, N articles);
(B) ``deploy/nginx-proxy.conf`` in front of ``gunicorn wsgi:app`` (gthread,
    2 workers × 4 threads) serving the same corpus from the store that build
    left, with the same base URL, so that both answer the same bytes;
    FEEDPUB_CACHE_MAX_AGE is an hour, so the cached copy stays fresh for the
    whole run (every request is a HIT, as a check before and after each run
    confirms).

The files are used as shipped, as an operator would copy them: only the
listen address, the root folder, the upstream address and the cache folder
are replaced (the script stops if one of them is no longer where it looks
for it). Each round runs wrk for a fixed time against, back to back, in an
order that alternates: the static file, the cached feed, then both again
with ``Accept-Encoding: gzip``, and "static offset". It prints requests/s
(median, min, max), the CPU time of the nginx processes per answer, and the
ratio cache/static of each round; the target (of issue 5) is ≥ 0.8 for
plain requests. With gzip, (A) sends the ``FILE.gz`` the build wrote
(``gzip_static``) and (B) the gzip bytes feedpub's server made once; that
ratio is for information. So is "static offset": nginx stores a cached
answer as one file, a header then the body, and sends the body with
sendfile from that unaligned offset; the static server sends a copy of that
file from the same offset (a ``Range`` request), which shows what the offset
alone costs.

Needs nginx and wrk (Debian packages ``nginx`` and ``wrk``) and gunicorn
(``pip install -e '.[bench]'``); uses the corpus cache of bench/build.py
(made if missing).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402 - bench/ is not a package
from common import BASE_URL  # noqa: E402
from common import REPO  # noqa: E402
from common import Load  # noqa: E402
from common import request  # noqa: E402
from common import summary  # noqa: E402

DEPLOY = REPO / "deploy"
CACHE_RATIO_TARGET = 0.8
TARGET_ARTICLES = 10_000
SMOKE_SIZE = 40


# -- nginx -------------------------------------------------------------------------------


def site_config(name: str, replacements: list[tuple[str, str, str]]) -> str:
    """``deploy/<name>`` with each (what, pattern, replacement) applied to
    every uncommented match; stops if a pattern matches nothing."""
    text = (DEPLOY / name).read_text()
    for what, pattern, new in replacements:
        found = re.compile(rf"^(?P<indent>[ \t]*){pattern}", re.MULTILINE)
        if not found.search(text):
            sys.exit(f"deploy/{name}: no {what} found (pattern {pattern!r}); has the file changed shape?")
        text = found.sub(lambda match, new=new: match["indent"] + new, text)
    return text


def main_config(prefix: Path, site: str, workers: str) -> Path:
    """A main ``nginx.conf`` in `prefix` around `site`, the way Debian's
    /etc/nginx/nginx.conf includes conf.d/: every path nginx writes (pid,
    logs, temporary files) inside `prefix`."""
    temp = prefix / "temp"
    temp.mkdir(parents=True, exist_ok=True)
    mime_types = Path("/etc/nginx/mime.types")
    (prefix / "site.conf").write_text(site)
    lines = [
        # Workers drop to `nobody` when the master runs as root, and could
        # not read a temporary folder; an unprivileged master keeps its user.
        "user root;" if os.geteuid() == 0 else "",
        f"worker_processes {workers};",
        f"pid {prefix}/nginx.pid;",
        f"error_log {prefix}/error.log warn;",
        "events { worker_connections 1024; }",
        "http {",
        "    access_log off;",
        "    sendfile on;",
        "    tcp_nopush on;",
        f"    include {mime_types};" if mime_types.exists() else "",
        "    default_type application/octet-stream;",
        *(f"    {kind}_temp_path {temp}/{kind};" for kind in ("proxy", "fastcgi", "uwsgi", "scgi")),
        f"    client_body_temp_path {temp}/client_body;",
        f"    include {prefix}/site.conf;",
        "}",
    ]
    conf = prefix / "nginx.conf"
    conf.write_text("\n".join(line for line in lines if line) + "\n")
    return conf


@dataclass
class Nginx:
    port: int
    process: subprocess.Popen[bytes]
    prefix: Path


def start_nginx(nginx: str, prefix: Path, conf: Path, port: int) -> Nginx:
    """nginx in the foreground on `conf`; waits until `port` accepts."""
    argv = [nginx, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log"), "-g", "daemon off;"]
    process = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    server = Nginx(port, process, prefix)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = (prefix / "error.log").read_text() if (prefix / "error.log").exists() else ""
            sys.exit(f"nginx exited: {process.stderr.read().decode()}{log}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server
        except OSError:
            time.sleep(0.05)
    stop_nginx(server)
    sys.exit("nginx did not listen within 10 s")


def stop_nginx(server: Nginx) -> None:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGQUIT)  # graceful: finish requests, then exit
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


def static_nginx(nginx: str, prefix: Path, root: Path, port: int, workers: str) -> Nginx:
    """deploy/nginx-static.conf serving `root` on 127.0.0.1:`port`."""
    site = site_config("nginx-static.conf", [
        ("listen directive", r"listen\s+[^;]+;", f"listen 127.0.0.1:{port};"),
        ("root directive", r"root\s+[^;]+;", f"root {root};"),
    ])  # fmt: skip
    return start_nginx(nginx, prefix, main_config(prefix, site, workers), port)


def proxy_nginx(nginx: str, prefix: Path, upstream: int, port: int, workers: str) -> Nginx:
    """deploy/nginx-proxy.conf in front of 127.0.0.1:`upstream`, on `port`."""
    site = site_config("nginx-proxy.conf", [
        ("listen directive", r"listen\s+[^;]+;", f"listen 127.0.0.1:{port};"),
        ("upstream server", r"server\s+127\.0\.0\.1:\d+[^;]*;", f"server 127.0.0.1:{upstream};"),
        ("proxy_cache_path", r"proxy_cache_path\s+\S+", f"proxy_cache_path {prefix / 'cache'}"),
    ])  # fmt: skip
    return start_nginx(nginx, prefix, main_config(prefix, site, workers), port)


def nginx_cpu(pid: int) -> float:
    """CPU time used so far by nginx's master `pid` and its workers."""
    return sum(common.cpu_seconds(each) for each in (pid, *common.children(pid)))


# -- the benchmark -----------------------------------------------------------------------


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
    request(proxy_port, path, {"Accept-Encoding": "gzip"})  # the gzip entry is cached too


def cache_status(port: int, path: str, headers: dict[str, str]) -> str:
    return request(port, path, headers)[1].get("x-cache-status", "?")


def unaligned_copy(proxy_prefix: Path, public: Path, path: str) -> tuple[str, int]:
    """A file of the build folder that holds, like nginx's cache file of `path`,
    the body after a header: (its URL path, the body's offset in it)."""
    body = (public / path.lstrip("/")).read_bytes()
    cached = [f for f in (proxy_prefix / "cache").rglob("*") if f.is_file() and f.read_bytes().endswith(body)]
    if not cached:
        sys.exit("no file of nginx's cache holds the feed's bytes")
    offset = cached[0].stat().st_size - len(body)
    padded = public / "bench-unaligned.atom"
    padded.write_bytes(cached[0].read_bytes())
    return "/" + padded.name, offset


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=TARGET_ARTICLES, help="corpus size (default 10000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", type=Path, help=f"folder of the cached corpora (default {common.CACHE})")
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
    parser.add_argument(
        "--smoke", action="store_true", help=f"{SMOKE_SIZE} articles, 2 short rounds, no verdict"
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.articles, args.rounds, args.duration, args.warmup = SMOKE_SIZE, 2, 1, 1
    for tool in ("nginx", "wrk"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed (Debian: apt-get install {tool})")
    nginx = shutil.which("nginx")
    judged = args.articles == TARGET_ARTICLES and not args.smoke
    version = subprocess.run([nginx, "-v"], capture_output=True, text=True).stderr.strip()
    print(f"{common.machine()}\n  {version}, {common.wrk_version()}; {common.feedpub_code()}")
    print(
        f"  {args.articles:,} articles; nginx worker_processes {args.nginx_workers}; "
        f"gunicorn gthread {args.workers}×{args.threads}; "
        f"wrk -t{args.wrk_threads} -c{args.connections} -d{args.duration}s; {args.rounds} rounds",
        flush=True,
    )
    feedpub = Path(sys.executable).with_name("feedpub")
    with tempfile.TemporaryDirectory(prefix="feedpub-bench-nginx-") as temp:
        work = Path(temp)
        source = common.corpus_folder(
            args.articles, args.seed, args.cache or (work if args.smoke else common.CACHE)
        )
        content = common.copy_content(source, work / "content")
        public = work / "public"
        store = work / "store" / "site.sqlite3"
        started = time.perf_counter()
        subprocess.run(
            [
                str(feedpub),
                "build",
                str(content),
                "--out",
                str(public),
                "--base-url",
                BASE_URL,
                "--gzip",
                "--store",
                str(store),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        print(
            f"  built {public} from a copy of {source} in {time.perf_counter() - started:.1f} s", flush=True
        )

        env = {
            "FEEDPUB_CONTENT_DIR": str(content),
            "FEEDPUB_BASE_URL": BASE_URL,
            "FEEDPUB_STORE": str(store),
            "FEEDPUB_PROXY_FIX": "1",
            "FEEDPUB_CACHE_MAX_AGE": "3600",
            "XDG_CACHE_HOME": str(work / "xdg-cache"),
        }
        app = common.start_gunicorn(
            "feedpub", "wsgi:app", cwd=REPO, env=env, work=work, workers=args.workers, threads=args.threads
        )
        servers: list[Nginx] = []
        try:
            first = app.first_answer(args.path, args.startup_timeout)
            print(f"  gunicorn answered {args.path} {first:.1f} s after it started", flush=True)
            static = static_nginx(nginx, work / "static", public, common.free_port(), args.nginx_workers)
            servers.append(static)
            proxy = proxy_nginx(nginx, work / "proxy", app.port, common.free_port(), args.nginx_workers)
            servers.append(proxy)
            print("\nchecks")
            check(static.port, proxy.port, args.path, public)

            gzip = {"Accept-Encoding": "gzip"}
            unaligned, offset = unaligned_copy(proxy.prefix, public, args.path)
            print(f"  the cache file holds the body after a {offset}-byte header; {unaligned} is a copy")
            configurations = [
                ("static", static, args.path, {}),
                ("cache", proxy, args.path, {}),
                ("static gzip", static, args.path, gzip),
                ("cache gzip", proxy, args.path, gzip),
                ("static offset", static, unaligned, {"Range": f"bytes={offset}-"}),
            ]

            def run(what: str, server: Nginx, path: str, headers: dict[str, str], seconds: int) -> Load:
                return common.wrk(
                    what,
                    server.port,
                    path,
                    threads=args.wrk_threads,
                    connections=args.connections,
                    seconds=seconds,
                    headers=headers,
                )

            print(f"\nserving {args.path}; warm-up: {args.warmup} s of wrk per configuration")
            for what, server, path, headers in configurations:
                run(what, server, path, headers, args.warmup)
            results: dict[str, list[Load]] = {what: [] for what, *_ in configurations}
            for index in range(args.rounds):
                shift = 2 * (index % 2)  # alternate which shape goes first
                order = configurations[shift:] + configurations[:shift]
                before = common.loadavg()
                for what, server, path, headers in order:
                    cpu = nginx_cpu(server.process.pid)
                    load = run(what, server, path, headers, args.duration)
                    load.cpu_seconds = nginx_cpu(server.process.pid) - cpu
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
                print(f"  round {index + 1}: {line}; load average {before} -> {common.loadavg()}", flush=True)
        finally:
            for server in servers:
                stop_nginx(server)
            common.stop(app)
        signs = app.bad_signs()

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
        source_ = cpu if name == "by CPU" else rates
        values = [a / b for a, b in zip(source_[top], source_[bottom], strict=True)]
        line = f"  {name:<18} {summary(values, '×', 2)}"
        if name == "cache/static":
            line += f"  target ≥ {CACHE_RATIO_TARGET} (issue 5, at {TARGET_ARTICLES:,} articles)"
            if judged:
                line += ": " + common.verdict(statistics.median(values), CACHE_RATIO_TARGET, at_most=False)
            else:
                line += ": no verdict (smoke run or another size)"
        print(line)
    print(
        "  (offset: the static server sending the bytes of the cache file after its header,"
        " with a Range request, as the cache does: sendfile from the same unaligned offset)"
    )
    print(f"  load average now {common.loadavg()}")
    for sign in signs:
        print(f"PROBLEM: the gunicorn log has {sign!r}")
    return 1 if signs else 0


if __name__ == "__main__":
    sys.exit(main())
