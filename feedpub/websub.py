"""WebSub publishing (W3C Recommendation, 2018): telling hubs which feeds
changed, so that real-time readers hear of it at once.

A publish ping is a form-encoded POST of ``hub.mode=publish`` and
``hub.url=<feed URL>`` to each hub. Pings never delay a response nor fail a
build: they run with a timeout, are retried with backoff, and each failure
is one log line (and, for ``build --ping``, one line of its summary).
"""

from __future__ import annotations

import logging
import queue
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass

log = logging.getLogger("feedpub")

#: Seconds to wait for a hub's answer.
TIMEOUT = 5.0
#: Tries per ping, and the wait before the first retry (doubled each time).
ATTEMPTS = 4
FIRST_BACKOFF = 0.5
#: The stop event of pings nothing stops (``build --ping``).
_NEVER = threading.Event()


@dataclass(frozen=True)
class Failure:
    """A ping that failed every attempt."""

    hub: str
    url: str
    reason: str

    def __str__(self) -> str:
        return f"WebSub ping of {self.hub} for {self.url} failed: {self.reason}"


def ping(hub: str, url: str, *, timeout: float = TIMEOUT) -> str | None:
    """One publish ping; None on success (a 2xx answer), else why not."""
    data = urllib.parse.urlencode({"hub.mode": "publish", "hub.url": url}).encode("ascii")
    request = urllib.request.Request(
        hub,
        data=data,
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "feedpub"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - configured hub URLs
            status = response.status
    except urllib.error.HTTPError as exc:
        return f"the hub answered {exc.code} {exc.reason}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return f"cannot reach the hub ({reason})"
    return None if 200 <= status < 300 else f"the hub answered {status}"


def _ping_with_retries(
    hub: str, url: str, attempts: int, backoff: float, stopped: threading.Event | None = None
) -> Failure | None:
    """None if a ping succeeded, also if `stopped` was set before it failed
    every attempt (a stopped server reports nothing more)."""
    reason = None
    for attempt in range(attempts):
        reason = ping(hub, url)
        if reason is None:
            return None
        if attempt + 1 < attempts and (stopped or _NEVER).wait(backoff * 2**attempt):
            return None
    return Failure(hub, url, reason or "unknown")


def ping_all(
    hubs: Iterable[str], urls: Iterable[str], *, attempts: int = ATTEMPTS, backoff: float = FIRST_BACKOFF
) -> list[Failure]:
    """Ping every hub for every URL, in parallel threads, and wait; the
    pings that failed (``build --ping``)."""
    jobs = [(hub, url) for hub in hubs for url in urls]
    failures: list[Failure] = []
    lock = threading.Lock()

    def run(hub: str, url: str) -> None:
        failure = _ping_with_retries(hub, url, attempts, backoff)
        if failure is not None:
            with lock:
                failures.append(failure)

    threads = [threading.Thread(target=run, args=job, daemon=True) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(failures, key=lambda f: (f.hub, f.url))


class Pinger:
    """Pings in the background for the server: `publish` returns at once;
    a daemon thread per hub pings, retries and logs each failure, so a hub
    that is down delays no ping to another hub, and never a response."""

    def __init__(self, hubs: tuple[str, ...]) -> None:
        self.hubs = hubs
        self.forget()

    def publish(self, urls: Iterable[str]) -> None:
        """Queue a ping to every hub for each URL."""
        urls = list(urls)
        if not self.hubs or not urls:
            return
        with self._lock:
            if self._stopped.is_set():
                return
            for hub in self.hubs:
                pending = self._queues.setdefault(hub, queue.Queue())
                for url in urls:
                    pending.put(url)
                thread = self._threads.get(hub)
                if thread is None or not thread.is_alive():
                    thread = threading.Thread(
                        target=self._run,
                        args=(hub, pending, self._stopped),
                        name="feedpub-websub",
                        daemon=True,
                    )
                    self._threads[hub] = thread
                    thread.start()

    @staticmethod
    def _run(hub: str, pending: queue.Queue[str | None], stopped: threading.Event) -> None:
        while True:  # blocked on the queue when idle: no CPU
            url = pending.get()
            if url is None or stopped.is_set():
                return
            failure = _ping_with_retries(hub, url, ATTEMPTS, FIRST_BACKOFF, stopped)
            if failure is not None and not stopped.is_set():
                log.warning("%s", failure)

    def stop(self) -> None:
        """Drop the pings not made yet and end the threads (a stopped server)."""
        with self._lock:
            self._stopped.set()
            for pending in self._queues.values():
                pending.put(None)

    def forget(self) -> None:
        """Start afresh (also in a forked child, where the parent's threads
        do not run)."""
        self._queues: dict[str, queue.Queue[str | None]] = {}
        self._threads: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()
        self._stopped = threading.Event()
