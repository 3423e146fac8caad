"""Finding content files and reading them safely.

The scan walks the content folder (hidden names skipped, symbolic links to
folders not followed) and gives each content file a signature (size,
modification time, inode, mode) so that a later scan can tell which files
changed without reading any (in a folder of many subfolders, half of them
are walked by a forked process). A link leading out of the folder, a FIFO, a
socket or a device is refused by the scan with the same message `check`
and the server print.
"""

from __future__ import annotations

import errno
import marshal
import operator
import os
import stat
import struct
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from feedpub.errors import ConfigError

#: File name endings that hold articles.
SUFFIXES = frozenset({".txt", ".md", ".markdown", ".yaml", ".yml"})
_SIGNATURE = struct.Struct("<qqqI")
#: The same, for `str.endswith` (a scan checks every name).
_SUFFIX_TUPLE = tuple(SUFFIXES)


@dataclass(frozen=True)
class FoundFile:
    """One content file as the scan found it."""

    #: Path relative to the content folder, with ``/`` between folders.
    path: str
    #: Size, modification time, inode and mode, packed: equal signatures
    #: mean the file has not been touched.
    signature: bytes
    #: Why the scan refuses the file (a link out, a FIFO), or None.
    refusal: str | None = None


@dataclass(frozen=True)
class Scan:
    """Everything below the content folder, by folder."""

    #: Per folder holding content files (``""`` is the root; empty folders
    #: are left out), its listing: the names, signatures and refusals of its
    #: files, sorted by name, as bytes. Equal listings mean no file of the
    #: folder was added, removed or touched.
    listings: dict[str, bytes]
    #: Folders that cannot be read, with the reason.
    unreadable: dict[str, str]
    #: Per folder, its files as (path, signature, refusal): `files` makes
    #: them `FoundFile`s for the few folders whose listing changed.
    _found: dict[str, list[tuple[str, bytes, str | None]]]

    def files(self, folder: str) -> tuple[FoundFile, ...]:
        return tuple(FoundFile(*found) for found in self._found[folder])

    def count(self) -> int:
        """How many content files were found (refused ones included)."""
        return sum(map(len, self._found.values()))


class FileRefused(Exception):
    """A file that cannot be published at all, with the reason and line."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


def scan(root: Path) -> Scan:
    """Every content file below `root`; raises `ConfigError` if the folder
    itself is missing or cannot be read."""
    try:
        if not root.is_dir():
            raise ConfigError(f"content folder {str(root)!r} does not exist or is not a folder")
        real_root = root.resolve(strict=True)
        os.listdir(root)
    except OSError as exc:
        raise ConfigError(f"cannot read content folder {str(root)!r}: {exc.strerror}") from exc
    walk = _Walk(real_root)
    walk.folder("", str(root))
    if len(walk.pending) >= _FORK_FROM and threading.active_count() == 1 and hasattr(os, "fork"):
        # Interleaved, so that each process gets folders of every era.
        theirs, walk.pending = walk.pending[1::2], walk.pending[0::2]
        received = _walk_in_child(real_root, theirs, walk)
        if received is None:  # no child, or it failed: its share is walked here
            walk.pending += theirs
        else:
            walk.merge(*received)
    walk.run()
    # By folder, whichever process walked it: the same order every time.
    return Scan(dict(sorted(walk.listings.items())), walk.unreadable, dict(sorted(walk.found.items())))


#: From this many subfolders of the content folder on, a process without
#: other threads walks half of them in a forked child. The walk is mostly
#: the kernel's `lstat` (about 0.37 s of its 0.5 s for 100,000 files here),
#: which two processes make side by side; two threads only contend for the
#: GIL. A forked child runs nothing but the walk and leaves by `os._exit`,
#: so it never touches a store connection or a buffer of the parent's.
_FORK_FROM = 16


class _Walk:
    """The walk of a part of the content folder, and what it found."""

    def __init__(self, real_root: Path) -> None:
        self.real_root = real_root
        self.listings: dict[str, bytes] = {}
        self.unreadable: dict[str, str] = {}
        self.found: dict[str, list[tuple[str, bytes, str | None]]] = {}
        self.pending: list[tuple[str, str]] = []

    def run(self) -> None:
        while self.pending:
            self.folder(*self.pending.pop())

    def merge(
        self,
        listings: dict[str, bytes],
        unreadable: dict[str, str],
        found: dict[str, list[tuple[str, bytes, str | None]]],
    ) -> None:
        self.listings.update(listings)
        self.unreadable.update(unreadable)
        self.found.update(found)

    def folder(self, prefix: str, folder: str) -> None:
        """Sign the files of one folder, and queue its subfolders.

        This runs once per file on every rebuild (100,000 times for a big
        archive): regular files take the short path, and nothing is made
        per file but its signature and one tuple."""
        try:
            with os.scandir(folder) as entries:
                listed = sorted(entries, key=_name)
        except OSError as exc:
            self.unreadable[prefix.rstrip("/") or "."] = f"cannot read folder: {reason(exc)}"
            return
        found: list[tuple[str, bytes, str | None]] = []
        pack, is_regular = _SIGNATURE.pack, stat.S_ISREG
        for entry in listed:
            name = entry.name
            if name[0] == ".":
                continue
            if entry.is_dir(follow_symlinks=False):
                self.pending.append((prefix + name + "/", entry.path))
            elif name.lower().endswith(_SUFFIX_TUPLE):
                try:
                    info = entry.stat(follow_symlinks=False)
                except OSError:
                    info = None
                if info is not None and is_regular(info.st_mode):
                    signature = pack(info.st_size, info.st_mtime_ns, info.st_ino, info.st_mode)
                    found.append((prefix + name, signature, None))
                else:
                    found.append(_examine(entry, prefix + name, self.real_root))
        if found:
            key = prefix.rstrip("/")
            self.found[key] = found
            self.listings[key] = b"".join(
                [
                    _LINE % (path.encode("utf-8", "surrogateescape"), signature, (refusal or "").encode())
                    for path, signature, refusal in found
                ]
            )


def _walk_in_child(real_root: Path, pending: list[tuple[str, str]], walk: _Walk) -> Any:
    """Walk `pending` in a forked child while `walk` runs here; what the
    child found (listings, unreadable folders, files), or None if it failed."""
    try:
        read_end, write_end = os.pipe()
    except OSError:
        return None
    try:
        pid = os.fork()
    except OSError:  # no more processes allowed: walk it all here
        os.close(read_end)
        os.close(write_end)
        return None
    if pid == 0:  # the child
        code = 1
        try:
            os.close(read_end)
            theirs = _Walk(real_root)
            theirs.pending = pending
            theirs.run()
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(marshal.dumps((theirs.listings, theirs.unreadable, theirs.found)))
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    try:
        walk.run()
    finally:
        with os.fdopen(read_end, "rb") as pipe:
            data = pipe.read()
        try:
            failed = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) != 0
        except ChildProcessError:  # reaped by someone's SIGCHLD handler: the data tells
            failed = False
    if failed:
        return None
    try:
        return marshal.loads(data)
    except (EOFError, ValueError, TypeError):
        return None


_name = operator.attrgetter("name")
_signed = operator.attrgetter("st_size", "st_mtime_ns", "st_ino", "st_mode")
#: A file's line in its folder's listing: path, signature, refusal.
_LINE = b"%s\0%s%s\n"


def _examine(entry: os.DirEntry[str], relpath: str, real_root: Path) -> tuple[str, bytes, str | None]:
    """Sign one file, or say why it is refused. The refusal is part of what
    later scans compare, so a file turning into a FIFO is noticed."""
    try:
        info = entry.stat(follow_symlinks=False)
        if stat.S_ISLNK(info.st_mode):
            target = Path(entry.path).resolve(strict=True)
            if not target.is_relative_to(real_root):
                return (relpath, _sign(info), "symbolic link leads outside the content folder; refused")
            info = target.stat()
    except RuntimeError:  # Python 3.11's resolve() on a loop; its text holds the absolute path
        return (relpath, b"", "cannot read file: symbolic link loop")
    except OSError as exc:
        return (relpath, b"", f"cannot read file: {reason(exc)}")
    if not stat.S_ISREG(info.st_mode):
        return (relpath, _sign(info), "not a regular file (a FIFO, socket or device); refused")
    return (relpath, _sign(info), None)


def _sign(info: os.stat_result) -> bytes:
    return _SIGNATURE.pack(*_signed(info))


def reason(exc: BaseException) -> str:
    """The readable part of an OS error (no absolute paths)."""
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)


# Never follow a link the scan did not check, never wait on a FIFO.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)


def read(root: Path, relpath: str, max_bytes: int) -> bytes:
    """At most `max_bytes` + 1 bytes of a regular file inside `root`.

    The scan checked each path, but a file can be swapped for a link or a
    FIFO before it is opened: the last component is opened without following
    links, a link is resolved and checked again, and the opened file must be
    a regular one. Raises `FileRefused` or `OSError`.
    """
    path = root / relpath
    try:
        descriptor = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
        try:
            target = path.resolve(strict=True)
        except RuntimeError:  # Python 3.11's resolve() on a loop
            raise FileRefused("cannot read file: symbolic link loop") from None
        if not target.is_relative_to(root.resolve()):
            raise FileRefused("symbolic link leads outside the content folder; refused") from None
        descriptor = os.open(target, _OPEN_FLAGS)
    with os.fdopen(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise FileRefused("not a regular file (a FIFO, socket or device); refused")
        return handle.read(max_bytes + 1)
