"""Writing documents into an output folder, atomically and only when changed.

Each file is written to a temporary file beside it and moved into place with
`os.replace`, so a reader of the folder (a web server, a sync to a CDN, a
build killed midway) only ever sees a complete old or complete new file.
Files whose bytes did not change are left alone, keeping their modification
time and thus the validators a static server derives from it.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import stat
from collections.abc import Iterable
from collections.abc import Iterator
from pathlib import Path

from feedpub.errors import OutputError
from feedpub.urlspace import OWNED_FOLDERS
from feedpub.urlspace import OWNED_SUFFIXES
from feedpub.urlspace import OWNED_TOP_FILES
from feedpub.urlspace import file_name

#: Beside each file, ``--gzip`` writes its gzip form for nginx's gzip_static.
GZIP_SUFFIX = ".gz"
TEMP_PREFIX = ".feedpub-"


def prepare(out: Path) -> Path:
    """Create the output folder; its resolved path. Raises `OutputError`."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        return out.resolve()
    except OSError as exc:
        raise OutputError(f"cannot write to {exc.filename or out}: {exc.strerror or exc}") from None


class Folder:
    """The output folder of one batch of writes: it remembers the folders
    below `out` it has made or found to be real folders inside `out`, so
    that each is resolved (one ``lstat`` per path component) once, not once
    per file."""

    def __init__(self, out: Path, real_out: Path) -> None:
        self.out = out
        self.real_out = real_out
        self._inside: set[Path] = set()

    def _checked(self, target: Path) -> bool:
        """Whether `target`'s folder is inside `out` and `target` no link:
        nothing outside `out` must ever be written, whatever a future path
        looks like, nor through a link someone planted inside it. (Slugs
        cannot contain "/" or "..".)"""
        parent = target.parent
        if parent not in self._inside:
            if not parent.resolve().is_relative_to(self.real_out):
                return False
            self._inside.add(parent)
        return not target.is_symlink()

    def write(self, path: str, body: bytes, gzipped: bytes | None) -> bool:
        """Write the document at URL `path` if its bytes changed, and its
        gzip form beside it when given (else remove a stale one); True if
        either was written. Raises `OutputError`."""
        target = self.out / file_name(path)
        try:
            if not self._checked(target):
                raise OutputError(f"refusing to write {target} outside {self.out}")
            written = _write_if_changed(target, body)
            packed = target.with_name(target.name + GZIP_SUFFIX)
            if gzipped is not None:
                written |= _write_if_changed(packed, gzipped)
            else:
                _remove_file(packed)
            return written
        except OSError as exc:
            raise OutputError(f"cannot write to {exc.filename or target}: {exc.strerror or exc}") from None

    def read(self, path: str) -> bytes | None:
        """The bytes of the file of the document at URL `path`, if there is
        one (and it is no link, nor outside `out`)."""
        target = self.out / file_name(path)
        try:
            return target.read_bytes() if self._checked(target) else None
        except OSError:
            return None


#: Temporary names of this process: with its pid, unique among processes
#: writing the same folder at once (the build's workers).
_temporary_names = itertools.count()


def _write_if_changed(target: Path, body: bytes) -> bool:
    try:
        if target.stat().st_size == len(body) and target.read_bytes() == body:
            return False
    except FileNotFoundError:
        target.parent.mkdir(parents=True, exist_ok=True)
    # O_EXCL: never write through a name something else made (a killed
    # build's leftover: the next name is tried). The mode is a plain file's
    # (the umask applies), so that a web server can read it.
    while True:
        temp = target.with_name(f"{TEMP_PREFIX}{target.name}.{os.getpid()}.{next(_temporary_names)}")
        try:
            handle = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
            break
        except FileExistsError:
            continue
    try:
        if body:
            # The blocks allocated now, in one call: else ext4 (its
            # auto_da_alloc) allocates them, and starts writing them out,
            # inside the rename over the old file. A file system without
            # fallocate refuses or has it emulated; the write then tells.
            with contextlib.suppress(OSError):
                os.posix_fallocate(handle, 0, len(body))
        with os.fdopen(handle, "wb") as stream:
            stream.write(body)
        os.replace(temp, target)
    except BaseException:
        os.unlink(temp)
        raise
    return True


def read_token(marker: Path) -> str | None:
    """The token in a build's marker file (see `feedpub.build.publish`)."""
    try:
        return marker.read_text(encoding="ascii").strip() or None
    except (OSError, UnicodeDecodeError):
        return None


def write_token(marker: Path, token: str) -> None:
    if read_token(marker) != token:
        try:
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.write_text(token + "\n", encoding="ascii")
        except OSError:  # no marker: the next build compares every file, which is slower, not wrong
            pass


def survey(out: Path) -> set[str]:
    """The URL paths of the files below `out` that feedpub may have written
    (``/`` for ``index.html``; gzip forms as ``PATH.gz``), by name only (no
    file is opened), so that a build notices a deleted file cheaply; and the
    temporary files a killed build left are removed on the way."""
    found = set()
    for name in _names(out):
        if name.startswith(TEMP_PREFIX):
            _remove_file(out / name)
        elif name.endswith((*OWNED_SUFFIXES, ".opml", ".opml.gz")):
            found.add("/" + name)
    if "/index.html" in found:
        found.add("/")
    if "/index.html.gz" in found:
        found.add("/.gz")
    for path in _owned_folder_files(out):
        if path.name.startswith(TEMP_PREFIX):
            _remove_file(path)
        else:
            found.add("/" + path.relative_to(out).as_posix())
    return found


def _owned_folder_files(out: Path) -> Iterator[Path]:
    """Every file below the folders feedpub owns in `out`. Symbolic links to
    folders are not followed: through one, an owned folder may be any folder
    on the disk, and nothing outside `out` is feedpub's to touch."""
    for folder in OWNED_FOLDERS:
        top = out / folder
        if top.is_symlink() or not top.is_dir():
            continue
        for directory, folders, files in os.walk(top):
            folders[:] = [name for name in folders if not (Path(directory) / name).is_symlink()]
            for name in files:
                yield Path(directory) / name


def _remove_file(path: Path) -> None:
    """Remove `path` if it is a plain file (not a link): one ``lstat``."""
    try:
        if stat.S_ISREG(os.lstat(path).st_mode):
            path.unlink()
    except FileNotFoundError:
        pass


def _names(folder: Path) -> list[str]:
    try:
        return os.listdir(folder)
    except OSError:
        return []


def remove(out: Path, paths: Iterable[str]) -> int:
    """Remove the files of documents that left the URL space (and their gzip
    forms), and the folders they leave empty; how many documents there were."""
    removed = 0
    folders: set[Path] = set()
    for path in paths:
        target = out / file_name(path)
        for candidate in (target, target.with_name(target.name + GZIP_SUFFIX)):
            if candidate.is_file() and not candidate.is_symlink():
                candidate.unlink()
                removed += candidate is target
                folders.add(candidate.parent)
    for folder in sorted(folders, key=lambda f: len(f.parts), reverse=True):
        _remove_empty(folder, out)
    return removed


def _remove_empty(folder: Path, out: Path) -> None:
    """Remove `folder` and its parents below `out` while they are empty."""
    while folder != out and folder.is_relative_to(out) and not folder.is_symlink():
        try:
            folder.rmdir()
        except OSError:  # not empty (or not ours to remove): stop here
            return
        folder = folder.parent


def sweep(out: Path, keep: set[str]) -> int:
    """Remove, from the folders feedpub owns, feed files that are not in
    `keep` (URL paths) and temporary files of a build that was killed; how
    many feed files went. For a folder feedpub has no record of (a first
    build into it, or a build killed midway)."""
    removed = 0
    for path in out.glob(TEMP_PREFIX + "*"):
        if path.is_file() and not path.is_symlink():
            path.unlink()
    for name in OWNED_TOP_FILES:
        for suffix in OWNED_SUFFIXES:
            removed += _sweep_file(out / f"{name}{suffix}", out, keep)
    for path in _owned_folder_files(out):
        removed += _sweep_file(path, out, keep)
    return removed


def _sweep_file(path: Path, out: Path, keep: set[str]) -> int:
    if path.name.startswith(TEMP_PREFIX):
        if path.is_file() and not path.is_symlink():
            path.unlink()
        return 0
    if not path.name.endswith(OWNED_SUFFIXES) or not path.is_file() or path.is_symlink():
        return 0
    url = "/" + path.relative_to(out).as_posix()
    if url.endswith(GZIP_SUFFIX):
        url = url[: -len(GZIP_SUFFIX)]
    if url in keep:
        return 0
    path.unlink()
    return int(not path.name.endswith(GZIP_SUFFIX))
