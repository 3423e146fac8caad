"""Build benchmark: feedpub's cold build and one-file rebuild against Pelican.

    .venv/bin/python bench/build.py [--articles 10000] [--runs 5] [--seed 0]
    .venv/bin/python bench/build.py --smoke

On a synthetic corpus of N articles (bench/corpus.py; 4 × N feed entries),
each run measures, in this order and as a new process each time:

(a) feedpub cold build: ``feedpub build CONTENT --out EMPTY_DIR --base-url …
--cache-dir EMPTY_DIR``;
(b) Pelican writing the equivalent feeds (all, per category, per author;
    Atom and RSS; feeds only) from the converted corpus into an empty
    folder (bench/pelican_corpus.py, bench/pelicanconf.py);
(c) feedpub rebuild: the title of the newest article is edited, then
    ``feedpub build`` runs again into the folder (a) built.

It prints the wall time of each (median, min and max over the runs), the
ratios feedpub/Pelican of each run (so both sides of a ratio ran back to
back), and the peak RSS of each process (``ru_maxrss`` of that one child,
from ``os.wait4``), beside the targets of issue 5. ``os.sync()`` runs before
every timed command so that one run's pending disk writes do not land in the
next one's time.

The feedpub measured is the console script beside the running interpreter
(run this with the project's ``.venv/bin/python``), or ``--feedpub PATH``.
Pelican is the one the ``bench`` extra installs beside the running
interpreter (``pip install -e '.[bench]'``), or ``--pelican PATH``. The
corpora are cached in ``bench/.cache`` (``--cache DIR``); the runs work on a
copy in a temporary folder, removed afterwards.

``--smoke`` checks that the script works on 50 articles in one run, with
Pelican only if its environment exists already: for CI, never for figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import corpus  # noqa: E402 - bench/ is not a package

BASE_URL = "https://feeds.example.org"
PELICAN_SETTINGS = BENCH / "pelicanconf.py"

#: Targets of issue 5.
COLD_RATIO_TARGET = 0.25
REBUILD_SECONDS_TARGET = 1.0
REBUILD_RATIO_TARGET = 0.08
RSS_MB_TARGET = 300
#: The corpus size the targets are set for.
TARGET_ARTICLES = 10_000


@dataclass
class Measurement:
    """One timed child process."""

    seconds: float
    #: User plus system CPU time of the process.
    cpu_seconds: float
    #: Peak resident set size of the process, in bytes.
    peak_rss: int
    returncode: int
    stdout: str
    stderr: str


def measure(argv: list[str], cwd: Path) -> Measurement:
    """Run `argv` as a new process; its wall time and its own peak RSS."""
    os.sync()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        process = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        # wait4 gives the resource usage of this child alone, unlike
        # getrusage(RUSAGE_CHILDREN), whose ru_maxrss is the max over all.
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        cpu = usage.ru_utime + usage.ru_stime
        return Measurement(seconds, cpu, usage.ru_maxrss * 1024, process.returncode, out.read(), err.read())


def check(what: str, result: Measurement) -> Measurement:
    if result.returncode != 0:
        sys.exit(f"{what} failed with exit status {result.returncode}:\n{result.stdout}{result.stderr}")
    return result


def cached(folder: Path, make: Callable[[Path], object]) -> Path:
    """`folder`, made by `make(folder)` unless a complete copy is there."""
    marker = folder / ".complete"
    if not marker.exists():
        if folder.exists():
            shutil.rmtree(folder)
        start = time.perf_counter()
        make(folder)
        marker.write_text("complete\n")
        print(f"  made {folder} in {time.perf_counter() - start:.1f} s", flush=True)
    return folder


def pelican_executable(args: argparse.Namespace) -> Path | None:
    """Pelican's command (the ``bench`` extra installs it beside this
    interpreter); None to skip it."""
    if args.no_pelican:
        return None
    if args.pelican:
        return Path(args.pelican)
    executable = Path(sys.executable).with_name("pelican")
    if executable.exists():
        return executable
    if args.smoke:
        print(f"  Pelican skipped: {executable} does not exist (pip install -e '.[bench]')")
        return None
    raise SystemExit(f"Pelican is not installed beside {sys.executable}: pip install -e '.[bench]'")


def version(executable: Path) -> str:
    result = subprocess.run([str(executable), "--version"], capture_output=True, text=True)
    return (result.stdout or result.stderr).strip().splitlines()[-1]


def problem_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def _cpu() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        lines = []
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return names[0] if names else platform.processor() or "unknown CPU"


def _source(feedpub: Path, work: Path) -> str:
    """Where the measured feedpub's code is, and its git commit if in a
    checkout (``-dirty`` when the checkout has changes)."""
    python = feedpub.parent / "python"
    if not python.exists():
        return "an unknown place"
    found = subprocess.run(
        [str(python), "-c", "import feedpub, os; print(os.path.dirname(feedpub.__file__))"],
        cwd=work,
        capture_output=True,
        text=True,
    )
    folder = found.stdout.strip()
    if not folder:
        return "an unknown place"
    described = subprocess.run(
        ["git", "-C", folder, "describe", "--always", "--dirty"], capture_output=True, text=True
    )
    return folder + (f" (git {described.stdout.strip()})" if described.returncode == 0 else "")


def _load() -> str:
    return " ".join(f"{load:.1f}" for load in os.getloadavg())


def _plural(number: int, word: str) -> str:
    return f"{number} {word}{'' if number == 1 else 's'}"


def _record(measurement: Measurement) -> dict[str, object]:
    return asdict(measurement) | {"stdout": measurement.stdout[-500:], "stderr": measurement.stderr[-2000:]}


def stats(values: list[float]) -> tuple[float, float, float]:
    return statistics.median(values), min(values), max(values)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=10_000, help="corpus size (default 10000)")
    parser.add_argument("--runs", type=int, default=5, help="alternating runs (default 5)")
    parser.add_argument("--seed", type=int, default=0, help="corpus seed (default 0)")
    parser.add_argument("--smoke", action="store_true", help="50 articles, 1 run: checks the script works")
    parser.add_argument("--feedpub", help="feedpub command (default: beside this interpreter)")
    parser.add_argument("--pelican", help="pelican command (default: the one beside this Python)")
    parser.add_argument("--no-pelican", action="store_true", help="measure feedpub only")
    parser.add_argument(
        "--pelican-articles-only",
        action="store_true",
        help="Pelican gets one article per file, not one per entry (a lighter baseline, for comparison)",
    )
    parser.add_argument("--cache", type=Path, help=f"folder for the corpora (default: {BENCH}/.cache)")
    parser.add_argument("--json", type=Path, help="also write every measurement to this file")
    args = parser.parse_args(argv)
    if args.smoke:
        args.articles, args.runs = 50, 1
    if args.articles < 1 or args.runs < 1:
        parser.error("--articles and --runs must be at least 1")

    feedpub = Path(args.feedpub) if args.feedpub else Path(sys.executable).parent / "feedpub"
    if not feedpub.exists():
        parser.error(f"{feedpub} does not exist: run with the project's .venv/bin/python or give --feedpub")

    work = Path(tempfile.mkdtemp(prefix="feedpub-bench-"))
    try:
        return _bench(args, feedpub, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _bench(args: argparse.Namespace, feedpub: Path, work: Path) -> int:
    print(
        f"feedpub build benchmark: {args.articles:,} articles (seed {args.seed}), {_plural(args.runs, 'run')}"
    )
    print(
        f"  machine: {platform.system()} {platform.machine()}, {os.cpu_count()} CPUs ({_cpu()}), "
        f"Python {platform.python_version()}"
    )
    print(f"  {version(feedpub)} ({feedpub}), code in {_source(feedpub, work)}")

    pelican = pelican_executable(args)
    if pelican is not None:
        print(f"  Pelican {version(pelican)} ({pelican})")

    cache = args.cache or (work / "cache" if args.smoke else BENCH / ".cache")
    pristine = cached(
        cache / f"corpus-v{corpus.VERSION}-n{args.articles}-s{args.seed}",
        lambda folder: corpus.generate(folder, args.articles, args.seed),
    )
    pelican_content = None
    if pelican is not None:
        import pelican_corpus  # needs PyYAML, as feedpub does

        kind = "articles" if args.pelican_articles_only else "entries"
        pelican_content = cached(
            cache / f"pelican-{kind}-v{corpus.VERSION}-n{args.articles}-s{args.seed}",
            lambda folder: pelican_corpus.convert(pristine, folder, related=kind == "entries"),
        )
        print(f"  Pelican gets one article per {'file' if args.pelican_articles_only else 'feed entry'}")
    content = work / "content"
    shutil.copytree(pristine, content)
    edited = corpus.newest_article(content)
    print(f"  corpus: {pristine} (copied to {content}); rebuilds edit {edited.relative_to(content)}")

    # Compile and cache both programs' bytecode before anything is timed.
    version(feedpub)
    if pelican is not None:
        version(pelican)

    build = [str(feedpub), "build", str(content), "--base-url", BASE_URL, "--out"]
    cold: list[Measurement] = []
    rebuild: list[Measurement] = []
    baseline: list[Measurement] = []
    print(f"\nalternating runs: feedpub cold, {'Pelican, ' if pelican else ''}feedpub rebuild")
    busy = os.getloadavg()[0]
    print(f"  load average before: {_load()}")
    if busy > (os.cpu_count() or 1) / 2:
        print(
            f"  WARNING: the machine is busy (load {busy:.1f} on {os.cpu_count()} CPUs): "
            "wall times will be noisy; the CPU times below are less affected"
        )
    for run in range(args.runs):
        out = work / f"feedpub-{run}"
        out.mkdir()
        # A cold build starts with an empty build cache too; its rebuild
        # then has the cache that build left, as on a real site.
        command = [*build, str(out), "--cache-dir", str(work / f"feedpub-cache-{run}")]
        cold.append(check("feedpub build", measure(command, work)))
        line = f"  run {run + 1}: cold {cold[-1].seconds:6.2f} s"
        if pelican is not None:
            pelican_out = work / f"pelican-{run}"
            pelican_out.mkdir()
            pelican_command = [
                str(pelican),
                str(pelican_content),
                "-o",
                str(pelican_out),
                "-s",
                str(PELICAN_SETTINGS),
            ]
            baseline.append(check("pelican", measure(pelican_command, work)))
            line += f", Pelican {baseline[-1].seconds:6.2f} s"
            if run == 0:
                pelican_files = sorted(
                    p.relative_to(pelican_out) for p in pelican_out.rglob("*") if p.is_file()
                )
            shutil.rmtree(pelican_out)
        corpus.edit_title(edited, f"(edit {run + 1})")
        rebuild.append(check("feedpub rebuild", measure(command, work)))
        line += f", rebuild {rebuild[-1].seconds:6.2f} s (load {_load()})"
        print(line, flush=True)
        shutil.rmtree(out)

    print("\nfeedpub says (first run):")
    print(f"  cold:    {cold[0].stdout.strip()}")
    print(f"  rebuild: {rebuild[0].stdout.strip()}")
    for name, results in (("cold", cold), ("rebuild", rebuild)):
        lines = problem_lines(results[0].stderr)
        if lines:
            print(f"  {name} build printed {len(lines)} lines on stderr, e.g.:")
            for text in lines[:5]:
                print(f"    {text}")
    problems = 0
    match = re.search(r"(\d+) entr(?:y|ies)", cold[0].stdout)
    expected = args.articles * (corpus.RELATED + 1)
    if not match or int(match.group(1)) != expected:
        print(f"  WARNING: expected {expected:,} entries")
        problems += 1
    if pelican is not None:
        feeds = [p for p in pelican_files if p.suffix in (".atom", ".rss")]
        others = [p for p in pelican_files if p.suffix not in (".atom", ".rss")]
        print(
            f"Pelican wrote {len(feeds)} feed files"
            + (f" and {len(others)} other files, e.g. {others[:3]}" if others else " and nothing else")
        )
        lines = problem_lines(baseline[0].stderr)
        if lines:
            print(f"  and printed {len(lines)} lines on stderr, e.g. {lines[:3]}")
        problems += bool(others)

    judged = args.articles == TARGET_ARTICLES

    def row(label: str, values: list[float], unit: str, target: str = "", ok: bool | None = None) -> None:
        median, low, high = stats(values)
        verdict = "" if ok is None or not judged else ("met" if ok else "MISSED")
        print(f"  {label:<34}{median:>9.2f}{low:>9.2f}{high:>9.2f}  {unit:<3} {target:<12}{verdict}")

    mb = 1e6
    print(f"\nresults over {_plural(args.runs, 'run')} ({args.articles:,} articles):")
    print(f"  {'':<34}{'median':>9}{'min':>9}{'max':>9}       target")
    cold_s = [m.seconds for m in cold]
    rebuild_s = [m.seconds for m in rebuild]
    row("feedpub cold build", cold_s, "s")
    if baseline:
        row("Pelican feeds-only build", [m.seconds for m in baseline], "s")
    row(
        "feedpub rebuild, 1 file changed",
        rebuild_s,
        "s",
        f"<= {REBUILD_SECONDS_TARGET} s",
        statistics.median(rebuild_s) <= REBUILD_SECONDS_TARGET,
    )
    cold_ratios = rebuild_ratios = None
    if baseline:
        cold_ratios = [c.seconds / b.seconds for c, b in zip(cold, baseline, strict=True)]
        rebuild_ratios = [r.seconds / b.seconds for r, b in zip(rebuild, baseline, strict=True)]
        row(
            "cold / Pelican (same run)",
            cold_ratios,
            "x",
            f"<= {COLD_RATIO_TARGET}x",
            statistics.median(cold_ratios) <= COLD_RATIO_TARGET,
        )
        row(
            "rebuild / Pelican (same run)",
            rebuild_ratios,
            "x",
            f"<= {REBUILD_RATIO_TARGET}x",
            statistics.median(rebuild_ratios) <= REBUILD_RATIO_TARGET,
        )
    row("CPU time, feedpub cold build", [m.cpu_seconds for m in cold], "s")
    if baseline:
        row("CPU time, Pelican", [m.cpu_seconds for m in baseline], "s")
    row("CPU time, feedpub rebuild", [m.cpu_seconds for m in rebuild], "s")
    if baseline:
        row(
            "CPU cold / Pelican (same run)",
            [c.cpu_seconds / b.cpu_seconds for c, b in zip(cold, baseline, strict=True)],
            "x",
        )
        row(
            "CPU rebuild / Pelican (same run)",
            [r.cpu_seconds / b.cpu_seconds for r, b in zip(rebuild, baseline, strict=True)],
            "x",
        )
    cold_rss = [m.peak_rss / mb for m in cold]
    row(
        "peak RSS, feedpub cold build",
        cold_rss,
        "MB",
        f"<= {RSS_MB_TARGET} MB",
        max(cold_rss) <= RSS_MB_TARGET,
    )
    row("peak RSS, feedpub rebuild", [m.peak_rss / mb for m in rebuild], "MB")
    if baseline:
        row("peak RSS, Pelican", [m.peak_rss / mb for m in baseline], "MB")
    print(
        "  (MB = 10^6 bytes; verdicts on the median, RSS on the max"
        + (")" if judged else f"; targets are for {TARGET_ARTICLES:,} articles, so no verdicts)")
    )

    if args.json:
        record = {
            "articles": args.articles,
            "runs": args.runs,
            "seed": args.seed,
            "feedpub_cold": [_record(m) for m in cold],
            "pelican": [_record(m) for m in baseline],
            "feedpub_rebuild": [_record(m) for m in rebuild],
            "cold_ratios": cold_ratios,
            "rebuild_ratios": rebuild_ratios,
        }
        args.json.write_text(json.dumps(record, indent=2) + "\n")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
