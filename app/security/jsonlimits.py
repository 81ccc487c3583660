"""JSON from outside parsed with limits, and text checked before it reaches the database.

Every JSON body (Forge, support, signed webhooks) is read by :func:`loads`:

- size: ``MAX_CONTENT_LENGTH`` (413, checked by werkzeug before parsing);
- depth: at most :data:`MAX_DEPTH` nested arrays/objects (a 50,000-deep body is a 400, not a
  ``RecursionError``);
- strings (values and keys): at most :data:`MAX_STRING_CHARS` characters, no NUL (PostgreSQL
  refuses it in text) and no lone surrogate (``"\\ud800"``: not encodable as UTF-8);
- numbers: integers within ±(2**53 − 1) (what JavaScript callers can represent), finite floats,
  no ``NaN`` / ``Infinity``.

:class:`HostileInput` (a ``ValueError``) carries a message safe to send back.
"""

from __future__ import annotations

import json
import math
from typing import Any

MAX_DEPTH = 32
MAX_STRING_CHARS = 100_000
MAX_INTEGER = 2**53 - 1
_MAX_INTEGER_DIGITS = len(str(MAX_INTEGER))


class HostileInput(ValueError):
    """The input is outside the accepted limits; the message says which, in plain words."""


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > _MAX_INTEGER_DIGITS or abs(value := int(text)) > MAX_INTEGER:
        raise HostileInput(f"A number is out of range (at most ±{MAX_INTEGER}).")
    return value


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise HostileInput("A number is out of range.")
    return value


def _refuse_constant(name: str) -> Any:
    raise HostileInput(f"{name} is not a JSON number.")


def text_problem(value: str) -> str | None:
    """Why a string cannot be accepted (``None`` when it can)."""
    if len(value) > MAX_STRING_CHARS:
        return f"A text value is longer than {MAX_STRING_CHARS} characters."
    if "\x00" in value:
        return "A text value contains a NUL character."
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "A text value contains an unpaired surrogate (invalid Unicode)."
    return None


def check_value(value: Any) -> None:
    """Raise :class:`HostileInput` unless ``value`` (parsed JSON) is within the limits."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            problem = text_problem(item)
            if problem:
                raise HostileInput(problem)
        elif isinstance(item, dict | list):
            if depth >= MAX_DEPTH:
                raise HostileInput(f"The JSON nests deeper than {MAX_DEPTH} levels.")
            if isinstance(item, dict):
                stack.extend((key, depth) for key in item)
                stack.extend((child, depth + 1) for child in item.values())
            else:
                stack.extend((child, depth + 1) for child in item)


def loads(data: str | bytes | bytearray) -> Any:
    """Parse JSON within the limits; :class:`HostileInput` otherwise."""
    if isinstance(data, bytes | bytearray):
        try:
            data = bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            raise HostileInput("The body is not UTF-8.") from None
    try:
        value = json.loads(
            data,
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_refuse_constant,
        )
    except RecursionError:
        raise HostileInput(f"The JSON nests deeper than {MAX_DEPTH} levels.") from None
    except HostileInput:
        raise
    except ValueError as exc:
        raise HostileInput(f"The body is not valid JSON ({_position(exc)}).") from None
    check_value(value)
    return value


def _position(exc: ValueError) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    return "unreadable"
