"""Spreading work over processes: parsing and rendering are CPU-bound
Python, so threads would not run them in parallel.

Workers are forked, so they start at once and inherit everything the parent
has loaded (the settings, the parsed content of a chunk) without copying it.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Sequence
from typing import Any
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

#: Chunks per worker: enough to even out uneven work, few enough that the
#: cost of passing each chunk stays small.
CHUNKS_PER_JOB = 8


def can_fork() -> bool:
    """Forking is what makes workers cheap; where it is missing, work serially."""
    import multiprocessing  # imported when there is parallel work: a rebuild has none (start-up time)

    return "fork" in multiprocessing.get_all_start_methods()


def map_chunks(
    function: Callable[[list[Item], Any], list[Result]],
    items: Sequence[Item],
    jobs: int,
    shared: Any = None,
    chunk_size: int = 0,
) -> Iterator[Result]:
    """``function(chunk, shared)`` over chunks of `items` in this process and
    `jobs` - 1 forked ones; yields every result, in the order of `items`.

    `shared` reaches the workers by inheritance when they fork, not by
    pickling, so it may be large (a whole catalog). Chunks hold at most
    `chunk_size` items when it is given.
    """
    if jobs <= 1 or len(items) < 2 or not can_fork():
        # In chunks, so that the caller takes results in as they come.
        step = max(1, min(len(items), chunk_size or 256))
        for start in range(0, len(items), step):
            yield from function(list(items[start : start + step]), shared)
        return
    global _shared
    size = max(1, -(-len(items) // (jobs * CHUNKS_PER_JOB)))
    if chunk_size:
        size = min(size, chunk_size)
    starts = range(0, len(items), size)
    # Every `jobs`-th chunk is this process's own: its results need no
    # pickling, and doing it rather than waiting keeps every core busy. The
    # others go to the workers at most `_AHEAD` chunks per worker ahead of
    # the one this process takes next, so that results never pile up here
    # unread: a worker that ran through its whole share while this process
    # did its own left it all in this process's memory (at 100,000
    # articles, hundreds of MB of parsed files).
    window = (jobs - 1) * _AHEAD
    _shared = shared
    import multiprocessing

    try:
        with multiprocessing.get_context("fork").Pool(jobs - 1) as pool:
            theirs = collections.deque(start for number, start in enumerate(starts) if number % jobs)
            pending: collections.deque[Any] = collections.deque()

            def submit() -> None:
                while theirs and len(pending) < window:
                    start = theirs.popleft()
                    pending.append(pool.apply_async(_call, (function, list(items[start : start + size]))))

            submit()
            for number, start in enumerate(starts):
                if number % jobs == 0:
                    results = function(list(items[start : start + size]), shared)
                else:
                    results = pending.popleft().get()
                    submit()
                yield from results
    finally:
        _shared = None


#: Chunks a worker may have done or be doing beyond the one being read.
_AHEAD = 2


_shared: Any = None


def _call(function: Callable[[list[Item], Any], list[Result]], chunk: list[Item]) -> list[Result]:
    return function(chunk, _shared)
