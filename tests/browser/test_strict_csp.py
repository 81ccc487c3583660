"""The pages and the HTML report under the Content-Security-Policy in Chromium: nothing is blocked
(no violation reported), and the report keeps its styles. See docs/security.md ("Pages and
reports"). Named to run after test_selfcheck.py, whose run counts a run here would change."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser import requires_chromium

pytestmark = [pytest.mark.browser, requires_chromium]
sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

LISTEN = """() => {
  window.__csp = [];
  document.addEventListener('securitypolicyviolation',
    (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
}"""


def violations(page: Any, console: list[str]) -> list[str]:
    seen = list(page.evaluate("window.__csp || []"))
    return seen + [m for m in console if "Content Security Policy" in m]


def test_nothing_is_blocked_on_the_pages_and_the_report(page: Any) -> None:
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.add_init_script(f"({LISTEN})()")
    page.goto("/selfcheck")
    if page.locator("a[href$='report.html']").count() == 0:  # a fresh server: run once
        with page.expect_navigation():
            page.get_by_role("button", name=re.compile("^Run")).first.click()
    assert violations(page, console) == []
    link = page.locator("a[href$='report.html']").first
    href = link.get_attribute("href")
    assert href

    def inline(route: Any) -> None:
        """Show the downloadable report in the tab, with every header it was served with
        (the CSP included) except the one that makes it a download."""
        answer = route.fetch()
        headers = {k: v for k, v in answer.headers.items() if k != "content-disposition"}
        assert "content-security-policy" in headers
        route.fulfill(response=answer, headers=headers)

    page.route("**/report.html", inline)
    page.goto(href)
    assert violations(page, console) == []
    # The report's own <style> applied (allowed by its hash): the body has the report's margin.
    assert page.evaluate("getComputedStyle(document.body).margin") == "0px"
    page.goto("/console")
    assert violations(page, console) == []
