"""Convert a feedpub content folder into the equivalent Pelican Markdown corpus.

    python bench/pelican_corpus.py CONTENT OUT_DIR

Every feedpub entry becomes one Pelican article, so Pelican publishes as many
entries as feedpub does: the article of each file and each of its related
items, as ``OUT_DIR/<folder>/<file>-0.md`` … ``-3.md``. With
``--articles-only``, only each file's own article does (N Pelican articles
for N files, a quarter of the entries; for comparison only). A story URL seen twice
becomes one article (the top-level article's fields win), and drafts
(``published: false``) are left out, as feedpub does by default.

Pelican metadata, in its own header format:

- ``Title``, ``Date`` (UTC), ``Slug`` (unique, so no article shadows another);
- ``Category``: the story's first topic (Pelican allows one category;
  related items inherit their parent's topics, as in feedpub);
- ``Tags``: all its topics (they become the feed entries' categories, like
  feedpub's; there are no tag feeds);
- ``Author``: the provider's name;
- ``Summary``: the excerpt.

The body is the Markdown equivalent of the HTML content feedpub writes for an
entry: the first image, the excerpt, the related coverage as a list of links
and a link to the source. Run it with an interpreter that has PyYAML (the
project's), not Pelican's.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_FENCE = re.compile(r"^---[ \t]*$", re.MULTILINE)
_SUFFIXES = {".txt", ".md", ".markdown", ".yaml", ".yml"}
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]#])")


def _front_matter(path: Path) -> dict[str, Any] | None:
    text = path.read_text(encoding="utf-8-sig").replace("\r\n", "\n")
    first, _, rest = text.partition("\n")
    closing = _FENCE.search(rest)
    if first.rstrip() != "---" or closing is None:
        return None
    fields = yaml.load(rest[: closing.start()], Loader=_Loader)  # noqa: S506 - a safe loader
    return fields if isinstance(fields, dict) else None


def _files(root: Path) -> list[Path]:
    found = []
    for folder, folders, names in os.walk(root):
        folders[:] = sorted(name for name in folders if not name.startswith("."))
        found += [
            Path(folder) / name
            for name in names
            if not name.startswith(".") and os.path.splitext(name)[1].lower() in _SUFFIXES
        ]
    return sorted(found)


def _one_line(value: Any) -> str:
    return " ".join(str(value or "").split())


def _markdown(text: Any) -> str:
    """Plain text as Markdown that renders as that text."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", _one_line(text)).replace("<", "&lt;")


def _date(value: Any) -> str:
    if isinstance(value, str):
        value = datetime.fromisoformat(value.strip())
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat()


def _document(story: dict[str, Any], topics: list[str], slug: str, siblings: list[dict[str, Any]]) -> str:
    provider = _one_line((story.get("provider") or {}).get("name"))
    excerpt = _markdown(story.get("excerpt"))
    lines = [
        f"Title: {_one_line(story['title'])}",
        f"Date: {_date(story['publishedDateTime'])}",
        f"Slug: {slug}",
        f"Category: {topics[0] if topics else 'misc'}",
        f"Tags: {', '.join(topics)}",
        f"Author: {provider}",
        f"Summary: {excerpt}",
        "",
    ]
    images = story.get("images") or []
    if images and isinstance(images[0], dict) and images[0].get("url"):
        alt = _markdown(images[0].get("title") or story["title"])
        lines += [f"![{alt}]({images[0]['url']})", ""]
    if excerpt:
        lines += [excerpt, ""]
    if siblings:
        lines += ["Related coverage:", ""]
        for other in siblings:
            other_provider = _markdown((other.get("provider") or {}).get("name"))
            lines.append(f"- [{_markdown(other['title'])}]({other['sourceUrl']}) ({other_provider})")
        lines.append("")
    lines.append(f"Source: [{_markdown(provider)}]({story['sourceUrl']})")
    return "\n".join(lines) + "\n"


def convert(content: str | os.PathLike[str], out_dir: str | os.PathLike[str], *, related: bool = True) -> int:
    """Write one Pelican Markdown article per feedpub entry of `content`
    into `out_dir`; return how many were written. With ``related=False``,
    only each file's own article becomes one (its related items stay links
    in its body)."""
    root, out = Path(content), Path(out_dir)
    stories: list[tuple[Path, int, dict[str, Any], list[str], list[dict[str, Any]]]] = []
    for path in _files(root):
        try:
            fields = _front_matter(path)
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            print(f"{path}: skipped: {exc}", file=sys.stderr)
            continue
        if not fields or fields.get("published") is False:
            continue
        topics = [_one_line(topic) for topic in fields.get("topics") or []]
        items = [item for item in fields.get("related") or [] if isinstance(item, dict)]
        story = [fields, *items]
        for index, item in enumerate(story if related else story[:1]):
            own = [_one_line(topic) for topic in item.get("topics") or []] if index else []
            siblings = [other for other in story if other is not item]
            stories.append((path, index, item, list(dict.fromkeys(topics + own)), siblings))
    # Top-level articles first, so they win over related items with their URL.
    stories.sort(key=lambda story: (story[1] > 0, story[0], story[1]))
    seen: set[str] = set()
    written = 0
    for path, index, item, topics, siblings in stories:
        url = str(item.get("sourceUrl") or "")
        if not url or not item.get("title") or not item.get("publishedDateTime") or url in seen:
            continue
        seen.add(url)
        relative = path.relative_to(root)
        target = out / relative.parent / f"{relative.stem}-{index}.md"
        target.parent.mkdir(parents=True, exist_ok=True)
        slug = re.sub(r"[^a-z0-9]+", "-", f"{relative.with_suffix('')}-{index}".lower()).strip("-")
        target.write_text(_document(item, topics, slug, siblings), encoding="utf-8")
        written += 1
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("content", metavar="CONTENT", help="feedpub content folder")
    parser.add_argument("out_dir", metavar="OUT_DIR", help="folder for the Pelican Markdown files")
    parser.add_argument(
        "--articles-only",
        action="store_true",
        help="one Pelican article per file, not per entry (related items are not articles)",
    )
    args = parser.parse_args(argv)
    start = time.perf_counter()
    written = convert(args.content, args.out_dir, related=not args.articles_only)
    print(
        f"{written} Pelican articles written to {args.out_dir} in {time.perf_counter() - start:.1f} s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
