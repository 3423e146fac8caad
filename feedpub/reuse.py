"""Copying the unchanged entries of a document from its previous bytes.

An edit changes one of the entries a subscription feed shows, yet the feed
is rendered again whole, in four formats. The bytes of each entry in a
document are a function of the entry and the base URL alone (for one
version of feedpub's code, and a store only holds what one code computed),
so the store keeps, per subscription document, a `Layout` of its bytes: the
ETag of the bytes it describes and, per entry, its `revision` and where its
bytes are. When the document is rendered again, an entry whose revision is
the same is copied from the previous bytes instead of being rendered.

The previous bytes are those a build wrote into ``--out`` or the server
kept in the store, and they are used only when their ETag is the layout's:
a file someone changed by hand is never copied from.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from feedpub.model import Entry
from feedpub.model import Site


def revision(entry: Entry, site: Site) -> str:
    """A digest of everything an entry's rendering reads: the entry (a
    frozen dataclass, whose repr shows every field, nested ones too) and
    the base URL its links are made with."""
    return hashlib.blake2b(f"{site.base_url}\n{entry!r}".encode(), digest_size=12).hexdigest()


@dataclass(frozen=True)
class Layout:
    """Where each entry's bytes are in one rendering of a document."""

    #: ETag of the bytes described.
    etag: str
    #: Per entry id: its revision, and the start and end of its bytes.
    spans: dict[str, tuple[str, int, int]]

    def dumps(self) -> str:
        spans = [[entry, revision, start, end] for entry, (revision, start, end) in self.spans.items()]
        return json.dumps([self.etag, spans], separators=(",", ":"))

    @classmethod
    def loads(cls, text: str | None) -> Layout | None:
        """The layout stored as `text`; None for none or one not of this form."""
        if not text:
            return None
        try:
            etag, spans = json.loads(text)
            return cls(etag, {entry: (revision, start, end) for entry, revision, start, end in spans})
        except (ValueError, TypeError):
            return None


class Recorder:
    """The entries of one document as it is rendered: those that can be
    copied from its previous bytes, and where each lands in the new ones."""

    def __init__(self, previous: bytes | None = None, layout: Layout | None = None) -> None:
        # Trusted only as the bytes the layout describes (see the module).
        self._previous = previous if layout is not None and previous is not None else None
        self._spans = layout.spans if layout is not None else {}
        self._shown: list[tuple[str, str, bytes]] = []

    def copied(self, entry: str, revision: str) -> bytes | None:
        """The entry's bytes in the previous rendering, if it had this revision."""
        span = self._spans.get(entry)
        if self._previous is None or span is None or span[0] != revision:
            return None
        return self._previous[span[1] : span[2]]

    def shown(self, entry: str, revision: str, piece: bytes) -> None:
        """The document shows `piece`, the entry's bytes (in order)."""
        self._shown.append((entry, revision, piece))

    def layout(self, body: bytes, etag: str) -> Layout:
        """Where the shown entries are in `body`, the rendered document."""
        spans = {}
        position = 0
        for entry, revision, piece in self._shown:
            # Each piece follows the one before it directly or after one
            # separator byte (``,`` in JSON, a line break in HTML). Comparing
            # there costs a fraction of a search, which first analyses the
            # piece (a few kB) before it looks.
            if body.startswith(piece, position):
                start = position
            elif body.startswith(piece, position + 1):
                start = position + 1
            else:
                start = body.find(piece, position)
            if start < 0:  # not verbatim in the document: not copied next time
                continue
            position = start + len(piece)
            spans[entry] = (revision, start, position)
        return Layout(etag, spans)
