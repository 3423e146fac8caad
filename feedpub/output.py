"""Writing documents into an output folder, atomically and only when changed.

Each file is written to a temporary file beside it and moved into place with
`os.replace`, so a reader of the folder (a web server, a sync to a CDN, a
build killed midway) only ever sees a complete old or complete new file.
Files whose bytes did not change are left alone, keeping their modification
time and thus the validators a static server derives from it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from feedpub.documents import Document
from feedpub.documents import compress
from feedpub.documents import file_name
from feedpub.errors import OutputError

#: Folders whose feed files feedpub owns: a feed that no longer exists is
#: removed from them (by these endings only), so no stale feed lingers.
OWNED_FOLDERS = ("topics", "providers")
OWNED_SUFFIXES = (".rss", ".atom", ".gz")
#: Beside each file, ``--gzip`` writes its gzip form for nginx's gzip_static.
GZIP_SUFFIX = ".gz"
_TEMP_PREFIX = ".feedpub-"


@dataclass
class WriteReport:
    """What `write` did."""

    written: int = 0
    unchanged: int = 0
    removed: int = 0


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write(
    out: str | os.PathLike[str],
    documents: Iterable[Document],
    keep: Iterable[str] = (),
    gzipped: bool = False,
) -> WriteReport:
    """Write every document below `out`, and its gzip form beside it when
    `gzipped` (else remove any such file, which would be stale); remove
    feeds of owned folders that are neither among them nor named in `keep`
    (files known to be current). Raises `OutputError` if `out` cannot be
    written."""
    root = Path(out)
    report = WriteReport()
    mode = 0o666 & ~_umask()
    kept = {root / name for name in keep}
    kept |= {root / (name + GZIP_SUFFIX) for name in keep}
    try:
        root.mkdir(parents=True, exist_ok=True)
        real_root = root.resolve()
        for document in documents:
            target = root / file_name(document.path)
            # Slugs cannot contain "/" or "..", but nothing outside `out`
            # must ever be written whatever a future path looks like.
            if not target.resolve().is_relative_to(real_root):
                raise OutputError(f"refusing to write {target} outside {root}")
            kept.add(target)
            if _write_if_changed(target, document.body, mode):
                report.written += 1
            else:
                report.unchanged += 1
            packed = target.with_name(target.name + GZIP_SUFFIX)
            if gzipped:
                kept.add(packed)
                _write_if_changed(packed, compress(document.body), mode)
            elif packed.is_file() and not packed.is_symlink():
                packed.unlink()
        report.removed = _remove_stale(root, kept)
    except OSError as exc:
        where = exc.filename or root
        raise OutputError(f"cannot write to {where}: {exc.strerror or exc}") from exc
    return report


def _write_if_changed(target: Path, body: bytes, mode: int) -> bool:
    try:
        if target.stat().st_size == len(body) and target.read_bytes() == body:
            return False
    except FileNotFoundError:
        pass
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=target.parent, prefix=_TEMP_PREFIX + target.name + ".")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(body)
        os.chmod(temp, mode)  # mkstemp makes it private; a web server must read it
        os.replace(temp, target)
    except BaseException:
        os.unlink(temp)
        raise
    return True


def _remove_stale(root: Path, kept: set[Path]) -> int:
    """Remove feeds no longer in the URL space, and temporary files left by a
    build that was killed."""
    removed = 0
    for folder in OWNED_FOLDERS:
        # Through a symbolic link, an owned folder may be any folder on the
        # disk: remove nothing there, as nothing outside `out` is touched.
        if (root / folder).is_symlink() or not (root / folder).is_dir():
            continue
        for path in (root / folder).iterdir():
            stale_feed = path.suffix in OWNED_SUFFIXES and path not in kept
            if (stale_feed or path.name.startswith(_TEMP_PREFIX)) and path.is_file():
                path.unlink()
                removed += stale_feed and path.suffix != GZIP_SUFFIX
    for path in root.glob(_TEMP_PREFIX + "*"):
        if path.is_file() and not path.is_symlink():
            path.unlink()
    return removed
