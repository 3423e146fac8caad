"""The id ledger: a plain-text file, committed beside the content, that keeps
every entry's id for as long as the entry exists and records when what it
shows last changed.

One line per entry, sorted by id so that it diffs well, tab-separated::

    id  link  origin  provider  title  hash  updated  story

- ``id``: the id the entry was first published under (its canonical URL then);
- ``link``: the URL it links to now (an edited ``sourceUrl`` shows here);
- ``origin``: ``path#position`` of the item it was last seen as (position 0
  is the article, n its n-th related item): how an edited URL is recognised;
- ``provider`` and ``title`` (a digest): with the origin, what tells it is
  the same entry;
- ``hash``: a digest of what the entry shows; ``updated``: when that hash was
  first seen, in UTC to the second, or while the entry shows what it was
  first published with, its publication time (older ledgers have ``-``
  there, read alike). Always 20 characters, so that an edit, which changes
  digests and this time, rewrites the line in place;
- ``story``: the ``tag:`` URI of the story the entry is part of.

A story has a line of its own: its tag as id and story, ``-`` for link,
origin, provider and title, and as hash a digest of which entries it holds,
so that its ``updated`` moves when coverage joins or leaves it, and not when
an item's URL is edited.

Tabs, newlines and backslashes inside a field are written ``\\t``, ``\\n``
and ``\\\\``. A missing ledger starts empty; a corrupt one is an error
(`LedgerError`) and is never overwritten.
"""

from __future__ import annotations

import mmap
import os
import re
import tempfile
import time
from collections.abc import Callable
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from feedpub.errors import LedgerError
from feedpub.store import LedgerRow
from feedpub.urls import canonical_url
from feedpub.urls import http_url

HEADER = (
    "# feedpub id ledger: keeps every entry's id and when it last changed. Commit it with the content.\n"
    "# One line per entry, sorted, tab-separated: id, link, origin, provider, title, hash, updated, story\n"
)
_FIELDS = 8
_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}
_UNESCAPES = {"\\\\": "\\", "\\t": "\t", "\\n": "\n", "\\r": "\r"}
_ESCAPED = re.compile(r"\\[\\tnr]")
_ORIGIN = re.compile(r".+#[0-9]{1,4}\Z", re.DOTALL)
_HEX = re.compile(r"[0-9a-f]{4,64}\Z")
#: The origin, link, provider and title of a story's line: a story has none.
STORY = "-"


def _escape(text: str) -> str:
    return "".join(_ESCAPES.get(char, char) for char in text) if re.search(r"[\\\t\n\r]", text) else text


def _unescape(text: str) -> str:
    return _ESCAPED.sub(lambda m: _UNESCAPES[m[0]], text) if "\\" in text else text


def signature(path: Path) -> list[int] | None:
    """Size, modification time and inode of the file, or None if missing:
    equal signatures, same ledger, no need to read it again."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise LedgerError(f"cannot read the id ledger: {exc.strerror}", path=str(path)) from None
    return [info.st_size, info.st_mtime_ns, info.st_ino]


def read(path: Path) -> list[LedgerRow]:
    """Every line of the ledger at `path`; an empty list if there is none."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
        raise LedgerError(f"cannot read the id ledger: {reason}", path=str(path)) from None
    rows: list[LedgerRow] = []
    seen: set[str] = set()
    for number, line in enumerate(text.split("\n"), start=1):
        if not line or line.startswith("#"):
            continue
        rows.append(_row(line, number, path))
        if rows[-1].id in seen:
            raise LedgerError(f"id {rows[-1].id!r} is listed twice", path=str(path), line=number)
        seen.add(rows[-1].id)
    return rows


def _row(line: str, number: int, path: Path) -> LedgerRow:
    def corrupt(message: str) -> LedgerError:
        return LedgerError(f"corrupt id ledger line: {message}", path=str(path), line=number)

    parts = [_unescape(part) for part in line.split("\t")]
    if len(parts) != _FIELDS:
        raise corrupt(
            f"{len(parts)} fields, not {_FIELDS} (id, link, origin, provider, title, hash, updated, story)"
        )
    id, link, origin, provider, title, digest, updated, story = parts
    if origin == STORY:
        if not id.startswith("tag:") or story != id or (link, provider, title) != (STORY, STORY, STORY):
            raise corrupt(
                "a story's line has its tag: URI as id and story, and '-' as link, provider and title"
            )
    elif not (id.startswith("tag:") or http_url(id)) or http_url(link) is None:
        raise corrupt("the id and the link must be absolute http(s) URLs")
    elif not _ORIGIN.match(origin):
        raise corrupt(f"origin {origin!r} is not 'path#position'")
    if not _HEX.match(digest) or (origin != STORY and not _HEX.match(title)):
        raise corrupt("the title and hash fields must be hexadecimal digests")
    if updated != "-":
        try:
            datetime.fromisoformat(updated)
        except ValueError:
            raise corrupt(f"updated {updated!r} is neither '-' nor an ISO 8601 date-time") from None
    if not story.startswith("tag:"):
        raise corrupt(f"story {story!r} is not a tag: URI")
    canonical = id if origin == STORY else canonical_url(http_url(link) or link)
    return LedgerRow(id, canonical, link, origin, provider, title, digest, updated, story)


def text(rows: Iterable[LedgerRow]) -> str:
    """The ledger file's text for `rows`, in any order (lines are sorted)."""
    return HEADER + "".join(line + "\n" for line in sorted(_line(row) for row in rows))


def _line(row: LedgerRow) -> str:
    return "\t".join(_escape(value) for value in row[:1] + row[2:])


def write(path: Path, rows: Iterable[LedgerRow]) -> None:
    """Write the ledger atomically (a temporary file beside it, then a
    rename), from `rows` sorted by id (as the store gives them: ids hold no
    character an escape would move), a line at a time; raises `OSError` when
    the folder is read-only."""

    def fill(stream: BinaryIO) -> None:
        stream.write(HEADER.encode())
        for row in rows:
            stream.write((_line(row) + "\n").encode("utf-8"))

    _replace(path, fill)


def update(path: Path, changes: dict[str, LedgerRow | None]) -> None:
    """Write the ledger at `path` with the lines of the ids in `changes`
    replaced (None: removed, or added when new). The file must be one this
    module wrote (sorted lines).

    On a large site, rewriting every line would cost more than the whole
    rest of a one-file rebuild (a 100,000-article site has a ledger of some
    200 MB). An edit usually changes fields of fixed length (digests, the
    time of the edit): lines of the same length are then written in place,
    one write each, every line old or new whatever stops the process. Other
    changes copy the file, the unchanged stretches by the kernel, into a new
    file that replaces it."""
    if not _update_in_place(path, changes):
        _update_by_copy(path, changes)


def _update_in_place(path: Path, changes: dict[str, LedgerRow | None]) -> bool:
    """Write the changed lines over the old ones if every change replaces a
    line with one of the same length; False if any does not, or the file
    cannot be written in place (nothing is written then)."""
    try:
        with path.open("r+b") as stream, mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ) as data:
            start = _after_header(data)
            writes = []
            for entry_id, row in changes.items():
                begin, found = _find(data, start, _escape(entry_id).encode("utf-8"))
                if row is None or not found:
                    return False
                line = (_line(row) + "\n").encode("utf-8")
                if data.find(b"\n", begin) + 1 - begin != len(line):
                    return False
                writes.append((begin, line))
            before = os.fstat(stream.fileno()).st_mtime_ns
            for begin, line in writes:
                os.pwrite(stream.fileno(), line, begin)
            # The file keeps its size and inode: make sure its time moves, as
            # the store tells a ledger it wrote from one changed since by them.
            now = time.time_ns()
            os.utime(stream.fileno(), ns=(now, max(now, before + 1)))
    except (OSError, ValueError):  # not writable in place (or empty: mmap refuses): copy instead
        return False
    return True


def _after_header(data: mmap.mmap) -> int:
    """Where the first line after the header's comment lines starts."""
    start = 0
    while data[start : start + 1] == b"#":
        start = data.find(b"\n", start) + 1
    return start


def _update_by_copy(path: Path, changes: dict[str, LedgerRow | None]) -> None:
    with path.open("rb") as source, mmap.mmap(source.fileno(), 0, access=mmap.ACCESS_READ) as data:
        start = _after_header(data)
        cuts: list[tuple[int, int, bytes]] = []
        for entry_id in sorted(changes):
            key = _escape(entry_id).encode("utf-8")
            begin, found = _find(data, start, key)
            end = data.find(b"\n", begin) + 1 if found else begin
            row = changes[entry_id]
            cuts.append((begin, end, (_line(row) + "\n").encode("utf-8") if row is not None else b""))

        def fill(stream: BinaryIO) -> None:
            position = 0
            for begin, end, replacement in cuts:
                _copy(source, stream, position, begin - position)
                stream.write(replacement)
                position = end
            _copy(source, stream, position, len(data) - position)

        _replace(path, fill)


def _copy(source: BinaryIO, target: BinaryIO, offset: int, count: int) -> None:
    """Copy `count` bytes of `source` from `offset` to the end of `target`."""
    target.flush()
    while count > 0:
        try:
            copied = os.copy_file_range(source.fileno(), target.fileno(), count, offset)
        except OSError:  # a file system that cannot: copy through memory, a block at a time
            source.seek(offset)
            block = source.read(min(count, 1 << 20))
            target.write(block)
            target.flush()
            copied = len(block)
        if copied == 0:
            raise OSError("the id ledger changed while it was being updated")
        offset += copied
        count -= copied


def _find(data: bytes | mmap.mmap, start: int, key: bytes) -> tuple[int, bool]:
    """Where the line of id `key` starts among the sorted lines from `start`
    (or where it would go), and whether it is there: a binary search on byte
    offsets, so that the file is never split into lines."""
    low, high = start, len(data)
    while low < high:  # lines before `low` sort before `key`; from `high` on, not
        middle = (low + high) // 2
        line = data.rfind(b"\n", low, middle) + 1 or low
        if data[line : data.find(b"\t", line)] < key:
            low = data.find(b"\n", line) + 1 or len(data)
        else:
            high = line
    tab = data.find(b"\t", low)
    return low, tab >= 0 and data[low:tab] == key


def _replace(path: Path, fill: Callable[[BinaryIO], None]) -> None:
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=".feedpub-ids-")
    try:
        with os.fdopen(handle, "wb") as stream:
            fill(stream)
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise
