"""Markdown → Jira comment body. (ADF descriptions → plain text is the engine's one converter,
:func:`diagnostics.tickets.adf_to_text`, which reads tickets too.)

Service Management comment bodies (``POST /rest/servicedeskapi/request/{key}/comment``) are plain
strings that Jira shows through its wiki-markup renderer. Rather than a full Markdown → wiki
translation, the body stays readable plain text with a handful of simple mappings (headings, bold,
inline code, code blocks, lists, links, tables); braces and brackets in ordinary text are escaped so
they cannot start a wiki macro or link by accident.
"""

from __future__ import annotations

import re

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
