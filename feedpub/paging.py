"""Which entries each document of a feed shows: pure arithmetic on positions.

A feed of n entries in feed order (newest first) is cut from its oldest end:
the subscription document shows the newest ``size`` entries; the rest, the
archive, is cut into pages of ``size`` entries counted from the oldest entry
(page 1). Only the newest page is ever partly filled, so adding entries
changes the subscription document and the newest page only, and every older
page stays byte for byte the same: it is sealed. (Pages counted from the
oldest entry rather than by calendar month: they are all the same size,
whatever the site publishes per month, and there are as few as can be.
An entry removed or dated back shifts the pages after it.)
"""

from __future__ import annotations

from dataclasses import dataclass


def pages(total: int, size: int) -> int:
    """How many archive pages a feed of `total` entries has."""
    archived = total - size
    return -(-archived // size) if archived > 0 else 0


@dataclass(frozen=True)
class Span:
    """A run of entries in feed order: `limit` entries from position `offset`
    (0 is the newest)."""

    offset: int
    limit: int


def span(total: int, size: int, page: int | None) -> Span:
    """The entries of the subscription document (`page` None) or of archive
    page `page`."""
    if page is None:
        return Span(0, min(size, total))
    archived = max(0, total - size)
    start_from_oldest = (page - 1) * size
    end_from_oldest = min(page * size, archived)
    count = max(0, end_from_oldest - start_from_oldest)
    return Span(total - end_from_oldest, count)


def page_of(older: int, total: int, size: int) -> int | None:
    """The document holding the entry with `older` entries older than it:
    None for the subscription document, else an archive page number."""
    if older >= total - size:
        return None
    return older // size + 1
