"""Every problem of a site, as `check` lists them and /healthz reports them."""

from __future__ import annotations

from datetime import datetime
from datetime import timedelta

from feedpub import urlspace
from feedpub.catalog import to_micros
from feedpub.documents import FeedDocuments
from feedpub.model import FeedKind
from feedpub.model import Problem
from feedpub.model import Severity
from feedpub.settings import Settings
from feedpub.store import Store


def collect(store: Store, settings: Settings, now: datetime) -> tuple[Problem, ...]:
    """Every problem of the content and of its settings, sorted by path and
    line: what the files gave, merging entries (duplicates, kept ids), names
    sharing a slug, dates too far ahead, curated feeds matching nothing."""
    found: list[Problem] = []
    for path, problems in store.files.problems():
        found += [Problem(path, line, message, Severity(severity)) for line, severity, message in problems]
    for path, reason in store.get("unreadable", []):
        found.append(Problem(path, None, reason))
    for path, line, severity, message in store.entries.problems():
        found.append(Problem(path, line, message, Severity(severity)))
    for row in store.names.moved():
        what = "topic" if row.kind == "topic" else "provider"
        key = urlspace.feed_key(FeedKind.TOPIC if what == "topic" else FeedKind.PROVIDER, row.slug)
        found.append(
            Problem(
                _first_path(store, key),
                None,
                f"{what} {row.display!r} shares the slug {row.base!r} with another {what}; "
                f"its feed is {row.slug}",
                Severity.WARNING,
            )
        )
    ahead = to_micros(now + timedelta(days=365))
    for path, position in store.items.later_than(ahead):
        field_name = "publishedDateTime" if position == 0 else f"related[{position - 1}].publishedDateTime"
        found.append(
            Problem(
                path,
                None,
                f"{field_name} is more than a year ahead; it is withheld until then (a typo in the year?)",
                Severity.WARNING,
            )
        )
    config = str(settings.config) if settings.config else "feedpub.toml"
    for feed_ in FeedDocuments(store, settings).feed_list():
        if feed_.kind is FeedKind.CURATED and feed_.total == 0:
            found.append(
                Problem(
                    config,
                    None,
                    f"[feeds.{feed_.name}] matches no entry; its feed is empty",
                    Severity.WARNING,
                )
            )
    return tuple(sorted(set(found), key=lambda p: (p.path, p.line or 0, p.message)))


def _first_path(store: Store, key: str) -> str:
    """The first file (by path) with an entry in feed `key`."""
    ids = store.members.page(key, 0, 1 << 30)
    rows = store.entries.by_ids(ids, data=False).values()
    paths = [str(path) for row in rows for path, _ in row.occurrences or ()]
    return min(paths, default="")
