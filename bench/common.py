"""What the benchmarks share: the cached corpus, statistics and verdicts,
/proc readings, HTTP requests, gunicorn and wrk.

bench/ is not a package and imports nothing from tests/: every script puts
this folder on ``sys.path`` and imports this module.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))

import corpus  # noqa: E402 - bench/ is not a package

# Measure commands as an installed program runs, with its compiled bytecode
# cached: some machines set PYTHONDONTWRITEBYTECODE, and every feedpub (and
# Pelican) run would then compile its modules from source again.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

BASE_URL = "https://feeds.example.org"
#: Sizes measured unless --sizes says otherwise; 100,000 only on demand.
DEFAULT_SIZES = (1_000, 10_000)
CACHE = BENCH / ".cache"
#: Memory figures are in MB of 10^6 bytes.
MB = 1_000_000


# -- sizes and the corpus ---------------------------------------------------------------


def parse_sizes(text: str) -> list[int]:
    """``1000,10000,100000`` (or ``1k,10k,100k``) as a sorted list."""
    sizes = []
    for part in text.split(","):
        part = part.strip().lower().replace("_", "")
        if not part:
            continue
        number = int(part[:-1]) * 1000 if part.endswith("k") else int(part)
        if number < 1:
            raise ValueError(f"size {part!r} is not at least 1")
        sizes.append(number)
    if not sizes:
        raise ValueError("no sizes given")
    return sorted(set(sizes))


def corpus_folder(articles: int, seed: int = 0, cache: Path = CACHE) -> Path:
    """The synthetic corpus of `articles` (bench/corpus.py), generated into
    `cache` the first time."""
    folder = Path(cache) / f"corpus-v{corpus.VERSION}-n{articles}-s{seed}"
    return cached_folder(folder, lambda partial: corpus.generate(partial, articles, seed=seed))


def cached_folder(folder: Path, make) -> Path:  # noqa: ANN001 - make(folder) -> anything
    """`folder`, made by ``make(partial)`` unless a complete copy is there
    (into a partial folder renamed when complete, so that an interrupted run
    never leaves half a corpus behind)."""
    if (folder / ".complete").exists():
        return folder
    partial = folder.with_name(f"{folder.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    started = time.perf_counter()
    _in_child(make, partial)
    (partial / ".complete").write_text("complete\n")
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)
    print(f"  made {folder} in {time.perf_counter() - started:.1f} s", flush=True)
    return folder


def _in_child(make, partial: Path) -> None:  # noqa: ANN001
    """Run ``make(partial)`` in a forked process. Generating a corpus keeps
    its memory (Pelican's conversion of 10,000 articles: about 180 MB), and
    a command this process then starts is forked from it: the kernel keeps a
    process's peak RSS across exec, so every measured build would report at
    least this process's size."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            make(partial)
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"making {partial.name} failed")


def copy_content(source: Path, target: Path) -> Path:
    """A working copy of a cached corpus (the benchmarks edit it), without
    an id ledger a profiling build may have left in the cache."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(".complete", ".feedpub-ids"))
    return target


# -- statistics, verdicts, the machine ---------------------------------------------------


def stats(values: Iterable[float]) -> tuple[float, float, float]:
    found = list(values)
    return statistics.median(found), min(found), max(found)


def summary(values: Iterable[float], unit: str = "", digits: int = 2) -> str:
    """``median (min–max)`` with `unit`; one value alone when there is one."""
    found = list(values)
    if not found:
        return "–"
    median, low, high = stats(found)
    if len(found) == 1:
        return f"{median:,.{digits}f}{unit}"
    return f"{median:,.{digits}f}{unit} ({low:,.{digits}f}–{high:,.{digits}f}, n={len(found)})"


def growth(values: dict[int, float]) -> list[tuple[int, int, float]]:
    """(smaller size, larger size, value ratio) for consecutive sizes."""
    sizes = sorted(values)
    return [(a, b, values[b] / values[a]) for a, b in zip(sizes, sizes[1:], strict=False) if values[a] > 0]


def verdict(value: float | None, target: float, *, at_most: bool = True) -> str:
    if value is None:
        return "not measured"
    ok = value <= target if at_most else value >= target
    return "met" if ok else "MISSED"


@dataclass
class Target:
    """One target of issue 8 and the figure that answers it."""

    what: str
    #: The size it is set for; None: every size measured.
    size: int | None
    limit: float
    unit: str
    at_most: bool = True
    #: Figure per size (None: not measured at that size).
    values: dict[int, float | None] = field(default_factory=dict)

    def lines(self, smoke: bool) -> list[str]:
        sign = "≤" if self.at_most else "≥"
        sizes = [self.size] if self.size is not None else sorted(self.values)
        found = []
        for size in sizes:
            value = self.values.get(size)
            head = f"  {self.what} at {size:,} articles: target {sign} {self.limit:g}{self.unit}"
            if value is None:
                more = "" if size in self.values else f" (add {size} to --sizes)"
                found.append(f"{head}: not measured{more}")
            elif smoke:
                found.append(f"{head}, measured {value:.3g}{self.unit} (smoke run: no verdict)")
            else:
                mark = verdict(value, self.limit, at_most=self.at_most)
                found.append(f"{head}, measured {value:.3g}{self.unit}: {mark}")
        return found


def loadavg() -> str:
    return " ".join(f"{load:.2f}" for load in os.getloadavg())


def warn_if_busy() -> None:
    load, cpus = os.getloadavg()[0], os.cpu_count() or 1
    if load > cpus / 2:
        print(
            f"  WARNING: the machine is busy (load {load:.1f} on {cpus} CPUs): wall times will be noisy; "
            "CPU times and ratios measured back to back are less affected",
            flush=True,
        )


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine() -> str:
    return (
        f"{platform.node()}: {platform.system()} {platform.machine()}, {os.cpu_count()} CPUs "
        f"({_cpu_model()}), Python {platform.python_version()}; load average {loadavg()}"
    )


def feedpub_folder(python: Path = Path(sys.executable)) -> Path | None:
    """The folder of the feedpub package that `python` imports."""
    found = subprocess.run(
        [str(python), "-c", "import feedpub, os; print(os.path.dirname(feedpub.__file__))"],
        capture_output=True,
        text=True,
        cwd="/",
    )
    return Path(found.stdout.strip()) if found.stdout.strip() else None


def code_digest(folder: Path | None) -> str:
    """A digest of the feedpub package's source. feedpub sets aside a store
    written by other code, so a change of its code during a benchmark (an
    edit in the checkout) turns the next build into a cold one: the scripts
    compare this before and after each size."""
    digest = hashlib.sha256()
    if folder is not None:
        for path in sorted(folder.rglob("*.py")):
            digest.update(path.relative_to(folder).as_posix().encode())
            try:
                digest.update(path.read_bytes())
            except OSError:
                pass
    return digest.hexdigest()


class CodeWatch:
    """Says whether the measured feedpub's code changed since the last check."""

    def __init__(self, python: Path = Path(sys.executable)) -> None:
        self.folder = feedpub_folder(python)
        self.digest = code_digest(self.folder)

    def changed(self) -> bool:
        now = code_digest(self.folder)
        changed, self.digest = now != self.digest, now
        return changed


def feedpub_code(python: Path = Path(sys.executable)) -> str:
    """Where the measured feedpub's code is, and its commit (``-dirty`` when
    the checkout has changes)."""
    folder = feedpub_folder(python)
    if folder is None:
        return "feedpub: not importable by " + str(python)
    described = subprocess.run(
        ["git", "-C", folder, "describe", "--always", "--dirty"], capture_output=True, text=True
    )
    return f"feedpub code in {folder}" + (
        f" (git {described.stdout.strip()})" if described.returncode == 0 else ""
    )


def plural(number: int, word: str, words: str | None = None) -> str:
    return f"{number:,} {word if number == 1 else words or word + 's'}"


# -- /proc -------------------------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` so far (every thread)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def thread_cpu(pid: int) -> dict[int, int]:
    """Thread id → nanoseconds on a CPU so far (``/proc/PID/task/TID/schedstat``)."""
    found = {}
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            found[int(task)] = int(Path(f"/proc/{pid}/task/{task}/schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return found


def _comm(pid: int, tid: int) -> str:
    try:
        name = Path(f"/proc/{pid}/task/{tid}/comm").read_text().strip()
    except OSError:
        name = "?"
    return f"{name} (main)" if tid == pid else name


class CpuWindow:
    """CPU seconds each of some processes uses between `__init__` and `stop`:
    summed over their threads in nanoseconds where no thread ended meanwhile,
    else from /proc/PID/stat (in clock ticks, 10 ms)."""

    def __init__(self, pids: Iterable[int]) -> None:
        self.pids = list(pids)
        self.ticks = {pid: cpu_seconds(pid) for pid in self.pids}
        self.threads = {pid: thread_cpu(pid) for pid in self.pids}
        self.began = time.monotonic()
        #: After `stop`: per process, CPU seconds of each thread (threads that
        #: ended meanwhile are missing).
        self.by_thread: dict[int, dict[int, float]] = {}
        #: After `stop`: per process, each thread's name (``comm``; the main one is its pid).
        self.names: dict[int, dict[int, str]] = {}

    def stop(self) -> tuple[float, dict[int, float]]:
        """(seconds elapsed, CPU seconds used per process)."""
        ticks = {pid: cpu_seconds(pid) for pid in self.pids}
        threads = {pid: thread_cpu(pid) for pid in self.pids}
        elapsed = time.monotonic() - self.began
        used = {}
        for pid in self.pids:
            before, after = self.threads[pid], threads[pid]
            self.by_thread[pid] = {tid: (after[tid] - before.get(tid, 0)) / 1e9 for tid in after}
            self.names[pid] = {tid: _comm(pid, tid) for tid in after}
            if before.keys() <= after.keys():
                used[pid] = sum(self.by_thread[pid].values())
            else:
                used[pid] = ticks[pid] - self.ticks[pid]
        return elapsed, used


def memory(pid: int, pss: bool = True) -> dict[str, int]:
    """VmRSS and VmHWM (peak) of `pid` and, with `pss`, its Pss (pages shared
    with other processes counted proportionally), in bytes."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            found[name] = int(value.split()[0]) * 1024
    if pss:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    found["Pss"] = int(line.split()[1]) * 1024
                    break
        except OSError:
            pass
    return found


def children(pid: int) -> list[int]:
    """The live children of `pid`, whichever of its threads started them."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            found += [int(child) for child in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
        except OSError:
            pass
    return found


class TreeSampler:
    """Samples the memory of a process and all its descendants every
    `interval` seconds, in a thread: each process's last seen VmHWM (its own
    peak RSS: what its ``ru_maxrss`` would say, but for growth in its last
    `interval`), and the peak of the tree's summed VmRSS at one instant."""

    def __init__(self, pid: int, interval: float, pss: bool = False) -> None:
        self.pid = pid
        self.interval = interval
        #: Also sample Pss (slower: the kernel walks each process's page tables).
        self.pss = pss
        self.peaks: dict[int, int] = {}
        self.peak_sum = 0
        #: Peak of the tree's summed Pss at one instant (with `pss`): pages
        #: shared between processes counted once.
        self.peak_pss = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            self.sample()
            if self._stop.wait(self.interval):
                break

    def sample(self) -> None:
        pending, seen, total, pss = [self.pid], set(), 0, 0
        while pending:
            pid = pending.pop()
            if pid in seen:
                continue
            seen.add(pid)
            try:
                found = memory(pid, pss=self.pss)
            except (OSError, ValueError):
                continue
            if "VmHWM" not in found:  # a zombie
                continue
            self.peaks[pid] = max(self.peaks.get(pid, 0), found["VmHWM"])
            total += found["VmRSS"]
            pss += found.get("Pss", 0)
            pending += children(pid)
        self.peak_sum = max(self.peak_sum, total)
        self.peak_pss = max(self.peak_pss, pss)
        self.samples += 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def sum_of_peaks(self) -> int:
        return sum(self.peaks.values())


# -- HTTP --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def request(
    port: int, path: str, headers: dict[str, str] | None = None, method: str = "GET", timeout: float = 30
) -> tuple[int, dict[str, str], bytes]:
    """(status, headers with lower-case names, body) of one request on a new connection."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, headers=headers or {})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


#: Every format of a feed.
FEED_FORMATS = ("rss", "atom", "json", "html")


def subscription_documents(port: int) -> list[str]:
    """``/``, ``/feeds.opml`` and every feed of the OPML list in every format,
    as served on `port`."""
    status, _, body = request(port, "/feeds.opml")
    if status != 200:
        sys.exit(f"/feeds.opml answered {status}")
    paths = ["/", "/feeds.opml"]
    for outline in ET.fromstring(body).iter("outline"):
        url = outline.get("xmlUrl")
        if url:
            stem = "/" + url.split("/", 3)[3].rpartition(".")[0]
            paths += [f"{stem}.{fmt}" for fmt in FEED_FORMATS]
    return sorted(paths)


# -- gunicorn ----------------------------------------------------------------------------

#: The settings file of every gunicorn the benchmarks start: no control socket
#: (several gunicorns on one machine would share the default one), a log line
#: when each worker has loaded the app, and, with BENCH_WORKER_HEADER=1, the
#: worker's pid in an ``X-Bench-Worker`` header (to tell which worker
#: answered; never set for throughput runs).
GUNICORN_CONF = """\
import logging
import os
import sys
import time

control_socket_disable = True

# feedpub's INFO lines (each refresh: files parsed, version) on stderr with
# the time and pid: gunicorn configures its own loggers only. Set here, in
# the master, so that a worker's log is on before it loads the app.
_handler = logging.StreamHandler(sys.stderr)
_handler.setFormatter(logging.Formatter("bench-log %(created).6f %(process)d %(message)s"))
logging.getLogger("feedpub").addHandler(_handler)
logging.getLogger("feedpub").setLevel(logging.INFO)


def post_worker_init(worker):
    sys.stderr.write(f"bench-ready {time.time():.6f} {os.getpid()}\\n")
    sys.stderr.flush()
    if os.environ.get("BENCH_WORKER_HEADER") == "1":
        app, pid = worker.wsgi, str(os.getpid())

        def tagged(environ, start_response):
            def start(status, headers, exc_info=None):
                return start_response(status, [*headers, ("X-Bench-Worker", pid)], exc_info)

            return app(environ, start)

        worker.wsgi = tagged
"""

_READY = re.compile(rb"^bench-ready (\d+\.\d+) (\d+)$", re.MULTILINE)
_LOG = re.compile(rb"^bench-log (\d+\.\d+) (\d+) (.*)$", re.MULTILINE)
_PARSED = re.compile(r"content refreshed: (\d+) files parsed")


@dataclass
class Gunicorn:
    """A gunicorn started by a benchmark, and its log."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    #: time.time() and time.monotonic() just before it was started.
    started: float
    started_monotonic: float

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def ready(self) -> dict[int, float]:
        """Worker pid → time.time() when it had loaded the app."""
        text = self.log.read_bytes()
        return {int(pid): float(at) for at, pid in _READY.findall(text)}

    def events(self) -> list[tuple[float, int, str]]:
        """(time, pid, message) of feedpub's log lines."""
        return [
            (float(at), int(pid), message.decode(errors="replace"))
            for at, pid, message in _LOG.findall(self.log.read_bytes())
        ]

    def parsed(self) -> dict[int, int]:
        """Worker pid → content files it parsed, by feedpub's refresh log lines."""
        found: dict[int, int] = {}
        for _, pid, message in self.events():
            match = _PARSED.search(message)
            if match:
                found[pid] = found.get(pid, 0) + int(match[1])
        return found

    def workers(self) -> list[int]:
        return sorted(children(self.process.pid))

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            sys.exit(
                f"{self.name}: gunicorn exited with status {self.process.returncode}:\n"
                + self.output()[-3000:]
            )

    def wait_workers(self, count: int, timeout: float) -> dict[int, float]:
        """Wait until `count` live workers have loaded the app."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            alive = set(self.workers())
            ready = {pid: at for pid, at in self.ready().items() if pid in alive}
            if len(ready) >= count:
                return ready
            time.sleep(0.02)
        stop(self)
        sys.exit(f"{self.name}: {count} workers not ready within {timeout:.0f} s:\n{self.output()[-3000:]}")

    def first_answer(self, path: str, timeout: float, want: int = 200) -> float:
        """Seconds from starting gunicorn to the first `want` answer for
        `path` (polling with new connections)."""
        deadline = self.started_monotonic + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                status = request(self.port, path, timeout=max(1.0, deadline - time.monotonic()))[0]
            except (TimeoutError, ConnectionError, http.client.HTTPException):
                status = None
            if status == want:
                return time.monotonic() - self.started_monotonic
            time.sleep(0.01)
        stop(self)
        sys.exit(f"{self.name}: no {want} for {path} within {timeout:.0f} s:\n{self.output()[-3000:]}")

    def bad_signs(self) -> list[str]:
        text = self.output()
        signs = ("Traceback", "WORKER TIMEOUT", "CRITICAL", "was sent SIG", "refresh failed")
        return [sign for sign in signs if sign in text]


def start_gunicorn(
    name: str,
    app: str,
    *,
    cwd: Path,
    env: dict[str, str],
    work: Path,
    workers: int = 2,
    threads: int = 4,
    options: Iterable[str] = (),
) -> Gunicorn:
    """``gunicorn APP`` as gthread `workers` × `threads` on a free port of 127.0.0.1."""
    conf = work / "gunicorn_bench.conf.py"
    if not conf.exists():
        conf.write_text(GUNICORN_CONF)
    gunicorn = Path(sys.executable).with_name("gunicorn")
    if not gunicorn.exists():
        sys.exit(f"gunicorn is not installed beside {sys.executable}: pip install -e '.[bench]'")
    port = free_port()
    log = work / f"{name}-{port}.log"
    argv = [
        str(gunicorn), "--config", str(conf), "--bind", f"127.0.0.1:{port}",
        "--worker-class", "gthread", "--workers", str(workers), "--threads", str(threads),
        "--log-level", "info", *options, app,
    ]  # fmt: skip
    with open(log, "wb") as stream:
        started, started_monotonic = time.time(), time.monotonic()
        process = subprocess.Popen(
            argv, cwd=cwd, env={**os.environ, **env}, stdin=subprocess.DEVNULL, stdout=stream, stderr=stream
        )
    return Gunicorn(name, port, process, log, started, started_monotonic)


def stop(server: Gunicorn, how: signal.Signals = signal.SIGTERM) -> None:
    if server.process.poll() is None:
        server.process.send_signal(how)
        try:
            server.process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


# -- wrk ---------------------------------------------------------------------------------


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
    *,
    threads: int,
    connections: int,
    seconds: float,
    headers: dict[str, str] | None = None,
) -> Load:
    """``wrk -tT -cC -dSs`` against 127.0.0.1:`port``path`."""
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s"]  # whole seconds
    for name, value in (headers or {}).items():
        argv += ["-H", f"{name}: {value}"]
    argv.append(f"http://127.0.0.1:{port}{path}")
    found = subprocess.run(argv, capture_output=True, text=True)
    if found.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed with status {found.returncode}:\n{found.stdout}{found.stderr}")
    out = found.stdout
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


def wrk_version() -> str:
    found = subprocess.run(["wrk", "-v"], capture_output=True, text=True)
    return " ".join((found.stdout or found.stderr).split()[:2])
