"""The HTML page: self-contained, accessible, escaped, root causes first."""

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
    pages = {
        f"{broken.data['site_url']}/pages/viewpage.action?pageId={m['page_id']}"
        for m in broken.data["macros"]
    }
    allowed = {f["doc_url"] for f in broken.data["findings"]} | pages | {broken.data["site_url"]}
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
        "What to fix",
        "Datasets",
        "Required scopes",
        "Macros",
        "Checks",
        "Ticket details",
        "Suggested severity",
        "Redactions",
    ]
    ths = [attrs for tag, attrs in page.tags if tag == "th"]
    assert ths and all(attrs.get("scope") in ("col", "row") for attrs in ths)


def test_root_causes_first_and_consequences_folded(broken: Report) -> None:
    source = html.render(broken)
    assert (
        source.index('id="verdict"') < source.index('id="findings"') < source.index('id="datasets"')
    )
    text = Page(source).text
    for finding in broken.data["findings"]:
        assert " ".join(finding["detail"].replace("`", "").split()) in text
        assert finding["title"] in text
    for key in broken.data["root_causes"]:
        root = next(f for f in broken.data["findings"] if f["key"] == key)
        assert text.count(" ".join(root["remediation"].replace("`", "").split())) == 1
    assert "<code>read:api_configuration</code>" in source
    heading = r'<h3 id="cause-(\d+)-h"><span class="badge (?:bad|warn)">.*?</span> (\w+)</span>'
    assert re.findall(heading, source) == [("1", "FAIL"), ("2", "WARN"), ("3", "WARN")]
    folded = source.split('id="cause-1"')[1].split('id="cause-2"')[0]
    assert '<details class="consequences">' in folded
    assert "<summary>4 findings follow from it (2 datasets, 1 scope affected)</summary>" in folded
    assert 'data-key="scope.unverified:read:exchange"' in folded


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
        ("!", "partial") in badges
        and ("✓", "fresh") in badges
        and ("–", "not rendered yet") in badges
    )


def test_report_text_is_escaped(broken_data: dict[str, Any]) -> None:
    broken_data["findings"][0]["title"] = "<script>alert('x')</script>"
    broken_data["findings"][1]["remediation"] = "Run `<b>bold</b>` & check"
    broken_data["findings"][5]["doc_url"] = "javascript:alert(1)"
    source = html.render(Report(broken_data))
    assert "<script" not in source
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in source
    assert "<code>&lt;b&gt;bold&lt;/b&gt;</code> &amp; check" in source
    assert 'href="javascript' not in source
    assert "javascript:alert(1)" in Page(source).text


def test_healthy_and_minimal(healthy: Report, minimal: Report) -> None:
    healthy_page = Page(html.render(healthy)).text
    assert "✓ Healthy nothing to fix (every check passed)" in healthy_page
    assert "No check failed or warned." in healthy_page
    assert "Still seeing errors in a macro?" in healthy_page
    assert "Upstream" not in healthy_page
    minimal_page = Page(html.render(minimal)).text
    assert "The customer's Anypoint / Confluence admin" in minimal_page
    admin_page = Page(html.render(minimal, audience="admin")).text
    assert "You (Anypoint / Confluence admin)" in admin_page
    assert "None" not in minimal_page
