"""Build benchmark: feedpub's cold build, rebuilds and memory, against Pelican.

    .venv/bin/python bench/build.py [--sizes 1000,10000] [--runs 5]
    .venv/bin/python bench/build.py --sizes 1000,10000,100000
    .venv/bin/python bench/build.py --smoke [--no-pelican]

For each size (articles of the synthetic corpus of bench/corpus.py, 4 entries
each), on a copy of the cached corpus, each run measures, every command a new
process:

(a) feedpub cold build: ``feedpub build CONTENT --out EMPTY --base-url …
    --store FRESH`` (a new store path in a temporary folder; the id ledger
    the previous run wrote into the content folder is removed first, so that
    every cold build is a first build);
(b) Pelican 4.12 (the ``bench`` extra) writing the equivalent feeds from the
    converted corpus into an empty folder (bench/pelican_corpus.py,
    bench/pelicanconf.py): the baseline of the cold-build ratio, measured in
    the same run, before (a) in odd runs and after it in even ones;
(c) rebuild after one edit: the title of the newest article (so that its
    feeds change) gets a new prefix, then the same ``feedpub build`` again,
    with the store and output folder (a) left;
(d) rebuild with nothing changed: the same command once more.

Figures: wall time of each (medians, min, max over the runs), CPU time (user
+ system of the process and its workers), cold/Pelican per run, and peak RSS
two ways: **largest process**, the ``ru_maxrss`` that ``os.wait4`` returns
for the command (the maximum over it and the workers it forked and waited
for), and **process tree**, the sum over the command and each of its
workers of that process's own peak (VmHWM of /proc/PID/status, sampled
every --sample-ms; pages a forked worker shares with its parent count in
both, as summing ``ru_maxrss`` would count them); the peak of the tree's
summed VmRSS at one instant is printed too. Then the growth ratio of every
figure between consecutive sizes, a table in the layout of issue 8, and each
target of issue 8 with a verdict (none in --smoke).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402 - bench/ is not a package
import corpus  # noqa: E402
from common import BASE_URL  # noqa: E402
from common import BENCH  # noqa: E402
from common import MB  # noqa: E402
from common import Target  # noqa: E402
from common import plural  # noqa: E402
from common import summary  # noqa: E402

PELICAN_SETTINGS = BENCH / "pelicanconf.py"
SMOKE_SIZE = 40


@dataclass
class Measurement:
    """One timed command."""

    seconds: float
    #: User + system CPU time of the process and the children it waited for.
    cpu_seconds: float
    #: ru_maxrss from os.wait4: the largest of the process and its waited-for children.
    largest: int
    #: Sum over the process and each descendant of its own peak RSS (sampled VmHWM).
    tree: int
    #: Peak of the tree's summed VmRSS at one instant (sampled).
    tree_at_once: int
    #: Peak of the tree's summed Pss at one instant (sampled, with --pss; else 0).
    tree_pss: int
    #: Processes seen in the tree.
    processes: int
    returncode: int
    stdout: str
    stderr: str

    def record(self) -> dict[str, object]:
        return asdict(self) | {"stdout": self.stdout[-500:], "stderr": self.stderr[-2000:]}


def measure(argv: list[str], cwd: Path, sample: float, pss: bool = False) -> Measurement:
    """Run `argv` as a new process: wall time, CPU time, peak RSS."""
    os.sync()  # earlier writes are not flushed during the timed command
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        process = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        sampler = common.TreeSampler(process.pid, sample, pss)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        sampler.stop()
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        largest = usage.ru_maxrss * 1024
        return Measurement(
            seconds=seconds,
            cpu_seconds=usage.ru_utime + usage.ru_stime,
            largest=largest,
            tree=max(sampler.sum_of_peaks, largest),
            tree_at_once=sampler.peak_sum,
            tree_pss=sampler.peak_pss,
            processes=len(sampler.peaks),
            returncode=process.returncode,
            stdout=out.read(),
            stderr=err.read(),
        )


def checked(what: str, result: Measurement) -> Measurement:
    if result.returncode != 0:
        sys.exit(
            f"{what} failed with exit status {result.returncode}:\n{result.stdout}{result.stderr[-3000:]}"
        )
    return result


def version(executable: Path) -> str:
    found = subprocess.run([str(executable), "--version"], capture_output=True, text=True)
    return " ".join((found.stdout or found.stderr).strip().splitlines()[-1:])


def pelican_executable(args: argparse.Namespace) -> Path | None:
    """Pelican's command (the ``bench`` extra installs it beside this
    interpreter); None to measure feedpub alone."""
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
    sys.exit(f"Pelican is not installed beside {sys.executable}: pip install -e '.[bench]' (or --no-pelican)")


_WRITTEN = re.compile(r"(\d+) files? written, (\d+) unchanged")
_ENTRIES = re.compile(r"([\d,]+) entr(?:y|ies)")


def written(result: Measurement) -> tuple[int, int] | None:
    found = _WRITTEN.search(result.stdout)
    return (int(found[1]), int(found[2])) if found else None


@dataclass
class SizeResult:
    articles: int
    cold: list[Measurement]
    edit: list[Measurement]
    nothing: list[Measurement]
    pelican: list[Measurement]
    problems: list[str]

    def ratios(self) -> list[float]:
        return (
            [c.seconds / p.seconds for c, p in zip(self.cold, self.pelican, strict=True)]
            if self.pelican
            else []
        )

    def cpu_ratios(self) -> list[float]:
        if not self.pelican:
            return []
        return [c.cpu_seconds / p.cpu_seconds for c, p in zip(self.cold, self.pelican, strict=True)]

    def builds(self) -> list[Measurement]:
        return self.cold + self.edit + self.nothing


def bench_size(
    articles: int, args: argparse.Namespace, feedpub: Path, pelican: Path | None, cache: Path
) -> SizeResult:
    print(
        f"\n== {articles:,} articles ({articles * (corpus.RELATED + 1):,} entries), "
        f"{plural(args.runs, 'run')}",
        flush=True,
    )
    pristine = common.corpus_folder(articles, args.seed, cache)
    pelican_content = None
    if pelican is not None and articles > args.pelican_max:
        print(f"  Pelican skipped at this size (--pelican-max {args.pelican_max}; its target is at 10,000)")
        pelican = None
    if pelican is not None:
        import pelican_corpus  # needs PyYAML, as feedpub does

        kind = "articles" if args.pelican_articles_only else "entries"
        pelican_content = common.cached_folder(
            cache / f"pelican-{kind}-v{corpus.VERSION}-n{articles}-s{args.seed}",
            lambda folder: pelican_corpus.convert(pristine, folder, related=kind == "entries"),
        )
        print(
            f"  Pelican gets one article per {'file' if args.pelican_articles_only else 'feed entry'}: "
            f"{pelican_content}"
        )
    work = Path(tempfile.mkdtemp(prefix="feedpub-bench-build-"))
    try:
        content = common.copy_content(pristine, work / "content")
        edited = corpus.newest_article(content)
        print(f"  corpus {pristine}, copied to {content}; the edit is to {edited.relative_to(content)}")
        result = SizeResult(articles, [], [], [], [], [])
        ledger = content / ".feedpub-ids"
        common.warn_if_busy()
        for run in range(args.runs):
            out = work / f"out-{run}"
            out.mkdir()
            store_folder = work / f"store-{run}"
            store_folder.mkdir()
            command = [
                str(feedpub),
                "build",
                str(content),
                "--base-url",
                BASE_URL,
                "--out",
                str(out),
                "--store",
                str(store_folder / "site.sqlite3"),
                *args.feedpub_arg,
            ]
            if not args.keep_ledger:
                ledger.unlink(missing_ok=True)

            def run_pelican(run: int = run) -> None:
                target = work / f"pelican-{run}"
                target.mkdir()
                argv = [str(pelican), str(pelican_content), "-o", str(target), "-s", str(PELICAN_SETTINGS)]
                result.pelican.append(checked("pelican", measure(argv, work, args.sample, args.pss)))
                if run == 0:
                    files = [p.relative_to(target) for p in target.rglob("*") if p.is_file()]
                    others = [p for p in files if p.suffix not in (".atom", ".rss")]
                    print(
                        f"  Pelican wrote {len(files) - len(others)} feed files"
                        + (f" and {len(others)} other files, e.g. {others[:3]}" if others else "")
                    )
                    if others:
                        result.problems.append(f"{articles:,}: Pelican wrote files other than feeds")
                shutil.rmtree(target)

            if pelican is not None and run % 2 == 1:
                run_pelican()
            result.cold.append(checked("feedpub cold build", measure(command, work, args.sample, args.pss)))
            if pelican is not None and run % 2 == 0:
                run_pelican()
            corpus.edit_title(edited, f"(edit {run + 1})")
            result.edit.append(
                checked("feedpub rebuild after one edit", measure(command, work, args.sample, args.pss))
            )
            result.nothing.append(
                checked("feedpub rebuild, nothing changed", measure(command, work, args.sample, args.pss))
            )
            cold, edit, nothing = result.cold[-1], result.edit[-1], result.nothing[-1]
            line = f"  run {run + 1}: cold {cold.seconds:.2f} s"
            if result.pelican:
                line += f", Pelican {result.pelican[-1].seconds:.2f} s ({result.ratios()[-1]:.2f}×)"
            line += (
                f", one edit {edit.seconds:.3f} s, nothing changed {nothing.seconds:.3f} s; "
                f"cold RSS {cold.largest / MB:.0f} MB largest, {cold.tree / MB:.0f} MB tree "
                f"({cold.processes} processes); load {common.loadavg()}"
            )
            print(line, flush=True)
            shutil.rmtree(out)
            shutil.rmtree(store_folder)
        print(f"  feedpub said (run 1): cold: {result.cold[0].stdout.strip()}")
        print(f"                        one edit: {result.edit[0].stdout.strip()}")
        print(f"                        nothing changed: {result.nothing[0].stdout.strip()}")
        stderr = [line for line in result.cold[0].stderr.splitlines() if line.strip()]
        if stderr:
            print(f"  the cold build printed {len(stderr)} lines on stderr, e.g. {stderr[:3]}")
        found = _ENTRIES.search(result.cold[0].stdout)
        expected = articles * (corpus.RELATED + 1)
        if not found or int(found[1].replace(",", "")) != expected:
            result.problems.append(f"{articles:,}: feedpub did not report {expected:,} entries")
        for run, (edit, nothing) in enumerate(zip(result.edit, result.nothing, strict=True)):
            if (written(edit) or (0, 0))[0] == 0:
                result.problems.append(
                    f"{articles:,} run {run + 1}: the rebuild after one edit wrote no file"
                )
            if (written(nothing) or (1, 0))[0] != 0:
                result.problems.append(
                    f"{articles:,} run {run + 1}: the rebuild with nothing changed wrote files"
                )
        for problem in result.problems:
            print(f"  PROBLEM: {problem}")
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def print_size(result: SizeResult, sample_ms: float) -> None:
    print(f"\n{result.articles:,} articles, {plural(len(result.cold), 'run')}: median (min–max)")
    rows = [
        ("feedpub cold build", [m.seconds for m in result.cold], " s", 2),
        ("Pelican cold build (baseline)", [m.seconds for m in result.pelican], " s", 2),
        ("cold / Pelican, same run", result.ratios(), "×", 3),
        ("rebuild after one edit", [m.seconds for m in result.edit], " s", 3),
        ("rebuild, nothing changed", [m.seconds for m in result.nothing], " s", 3),
        ("CPU time: cold build", [m.cpu_seconds for m in result.cold], " s", 2),
        ("CPU time: Pelican", [m.cpu_seconds for m in result.pelican], " s", 2),
        ("CPU time: cold / Pelican", result.cpu_ratios(), "×", 3),
        ("CPU time: one edit", [m.cpu_seconds for m in result.edit], " s", 3),
        ("CPU time: nothing changed", [m.cpu_seconds for m in result.nothing], " s", 3),
        ("peak RSS, largest process: cold", [m.largest / MB for m in result.cold], " MB", 0),
        ("peak RSS, largest process: one edit", [m.largest / MB for m in result.edit], " MB", 0),
        ("peak RSS, largest process: nothing", [m.largest / MB for m in result.nothing], " MB", 0),
        ("peak RSS, largest process: Pelican", [m.largest / MB for m in result.pelican], " MB", 0),
        ("peak RSS, process tree: cold", [m.tree / MB for m in result.cold], " MB", 0),
        ("peak RSS, process tree: one edit", [m.tree / MB for m in result.edit], " MB", 0),
        ("peak RSS, process tree: nothing", [m.tree / MB for m in result.nothing], " MB", 0),
        ("tree RSS at one instant: cold", [m.tree_at_once / MB for m in result.cold], " MB", 0),
        ("tree Pss at one instant: cold", [m.tree_pss / MB for m in result.cold if m.tree_pss], " MB", 0),
        ("tree Pss at one instant: one edit", [m.tree_pss / MB for m in result.edit if m.tree_pss], " MB", 0),
        ("processes in the tree: cold", [m.processes for m in result.cold], "", 0),
    ]
    for label, values, unit, digits in rows:
        if values:
            print(f"  {label:<38} {summary(values, unit, digits)}")
    print(
        f"  (MB = 10^6 bytes; largest process: ru_maxrss from os.wait4; process tree: the sum of each "
        f"process's own peak, VmHWM sampled every {sample_ms:g} ms)"
    )


def figures(result: SizeResult) -> dict[str, float]:
    """The medians compared between sizes (RSS: the maximum over the runs)."""
    found = {
        "cold build": statistics.median(m.seconds for m in result.cold),
        "rebuild after one edit": statistics.median(m.seconds for m in result.edit),
        "rebuild, nothing changed": statistics.median(m.seconds for m in result.nothing),
        "peak RSS, largest process": max(m.largest for m in result.builds()) / MB,
        "peak RSS, process tree": max(m.tree for m in result.builds()) / MB,
    }
    if result.pelican:
        found["Pelican cold build"] = statistics.median(m.seconds for m in result.pelican)
        found["cold / Pelican"] = statistics.median(result.ratios())
    return found


def print_overview(results: list[SizeResult]) -> None:
    print("\nthe table of issue 8 (medians; RSS: the maximum over every build of the runs):\n")
    print(
        "| articles | cold build | rebuild after one edit | rebuild, nothing changed "
        "| peak RSS of a build, largest process (process tree) | Pelican cold build | cold / Pelican |"
    )
    print("|---|---|---|---|---|---|---|")
    for result in results:
        f = figures(result)
        pelican = f"{f['Pelican cold build']:.2f} s" if "Pelican cold build" in f else "–"
        ratio = f"{f['cold / Pelican']:.3f}×" if "cold / Pelican" in f else "–"
        print(
            f"| {result.articles:,} | {f['cold build']:.2f} s | {f['rebuild after one edit']:.3f} s "
            f"| {f['rebuild, nothing changed']:.3f} s | {f['peak RSS, largest process']:.0f} MB "
            f"({f['peak RSS, process tree']:.0f} MB) | {pelican} | {ratio} |"
        )
    if len(results) > 1:
        print("\ngrowth between sizes (ratio of the figures above; linear growth = the size ratio):")
        by_size = {result.articles: figures(result) for result in results}
        names = list(dict.fromkeys(name for f in by_size.values() for name in f))
        for name in names:
            ratios = common.growth({size: f[name] for size, f in by_size.items() if name in f})
            if not ratios:
                continue
            text = ", ".join(
                f"{a:,} → {b:,} ({b / a:g}× the articles): {ratio:.2f}×" for a, b, ratio in ratios
            )
            print(f"  {name:<27} {text}")


def print_targets(results: list[SizeResult], smoke: bool, no_pelican: bool) -> None:
    by_size = {result.articles: result for result in results}

    def median_of(attribute: str) -> dict[int, float | None]:
        return {
            size: statistics.median(m.seconds for m in getattr(r, attribute)) for size, r in by_size.items()
        }

    ratio = {size: (statistics.median(r.ratios()) if r.pelican else None) for size, r in by_size.items()}
    tree = {size: max(m.tree for m in r.builds()) / MB for size, r in by_size.items()}
    targets = [
        Target("rebuild after one edit", 10_000, 0.3, " s", values=median_of("edit")),
        Target("rebuild after one edit", 100_000, 0.5, " s", values=median_of("edit")),
        Target("rebuild, nothing changed", 100_000, 0.5, " s", values=median_of("nothing")),
        Target("peak RSS of a build, process tree", 100_000, 250, " MB", values=tree),
        Target("cold build / Pelican 4.12, same run", 10_000, 0.2, "×", values=ratio),
    ]
    print("\ntargets of issue 8 (verdicts on medians; RSS on the maximum):")
    for target in targets:
        for line in target.lines(smoke):
            if no_pelican and "Pelican" in target.what and "not measured" in line:
                line += " (--no-pelican)"
            print(line)
    cold = {size: statistics.median(m.seconds for m in r.cold) for size, r in by_size.items()}
    for a, b, ratio_ in common.growth(cold):
        head = f"  cold build no more than linear, {a:,} → {b:,}: target ≤ {b / a:g}×, measured {ratio_:.2f}×"
        print(head + (" (smoke run: no verdict)" if smoke else f": {common.verdict(ratio_, b / a)}"))
    if len(cold) < 2:
        print("  cold build no more than linear: needs two sizes")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        default=",".join(map(str, common.DEFAULT_SIZES)),
        help="corpus sizes in articles, e.g. 1000,10000,100000 (default 1000,10000)",
    )
    parser.add_argument("--runs", type=int, default=5, help="runs per size (default 5)")
    parser.add_argument("--seed", type=int, default=0, help="corpus seed (default 0)")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help=f"{SMOKE_SIZE} articles, 1 run, no verdicts: checks that the script works",
    )
    parser.add_argument("--feedpub", help="feedpub command (default: the one beside this interpreter)")
    parser.add_argument(
        "--feedpub-arg",
        action="append",
        default=[],
        help="one more option for every feedpub build, e.g. --feedpub-arg=--jobs=1",
    )
    parser.add_argument("--pelican", help="pelican command (default: the one beside this interpreter)")
    parser.add_argument("--no-pelican", action="store_true", help="measure feedpub only")
    parser.add_argument(
        "--pelican-articles-only",
        action="store_true",
        help="Pelican gets one article per file, not one per entry (a lighter baseline)",
    )
    parser.add_argument(
        "--pelican-max",
        type=int,
        default=10_000,
        help="run Pelican only at sizes up to this (default 10000, where its target is; "
        "a run at 100,000 takes tens of minutes)",
    )
    parser.add_argument(
        "--keep-ledger",
        action="store_true",
        help="cold builds keep the id ledger the previous build wrote (a CI build from a checkout)",
    )
    parser.add_argument(
        "--sample-ms", type=float, default=20, help="memory sampling interval (default 20 ms)"
    )
    parser.add_argument(
        "--pss",
        action="store_true",
        help="also sample the tree's Pss (shared pages counted once; costs some CPU while sampling)",
    )
    parser.add_argument("--cache", type=Path, help=f"folder of the cached corpora (default {common.CACHE})")
    parser.add_argument("--json", type=Path, help="also write every measurement to this file")
    args = parser.parse_args(argv)
    try:
        sizes = [SMOKE_SIZE] if args.smoke else common.parse_sizes(args.sizes)
    except ValueError as exc:
        parser.error(str(exc))
    if args.smoke:
        args.runs = 1
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    args.sample = args.sample_ms / 1000
    feedpub = Path(args.feedpub) if args.feedpub else Path(sys.executable).with_name("feedpub")
    if not feedpub.exists():
        parser.error(f"{feedpub} does not exist: run with the project's .venv/bin/python or give --feedpub")

    print(
        f"feedpub build benchmark: {', '.join(f'{s:,}' for s in sizes)} articles, "
        f"{plural(args.runs, 'run')} each{' (smoke run: no verdicts)' if args.smoke else ''}"
    )
    print(f"  {common.machine()}")
    print(f"  {version(feedpub)} ({feedpub}); {common.feedpub_code(feedpub.with_name('python'))}")
    pelican = pelican_executable(args)
    if pelican is not None:
        found = version(pelican)  # also compiles and caches its bytecode before anything is timed
        print(f"  {'' if found.lower().startswith('pelican') else 'Pelican '}{found} ({pelican})")
    smoke_cache = None
    if args.smoke and args.cache is None:
        smoke_cache = tempfile.mkdtemp(prefix="feedpub-bench-smoke-")
    cache = args.cache or (Path(smoke_cache) if smoke_cache else common.CACHE)
    code = common.CodeWatch(feedpub.with_name("python"))
    results = []
    try:
        for size in sizes:
            results.append(bench_size(size, args, feedpub, pelican, cache))
            if code.changed():
                results[-1].problems.append(
                    f"{size:,}: feedpub's code changed during the runs (a store of other code is set aside, "
                    "so a rebuild may have been a cold build): these figures are void"
                )
                print(f"  PROBLEM: {results[-1].problems[-1]}")
    finally:
        if smoke_cache:
            shutil.rmtree(smoke_cache, ignore_errors=True)
    for result in results:
        print_size(result, args.sample_ms)
    print_overview(results)
    print_targets(results, args.smoke, args.no_pelican)
    print(f"\nload average now {common.loadavg()}")
    problems = [problem for result in results for problem in result.problems]
    if args.json:
        record = {
            "sizes": sizes,
            "runs": args.runs,
            "seed": args.seed,
            "smoke": args.smoke,
            "results": [
                {
                    "articles": r.articles,
                    "cold": [m.record() for m in r.cold],
                    "pelican": [m.record() for m in r.pelican],
                    "edit": [m.record() for m in r.edit],
                    "nothing": [m.record() for m in r.nothing],
                    "cold_ratios": r.ratios(),
                    "problems": r.problems,
                }
                for r in results
            ],
        }
        args.json.write_text(json.dumps(record, indent=2) + "\n")
    for problem in problems:
        print(f"PROBLEM: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
