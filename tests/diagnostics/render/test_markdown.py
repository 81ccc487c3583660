"""Markdown for Jira Service Management: findings first, worst first, in plain words."""

from __future__ import annotations

import re
from typing import Any

from diagnostics.render import markdown
from diagnostics.report import Report

OWNER_WORDS = {
    "customer_admin": "Your Anypoint / Confluence administrator",
    "mulesight_support": "MuleSight support",
    "mulesight_engineering": "MuleSight engineering",
    "mulesoft": "MuleSoft (upstream platform)",
}


def test_verdict_line_first(broken: Report) -> None:
    md = markdown.render(broken)
    assert md.splitlines()[0] == "# MuleSight diagnostics: BROKEN"
    assert "**Verdict: BROKEN** — 5 failures, 5 warnings. Suggested severity: **Sev 2**." in md


def test_findings_come_first_worst_first(broken: Report) -> None:
    md = markdown.render(broken)
    headings = re.findall(r"^### \d+\. (FAIL|WARN): ", md, flags=re.M)
    assert headings == ["FAIL"] * 5 + ["WARN"] * 5
    assert md.index("## What is wrong") < md.index("## Dataset coverage") < md.index("## Scopes")
    assert md.index("## Scopes") < md.index("## Macros") < md.index("## Ticket details")
    assert (
        md.index("## Ticket details")
        < md.index("## Suggested severity")
        < md.index("## Redactions")
    )


def test_worst_first_even_when_the_report_is_not_sorted(broken_data: dict[str, Any]) -> None:
    broken_data["findings"].reverse()
    md = markdown.render(Report(broken_data))
    assert re.findall(r"^### \d+\. (FAIL|WARN): ", md, flags=re.M) == ["FAIL"] * 5 + ["WARN"] * 5


def test_each_finding_says_why_who_what_and_where_to_read(broken: Report) -> None:
    md = markdown.render(broken)
    for finding in broken.data["findings"]:
        assert markdown.esc(finding["title"]) in md
        assert f"- **Why:** {markdown.esc(finding['detail'])}" in md
        assert f"- **What to do:** {markdown.esc(finding['remediation'])}" in md
        assert f"- **Docs:** <{finding['doc_url']}>" in md
    assert "- **Who must act:** MuleSoft (upstream platform)" in md
    assert "- **Who must act:** Your Anypoint / Confluence administrator" in md
    assert "- **Caused by:** finding 6 (Scope read:api_configuration: partly granted)" in md


def test_owner_words_without_owner_label(minimal: Report) -> None:
    data = dict(minimal.data)
    findings = [dict(f) for f in data["findings"]]
    for finding, owner in zip(findings, OWNER_WORDS, strict=False):
        finding["owner"] = owner
    data["findings"] = findings
    md = markdown.render(Report(data))
    for words in OWNER_WORDS.values():
        assert f"- **Who must act:** {words}" in md
    assert "customer_admin" not in md and "mulesight_engineering" not in md


def test_tables_and_details(broken: Report) -> None:
    md = markdown.render(broken)
    assert "| Dataset | Coverage | Reason | Cache | Last successful fetch | Impact |" in md
    assert "| API Manager (`api_manager`) | partial | auth blocked | fresh |" in md
    assert (
        "| Exchange (`exchange`) | none | unreachable | fresh (serving the last good cache) |" in md
    )
    assert "| `read:api_configuration` | partial | Production (a9d2f6c1" in md
    assert "| 1 | `api-manager-instance` | detailed | 98304 “Payments API catalogue” |" in md
    assert "- API Manager: refused `/apimanager/api/v1/organizations/" in md
    assert "| Dataset type | api_manager |" in md
    assert "Still to add by hand: reproduction steps" in md
    assert "**Sev 2**: Major degradation: Exchange, Endpoints have no coverage" in md
    assert "2 secret values removed before this report was written" in md
    assert "[REDACTED:client_secret]" in md


def test_table_cells_cannot_break_the_table(broken: Report) -> None:
    md = markdown.render(broken)
    assert "98320 “Orders API \\| endpoints”" in md
    for line in md.splitlines():
        if line.startswith("| 3 | `exchange-asset`"):
            assert line.replace("\\|", "").count("|") == 9


def test_no_emoji_and_no_raw_html(broken_data: dict[str, Any]) -> None:
    broken_data["findings"][0]["title"] = (
        "<script>alert(1)</script> ![pixel](https://evil.example/p.png)"
    )
    broken_data["findings"][0]["doc_url"] = "javascript:alert(1)"
    md = markdown.render(Report(broken_data))
    assert "<script>" not in md
    assert "\\<script\\>" in md
    assert "](https://evil.example" not in md
    assert "](javascript" not in md and "<javascript" not in md
    assert not [ch for ch in md if ord(ch) >= 0x1F000 or 0x2600 <= ord(ch) <= 0x27BF]


def test_upstream_notice(broken: Report, healthy: Report) -> None:
    notice = (
        "> **Upstream outage suspected on the us control plane: check https://status.mulesoft.com"
    )
    assert notice in markdown.render(broken)
    assert "Upstream" not in markdown.render(healthy)


def test_healthy(healthy: Report) -> None:
    md = markdown.render(healthy)
    assert "**Verdict: HEALTHY** — 0 failures, 0 warnings. Suggested severity: **Sev 4**." in md
    assert "Nothing: no check failed or warned." in md
    assert "No secret value needed removing." in md


def test_without_extra_keys(minimal: Report) -> None:
    md = markdown.render(minimal)
    assert "5 failures, 5 warnings" in md
    assert "| `api_manager` | partial | auth blocked |" in md
    assert "- **Affects:** datasets `api_manager`; scopes `read:api_configuration`" in md
    assert "None" not in md
