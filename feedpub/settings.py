"""Every setting of feedpub: its default, its check, and where it may come from.

Settings come in layers, the same for ``build``, ``check``, ``serve`` and
``gunicorn``: a command-line option (or `create_app`'s mapping) wins over a
``FEEDPUB_*`` environment variable, which wins over ``feedpub.toml``, which
wins over the default. ``feedpub.toml`` is read from the content folder's
root, or from ``--config PATH`` / ``FEEDPUB_CONFIG``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import field
from dataclasses import fields
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

from feedpub import checks
from feedpub.errors import ConfigError

#: The settings file's name, looked for at the content folder's root.
CONFIG_NAME = "feedpub.toml"
#: The id ledger's name, at the content folder's root unless configured.
LEDGER_NAME = ".feedpub-ids"
#: Host names `serve` answers for when no base URL is configured.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
#: Content files over this size are refused unread (1 MiB).
MAX_FILE_BYTES = 1 << 20
_CURATED_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,59}")


@dataclass(frozen=True)
class FeedText:
    """A title and description configured for one topic or provider feed."""

    title: str = ""
    description: str = ""


@dataclass(frozen=True)
class CuratedFeed:
    """A feed of ``feedpub.toml``'s ``[feeds.NAME]``: the entries matching
    every filter given (each list filter matches any of its values)."""

    #: The name, also its path: ``/feeds/NAME.atom``.
    name: str
    title: str = ""
    description: str = ""
    #: Topic names; an entry matches with any of them.
    topics: tuple[str, ...] = ()
    #: Provider names; an entry matches with any of them.
    providers: tuple[str, ...] = ()
    #: Lowest quality score; entries without one never match.
    min_quality: int | None = None
    #: Lowest heat score; entries without one never match.
    min_heat: int | None = None
    #: ``category`` values; an entry matches with any of them.
    categories: tuple[str, ...] = ()
    #: ``type`` values; an entry matches with any of them.
    types: tuple[str, ...] = ()
    #: Whether entries that come from related items count (else articles only).
    include_related: bool = True


@dataclass(frozen=True)
class Settings:
    """Everything feedpub is configured with, checked."""

    #: The content folder.
    content_dir: Path = Path("seeds")
    #: The settings file read, if any.
    config: Path | None = None
    #: Base of self links; None: the host each request came to (server only).
    base_url: str | None = None
    title: str = "feedpub"
    description: str = "Every story and its related coverage across outlets"
    language: str = "en"
    icon: str = ""
    logo: str = ""
    #: Entries of a subscription document; archive pages hold as many.
    max_items: int = 50
    #: ``Cache-Control`` lifetimes, in seconds.
    cache_max_age: int = 300
    stale_while_revalidate: int = 60
    stale_if_error: int = 86400
    #: Publish drafts (a preview; the id ledger is then not written).
    unpublished: bool = False
    #: Publish future-dated articles now instead of at their time.
    future: bool = False
    #: The instant the site is built at; None: the clock, at each refresh.
    now: datetime | None = None
    max_file_size: int = MAX_FILE_BYTES
    #: Seconds between polls of the content folder where the kernel cannot
    #: tell of changes; also how often a server checks the schedule.
    #: 0 turns live reload off.
    reload_interval: float = 2.0
    #: How many proxies' ``X-Forwarded-*`` headers to trust.
    proxy_fix: int = 0
    #: Host names answered when no base URL is configured.
    trusted_hosts: tuple[str, ...] = LOOPBACK_HOSTS
    #: The site store's file; None: one per content folder in `cache_dir`.
    store: Path | None = None
    cache_dir: Path = field(default_factory=lambda: _default_cache_dir())
    #: Keep no store: build from scratch into a temporary one.
    no_cache: bool = False
    #: WebSub hubs to advertise and ping.
    hubs: tuple[str, ...] = ()
    #: The id ledger's file; None: ``.feedpub-ids`` in the content folder.
    ledger: Path | None = None
    #: Titles and descriptions per topic and per provider, by name as written.
    topics: Mapping[str, FeedText] = field(default_factory=lambda: MappingProxyType({}))
    providers: Mapping[str, FeedText] = field(default_factory=lambda: MappingProxyType({}))
    #: Curated feeds, sorted by name.
    feeds: tuple[CuratedFeed, ...] = ()
    #: Processes for parsing and rendering.
    jobs: int = field(default_factory=lambda: default_jobs())

    @property
    def ledger_path(self) -> Path:
        """Where the id ledger lives."""
        return self.ledger if self.ledger is not None else self.content_dir / LEDGER_NAME

    @property
    def writes_ledger(self) -> bool:
        """Previews (``--unpublished``) read the ledger but never record in it."""
        return not self.unpublished

    def store_path(self) -> Path | None:
        """The store's file: one per content folder, base URL and view, so a
        preview and a production build of one folder never thrash one store;
        None with `no_cache`."""
        if self.no_cache:
            return None
        if self.store is not None:
            return self.store
        key = _digest(str(self.content_dir.resolve()), self.base_url, self.unpublished, self.future)
        return self.cache_dir / f"site-{key[:20]}.sqlite3"

    def derivation_key(self) -> str:
        """A digest of the settings that decide which entries each feed holds:
        when it changes, the store derives every entry again (no file is parsed
        again)."""
        return _digest(self.unpublished, self.future, self.max_items, [asdict(f) for f in self.feeds])

    def rendering_key(self) -> str:
        """A digest of the settings that show in documents: when it changes,
        every document is rendered again."""
        texts = {
            kind: {name: asdict(text) for name, text in sorted(table.items())}
            for kind, table in (("topics", self.topics), ("providers", self.providers))
        }
        return _digest(
            self.base_url,
            self.title,
            self.description,
            self.language,
            self.icon,
            self.logo,
            self.hubs,
            texts,
            [asdict(f) for f in self.feeds],
            self.max_items,
        )

    def cache_control(self) -> str:
        """The ``Cache-Control`` value of every document."""
        return (
            f"public, max-age={self.cache_max_age}, stale-while-revalidate={self.stale_while_revalidate}, "
            f"stale-if-error={self.stale_if_error}"
        )


def default_jobs() -> int:
    """One process per CPU this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "feedpub"


def _digest(*values: Any) -> str:
    text = json.dumps(values, sort_keys=True, default=str)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


@dataclass(frozen=True)
class _Setting:
    check: Callable[[Any, bool], Any]
    #: Whether ``feedpub.toml`` may set it (the content folder and the
    #: file's own location cannot be).
    in_file: bool = True


_SETTINGS: dict[str, _Setting] = {
    "content_dir": _Setting(checks.path, in_file=False),
    "config": _Setting(checks.optional_path, in_file=False),
    "base_url": _Setting(checks.base),
    "title": _Setting(checks.text),
    "description": _Setting(checks.text),
    "language": _Setting(checks.text),
    "icon": _Setting(checks.optional_url),
    "logo": _Setting(checks.optional_url),
    "max_items": _Setting(checks.number(int, 1, 10_000)),
    "cache_max_age": _Setting(checks.number(int, 0)),
    "stale_while_revalidate": _Setting(checks.number(int, 0)),
    "stale_if_error": _Setting(checks.number(int, 0)),
    "unpublished": _Setting(checks.flag, in_file=False),
    "future": _Setting(checks.flag),
    "now": _Setting(checks.instant, in_file=False),
    "max_file_size": _Setting(checks.number(int, 1), in_file=False),
    "reload_interval": _Setting(checks.number(float, 0), in_file=False),
    "proxy_fix": _Setting(checks.number(int, 0, 10), in_file=False),
    "trusted_hosts": _Setting(checks.list_of(checks.host), in_file=False),
    "store": _Setting(checks.optional_path, in_file=False),
    "cache_dir": _Setting(checks.path, in_file=False),
    "no_cache": _Setting(checks.flag, in_file=False),
    "hubs": _Setting(checks.list_of(checks.url)),
    "ledger": _Setting(checks.optional_path),
    "jobs": _Setting(checks.number(int, 1, 256), in_file=False),
}
_TABLES = ("topics", "providers", "feeds")
_FEED_TEXT_KEYS = {"title": checks.optional_text, "description": checks.optional_text}
_CURATED_KEYS: dict[str, Callable[[Any, bool], Any]] = {
    "title": checks.optional_text,
    "description": checks.optional_text,
    "topics": checks.list_of(checks.text),
    "providers": checks.list_of(checks.text),
    "min_quality": checks.number(int, 0, 100),
    "min_heat": checks.number(int, -1),
    "categories": checks.list_of(checks.text),
    "types": checks.list_of(checks.text),
    "include_related": checks.flag,
}
assert {f.name for f in fields(Settings)} == set(_SETTINGS) | set(_TABLES)


def load(options: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """The settings from `options` (names as the `Settings` fields; None
    values are ignored), then ``FEEDPUB_*`` variables of `environ`, then
    ``feedpub.toml``, then the defaults. Raises `ConfigError` naming the bad
    setting, and the file and line for one from ``feedpub.toml``."""
    options = {name: value for name, value in (options or {}).items() if value is not None}
    environ = os.environ if environ is None else environ
    unknown = set(options) - set(_SETTINGS)
    if unknown:
        raise ConfigError(f"unknown setting {sorted(unknown)[0]!r}")
    chosen: dict[str, Any] = {}
    for name, value in options.items():
        # A mapping (create_app's) may give text, as the environment does;
        # only feedpub.toml is held to its values' own types.
        chosen[name] = _checked(
            name,
            _SETTINGS[name].check,
            value,
            textual=isinstance(value, str),
            source=f"--{name.replace('_', '-')}",
        )
    for name, setting in _SETTINGS.items():
        variable = f"FEEDPUB_{name.upper()}"
        if name not in chosen and variable in environ:
            chosen[name] = _checked(name, setting.check, environ[variable], textual=True, source=variable)
    content_dir = chosen.get("content_dir", Settings.content_dir)
    config = chosen.get("config")
    if config is None and os.path.isfile(content_dir / CONFIG_NAME):  # False, not an error, if unreadable
        config = content_dir / CONFIG_NAME
    from_file = _read_file(config) if config is not None else {}
    for name, value in from_file.items():
        chosen.setdefault(name, value)
    chosen["config"] = config
    chosen["content_dir"] = content_dir
    return Settings(**chosen)


def _checked(name: str, check: Callable[[Any, bool], Any], value: Any, *, textual: bool, source: str) -> Any:
    try:
        return check(value, textual)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{source}: {exc}") from None


def _read_file(path: Path) -> dict[str, Any]:
    """The settings of one ``feedpub.toml``, checked; errors name its lines."""
    shown = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(f"cannot read settings file: {reason}", path=shown) from None
    import tomllib  # only with a settings file (start-up time)

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        raise ConfigError(
            f"TOML syntax error: {message}", path=shown, line=int(match[1]) if match else None
        ) from None
    locate = _Locator(text)

    def fail(message: str, table: tuple[str, ...], key: str | None) -> ConfigError:
        return ConfigError(message, path=shown, line=locate(table, key))

    settings: dict[str, Any] = {}
    for key, value in data.items():
        setting = _SETTINGS.get(key)
        if key in _TABLES:
            settings[key] = _read_table(key, value, fail)
        elif setting is None or not setting.in_file:
            hint = " (it is set on the command line or with FEEDPUB_*)" if setting else ""
            raise fail(f"unknown key {key!r}{hint}", (), key)
        else:
            try:
                settings[key] = setting.check(value, False)
            except (ValueError, TypeError) as exc:
                raise fail(f"{key}: {exc}", (), key) from None
    if "ledger" in settings and not settings["ledger"].is_absolute():
        settings["ledger"] = path.parent / settings["ledger"]
    return settings


def _read_table(kind: str, value: Any, fail: Callable[..., ConfigError]) -> Any:
    if not isinstance(value, dict):
        raise fail(
            f'{kind} must be a table of tables ([{kind}."NAME"]), not {checks.type_name(value)}', (), kind
        )
    keys = _CURATED_KEYS if kind == "feeds" else _FEED_TEXT_KEYS
    checked: dict[str, dict[str, Any]] = {}
    for name, entry in value.items():
        where = (kind, name)
        if kind == "feeds" and not _CURATED_NAME.fullmatch(name):
            raise fail(
                f"feed name {name!r} must be lower-case letters, digits and hyphens (it is the feed's path)",
                where,
                None,
            )
        if not isinstance(entry, dict):
            raise fail(f"{kind}.{name} must be a table, not {checks.type_name(entry)}", (kind,), name)
        checked[name] = {}
        for key, raw in entry.items():
            check = keys.get(key)
            if check is None:
                known = ", ".join(sorted(keys))
                raise fail(
                    f"unknown key {key!r} in [{kind}.{_quoted(name)}] (known keys: {known})", where, key
                )
            try:
                checked[name][key] = check(raw, False)
            except (ValueError, TypeError) as exc:
                raise fail(f"{kind}.{_quoted(name)}.{key}: {exc}", where, key) from None
    if kind == "feeds":
        return tuple(CuratedFeed(name=name, **checked[name]) for name in sorted(checked))
    return MappingProxyType({name: FeedText(**entry) for name, entry in checked.items()})


def _quoted(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else json.dumps(name)


class _Locator:
    """Finds the line of a table or key in a TOML text, for error messages
    (tomllib gives values, not positions). Good for the usual layouts:
    ``[table."name"]`` headers, dotted tables and ``key = value`` lines."""

    _HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(?:#.*)?$")
    _KEY = re.compile(r"""^\s*("(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_-]+)\s*=""")

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()

    def __call__(self, table: tuple[str, ...], key: str | None) -> int | None:
        current: tuple[str, ...] = ()
        table_line = None
        for number, line in enumerate(self.lines, start=1):
            header = self._HEADER.match(line)
            if header:
                current = tuple(_unquote(part) for part in _split_dotted(header[1]))
                if current == table and table_line is None:
                    table_line = number
                    if key is None:
                        return number
                continue
            found = self._KEY.match(line)
            if found and current == table and key is not None and _unquote(found[1]) == key:
                return number
        return table_line


def _split_dotted(text: str) -> list[str]:
    return re.findall(r"\"(?:[^\"\\]|\\.)*\"|'[^']*'|[^.\s]+", text)


def _unquote(part: str) -> str:
    part = part.strip()
    if len(part) >= 2 and part[0] == part[-1] and part[0] in "\"'":
        return json.loads(part) if part[0] == '"' else part[1:-1]
    return part
