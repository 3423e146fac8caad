"""The one exception tree of feedpub.

Every error a user can cause derives from `FeedpubError`; the CLI turns it
into a one-line message and the web layer into a 4xx answer or a 503 health
report, never a traceback.
"""

from __future__ import annotations


class FeedpubError(Exception):
    """Base class of every error feedpub raises on purpose."""

    message = "feedpub failed"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.message)

    def __str__(self) -> str:
        return str(self.args[0])


class ConfigError(FeedpubError):
    """A setting is unusable: an option, a ``FEEDPUB_*`` variable or a key of
    ``feedpub.toml`` (then `path` and `line` say where)."""

    message = "invalid configuration"

    def __init__(self, message: str | None = None, *, path: str | None = None, line: int | None = None):
        super().__init__(message)
        #: The settings file at fault, if the setting came from one.
        self.path = path
        #: 1-based line in that file, when known.
        self.line = line

    def __str__(self) -> str:
        text = str(self.args[0])
        if self.path is None:
            return text
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {text}"


class ContentError(FeedpubError):
    """One content file, or one field of it, cannot be published.

    Raised inside the loader and turned into a `Problem` there, so that one
    bad file never stops the others.
    """

    message = "invalid content"

    def __init__(self, message: str | None = None, *, field: str | None = None) -> None:
        super().__init__(message)
        #: Dotted path of the field at fault (``related[2].sourceUrl``), if any.
        self.field = field

    def __str__(self) -> str:
        text = str(self.args[0])
        return f"{self.field}: {text}" if self.field else text


class DocumentNotFoundError(FeedpubError):
    """A URL path names no document of the URL space."""

    message = "no such document"

    def __init__(self, path: str) -> None:
        super().__init__(f"no such feed: {path}")
        #: The path that was asked for.
        self.path = path


class RenderError(FeedpubError):
    """feedgen refused a feed: a bug of ours, as content is checked first."""

    message = "cannot render feed"


class OutputError(FeedpubError):
    """The output folder cannot be written."""

    message = "cannot write output"


class StoreError(FeedpubError):
    """The site store cannot be opened or written (a full disk, a folder
    that cannot be created); a store that is merely corrupt is rebuilt
    instead."""

    message = "cannot use the site store"


class LedgerError(FeedpubError):
    """The id ledger is unreadable or corrupt; it is never silently replaced."""

    message = "the id ledger cannot be read"

    def __init__(self, message: str, *, path: str, line: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.line = line

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.args[0]}"


class StrictModeError(FeedpubError):
    """``--strict`` was given and the content has problems."""

    message = "content has problems; nothing was written (--strict)"
