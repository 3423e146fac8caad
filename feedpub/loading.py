"""The refresh's first step: which content files changed since the store
last looked, and what they give, into the store.

A folder whose listing (names and signatures) is the one recorded is not
looked into; a file with a new signature but the bytes it had (a fresh
clone, a ``touch``) is not parsed again; many files are parsed in parallel.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from feedpub import catalog
from feedpub import content
from feedpub import parallel
from feedpub.settings import Settings
from feedpub.store import Store
from feedpub.store._content import Items

#: From this many files to parse on, parsing is spread over processes.
PARALLEL_FROM = 200
#: Files per chunk of parallel parsing.
_READ_CHUNK = 500


def changes(
    store: Store, scan: content.Scan, every: bool = False
) -> tuple[dict[str, content.FoundFile], set[str], dict[str, bytes | None]]:
    """Files added or touched (`every` file), files removed, and the
    folder listings to record: folders whose listing is unchanged are not
    looked into."""
    stored = {} if every else store.files.folders()
    changed: dict[str, content.FoundFile] = {}
    removed: set[str] = set()
    listings: dict[str, bytes | None] = {}
    for folder, listing in scan.listings.items():
        if stored.get(folder) == listing:
            continue
        known = store.files.in_folder(folder)
        found = scan.files(folder)
        for file in found:
            if every or file.refusal or known.get(file.path, (None,))[0] != file.signature:
                changed[file.path] = file
        removed |= known.keys() - {file.path for file in found}
        listings[folder] = listing
    for folder in (store.files.folders() if every else stored).keys() - scan.listings.keys():
        removed |= store.files.in_folder(folder).keys()
        listings[folder] = None
    return changed, removed, listings


def store_files(
    store: Store,
    settings: Settings,
    changed: dict[str, content.FoundFile],
    removed: set[str],
    listings: dict[str, bytes | None],
    reparse: bool,
) -> tuple[set[str], int]:
    """Parse what changed into the store; the canonical URLs touched and
    how many files were parsed."""
    dirty: set[str] = set()
    for path in removed:
        dirty.update(store.items.drop(path))
        store.files.drop(path)
    known = {}
    for folder in {path.rpartition("/")[0] for path in changed}:
        known.update(store.files.in_folder(folder))
    to_read = [path for path, file in changed.items() if not file.refusal]
    for path, file in changed.items():
        if file.refusal:
            dirty.update(store.items.drop(path))
            store.files.put(path, _folder(path), file.signature, b"", [[None, "error", file.refusal]])
    parsed = 0
    digests = {} if reparse else {p: known[p][1] for p in to_read if p in known}
    for path, digest, parsed_file in _read(settings, to_read, digests):
        file = changed[path]
        if parsed_file is None:  # touched, same bytes
            store.files.sign(path, file.signature)
            continue
        parsed += 1
        problems, rows = parsed_file
        dirty.update(store.items.replace_rows(path, rows))
        dirty.update(row[2] for row in rows)
        store.files.put(path, _folder(path), file.signature, digest, problems)
    for folder, listing in listings.items():
        if listing is None:
            store.files.drop_folder(folder)
        else:
            store.files.put_folder(folder, listing)
    return dirty, parsed


def _read(settings: Settings, paths: list[str], known: dict[str, bytes]) -> Iterator[tuple[str, bytes, Any]]:
    jobs = settings.jobs if len(paths) >= PARALLEL_FROM else 1
    shared = (settings.content_dir, settings.max_file_size, known)
    # Small chunks: a chunk's parsed files wait in memory until stored.
    return parallel.map_chunks(_read_files, paths, jobs, shared, chunk_size=_READ_CHUNK)


def _folder(path: str) -> str:
    return path.rpartition("/")[0]


def _read_files(paths: list[str], shared: tuple[Path, int, dict[str, bytes]]) -> list[tuple[str, bytes, Any]]:
    """Read and parse files (in a worker process when there are many): for
    each, its digest and what the store keeps of it (its problems and its
    item rows, ready to insert), or None if its bytes are the known ones."""
    root, max_bytes, known = shared
    results: list[tuple[str, bytes, Any]] = []
    for path in paths:
        digest, parsed = content.read(root, path, max_bytes, known.get(path))
        if parsed is None:
            results.append((path, digest, None))
            continue
        problems = [[p.line, p.severity.value, p.message] for p in parsed.problems]
        rows = [Items.values(row) for row in catalog.item_rows(parsed.article)] if parsed.article else []
        results.append((path, digest, (problems, rows)))
    return results
