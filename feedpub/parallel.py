"""Spreading work over processes: parsing and rendering are CPU-bound
Python, so threads would not run them in parallel.

Workers are forked, so they start at once and inherit everything the parent
has loaded (the settings, the parsed content of a chunk) without copying it.
"""

from __future__ import annotations

import functools
import multiprocessing
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
    return "fork" in multiprocessing.get_all_start_methods()


def map_chunks(
    function: Callable[[list[Item], Any], list[Result]],
    items: Sequence[Item],
    jobs: int,
    shared: Any = None,
) -> Iterator[Result]:
    """``function(chunk, shared)`` over chunks of `items` in this process and
    `jobs` - 1 forked ones; yields every result, in the order of `items`.

    `shared` reaches the workers by inheritance when they fork, not by
    pickling, so it may be large (a whole catalog).
    """
    if jobs <= 1 or len(items) < 2 or not can_fork():
        # In chunks, so that the caller takes results in as they come.
        step = max(1, min(len(items), 256))
        for start in range(0, len(items), step):
            yield from function(list(items[start : start + step]), shared)
        return
    global _shared
    # This process does a share of its own rather than wait: its results
    # need no pickling. The workers split the rest into chunks; this
    # process's share is cut as finely, so that the caller can take its
    # results in as they come and never holds a whole share at once.
    own = len(items) // jobs
    rest = items[own:]
    size = max(1, -(-len(rest) // ((jobs - 1) * CHUNKS_PER_JOB)))
    chunks = [list(rest[start : start + size]) for start in range(0, len(rest), size)]
    _shared = shared
    try:
        with multiprocessing.get_context("fork").Pool(jobs - 1) as pool:
            pending = pool.imap(functools.partial(_call, function), chunks)
            for start in range(0, own, size):
                yield from function(list(items[start : min(own, start + size)]), shared)
            for results in pending:
                yield from results
    finally:
        _shared = None


_shared: Any = None


def _call(function: Callable[[list[Item], Any], list[Result]], chunk: list[Item]) -> list[Result]:
    return function(chunk, _shared)
