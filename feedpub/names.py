"""Topic and provider names: which spelling each is shown with, and the
slug of its feed.

Names that differ only in case or spacing are one; the spelling used most
often is shown (ties: the first alphabetically). The counts of spellings
are kept in the store and moved by each derive, so that a new spelling costs
one name's work; names sharing a slug get distinct, stable ones
(`feedpub.urls.assign_slugs`).
"""

from __future__ import annotations

from feedpub.store import NameRow
from feedpub.store import Store
from feedpub.urls import assign_slugs
from feedpub.urls import slugify


def normal(name: str) -> str:
    """Names that differ only in case or spacing are one topic or provider."""
    return " ".join(name.split()).casefold()


def settle(store: Store, touched: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """Second pass: the shown spelling and slug of every name whose counts
    moved. Returns (kind, old slug) of the names shown differently now:
    their entries must be derived again."""
    renamed: set[tuple[str, str]] = set()
    regroup: dict[tuple[str, str], set[str]] = {}
    for kind, name_key in sorted(touched):
        spellings = store.names.spellings(kind, name_key)
        old = store.names.get(kind, name_key)
        if not spellings:
            if old is not None:
                store.names.drop(kind, name_key)
                regroup.setdefault((kind, old.base), set())
                renamed.add((kind, old.slug))
            continue
        display = min(spellings, key=lambda pair: (-pair[1], pair[0]))[0]
        if old is not None and old.display == display:
            continue
        base = slugify(display)
        store.names.put(NameRow(kind, name_key, display, base, old.slug if old else "", None))
        regroup.setdefault((kind, base), set())
        if old is not None:
            regroup.setdefault((kind, old.base), set())
            renamed.add((kind, old.slug))
    for kind, base in sorted(regroup):
        renamed |= assign_slugs_of(store, kind, base)
    return renamed


def assign_slugs_of(store: Store, kind: str, base: str) -> set[tuple[str, str]]:
    """Give every name sharing the base slug `base` its slug: the one that
    sorts first keeps the base, the others get a suffix from a hash of the
    name (`feedpub.urls.assign_slugs`'s rule, applied to one group)."""
    group = store.names.with_base(kind, base)
    slugs = assign_slugs([row.display for row in group], kind)
    renamed = set()
    for row in group:
        if row.slug != slugs[row.display]:
            if row.slug:
                renamed.add((kind, row.slug))
            store.names.put(row._replace(slug=slugs[row.display]))
    return renamed
