"""Content files → `Article`s, with a `Problem` for everything wrong.

- `scan` finds the content files and signs each (``_files``);
- `read` reads one file safely and `parse` turns its bytes into an article:
  the fences and YAML in ``_yaml``, one normaliser per field in ``_fields``.

Parsing never raises for anything a file can contain: each failure becomes a
`Problem` naming the file, the line where known and the field at fault.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from feedpub.content._fields import FieldReader
from feedpub.content._files import SUFFIXES
from feedpub.content._files import FileRefused
from feedpub.content._files import FoundFile
from feedpub.content._files import Scan
from feedpub.content._files import read as _read
from feedpub.content._files import reason
from feedpub.content._files import scan
from feedpub.content._yaml import XML_FORBIDDEN
from feedpub.content._yaml import Diagnostics
from feedpub.content._yaml import clean_text
from feedpub.content._yaml import load as _load_yaml
from feedpub.content._yaml import split as _split
from feedpub.model import Article
from feedpub.model import Problem

__all__ = ["SUFFIXES", "FoundFile", "ParsedFile", "Scan", "clean_text", "digest", "parse", "read", "scan"]


@dataclass(frozen=True)
class ParsedFile:
    """What one content file gave: its article, if any, and its problems."""

    #: Relative path of the file.
    path: str
    #: The article, or None when the file was refused.
    article: Article | None
    #: Everything wrong with the file, errors and warnings.
    problems: tuple[Problem, ...] = ()


def digest(data: bytes) -> bytes:
    """What tells two versions of a file apart: a touched file with the
    same bytes is not parsed again."""
    return hashlib.blake2b(data, digest_size=16).digest()


def read(
    root: Path, relpath: str, max_bytes: int, known: bytes | None = None
) -> tuple[bytes, ParsedFile | None]:
    """Read and parse one file: its digest and what it gave, or None for the
    latter when the digest equals `known` (nothing to parse again). Any
    failure to read becomes a problem."""
    try:
        data = _read(root, relpath, max_bytes)
    except (FileRefused, OSError) as exc:
        message = exc.message if isinstance(exc, FileRefused) else f"cannot read file: {reason(exc)}"
        return b"", ParsedFile(relpath, None, (Problem(relpath, None, message),))
    found = digest(data)
    if found == known:
        return found, None
    return found, parse(relpath, data, max_bytes=max_bytes)


def parse(relpath: str, data: bytes, *, max_bytes: int) -> ParsedFile:
    """Parse the bytes of one content file."""
    problems: list[Problem] = []
    try:
        article = _parse(relpath, data, max_bytes, problems)
    except FileRefused as refused:
        problems.append(Problem(relpath, refused.line, refused.message))
        article = None
    return ParsedFile(relpath, article, tuple(problems))


def _parse(relpath: str, data: bytes, max_bytes: int, problems: list[Problem]) -> Article:
    if len(data) > max_bytes:
        raise FileRefused(f"file is larger than the limit of {max_bytes:,} bytes; refused")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise FileRefused(f"not UTF-8 text (byte 0x{data[exc.start]:02x} cannot be decoded)", line) from None
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    # libyaml refuses a raw control character anywhere in the stream, which
    # would refuse the whole file; SPEC §5 says such characters are removed.
    # Remove them before looking for the fences (one could hide a fence).
    raw = text
    if XML_FORBIDDEN.search(text):
        text = clean_text(text)
    front_matter, body, body_line = _split(text)
    fields = _load_yaml(front_matter)
    diagnostics = Diagnostics(relpath, front_matter, problems)
    if text is not raw:
        diagnostics.report_removed(raw, body_line)
    return FieldReader(relpath, diagnostics).article(fields, body)
