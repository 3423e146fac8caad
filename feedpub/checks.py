"""One check per kind of setting value: each turns a raw value into a
setting or raises `ValueError` saying what is wrong.

`textual` is True when the value came from an environment variable (always
a string) or a mapping that gave text; a value from ``feedpub.toml`` must
have its own type (``max_items = "20"`` is refused).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import Any

from feedpub.urls import base_url as parse_base_url
from feedpub.urls import http_url

# XML 1.0 forbids these; a title from a setting must not break a feed either.
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def text(value: Any, textual: bool) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be a string, not {type_name(value)}")
    cleaned = " ".join(_XML_FORBIDDEN.sub("", value).split())
    if not cleaned:
        raise ValueError("must not be empty")
    return cleaned


def optional_text(value: Any, textual: bool) -> str:
    if isinstance(value, str) and not value.strip():
        return ""
    return text(value, textual)


def url(value: Any, textual: bool) -> str:
    given = text(value, textual)
    found = http_url(given)
    if found is None:
        raise ValueError(f"{given!r} is not an absolute http(s) URL")
    return found


def optional_url(value: Any, textual: bool) -> str:
    if isinstance(value, str) and not value.strip():
        return ""
    return url(value, textual)


def base(value: Any, textual: bool) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise ValueError(f"must be a string, not {type_name(value)}")
    return parse_base_url(value)


def flag(value: Any, textual: bool) -> bool:
    if isinstance(value, bool):
        return value
    if textual:
        word = str(value).strip().lower()
        if word in {"1", "true", "yes", "on"}:
            return True
        if word in {"", "0", "false", "no", "off"}:
            return False
        raise ValueError(f"{value!r} is not a yes/no value")
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise ValueError(f"must be true or false, not {type_name(value)}")


def number(kind: type, low: float, high: float | None = None) -> Callable[[Any, bool], Any]:
    def check(value: Any, textual: bool) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValueError(f"must be a number, not {type_name(value)}")
        if isinstance(value, str) and not textual:
            raise ValueError(f"must be a number, not a string ({value!r})")
        if kind is int and isinstance(value, float):
            raise ValueError(f"must be a whole number, not {value!r}")
        try:
            number = kind(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a {'whole ' if kind is int else ''}number") from None
        if number < low or (high is not None and number > high):
            bounds = f"from {low} to {high}" if high is not None else f"at least {low}"
            raise ValueError(f"{value!r} is out of range (must be {bounds})")
        return number

    return check


def list_of(item: Callable[[Any, bool], Any]) -> Callable[[Any, bool], tuple[Any, ...]]:
    def check(value: Any, textual: bool) -> tuple[Any, ...]:
        if textual and isinstance(value, str):
            value = [part for part in value.split(",") if part.strip()]
        if not isinstance(value, list | tuple):
            raise ValueError(f"must be a list, not {type_name(value)}")
        return tuple(dict.fromkeys(item(part, textual) for part in value))

    return check


def host(value: Any, textual: bool) -> str:
    host = text(value, textual).lower()
    if not re.fullmatch(r"\.?[a-z0-9.:_\[\]-]+", host):
        raise ValueError(f"{value!r} is not a host name")
    return host.strip("[]")


def path(value: Any, textual: bool) -> Path:
    if isinstance(value, os.PathLike):
        return Path(value)
    if not isinstance(value, str):
        raise ValueError(f"must be a path, not {type_name(value)}")
    if not value:
        raise ValueError("must not be empty")
    return Path(value)  # as given: a folder may be named "my  news"


def optional_path(value: Any, textual: bool) -> Path | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return path(value, textual)


def instant(value: Any, textual: bool) -> datetime | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO 8601 date-time") from None
    if not isinstance(value, datetime):
        raise ValueError(f"must be an ISO 8601 date-time, not {type_name(value)}")
    if value.utcoffset() is None:
        value = value.replace(tzinfo=UTC)
    moment: datetime = value.astimezone(UTC)
    return moment


def type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    return {str: "a string", int: "a number", float: "a number", list: "a list", dict: "a table"}.get(
        type(value), type(value).__name__
    )
