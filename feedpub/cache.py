"""The build cache: what earlier builds learnt, kept on disk between them.

It holds the loader's state (per content file: signature, content digest
and parse result) and, per output folder, the fingerprint of every feed
written there, so a rebuild parses only changed files and renders only
changed feeds.

It lives outside the output folder (which is published, and the cache holds
drafts) in ``$XDG_CACHE_HOME/feedpub`` by default. A cache that is
truncated, corrupt, from another version of feedpub or not ours at all is
ignored and rebuilt, never trusted: the payload carries a checksum, and the
unpickler only constructs the few plain data types the cache is made of, so
even a crafted file cannot make it run code.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import tempfile
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

from feedpub import content
from feedpub import model

_MAGIC = b"feedpub-cache 1\n"
_CHECKSUM_SIZE = 32

#: The only globals a cache may name: our data classes and datetime's.
_ALLOWED = {("feedpub.model", name) for name in ("Article", "Provider", "Image", "Problem", "Severity")} | {
    ("feedpub.content", "ParsedFile"),
    ("datetime", "datetime"),
    ("datetime", "timezone"),
    ("datetime", "timedelta"),
    ("copyreg", "_reconstructor"),
    ("builtins", "object"),
}


@dataclass
class CacheState:
    """Everything the cache remembers."""

    #: The file size limit the parse results were made with.
    max_bytes: int = content.MAX_FILE_BYTES
    #: Loader state: relative path → (signature, digest, parse result).
    files: dict[str, content.FileState] = field(default_factory=dict)
    #: Per output folder: URL path → (fingerprint, size, mtime_ns) of the
    #: file written for it.
    outputs: dict[str, dict[str, tuple[bytes, int, int]]] = field(default_factory=dict)


def default_dir() -> Path:
    """``$XDG_CACHE_HOME/feedpub``, or ``~/.cache/feedpub``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "feedpub"


def file_for(cache_dir: Path, content_root: Path) -> Path:
    """The cache file of one content folder."""
    key = hashlib.blake2b(str(content_root.resolve()).encode(), digest_size=10).hexdigest()
    return cache_dir / f"{key}.cache"


def _code_version() -> bytes:
    """Parse results depend on the loader and the model: a change to either
    makes every cached result stale."""
    digest = hashlib.blake2b(digest_size=16)
    for module in (content, model):
        digest.update(Path(module.__file__ or "").read_bytes())
    return digest.digest()


def load(path: Path) -> CacheState:
    """The cache at `path`, or an empty one if it is missing or unusable."""
    try:
        data = path.read_bytes()
    except OSError:
        return CacheState()
    header = _MAGIC + _code_version()
    body = data[len(header) + _CHECKSUM_SIZE :]
    checksum = data[len(header) : len(header) + _CHECKSUM_SIZE]
    if not data.startswith(header) or hashlib.blake2b(body, digest_size=_CHECKSUM_SIZE).digest() != checksum:
        return CacheState()
    try:
        state = _RestrictedUnpickler(io.BytesIO(body)).load()
    except Exception:  # a cache is never trusted: anything wrong means start afresh
        return CacheState()
    return state if isinstance(state, CacheState) else CacheState()


def save(path: Path, state: CacheState) -> None:
    """Write the cache atomically; a cache that cannot be written is skipped
    (the next build is slower, not wrong)."""
    body = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
    checksum = hashlib.blake2b(body, digest_size=_CHECKSUM_SIZE).digest()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(handle, "wb") as stream:
            stream.write(_MAGIC + _code_version() + checksum + body)
        os.replace(temp, path)
    except OSError:
        return


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED and (module, name) != (__name__, "CacheState"):
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a cache")
        return super().find_class(module, name)
