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
    """Write into `out` every document it does not hold as the store has it,
    and remove the files of documents that left the URL space.

    The work follows what changed since the last publication into `out`,
    not the size of the URL space: the documents whose version moved since,
    and the files of folders whose modification time moved (a deleted file).
    Everything is compared, and every stale file removed, for a new folder,
    gzip forms wanted or not any more, and when another store wrote the
    folder since (a preview with ``--unpublished``, other settings): the
    store leaves a token in a marker file beside the stores (``outputs/`` in
    the cache folder; not in `out`, where a build writes nothing but the URL
    space), and that token then differs."""
    store = pipeline.store
    real_out = output.prepare(out)
    key = str(real_out)
    mode_key = f"out:{key}"
    state = store.get(mode_key) or {}
    token = state.get("token") or secrets.token_hex(8)
    marker = _marker(pipeline.settings, real_out)
    rewrite = (
        not state
        or state.get("gzip") != gzipped
        or marker is None
        or output.read_token(marker) != token
        or not store.documents.outputs_of(key, [urlspace.INDEX_PATH])
    )
    # A build killed midway may have left temporary files and stale feeds.
    sweep = rewrite or not state.get("finished")
    folders: dict[str, int] = state.get("folders", {})
    missing: set[str] = set()
    if rewrite:
        refs = pipeline.all_documents()
        candidates = {ref.path for ref in refs}
        removed: set[str] = set(store.documents.outputs(key)) - candidates
    else:
        changed = store.documents.changes_since(int(state.get("version", 0)))
        removed = {path for path, gone in changed.items() if gone}
        missing = _missing(pipeline, out, folders, gzipped)
        candidates = (set(changed) - removed) | missing
        refs = [ref for ref in map(urlspace.parse, sorted(candidates)) if ref is not None]
    etags = store.documents.etags_of(candidates)
    record = store.documents.outputs_of(key, candidates)
    todo = [
        ref
        for ref in refs
        if rewrite
        or ref.path in missing
        or etags.get(ref.path) is None
        or record.get(ref.path) != etags[ref.path]
    ]
    with store.transaction():
        store.put(mode_key, {**state, "gzip": gzipped, "finished": False, "token": token})
    report = Publication()
    # What was written is recorded in batches as it comes, not held to the
    # end: at 100,000 articles a cold build writes 145,000 documents, whose
    # surrogate keys alone are some 300 MB. Each record states what already
    # holds (the file is written, its ETag is the store's), so a build
    # killed midway loses nothing but the rest of its work.
    written: list[tuple[str, str, int | None, str, str | None]] = []

    def record_written() -> None:
        with store.transaction():
            for path, etag, updated, keys, layout in written:
                # Bytes the store has already (a server rendered them) keep
                # their row: its layout is of the same bytes.
                if etags.get(path) != etag:
                    store.documents.rendered(path, etag, updated, keys, None, None, layout)
            store.documents.put_outputs(key, [(path, etag) for path, etag, *_ in written])
        written.clear()

    jobs = pipeline.settings.jobs if len(todo) >= 64 else 1
    # One cache of rendered entries per process for the whole build, not
    # per chunk: an entry shown on pages of five feeds is rendered once
    # when those pages are rendered near each other (forked workers each
    # inherit an empty copy).
    fragments = None
    if todo:
        from feedpub.feeds import Fragments  # feedgen, only to render (see `Pipeline.render`)

        fragments = Fragments()
    shared = (pipeline, os.getpid(), out, real_out, gzipped, fragments)
    for done in parallel.map_chunks(_render_chunk, todo, jobs, shared):
        path, etag, updated, keys, layout, did_write = done
        written.append((path, etag, updated, keys, layout))
        if len(written) >= _RECORD_BATCH:
            record_written()
        if did_write:
            report.written += 1
            ref = urlspace.parse(path)
            if ref is not None and ref.feed is not None and ref.page is None and ref.format != "html":
                report.changed_feeds.append(path)
        else:
            report.unchanged += 1
    report.unchanged += pipeline.document_count() - len(todo)
    gone = sorted(removed)
    report.removed = output.remove(out, gone)
    if sweep:
        report.removed += output.sweep(out, {ref.path for ref in pipeline.all_documents()})
    touched = {str(Path(urlspace.file_name(path)).parent) for path in [*candidates, *gone]}
    if rewrite:
        folders = {}
    version = store.version
    record_written()
    with store.transaction():
        store.documents.drop_outputs(key, gone)
        folders = _folder_times(out, folders.keys() | touched)
        store.put(
            mode_key,
            {"gzip": gzipped, "finished": True, "token": token, "version": version, "folders": folders},
        )
    if marker is not None:
        output.write_token(marker, token)
    return report


def _folder_times(out: Path, folders: set[str] | Any) -> dict[str, int]:
    """The modification time of each folder below `out` (deleting a file
    changes its folder's): what the next build compares."""
    times = {}
    for folder in folders:
        try:
            times[folder] = os.stat(os.path.join(out, folder)).st_mtime_ns
        except OSError:
            continue
    return times


def _missing(pipeline: Pipeline, out: Path, folders: dict[str, int], gzipped: bool) -> set[str]:
    """Documents whose file is gone from a folder whose modification time
    moved since the last build (someone deleted a file)."""
    now = _folder_times(out, set(folders))
    moved = {folder for folder, mtime in now.items() if folders[folder] != mtime}
    moved |= set(folders) - set(now)
    if not moved:
        return set()
    present = output.survey(out)
    missing = set()
    for ref in pipeline.all_documents():
        if str(Path(urlspace.file_name(ref.path)).parent) in moved and (
            ref.path not in present or (gzipped and ref.path + output.GZIP_SUFFIX not in present)
        ):
            missing.add(ref.path)
    return missing


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

#: Documents recorded per transaction while a build writes.
_RECORD_BATCH = 2_000


def _render_chunk(
    refs: list[DocumentRef], shared: tuple[Any, ...]
) -> list[tuple[str, str, int | None, str, str | None, bool]]:
    global _WORKER_PIPELINE
    pipeline, parent, out, real_out, gzipped, fragments = shared
    if os.getpid() != parent:
        if _WORKER_PIPELINE is None:
            _WORKER_PIPELINE = pipeline.reopened()
        pipeline = _WORKER_PIPELINE
    results = []
    with pipeline.store.snapshot():
        in_version = fragments.of_version(pipeline.store.version)
        # The unchanged entries of a document are copied from the file the
        # last build wrote (when it is still what that build wrote).
        folder = output.Folder(out, real_out)
        previous = lambda ref: folder.read(ref.path)  # noqa: E731
        for document in pipeline.render(refs, pipeline.site(), in_version, previous):
            body = document.body
            did_write = folder.write(document.ref.path, body, compress(body) if gzipped else None)
            results.append(
                (
                    document.ref.path,
                    document.etag,
                    document.updated,
                    document.keys,
                    document.layout,
                    did_write,
                )
            )
    return results
