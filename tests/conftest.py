"""Suite-wide options.

- ``--clock-years-ahead N`` moves this process's clock N years into the future for the whole run
  (``time-machine``, ticking), so a test that only passes near the day it was written fails at
  once instead of next month. ``.ci/run`` runs the suite a second time this way.
- ``MULESIGHT_STRICT_SKIPS=1`` (set by ``.ci/run``) turns every skipped test into a failure: CI
  installs what every test needs, so a skip there hides a test that did not run. A machine that
  truly lacks a package says so in ``MULESIGHT_ALLOW_SKIP`` (comma-separated markers, e.g.
  ``browser``), and the tests with that marker may skip.
- ``@pytest.mark.real_clock``: the test starts processes (gunicorn, workers) that share rows
  with it and read the system clock, which no travel reaches; it runs on the real clock.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

DAYS_PER_YEAR = 365.2425


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--clock-years-ahead",
        type=float,
        default=0.0,
        help="run the whole suite with the process clock moved this many years ahead",
    )


def pytest_configure(config: pytest.Config) -> None:
    years = config.getoption("clock_years_ahead")
    if not years:
        return
    import time_machine

    # The real clock on purpose: the destination is "years after whatever today is".
    destination = datetime.now(UTC) + timedelta(days=DAYS_PER_YEAR * years)
    traveller = time_machine.travel(destination, tick=True)
    traveller.start()
    config.stash[TRAVELLER] = traveller


@pytest.fixture(autouse=True)
def _real_clock_for_other_processes(request: pytest.FixtureRequest) -> Iterator[None]:
    traveller = request.config.stash.get(TRAVELLER, None)
    if traveller is None or request.node.get_closest_marker("real_clock") is None:
        yield
        return
    traveller.stop()
    try:
        yield
    finally:
        traveller.start()


def pytest_unconfigure(config: pytest.Config) -> None:
    traveller = config.stash.get(TRAVELLER, None)
    if traveller is not None:
        traveller.stop()


def pytest_report_header(config: pytest.Config) -> str | None:
    years = config.getoption("clock_years_ahead")
    # The (travelled) process clock on purpose: the header shows where the travel landed.
    return f"clock moved {years:g} years ahead: {datetime.now(UTC):%Y-%m-%d}" if years else None


TRAVELLER = pytest.StashKey["object"]()


def allowed_skip_markers() -> frozenset[str]:
    return frozenset(m.strip() for m in os.environ.get("MULESIGHT_ALLOW_SKIP", "").split(",") if m)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if not report.skipped or os.environ.get("MULESIGHT_STRICT_SKIPS") != "1":
        return
    if hasattr(report, "wasxfail"):
        return
    markers = {m.name for m in item.iter_markers()}
    if markers & allowed_skip_markers():
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    report.outcome = "failed"
    report.longrepr = (
        f"skipped in CI, where every test must run: {reason} "
        "(install what it needs in .ci/run, or name its marker in MULESIGHT_ALLOW_SKIP "
        "where this machine truly lacks the package)"
    )
