"""What the table modules share (``_content``, ``_derived``, ``_records``:
one small class per group of tables, each holding the queries on them).

Times are integer microseconds since the epoch (UTC); structured values are
compact JSON. Queries that take many keys run in chunks, as SQLite bounds
the number of parameters of one statement.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from collections.abc import Iterator
from typing import Any

#: Most keys in one ``IN (...)`` list.
_CHUNK = 500


def dumps(value: Any) -> str:
    """Compact JSON for the store's text columns."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def chunks(keys: Iterable[Any]) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for key in keys:
        batch.append(key)
        if len(batch) == _CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


def marks(batch: list[Any]) -> str:
    return ",".join("?" * len(batch))


class Table:
    def __init__(self, connection: sqlite3.Connection) -> None:
        self.db = connection
