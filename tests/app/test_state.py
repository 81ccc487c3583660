"""app_state_for: the Confluence side of a run from the database (and the scenario, simulated)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from app import storage
from app.config import DEFAULTS
from app.models import DatasetSnapshot, Installation, RenderEvent, Space
from app.services.state import app_state_for, pages_from_renders
from diagnostics.model import MacroPage, MacroPlacement
from diagnostics.simulator import load_scenario
from tests.app.conftest import SITE_A

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
CONFIG: dict[str, object] = dict(DEFAULTS)


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    with app.extensions["db"].session() as session:
        storage.ensure_installation(session, SITE_A, "cloud-a")
        storage.save_connection(
            session,
            app.extensions["secret_box"],
            SITE_A,
            space_key="DOCS",
            client_id="c",
            control_plane="us",
            sync_interval_hours=12,
            datasets_enabled={"rovo": False},
        )
        session.commit()
        yield session


@pytest.fixture
def space(session: Session) -> Space:
    return storage.get_space(session, SITE_A, "DOCS")


def snapshot(space: Space, dataset: str, env: str | None, **values: object) -> DatasetSnapshot:
    return DatasetSnapshot(space_id=space.id, dataset=dataset, environment_id=env, **values)


def render(space: Space, page: str, at: datetime, **values: object) -> RenderEvent:
    fields = {"macro": "api-manager-instance", "mode": "detailed", "status": "ok", **values}
    return RenderEvent(space_id=space.id, page_id=page, at=at, **fields)


def test_space_config_comes_from_the_space(session: Session, space: Space) -> None:
    state = app_state_for(session, space, CONFIG, now=NOW)
    assert state.space.key == "DOCS"
    assert state.space.sync_interval_hours == 12
    assert state.space.is_enabled("rovo") is False
    assert state.cache == {} and state.renders == () and state.pages == ()
    assert state.site_url is None


def test_cache_entries_aggregate_the_environments(session: Session, space: Space) -> None:
    session.add_all(
        [
            snapshot(space, "api_manager", "env-prod", fetched_at=NOW - timedelta(hours=30),
                     item_count=6),
            snapshot(space, "api_manager", "env-sbx", fetched_at=NOW - timedelta(hours=2),
                     item_count=3, last_error="HTTP 503"),
            snapshot(space, "runtime_manager", "env-prod", fetched_at=NOW - timedelta(hours=1),
                     item_count=4),
            snapshot(space, "runtime_manager", "env-sbx", fetched_at=None,
                     last_error="403 Forbidden"),
            snapshot(space, "exchange", None, fetched_at=None, item_count=None),
            snapshot(space, "endpoints", None, fetched_at=NOW - timedelta(days=3), item_count=9,
                     asset_version="1.4.0"),
        ]
    )  # fmt: skip
    session.commit()
    cache = app_state_for(session, space, CONFIG, now=NOW).cache
    assert set(cache) == {"api_manager", "runtime_manager", "exchange", "endpoints"}
    api = cache["api_manager"]
    assert api.last_success == NOW - timedelta(hours=30)  # the oldest environment
    assert api.last_attempt_failed is True
    assert api.items == 9
    runtime = cache["runtime_manager"]
    assert runtime.last_success == NOW - timedelta(hours=1)
    assert runtime.last_attempt_failed is True and runtime.items == 4
    assert cache["exchange"].last_success is None and cache["exchange"].items is None
    assert cache["exchange"].last_attempt_failed is False
    assert cache["endpoints"].asset_version == "1.4.0"


def test_recent_renders_and_the_pages_they_name(session: Session, space: Space) -> None:
    session.add_all(
        [
            render(space, "1", NOW - timedelta(hours=1), status="error", error="403"),
            render(space, "1", NOW - timedelta(hours=2), mode="security"),
            render(space, "2", NOW - timedelta(days=2), macro="exchange-asset", mode="endpoints"),
            render(space, "3", NOW - timedelta(days=20)),  # outside the 14-day window
        ]
    )
    session.commit()
    state = app_state_for(session, space, CONFIG, now=NOW)
    assert sorted(e.page_id for e in state.renders) == ["1", "1", "2"]
    pages = {p.page_id: p for p in state.pages}
    assert set(pages) == {"1", "2"}
    assert set(pages["1"].macros) == {
        MacroPlacement("api-manager-instance", "detailed"),
        MacroPlacement("api-manager-instance", "security"),
    }
    assert pages["2"].space_key == "DOCS"
    wider = app_state_for(session, space, {"MULESIGHT_RENDER_WINDOW_DAYS": 30}, now=NOW)
    assert len(wider.renders) == 4


def test_given_pages_win_over_render_pages(session: Session, space: Space) -> None:
    session.add(render(space, "1", NOW - timedelta(hours=1)))
    session.commit()
    found = [MacroPage("77", "Runbook", "DOCS", (MacroPlacement("environment-summary"),))]
    state = app_state_for(session, space, CONFIG, pages=found, now=NOW)
    assert state.pages == tuple(found)
    assert len(state.renders) == 1


def test_pages_from_renders_skips_events_without_a_page(session: Session, space: Space) -> None:
    session.add(render(space, "", NOW))
    session.commit()
    assert pages_from_renders(app_state_for(session, space, CONFIG, now=NOW).renders) == ()


def test_site_url_from_the_installation(session: Session, space: Space) -> None:
    installation = session.get(Installation, SITE_A)
    assert installation is not None
    installation.site_url = "https://acme.atlassian.net"
    session.commit()
    scenario = load_scenario("healthy")
    assert app_state_for(session, space, CONFIG, now=NOW).site_url == installation.site_url
    simulated = app_state_for(session, space, CONFIG, scenario=scenario, now=NOW)
    assert simulated.site_url == installation.site_url


def test_simulated_fills_what_the_database_lacks(session: Session, space: Space) -> None:
    scenario = load_scenario("api-manager-sandbox-only")
    assert scenario.now is not None
    shift = NOW - scenario.now
    state = app_state_for(session, space, CONFIG, scenario=scenario, now=NOW)
    expected = scenario.app_state()
    assert state.site_url == expected.site_url
    assert set(state.cache) == set(expected.cache)
    endpoints = expected.cache["endpoints"].last_success
    assert endpoints is not None
    # the scenario's clock moved onto the run's: ages are what the scenario meant
    assert state.cache["endpoints"].last_success == endpoints + shift
    assert [e.at for e in state.renders] == [e.at + shift for e in expected.renders]
    assert {e.space_key for e in state.renders} == {"DOCS"}
    assert [p.page_id for p in state.pages] == [p.page_id for p in expected.pages]
    assert {p.space_key for p in state.pages} == {"DOCS"}
    assert state.space.key == "DOCS"  # the database's space, not the scenario's


def test_database_rows_win_over_the_scenario(session: Session, space: Space) -> None:
    session.add_all(
        [
            snapshot(space, "exchange", None, fetched_at=NOW - timedelta(hours=5), item_count=1),
            render(space, "42", NOW - timedelta(minutes=5), macro="environment-summary", mode=None),
        ]
    )
    session.commit()
    scenario = load_scenario("healthy")
    state = app_state_for(session, space, CONFIG, scenario=scenario, now=NOW)
    assert set(state.cache) == {"exchange"}
    assert [e.page_id for e in state.renders] == ["42"]
    assert {p.page_id for p in state.pages} == {p.page_id for p in scenario.pages}
