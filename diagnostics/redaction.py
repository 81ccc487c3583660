"""The redaction stage: every report, rendering, log line and ticket comment passes through here.

A :class:`Redactor` removes two things from text and nested data:

- the exact values it was told about (``known_secrets``: the connection's client secret, the
  tokens the Anypoint client obtained), wherever they appear — also URL- and JSON-encoded;
- anything that matches a named pattern (:data:`PATTERNS`): ``client_secret=…``, access and
  refresh tokens, ``Authorization`` headers, passwords, credentials in URLs, JWTs, PEM private
  keys, API keys and tokens, Atlassian API tokens, AWS access keys, cookies.

Each removed value becomes ``[REDACTED:<kind>]`` and is counted; :meth:`Redactor.summary` is the
report's ``redactions`` object. Look-alikes stay: organization and environment ids, client ids,
versions, timestamps, URLs without credentials, and the words "secret", "token" or "password" in
prose. Redacting an already redacted value changes nothing and counts nothing.

If redaction itself fails it raises :class:`RedactionError`: the caller shows and sends nothing.
It never hands back the unredacted input.
"""

from __future__ import annotations

import bisect
import datetime as _dt
import decimal
import enum
import functools
import json
import logging
import re
import threading
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, quote_plus

from diagnostics.errors import DiagnosticsError

MARKER_PREFIX = "[REDACTED:"
KNOWN_SECRET = "known_secret"
EXCERPT_CONTEXT = 32

_MARKER_RE = re.compile(r"\[REDACTED:[a-z_]+\]")
_NOT_MARKER = r"(?!\[REDACTED:)"
# An unquoted value ends at whitespace, a quote, or a delimiter of query strings, lists and markup.
_BARE_VALUE = r"(?:[^\s&\"'<>,;`\\]|\\(?![\"']))+"
_SCHEMES = r"Bearer|Basic|Token|Digest|Negotiate|NTLM|Hawk|AWS4-HMAC-SHA256|SharedAccessSignature"
_HTML_QUOTE = r"&quot;|&#34;|&#x22;|&#39;|&#x27;|&apos;"
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_NON_VALUES = frozenset({"null", "none", "true", "false", "undefined", "nil"})


class RedactionError(DiagnosticsError):
    """Redaction could not complete; nothing may be shown or sent."""


@dataclass(frozen=True)
class SecretFinding:
    """One secret in a text: its kind, where it is, and an excerpt that does not show it."""

    kind: str
    start: int
    end: int
    excerpt: str

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "excerpt": self.excerpt}


@dataclass(frozen=True)
class Pattern:
    """A named pattern; the group ``value`` (or ``v1``…``v5``, or the whole match) is the secret."""

    kind: str
    regex: re.Pattern[str]
    accept: Callable[[re.Match[str]], bool] | None = None


def _keyed(keys: str, scheme: bool = False) -> re.Pattern[str]:
    """``key = value``, ``"key": "value"``, ``key: value``, ``'key' => 'value'`` for these keys."""
    # With a scheme, the scheme word itself is never the value.
    sch = rf"(?:(?:{_SCHEMES})\s+)?(?!(?:{_SCHEMES})\s)" if scheme else ""
    return re.compile(
        rf"(?<![\w.-])(?P<kq>{_HTML_QUOTE}|\\?[\"']?)(?P<key>{keys})(?P=kq)"
        rf"[ \t]*(?P<sep>=>|[:=])[ \t]*"
        rf"(?:\\\"{sch}{_NOT_MARKER}(?P<v4>[^\"\\\n]+)\\\""
        rf"|(?P<hq>{_HTML_QUOTE}){sch}{_NOT_MARKER}(?P<v5>(?:(?!(?P=hq))[^\n<])+)(?P=hq)"
        rf"|\"{sch}{_NOT_MARKER}(?P<v1>(?:[^\"\\\n]|\\.)+)\""
        rf"|'{sch}{_NOT_MARKER}(?P<v2>(?:[^'\\\n]|\\.)+)'"
        rf"|{sch}{_NOT_MARKER}(?P<v3>{_BARE_VALUE}))",
        re.IGNORECASE,
    )


_HEADER_CONTEXT = re.compile(r"(?:^[ \t]*|(?:-H|--header)\s*[\"']?|[\"'])$", re.IGNORECASE)
_SCHEME_WORD = re.compile(rf"(?:{_SCHEMES})\s", re.IGNORECASE)
_PLACEHOLDER = re.compile(
    r"[*•xX.·…_-]+|<[^>]*>|\$\{?\w+\}?|\{\{[^}]*\}\}|%\w+%|\(?(?:redacted|hidden|removed)\)?",
    re.IGNORECASE,
)


def _keyed_value(match: re.Match[str]) -> str | None:
    return next((match.group(g) for g in ("v1", "v2", "v3", "v4", "v5") if match.group(g)), None)


def _keyed_accept(match: re.Match[str]) -> bool:
    """Keep prose such as "secret: please rotate it" and placeholders such as ``$SECRET``."""
    value = _keyed_value(match) or ""
    if value.lower() in _NON_VALUES or _PLACEHOLDER.fullmatch(value):
        return False
    if match.group("kq") and match.group("v3") and _NUMBER.fullmatch(value):
        return False  # a JSON number ("client_secret": 1 in a redactions count) is not a secret
    if match.group("sep") != ":" or match.group("kq") or match.group("v3") is None:
        return True
    line_start = match.string.rfind("\n", 0, match.start()) + 1
    if _HEADER_CONTEXT.search(match.string[line_start : match.start()]):
        return True
    return _looks_like_credential(value)


def _looks_like_credential(value: str, minimum: int = 6) -> bool:
    return len(value) >= 16 or (len(value) >= minimum and bool(re.search(r"\d", value)))


def _authorization_accept(match: re.Match[str]) -> bool:
    """A scheme (``Bearer``, ``Basic``…) before a credential-sized value is enough."""
    if _keyed_accept(match):
        return True
    value = _keyed_value(match) or ""
    between = match.string[match.end("sep") : _value_span(match)[0]]
    return (
        bool(_SCHEME_WORD.search(between)) and len(value) >= 8 and not _PLACEHOLDER.fullmatch(value)
    )


PATTERNS: tuple[Pattern, ...] = (
    Pattern(
        "pem_private_key",
        re.compile(
            r"-----BEGIN (?P<label>[A-Z0-9 ]*)PRIVATE KEY-----"
            r"(?:[\s\S]*?-----END (?P=label)PRIVATE KEY-----|[A-Za-z0-9+/=\s\\]*)"
        ),
    ),
    Pattern(
        "authorization_header",
        _keyed(r"(?:proxy-)?authorization", scheme=True),
        _authorization_accept,
    ),
    Pattern(
        "authorization_header",
        re.compile(rf"\b(?:Bearer|Basic)\s+{_NOT_MARKER}(?P<value>[A-Za-z0-9\-._~+/]{{16,}}=*)"),
    ),
    Pattern(
        "url_credentials",
        re.compile(
            rf"\b[a-z][a-z0-9+.-]*://{_NOT_MARKER}(?P<value>[^\s/:@\"'<>]+:[^\s/@\"'<>]*)@",
            re.IGNORECASE,
        ),
    ),
    Pattern(
        "cookie",
        re.compile(
            rf"(?im)(?:^|(?<=[\"'`]))[ \t]*(?:set-)?cookie[ \t]*:[ \t]*{_NOT_MARKER}"
            r"(?P<value>[^\r\n\"'`]+)"
        ),
    ),
    Pattern(
        "password",
        re.compile(rf"(?:^|\s)(?:-u|--user)\s+[\"']?[^\s:\"']+:{_NOT_MARKER}(?P<value>[^\s\"']+)"),
    ),
    Pattern("client_secret", _keyed(r"client[_-]?secret"), _keyed_accept),
    Pattern("access_token", _keyed(r"access[_-]?token"), _keyed_accept),
    Pattern("refresh_token", _keyed(r"refresh[_-]?token"), _keyed_accept),
    Pattern(
        "password",
        _keyed(r"[\w.-]*(?:password|passwd|passphrase|pwd)"),
        _keyed_accept,
    ),
    Pattern(
        "jwt",
        re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"),
    ),
    Pattern("atlassian_api_token", re.compile(r"\bATATT[A-Za-z0-9_\-=]{20,}")),
    Pattern("aws_access_key", re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b")),
    Pattern(
        "key_value_secret",
        _keyed(
            r"[\w.-]*(?:api[_-]?key|apikey|secret|token|private[_-]?key"
            r"|secret[_-]?(?:access[_-]?)?key|client[_-]?assertion)"
        ),
        _keyed_accept,
    ),
)

# Dict keys (lower case, without "-", "_", "." and spaces) whose whole value is a secret.
SECRET_KEYS: Mapping[str, str] = {
    "clientsecret": "client_secret",
    "accesstoken": "access_token",
    "refreshtoken": "refresh_token",
    "authorization": "authorization_header",
    "proxyauthorization": "authorization_header",
    "password": "password",
    "passwd": "password",
    "pwd": "password",
    "passphrase": "password",
    "apikey": "key_value_secret",
    "xapikey": "key_value_secret",
    "secret": "key_value_secret",
    "token": "key_value_secret",
    "idtoken": "key_value_secret",
    "sessiontoken": "key_value_secret",
    "authtoken": "key_value_secret",
    "privatekey": "key_value_secret",
    "secretkey": "key_value_secret",
    "secretaccesskey": "key_value_secret",
    "awssecretaccesskey": "key_value_secret",
    "clientassertion": "key_value_secret",
    "cookie": "cookie",
    "setcookie": "cookie",
}
# Longer keys ending like these (``db_password``, ``apiToken``) are secrets too.
_SECRET_KEY_SUFFIXES = (
    ("password", "password"),
    ("clientsecret", "client_secret"),
    ("accesstoken", "access_token"),
    ("refreshtoken", "refresh_token"),
    ("apikey", "key_value_secret"),
    ("secret", "key_value_secret"),
    ("token", "key_value_secret"),
)
_SCHEME_PREFIX = re.compile(rf"^(?:{_SCHEMES})\s+", re.IGNORECASE)
_PASSTHROUGH = (
    int,
    float,
    bool,
    type(None),
    decimal.Decimal,
    _dt.date,
    _dt.time,
    _dt.timedelta,
    uuid.UUID,
    enum.Enum,
)


def secret_key_kind(key: object) -> str | None:
    """The kind of secret a dict key names (``client_secret`` → ``client_secret``), or None."""
    if not isinstance(key, str):
        return None
    return _key_kind(key)


@functools.lru_cache(maxsize=4096)  # reports repeat the same few keys thousands of times
def _key_kind(key: str) -> str | None:
    norm = re.sub(r"[\s_.\-]", "", key).lower()
    if norm in SECRET_KEYS:
        return SECRET_KEYS[norm]
    return next((kind for suffix, kind in _SECRET_KEY_SUFFIXES if norm.endswith(suffix)), None)


def _value_span(match: re.Match[str]) -> tuple[int, int]:
    for name in ("value", "v1", "v2", "v3", "v4", "v5"):
        if name in match.re.groupindex and match.group(name) is not None:
            return match.span(name)
    return match.span()


def _encodings(secret: str) -> set[str]:
    """A known secret as it may appear in text: raw, URL-encoded, JSON-escaped."""
    return {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]} - {""}


# A "secret" shorter than this is not searched for: replacing every "s" of a report would shred
# it and hide nothing (a real Anypoint client secret has 32 characters).
MIN_KNOWN_SECRET_LENGTH = 6
_MEMO_MAX_LEN = 512  # strings longer than this are scanned every time
_MEMO_SIZE = 4096


class Redactor:
    """Removes known secrets and secret-looking values, and counts what it removed.

    One instance may be shared by threads (the log filter): the running count is locked.
    """

    def __init__(self, known_secrets: Iterable[str | None] = ()) -> None:
        variants: set[str] = set()
        for secret in known_secrets:
            if isinstance(secret, str) and len(secret.strip()) >= MIN_KNOWN_SECRET_LENGTH:
                variants |= _encodings(secret)
        self._known = sorted(variants, key=len, reverse=True)
        self._known_re = (
            re.compile("|".join(re.escape(s) for s in self._known)) if self._known else None
        )
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._span_memo: dict[str, list[tuple[int, int, str]]] = {}

    # -- scanning ---------------------------------------------------------------------------

    def spans(self, text: str) -> list[tuple[int, int, str]]:
        """Non-overlapping ``(start, end, kind)`` of every secret in ``text``, in text order."""
        # Reports repeat the same short strings hundreds of times (outcomes, methods, probe
        # keys, environment ids): scan each distinct one once per redactor.
        # A plain dict, emptied when full: one read and one write are atomic, which is all a
        # memo shared by threads needs (an LRU's bookkeeping and a lock cost more than a scan
        # saves on a report's thousands of strings).
        if len(text) > _MEMO_MAX_LEN:
            return self._scan(text)
        cached = self._span_memo.get(text)
        if cached is None:
            cached = self._scan(text)
            if len(self._span_memo) >= _MEMO_SIZE:
                self._span_memo.clear()
            self._span_memo[text] = cached
        return cached

    def _scan(self, text: str) -> list[tuple[int, int, str]]:
        found: list[tuple[int, int, int, str]] = []  # start, end, priority, kind
        if self._known_re is not None:
            found += [(m.start(), m.end(), 0, KNOWN_SECRET) for m in self._known_re.finditer(text)]
        for priority, pattern in enumerate(PATTERNS, start=1):
            for match in pattern.regex.finditer(text):
                if pattern.accept is None or pattern.accept(match):
                    start, end = _value_span(match)
                    if end > start:
                        found.append((start, end, priority, pattern.kind))
        return _merge(_outside_markers(found, text))

    # -- redacting --------------------------------------------------------------------------

    def redact_text(self, text: str) -> str:
        """``text`` with every secret replaced by ``[REDACTED:<kind>]``."""
        try:
            if not isinstance(text, str):
                raise TypeError(f"expected str, got {type(text).__name__}")
            spans = self.spans(text)
            if not spans:  # most strings hold no secret
                return text
            redacted, kinds, _ = _apply(text, spans)
            self._count(kinds)
            return redacted
        except RedactionError:
            raise
        except Exception as exc:
            raise RedactionError(f"redaction failed: {type(exc).__name__}") from exc

    def redact(self, obj: Any) -> Any:
        """A redacted copy of nested dicts / lists / tuples / sets / strings / bytes."""
        try:
            return self._walk(obj)
        except RedactionError:
            raise
        except Exception as exc:
            raise RedactionError(f"redaction failed: {type(exc).__name__}") from exc

    def _walk(self, obj: Any) -> Any:
        if isinstance(obj, str):
            return self.redact_text(obj)
        if isinstance(obj, _PASSTHROUGH):
            return obj
        if isinstance(obj, Mapping):
            return {self._walk(k): self._walk_item(k, v) for k, v in obj.items()}
        if isinstance(obj, list | tuple | set | frozenset):
            items = [self._walk(item) for item in obj]
            if isinstance(obj, list):
                return items
            return type(obj)(*items) if hasattr(obj, "_fields") else type(obj)(items)
        if isinstance(obj, bytes | bytearray):
            return type(obj)(self.redact_text(bytes(obj).decode("utf-8", "replace")), "utf-8")
        raise RedactionError(f"cannot redact a value of type {type(obj).__name__}")

    def _walk_item(self, key: object, value: Any) -> Any:
        if key == "redactions" and _is_summary(value):
            return {"count": value["count"], "kinds": dict(value["kinds"])}
        kind = secret_key_kind(key)
        if kind is None or isinstance(value, _PASSTHROUGH) or value in ("", b""):
            return self._walk(value)  # None, booleans and numbers are never secrets
        if isinstance(value, str):
            scheme = _SCHEME_PREFIX.match(value) if kind == "authorization_header" else None
            prefix = scheme.group(0) if scheme else ""
            rest = value[len(prefix) :]
            if _MARKER_RE.fullmatch(rest):
                return value
            self._count({kind: 1})
            return f"{prefix}{MARKER_PREFIX}{kind}]"
        self._count({kind: 1})
        return f"{MARKER_PREFIX}{kind}]"

    # -- counting ---------------------------------------------------------------------------

    def _count(self, kinds: Mapping[str, int]) -> None:
        if kinds:
            with self._lock:
                self._counts.update(kinds)

    def summary(self) -> dict[str, Any]:
        """What this redactor removed so far: the report's ``redactions`` object."""
        with self._lock:
            kinds = {k: self._counts[k] for k in sorted(self._counts)}
        return {"count": sum(kinds.values()), "kinds": kinds}

    # -- finding ----------------------------------------------------------------------------

    def find_secrets(self, text: str) -> list[SecretFinding]:
        """Every secret in ``text`` with a safe excerpt (the value itself is never shown)."""
        try:
            spans = self.spans(text)
            redacted, _, markers = _apply(text, spans)
            return [
                SecretFinding(kind, start, end, _excerpt(redacted, marker))
                for (start, end, kind), marker in zip(spans, markers, strict=True)
            ]
        except Exception as exc:
            raise RedactionError(f"secret scan failed: {type(exc).__name__}") from exc


def _outside_markers(
    found: list[tuple[int, int, int, str]], text: str
) -> list[tuple[int, int, int, str]]:
    """Drop candidates touching a ``[REDACTED:…]`` marker: redacting twice changes nothing."""
    markers = [m.span() for m in _MARKER_RE.finditer(text)]
    if not markers:
        return found
    starts = [lo for lo, _ in markers]
    kept = []
    for item in found:
        i = bisect.bisect_left(starts, item[1])  # markers starting before the candidate's end
        if i == 0 or markers[i - 1][1] <= item[0]:
            kept.append(item)
    return kept


def _merge(found: list[tuple[int, int, int, str]]) -> list[tuple[int, int, str]]:
    """Union overlapping spans; a merged span keeps the kind of its highest-priority part."""
    merged: list[list[Any]] = []
    for start, end, priority, kind in sorted(found):
        if merged and start < merged[-1][1]:
            last = merged[-1]
            last[1] = max(last[1], end)
            if priority < last[2]:
                last[2], last[3] = priority, kind
        else:
            merged.append([start, end, priority, kind])
    return [(start, end, kind) for start, end, _, kind in merged]


def _apply(
    text: str, spans: list[tuple[int, int, str]]
) -> tuple[str, Counter[str], list[tuple[int, int]]]:
    """The redacted text, the count per kind, and where each marker landed in the redacted text."""
    parts: list[str] = []
    kinds: Counter[str] = Counter()
    markers: list[tuple[int, int]] = []
    position = length = 0
    for start, end, kind in spans:
        marker = f"{MARKER_PREFIX}{kind}]"
        length += start - position
        parts += [text[position:start], marker]
        markers.append((length, length + len(marker)))
        length += len(marker)
        kinds[kind] += 1
        position = end
    parts.append(text[position:])
    return "".join(parts), kinds, markers


def _excerpt(redacted: str, marker: tuple[int, int]) -> str:
    """The redacted text around one marker, on one line, never cutting another marker in half."""
    lo = max(0, marker[0] - EXCERPT_CONTEXT)
    hi = min(len(redacted), marker[1] + EXCERPT_CONTEXT)
    for other in _MARKER_RE.finditer(redacted, max(0, lo - 64), hi + 64):
        if other.start() < lo < other.end():
            lo = other.start()
        if other.start() < hi < other.end():
            hi = other.end()
    text = " ".join(redacted[lo:hi].split())
    return f"{'…' if lo > 0 else ''}{text}{'…' if hi < len(redacted) else ''}"


def _is_summary(value: Any) -> bool:
    return (
        isinstance(value, Mapping)
        and set(value) == {"count", "kinds"}
        and isinstance(value["count"], int)
        and isinstance(value["kinds"], Mapping)
        and all(isinstance(k, str) and isinstance(n, int) for k, n in value["kinds"].items())
    )


# -- module-level conveniences -----------------------------------------------------------------


def redact_text(text: str, known_secrets: Iterable[str | None] = ()) -> str:
    """``text`` with every secret replaced (a one-off :class:`Redactor`)."""
    return Redactor(known_secrets).redact_text(text)


def redact(obj: Any, known_secrets: Iterable[str | None] = ()) -> Any:
    """A redacted copy of a nested structure (a one-off :class:`Redactor`)."""
    return Redactor(known_secrets).redact(obj)


def find_secrets(text: str, known_secrets: Iterable[str | None] = ()) -> list[SecretFinding]:
    """Every secret in ``text``, with safe excerpts."""
    return Redactor(known_secrets).find_secrets(text)


def merge_summaries(*summaries: Mapping[str, Any] | None) -> dict[str, Any]:
    """Add up ``redactions`` objects."""
    kinds: Counter[str] = Counter()
    for summary in summaries:
        if summary:
            kinds.update({str(k): int(n) for k, n in summary.get("kinds", {}).items()})
    ordered = {k: kinds[k] for k in sorted(kinds)}
    return {"count": sum(ordered.values()), "kinds": ordered}


def redact_report(
    report: Mapping[str, Any],
    known_secrets: Iterable[str | None] = (),
    *,
    redactor: Redactor | None = None,
) -> dict[str, Any]:
    """A redacted copy of a report with ``redactions`` filled in (added to any existing counts).

    ``redactor``: one made with exactly ``known_secrets`` that has already scanned some of the
    report's strings (the engine scans them while the run waits on Anypoint); it must not have
    redacted anything yet, so the counts are this report's.
    """
    redactor = redactor or Redactor(known_secrets)
    body = {k: v for k, v in report.items() if k != "redactions"}
    redacted: dict[str, Any] = redactor.redact(body)
    existing = report.get("redactions")
    redacted["redactions"] = merge_summaries(
        existing if _is_summary(existing) else None, redactor.summary()
    )
    return redacted


# -- logging -----------------------------------------------------------------------------------


class RedactingFilter(logging.Filter):
    """Formats each record's message, then redacts it (and its traceback) before any handler.

    A record that cannot be redacted is dropped: no log line may carry a secret.
    """

    def __init__(self, redactor: Redactor | None = None, name: str = "") -> None:
        super().__init__(name)
        self.redactor = redactor or Redactor()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            self._redact_record(record)
        except Exception:
            return False
        return True

    def _redact_record(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:
            message = f"{record.msg} {record.args!r}"
        record.msg = self.redactor.redact_text(message)
        record.args = ()
        if record.exc_info:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            record.exc_info = None
        if record.exc_text:
            record.exc_text = self.redactor.redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redactor.redact_text(record.stack_info)


def install_log_redaction(
    logger: logging.Logger | None = None, redactor: Redactor | None = None
) -> RedactingFilter:
    """Attach one :class:`RedactingFilter` to ``logger`` (root by default) and its handlers.

    Records propagated from child loggers only meet handler filters, so the handlers are what
    matters; call again after adding handlers. Installing twice adds nothing twice.
    """
    target = logger or logging.getLogger()
    existing = next((f for f in target.filters if isinstance(f, RedactingFilter)), None)
    log_filter = existing or RedactingFilter(redactor)
    for filterer in (target, *target.handlers):
        if not any(isinstance(f, RedactingFilter) for f in filterer.filters):
            filterer.addFilter(log_filter)
    return log_filter


__all__ = [
    "PATTERNS",
    "SECRET_KEYS",
    "Pattern",
    "RedactingFilter",
    "RedactionError",
    "Redactor",
    "SecretFinding",
    "find_secrets",
    "install_log_redaction",
    "merge_summaries",
    "redact",
    "redact_report",
    "redact_text",
    "secret_key_kind",
]
