"""The W3C Feed Validation Service's own checks, run locally.

The service (https://validator.w3.org/feed/) is not reachable from the test
machines, but it is open source: ``tests/vendor/feedvalidator`` is its
validator package, unchanged (see ``tests/vendor/README.md``). `problems`
runs it the way the service does on a URL: on the document's bytes, with the
``Content-Type`` it was served with and its URL as the base, and keeps what
the service shows at its default level ("AA"): errors and warnings.
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "vendor"))

# The package sets a process-wide default socket timeout when imported (the
# service fetches feeds); the servers other tests drive must not inherit it.
_timeout = socket.getdefaulttimeout()
import feedvalidator  # noqa: E402
from feedvalidator import compatibility  # noqa: E402
from feedvalidator.formatter.text_plain import Formatter  # noqa: E402

socket.setdefaulttimeout(_timeout)


class _Body:
    """`validateStream` reads a file; a response body is bytes."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def read(self, size: int = -1) -> bytes:
        chunk = self._data if size < 0 else self._data[:size]
        self._data = self._data[len(chunk) :]
        return chunk


def problems(body: bytes, url: str, content_type: str | None, allow: tuple[str, ...] = ()) -> list[str]:
    """What the W3C Feed Validation Service reports for the document `body`
    served at `url` as `content_type`: one line per error or warning ("line
    L, column C: message"), none for a valid feed. `allow` names warnings
    (their classes in ``feedvalidator.logging``) a test expects, to leave out
    for a given element, as ``"ContainsHTML:title"``."""
    try:
        events = feedvalidator.validateStream(
            _Body(body), firstOccurrenceOnly=1, contentType=content_type, base=url
        )["loggedEvents"]
    except feedvalidator.logging.ValidationFailure as failure:
        events = [failure.event]
    shown = [
        event
        for event in compatibility.AA(events)
        if not any(
            isinstance(event, feedvalidator.logging.Warning)
            and isinstance(event, getattr(feedvalidator.logging, name))
            and event.params.get("element") == element
            for name, element in (entry.split(":", 1) for entry in allow)
        )
    ]
    return list(Formatter(shown))
