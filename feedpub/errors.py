"""The one exception tree of feedpub.

Every error a user can cause derives from `FeedpubError`; the CLI turns it
into a one-line message and the web layer into a 4xx answer, never a
traceback.
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
    """A setting (base URL, content folder, output folder, limit) is unusable."""

    message = "invalid configuration"


class ContentError(FeedpubError):
    """One content file, or one part of it, cannot be published.

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


class FeedNotFoundError(FeedpubError):
    """A URL path names no document of the URL space."""

    message = "no such feed"

    def __init__(self, path: str, existing: tuple[str, ...] = ()) -> None:
        super().__init__(f"no such feed: {path}")
        #: The path that was asked for.
        self.path = path
        #: Every path that does exist, for the 404 page.
        self.existing = existing


class RenderError(FeedpubError):
    """feedgen refused a feed: a bug of ours, as content is checked first."""

    message = "cannot render feed"


class OutputError(FeedpubError):
    """The output folder cannot be written."""

    message = "cannot write output"


class StrictModeError(FeedpubError):
    """``--strict`` was given and the content has problems."""

    message = "content has problems; nothing was written (--strict)"
