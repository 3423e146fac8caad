"""The front matter: fences, safe YAML loading, and where each problem is.

A file is YAML front matter between a first ``---`` line and a closing
``---`` line, then an optional body. YAML is only ever safe-loaded (libyaml's
``CSafeLoader``): a tag that would build an object, an alias bomb or a value
that is no value each become a problem naming its line. `Diagnostics` finds
the line of a field (``related[2].images``) only when a problem needs it, by
composing the YAML nodes again.
"""

from __future__ import annotations

import re
from datetime import date
from datetime import datetime
from typing import Any

import yaml

from feedpub.content._files import FileRefused
from feedpub.errors import ContentError
from feedpub.model import Problem
from feedpub.model import Severity

try:
    # libyaml is ten times faster than PyYAML's pure-Python parser; falling
    # back silently would make large sites crawl, so refuse to start instead.
    _YamlLoader = yaml.CSafeLoader
except AttributeError as exc:  # pragma: no cover - depends on the install
    raise ImportError(
        "feedpub needs PyYAML built with libyaml (yaml.CSafeLoader is missing); "
        "reinstall PyYAML from a wheel or with libyaml-dev present"
    ) from exc

#: Most values a front matter may expand to; bounds YAML alias bombs.
MAX_VALUES = 20_000
_FENCE = re.compile(r"^---[ \t]*$", re.MULTILINE)
# XML 1.0 forbids C0 controls but tab and newlines, surrogates, U+FFFE/F;
# C1 controls are allowed but never meant in text, and confuse readers.
XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
#: Most fields named in warnings about removed characters, per file.
_MAX_FIELD_LOOKUPS = 50
_UNKNOWN_TAG = re.compile(r"constructor for the tag '([^']*)'")


def _line_offset(text: str, line: int) -> int:
    """Offset of the start of `line` (from 1) in `text`, or its length."""
    offset = 0
    for _ in range(line - 1):
        offset = text.find("\n", offset) + 1
        if offset == 0:
            return len(text)
    return offset


def split(text: str) -> tuple[str, str, int]:
    """Front matter text, body text, and the line the body starts on."""
    first_line, _, rest = text.partition("\n")
    if first_line.rstrip(" \t") != "---":
        raise FileRefused("no front matter: the first line must be '---'", 1)
    closing = _FENCE.search(rest)
    if closing is None:
        raise FileRefused("front matter opened on line 1 is never closed by a '---' line", 1)
    front_matter = rest[: closing.start()]
    body_line = front_matter.count("\n") + 3
    return front_matter, rest[closing.end() + 1 :], body_line


def load(front_matter: str) -> dict[str, Any]:
    """The front matter as a mapping; raises `FileRefused` naming the line."""
    try:
        fields = yaml.load(front_matter, Loader=_YamlLoader)  # noqa: S506 - CSafeLoader is safe
    except yaml.constructor.ConstructorError as exc:
        line = exc.problem_mark.line + 2 if exc.problem_mark else None
        tag = _UNKNOWN_TAG.search(exc.problem or "")
        if tag is not None:
            name = tag.group(1).replace("tag:yaml.org,2002:", "!!")
            message = f"YAML tag {name} is not allowed: only plain YAML is read"
            raise FileRefused(message, line) from None
        raise FileRefused(f"YAML error: {exc.problem}", line) from None
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 2 if exc.problem_mark else None
        message = f"YAML syntax error: {exc.problem}"
        if exc.context and exc.context_mark and exc.context_mark.line + 2 != line:
            # "end of stream" points past the mistake; say where it began.
            message += f" ({exc.context} that starts on line {exc.context_mark.line + 2})"
        raise FileRefused(message, line) from None
    except yaml.YAMLError as exc:
        raise FileRefused(f"YAML error: {exc}".splitlines()[0]) from None
    except _SCALAR_ERRORS as exc:
        raise _bad_scalar(front_matter, exc) from None
    except RecursionError:  # pragma: no cover - libyaml bounds nesting first
        raise FileRefused("YAML error: nested too deeply") from None
    if fields is None:
        raise FileRefused("front matter is empty", 2)
    if not isinstance(fields, dict):
        raise FileRefused(f"front matter must be a mapping of fields, not {type_name(fields)}", 2)
    if len(front_matter) < MAX_VALUES and "*" not in front_matter:
        return fields  # every value takes a character, unless an alias repeats it
    budget = MAX_VALUES
    for key, value in fields.items():
        budget = _spend(value, budget)
        if budget < 0:
            raise FileRefused(
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


def _bad_scalar(front_matter: str, exc: Exception) -> FileRefused:
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
                message = f"{where}not {kind}: {shorten(node.value)!r}{reason}"
                return FileRefused(message, node.start_mark.line + 2)
    return FileRefused(f"YAML error: cannot read a value{reason}")


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


def type_name(value: Any) -> str:
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
    return XML_FORBIDDEN.sub("", value)


def code_points(text: str) -> list[str]:
    """The distinct characters of `text` that XML 1.0 forbids, as ``U+0001``."""
    return sorted({f"U+{ord(char):04X}" for char in XML_FORBIDDEN.findall(text)})


def removed_message(points: list[str]) -> str:
    """The warning for removed characters, naming the first few."""
    # The characters are invisible in most editors: name them.
    shown = ", ".join(points[:5]) + (", …" if len(points) > 5 else "")
    return f"characters that XML 1.0 forbids were removed ({shown})"


class Diagnostics:
    """The problems of one file, each at the line of its field."""

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

    def key_line(self, key: str) -> int | None:
        """Line of the top-level `key` written in block style (at the start
        of a line), found in the text: for every file, so never composed.
        None unless exactly one line starts with it."""
        starts = [m.start() for m in re.finditer(rf"(?m)^{re.escape(key)}[ \t]*:", self.front_matter)]
        if len(starts) != 1:
            return None
        return self.front_matter.count("\n", 0, starts[0]) + 2  # the front matter starts on line 2

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
            match = XML_FORBIDDEN.search(raw, position, body_start)
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
            add(field, line, XML_FORBIDDEN.findall(raw, start, line_end))
            position = line_end
        rest = XML_FORBIDDEN.search(raw, position, body_start)
        if rest is not None:
            line += raw.count("\n", position, rest.start())
            add("front matter", line, XML_FORBIDDEN.findall(raw, rest.start(), body_start))
        body = XML_FORBIDDEN.search(raw, body_start)
        if body is not None:
            line = body_line + raw.count("\n", body_start, body.start())
            add("body", line, XML_FORBIDDEN.findall(raw, body.start()))
        for name, (first_line, characters) in by_field.items():
            message = f"{name}: {removed_message(code_points(''.join(characters)))}"
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


def shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
