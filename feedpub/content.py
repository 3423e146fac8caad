"""Content files → `Article`s, with a `Problem` for everything wrong.

A file is YAML front matter between a first ``---`` line and a closing
``---`` line, then an optional body. Parsing never raises for anything a
file can contain: each failure becomes a `Problem` naming the file, the line
where known and the field at fault, and loading carries on with the next
file. `Loader` remembers what it parsed, so that loading again re-parses only
files whose size or modification time changed.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
import sys
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import replace
from datetime import UTC
from datetime import date
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from feedpub import parallel
from feedpub.errors import ConfigError
from feedpub.errors import ContentError
from feedpub.model import Article
from feedpub.model import Image
from feedpub.model import Problem
from feedpub.model import Provider
from feedpub.model import Severity
from feedpub.urls import MAX_URL_LENGTH
from feedpub.urls import canonical_url
from feedpub.urls import http_url

try:
    # libyaml is ten times faster than PyYAML's pure-Python parser; falling
    # back silently would make large sites crawl, so refuse to start instead.
    _YamlLoader = yaml.CSafeLoader
except AttributeError as exc:  # pragma: no cover - depends on the install
    raise ImportError(
        "feedpub needs PyYAML built with libyaml (yaml.CSafeLoader is missing); "
        "reinstall PyYAML from a wheel or with libyaml-dev present"
    ) from exc

#: Files over this size are refused unread (1 MiB).
MAX_FILE_BYTES = 1 << 20
#: File name endings that hold articles.
SUFFIXES = frozenset({".txt", ".md", ".markdown", ".yaml", ".yml"})
#: Most values a front matter may expand to; bounds YAML alias bombs.
MAX_VALUES = 20_000
#: Longest title or other one-line text, in characters; longer is cut.
MAX_LINE_CHARS = 1_000
#: Longest excerpt, in characters; longer is cut.
MAX_EXCERPT_CHARS = 20_000
#: Most items kept of each list field; more are dropped.
MAX_ITEMS = {"topics": 50, "images": 20, "related": 100}

_FENCE = re.compile(r"^---[ \t]*$", re.MULTILINE)
# XML 1.0 forbids C0 controls but tab and newlines, surrogates, U+FFFE/F;
# C1 controls are allowed but never meant in text, and confuse readers.
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_SPACES = re.compile(r"\s+")
# One object per provider, and one per topic or category name (interned):
# a site names a few hundred of them tens of thousands of times, and shared
# objects take less memory and are written to the build cache once.
_PROVIDERS: dict[tuple[str, str], Provider] = {}
#: Most fields named in warnings about removed characters, per file.
_MAX_FIELD_LOOKUPS = 50
_UNKNOWN_TAG = re.compile(r"constructor for the tag '([^']*)'")


@dataclass(frozen=True)
class ParsedFile:
    """What one content file gave: its article, if any, and its problems."""

    #: Relative path of the file.
    path: str
    #: The article, or None when the file was refused.
    article: Article | None
    #: Everything wrong with the file, errors and warnings.
    problems: tuple[Problem, ...] = ()


@dataclass(frozen=True)
class Content:
    """Everything loaded from a content folder."""

    #: Published and draft articles, sorted by path.
    articles: tuple[Article, ...]
    #: Problems of every file, sorted by path and line.
    problems: tuple[Problem, ...]
    #: How many content files were found.
    files: int

    @property
    def invalid_files(self) -> tuple[str, ...]:
        """Paths of files with at least one error."""
        return tuple(sorted({p.path for p in self.problems if p.is_error}))


# A file's identity for change detection: size, mtime and inode.
_Signature = tuple[int, int, int]
#: What the loader remembers of one file: signature, content digest, result.
FileState = tuple[_Signature, bytes, ParsedFile]
#: Below this many files to parse, parsing in other processes costs more
#: than it saves.
PARALLEL_FROM = 200


class Loader:
    """Loads a content folder, re-parsing only files that changed since the
    previous `load`.

    A file counts as unchanged when its size, modification time and inode are
    the same, or else when its bytes hash to the same digest (a fresh clone
    or a ``touch`` changes the time, not the content). `state` holds what
    the loader remembers; `feedpub.cache` keeps it on disk between builds.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        max_bytes: int = MAX_FILE_BYTES,
        jobs: int = 1,
        state: dict[str, FileState] | None = None,
    ) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes
        self.jobs = jobs
        #: Per relative path: what the last `load` found.
        self.state: dict[str, FileState] = dict(state or {})
        #: How many files the last `load` parsed (the rest came from memory).
        self.parsed_last = 0
        #: Whether the last `load` found any file added, changed or removed.
        self.changed = True
        self._content: Content | None = None
        self._walk_problems: list[Problem] = []

    def load(self, progress: Callable[[int], None] | None = None) -> Content:
        """Scan the folder and return its content; raises `ConfigError` if
        the folder itself cannot be read."""
        found, walk_problems = _scan(self.root)
        files: dict[str, FileState] = {}
        to_read: list[tuple[str, _Signature]] = []
        for relpath, signature in found:
            known = self.state.get(relpath)
            if known is not None and known[0] == signature:
                files[relpath] = known
            else:
                to_read.append((relpath, signature))
        if progress is not None:
            progress(len(found) - len(to_read))
        # A file with a new signature may still hold the same bytes (a
        # fresh clone, a touch): the reader skips parsing it again.
        known_digests = {relpath: self.state[relpath][1] for relpath, _ in to_read if relpath in self.state}
        results = _read_files_in(
            self.root, [relpath for relpath, _ in to_read], self.max_bytes, self.jobs, known_digests
        )
        self.parsed_last = 0
        for (relpath, signature), (digest, result) in zip(to_read, results, strict=True):
            if result is None:
                result = self.state[relpath][2]
            else:
                self.parsed_last += 1
            files[relpath] = (signature, digest, result)
            if progress is not None:
                progress(1)
        self.changed = self.parsed_last > 0 or files.keys() != self.state.keys()
        self.state = files
        if self.changed or self._content is None or walk_problems != self._walk_problems:
            self._content = _collect([state[2] for state in files.values()], walk_problems)
            self._walk_problems = walk_problems
        return self._content


# What reading one file gives: its digest, and its parse result unless the
# digest was already known (None: parse result unchanged).
_ReadResult = tuple[bytes, "ParsedFile | None"]


def _read_files_in(
    root: Path, relpaths: list[str], max_bytes: int, jobs: int, known_digests: dict[str, bytes]
) -> Iterator[_ReadResult]:
    """Read, hash and parse files, in `jobs` processes when there are many."""
    job = (root, max_bytes, known_digests)
    if jobs > 1 and len(relpaths) >= PARALLEL_FROM:
        return parallel.map_chunks(_read_files, relpaths, jobs, job)
    return iter(_read_files(relpaths, job))


def _read_files(relpaths: list[str], job: tuple[Path, int, dict[str, bytes]]) -> list[_ReadResult]:
    root, max_bytes, known_digests = job
    results: list[_ReadResult] = []
    for relpath in relpaths:
        try:
            data = _read(root, relpath, max_bytes)
        except (_FileRefused, OSError) as exc:
            reason = exc.message if isinstance(exc, _FileRefused) else f"cannot read file: {_reason(exc)}"
            results.append((b"", ParsedFile(relpath, None, (Problem(relpath, None, reason),))))
            continue
        digest = hashlib.blake2b(data, digest_size=16).digest()
        unchanged = known_digests.get(relpath) == digest
        results.append((digest, None if unchanged else parse(relpath, data, max_bytes=max_bytes)))
    return results


def load(root: str | os.PathLike[str], *, max_bytes: int = MAX_FILE_BYTES) -> Content:
    """Load every content file below `root` once."""
    return Loader(root, max_bytes=max_bytes).load()


def count_files(root: str | os.PathLike[str]) -> int:
    """How many content files `root` holds (for a progress bar)."""
    return len(_scan(Path(root))[0])


def _collect(parsed: list[ParsedFile], extra: list[Problem]) -> Content:
    articles = tuple(sorted((p.article for p in parsed if p.article), key=lambda a: a.path))
    problems = tuple(sorted([*extra, *(q for p in parsed for q in p.problems)], key=_problem_order))
    # Files refused by the scan (links out, FIFOs) were found too.
    refused = {problem.path for problem in extra if problem.path.endswith(tuple(SUFFIXES))}
    return Content(articles=articles, problems=problems, files=len(parsed) + len(refused))


def _problem_order(problem: Problem) -> tuple[str, int, str]:
    return (problem.path, problem.line or 0, problem.message)


def _scan(root: Path) -> tuple[list[tuple[str, _Signature]], list[Problem]]:
    """Every content file below `root` with its signature, sorted by path."""
    try:
        if not root.is_dir():
            raise ConfigError(f"content folder {str(root)!r} does not exist or is not a folder")
        real_root = root.resolve(strict=True)
        os.listdir(root)
    except OSError as exc:
        raise ConfigError(f"cannot read content folder {str(root)!r}: {exc.strerror}") from exc
    found: list[tuple[str, _Signature]] = []
    problems: list[Problem] = []
    for relpath, entry in _walk(root, "", problems):
        try:
            info = entry.stat(follow_symlinks=False)
            if entry.is_symlink():
                target = Path(entry.path).resolve(strict=True)
                if not target.is_relative_to(real_root):
                    problems.append(
                        Problem(relpath, None, "symbolic link leads outside the content folder; refused")
                    )
                    continue
                info = target.stat()
        except RuntimeError:  # Python 3.11's resolve() on a loop; its text holds the absolute path
            problems.append(Problem(relpath, None, "cannot read file: symbolic link loop"))
            continue
        except OSError as exc:
            problems.append(Problem(relpath, None, f"cannot read file: {_reason(exc)}"))
            continue
        if not stat.S_ISREG(info.st_mode):
            problems.append(Problem(relpath, None, "not a regular file; refused"))
            continue
        found.append((relpath, (info.st_size, info.st_mtime_ns, info.st_ino)))
    found.sort()
    return found, problems


def _walk(folder: Path, prefix: str, problems: list[Problem]) -> Iterator[tuple[str, os.DirEntry[str]]]:
    """Content files below `folder`, skipping hidden names; symlinked folders
    are not followed, so nothing outside the content folder is ever read. A
    folder that cannot be read is reported, not silently skipped."""
    try:
        with os.scandir(folder) as scan:
            entries = sorted(scan, key=lambda e: e.name)
    except OSError as exc:
        problems.append(Problem(prefix.rstrip("/") or ".", None, f"cannot read folder: {_reason(exc)}"))
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        relpath = prefix + entry.name
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(Path(entry.path), relpath + "/", problems)
        elif os.path.splitext(entry.name)[1].lower() in SUFFIXES:
            yield relpath, entry


def _reason(exc: BaseException) -> str:
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)


def read_file(root: Path, relpath: str, max_bytes: int = MAX_FILE_BYTES) -> ParsedFile:
    """Read and parse one file; any failure becomes a problem."""
    _, parsed = _read_files([relpath], (root, max_bytes, {}))[0]
    assert parsed is not None  # with no digest known, every file is parsed
    return parsed


# Never follow a link the scan did not check, never wait on a FIFO.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)


def _read(root: Path, relpath: str, max_bytes: int) -> bytes:
    """At most `max_bytes` + 1 bytes of a regular file inside `root`.

    The scan checked each path, but a file can be swapped for a link or a
    FIFO before it is opened: the last component is opened without following
    links, a link is resolved and checked again, and the opened file must be
    a regular one.
    """
    path = root / relpath
    try:
        descriptor = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
        target = path.resolve(strict=True)
        if not target.is_relative_to(root.resolve()):
            raise _FileRefused("symbolic link leads outside the content folder; refused") from None
        descriptor = os.open(target, _OPEN_FLAGS)
    with os.fdopen(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise _FileRefused("not a regular file; refused")
        return handle.read(max_bytes + 1)


def parse(relpath: str, data: bytes, *, max_bytes: int = MAX_FILE_BYTES) -> ParsedFile:
    """Parse the bytes of one content file."""
    problems: list[Problem] = []
    try:
        article = _parse(relpath, data, max_bytes, problems)
    except _FileRefused as refused:
        problems.append(Problem(relpath, refused.line, refused.message))
        article = None
    return ParsedFile(relpath, article, tuple(problems))


class _FileRefused(Exception):
    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


def _parse(relpath: str, data: bytes, max_bytes: int, problems: list[Problem]) -> Article | None:
    if len(data) > max_bytes:
        raise _FileRefused(f"file is larger than the limit of {max_bytes:,} bytes; refused")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise _FileRefused(f"not UTF-8 text (byte 0x{data[exc.start]:02x} cannot be decoded)", line) from None
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    # libyaml refuses a raw control character anywhere in the stream, which
    # would refuse the whole file; SPEC §5 says such characters are removed.
    # Remove them before looking for the fences (one could hide a fence).
    raw = text
    if _XML_FORBIDDEN.search(text):
        text = clean_text(text)
    front_matter, body, body_line = _split(text)
    fields = _load_yaml(front_matter)
    reader = _Reader(relpath, front_matter, problems)
    if text is not raw:
        reader.report_removed(raw, body_line)
    return reader.article(fields, body, body_line)


def _line_offset(text: str, line: int) -> int:
    """Offset of the start of `line` (from 1) in `text`, or its length."""
    offset = 0
    for _ in range(line - 1):
        offset = text.find("\n", offset) + 1
        if offset == 0:
            return len(text)
    return offset


def _split(text: str) -> tuple[str, str, int]:
    """Front matter text, body text, and the line the body starts on."""
    first_line, _, rest = text.partition("\n")
    if first_line.rstrip(" \t") != "---":
        raise _FileRefused("no front matter: the first line must be '---'", 1)
    closing = _FENCE.search(rest)
    if closing is None:
        raise _FileRefused("front matter opened on line 1 is never closed by a '---' line", 1)
    front_matter = rest[: closing.start()]
    body_line = front_matter.count("\n") + 3
    return front_matter, rest[closing.end() + 1 :], body_line


def _load_yaml(front_matter: str) -> dict[str, Any]:
    try:
        fields = yaml.load(front_matter, Loader=_YamlLoader)  # noqa: S506 - CSafeLoader is safe
    except yaml.constructor.ConstructorError as exc:
        line = exc.problem_mark.line + 2 if exc.problem_mark else None
        tag = _UNKNOWN_TAG.search(exc.problem or "")
        if tag is not None:
            name = tag.group(1).replace("tag:yaml.org,2002:", "!!")
            message = f"YAML tag {name} is not allowed: only plain YAML is read"
            raise _FileRefused(message, line) from None
        raise _FileRefused(f"YAML error: {exc.problem}", line) from None
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 2 if exc.problem_mark else None
        message = f"YAML syntax error: {exc.problem}"
        if exc.context and exc.context_mark and exc.context_mark.line + 2 != line:
            # "end of stream" points past the mistake; say where it began.
            message += f" ({exc.context} that starts on line {exc.context_mark.line + 2})"
        raise _FileRefused(message, line) from None
    except yaml.YAMLError as exc:
        raise _FileRefused(f"YAML error: {exc}".splitlines()[0]) from None
    except _SCALAR_ERRORS as exc:
        raise _bad_scalar(front_matter, exc) from None
    except RecursionError:  # pragma: no cover - libyaml bounds nesting first
        raise _FileRefused("YAML error: nested too deeply") from None
    if fields is None:
        raise _FileRefused("front matter is empty", 2)
    if not isinstance(fields, dict):
        raise _FileRefused(f"front matter must be a mapping of fields, not {_type_name(fields)}", 2)
    if len(front_matter) < MAX_VALUES and "*" not in front_matter:
        return fields  # every value takes a character, unless an alias repeats it
    budget = MAX_VALUES
    for key, value in fields.items():
        budget = _spend(value, budget)
        if budget < 0:
            raise _FileRefused(
                f"{key}: the front matter expands to more than {MAX_VALUES:,} values "
                "(YAML aliases, or a list too long?); refused",
                _key_line(front_matter, key),
            )
    return fields


# PyYAML's safe constructors raise these, not a YAMLError and without a
# line, for scalars that look like a number or a date but are none (month 13,
# 5,000 digits), or that carry an explicit tag they do not fit (``!!bool
# maybe`` is a KeyError, ``!!timestamp x`` an AttributeError, ``!!int ''`` an
# IndexError).
_SCALAR_ERRORS = (ValueError, OverflowError, KeyError, IndexError, AttributeError)
_SCALAR_KINDS = {
    "timestamp": "an ISO 8601 date-time",
    "bool": "true or false",
    "int": "a whole number",
}


def _bad_scalar(front_matter: str, exc: Exception) -> _FileRefused:
    """Name the scalar whose construction raised `exc`, and its line."""
    # Only a ValueError says something useful; drop Python's advice on digits.
    reason = f" ({str(exc).split(';')[0]})" if isinstance(exc, ValueError | OverflowError) else ""
    constructor = yaml.constructor.SafeConstructor()
    stack: list[tuple[yaml.Node, str]] = [(yaml.compose(front_matter, Loader=_YamlLoader), "")]
    seen: set[int] = set()
    while stack:
        node, field = stack.pop()
        # An alias is the same node again: visit each once, or an alias bomb
        # would cost exponential time and a recursive alias forever.
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key, value in reversed(node.value):
                name = key.value if isinstance(key, yaml.ScalarNode) else "?"
                stack.append((value, f"{field}.{name}" if field else name))
                stack.append((key, field))
        elif isinstance(node, yaml.SequenceNode):
            items = list(enumerate(node.value))
            stack.extend((item, f"{field}[{i}]") for i, item in reversed(items))
        elif isinstance(node, yaml.ScalarNode):
            try:
                constructor.construct_object(node)
            except yaml.YAMLError:
                continue  # another problem; not the one being looked for
            except _SCALAR_ERRORS:
                where = f"{field}: " if field else ""
                kind = _SCALAR_KINDS.get(node.tag.rsplit(":", 1)[-1], "a number")
                message = f"{where}not {kind}: {_shorten(node.value)!r}{reason}"
                return _FileRefused(message, node.start_mark.line + 2)
    return _FileRefused(f"YAML error: cannot read a value{reason}")


def _key_line(front_matter: str, key: Any) -> int:
    """Line of a top-level key of the front matter (line 2 if not found)."""
    root = yaml.compose(front_matter, Loader=_YamlLoader)
    for node, _ in root.value if isinstance(root, yaml.MappingNode) else ():
        if isinstance(node, yaml.ScalarNode) and node.value == str(key):
            return int(node.start_mark.line) + 2
    return 2


def _spend(value: Any, budget: int) -> int:
    """`budget` less the number of values `value` holds, counting every
    alias expansion; negative once the budget is spent, where it stops, so an
    alias bomb or a recursive structure costs at most `budget` steps."""
    stack = [value]
    while stack:
        budget -= 1
        if budget < 0:
            return budget
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return budget


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    return {
        str: "a string",
        int: "a number",
        float: "a number",
        list: "a list",
        dict: "a mapping",
        datetime: "a date-time",
        date: "a date",
        bytes: "binary data",
        type(None): "empty",
    }.get(type(value), type(value).__name__)


def clean_text(value: str) -> str:
    """`value` without the characters that XML 1.0 forbids."""
    return _XML_FORBIDDEN.sub("", value)


def _code_points(text: str) -> list[str]:
    """The distinct characters of `text` that XML 1.0 forbids, as ``U+0001``."""
    return sorted({f"U+{ord(char):04X}" for char in _XML_FORBIDDEN.findall(text)})


def _removed_message(code_points: list[str]) -> str:
    # The characters are invisible in most editors: name them.
    shown = ", ".join(code_points[:5]) + (", …" if len(code_points) > 5 else "")
    return f"characters that XML 1.0 forbids were removed ({shown})"


class _Reader:
    """Checks front-matter fields into an `Article`, one small normaliser per
    field. Refusals raise `ContentError`; fix-ups add warnings."""

    def __init__(self, relpath: str, front_matter: str, problems: list[Problem]) -> None:
        self.relpath = relpath
        self.front_matter = front_matter
        self.problems = problems
        self._nodes: yaml.Node | None | bool = False  # composed on first need

    # -- problems and their lines ------------------------------------------------

    def line_of(self, field: str) -> int | None:
        """Line of a field such as ``related[2].images``, or of its nearest
        parent; the YAML is composed again only when a problem needs it."""
        node = self._composed()
        if node is None:
            return None
        line = node.start_mark.line
        for step in re.findall(r"[^.\[\]]+|\[\d+\]", field):
            child = _child(node, step)
            if child is None:
                break
            node, line = child, child.start_mark.line
        return int(line) + 2  # the front matter starts on the file's line 2

    def field_at(self, line: int, column: int) -> str:
        """The innermost field whose text spans `line` (of the file) and
        `column`, like ``related[0].title``; ``front matter`` if none does."""
        position = (line - 2, column)  # the front matter starts on line 2
        field = ""
        node = self._composed()
        seen: set[int] = set()
        while node is not None and id(node) not in seen:  # an alias may contain itself
            seen.add(id(node))
            node, step = _child_at(node, position)
            if step:
                field += step if step.startswith("[") or not field else "." + step
        return field or "front matter"

    def report_removed(self, raw: str, body_line: int) -> None:
        """A warning for each field (and the body) that lost characters
        XML 1.0 forbids from the `raw` text, at the line of the first one.
        Only the first few dozen lines with such characters are told apart,
        so that the cost stays linear in the size of the file."""
        by_field: dict[str, tuple[int, set[str]]] = {}

        def add(field: str, line: int, characters: list[str]) -> None:
            by_field.setdefault(field, (line, set()))[1].update(characters)

        body_start = _line_offset(raw, body_line)
        position, line, lookups = 0, 1, 0
        while lookups < _MAX_FIELD_LOOKUPS:
            match = _XML_FORBIDDEN.search(raw, position, body_start)
            if match is None:
                break
            start = match.start()
            line += raw.count("\n", position, start)
            line_end = raw.find("\n", start, body_start)
            line_end = body_start if line_end < 0 else line_end
            field = "front matter"  # on a fence line
            if 1 < line < body_line - 1:
                lookups += 1  # each walks the YAML nodes
                field = self.field_at(line, start - raw.rfind("\n", 0, start) - 1)
            add(field, line, _XML_FORBIDDEN.findall(raw, start, line_end))
            position = line_end
        rest = _XML_FORBIDDEN.search(raw, position, body_start)
        if rest is not None:
            line += raw.count("\n", position, rest.start())
            add("front matter", line, _XML_FORBIDDEN.findall(raw, rest.start(), body_start))
        body = _XML_FORBIDDEN.search(raw, body_start)
        if body is not None:
            line = body_line + raw.count("\n", body_start, body.start())
            add("body", line, _XML_FORBIDDEN.findall(raw, body.start()))
        for name, (first_line, characters) in by_field.items():
            message = f"{name}: {_removed_message(_code_points(''.join(characters)))}"
            self.problems.append(Problem(self.relpath, first_line, message, Severity.WARNING))

    def _composed(self) -> yaml.Node | None:
        if self._nodes is False:
            try:
                self._nodes = yaml.compose(self.front_matter, Loader=_YamlLoader)
            except yaml.YAMLError:
                self._nodes = None
        return self._nodes if isinstance(self._nodes, yaml.Node) else None

    def warn(self, field: str, message: str) -> None:
        self.problems.append(
            Problem(self.relpath, self.line_of(field), f"{field}: {message}", Severity.WARNING)
        )

    def refuse_item(self, error: ContentError, field: str) -> None:
        self.problems.append(Problem(self.relpath, self.line_of(error.field or field), str(error)))

    # -- the article ------------------------------------------------------------

    def article(self, fields: dict[str, Any], body: str, body_line: int) -> Article | None:
        try:
            article = self.story(fields, "", parent=None)
        except ContentError as error:
            raise _FileRefused(str(error), self.line_of(error.field or "")) from None
        body = body.strip("\n")  # already without characters XML 1.0 forbids
        if body.strip():
            return replace(article, body=body)
        return article

    def story(self, fields: dict[str, Any], prefix: str, parent: Article | None) -> Article:
        """One article, or one related item when `parent` is given."""
        is_published = self.published(fields, prefix) if parent is None else parent.is_published
        related: tuple[Article, ...] = ()
        url = self.url(fields, prefix + "sourceUrl")
        article = Article(
            path=self.relpath,
            title=self.text(fields, prefix + "title", required=True),
            url=url,
            id=canonical_url(url),
            published=self.date(fields, prefix + "publishedDateTime"),
            provider=self.provider(fields, prefix + "provider"),
            excerpt=self.text(fields, prefix + "excerpt", limit=MAX_EXCERPT_CHARS, one_line=False),
            topics=self.topics(fields, prefix + "topics"),
            images=self.images(fields, prefix + "images"),
            is_published=is_published,
            amp_url=self.optional_url(fields, prefix + "ampUrl"),
            category=sys.intern(self.text(fields, prefix + "category")),
            kind=sys.intern(self.text(fields, prefix + "type")),
            quality=self.score(fields, prefix + "quality", 0, 100),
            heat=self.score(fields, prefix + "heat", -1, None),
        )
        if parent is None:
            related = self.related(fields, article)
        elif fields.get("related"):
            self.warn(prefix + "related", "a related item cannot have related items of its own; ignored")
        return replace(article, related=related) if related else article

    def related(self, fields: dict[str, Any], parent: Article) -> tuple[Article, ...]:
        items = self.items(fields, "related")
        stories: list[Article] = []
        for index, item in enumerate(items):
            field = f"related[{index}]"
            try:
                if not isinstance(item, dict):
                    raise ContentError(f"must be a mapping of fields, not {_type_name(item)}", field=field)
                stories.append(self.story(item, field + ".", parent=parent))
            except ContentError as error:
                error.args = (f"{error.args[0]} (this related item is left out)",)
                self.refuse_item(error, field)
        return tuple(stories)

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
            raise ContentError(f"must be text, not {_type_name(value)}", field=field)
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
            self.warn(field, _removed_message(_code_points(text)))
        return cleaned

    def url(self, fields: dict[str, Any], field: str) -> str:
        raw = self.text(fields, field, required=True, limit=MAX_FILE_BYTES)
        if len(raw) > MAX_URL_LENGTH:
            raise ContentError(f"URL longer than {MAX_URL_LENGTH:,} characters", field=field)
        url = http_url(raw)
        if url is None:
            raise ContentError(f"not an absolute http(s) URL: {_shorten(raw)!r}", field=field)
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
                    f"not an ISO 8601 date-time: {_shorten(str(value))!r}{reason}", field=field
                ) from None
        if isinstance(value, date) and not isinstance(value, datetime):
            self.warn(field, "a date without a time; taken as midnight UTC")
            value = datetime(value.year, value.month, value.day, tzinfo=UTC)
        if not isinstance(value, datetime):
            raise ContentError(f"must be an ISO 8601 date-time, not {_type_name(value)}", field=field)
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
            raise ContentError(f"must be true or false, not {_type_name(value)}", field=prefix + "published")
        return value

    def provider(self, fields: dict[str, Any], field: str) -> Provider:
        value = fields.get(_key(field))
        if value is None:
            raise ContentError("is required (a mapping with a name)", field=field)
        if not isinstance(value, dict):
            raise ContentError(f"must be a mapping with a name, not {_type_name(value)}", field=field)
        name = self.text(value, field + ".name", required=True, limit=200)
        domain = self.text(value, field + ".domain", limit=253)
        key = (name, domain)
        if key not in _PROVIDERS:
            _PROVIDERS[key] = Provider(name=sys.intern(name), domain=sys.intern(domain))
        return _PROVIDERS[key]

    def items(self, fields: dict[str, Any], field: str) -> list[Any]:
        """A list field; absent or empty is an empty list."""
        value = fields.get(_key(field))
        if value is None:
            return []
        if not isinstance(value, list):
            raise ContentError(f"must be a list, not {_type_name(value)}", field=field)
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
                self.warn(where, f"must be a mapping with a url, not {_type_name(item)}; ignored")
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
            self.warn(field, f"must be a whole number of pixels, not {_shorten(str(value))!r}; ignored")
            return None
        return value

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
            self.warn(field, f"must be a whole number {bounds}, not {_shorten(str(value))!r}; ignored")
            return None
        return value


def _key(field: str) -> str:
    """The last key of a field path: ``related[2].title`` → ``title``."""
    return field.rsplit(".", 1)[-1]


def _child(node: yaml.Node, step: str) -> yaml.Node | None:
    if step.startswith("[") and isinstance(node, yaml.SequenceNode):
        index = int(step[1:-1])
        return node.value[index] if index < len(node.value) else None
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == step:
                return value
    return None


def _child_at(node: yaml.Node, position: tuple[int, int]) -> tuple[yaml.Node | None, str]:
    """The child of `node` whose text spans `position` (line, column), and
    the step to it (a key or ``[index]``); (None, "") if none does."""

    def spans(first: yaml.Node, last: yaml.Node) -> bool:
        start, end = first.start_mark, last.end_mark
        return (start.line, start.column) <= position <= (end.line, end.column)

    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if spans(key, value):
                step = key.value if isinstance(key, yaml.ScalarNode) else ""
                return (value if spans(value, value) else None), step
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            if spans(item, item):
                return item, f"[{index}]"
    return None, ""


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
