"""How a server worker sleeps until the store's version mark is replaced
(`feedpub.filewatch`): woken by the mark's replacement, not by other files of
its folder (the store's write-ahead log is written there at every commit),
nor before its time; at once by an interrupt, and by its folder vanishing."""

from __future__ import annotations

import os
import sys
import threading
import time

import pytest

from feedpub.filewatch import FileWatch

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify is Linux's")


@pytest.fixture
def watched(tmp_path):
    """(a watch, the mark it watches)."""
    mark = tmp_path / "site.sqlite3.version"
    mark.write_text("1\n")
    watch = FileWatch.open(mark)
    assert watch is not None
    yield watch, mark
    watch.close()


def _replace(path, text: str) -> None:
    temporary = path.with_name(f"{path.name}.123.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def test_the_mark_replaced_wakes_the_waiter_at_once(watched):
    watch, mark = watched
    threading.Timer(0.1, _replace, (mark, "2\n")).start()
    started = time.monotonic()
    assert watch.wait(10) is True
    assert time.monotonic() - started < 5


def test_other_files_of_the_folder_do_not_wake_it_and_the_timeout_holds(watched):
    watch, mark = watched
    wal = mark.with_name("site.sqlite3-wal")
    _replace(mark.with_name("other.version"), "x")
    with wal.open("ab") as handle:
        handle.write(b"page")
    started = time.monotonic()
    assert watch.wait(0.3) is False
    assert 0.25 <= time.monotonic() - started < 5


def test_an_interrupt_ends_a_wait_and_a_missing_folder_says_so(watched):
    watch, mark = watched
    threading.Timer(0.1, watch.interrupt).start()
    started = time.monotonic()
    assert watch.wait(10) is False
    assert time.monotonic() - started < 5
    assert watch.working
    for path in mark.parent.iterdir():
        path.unlink()
    mark.parent.rmdir()
    assert watch.wait(10) is True  # may have missed events: look now
    assert not watch.working
