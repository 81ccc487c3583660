"""Markdown for Jira Service Management: root causes first, consequences folded, plain words."""

from __future__ import annotations

import re
from typing import Any

from diagnostics.render import markdown
from diagnostics.report import Report

OWNER_WORDS = {
    "customer_admin": "The customer's Anypoint / Confluence admin",
    "mulesight_support": "MuleSight support",
    "mulesight_engineering": "MuleSight engineering",
    "mulesoft": "MuleSoft (upstream platform)",
}


def test_verdict_line_first(broken: Report) -> None:
    md = markdown.render(broken)
    assert md.splitlines()[0] == "# MuleSight diagnostics: Broken"
    assert (
        "**Broken: 3 things to fix (7 findings follow from them; 5 failures, 5 warnings)** "
        "Suggested severity: **Sev 2**."
    ) in md


def test_root_causes_come_first_in_the_engine_order(broken: Report) -> None:
    md = markdown.render(broken)
    headings = re.findall(r"^### (\d+)\. (?:FAIL|WARN): (.*)$", md, flags=re.M)
    assert [title for _, title in headings] == [
        "Anypoint Platform is not answering (upstream outage suspected)",
        "Scope read:api_configuration: partly granted",
        "Runtime Manager cache: stale",
    ]
    assert md.index("## What to fix") < md.index("## Dataset coverage") < md.index("## Scopes")
    assert md.index("## Scopes") < md.index("## Macros") < md.index("## Ticket details")
    assert (
        md.index("## Ticket details")
        < md.index("## Suggested severity")
        < md.index("## Redactions")
    )


def test_consequences_are_listed_under_their_root_by_title(broken: Report) -> None:
    md = markdown.render(broken)
    section = md.split("## What to fix")[1].split("## Dataset coverage")[0]
    upstream, scope, cache = re.split(r"^### \d+\. ", section, flags=re.M)[1:]
    assert "- **4 findings follow from it (2 datasets, 1 scope affected):**" in upstream
    assert "  - FAIL: Exchange: none coverage" in upstream
    assert "  - WARN: Exchange: serving the last good cache because the refresh failed" in upstream
    assert "  - FAIL: api-manager-instance (detailed) macro error on page 98304" in scope
    assert "follow" not in cache


def test_each_root_cause_says_why_who_what_once(broken: Report) -> None:
    md = markdown.render(broken)
    for key in broken.data["root_causes"]:
        finding = next(f for f in broken.data["findings"] if f["key"] == key)
        assert markdown.esc(finding["title"]) in md
        assert f"- **Why:** {markdown.esc(finding['detail'])}" in md
        assert md.count(f"- **What to do:** {markdown.esc(finding['remediation'])}") == 1
        assert f"- **Docs:** <{finding['doc_url']}>" in md
    assert "- **Who must act:** MuleSoft (upstream platform)" in md
    assert "- **Who must act:** The customer's Anypoint / Confluence admin" in md
    assert md.count("add the scope `read:api_configuration`") == 1


def test_the_admin_reads_you(broken: Report) -> None:
    md = markdown.render(broken, audience="admin")
    assert "- **Who must act:** You (Anypoint / Confluence admin)" in md
    assert "customer's" not in md


def test_owner_words_without_owner_label(minimal: Report) -> None:
    data = dict(minimal.data)
    findings = [dict(f) for f in data["findings"]]
    for finding, owner in zip(findings, OWNER_WORDS, strict=False):
        finding["owner"] = owner
    data["findings"] = findings
    data["root_causes"] = [f["key"] for f in findings]
    for f in findings:
        f["cause"] = None
    md = markdown.render(Report(data))
    for words in OWNER_WORDS.values():
        assert f"- **Who must act:** {words}" in md
    assert "customer_admin" not in md and "mulesight_engineering" not in md


def test_tables_and_details(broken: Report) -> None:
    md = markdown.render(broken)
    assert "| Dataset | Coverage | Reason | Cache | Last successful fetch | Impact |" in md
    assert "| API Manager (`api_manager`) | partial | refused (401/403) | fresh |" in md
    assert (
        "| Exchange (`exchange`) | no data | Anypoint did not answer | fresh (serving the last "
        "good cache) | 22 Nov 2026 22:00 AEDT |"
    ) in md
    assert "| `read:api_configuration` | partly granted | Production (a9d2f6c1" in md
    assert "| `read:exchange` | could not be checked |" in md
    assert (
        "| 1 | MuleSight API Manager instance | detailed view | [“Payments API catalogue”]"
        "(<https://acme-corp.atlassian.net/wiki/pages/viewpage.action?pageId=98304>) |"
    ) in md
    assert "- API Manager: refused `/apimanager/api/v1/organizations/" in md
    assert "| Dataset type | API Manager |" in md
    assert "Still to add by hand: reproduction steps" in md
    assert "**Sev 2**: Major degradation: Exchange, Endpoints have no coverage" in md
    assert "2 secret values removed before this report was written" in md
    assert "[REDACTED:client_secret]" in md
    assert "auth_blocked" not in md and "auth blocked" not in md


def test_table_cells_cannot_break_the_table(broken: Report) -> None:
    md = markdown.render(broken)
    assert "“Orders API \\| endpoints”" in md
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


def test_an_outage_is_said_once_as_the_root_cause(broken: Report, healthy: Report) -> None:
    md = markdown.render(broken)
    assert md.count("Anypoint Platform is not answering") == 1 + md.count("Follows from “Anypoint")
    assert "Upstream" not in markdown.render(healthy)


def test_healthy(healthy: Report) -> None:
    md = markdown.render(healthy)
    assert "**Healthy: nothing to fix (every check passed)**\n" in md and "Sev 4" not in md
    assert "Nothing: no check failed or warned." in md
    assert "Still seeing errors in a macro?" in md
    assert "No secret value needed removing." in md


def test_without_extra_keys(minimal: Report) -> None:
    md = markdown.render(minimal)
    assert "3 things to fix" in md
    assert "| `api_manager` | partial | refused (401/403) |" in md
    assert "- **3 findings follow from it:**" in md
    assert "None" not in md
