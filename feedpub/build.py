"""``feedpub build``'s last step: write into ``--out`` every document it does
not hold as the store has it, render them in parallel, and remove the
files of documents that left the URL space."""

from __future__ import annotations

import hashlib
import os
import secrets
import sqlite3
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

from feedpub import output
from feedpub import parallel
from feedpub import urlspace
from feedpub.errors import OutputError
from feedpub.settings import Settings
from feedpub.site import Pipeline
from feedpub.site import compress
from feedpub.urlspace import DocumentRef


@dataclass
class Publication:
    """What `publish` wrote."""

    written: int = 0
    unchanged: int = 0
    removed: int = 0
    #: Paths of the subscription feeds whose bytes changed (for WebSub).
    changed_feeds: list[str] = field(default_factory=list)


def publish(pipeline: Pipeline, out: Path, *, gzipped: bool = False) -> Publication:
    """Write into `out` every document it does not hold as the store has it
    (see `_publish`). A store found damaged on the way is set aside, and the
    refresh and publication start again on a new one."""
    try:
        return _publish(pipeline, out, gzipped)
    except sqlite3.DatabaseError as exc:
        pipeline.start_afresh(exc)
        return _publish(pipeline, out, gzipped)


def _publish(pipeline: Pipeline, out: Path, gzipped: bool) -> Publication:
    """Write into `out` every document it does not hold as the store has it:
    the marked ones, and any the folder lacks (a new folder, a deleted
    file); remove the files of documents that left the URL space.

    The store records what it wrote into `out`, and leaves a token in a
    marker file of the folder beside the stores (``outputs/`` in the cache
    folder, one per output folder): when another store wrote the folder since
    (a preview with ``--unpublished``, other settings), the token differs and
    every document is compared, every stale file removed. (Not in `out`: a
    build writes nothing there but the URL space.)"""
    store = pipeline.store
    real_out = output.prepare(out)
    key = str(real_out)
    record = store.documents.outputs(key)
    etags = store.documents.etags()
    mode_key = f"out:{key}"
    # [gzip forms?, finished?, token] of the last build into `out` from this store
    state = store.get(mode_key) or [None, False, None]
    token = state[2] or secrets.token_hex(8)
    # A new folder, another writer since, gzip forms (not) wanted any more: write all.
    marker = _marker(pipeline.settings, real_out)
    rewrite = not record or state[0] != gzipped or marker is None or output.read_token(marker) != state[2]
    # ... and a build killed midway may have left temporary files and stale feeds.
    sweep = rewrite or not state[1]
    refs = pipeline.all_documents()
    wanted = {ref.path for ref in refs}
    present = output.survey(out)
    todo = [
        ref
        for ref in refs
        if rewrite
        or etags.get(ref.path) is None
        or record.get(ref.path) != etags.get(ref.path)
        or ref.path not in present
        or (gzipped and ref.path + output.GZIP_SUFFIX not in present)
    ]
    with store.transaction():
        store.put(mode_key, [gzipped, False, token])
    report = Publication()
    written: list[tuple[str, str, int | None, str]] = []
    jobs = pipeline.settings.jobs if len(todo) >= 64 else 1
    shared = (pipeline, os.getpid(), out, real_out, gzipped)
    for path, etag, updated, keys, did_write in parallel.map_chunks(_render_chunk, todo, jobs, shared):
        written.append((path, etag, updated, keys))
        if did_write:
            report.written += 1
            ref = urlspace.parse(path)
            if ref is not None and ref.feed is not None and ref.page is None and ref.format != "html":
                report.changed_feeds.append(path)
        else:
            report.unchanged += 1
    report.unchanged += len(refs) - len(todo)
    gone = [path for path in record if path not in wanted]
    report.removed = output.remove(out, gone)
    if sweep:
        report.removed += output.sweep(out, wanted)
    with store.transaction():
        for path, etag, updated, keys in written:
            if etags.get(path) != etag:
                store.documents.rendered(path, etag, updated, keys, None, None)
        store.documents.put_outputs(key, [(path, etag) for path, etag, _, _ in written])
        store.documents.drop_outputs(key, gone)
        store.put(mode_key, [gzipped, True, token])
    if marker is not None:
        output.write_token(marker, token)
    return report


def refuse_store_inside(settings: Settings, out: Path) -> None:
    """Raise `OutputError` if the store would be inside `out`: the output is
    published, and the store holds drafts."""
    store = settings.store_path()
    for place in (store, store and store.parent / "outputs"):
        if place is not None and place.resolve().is_relative_to(out.resolve()):
            raise OutputError(
                f"the site store {store} would be inside --out {out}, which is published, "
                "and it holds drafts: choose a --store or --cache-dir outside it"
            )


def _marker(settings: Settings, real_out: Path) -> Path | None:
    """Where the token of the last store to write `real_out` is kept; None
    with ``--no-cache``, which keeps nothing outside --out."""
    if settings.no_cache:
        return None
    name = hashlib.blake2b(str(real_out).encode(), digest_size=10).hexdigest()
    return settings.cache_dir / "outputs" / name


# The pipeline of a forked worker of `publish`, with a connection of its own.
_WORKER_PIPELINE: Pipeline | None = None


def _render_chunk(
    refs: list[DocumentRef], shared: tuple[Any, ...]
) -> list[tuple[str, str, int | None, str, bool]]:
    global _WORKER_PIPELINE
    pipeline, parent, out, real_out, gzipped = shared
    if os.getpid() != parent:
        if _WORKER_PIPELINE is None:
            _WORKER_PIPELINE = pipeline.reopened()
        pipeline = _WORKER_PIPELINE
    results = []
    with pipeline.store.snapshot():
        for document in pipeline.render(refs, pipeline.site()):
            body = document.body
            did_write = output.write(
                out, real_out, document.ref.path, body, compress(body) if gzipped else None
            )
            results.append((document.ref.path, document.etag, document.updated, document.keys, did_write))
    return results
