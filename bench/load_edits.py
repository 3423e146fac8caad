"""Fetch feeds from gunicorn while the content is edited, for longer than CI does.

    python bench/load_edits.py [--seconds 60] [--workers 2] [--clients 4] [--seed N]

Runs `run_load` of ``tests/test_resilience.py`` (the test runs it for 5 s):
gunicorn with several gthread workers and a 0.2 s reload interval on
127.0.0.1, client threads that validate every response (no 5xx; every feed
parses as XML and feedparser reads it with bozo 0; every 304 is empty; one
ETag never means two bodies), and a thread that creates, breaks, mends and
deletes content files. Prints the request count; exits 1 on any failure.
Needs the test dependencies (``pip install -e '.[test]'`` and lxml).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from test_resilience import run_load  # noqa: E402

STABLE = """---
title: Stable {index}
publishedDateTime: 2024-05-0{day}T12:00:00Z
sourceUrl: https://news.example.com/stable-{index}
provider:
  name: Stable News
topics: [Stable, Topic {index}]
---
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="feedpub-load-") as folder:
        content = Path(folder) / "content"
        content.mkdir()
        for index in range(3):
            (content / f"stable-{index}.md").write_text(STABLE.format(index=index, day=index + 1))
        report = run_load(content, args.seconds, workers=args.workers, clients=args.clients, seed=args.seed)
    print(f"{report.summary()}; {report.requests / args.seconds:.0f} requests/s")
    print("edits:", dict(report.edits))
    for failure in report.failures[:50]:
        print("FAIL", failure)
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
