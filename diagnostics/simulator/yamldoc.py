"""Read a YAML document and check its values, naming the key path and line of every mistake.

:class:`Reader` parses once with PyYAML's node API, so every value can be traced back to the line
it came from, and offers small typed accessors (``mapping``, ``string``, ``integer``, ...) that
raise :class:`~diagnostics.simulator.errors.ScenarioError` with a one-line message.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from datetime import date, datetime
from typing import Any, NoReturn

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from diagnostics.simulator.errors import ScenarioError

KeyPath = tuple[str | int, ...]


def format_path(path: KeyPath) -> str:
    """``("grants", "read:exchange", 1)`` → ``grants.read:exchange[1]``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


class Reader:
    """One parsed YAML document (``data``) plus checked access to its values."""

    def __init__(self, text: str, source: str) -> None:
        self.source = source
        loader = yaml.SafeLoader(text)
        try:
            self.root: Node | None = loader.get_single_node()
            self.data: Any = None if self.root is None else loader.construct_document(self.root)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark is not None else None
            problem = exc.problem or exc.context or "cannot be parsed"
            if exc.context and exc.context_mark and exc.context_mark.line + 1 != line:
                problem += f" ({exc.context} started on line {exc.context_mark.line + 1})"
            where = f", line {line}" if line else ""
            raise ScenarioError(
                f"{source}{where}: not valid YAML: {problem}", source=source, line=line
            ) from None
        except yaml.YAMLError as exc:
            raise ScenarioError(f"{source}: not valid YAML: {exc}", source=source) from None
        finally:
            loader.dispose()
        if self.root is not None:
            self._reject_duplicate_keys(self.root, ())

    # -- locating and failing ------------------------------------------------------------------

    def line_of(self, path: KeyPath) -> int | None:
        """The 1-based line of the deepest node of ``path`` that exists (a key's own line)."""
        node = self.root
        if node is None:
            return None
        line = node.start_mark.line
        for part in path:
            child = _child(node, part)
            if child is None:
                break
            line = child[0].start_mark.line
            node = child[1]
        return line + 1

    def fail(self, path: KeyPath, message: str) -> NoReturn:
        line = self.line_of(path)
        where = f", line {line}" if line else ""
        key = format_path(path)
        prefix = f"{self.source}{where}: {key}: " if key else f"{self.source}{where}: "
        raise ScenarioError(prefix + message, source=self.source, path=key or None, line=line)

    def _reject_duplicate_keys(self, node: Node, path: KeyPath) -> None:
        if isinstance(node, MappingNode):
            seen: set[str] = set()
            for key, value in node.value:
                name = key.value if isinstance(key, ScalarNode) else None
                if name is not None and name in seen:
                    line = key.start_mark.line + 1
                    where = format_path((*path, name))
                    raise ScenarioError(
                        f"{self.source}, line {line}: {where}: duplicate key",
                        source=self.source,
                        path=where,
                        line=line,
                    )
                if name is not None:
                    seen.add(name)
                self._reject_duplicate_keys(value, (*path, name if name is not None else "?"))
        elif isinstance(node, SequenceNode):
            for index, item in enumerate(node.value):
                self._reject_duplicate_keys(item, (*path, index))

    # -- typed access ----------------------------------------------------------------------------

    def mapping(
        self,
        value: Any,
        path: KeyPath,
        allowed: Collection[str] | None = None,
        required: Iterable[str] = (),
    ) -> dict[str, Any]:
        """A mapping with string keys; with ``allowed``, any other key is rejected."""
        if not isinstance(value, dict):
            self.fail(path, f"expected a mapping, got {_kind(value)}")
        for key in value:
            if not isinstance(key, str):
                self.fail((*path, str(key)), f"keys must be strings, got {_kind(key)}")
            if allowed is not None and key not in allowed:
                self.fail((*path, key), f"unknown key {key!r} (expected one of: {_list(allowed)})")
        for key in required:
            if key not in value:
                self.fail(path, f"missing required key {key!r}")
        return value

    def sequence(self, value: Any, path: KeyPath) -> list[Any]:
        if not isinstance(value, list):
            self.fail(path, f"expected a list, got {_kind(value)}")
        return value

    def string(self, value: Any, path: KeyPath, *, pattern: str | None = None) -> str:
        """A string (numbers are accepted and turned into text, e.g. a page id ``98304``)."""
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not value.strip():
            self.fail(path, f"expected a non-empty string, got {_kind(value)}")
        if pattern is not None and not re.fullmatch(pattern, value):
            self.fail(path, f"{value!r} does not match {pattern}")
        return value

    def integer(
        self, value: Any, path: KeyPath, *, minimum: int | None = None, maximum: int | None = None
    ) -> int:
        if not isinstance(value, int) or isinstance(value, bool):
            self.fail(path, f"expected an integer, got {_kind(value)}")
        if minimum is not None and value < minimum:
            self.fail(path, f"must be at least {minimum}, got {value}")
        if maximum is not None and value > maximum:
            self.fail(path, f"must be at most {maximum}, got {value}")
        return value

    def boolean(self, value: Any, path: KeyPath) -> bool:
        if not isinstance(value, bool):
            self.fail(path, f"expected true or false, got {_kind(value)}")
        return value

    def choice(self, value: Any, path: KeyPath, choices: Collection[str]) -> str:
        if not isinstance(value, str) or value not in choices:
            self.fail(path, f"{value!r} is not one of: {_list(choices)}")
        return value

    def timestamp(self, value: Any, path: KeyPath) -> datetime:
        """An ISO-8601 date-time with a UTC offset (quoted or not)."""
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value.strip())
            except ValueError:
                self.fail(path, f"{value!r} is not an ISO-8601 date-time")
        if isinstance(value, date) and not isinstance(value, datetime):
            self.fail(path, f"{value.isoformat()!r} is a date without a time and UTC offset")
        if not isinstance(value, datetime):
            self.fail(path, f"expected an ISO-8601 date-time, got {_kind(value)}")
        if value.tzinfo is None or value.utcoffset() is None:
            self.fail(
                path,
                f"{value.isoformat()!r} has no UTC offset (write e.g. 2026-11-23T10:00:00+11:00)",
            )
        return value

    def regex(self, value: Any, path: KeyPath) -> re.Pattern[str]:
        text = self.string(value, path)
        try:
            return re.compile(text)
        except re.error as exc:
            self.fail(path, f"{text!r} is not a valid regular expression: {exc}")


def _child(node: Node, part: str | int) -> tuple[Node, Node] | None:
    """(node whose line names ``part``, the value node) inside ``node``."""
    if isinstance(node, MappingNode):
        for key, value in node.value:
            if isinstance(key, ScalarNode) and key.value == str(part):
                return key, value
    elif isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        item = node.value[part]
        return item, item
    return None


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"the string {value!r}"
    return f"{type(value).__name__} {value!r}"


def _list(choices: Iterable[str]) -> str:
    return ", ".join(choices)
