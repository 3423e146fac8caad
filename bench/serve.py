"""Serving benchmark: feedpub under gunicorn, start-up, memory, idle CPU,
edits, and throughput against a bare Flask route.

    .venv/bin/python bench/serve.py [--sizes 1000,10000] [--runs 3] [--idle 60]
    .venv/bin/python bench/serve.py --sizes 1000,10000,100000
    .venv/bin/python bench/serve.py --smoke

For each size (articles of bench/corpus.py's corpus, on a copy), gunicorn
runs as production does (``--worker-class gthread --workers 2 --threads 4``,
``FEEDPUB_BASE_URL`` and ``FEEDPUB_STORE`` set), a new gunicorn for every
start, on 127.0.0.1:

1. **start-up on a store left by a build**: ``feedpub build --store S`` once
   (not timed), then per run a copy of S: the time from starting gunicorn
   to the first 200 for ``/all.atom`` (polled with new connections);
2. per run, on a fresh store path: **start-up on an empty store** (the time
   to the first 200; every worker's memory), stopped, then **start-up on
   the store that server left** (a restart: a current store) and, on that
   server: the memory of every worker (VmRSS, VmHWM and Pss from /proc)
   after start-up and after every subscription document (``/``,
   ``/feeds.opml`` and each feed of the OPML list in its four formats) was
   requested from *each* worker (one keep-alive connection per worker);
   its **idle CPU** (user + system of each worker over --idle seconds with
   no request, per minute); **edits**: the title of the newest article is
   edited, and the time from the file write until *every* worker serves
   the new bytes for ``/all.atom`` (polled with new connections; a
   ``X-Bench-Worker`` header, added by the gunicorn settings file of
   bench/common.py for these servers only, says which worker answered);
3. **throughput**: that store's feedpub and ``bare_app:app``
   (bench/bare_app.py: Flask returning the same bytes with the same content
   type) in the same gunicorn configuration, each checked to answer the
   same bytes, then ``wrk -t2 -c32 -d10s`` against each per round, in an
   order that alternates between rounds; the ratio feedpub/bare per round
   (and by CPU per answer, which a busy machine disturbs less).

Figures: medians (min–max) over the runs (edits: over every edit of every
run), growth between sizes, a table in the layout of issue 8, and each
target of issue 8 with a verdict (none in --smoke). Needs gunicorn and wrk
(``pip install -e '.[bench]'``; ``apt-get install wrk``).
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402 - bench/ is not a package
import corpus  # noqa: E402
from common import BASE_URL  # noqa: E402
from common import BENCH  # noqa: E402
from common import MB  # noqa: E402
from common import REPO  # noqa: E402
from common import Gunicorn  # noqa: E402
from common import Target  # noqa: E402
from common import plural  # noqa: E402
from common import summary  # noqa: E402

#: feedpub's reload interval when FEEDPUB_RELOAD_INTERVAL is not set.
DEFAULT_RELOAD_INTERVAL = 2.0
SMOKE_SIZE = 40


# -- one server ------------------------------------------------------------------------


def start(name: str, env: dict[str, str], args: argparse.Namespace, work: Path, *, tagged: bool) -> Gunicorn:
    options = [*args.gunicorn_arg, *(["--preload"] if args.preload else [])]
    extra = {"BENCH_WORKER_HEADER": "1"} if tagged else {}
    return common.start_gunicorn(
        name,
        "wsgi:app",
        cwd=REPO,
        env={**env, **extra},
        work=work,
        workers=args.workers,
        threads=args.threads,
        options=options,
    )


def parsed_at_start(server: Gunicorn, ready: dict[int, float]) -> dict[int, int]:
    """Content files each worker (and a --preload master) parsed, by feedpub's log."""
    found = server.parsed()
    return {pid: found.get(pid, 0) for pid in ready} | {
        pid: n for pid, n in found.items() if pid not in ready
    }


def worker_memory(server: Gunicorn) -> dict[int, dict[str, int]]:
    return {pid: common.memory(pid) for pid in server.workers()}


def memory_line(found: dict[int, dict[str, int]]) -> str:
    return ", ".join(
        f"{m['VmRSS'] / MB:.0f} MB (Pss {m.get('Pss', 0) / MB:.0f}, peak {m['VmHWM'] / MB:.0f})"
        for m in found.values()
    )


class WorkerConnections:
    """One keep-alive connection to each worker of a tagged server."""

    def __init__(self, server: Gunicorn, pids: list[int]) -> None:
        self.server = server
        self.connections: dict[int, http.client.HTTPConnection] = {}
        for pid in pids:
            self._connect(pid)

    def _connect(self, pid: int) -> None:
        spare = []
        try:
            for _ in range(500):
                connection = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=60)
                connection.request("GET", "/feeds.opml")
                response = connection.getresponse()
                response.read()
                worker = int(response.getheader("X-Bench-Worker", "0"))
                if worker == pid and not response.will_close:
                    self.connections[pid] = connection
                    return
                spare.append(connection)  # held open, so that the next one may land elsewhere
                if len(spare) > 8:
                    spare.pop(0).close()
        finally:
            for connection in spare:
                connection.close()
        sys.exit(f"no connection reached worker {pid} in 500 tries")

    def get(self, pid: int, path: str) -> tuple[int, bytes]:
        for attempt in range(2):
            connection = self.connections.get(pid)
            if connection is None:
                self._connect(pid)
                connection = self.connections[pid]
            try:
                connection.request("GET", path)
                response = connection.getresponse()
                body = response.read()
                if int(response.getheader("X-Bench-Worker", "0")) != pid:
                    sys.exit(f"a keep-alive connection moved from worker {pid}")
                if response.will_close:
                    connection.close()
                    del self.connections[pid]
                return response.status, body
            except (http.client.RemoteDisconnected, ConnectionError, BrokenPipeError):
                connection.close()
                self.connections.pop(pid, None)
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        for connection in self.connections.values():
            connection.close()


@dataclass
class EditResult:
    #: Seconds from the file write until every worker served the new bytes.
    every_worker: float
    #: Seconds until each worker first served them.
    per_worker: dict[int, float]
    #: Answers with the old bytes from a worker that had served the new ones.
    went_back: int
    requests: int


def edit_once(server: Gunicorn, file: Path, marker: str, pids: list[int], timeout: float) -> EditResult:
    corpus.edit_title(file, marker)
    written = time.monotonic()
    wanted = marker.encode()
    first: dict[int, float] = {}
    went_back = requests = 0
    while len(first) < len(pids):
        elapsed = time.monotonic() - written
        if elapsed > timeout:
            sys.exit(
                f"edit {marker}: not served by every worker within {timeout:g} s "
                f"(served by {sorted(first)} of {pids}):\n{server.output()[-3000:]}"
            )
        try:
            status, headers, body = common.request(server.port, "/all.atom")
        except (ConnectionError, http.client.HTTPException, TimeoutError) as exc:
            # A finding, not a crash of the benchmark: say it, with what
            # gunicorn logged, and go on polling.
            log = [line for line in server.output().splitlines() if "bench-log" not in line]
            print(f"  edit {marker}: a request failed after {elapsed:.2f} s ({exc!r}); gunicorn's log ends:")
            print("\n".join(f"    {line}" for line in log[-8:]))
            requests += 1
            continue
        requests += 1
        if status != 200:
            continue
        pid = int(headers.get("x-bench-worker", "0"))
        if wanted in body:
            first.setdefault(pid, time.monotonic() - written)
        elif pid in first:
            went_back += 1
    return EditResult(max(first.values()), first, went_back, requests)


# -- one size ----------------------------------------------------------------------------


@dataclass
class SizeResult:
    articles: int
    documents: int = 0
    start_built: list[float] = field(default_factory=list)
    start_empty: list[float] = field(default_factory=list)
    start_current: list[float] = field(default_factory=list)
    #: Per run: every worker ready (seconds after the start), empty and current store.
    ready_empty: list[float] = field(default_factory=list)
    ready_current: list[float] = field(default_factory=list)
    #: Per run, per worker: memory (bytes) at each moment.
    memory: dict[str, list[dict[int, dict[str, int]]]] = field(default_factory=dict)
    #: Per run, per worker: CPU seconds per minute when idle; the master's.
    idle: list[dict[int, float]] = field(default_factory=list)
    idle_master: list[float] = field(default_factory=list)
    #: Per run, per worker: (name, CPU seconds per minute) of each of its threads, busiest first.
    idle_threads: list[dict[int, list[tuple[str, float]]]] = field(default_factory=list)
    edits: list[EditResult] = field(default_factory=list)
    loads: dict[str, list[common.Load]] = field(default_factory=dict)
    bare_memory: dict[int, dict[str, int]] = field(default_factory=dict)
    #: Per start kind, per run: process → content files parsed (feedpub's log), at start-up.
    parsed: dict[str, list[dict[int, int]]] = field(
        default_factory=lambda: {"store of a build": [], "empty store": [], "current store": []}
    )
    problems: list[str] = field(default_factory=list)

    def ratios(self) -> list[float]:
        pairs = zip(self.loads.get("feedpub", []), self.loads.get("bare", []), strict=True)
        return [a.requests_per_second / b.requests_per_second for a, b in pairs]

    def cpu_ratios(self) -> list[float]:
        pairs = zip(self.loads.get("feedpub", []), self.loads.get("bare", []), strict=True)
        return [b.cpu_per_request / a.cpu_per_request for a, b in pairs if a.cpu_per_request]

    def worst_rss(self, moment: str) -> list[float]:
        """Per run: the largest VmRSS of a worker at `moment`, in MB."""
        return [max(m["VmRSS"] for m in run.values()) / MB for run in self.memory.get(moment, [])]

    def worst_idle(self) -> list[float]:
        return [max(run.values()) for run in self.idle]


def note_problems(server: Gunicorn, result: SizeResult, what: str) -> None:
    for sign in server.bad_signs():
        result.problems.append(f"{result.articles:,} articles, {what}: the gunicorn log has {sign!r}")


def bench_size(articles: int, args: argparse.Namespace, cache: Path) -> SizeResult:
    print(f"\n== {articles:,} articles, {plural(args.runs, 'run')}", flush=True)
    pristine = common.corpus_folder(articles, args.seed, cache)
    result = SizeResult(articles)
    work = Path(tempfile.mkdtemp(prefix="feedpub-bench-serve-"))
    try:
        content = common.copy_content(pristine, work / "content")
        edited = corpus.newest_article(content)
        print(f"  corpus {pristine}, copied to {content}; edits go to {edited.relative_to(content)}")
        env = {
            "FEEDPUB_CONTENT_DIR": str(content),
            "FEEDPUB_BASE_URL": BASE_URL,
            "XDG_CACHE_HOME": str(work / "xdg-cache"),
        }
        if args.reload_interval is not None:
            env["FEEDPUB_RELOAD_INTERVAL"] = f"{args.reload_interval:g}"
        common.warn_if_busy()

        # 1. Start-up on the store a build left.
        built = work / "built" / "site.sqlite3"
        feedpub = Path(sys.executable).with_name("feedpub")
        began = time.perf_counter()
        subprocess.run(
            [
                str(feedpub),
                "build",
                str(content),
                "--out",
                str(work / "built-out"),
                "--base-url",
                BASE_URL,
                "--store",
                str(built),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        print(f"  feedpub build made the store {built} in {time.perf_counter() - began:.1f} s (not timed)")
        for run in range(args.runs):
            copy = work / f"built-{run}" / "site.sqlite3"
            copy.parent.mkdir()
            for suffix in ("", "-wal"):  # no process has it open: the pair is consistent
                if Path(f"{built}{suffix}").exists():
                    shutil.copy2(f"{built}{suffix}", f"{copy}{suffix}")
            server = start(f"built-{run}", {**env, "FEEDPUB_STORE": str(copy)}, args, work, tagged=True)
            try:
                result.start_built.append(server.first_answer("/all.atom", args.startup_timeout))
                ready = server.wait_workers(args.workers, args.startup_timeout)
            finally:
                common.stop(server)
            note_problems(server, result, "start on a built store")
            result.parsed["store of a build"].append(parsed_at_start(server, ready))
            print(
                f"  run {run + 1}: store left by a build: first 200 after {result.start_built[-1]:.2f} s",
                flush=True,
            )

        # 2. Empty store, then a restart on the store that left.
        for key in (
            "start, empty store",
            "start, current store",
            "every subscription document",
            "after the edits",
        ):
            result.memory[key] = []
        store = work / "store-0" / "site.sqlite3"
        for run in range(args.runs):
            store = work / f"store-{run}" / "site.sqlite3"
            server = start(f"empty-{run}", {**env, "FEEDPUB_STORE": str(store)}, args, work, tagged=True)
            try:
                result.start_empty.append(server.first_answer("/all.atom", args.startup_timeout))
                ready = server.wait_workers(args.workers, args.startup_timeout)
                result.ready_empty.append(max(ready.values()) - server.started)
                result.memory["start, empty store"].append(worker_memory(server))
            finally:
                common.stop(server)
            note_problems(server, result, "start on an empty store")
            result.parsed["empty store"].append(parsed_at_start(server, ready))

            server = start(f"current-{run}", {**env, "FEEDPUB_STORE": str(store)}, args, work, tagged=True)
            try:
                result.start_current.append(server.first_answer("/all.atom", args.startup_timeout))
                ready = server.wait_workers(args.workers, args.startup_timeout)
                result.parsed["current store"].append(parsed_at_start(server, ready))
                result.ready_current.append(max(ready.values()) - server.started)
                pids = sorted(ready)
                result.memory["start, current store"].append(worker_memory(server))

                paths = common.subscription_documents(server.port)
                result.documents = len(paths)
                connections = WorkerConnections(server, pids)
                try:
                    for pid in pids:
                        for path in paths:
                            status, _ = connections.get(pid, path)
                            if status != 200:
                                sys.exit(f"worker {pid} answered {status} for {path}")
                finally:
                    connections.close()
                result.memory["every subscription document"].append(worker_memory(server))

                time.sleep(1.0)  # let the last answers settle
                master = server.process.pid
                window = common.CpuWindow([master, *pids])
                time.sleep(args.idle)
                elapsed, used = window.stop()
                result.idle.append({pid: used[pid] * 60 / elapsed for pid in pids})
                result.idle_master.append(used[master] * 60 / elapsed)
                result.idle_threads.append(
                    {
                        pid: sorted(
                            (
                                (window.names[pid][tid], v * 60 / elapsed)
                                for tid, v in window.by_thread[pid].items()
                            ),
                            key=lambda pair: -pair[1],
                        )
                        for pid in pids
                    }
                )

                for index in range(args.edits):
                    time.sleep(args.edit_pause)
                    marker = f"(bench edit {run + 1}.{index + 1})"
                    result.edits.append(edit_once(server, edited, marker, pids, args.edit_timeout))
                result.memory["after the edits"].append(worker_memory(server))
            finally:
                common.stop(server)
            note_problems(server, result, "start on a current store")
            edits = result.edits[-args.edits :] if args.edits else []
            parsed = "; ".join(
                f"{kind}: {' + '.join(str(n) for n in runs[-1].values()) or 0}"
                for kind, runs in result.parsed.items()
                if runs
            )
            print(
                f"  run {run + 1}: first 200 after {result.start_empty[-1]:.2f} s on an empty store, "
                f"{result.start_current[-1]:.2f} s on the store it left; worker RSS "
                f"{memory_line(result.memory['every subscription document'][-1])} after "
                f"{plural(result.documents, 'document')} from each; idle CPU "
                + ", ".join(f"{v:.3f}" for v in result.idle[-1].values())
                + " s/min per worker; edit served by every worker after "
                + ", ".join(f"{e.every_worker:.3f}" for e in edits)
                + f" s; files parsed at start-up ({parsed}); load {common.loadavg()}",
                flush=True,
            )

        # 3. Throughput: a cached feed against the bare route.
        if args.rounds:
            throughput(result, {**env, "FEEDPUB_STORE": str(store)}, args, work)
        for problem in result.problems:
            print(f"  PROBLEM: {problem}")
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def throughput(result: SizeResult, env: dict[str, str], args: argparse.Namespace, work: Path) -> None:
    path = args.path
    feedpub = start("feedpub", env, args, work, tagged=False)
    bare = None
    try:
        feedpub.first_answer(path, args.startup_timeout)
        feedpub.wait_workers(args.workers, args.startup_timeout)
        status, headers, body = common.request(feedpub.port, path)
        if status != 200:
            sys.exit(f"feedpub answered {status} for {path}")
        body_file = work / "bare-body"
        body_file.write_bytes(body)
        bare_env = {"BENCH_BODY_FILE": str(body_file), "BENCH_CONTENT_TYPE": headers["content-type"]}
        bare = common.start_gunicorn(
            "bare",
            "bare_app:app",
            cwd=BENCH,
            env=bare_env,
            work=work,
            workers=args.workers,
            threads=args.threads,
            options=args.gunicorn_arg,
        )
        bare.first_answer(path, 60)
        bare.wait_workers(args.workers, 60)
        status, bare_headers, bare_body = common.request(bare.port, path)
        if (status, bare_body, bare_headers["content-type"]) != (200, body, headers["content-type"]):
            sys.exit(f"the bare route answered {status}, {bare_headers.get('content-type')}, other bytes")
        entries = body.count(b"<entry>") + body.count(b"<item>")
        print(
            f"  throughput of {path} ({len(body):,} bytes, {entries} entries, {headers['content-type']}); "
            f"the bare route answers the same bytes; wrk -t{args.wrk_threads} -c{args.connections} "
            f"-d{args.duration:g}s, {args.warmup:g} s warm-up each",
            flush=True,
        )
        servers = [("feedpub", feedpub), ("bare", bare)]
        for what, server in servers:
            common.wrk(
                what,
                server.port,
                path,
                threads=args.wrk_threads,
                connections=args.connections,
                seconds=args.warmup,
            )
        result.loads = {"feedpub": [], "bare": []}
        for index in range(args.rounds):
            order = servers if index % 2 == 0 else servers[::-1]
            for what, server in order:
                pids = [server.process.pid, *server.workers()]
                cpu = sum(map(common.cpu_seconds, pids))
                load = common.wrk(
                    what,
                    server.port,
                    path,
                    threads=args.wrk_threads,
                    connections=args.connections,
                    seconds=args.duration,
                )
                load.cpu_seconds = sum(map(common.cpu_seconds, pids)) - cpu
                if load.non_2xx_3xx or load.socket_errors:
                    sys.exit(
                        f"{what}: {load.non_2xx_3xx} answers outside 2xx/3xx, "
                        f"{load.socket_errors} socket errors"
                    )
                result.loads[what].append(load)
            print(
                f"  round {index + 1} ({' then '.join(w for w, _ in order)}): "
                f"feedpub {result.loads['feedpub'][-1].requests_per_second:,.0f}/s "
                f"({result.loads['feedpub'][-1].cpu_per_request:,.0f} µs CPU each), "
                f"bare {result.loads['bare'][-1].requests_per_second:,.0f}/s "
                f"({result.loads['bare'][-1].cpu_per_request:,.0f} µs); "
                f"ratio {result.ratios()[-1]:.3f}; load {common.loadavg()}",
                flush=True,
            )
        result.bare_memory = {pid: common.memory(pid) for pid in bare.workers()}
    finally:
        if bare is not None:
            common.stop(bare)
        common.stop(feedpub)
    note_problems(feedpub, result, "throughput")


# -- printing ----------------------------------------------------------------------------


def print_size(result: SizeResult, args: argparse.Namespace) -> None:
    print(f"\n{result.articles:,} articles, {plural(args.runs, 'run')}: median (min–max)")
    rows = [
        ("first 200, store left by a build", result.start_built, " s", 2),
        ("first 200, empty store", result.start_empty, " s", 2),
        ("  every worker ready, empty store", result.ready_empty, " s", 2),
        ("first 200, current store (restart)", result.start_current, " s", 2),
        ("  every worker ready, current store", result.ready_current, " s", 2),
    ]
    for moment in result.memory:
        rows.append((f"worker RSS, {moment}", result.worst_rss(moment), " MB", 0))
    for moment in ("start, empty store", "every subscription document"):
        runs = result.memory.get(moment, [])
        rows.append(
            (f"worker Pss, {moment}", [max(m.get("Pss", 0) for m in r.values()) / MB for r in runs], " MB", 0)
        )
        rows.append(
            (f"worker peak RSS, {moment}", [max(m["VmHWM"] for m in r.values()) / MB for r in runs], " MB", 0)
        )
    rows += [
        ("idle CPU, busiest worker", result.worst_idle(), " s/min", 3),
        ("idle CPU, quietest worker", [min(run.values()) for run in result.idle], " s/min", 3),
        ("idle CPU, gunicorn master", result.idle_master, " s/min", 3),
        ("edit → served by every worker", [e.every_worker for e in result.edits], " s", 3),
        ("edit → served by a first worker", [min(e.per_worker.values()) for e in result.edits], " s", 3),
        (
            "feedpub, cached feed",
            [x.requests_per_second for x in result.loads.get("feedpub", [])],
            " req/s",
            0,
        ),
        (
            "bare Flask route, same bytes",
            [x.requests_per_second for x in result.loads.get("bare", [])],
            " req/s",
            0,
        ),
        ("feedpub / bare, same round", result.ratios(), "×", 3),
        ("feedpub CPU per answer", [x.cpu_per_request for x in result.loads.get("feedpub", [])], " µs", 0),
        ("bare CPU per answer", [x.cpu_per_request for x in result.loads.get("bare", [])], " µs", 0),
        ("feedpub / bare by CPU per answer", result.cpu_ratios(), "×", 3),
    ]
    for label, values, unit, digits in rows:
        if values:
            print(f"  {label:<46} {summary(values, unit, digits)}")
    if result.idle_threads:
        busiest = max(result.idle[-1], key=result.idle[-1].get)
        threads = ", ".join(f"{name} {v:.3f}" for name, v in result.idle_threads[-1][busiest] if v >= 0.0005)
        print(f"  (idle CPU of the busiest worker, last run, by thread: {threads or 'none'} s/min)")
    went_back = sum(e.went_back for e in result.edits)
    if result.edits:
        print(
            f"  ({plural(len(result.edits), 'edit')}, "
            f"{sum(e.requests for e in result.edits):,} requests polled; "
            f"{went_back} answers went back to the old bytes after a worker had served the new ones)"
        )
    if result.bare_memory:
        print(f"  (the bare Flask workers, for scale: {memory_line(result.bare_memory)})")
    print(
        f"  (worker memory: the largest worker's; RSS after requesting the {result.documents:,} subscription "
        f"documents from every worker; MB = 10^6 bytes; idle CPU over {args.idle:g} s windows, per minute)"
    )


def figures(result: SizeResult) -> dict[str, float]:
    found: dict[str, float] = {}

    def put(name: str, values: list[float]) -> None:
        if values:
            found[name] = statistics.median(values)

    put("first 200, current store", result.start_current)
    put("first 200, built store", result.start_built)
    put("first 200, empty store", result.start_empty)
    put("worker RSS", result.worst_rss("every subscription document"))
    put("idle CPU per worker", result.worst_idle())
    put("edit → every worker", [e.every_worker for e in result.edits])
    put("feedpub / bare", result.ratios())
    return found


def print_overview(results: list[SizeResult], interval: float) -> None:
    print("\nthe table of issue 8, serving columns (medians; gunicorn gthread 2×4):\n")
    print(
        "| articles | first 200: current store / store of a build / empty store | RSS per worker | "
        "idle CPU per worker | edit → every worker | feedpub / bare |"
    )
    print("|---|---|---|---|---|---|")

    def show(f: dict[str, float], name: str, form: str) -> str:
        return form.format(f[name]) if name in f else "–"

    for result in results:
        f = figures(result)
        print(
            f"| {result.articles:,} | {show(f, 'first 200, current store', '{:.2f} s')} / "
            f"{show(f, 'first 200, built store', '{:.2f} s')} / "
            f"{show(f, 'first 200, empty store', '{:.2f} s')} "
            f"| {show(f, 'worker RSS', '{:.0f} MB')} "
            f"| {show(f, 'idle CPU per worker', '{:.3f} s per minute')} "
            f"| {show(f, 'edit → every worker', '{:.2f} s')} | {show(f, 'feedpub / bare', '{:.2f}×')} |"
        )
    print(f"  (reload interval {interval:g} s)")
    if len(results) > 1:
        print("\ngrowth between sizes (ratio of the medians; linear growth = the size ratio):")
        by_size = {result.articles: figures(result) for result in results}
        names = {name for f in by_size.values() for name in f}
        for name in sorted(names):
            ratios = common.growth({size: f[name] for size, f in by_size.items() if name in f})
            if not ratios:
                continue
            text = ", ".join(
                f"{a:,} → {b:,} ({b / a:g}× the articles): {ratio:.2f}×" for a, b, ratio in ratios
            )
            print(f"  {name:<26} {text}")


def print_targets(results: list[SizeResult], args: argparse.Namespace, interval: float) -> None:
    by_size = {result.articles: figures(result) for result in results}

    def values(name: str) -> dict[int, float | None]:
        return {size: f.get(name) for size, f in by_size.items()}

    targets = [
        Target(
            "first 200 with a current store (restart)",
            100_000,
            3,
            " s",
            values=values("first 200, current store"),
        ),
        Target(
            "first 200 with the store of a build", 100_000, 3, " s", values=values("first 200, built store")
        ),
        Target("RSS of a serving worker", 100_000, 200, " MB", values=values("worker RSS")),
        Target("idle CPU per worker", None, 0.1, " s per minute", values=values("idle CPU per worker")),
        Target(
            f"one edit served by every worker (reload interval {interval:g} s + 0.5 s)",
            None,
            interval + 0.5,
            " s",
            values=values("edit → every worker"),
        ),
        Target(
            "cached feed, feedpub / bare Flask",
            None,
            1.0,
            "×",
            at_most=False,
            values=values("feedpub / bare"),
        ),
    ]
    print("\ntargets of issue 8 (verdicts on medians):")
    for target in targets:
        for line in target.lines(args.smoke):
            print(line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        default=",".join(map(str, common.DEFAULT_SIZES)),
        help="corpus sizes in articles, e.g. 1000,10000,100000 (default 1000,10000)",
    )
    parser.add_argument("--runs", type=int, default=3, help="runs (gunicorn starts of each kind) per size")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--smoke",
        action="store_true",
        help=f"{SMOKE_SIZE} articles, 1 run, short windows, no verdicts: checks the script",
    )
    parser.add_argument("--idle", type=float, default=60, help="seconds of the idle-CPU window (default 60)")
    parser.add_argument("--edits", type=int, default=3, help="edits per run (default 3)")
    parser.add_argument("--edit-pause", type=float, default=1.0, help="seconds before each edit (default 1)")
    parser.add_argument("--edit-timeout", type=float, default=60)
    parser.add_argument(
        "--reload-interval",
        type=float,
        help=f"FEEDPUB_RELOAD_INTERVAL (default: not set; feedpub's {DEFAULT_RELOAD_INTERVAL:g} s)",
    )
    parser.add_argument("--rounds", type=int, default=5, help="wrk rounds, each feedpub and bare (0: none)")
    parser.add_argument("--duration", type=int, default=10, help="seconds of wrk per server and round")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of wrk per server before the rounds")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker (default 4)")
    parser.add_argument("--path", default="/all.atom", help="the cached feed wrk loads")
    parser.add_argument("--preload", action="store_true", help="gunicorn --preload for feedpub")
    parser.add_argument(
        "--gunicorn-arg",
        action="append",
        default=[],
        help="one more gunicorn option for every server, e.g. --gunicorn-arg=--timeout=120",
    )
    parser.add_argument("--startup-timeout", type=float, default=900)
    parser.add_argument("--cache", type=Path, help=f"folder of the cached corpora (default {common.CACHE})")
    parser.add_argument("--json", type=Path, help="also write every measurement to this file")
    args = parser.parse_args(argv)
    try:
        sizes = [SMOKE_SIZE] if args.smoke else common.parse_sizes(args.sizes)
    except ValueError as exc:
        parser.error(str(exc))
    if args.smoke:
        args.runs, args.idle, args.edits, args.edit_pause = 1, 2, 1, 0.5
        args.rounds, args.duration, args.warmup = 2, 1, 1
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if shutil.which("wrk") is None and args.rounds:
        if not args.smoke:
            sys.exit(
                "wrk is not installed (Debian: apt-get install wrk); --rounds 0 skips the throughput runs"
            )
        print("  wrk is not installed: no throughput runs (apt-get install wrk)")
        args.rounds = 0
    interval = args.reload_interval if args.reload_interval is not None else DEFAULT_RELOAD_INTERVAL

    print(
        f"feedpub serving benchmark: {', '.join(f'{s:,}' for s in sizes)} articles, "
        f"{plural(args.runs, 'run')} each{' (smoke run: no verdicts)' if args.smoke else ''}"
    )
    print(f"  {common.machine()}")
    print(
        f"  {common.feedpub_code()}; gunicorn gthread {args.workers} workers × {args.threads} threads"
        f"{' --preload' if args.preload else ''}; reload interval {interval:g} s"
        + (f"; {common.wrk_version()}" if args.rounds else "")
    )
    smoke_cache = (
        tempfile.mkdtemp(prefix="feedpub-bench-smoke-") if args.smoke and args.cache is None else None
    )
    cache = args.cache or (Path(smoke_cache) if smoke_cache else common.CACHE)
    code = common.CodeWatch()
    results = []
    try:
        for size in sizes:
            results.append(bench_size(size, args, cache))
            if code.changed():
                results[-1].problems.append(
                    f"{size:,}: feedpub's code changed during the runs (a store of other code is set aside, "
                    "so a start on a current store may have been one on an empty store): "
                    "these figures are void"
                )
                print(f"  PROBLEM: {results[-1].problems[-1]}")
    finally:
        if smoke_cache:
            shutil.rmtree(smoke_cache, ignore_errors=True)
    for result in results:
        print_size(result, args)
    print_overview(results, interval)
    print_targets(results, args, interval)
    print(f"\nload average now {common.loadavg()}")
    problems = [problem for result in results for problem in result.problems]
    if args.json:
        record = {
            "sizes": sizes,
            "args": {k: v for k, v in vars(args).items() if k != "cache"},
            "results": [asdict(r) for r in results],
        }
        args.json.write_text(json.dumps(record, indent=2, default=str) + "\n")
    for problem in problems:
        print(f"PROBLEM: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
