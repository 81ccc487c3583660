"""Text conversions for Jira: Markdown → comment body, and ADF descriptions → plain text.

Service Management comment bodies (``POST /rest/servicedeskapi/request/{key}/comment``) are plain
strings that Jira shows through its wiki-markup renderer. Rather than a full Markdown → wiki
translation, the body stays readable plain text with a handful of simple mappings (headings, bold,
inline code, code blocks, lists, links, tables); braces and brackets in ordinary text are escaped so
they cannot start a wiki macro or link by accident.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)(?:\s+#+)?\s*$")
_RULE = re.compile(r"^\s*([-*_])(?:\s*\1){2,}\s*$")
_ITEM = re.compile(r"^(\s*)(?:([-*+])|\d+[.)])\s+(.*)$")
_TABLE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-+:?\s*(?:\|\s*:?-+:?\s*)*\|?\s*$")
_INLINE = re.compile(
    r"`([^`]+)`"  # code span
    r"|\[([^\]]+)\]\(([^)\s]+)\)"  # link
    r"|\*\*(.+?)\*\*|__(.+?)__"  # bold
    r"|([{}\[\]])"  # characters that would start wiki markup
)


def markdown_to_jira(markdown: str) -> str:
    """The comment body for a Markdown text (see the module docstring for the mapping)."""
    lines = markdown.replace("\r\n", "\n").split("\n")
    out: list[str] = []
    indents: list[int] = []  # indentation of the open list levels
    in_code = False
    for index, line in enumerate(lines):
        if _FENCE.match(line):
            out.append("{noformat}")
            in_code = not in_code
            continue
        if in_code:
            out.append(line)
            continue
        item = _ITEM.match(line)
        if item is None or _RULE.match(line):
            indents.clear()
        if _RULE.match(line):
            out.append("----")
        elif heading := _HEADING.match(line):
            out.append(f"h{len(heading.group(1))}. {_inline(heading.group(2))}")
        elif item is not None:
            depth = _list_depth(indents, len(item.group(1).expandtabs(4)))
            out.append(("*" if item.group(2) else "#") * depth + " " + _inline(item.group(3)))
        elif line.lstrip().startswith("|"):
            if _TABLE_SEPARATOR.match(line):
                continue
            following = lines[index + 1] if index + 1 < len(lines) else ""
            out.append(_table_row(line, header=bool(_TABLE_SEPARATOR.match(following))))
        else:
            out.append(_inline(line))
    if in_code:
        out.append("{noformat}")
    return "\n".join(out)


def _list_depth(indents: list[int], indent: int) -> int:
    while indents and indent < indents[-1]:
        indents.pop()
    if not indents or indent > indents[-1]:
        indents.append(indent)
    return len(indents)


def _table_row(line: str, *, header: bool) -> str:
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    bar = "||" if header else "|"
    return bar + bar.join(_inline(c) or " " for c in cells) + bar


def _inline(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        code, link_text, url, bold, bold2, special = match.groups()
        if code is not None:
            return "{{" + code + "}}"
        if link_text is not None:
            return f"[{_inline(link_text)}|{url}]"
        if bold is not None or bold2 is not None:
            return f"*{_inline(bold or bold2)}*"
        return "\\" + special

    return _INLINE.sub(replace, text)


# --- ADF (Jira platform API v3 rich text) → plain text ---------------------------------------

_BLOCK_NODES = frozenset(
    {
        "paragraph",
        "heading",
        "codeBlock",
        "blockquote",
        "listItem",
        "tableRow",
        "rule",
        "panel",
        "mediaSingle",
        "mediaGroup",
        "expand",
        "nestedExpand",
        "decisionItem",
        "taskItem",
        "blockCard",
    }
)


def adf_to_text(document: Any) -> str:
    """Plain text of an Atlassian Document Format value (a string passes through; None → "")."""
    if document is None:
        return ""
    if isinstance(document, str):
        return document
    parts: list[str] = []
    _walk(document, parts)
    text = re.sub(r"[ \t]+\n", "\n", "".join(parts))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _walk(node: Any, parts: list[str]) -> None:
    if not isinstance(node, Mapping):
        return
    kind = node.get("type")
    raw_attrs = node.get("attrs")
    attrs = raw_attrs if isinstance(raw_attrs, Mapping) else {}
    if kind == "text":
        parts.append(str(node.get("text", "")))
    elif kind == "hardBreak":
        parts.append("\n")
    elif kind in ("mention", "emoji", "status"):
        parts.append(str(attrs.get("text") or attrs.get("shortName") or ""))
    elif kind in ("inlineCard", "blockCard", "embedCard") and attrs.get("url"):
        parts.append(str(attrs["url"]))
    elif kind == "listItem":
        parts.append("- ")
    elif kind == "tableRow":
        parts.append(" | ".join(_cell_text(cell) for cell in node.get("content") or ()))
    if kind != "tableRow":
        for child in node.get("content") or ():
            _walk(child, parts)
    if kind in _BLOCK_NODES:
        parts.append("\n")


def _cell_text(cell: Any) -> str:
    parts: list[str] = []
    _walk(cell, parts)
    return " ".join("".join(parts).split())
