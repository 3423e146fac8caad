"""Sleep in the kernel until one file is replaced: how a server worker
learns of a new store version without waking up to look.

The refresher replaces the store's version mark (a rename into its folder)
after each commit. A worker watches that folder with inotify and blocks in
``poll`` until an event names the mark, so an idle worker costs nothing.
watchfiles, which watches the content folder, cannot do this: its loop wakes
every ``step`` milliseconds to look at a stop event and at signals, tens of
µs of CPU each time, in every worker. One folder and one name need no
recursion, no new folders and no debouncing, so a few calls through ctypes
do the job without another dependency (``inotify_simple`` is the same calls).

Where inotify is not available (not Linux, no free instances) `FileWatch.open`
returns None and the caller polls.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import select
import struct
import threading
import time
from pathlib import Path

log = logging.getLogger("feedpub")

# <sys/inotify.h>: what can happen to a name in the folder, and to the folder.
_IN_CLOSE_WRITE = 0x008
_IN_MOVED_FROM = 0x040
_IN_MOVED_TO = 0x080
_IN_CREATE = 0x100
_IN_DELETE = 0x200
_IN_DELETE_SELF = 0x400
_IN_MOVE_SELF = 0x800
_IN_Q_OVERFLOW = 0x4000
_IN_IGNORED = 0x8000
_NAMED = _IN_CLOSE_WRITE | _IN_MOVED_FROM | _IN_MOVED_TO | _IN_CREATE | _IN_DELETE
#: The folder itself went away or the queue overflowed: events may be lost.
_LOST = _IN_DELETE_SELF | _IN_MOVE_SELF | _IN_Q_OVERFLOW | _IN_IGNORED
_EVENT = struct.Struct("iIII")  # wd, mask, cookie, length of the name


class FileWatch:
    """Wait for the file at a path to be created, replaced, written or
    removed."""

    def __init__(self, fd: int, name: bytes) -> None:
        self._fd = fd
        self._name = name
        #: Written to by `interrupt`, from another thread.
        self._wake_read, self._wake_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        #: Guards `interrupt` against `close`: a closed descriptor's number
        #: is soon another file's, which a late write would damage.
        self._guard = threading.Lock()
        self._closed = False
        self._poller = select.poll()
        self._poller.register(fd, select.POLLIN)
        self._poller.register(self._wake_read, select.POLLIN)
        #: False once the watch may have missed events (its folder moved or
        #: vanished): the caller should then poll.
        self.working = True

    @classmethod
    def open(cls, path: Path) -> FileWatch | None:
        """A watch on `path`, or None where the kernel cannot give one."""
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        except (OSError, AttributeError):  # not Linux, or a libc without inotify
            return None
        if fd < 0:
            log.info("no inotify for the store's version mark: %s", os.strerror(ctypes.get_errno()))
            return None
        if libc.inotify_add_watch(fd, os.fsencode(path.parent), _NAMED | _IN_DELETE_SELF | _IN_MOVE_SELF) < 0:
            log.info("cannot watch %s: %s", path.parent, os.strerror(ctypes.get_errno()))
            os.close(fd)
            return None
        return cls(fd, os.fsencode(path.name))

    def wait(self, timeout: float) -> bool:
        """Block until the file changes (True), or `timeout` seconds pass or
        `interrupt` is called (False). True as well when events may have been
        lost."""
        deadline = time.monotonic() + timeout
        while self.working:
            left = deadline - time.monotonic()
            ready = self._poller.poll(int(left * 1000) + 1) if left > 0 else []
            if not ready:
                return False
            if any(fd == self._wake_read for fd, _ in ready):
                with contextlib.suppress(BlockingIOError):
                    os.read(self._wake_read, 4096)
                return False
            if self._read():
                return True
        return True

    def interrupt(self) -> None:
        """Make the current or next `wait` return at once."""
        with self._guard, contextlib.suppress(BlockingIOError):  # full: a wake is pending anyway
            if not self._closed:
                os.write(self._wake_write, b"!")

    def _read(self) -> bool:
        try:
            data = os.read(self._fd, 64 * 1024)
        except BlockingIOError:
            return False
        hit = False
        offset = 0
        while offset + _EVENT.size <= len(data):
            _, mask, _, length = _EVENT.unpack_from(data, offset)
            offset += _EVENT.size
            name = data[offset : offset + length].rstrip(b"\0")
            offset += length
            if mask & _LOST:
                self.working = False
                hit = True
            elif name == self._name:
                hit = True
        return hit

    def close(self) -> None:
        """Close the watch (from the thread that waits on it)."""
        with self._guard:
            if not self._closed:
                self._closed = True
                for fd in (self._fd, self._wake_read, self._wake_write):
                    os.close(fd)
