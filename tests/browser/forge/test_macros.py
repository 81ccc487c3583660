"""The four macros in every mode: readable, 760 px wide, and posting their true render status."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from app.models import DatasetSnapshot, Space
from tests.browser import requires_chromium
from tests.browser.forge.conftest import Forge, axe_violations

pytestmark = [pytest.mark.browser, pytest.mark.node, requires_chromium]
sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

MACRO_WIDTH = 760
ORDERS = "6f1c0d7e-0b1a-4c55-9d1e-2a7f0c9b1a11/orders-system-api"
RAW = re.compile(r"_kind|last_attempt_at|environment_id|\d{4}-\d\d-\d\dT\d\d:\d\d|\.\d{6}")
PEOPLES_TIME = re.compile(r"\b\d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d AE[DS]T\b")


def macro_context(module_key: str, space_key: str, page_id: str, **config: str) -> dict[str, Any]:
    return {
        "moduleKey": module_key,
        "extension": {
            "type": "macro",
            "config": config,
            "space": {"key": space_key},
            "content": {"id": page_id, "type": "page"},
        },
    }


def render(page: Any, forge: Forge, context: dict[str, Any]) -> str:
    """Open the macro, wait for its render status and return it."""
    page.set_viewport_size({"width": MACRO_WIDTH, "height": 900})
    forge.open(page, "macro", context)
    expect(page.locator("body[data-render-status]")).to_be_attached()
    return page.locator("body").get_attribute("data-render-status")


def posted_renders(forge: Forge) -> list[dict[str, Any]]:
    return [
        event
        for call in forge.remote_calls
        if call["path"] == "/forge/v1/renders"
        for event in call["body"]["events"]
    ]


CASES = [
    (
        "exchange-asset",
        {"mode": "detailed", "target": ORDERS},
        ["Orders System API", "Latest version", "1.1.3"],
    ),
    (
        "exchange-asset",
        {"mode": "compact", "target": ORDERS},
        ["Orders System API", "1.1.3", "REST API"],
    ),
    (
        "exchange-asset",
        {"mode": "endpoints", "target": ORDERS},
        ["GET", "/orders/{orderId}", "Get one order"],
    ),
    (
        "runtime-manager-app",
        {"mode": "detailed", "target": "sparrow-logi-returns-prod"},
        ["Mule runtime", "4.6.2", "CloudHub 1.0", "Started"],
    ),
    (
        "runtime-manager-app",
        {"mode": "compact", "target": "fleet-system-app"},
        ["fleet-system-app", "Running", "Production"],
    ),
    (
        "api-manager-instance",
        {"mode": "detailed", "target": "19909723"},
        ["Orders System API", "Endpoint", "Production", "Active"],
    ),
    (
        "api-manager-instance",
        {"mode": "compact", "target": "19909723"},
        ["Orders System API", "Production"],
    ),
    (
        "api-manager-instance",
        {"mode": "security", "target": "19909723"},
        ["Policies (2)", "ip-allowlist", "Gold", "orders-client"],
    ),
    ("environment-summary", {"mode": "detailed"}, ["Production", "Sandbox", "API instances"]),
    ("environment-summary", {"mode": "compact"}, ["Production", "API instance"]),
]


@pytest.fixture(scope="module")
def healthy_space(forge_backend: Any, forge_static: Any) -> str:
    host = Forge(
        backend_url=forge_backend.base_url,
        mint=forge_backend.mint,
        site_url="",
        now=forge_backend.now,
    )
    host.connect("DOCS", "healthy")
    return "DOCS"


@pytest.mark.parametrize(
    ("module_key", "config", "words"),
    CASES,
    ids=lambda c: str(c)[:40] if isinstance(c, str) else None,
)
def test_each_kind_and_mode_reads_well_in_760_px(
    page: Any,
    forge: Forge,
    healthy_space: str,
    module_key: str,
    config: dict,
    words: list[str],
    shot: Any,
) -> None:
    status = render(page, forge, macro_context(module_key, healthy_space, "5001", **config))
    text = page.locator("#root").inner_text()
    assert status == "ok", text
    for word in words:
        assert word in text, f"{word!r} not shown in {text!r}"
    assert not RAW.search(text), f"raw field names or machine times: {RAW.search(text)}"
    assert PEOPLES_TIME.search(text), "no time in the reader's zone to the minute"
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= MACRO_WIDTH, f"{width} px wide"
    [event] = posted_renders(forge)
    assert (
        event["status"] == "ok" and event["macro"] == module_key and event["mode"] == config["mode"]
    )
    shot(page, f"{module_key}-{config['mode']}")
    assert axe_violations(page) == []


def test_detailed_and_compact_differ(page: Any, forge: Forge, healthy_space: str) -> None:
    render(
        page,
        forge,
        macro_context(
            "api-manager-instance", healthy_space, "5002", mode="detailed", target="19909723"
        ),
    )
    detailed = page.locator("#root").inner_text()
    page = page.context.new_page()
    render(
        page,
        forge,
        macro_context(
            "api-manager-instance", healthy_space, "5002", mode="compact", target="19909723"
        ),
    )
    compact = page.locator("#root").inner_text()
    assert len(compact) < len(detailed) / 2


def test_an_unconfigured_macro_says_so_and_posts_an_error(
    page: Any, forge: Forge, healthy_space: str
) -> None:
    status = render(page, forge, macro_context("runtime-manager-app", healthy_space, "5003"))
    assert status == "error"
    expect(page.locator("#root")).to_contain_text("edit this macro to choose which application")
    [event] = posted_renders(forge)
    assert event["status"] == "error" and "not configured" in event["error"]


def test_an_unknown_target_is_an_error_naming_it(
    page: Any, forge: Forge, healthy_space: str
) -> None:
    status = render(
        page,
        forge,
        macro_context(
            "runtime-manager-app", healthy_space, "5004", mode="compact", target="no-such-app"
        ),
    )
    assert status == "error"
    problem = page.locator(".problem")
    expect(problem).to_contain_text("Application no-such-app is not in the Runtime Manager data.")
    expect(
        problem.get_by_role("link", name="Open the space’s MuleSight diagnostics")
    ).to_be_visible()


def test_macro_failure_reaches_the_next_diagnostics_run(page: Any, forge: Forge, shot: Any) -> None:
    """The customer's view: an API Manager macro on Production where the scope is granted on
    Sandbox only. The macro says why and posts `error`; the diagnostics run right after shows the
    macro failure and its cause."""
    forge.connect("PAY", "api-manager-sandbox-only")
    status = render(
        page,
        forge,
        macro_context(
            "api-manager-instance",
            "PAY",
            "7001",
            mode="detailed",
            environment="Production",
            target="19909723",
        ),
    )
    assert status == "error"
    problem = page.locator(".problem")
    expect(problem).to_contain_text(
        "MuleSight has no API Manager data for Production: Anypoint refused access (HTTP 403; "
        "the connected app lacks a scope there) at the last refresh"
    )
    sentence = problem.locator("p").first.inner_text()
    assert sentence.count(". ") == 0 and sentence.endswith(".")  # one sentence
    link = problem.get_by_role("link", name="Open the space’s MuleSight diagnostics")
    href = link.get_attribute("href")
    assert href.startswith(
        "https://sparrow-logistics.atlassian.net/wiki/spaces/PAY/apps/"
    ) and href.endswith("/mulesight")
    [event] = posted_renders(forge)
    assert event["status"] == "error" and "Anypoint refused access" in event["error"]
    shot(page, "macro-error")
    link.click()
    navigations = page.evaluate("window.__forge.calls.filter(c => c.cmd === 'navigate')")
    assert navigations and navigations[0]["payload"]["url"] == href

    dashboard = page.context.new_page()
    forge.open(
        dashboard,
        "space-page",
        {"moduleKey": "mulesight-dashboard", "extension": {"space": {"key": "PAY"}}},
    )
    dashboard.get_by_role("button", name="Run diagnostics").click()
    expect(dashboard.locator("#run-progress")).to_have_text("Diagnostics finished.")
    report = dashboard.locator("#current-run")
    expect(report.locator("ol.causes")).to_contain_text("read:api_configuration")
    macros = report.locator("table.macros")
    row = macros.locator("tr", has_text="Page 7001")
    expect(row).to_contain_text("Failed")
    expect(row).to_contain_text("23 Nov 2026")  # the page's clock is the backend's
    expect(row).to_contain_text("Anypoint refused access")
    # The macro failure is folded under its root cause, the missing scope.
    cause = report.locator("li.cause", has_text="read:api_configuration").first
    cause.locator("summary").click()
    expect(cause.locator("details")).to_contain_text(
        re.compile(r"API Manager instance macro \(detailed view\) fails on the page with id 7001")
    )
    shot(dashboard, "macro-failure-in-diagnostics")


def test_a_backend_that_does_not_answer_in_time_is_a_timeout(
    page: Any, forge: Forge, healthy_space: str
) -> None:
    forge.forge_errors = {("GET", "/forge/v1/datasets/"): "The remote invocation timed out."}
    status = render(
        page,
        forge,
        macro_context("exchange-asset", healthy_space, "5005", mode="compact", target=ORDERS),
    )
    assert status == "timeout"
    expect(page.locator(".problem")).to_contain_text("did not answer in time")
    [event] = posted_renders(forge)
    assert event["status"] == "timeout" and "did not answer in time" in event["error"]


def test_old_data_is_shown_as_stale_and_says_when_it_was_fetched(
    page: Any, forge: Forge, forge_backend: Any
) -> None:
    forge.connect("OLD", "healthy")
    long_ago = datetime(2020, 3, 2, 1, 30, tzinfo=UTC)  # older than any sync interval
    with forge_backend.app.extensions["db"].session() as session:
        space = session.scalar(sa.select(Space).where(Space.key == "OLD"))
        session.execute(
            sa.update(DatasetSnapshot)
            .where(DatasetSnapshot.space_id == space.id)
            .values(fetched_at=long_ago, last_attempt_at=long_ago)
        )
        session.commit()
    status = render(
        page, forge, macro_context("environment-summary", "OLD", "5006", mode="detailed")
    )
    assert status == "stale", page.locator("#root").inner_text()
    notice = page.locator(".notice")
    expect(notice).to_contain_text("This data was fetched 2 Mar 2020 12:30 AEDT")
    [event] = posted_renders(forge)
    assert event["status"] == "stale" and event["error"].startswith("This data was fetched")


@pytest.mark.parametrize(
    ("scenario", "module_key", "config", "reason"),
    [
        (
            "invalid-credentials",
            "exchange-asset",
            {"mode": "compact", "target": ORDERS},
            "Anypoint rejected the connected app’s client ID or secret",
        ),
        (
            "exchange-scope-missing",
            "exchange-asset",
            {"mode": "detailed", "target": ORDERS},
            "lacks the read:exchange scope",
        ),
        (
            "upstream-outage",
            "api-manager-instance",
            {"mode": "compact", "target": "19909723"},
            "Anypoint answered with an error",
        ),
    ],
)
def test_the_macro_says_why_its_data_is_missing(
    page: Any, forge: Forge, scenario: str, module_key: str, config: dict, reason: str
) -> None:
    space_key = "".join(word[0] for word in scenario.split("-")).upper() + "X"
    forge.connect(space_key, scenario)
    status = render(page, forge, macro_context(module_key, space_key, "6001", **config))
    text = page.locator(".problem p").first.inner_text() if status == "error" else ""
    assert status == "error", page.locator("#root").inner_text()
    assert reason in text
    [event] = posted_renders(forge)
    assert event["error"] == text


def test_partial_data_is_shown_with_what_is_missing_and_why(page: Any, forge: Forge) -> None:
    forge.connect("TOEX", "timeouts-one-environment")
    status = render(
        page, forge, macro_context("environment-summary", "TOEX", "6002", mode="compact")
    )
    assert status == "ok"  # what it shows is current; the dataset's gap is its own finding
    notice = page.locator(".notice")
    expect(notice).to_contain_text("Some data is missing for")
    expect(notice).to_contain_text("Anypoint did not answer in time")
    expect(notice.get_by_role("link")).to_have_text("Open the space’s MuleSight diagnostics")
