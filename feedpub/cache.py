"""The build cache: what earlier builds learnt, kept on disk between them.

It holds the loader's state (per content file: signature, content digest
and parse result) and, per output folder, the fingerprint of every feed
written there, so a rebuild parses only changed files and renders only
changed feeds. The loader's state is split into shards by file path, and a
build rewrites only the shards whose files changed, so saving after a small
edit costs little however large the site.

It lives outside the output folder (which is published, and the cache holds
drafts) in ``$XDG_CACHE_HOME/feedpub`` by default, one folder per content
folder. A cache file that is truncated, corrupt, from another version of
feedpub or not ours at all is ignored and rebuilt, never trusted: it carries
a checksum, and the unpickler only constructs the few plain data types the
cache is made of, so even a crafted file cannot make it run code.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import tempfile
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from feedpub import content
from feedpub import model

_MAGIC = b"feedpub-cache 3\n"
_CHECKSUM_SIZE = 4
#: Shards of the loader state; a one-file edit rewrites one of them.
SHARDS = 16

#: The only globals a cache file may name: our data classes and datetime's.
_ALLOWED = {("feedpub.model", name) for name in ("Article", "Provider", "Image", "Problem", "Severity")} | {
    ("feedpub.content", "ParsedFile"),
    ("datetime", "datetime"),
    ("datetime", "timezone"),
    ("datetime", "timedelta"),
}

#: Per URL path: (fingerprint, size, mtime_ns) of the file written for it.
Manifest = dict[str, tuple[bytes, int, int]]


def default_dir() -> Path:
    """``$XDG_CACHE_HOME/feedpub``, or ``~/.cache/feedpub``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "feedpub"


def _key(path: Path) -> str:
    return hashlib.blake2b(str(path.resolve()).encode(), digest_size=10).hexdigest()


class BuildCache:
    """The cache of one content folder, parsed with one size limit."""

    def __init__(self, cache_dir: Path, content_root: Path, max_bytes: int) -> None:
        # Parse results depend on the size limit: another limit, another cache.
        self.folder = Path(cache_dir) / f"{_key(content_root)}-{max_bytes}"

    def load_files(self) -> dict[str, content.FileState]:
        """The loader state of the last build; what cannot be read is left out."""
        files: dict[str, content.FileState] = {}
        for shard in range(SHARDS):
            part = _read(self.folder / f"files-{shard:02}")
            if isinstance(part, dict):
                files.update(part)
        return files

    def save_files(self, files: dict[str, content.FileState], changed: Iterable[str]) -> None:
        """Rewrite the shards holding any of the `changed` (or removed) paths."""
        shards = {_shard(relpath) for relpath in changed}
        for shard in shards:
            part = {relpath: state for relpath, state in files.items() if _shard(relpath) == shard}
            _write(self.folder / f"files-{shard:02}", part)

    def load_manifest(self, out: Path) -> Manifest:
        """What the last build wrote into `out`."""
        manifest = _read(self.folder / f"out-{_key(out)}")
        return manifest if isinstance(manifest, dict) else {}

    def save_manifest(self, out: Path, manifest: Manifest) -> None:
        _write(self.folder / f"out-{_key(out)}", manifest)


def _shard(relpath: str) -> int:
    return hashlib.blake2b(relpath.encode(), digest_size=1).digest()[0] % SHARDS


def _code_version() -> bytes:
    """Parse results depend on the loader and the model: a change to either
    makes every cached result stale."""
    digest = hashlib.blake2b(digest_size=16)
    for module in (content, model):
        digest.update(Path(module.__file__ or "").read_bytes())
    return digest.digest()


_HEADER = _MAGIC + _code_version()


def _checksum(body: bytes) -> bytes:
    """CRC-32 finds what can go wrong with a file (a truncated write, a bad
    block) at a quarter of a cryptographic hash's cost; crafted files are
    the restricted unpickler's business."""
    return zlib.crc32(body).to_bytes(_CHECKSUM_SIZE, "big")


def _read(path: Path) -> object:
    """The object stored at `path`, or None if it is missing or unusable."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    body = data[len(_HEADER) + _CHECKSUM_SIZE :]
    checksum = data[len(_HEADER) : len(_HEADER) + _CHECKSUM_SIZE]
    if not data.startswith(_HEADER) or _checksum(body) != checksum:
        return None
    try:
        return _RestrictedUnpickler(io.BytesIO(body)).load()
    except Exception:  # a cache is never trusted: anything wrong means start afresh
        return None


def _write(path: Path, value: object) -> None:
    """Write atomically; a cache that cannot be written is skipped (the next
    build is slower, not wrong)."""
    body = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    checksum = _checksum(body)
    temp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(handle, "wb") as stream:
            stream.write(_HEADER + checksum + body)
        os.replace(temp, path)
    except OSError:
        if temp is not None and os.path.exists(temp):
            os.unlink(temp)


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a cache")
        return super().find_class(module, name)
