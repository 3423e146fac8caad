"""Front-matter fields → an `Article`: one small normaliser per field.

A refusal raises `ContentError` naming the field (the file, or one related
item, is left out); a fix-up (a cut title, a dropped image, removed
characters) adds a warning and carries on.
"""

from __future__ import annotations

import re
import sys
from dataclasses import fields as dataclass_fields
from datetime import UTC
from datetime import date
from datetime import datetime
from typing import Any

from feedpub.content._files import FileRefused
from feedpub.content._yaml import Diagnostics
from feedpub.content._yaml import clean_text
from feedpub.content._yaml import code_points
from feedpub.content._yaml import removed_message
from feedpub.content._yaml import shorten
from feedpub.content._yaml import type_name
from feedpub.errors import ContentError
from feedpub.model import Article
from feedpub.model import Image
from feedpub.model import Item
from feedpub.model import Provider
from feedpub.urls import MAX_URL_LENGTH
from feedpub.urls import canonical_url
from feedpub.urls import http_url

#: Longest title or other one-line text, in characters; longer is cut.
MAX_LINE_CHARS = 1_000
#: Longest excerpt, in characters; longer is cut.
MAX_EXCERPT_CHARS = 20_000
#: Most items kept of each list field; more are dropped.
MAX_ITEMS = {"topics": 50, "images": 20, "related": 100}
_SPACES = re.compile(r"\s+")
#: Longest URL text read before it is checked (a URL is refused well before).
_MAX_URL_TEXT = 1 << 20
_ITEM_FIELDS = tuple(f.name for f in dataclass_fields(Item))


class FieldReader:
    """Checks the fields of one file's front matter into an `Article`."""

    def __init__(self, relpath: str, diagnostics: Diagnostics) -> None:
        self.relpath = relpath
        self.diagnostics = diagnostics
        self.warn = diagnostics.warn

    def article(self, fields: dict[str, Any], body: str) -> Article:
        """The article; raises `FileRefused` when a required field is bad."""
        try:
            draft = not self.published(fields, "")
            item = self.item(fields, "")
            related = self.related(fields)
        except ContentError as error:
            raise FileRefused(str(error), self.diagnostics.line_of(error.field or "")) from None
        body = body.strip("\n")  # already without characters XML 1.0 forbids
        return Article(
            **{name: getattr(item, name) for name in _ITEM_FIELDS},
            path=self.relpath,
            related=related,
            body=body if body.strip() else "",
            draft=draft,
            source_line=self.diagnostics.key_line("sourceUrl"),
        )

    def item(self, fields: dict[str, Any], prefix: str) -> Item:
        """The fields every article and related item has."""
        url = self.url(fields, prefix + "sourceUrl")
        return Item(
            title=self.text(fields, prefix + "title", required=True),
            url=url,
            canonical=canonical_url(url),
            published=self.date(fields, prefix + "publishedDateTime"),
            provider=self.provider(fields, prefix + "provider"),
            excerpt=self.text(fields, prefix + "excerpt", limit=MAX_EXCERPT_CHARS, one_line=False),
            topics=self.topics(fields, prefix + "topics"),
            images=self.images(fields, prefix + "images"),
            amp_url=self.optional_url(fields, prefix + "ampUrl"),
            category=sys.intern(self.text(fields, prefix + "category")),
            type=sys.intern(self.text(fields, prefix + "type")),
            quality=self.score(fields, prefix + "quality", 0, 100),
            heat=self.heat(fields, prefix + "heat"),
        )

    def related(self, fields: dict[str, Any]) -> tuple[Item, ...]:
        items = self.items(fields, "related")
        found: list[Item] = []
        for index, value in enumerate(items):
            field = f"related[{index}]"
            try:
                if not isinstance(value, dict):
                    raise ContentError(f"must be a mapping of fields, not {type_name(value)}", field=field)
                found.append(self.item(value, field + "."))
                if value.get("related"):
                    self.warn(
                        field + ".related", "a related item cannot have related items of its own; ignored"
                    )
            except ContentError as error:
                error.args = (f"{error.args[0]} (this related item is left out)",)
                self.diagnostics.refuse_item(error, field)
        return tuple(found)

    # -- one normaliser per kind of field -----------------------------------------

    def text(
        self,
        fields: dict[str, Any],
        field: str,
        *,
        required: bool = False,
        limit: int = MAX_LINE_CHARS,
        one_line: bool = True,
    ) -> str:
        return self.text_value(
            fields.get(_key(field)), field, required=required, limit=limit, one_line=one_line
        )

    def text_value(
        self,
        value: Any,
        field: str,
        *,
        required: bool = False,
        limit: int = MAX_LINE_CHARS,
        one_line: bool = True,
    ) -> str:
        if value is None or value == "":
            if required:
                raise ContentError("is required" if value is None else "must not be empty", field=field)
            return ""
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ContentError(f"must be text, not {type_name(value)}", field=field)
        text = self.clean(str(value), field)
        # Folding is rarely needed; isprintable() is False for every white
        # space but " ", so this test is a cheap superset.
        if one_line and ("  " in text or not text.isprintable()):
            text = _SPACES.sub(" ", text)
        text = text.strip()
        if required and not text:
            raise ContentError("must not be blank", field=field)
        if len(text) > limit:
            self.warn(field, f"longer than {limit:,} characters; cut")
            text = text[: limit - 1].rstrip() + "…"
        return text

    def clean(self, text: str, field: str) -> str:
        cleaned = clean_text(text)
        if cleaned != text:
            self.warn(field, removed_message(code_points(text)))
        return cleaned

    def url(self, fields: dict[str, Any], field: str) -> str:
        raw = self.text(fields, field, required=True, limit=_MAX_URL_TEXT)
        if len(raw) > MAX_URL_LENGTH:
            raise ContentError(f"URL longer than {MAX_URL_LENGTH:,} characters", field=field)
        url = http_url(raw)
        if url is None:
            raise ContentError(f"not an absolute http(s) URL: {shorten(raw)!r}", field=field)
        return url

    def optional_url(self, fields: dict[str, Any], field: str) -> str:
        if fields.get(_key(field)) in (None, ""):
            return ""
        try:
            return self.url(fields, field)
        except ContentError as error:
            self.warn(field, f"{error.args[0]}; dropped")
            return ""

    def date(self, fields: dict[str, Any], field: str) -> datetime:
        value = fields.get(_key(field))
        if value is None or value == "":
            raise ContentError("is required (an ISO 8601 date-time)", field=field)
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value.strip())
            except ValueError as exc:
                # "day is out of range for month" helps; "Invalid isoformat string" does not.
                reason = "" if str(exc).startswith("Invalid isoformat") else f" ({exc})"
                raise ContentError(
                    f"not an ISO 8601 date-time: {shorten(str(value))!r}{reason}", field=field
                ) from None
        if isinstance(value, date) and not isinstance(value, datetime):
            self.warn(field, "a date without a time; taken as midnight UTC")
            value = datetime(value.year, value.month, value.day, tzinfo=UTC)
        if not isinstance(value, datetime):
            raise ContentError(f"must be an ISO 8601 date-time, not {type_name(value)}", field=field)
        if value.utcoffset() is None:
            self.warn(field, "has no UTC offset; taken as UTC")
            value = value.replace(tzinfo=UTC)
        try:
            value = value.astimezone(UTC)
        except (OverflowError, ValueError):
            raise ContentError("date-time out of range", field=field) from None
        if not 1900 <= value.year <= 9998:
            raise ContentError(f"year {value.year} is out of range (1900-9998)", field=field)
        return value

    def published(self, fields: dict[str, Any], prefix: str) -> bool:
        value = fields.get("published", True)
        if not isinstance(value, bool):
            # Unsure whether the author meant a draft: refuse rather than publish.
            raise ContentError(f"must be true or false, not {type_name(value)}", field=prefix + "published")
        return value

    def provider(self, fields: dict[str, Any], field: str) -> Provider:
        value = fields.get(_key(field))
        if value is None:
            raise ContentError("is required (a mapping with a name)", field=field)
        if not isinstance(value, dict):
            raise ContentError(f"must be a mapping with a name, not {type_name(value)}", field=field)
        name = self.text(value, field + ".name", required=True, limit=200)
        domain = self.text(value, field + ".domain", limit=253)
        return Provider(name=sys.intern(name), domain=sys.intern(domain))

    def items(self, fields: dict[str, Any], field: str) -> list[Any]:
        """A list field; absent or empty is an empty list."""
        value = fields.get(_key(field))
        if value is None:
            return []
        if not isinstance(value, list):
            raise ContentError(f"must be a list, not {type_name(value)}", field=field)
        limit = MAX_ITEMS[_key(field)]
        if len(value) > limit:
            self.warn(field, f"has {len(value):,} items; only the first {limit} are kept")
            value = value[:limit]
        return value

    def topics(self, fields: dict[str, Any], field: str) -> tuple[str, ...]:
        topics: dict[str, None] = {}
        for index, item in enumerate(self.items(fields, field)):
            name = self.text_value(item, f"{field}[{index}]", limit=200)
            if not name:
                self.warn(f"{field}[{index}]", "empty topic name; ignored")
                continue
            topics[sys.intern(name)] = None
        return tuple(topics)

    def images(self, fields: dict[str, Any], field: str) -> tuple[Image, ...]:
        images: list[Image] = []
        for index, item in enumerate(self.items(fields, field)):
            where = f"{field}[{index}]"
            if not isinstance(item, dict):
                # Like a bad image URL: the image is dropped, the story kept.
                self.warn(where, f"must be a mapping with a url, not {type_name(item)}; ignored")
                continue
            url = self.optional_url(item, where + ".url")
            if not url:
                if item.get("url") in (None, ""):
                    self.warn(where, "image without a url; ignored")
                continue
            images.append(
                Image(
                    url=url,
                    width=self.dimension(item, where + ".width"),
                    height=self.dimension(item, where + ".height"),
                    title=self.text(item, where + ".title"),
                )
            )
        return tuple(images)

    def dimension(self, fields: dict[str, Any], field: str) -> int | None:
        value = fields.get(_key(field))
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 100_000:
            self.warn(field, f"must be a whole number of pixels, not {shorten(str(value))!r}; ignored")
            return None
        return value

    def heat(self, fields: dict[str, Any], field: str) -> int | None:
        """The heat score; -1 (what files write for unknown) is None."""
        value = self.score(fields, field, -1, None)
        return None if value == -1 else value

    def score(self, fields: dict[str, Any], field: str, low: int, high: int | None) -> int | None:
        value = fields.get(_key(field))
        if value is None:
            return None
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or value < low
            or (high is not None and value > high)
        ):
            bounds = f"{low} to {high}" if high is not None else f"at least {low}"
            self.warn(field, f"must be a whole number {bounds}, not {shorten(str(value))!r}; ignored")
            return None
        return value


def _key(field: str) -> str:
    """The last key of a field path: ``related[2].title`` → ``title``."""
    return field.rsplit(".", 1)[-1]
