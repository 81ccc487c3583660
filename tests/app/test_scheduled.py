"""POST /forge/v1/scheduled/refresh and ``scheduled_refresh``: only due spaces of the calling
installation, claimed once, each refreshed by its own background job."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from app import jobs, storage
from app.blueprints.forge_data import scheduled_refresh
from app.storage import snapshots
from tests.app.conftest import SITE_A, SITE_B, app_now
from tests.app.test_refresh import connect

URL = "/forge/v1/scheduled/refresh"
Headers = Callable[..., dict[str, str]]


def scheduled(client: FlaskClient, headers: Headers, site: str = SITE_A) -> Any:
    # Scheduled-trigger tokens carry no principal (no user).
    return client.post(URL, headers=headers(site, account_id=None))


def last_scheduled(app: Flask, key: str, site: str = SITE_A) -> datetime | None:
    with app.extensions["db"].session() as session:
        return storage.get_space(session, site, key).last_refresh_scheduled_at


def set_last_scheduled(app: Flask, key: str, when: datetime | None, site: str = SITE_A) -> None:
    with app.extensions["db"].session() as session:
        storage.get_space(session, site, key).last_refresh_scheduled_at = when
        session.commit()


def dataset_rows(app: Flask, key: str, site: str = SITE_A) -> int:
    with app.extensions["db"].session() as session:
        space = storage.get_space(session, site, key)
        return len(snapshots.list_snapshots(session, space.id))


@pytest.fixture
def spaces(app: Flask, client: FlaskClient, forge_headers: Headers) -> None:
    """OPS (never refreshed: due), DEV (refreshed an hour ago: not due) on site A; OPS on B."""
    connect(app, client, forge_headers, "OPS", scenario="healthy")
    connect(app, client, forge_headers, "DEV", scenario="healthy")
    connect(app, client, forge_headers, "OPS", site=SITE_B, scenario="healthy")
    set_last_scheduled(app, "DEV", app_now(app) - timedelta(hours=1))


@pytest.mark.usefixtures("spaces")
def test_only_due_spaces_of_this_installation_are_refreshed(
    app: Flask, client: FlaskClient, forge_headers: Headers
) -> None:
    response = scheduled(client, forge_headers)
    assert response.status_code == 200, response.json
    body = response.json
    assert [r["space_key"] for r in body["refreshed"]] == ["OPS"]
    assert body["skipped"] == [{"space_key": "DEV", "reason": "not_due"}]
    assert body["deferred"] == []
    statuses = {d["dataset"]: d["status"] for d in body["refreshed"][0]["datasets"]}
    assert set(statuses.values()) == {"ok"}

    assert last_scheduled(app, "OPS") is not None
    assert dataset_rows(app, "OPS") > 0
    assert dataset_rows(app, "DEV") == 0
    assert dataset_rows(app, "OPS", SITE_B) == 0  # site B's space: another tenant
    assert last_scheduled(app, "OPS", SITE_B) is None

    again = scheduled(client, forge_headers).json
    assert again["refreshed"] == []
    assert {s["space_key"] for s in again["skipped"]} == {"OPS", "DEV"}


@pytest.mark.usefixtures("spaces")
def test_a_space_becomes_due_when_its_interval_elapses(
    app: Flask, client: FlaskClient, forge_headers: Headers
) -> None:
    # The hourly trigger's jitter: 23 h 58 min after the last run counts as a day.
    set_last_scheduled(app, "DEV", app_now(app) - timedelta(hours=23, minutes=58))
    set_last_scheduled(app, "OPS", app_now(app) - timedelta(hours=23))
    body = scheduled(client, forge_headers).json
    assert [r["space_key"] for r in body["refreshed"]] == ["DEV"]
    assert body["skipped"] == [{"space_key": "OPS", "reason": "not_due"}]


def test_spaces_with_every_dataset_off_are_skipped(
    app: Flask, client: FlaskClient, forge_headers: Headers
) -> None:
    off = dict.fromkeys(
        ("diagnostics", "exchange", "runtime_manager", "api_manager", "api_security_posture"),
        False,
    )
    connect(app, client, forge_headers, "OPS", scenario="healthy", datasets_enabled=off)
    body = scheduled(client, forge_headers).json
    assert body["skipped"] == [{"space_key": "OPS", "reason": "all_datasets_disabled"}]
    assert dataset_rows(app, "OPS") == 0


def test_the_trigger_needs_a_token(client: FlaskClient) -> None:
    assert client.post(URL).status_code == 401


# -- the trigger itself (what a CLI would call) -----------------------------------------------------


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    with app.app_context(), app.extensions["db"].session() as session:
        yield session


def scheduled_now(
    app: Flask, session: Session, queue: jobs.JobQueue | None = None, **kw: Any
) -> Any:
    return scheduled_refresh(queue or jobs.SyncQueue(app), session, app_now(app), wait_s=0, **kw)


@pytest.mark.usefixtures("spaces")
def test_every_installation_when_none_is_named(app: Flask, session: Session) -> None:
    summary = scheduled_now(app, session)
    assert sorted(r.space_key for r in summary.refreshed) == ["OPS", "OPS"]
    assert summary.skipped == []  # not-due spaces are only listed for one installation
    assert last_scheduled(app, "OPS", SITE_B) is not None


class Asleep(jobs.SyncQueue):
    """Records jobs and wake-ups; no worker comes (a busy queue)."""

    def __init__(self, app: Flask) -> None:
        super().__init__(app)
        self.woken: list[int] = []

    def wake(self, job_id: int) -> None:
        self.woken.append(job_id)


@pytest.mark.usefixtures("spaces")
def test_a_refresh_not_done_within_the_wait_is_deferred_and_goes_on_in_the_background(
    app: Flask, session: Session
) -> None:
    queue = Asleep(app)
    summary = scheduled_now(app, session, queue, installation_id=SITE_A)
    assert summary.refreshed == [] and summary.deferred == ["OPS"]
    assert last_scheduled(app, "OPS") is not None  # claimed with its job: not queued again
    assert len(queue.woken) == 1
    again = scheduled_now(app, session, queue, installation_id=SITE_A)
    assert again.deferred == [] and len(queue.woken) == 1
    jobs.SyncQueue(app).wake(queue.woken[0])  # a worker comes
    assert dataset_rows(app, "OPS") > 0


@pytest.mark.usefixtures("spaces")
def test_a_space_claimed_by_a_concurrent_run_is_left_to_it(app: Flask, session: Session) -> None:
    now = app_now(app)
    [space] = snapshots.due_spaces(session, now, installation_id=SITE_A)
    set_last_scheduled(app, "OPS", now - timedelta(seconds=1))  # another worker got there first
    assert snapshots.claim_scheduled_refresh(session, space, now) is False
    assert snapshots.due_spaces(session, now, installation_id=SITE_A) == []


@pytest.mark.usefixtures("spaces")
def test_claiming_keeps_the_connection_updated_at(app: Flask, session: Session) -> None:
    space = storage.get_space(session, SITE_A, "OPS")
    updated = space.updated_at
    assert snapshots.claim_scheduled_refresh(session, space, app_now(app)) is True
    session.commit()
    session.expire_all()
    assert storage.get_space(session, SITE_A, "OPS").updated_at == updated


@pytest.mark.usefixtures("spaces")
def test_one_broken_space_does_not_stop_the_others(app: Flask, session: Session) -> None:
    with app.extensions["db"].session() as other:
        storage.get_space(other, SITE_A, "DEV").last_refresh_scheduled_at = None
        storage.get_space(other, SITE_A, "OPS").scenario = "no-such-scenario"
        other.commit()
    summary = scheduled_now(app, session, installation_id=SITE_A)
    assert [r.space_key for r in summary.refreshed] == ["DEV"]
    assert summary.deferred == ["OPS"]  # its job waits for a retry (and is failed in the end)
