"""Pure functions on URLs and slugs."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from urllib.parse import quote
from urllib.parse import unquote_plus
from urllib.parse import urlsplit
from urllib.parse import urlunsplit

#: Query parameters that only track a click and never change the page.
_TRACKING_PARAMS = frozenset(
    {"fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "igshid", "yclid", "_hsenc"}
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
#: Longest URL we emit; longer ones are refused rather than cut.
MAX_URL_LENGTH = 2048
#: Longest slug; a longer one is cut and given a hash suffix.
MAX_SLUG_LENGTH = 60
# Characters a URL may not contain as written: controls and white space.
_BAD_URL_CHARS = re.compile(r"[\x00-\x20\x7f-\x9f\s]")


# An ASCII http(s) URL with a plain host name: valid as it stands. (The
# caller has already refused white space and control characters.)
_PLAIN_HTTP_URL = re.compile(
    r"[hH][tT][tT][pP][sS]?://[A-Za-z0-9.-]*[A-Za-z0-9](?::([0-9]{1,5}))?(?:[/?#][!-~]*)?\Z"
)


def http_url(value: str) -> str | None:
    """Return `value` as an absolute http(s) URL, or None if it is not one.

    Non-ASCII characters are encoded (IDNA for the host, percent-encoding for
    the rest), so that the result is a valid URI in RSS as well as in Atom.
    """
    value = value.strip()
    if not value or len(value) > MAX_URL_LENGTH or _BAD_URL_CHARS.search(value):
        return None
    plain = _PLAIN_HTTP_URL.match(value)
    if plain and int(plain.group(1) or 0) <= 65535:
        return value  # the common case: no need to take it apart
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return None
    if parts.scheme.lower() not in _DEFAULT_PORTS or not parts.hostname:
        return None
    if value.isascii():
        return value
    netloc = parts.netloc
    if not netloc.isascii():
        try:
            netloc = netloc.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    safe = "!#$%&'()*+,/:;=?@[]~"
    path, query, fragment = (quote(part, safe=safe) for part in parts[2:])
    return urlunsplit((parts.scheme, netloc, path, query, fragment))


def canonical_url(url: str) -> str:
    """The identity of a story: scheme and host lower-cased, default port,
    fragment and tracking parameters removed.

    `url` must already have passed `http_url`.
    """
    if _ALREADY_CANONICAL.match(url) and not _MAYBE_TRACKING.search(url):
        return url  # the common case, and the catalog's hot loop: skip parsing
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    netloc = host if ":" not in host else f"[{host}]"
    if parts.port is not None and parts.port != _DEFAULT_PORTS.get(scheme):
        netloc = f"{netloc}:{parts.port}"
    if parts.username is not None:
        userinfo = parts.username + (f":{parts.password}" if parts.password is not None else "")
        netloc = f"{userinfo}@{netloc}"
    query = parts.query
    if query:
        # Drop tracking pairs but keep the others exactly as written:
        # decoding and re-encoding them would turn ``a+b`` into ``a%20b``,
        # and the same page would get two ids.
        pairs = query.split("&")
        kept = [pair for pair in pairs if not _is_tracking(unquote_plus(pair.partition("=")[0]))]
        if len(kept) != len(pairs):
            query = "&".join(kept)
    return urlunsplit((scheme, netloc, parts.path or "/", query, ""))


#: Lower-case scheme and host, no port, user or fragment.
_ALREADY_CANONICAL = re.compile(r"https?://[a-z0-9.-]+/[^#]*\Z")
#: A query that might hold a tracking parameter, maybe percent-encoded (a
#: superset, to be safe).
_MAYBE_TRACKING = re.compile(
    r"\?.*(?:%|utm_|" + "|".join(re.escape(name) for name in sorted(_TRACKING_PARAMS)) + ")", re.IGNORECASE
)


def _is_tracking(name: str) -> bool:
    name = name.lower()
    return name.startswith("utm_") or name in _TRACKING_PARAMS


def slugify(name: str) -> str:
    """Lower-case ASCII words joined by hyphens: ``Künstliche Intelligenz`` →
    ``kunstliche-intelligenz``. May return an empty string."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    if len(slug) > MAX_SLUG_LENGTH:
        slug = slug[:MAX_SLUG_LENGTH].rstrip("-") + "-" + _short_hash(name)
    return slug


def _short_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:8]


def assign_slugs(names: Iterable[str], fallback: str) -> dict[str, str]:
    """Give every name a distinct, stable slug.

    A name with no ASCII letters or digits gets ``<fallback>-<hash>``. When
    names share a slug, the one that sorts first keeps it and the others get
    a suffix from a hash of the name, so a slug never depends on how many
    other names collide.
    """
    by_slug: dict[str, list[str]] = {}
    for name in sorted(set(names)):
        slug = slugify(name) or f"{fallback}-{_short_hash(name)}"
        by_slug.setdefault(slug, []).append(name)
    slugs: dict[str, str] = {}
    taken = set(by_slug)
    for slug, group in by_slug.items():
        slugs[group[0]] = slug
        for name in group[1:]:
            candidate = f"{slug}-{_short_hash(name)}"
            while candidate in taken:  # astronomically rare; stays deterministic
                candidate = f"{candidate}-{_short_hash(candidate)}"
            taken.add(candidate)
            slugs[name] = candidate
    return slugs


def base_url(value: str) -> str:
    """`value` as the base of the URL space, without a trailing slash;
    raises ValueError unless it is an absolute http(s) URL with no query or
    fragment."""
    url = http_url(value)
    if url is None:
        raise ValueError(f"{value!r} is not an absolute http(s) URL")
    parts = urlsplit(url)
    if parts.query or parts.fragment:
        raise ValueError(f"{value!r} must not have a query or fragment")
    return url.rstrip("/")
