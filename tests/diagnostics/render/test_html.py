"""The HTML page: self-contained, accessible, escaped, findings first."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

from diagnostics.render import html
from diagnostics.report import Report

BADGE = re.compile(
    r'<span class="badge[^"]*"><span class="sym" aria-hidden="true">(.)</span> ([^<]*)</span>'
)


class Page(HTMLParser):
    """Tags with their attributes, and the visible text."""

    def __init__(self, source: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.chunks: list[str] = []
        self._in_style = False
        self.feed(source)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if not self._in_style:
            self.chunks.append(data)

    @property
    def text(self) -> str:
        return " ".join("".join(self.chunks).split())


def test_self_contained(broken: Report) -> None:
    source = html.render(broken)
    page = Page(source)
    names = {tag for tag, _ in page.tags}
    assert not names & {
        "script",
        "link",
        "img",
        "iframe",
        "object",
        "embed",
        "source",
        "video",
        "audio",
    }
    allowed = {f["doc_url"] for f in broken.data["findings"]} | {
        broken.data["site_url"],
        broken.data["upstream"]["status_page"],
    }
    for tag, attrs in page.tags:
        for name, value in attrs.items():
            if value and re.match(r"\s*(https?:)?//", value):
                assert tag == "a" and name == "href", (tag, name, value)
                assert value in allowed
    style = source[source.index("<style>") : source.index("</style>")]
    assert "url(" not in style and "@import" not in style and "@font-face" not in style


def test_document_structure(broken: Report) -> None:
    source = html.render(broken)
    page = Page(source)
    assert source.startswith("<!DOCTYPE html>")
    assert ("html", {"lang": "en"}) in page.tags
    assert ("meta", {"charset": "utf-8"}) in page.tags
    assert (
        "meta",
        {"name": "viewport", "content": "width=device-width, initial-scale=1"},
    ) in page.tags
    assert [t for t, _ in page.tags].count("h1") == 1
    headings = re.findall(r"<h2 id=\"[a-z]+-h\">([^<(]+)", source)
    assert [h.strip() for h in headings] == [
        "What is wrong",
        "Dataset coverage",
        "Scopes",
        "Macros",
        "Checks",
        "Ticket details",
        "Suggested severity",
        "Redactions",
    ]
    ths = [attrs for tag, attrs in page.tags if tag == "th"]
    assert ths and all(attrs.get("scope") in ("col", "row") for attrs in ths)


def test_findings_first_with_every_remediation(broken: Report) -> None:
    source = html.render(broken)
    assert source.index('id="findings"') < source.index('id="datasets"')
    text = Page(source).text
    for finding in broken.data["findings"]:
        assert " ".join(finding["remediation"].replace("`", "").split()) in text
        assert " ".join(finding["detail"].replace("`", "").split()) in text
        assert finding["title"] in text
    assert "<code>read:api_configuration</code>" in source
    heading = r'<h3 id="finding-\d+-h"><span class="badge (?:bad|warn)">.*?</span> (\w+)</span>'
    words = re.findall(heading, source)
    assert words == ["FAIL"] * 5 + ["WARN"] * 5
    assert '<a href="#finding-6">Finding 6</a>' in source


def test_every_badge_has_a_symbol_and_a_word(broken: Report) -> None:
    source = html.render(broken)
    badges = BADGE.findall(source)
    assert len(badges) == source.count('class="badge')
    assert len(badges) > 40
    for symbol, word in badges:
        assert symbol in "✓!✗–"
        assert re.fullmatch(r"[A-Za-z][A-Za-z ]*", word.strip()), word
    assert ("✗", "Broken") in badges
    assert (
        ("!", "partial") in badges and ("✓", "fresh") in badges and ("–", "not rendered") in badges
    )


def test_report_text_is_escaped(broken_data: dict[str, Any]) -> None:
    broken_data["findings"][0]["title"] = "<script>alert('x')</script>"
    broken_data["findings"][1]["remediation"] = "Run `<b>bold</b>` & check"
    broken_data["findings"][2]["doc_url"] = "javascript:alert(1)"
    source = html.render(Report(broken_data))
    assert "<script" not in source
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in source
    assert "<code>&lt;b&gt;bold&lt;/b&gt;</code> &amp; check" in source
    assert 'href="javascript' not in source
    assert "javascript:alert(1)" in Page(source).text


def test_healthy_and_minimal(healthy: Report, minimal: Report) -> None:
    healthy_page = Page(html.render(healthy)).text
    assert "Verdict: ✓ Healthy — 0 failures, 0 warnings" in healthy_page
    assert "No check failed or warned." in healthy_page
    assert "Upstream" not in healthy_page
    minimal_page = Page(html.render(minimal)).text
    assert "Your Anypoint / Confluence administrator" in minimal_page
    assert "None" not in minimal_page
