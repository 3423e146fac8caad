"""A deterministic synthetic corpus in the seed article's schema.

    python bench/corpus.py OUT_DIR --articles 10000 [--seed 0]

writes N article files below OUT_DIR, 100 per folder
(``OUT_DIR/0000/000000_<hex>.txt`` …), each in exactly the front-matter
layout of ``seeds/000_b0c87c34f956e42b.txt``: a ~300-character excerpt, 1-3
of 30 topics, one of 200 providers, 1-2 images, 3 related items (each under
its own provider, with its own image) and a ``secured`` blob as long as the
seed's. Every URL is on an ``example.com``/``.org``/``.net`` subdomain and
unique, so N articles make 4 × N feed entries; dates spread over 2022-2023.

Everything comes from ``random.Random(seed)`` and nothing from the clock, so
the same N and seed give byte-identical files on every machine. Also
importable: ``generate(out_dir, articles, seed=0)``.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import re
import sys
import time
import unicodedata
from datetime import datetime
from datetime import timedelta
from pathlib import Path

#: Bumped whenever the output for a given N and seed changes, so that cached
#: corpora (bench/build.py) are regenerated.
VERSION = 1
#: Articles per folder.
PER_FOLDER = 100
#: Related items per article.
RELATED = 3

TOPICS = (
    "AI", "Computer Vision", "Machine Learning", "Robotics", "Privacy",
    "Cybersecurity", "Cloud Computing", "Semiconductors", "Quantum Computing",
    "Autonomous Vehicles", "Drones", "Biotech", "Climate Tech", "Energy",
    "Space", "Smartphones", "Wearables", "Social Media", "Streaming", "Gaming",
    "E-commerce", "Fintech", "Cryptocurrency", "Open Source", "Developer Tools",
    "Regulation", "Startups", "Telecom", "Health Tech", "Künstliche Intelligenz",
)  # fmt: skip

_PROVIDER_FIRST = (
    "Daily", "Morning", "Evening", "Global", "Northern", "Southern", "Pacific",
    "Atlantic", "Metro", "Capital", "Harbor", "Summit", "Valley", "Union",
    "Liberty", "Pioneer", "Frontier", "Silicon", "Digital", "Circuit",
)  # fmt: skip
_PROVIDER_SECOND = (
    "Tribune", "Herald", "Ledger", "Gazette", "Observer", "Chronicle",
    "Dispatch", "Post", "Times", "Review", "Wire", "Journal", "Sentinel",
    "Courier", "Bulletin", "Monitor", "Report", "Signal", "Beacon", "Register",
)  # fmt: skip
_TLDS = ("example.com", "example.org", "example.net")
_SECTIONS = ("tech", "business", "science", "world", "news", "innovation")

_NOUNS = (
    "police", "regulators", "startup", "researchers", "chipmaker", "network",
    "platform", "lawmakers", "engineers", "investors", "model", "camera",
    "satellite", "battery", "app", "data", "privacy", "algorithm", "robot",
    "drone", "cloud", "browser", "court", "union", "city", "agency", "lab",
    "hospital", "bank", "retailer", "carrier", "telescope", "sensor", "chip",
    "vaccine", "grid", "headset", "rocket", "license", "policy", "update",
)  # fmt: skip
_VERBS = (
    "rolls out", "unveils", "bans", "tests", "delays", "expands", "cuts",
    "launches", "questions", "backs", "blocks", "approves", "doubles",
    "recalls", "acquires", "opens", "warns about", "investigates", "upgrades",
    "retires", "funds", "rethinks", "pauses", "trials", "deploys",
)  # fmt: skip
_ADJECTIVES = (
    "controversial", "new", "live", "open", "secret", "cheaper", "faster",
    "experimental", "national", "private", "public", "autonomous", "quantum",
    "wearable", "encrypted", "biometric", "solar", "orbital", "generative",
    "low-cost", "record", "long-awaited", "risky", "popular", "local",
)  # fmt: skip
_WORDS = (
    "the", "a", "of", "in", "on", "for", "with", "despite", "after", "as",
    "and", "while", "across", "amid", "over", "technology", "concerns",
    "critics", "advocates", "officials", "users", "customers", "plan",
    "deployment", "effectiveness", "objections", "statement", "report",
    "system", "software", "operational", "standard", "basis", "impact",
    "legality", "market", "quarter", "rules", "ban", "trial", "launch",
    "company", "government", "industry", "security", "research", "capital",
    "locations", "intelligence-led", "specific", "several", "early", "month",
    "“bespoke”", "it’s", "won’t", "said", "says", "according", "to", "would",
    "could", "will", "be", "is", "are", "was", "has", "have", "its", "their",
)  # fmt: skip
_IMAGE_SIZES = ((992, 558), (1024, 652), (1600, 900), (2048, 1536), (1200, 675), (800, 450))
_EPOCH = datetime(2022, 1, 1)
_SPAN_MINUTES = 2 * 365 * 24 * 60


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def _quote(text: str) -> str:
    """A YAML double-quoted scalar."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _when(minutes: int) -> datetime:
    return _EPOCH + timedelta(minutes=minutes)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:00Z")


class _Generator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        names = [f"{a} {b}" for a in _PROVIDER_FIRST for b in _PROVIDER_SECOND]
        self.rng.shuffle(names)
        self.providers: list[tuple[str, str, int]] = []  # name, domain, URL style
        for index, name in enumerate(sorted(names[:200])):
            if index % 25 == 24:
                # Like ABC on go.com: some providers share their domain with another.
                domain = self.providers[-1][1]
            else:
                domain = f"{_slug(name).replace('-', '')}.{_TLDS[index % 3]}"
            self.providers.append((name, domain, index % 4))

    def title(self) -> str:
        rng = self.rng
        words = [
            rng.choice(_ADJECTIVES).capitalize(),
            rng.choice(_NOUNS),
            rng.choice(_VERBS),
            rng.choice(_ADJECTIVES),
            rng.choice(_NOUNS),
        ]
        words += rng.choices(_WORDS, k=rng.randint(2, 7))
        if rng.random() < 0.1:
            words.append(f"‘{rng.choice(_NOUNS)}’")
        return " ".join(words)

    def excerpt(self) -> str:
        rng = self.rng
        target = rng.randint(260, 340)
        sentences: list[str] = []
        length = 0
        while length < target:
            words = rng.choices(_WORDS + _NOUNS, k=rng.randint(8, 20))
            if rng.random() < 0.15:
                words.insert(rng.randint(0, len(words)), f'"{rng.choice(_NOUNS)}"')
            sentence = " ".join(words).capitalize() + "."
            sentences.append(sentence)
            length += len(sentence) + 1
        text = " ".join(sentences)
        if len(text) > target:
            text = text[:target].rsplit(" ", 1)[0] + " ..."
        return text

    def url(
        self, provider: tuple[str, str, int], title: str, number: int, when: datetime
    ) -> tuple[str, str, str]:
        """sourceUrl, ampUrl and cdnAmpUrl of one story."""
        _, domain, style = provider
        host = f"www.{domain}"
        slug = "-".join(_slug(title).split("-")[:8])
        section = _SECTIONS[number % len(_SECTIONS)]
        if style == 0:
            path = f"/{when:%Y/%m/%d}/{slug}-{number}/"
            amp = path + "amp/"
        elif style == 1:
            path = f"/{section.capitalize()}/{slug}/story?id={number}"
            amp = f"/amp{path}"
        elif style == 2:
            path = f"/{section}/{slug}-{number}"
            amp = f"/amp{path}"
        else:
            path = f"/story/{slug}-{number}.html"
            amp = f"/story/amp/{slug}-{number}.html"
        source = f"https://{host}{path}"
        if self.rng.random() < 0.05:
            source += ("&" if "?" in source else "?") + "utm_source=feed&utm_medium=rss"
        cdn = f"https://{host.replace('.', '-')}.amp.example.net/c/s/{host}{amp}"
        return source, f"https://{host}{amp}", cdn

    def image(
        self, provider: tuple[str, str, int], number: int, when: datetime, index: int
    ) -> tuple[str, int, int]:
        width, height = self.rng.choice(_IMAGE_SIZES)
        url = f"https://img.{provider[1]}/images/{when:%Y/%m}/{number}-{index}_{width}.jpg"
        return url, width, height

    def secured(self) -> str:
        rng = self.rng
        return (
            base64.b64encode(rng.randbytes(368)).decode()
            + ";+"
            + base64.b64encode(rng.randbytes(16)).decode()
        )

    def article(self, number: int) -> str:
        rng = self.rng
        provider = rng.choice(self.providers)
        title = self.title()
        when = _when(rng.randrange(_SPAN_MINUTES))
        source, amp, cdn = self.url(provider, title, number * 4, when)
        category = "news" if rng.random() < 0.8 else rng.choice(("analysis", "opinion"))
        heat = -1 if rng.random() < 0.4 else rng.randint(0, 100)
        lines = [
            "---",
            f"category: {category}",
            f"title: {_quote(title)}",
            f"excerpt: {_quote(self.excerpt())}",
            f"publishedDateTime: {_stamp(when)}",
            f"sourceUrl: {source}",
            f"ampUrl: {amp}",
            f"cdnAmpUrl: {cdn}",
            "type: article",
            f"quality: {rng.randint(0, 100)}",
            f"heat: {heat}",
            "published: true",
            "",
            "provider:",
            f"  name: {provider[0]}",
            f"  domain: {provider[1]}",
            "",
            "topics:",
            *(f"  - {topic}" for topic in rng.sample(TOPICS, rng.choice((1, 1, 2, 2, 2, 3)))),
            "",
            "images:",
        ]
        for index in range(rng.choice((1, 1, 2))):
            url, width, height = self.image(provider, number * 4, when, index)
            lines += [
                f"  - url: {url}",
                f"    width: {width}",
                f"    height: {height}",
                f"    title: {_quote(title if index == 0 else self.title())}",
            ]
        lines += ["", "related:"]
        for index in range(1, RELATED + 1):
            other = provider
            while other is provider:
                other = rng.choice(self.providers)
            item_title = self.title()
            item_when = when - timedelta(minutes=rng.randrange(-120, 24 * 60))
            item_number = number * 4 + index
            source, amp, cdn = self.url(other, item_title, item_number, item_when)
            lines += [
                f"  - title: {_quote(item_title)}",
                f"    excerpt: {_quote(self.excerpt())}",
                f"    publishedDateTime: {_stamp(item_when)}",
                f"    sourceUrl: {source}",
            ]
            if rng.random() < 0.7:
                lines += [f"    ampUrl: {amp}", f"    cdnAmpUrl: {cdn}"]
            url, width, height = self.image(other, item_number, item_when, 0)
            lines += [
                "    type: article",
                "    provider:",
                f"      name: {other[0]}",
                f"      domain: {other[1]}",
                f"    quality: {rng.randint(0, 100)}",
                "    images:",
                f"      - url: {url}",
                f"        width: {width}",
                f"        height: {height}",
            ]
        lines += ["", f"secured: {_quote(self.secured())}", "---", ""]
        return "\n".join(lines)


def generate(out_dir: str | os.PathLike[str], articles: int, seed: int = 0) -> list[Path]:
    """Write `articles` article files below `out_dir` (created if missing) and
    return their paths. Same `articles` and `seed` → byte-identical files."""
    if articles < 0:
        raise ValueError("articles must not be negative")
    root = Path(out_dir)
    generator = _Generator(seed)
    paths = []
    for number in range(articles):
        folder = root / f"{number // PER_FOLDER:04d}"
        if number % PER_FOLDER == 0:
            folder.mkdir(parents=True, exist_ok=True)
        name = f"{number:06d}_{generator.rng.getrandbits(64):016x}.txt"
        text = generator.article(number)
        path = folder / name
        with open(path, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
        paths.append(path)
    return paths


# -- editing a generated corpus, as the benchmarks do -------------------------------


def newest_article(root: Path) -> Path:
    """The file whose article is the newest, so that it is in ``/all.atom``
    and editing it changes feeds."""
    newest = ("", root)
    for path in sorted(root.rglob("*.txt")):
        with open(path, encoding="utf-8") as stream:
            for line in stream:
                if line.startswith("publishedDateTime:"):
                    newest = max(newest, (line.split(":", 1)[1].strip(), path))
                    break
    return newest[1]


def edit_title(path: Path, marker: str) -> None:
    """Prefix the article's title with `marker`, as an editor would."""
    lines = path.read_text(encoding="utf-8").split("\n")
    for index, line in enumerate(lines):
        if line.startswith("title: "):
            value = line[len("title: ") :]
            value = value[1:] if value.startswith('"') else json.dumps(value)[1:]
            lines[index] = f'title: "{marker} {value}'
            break
    else:
        sys.exit(f"no title line in {path}")
    path.write_text("\n".join(lines), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", metavar="OUT_DIR", help="folder to write the articles into")
    parser.add_argument("--articles", type=int, default=10_000, help="number of articles (default 10000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = parser.parse_args(argv)
    out = Path(args.out_dir)
    if out.exists() and any(out.iterdir()):
        parser.error(f"{out} is not empty; give a new or empty folder")
    start = time.perf_counter()
    paths = generate(out, args.articles, args.seed)
    print(
        f"{len(paths)} articles ({len(paths) * (RELATED + 1)} entries) written to {out} "
        f"in {time.perf_counter() - start:.2f} s (seed {args.seed})",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
