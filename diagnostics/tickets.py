"""Reading a support ticket: which required details (policy.md) it has, and what must not be in it.

A ticket is JSON — ``{summary, description, ...fields}``, a Jira issue ``{key, fields}``, or a
Service Management webhook ``{"issue": {"key", "fields": {...}}}`` — or plain text. Descriptions
may be Atlassian Document Format (a dict with ``type: doc``); its text is flattened.

Each required detail has one extractor in :data:`DETAILS` (a table, in the order of cli.md). An
extracted value is redacted before it is returned; secrets found anywhere in the ticket are listed
with safe excerpts only (:func:`diagnostics.redaction.find_secrets`) and make the ticket
security-impacting.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from diagnostics.catalogue import DATASETS, MACRO_DATASETS
from diagnostics.errors import TicketError
from diagnostics.redaction import Redactor

DETAIL_KEYS: tuple[str, ...] = (
    "customer_site_url",
    "timestamp",
    "timezone",
    "reproduction_steps",
    "affected_module",
    "organization_context",
    "dataset_type",
    "last_refresh",
    "cache_freshness",
    "diagnostics_coverage",
    "screenshots_or_logs",
)
VALUE_LIMIT = 200

# Jira system fields that say nothing about the problem (the ticket's own dates, people, workflow).
SYSTEM_FIELDS = frozenset(
    {
        "created", "updated", "lastViewed", "statuscategorychangedate", "resolutiondate",
        "duedate", "reporter", "assignee", "creator", "watches", "votes", "project",
        "issuetype", "priority", "status", "statusCategory", "resolution", "workratio",
        "timetracking", "timespent", "timeestimate", "timeoriginalestimate",
        "aggregatetimespent", "aggregatetimeestimate", "aggregatetimeoriginalestimate",
        "aggregateprogress", "progress", "issuelinks", "subtasks", "worklog", "security",
        "self", "id", "expand", "avatarUrls", "attachment", "attachments", "summary",
        "description", "comment",
    }
)  # fmt: skip


# -- the ticket as text ------------------------------------------------------------------------


@dataclass(frozen=True)
class TicketDocument:
    """What a ticket says: ``text`` (the customer's words) and ``everything`` (for secret scans)."""

    key: str | None
    text: str
    everything: str
    attachments: tuple[str, ...] = ()


def parse_ticket_text(text: str) -> Mapping[str, Any] | str:
    """JSON when it looks like JSON (an object), else the plain text itself."""
    stripped = text.strip()
    if not stripped:
        raise TicketError("the ticket is empty")
    if not re.match(r"^(?:\{\s*\"|\[|\{\s*\}$)", stripped):
        return text
    try:
        data = json.loads(stripped)
    except json.JSONDecodeError as exc:
        raise TicketError(f"not valid JSON (line {exc.lineno}, column {exc.colno})") from None
    if not isinstance(data, dict):
        raise TicketError(f"expected a JSON object, got {type(data).__name__}")
    return data


def ticket_document(ticket: Mapping[str, Any] | str) -> TicketDocument:
    """Flatten a ticket of any accepted shape to text."""
    if isinstance(ticket, str):
        try:
            parsed = parse_ticket_text(ticket)
        except TicketError:
            parsed = ticket
        if isinstance(parsed, str):
            return TicketDocument(None, ticket, ticket)
        ticket = parsed
    issue = ticket.get("issue")
    source = issue if isinstance(issue, Mapping) else ticket
    raw_fields = source.get("fields")
    fields = raw_fields if isinstance(raw_fields, Mapping) else source
    names = source.get("names") or ticket.get("names")
    names = names if isinstance(names, Mapping) else {}
    key = source.get("key")
    told = [_text_of(fields.get("summary")), _text_of(fields.get("description"))]
    told += [
        _labelled(str(names.get(name, name)), value)
        for name, value in fields.items()
        if name not in SYSTEM_FIELDS and _text_of(value)
    ]
    told += _comments(fields.get("comment")) + _comments(ticket.get("comment"))
    attachments = _attachment_names(fields.get("attachment") or fields.get("attachments"))
    return TicketDocument(
        str(key) if key else None,
        "\n".join(t for t in told if t),
        "\n".join(_scan_lines(ticket)),
        attachments,
    )


def _labelled(label: str, value: Any) -> str:
    """``label: text``; an object's ``key: value`` lines start on their own line."""
    text = _text_of(value)
    return f"{label}:\n{text}" if "\n" in text else f"{label}: {text}"


def _scan_lines(value: Any, label: str | None = None) -> list[str]:
    """Every key and value of a ticket, one ``key: value`` per line, for the secret scan."""
    head = f"{label}: " if label is not None else ""
    if isinstance(value, Mapping) and value.get("type") == "doc":
        return [f"{head}", *adf_text(value).splitlines()]
    if isinstance(value, Mapping):
        lines = [head.rstrip()] if label is not None else []
        for k, v in value.items():
            lines += _scan_lines(v, str(k))
        return lines
    if isinstance(value, list | tuple):
        return [line for item in value for line in _scan_lines(item, label)]
    return [] if value is None else [f"{head}{value}"]


def _comments(value: Any) -> list[str]:
    items: Any  # a page of comments, or one comment, as the ticket source gave it
    if isinstance(value, Mapping):
        items = value.get("comments") if "comments" in value else [value]
    else:
        items = value if isinstance(value, list) else []
    return [_text_of(c.get("body")) if isinstance(c, Mapping) else _text_of(c) for c in items]


def _attachment_names(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    names = [a.get("filename") or a.get("name") if isinstance(a, Mapping) else a for a in value]
    return tuple(str(n) for n in names if n)


def _text_of(value: Any) -> str:
    """Text of a field value: ADF, select options, users, lists, nested objects."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        if value.get("type") == "doc":
            return adf_text(value).strip()
        for key in ("value", "name", "displayName"):
            if isinstance(value.get(key), str):
                return str(value[key])
        return "\n".join(_labelled(str(k), v) for k, v in value.items() if _text_of(v))
    if isinstance(value, list | tuple):
        return ", ".join(t for t in (_text_of(v) for v in value) if t)
    return str(value)


_ADF_BLOCKS = frozenset(
    {"paragraph", "heading", "blockquote", "panel", "expand", "nestedExpand", "rule", "table",
     "mediaSingle", "mediaGroup", "decisionList", "taskList", "decisionItem", "taskItem"}
)  # fmt: skip


def adf_text(node: Any) -> str:
    """Plain text of an Atlassian Document Format node: lists numbered, code fenced, links kept."""
    if not isinstance(node, Mapping):
        return ""
    kind = node.get("type")
    attrs = node.get("attrs") or {}
    content = node.get("content") or []
    if kind == "text":
        return _adf_marked_text(node)
    if kind == "hardBreak":
        return "\n"
    if kind in ("mention", "emoji", "status"):
        return str(attrs.get("text") or attrs.get("shortName") or "")
    if kind in ("inlineCard", "blockCard", "embedCard"):
        return str(attrs.get("url") or "")
    if kind == "date":
        return _adf_date(attrs.get("timestamp"))
    if kind in ("media", "mediaInline"):
        return f"[media: {attrs.get('alt') or attrs.get('id') or 'attachment'}]"
    if kind == "codeBlock":
        return "```\n" + "".join(adf_text(c) for c in content) + "\n```\n"
    if kind in ("orderedList", "bulletList"):
        return _adf_list(kind, attrs, content)
    if kind == "tableRow":
        return " | ".join(adf_text(c).strip() for c in content) + "\n"
    if kind == "doc":  # a blank line between top-level blocks, as in the editor
        return "\n".join(adf_text(c) for c in content)
    inner = "".join(adf_text(c) for c in content)
    if kind == "expand" and attrs.get("title"):
        inner = f"{attrs['title']}\n{inner}"
    return inner + "\n" if kind in _ADF_BLOCKS else inner


def adf_to_text(document: Any) -> str:
    """The text of a description as a connector reads it: :func:`adf_text` of an ADF value
    without trailing spaces or runs of blank lines; a string passes through; ``None`` → ""."""
    if document is None:
        return ""
    if isinstance(document, str):
        return document
    text = re.sub(r"[ \t]+\n", "\n", adf_text(document))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _adf_marked_text(node: Mapping[str, Any]) -> str:
    text = str(node.get("text") or "")
    for mark in node.get("marks") or []:
        href = (mark.get("attrs") or {}).get("href") if isinstance(mark, Mapping) else None
        if mark.get("type") == "link" and href and href not in text:
            text += f" ({href})"
    return text


def _adf_list(kind: str, attrs: Mapping[str, Any], items: Sequence[Any]) -> str:
    start = int(attrs.get("order") or 1)
    lines = []
    for offset, item in enumerate(items):
        bullet = f"{start + offset}." if kind == "orderedList" else "-"
        lines.append(f"{bullet} {adf_text(item).strip()}")
    return "\n".join(lines) + "\n"


def _adf_date(timestamp: Any) -> str:
    try:
        return datetime.fromtimestamp(int(timestamp) / 1000, UTC).date().isoformat()
    except (TypeError, ValueError, OverflowError, OSError):
        return ""


# -- extractors --------------------------------------------------------------------------------

_I = re.IGNORECASE
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_TIME = r"(?:\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:\s*[ap]\.?m\b\.?)?|\d{1,2}\s*[ap]\.?m\b\.?)"
_OFFSET = r"(?:Z|[+-]\d{2}:?\d{2})"
_DATE = (
    rf"(?:\d{{4}}-\d{{2}}-\d{{2}}|\d{{1,2}}[/.]\d{{1,2}}[/.]\d{{2,4}}"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH},?\s+\d{{4}}|{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}})"
)
_TIMESTAMP = re.compile(
    rf"\b(?:\d{{4}}-\d{{2}}-\d{{2}}[T ]\d{{2}}:\d{{2}}(?::\d{{2}}(?:\.\d+)?)?(?P<offset>{_OFFSET})?"
    rf"|{_DATE},?\s+(?:at\s+)?{_TIME}"
    rf"|{_TIME}\s+(?:on\s+)?(?:\w+day,?\s+)?{_DATE}"
    rf"|(?:today|yesterday)\s+(?:at\s+)?{_TIME})(?![\w:])",
    _I,
)
_ZONE_ABBREVIATIONS = (
    "AEST", "AEDT", "ACST", "ACDT", "AWST", "NZST", "NZDT", "UTC", "GMT", "BST", "CET", "CEST",
    "EET", "EEST", "WET", "WEST", "IST", "JST", "KST", "SGT", "HKT", "PST", "PDT", "MST", "MDT",
    "CST", "CDT", "EST", "EDT", "AKST", "AKDT", "HST",
)  # fmt: skip
_CITY_ZONES = {
    "melbourne": "Australia/Melbourne",
    "sydney": "Australia/Sydney",
    "brisbane": "Australia/Brisbane",
    "adelaide": "Australia/Adelaide",
    "perth": "Australia/Perth",
    "hobart": "Australia/Hobart",
    "darwin": "Australia/Darwin",
    "auckland": "Pacific/Auckland",
    "london": "Europe/London",
    "new york": "America/New_York",
    "singapore": "Asia/Singapore",
}
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_ENV_WORDS = r"production|prod|sandbox|design|development|dev|test|qa|uat|staging"
_MODES = r"detailed|compact|endpoints|security"


def _first(patterns: Sequence[re.Pattern[str]], text: str) -> re.Match[str] | None:
    """The earliest match of any pattern."""
    matches = [m for p in patterns if (m := p.search(text))]
    return min(matches, key=lambda m: m.start(), default=None)


def _site_url(doc: TicketDocument) -> str | None:
    m = re.search(
        r"(?<![\w.-])(?:https?://)?([a-z0-9][a-z0-9-]{0,62})\.atlassian\.net\b", doc.text, _I
    )
    return f"https://{m.group(1).lower()}.atlassian.net" if m else None


def _timestamp(doc: TicketDocument) -> str | None:
    m = _TIMESTAMP.search(doc.text)
    return " ".join(m.group(0).split()) if m else None


_ZONE_PATTERNS = (
    re.compile(r"\b(?:UTC|GMT)\s*[+-]\s*\d{1,2}(?::?\d{2})?\b"),
    re.compile(
        r"\b(?:Africa|America|Antarctica|Asia|Atlantic|Australia|Europe|Indian|Pacific|Etc)"
        r"/[A-Za-z_]+(?:/[A-Za-z_]+)?\b"
    ),
    re.compile(rf"\b(?:{'|'.join(_ZONE_ABBREVIATIONS)})\b"),
    re.compile(rf"\b(?:{'|'.join(_CITY_ZONES)})\s+time\b", _I),
)


def _timezone(doc: TicketDocument) -> str | None:
    for m in _TIMESTAMP.finditer(doc.text):
        if m.group("offset"):
            return "UTC" if m.group("offset").upper() == "Z" else m.group("offset")
    for pattern in _ZONE_PATTERNS:
        for m in pattern.finditer(doc.text):
            zone = _zone_name(m.group(0))
            if zone:
                return zone
    return None


def _zone_name(found: str) -> str | None:
    if found.lower().endswith(" time"):
        return _CITY_ZONES.get(" ".join(found.lower().split()[:-1]))
    if "/" in found:
        try:
            ZoneInfo(found)
        except (ZoneInfoNotFoundError, ValueError):
            return None
    return " ".join(found.split())


_STEPS_HEADING = re.compile(
    r"^[ \t#>*_-]*(?:h\d\.\s*)?(?:steps\s+to\s+reproduce|reproduction\s+steps"
    r"|repro(?:duction)?\s+steps|how\s+to\s+reproduce|to\s+reproduce|steps)\b[ \t*_]*"
    r"(?::[ \t]*(?P<inline>[^\n]*)|[ \t]*$)",
    _I | re.MULTILINE,
)
_LIST_ITEM = re.compile(r"^\s*(?:\d{1,2}[.)]|#|step\s*\d+\s*[:.)-]?|[-*]\s+step\s*\d+:?)\s+\S", _I)
_SECTION_END = re.compile(r"^\s*(?:#{1,6}\s|h\d\.\s|```|\{code|[A-Z][\w /()-]{1,40}:\s*$)")


def _reproduction_steps(doc: TicketDocument) -> str | None:
    lines = doc.text.splitlines()
    for m in _STEPS_HEADING.finditer(doc.text):
        first = doc.text.count("\n", 0, m.start()) + 1
        steps = [m.group("inline").strip()] if (m.group("inline") or "").strip() else []
        steps += _section(lines[first:])
        if steps:
            return _shorten(" / ".join(steps))
    run: list[str] = []
    for line in [*lines, ""]:
        if _LIST_ITEM.match(line):
            run.append(line.strip())
            continue
        if len(run) >= 2:
            return _shorten(" / ".join(run))
        run = []
    return None


def _section(lines: Sequence[str]) -> list[str]:
    """The lines of a section: up to a blank line after content, or the next heading."""
    taken: list[str] = []
    for line in lines:
        if not line.strip():
            if taken:
                break
            continue
        if _SECTION_END.match(line) and not _LIST_ITEM.match(line):
            break
        taken.append(line.strip())
    return taken


@dataclass(frozen=True)
class Module:
    """A MuleSight module a ticket may name: a macro type, the ops dashboard, Rovo."""

    key: str
    label: str
    pattern: re.Pattern[str]
    dataset: str


MODULES: tuple[Module, ...] = (
    Module(
        "exchange-asset",
        "exchange-asset macro",
        re.compile(r"\bexchange[- ]assets?(?:\s+macro)?\b|\bexchange\s+macros?\b", _I),
        "exchange",
    ),
    Module(
        "runtime-manager-app",
        "runtime-manager-app macro",
        re.compile(
            r"\bruntime[- ]manager[- ]app(?:lication)?s?\b|\bruntime\s+manager\s+macros?\b", _I
        ),
        "runtime_manager",
    ),
    Module(
        "api-manager-instance",
        "api-manager-instance macro",
        re.compile(r"\bapi[- ]manager[- ]instances?\b|\bapi\s+manager\s+macros?\b", _I),
        "api_manager",
    ),
    Module(
        "environment-summary",
        "environment-summary macro",
        re.compile(r"\benvironment[- ]summary\b", _I),
        "ops_dashboard",
    ),
    Module(
        "ops-dashboard",
        "ops dashboard",
        re.compile(r"\b(?:ops|operations|mulesight)\s+dashboard\b|\bdashboard\b", _I),
        "ops_dashboard",
    ),
    Module("rovo", "Rovo action", re.compile(r"\brovo\b", _I), "rovo"),
)
_MODE = re.compile(
    rf"\b(?P<a>{_MODES})\s+(?:mode|view)\b|\bmode\s*[:=]?\s*[\"']?(?P<b>{_MODES})\b", _I
)
_TAB = re.compile(
    r"\btab\s*[:=]\s*[\"']?(?P<a>[\w-]+(?: [\w-]+)?)|[\"']?\b(?P<b>(?!the\b|a\b|this\b|that\b|"
    r"new\b|browser\b|each\b|every\b)[\w-]+)[\"']?\s+tab\b",
    _I,
)
_ROVO_ACTION = re.compile(
    r"\brovo\s+(?:action|skill)\s*(?:[:=]|called|named)?\s*(?:[\"'“](?P<a>[^\"'”\n]{1,60})[\"'”]"
    r"|(?<=[:=])\s*(?P<b>[\w-]+))",
    _I,
)


@dataclass(frozen=True)
class ModuleMention:
    """The module a ticket names, with its mode (macros) and a readable label."""

    module: Module
    mode: str | None
    label: str

    @property
    def dataset(self) -> str:
        return MACRO_DATASETS.get((self.module.key, self.mode), self.module.dataset)


def _module(doc: TicketDocument) -> ModuleMention | None:
    """The first module the ticket names, with its mode, tab or action when given."""
    found = [(m.start(), module) for module in MODULES if (m := module.pattern.search(doc.text))]
    if not found:
        return None
    module = min(found, key=lambda pair: pair[0])[1]
    mode, detail = None, ""
    if module.dataset in ("exchange", "api_manager") and (m := _MODE.search(doc.text)):
        mode = (m.group("a") or m.group("b")).lower()
        detail = f", {mode} mode"
    elif module.key == "ops-dashboard" and (m := _TAB.search(doc.text)):
        detail = f", {m.group('a') or m.group('b')} tab"
    elif module.key == "rovo" and (m := _ROVO_ACTION.search(doc.text)):
        detail = f" {(m.group('a') or m.group('b')).strip()!r}"
    return ModuleMention(module, mode, f"{module.label}{detail}")


def _affected_module(doc: TicketDocument) -> str | None:
    found = _module(doc)
    return found.label if found else None


_ORG_PATTERNS = (
    re.compile(
        rf"\b(?:org(?:ani[sz]ation)?|business\s+group)(?:[\s_-]*id)?\s*(?:is\s+)?[:=#]?\s*"
        rf"[\"']?(?P<id>{_UUID})",
        _I,
    ),
    re.compile(rf"\borganizations/(?P<id>{_UUID})", _I),
    re.compile(rf"\borganizationId=(?P<id>{_UUID})", _I),
)
_ENV_PATTERNS = (
    re.compile(r"\benvironments/(?P<id>[\w-]+)", _I),
    re.compile(r"\benv(?:ironment)?(?:[\s_-]*(?:id|name))?s?\s*[:=#]\s*[\"']?(?P<id>[\w-]+)", _I),
    re.compile(rf"\b(?P<id>{_ENV_WORDS})\s+env(?:ironment)?s?\b", _I),
    re.compile(rf"\benv(?:ironment)?\s+[\"']?(?P<id>{_ENV_WORDS}|{_UUID})\b", _I),
    re.compile(r"\b(?P<id>env-[a-z0-9][\w-]*)", _I),
)


def _organization_context(doc: TicketDocument) -> str | None:
    org = _first(_ORG_PATTERNS, doc.text)
    envs: list[str] = []
    for pattern in _ENV_PATTERNS:
        for m in pattern.finditer(doc.text):
            env = m.group("id")
            if env.lower() not in {e.lower() for e in envs}:
                envs.append(env)
    parts = [f"organization {org.group('id').lower()}"] if org else []
    if envs:
        parts.append(f"environment{'s' if len(envs) > 1 else ''} {', '.join(envs)}")
    return "; ".join(parts) or None


def _dataset_alternatives() -> list[tuple[str, str]]:
    pairs = {(d.key, d.key) for d in DATASETS} | {
        (d.key.replace("_", " "), d.key) for d in DATASETS
    }
    pairs |= {(d.name, d.key) for d in DATASETS}
    return sorted(pairs, key=lambda p: -len(p[0]))


_DATASET_BY_NAME = {name.lower(): key for name, key in _dataset_alternatives()}
_ANY_DATASET = "|".join(re.escape(name) for name, _ in _dataset_alternatives())
_DATASET_EXPLICIT = (
    re.compile(rf"\bdata\s*set(?:\s+type)?\s*(?:is\s+)?[:=]?\s*[\"']?(?P<d>{_ANY_DATASET})\b", _I),
    re.compile(rf"\b(?P<d>{_ANY_DATASET})[\"']?\s+(?:data\s*set|data|cache)\b", _I),
    re.compile(
        r"\b(?P<d>runtime_manager|api_manager|api_security_posture|ops_dashboard"
        r"|shared platform context|api security posture)\b",
        _I,
    ),
)
_DATASET_MENTION = re.compile(
    rf"\b(?P<d>{'|'.join(re.escape(d.name) for d in DATASETS if d.key != 'diagnostics')})\b", _I
)


def _dataset_key(match: re.Match[str] | None) -> str | None:
    return _DATASET_BY_NAME.get(" ".join(match.group("d").lower().split())) if match else None


def _dataset_type(doc: TicketDocument) -> str | None:
    return _dataset_key(_first(_DATASET_EXPLICIT, doc.text))


_AGO = r"\d+\s+(?:minutes?|mins?|hours?|hrs?|days?|weeks?|months?)\s+ago"
_REFRESH_VALUE = (
    rf"(?P<v>{_TIMESTAMP.pattern}|{_DATE}|{_AGO}|(?:yesterday|today)(?:\s+at\s+{_TIME})?|never)"
)
_REFRESH_PATTERNS = (
    re.compile(
        r"\blast\s+(?:successful\s+)?(?:data\s+|cache\s+)?(?:refresh(?:ed)?|sync(?:ed|hroni[sz]ed)?"
        r"|updated?|fetch(?:ed)?)\b(?:\s+(?:at|on|was|time|timestamp|date))*\s*[:=-]?\s*"
        + _REFRESH_VALUE,
        _I,
    ),
    re.compile(
        r"\b(?:data|cache|macro)\s+(?:was\s+|were\s+)?(?:last\s+)?(?:refreshed|synced|updated)"
        r"(?:\s+(?:at|on))?\s*" + _REFRESH_VALUE,
        _I,
    ),
)


def _last_refresh(doc: TicketDocument) -> str | None:
    m = _first(_REFRESH_PATTERNS, doc.text)
    return " ".join(m.group("v").split()) if m else None


_FRESHNESS_PATTERNS = (
    re.compile(
        r"\b(?:cache|freshness|cached\s+data)\b[^.\n]{0,30}?\b(?P<v>fresh|stale|expired|never)\b",
        _I,
    ),
    re.compile(r"\b(?P<v>fresh|stale|expired)\s+(?:cache|data)\b", _I),
)


def _cache_freshness(doc: TicketDocument) -> str | None:
    m = _first(_FRESHNESS_PATTERNS, doc.text)
    return m.group("v").lower() if m else None


_COVERAGE_PATTERNS = (
    re.compile(r"\bcoverage\b[^.\n]{0,30}?\b(?P<v>full|partial|none)\b", _I),
    re.compile(r"\b(?P<v>full|partial|no)\s+(?:diagnostics\s+)?coverage\b", _I),
)


def _diagnostics_coverage(doc: TicketDocument) -> str | None:
    m = _first(_COVERAGE_PATTERNS, doc.text)
    if not m:
        return None
    value = m.group("v").lower()
    return "none" if value == "no" else value


_EVIDENCE: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("embedded image", re.compile(r"\[media: |!\S+\.(?:png|jpe?g|gif|webp)(?:\|[^!\n]*)?!", _I)),
    ("code block", re.compile(r"```|\{code(?::[^}]*)?\}|\{noformat\}")),
    (
        "log snippet",
        re.compile(
            r"\b(?:ERROR|WARN|WARNING|INFO|DEBUG|FATAL)\b|Traceback \(most recent call last\)"
            r"|^\s*at [\w.$<>]+\(|\bHTTP/\d(?:\.\d)? \d{3}\b",
            re.MULTILINE,
        ),
    ),
    (
        "screenshot or log mentioned as attached",
        re.compile(
            r"\b(?:screen\s*shots?|screen\s+recordings?|har\s+files?|logs?|log\s+files?)\b"
            r"[^.\n]{0,40}\battached\b|\battached\b[^.\n]{0,40}\b(?:screen\s*shots?|logs?|har)\b",
            _I,
        ),
    ),
)


def _screenshots_or_logs(doc: TicketDocument) -> str | None:
    if doc.attachments:
        n = len(doc.attachments)
        return f"{n} attachment{'s' if n > 1 else ''}: {', '.join(doc.attachments)}"
    return next((label for label, pattern in _EVIDENCE if pattern.search(doc.text)), None)


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= VALUE_LIMIT else text[: VALUE_LIMIT - 1] + "…"


# -- the table ---------------------------------------------------------------------------------

_DATASET_NAMES = ", ".join(d.name for d in DATASETS)


@dataclass(frozen=True)
class Detail:
    """A required ticket detail: how to find it, what to ask the customer when it is missing."""

    key: str
    label: str
    ask: str
    extract: Callable[[TicketDocument], str | None]


DETAILS: tuple[Detail, ...] = (
    Detail(
        "customer_site_url",
        "Customer site URL",
        "Ask for the Confluence site URL, e.g. https://acme.atlassian.net",
        _site_url,
    ),
    Detail(
        "timestamp",
        "Timestamp",
        "Ask when the problem happened: date and time, e.g. 2026-11-23 10:15",
        _timestamp,
    ),
    Detail(
        "timezone",
        "Timezone",
        "Ask which timezone that time is in, e.g. AEDT, UTC or Australia/Melbourne",
        _timezone,
    ),
    Detail(
        "reproduction_steps",
        "Reproduction steps",
        "Ask for the steps to reproduce it, one numbered step per action",
        _reproduction_steps,
    ),
    Detail(
        "affected_module",
        "Affected module",
        "Ask which macro (Exchange asset, Runtime Manager app, API Manager instance or "
        "Environment summary) and which mode, dashboard tab or Rovo action is affected",
        _affected_module,
    ),
    Detail(
        "organization_context",
        "Organization / environment",
        "Ask for the Anypoint organization id and the environment involved, e.g. Production",
        _organization_context,
    ),
    Detail(
        "dataset_type",
        "Dataset type",
        f"Ask which MuleSight dataset is affected: {_DATASET_NAMES}",
        _dataset_type,
    ),
    Detail(
        "last_refresh",
        "Last refresh",
        "Ask when the data last refreshed successfully (date and time)",
        _last_refresh,
    ),
    Detail(
        "cache_freshness",
        "Cache freshness",
        "Ask whether the cached data shows as fresh, stale, expired or never loaded",
        _cache_freshness,
    ),
    Detail(
        "diagnostics_coverage",
        "Diagnostics coverage",
        "Ask for the diagnostics coverage of that dataset (full, partial or none): run MuleSight "
        "diagnostics and attach the report",
        _diagnostics_coverage,
    ),
    Detail(
        "screenshots_or_logs",
        "Screenshots or logs",
        "Ask for a screenshot or a log snippet, with passwords, secrets and tokens removed",
        _screenshots_or_logs,
    ),
)
DETAILS_BY_KEY: Mapping[str, Detail] = {d.key: d for d in DETAILS}
SENSITIVE_ADVICE = (
    "Remove it from the ticket; treat as a security incident: escalate to the security owner. "
    "Ask the customer to rotate the exposed credential."
)


# -- reading -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TicketReading:
    """What a ticket has and lacks. Values and excerpts are redacted."""

    key: str | None
    present: dict[str, str]
    missing: list[str]
    sensitive: list[dict[str, str]] = field(default_factory=list)
    suggested_dataset: str | None = None
    suggested_module: str | None = None

    @property
    def security_impacting(self) -> bool:
        return bool(self.sensitive)

    @property
    def status(self) -> str:
        """``sensitive`` (takes precedence), ``missing`` or ``complete``."""
        if self.sensitive:
            return "sensitive"
        return "missing" if self.missing else "complete"

    def to_dict(self) -> dict[str, Any]:
        return {
            "ticket_key": self.key,
            "present": dict(self.present),
            "missing": list(self.missing),
            "sensitive": [dict(s) for s in self.sensitive],
            "suggested_dataset": self.suggested_dataset,
            "suggested_module": self.suggested_module,
            "security_impacting": self.security_impacting,
        }


def read_ticket(ticket: Mapping[str, Any] | str) -> TicketReading:
    """Which required details a ticket has, which are missing, and any secret it carries."""
    doc = ticket_document(ticket)
    redactor = Redactor()
    values = {d.key: d.extract(doc) for d in DETAILS}
    present = {k: redactor.redact_text(v) for k, v in values.items() if v}
    findings = Redactor().find_secrets(doc.everything)
    sensitive: list[dict[str, str]] = []
    for finding in findings:
        item = finding.to_dict()
        if item not in sensitive:
            sensitive.append(item)
    module = _module(doc)
    mentioned = _dataset_key(_DATASET_MENTION.search(doc.text))
    return TicketReading(
        key=doc.key,
        present=present,
        missing=[k for k in DETAIL_KEYS if k not in present],
        sensitive=sensitive,
        suggested_dataset=values["dataset_type"] or (module.dataset if module else mentioned),
        suggested_module=module.module.key if module else None,
    )


def render_reading_text(reading: TicketReading) -> str:
    """The ``text`` format of ``mulesight ticket check``: one line per detail, then warnings."""
    name = f"Ticket {reading.key}" if reading.key else "Ticket"
    lines = [f"{name}: {len(reading.present)} of {len(DETAILS)} required details present", ""]
    width = max(len(d.label) for d in DETAILS)
    for detail in DETAILS:
        if detail.key in reading.present:
            lines.append(f"✓ {detail.label:<{width}}  {reading.present[detail.key]}")
        else:
            lines.append(f"✗ {detail.label:<{width}}  {detail.ask}")
    lines += [
        "",
        f"Suggested dataset: {reading.suggested_dataset or '-'}",
        f"Suggested module:  {reading.suggested_module or '-'}",
    ]
    if reading.sensitive:
        lines += ["", f"WARNING: sensitive data found ({len(reading.sensitive)})"]
        lines += [f"  - {s['kind']}: {s['excerpt']}" for s in reading.sensitive]
        lines.append(f"  {SENSITIVE_ADVICE}")
    return "\n".join(lines)


__all__ = [
    "DETAILS",
    "DETAILS_BY_KEY",
    "DETAIL_KEYS",
    "MODULES",
    "Detail",
    "Module",
    "ModuleMention",
    "TicketDocument",
    "TicketReading",
    "adf_text",
    "adf_to_text",
    "parse_ticket_text",
    "read_ticket",
    "render_reading_text",
    "ticket_document",
]
