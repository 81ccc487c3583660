"""Dataset refreshes are jobs on the durable queue: the Forge refresh waits for its job, one
refresh per space and slot at a time, a refresh still going answers 202 and finishes in the
background, and a refresh whose worker died is run again by the sweeper."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from app import jobs, storage
from app.models import Job
from app.queue import store
from app.queue.sweeper import Sweeper
from app.services import refresh_jobs
from app.services.refresh import AssetRef
from tests.app.conftest import SITE_A, TestClock
from tests.app.test_refresh import connect, refresh, rows
from tests.app.test_scheduled import Asleep

Headers = Callable[..., dict[str, str]]


def all_jobs(app: Flask) -> list[tuple[str, str, str]]:
    with app.extensions["db"].session() as session:
        return [(j.kind, j.key, j.status) for j in session.scalars(sa.select(Job).order_by(Job.id))]


def space_id(app: Flask, key: str = "OPS") -> int:
    with app.extensions["db"].session() as session:
        return storage.get_space(session, SITE_A, key).id


def test_a_refresh_is_a_job_and_the_answer_is_its_summary(
    app: Flask, client: FlaskClient, forge_headers: Headers
) -> None:
    connect(app, client, forge_headers, scenario="healthy")
    response = refresh(client, forge_headers)
    assert response.status_code == 200, response.json
    assert response.json["space_key"] == "OPS" and len(response.json["datasets"]) == 5
    ident = space_id(app)
    assert all_jobs(app) == [("refresh_space", f"refresh:{ident}:all", "done")]
    again = refresh(client, forge_headers)  # the same slot, queued again once finished
    assert again.status_code == 200
    assert all_jobs(app) == [("refresh_space", f"refresh:{ident}:all", "done")]
    assert refresh(client, forge_headers, dataset="api_manager").status_code == 200
    assert [key for _k, key, _s in all_jobs(app)] == [
        f"refresh:{ident}:all",
        f"refresh:{ident}:api_manager",
    ]


def test_a_refresh_already_queued_for_a_space_is_not_recorded_twice(
    app: Flask, client: FlaskClient, forge_headers: Headers
) -> None:
    connect(app, client, forge_headers, scenario="healthy")
    connect(app, client, forge_headers, "DEV", scenario="healthy")
    queue = Asleep(app)
    asset = AssetRef("org-1", "orders-api", "1.0.0")
    with app.extensions["db"].session() as session:
        ops = storage.get_space(session, SITE_A, "OPS")
        dev = storage.get_space(session, SITE_A, "DEV")
        first = refresh_jobs.submit_refresh(queue, session, ops).id
        assert refresh_jobs.submit_refresh(queue, session, ops).id == first
        others = {
            refresh_jobs.submit_refresh(queue, session, dev).id,
            refresh_jobs.submit_refresh(queue, session, ops, dataset="exchange").id,
            refresh_jobs.submit_refresh(queue, session, ops, dataset="endpoints", asset=asset).id,
        }
        session.commit()
    assert first not in others and len(others) == 3
    assert len(all_jobs(app)) == 4


def test_a_refresh_still_going_answers_202_and_finishes_in_the_background(
    app: Flask, client: FlaskClient, forge_headers: Headers
) -> None:
    connect(app, client, forge_headers, scenario="healthy")
    queue = Asleep(app)  # every worker busy
    jobs.set_queue(app, queue)
    app.config["MULESIGHT_REFRESH_WAIT_S"] = 0
    response = refresh(client, forge_headers)
    assert response.status_code == 202, response.json
    assert response.json["state"] == "queued" and "OPS" in response.json["message"]
    assert refresh(client, forge_headers).status_code == 202  # asked again: the same job
    assert len(all_jobs(app)) == 1 and len(set(queue.woken)) == 1
    assert rows(app) == {}
    jobs.SyncQueue(app).wake(queue.woken[0])  # a worker comes
    assert all_jobs(app)[0][2] == "done" and rows(app)


def test_a_refresh_whose_worker_died_is_run_again_by_the_sweeper(
    app: Flask, client: FlaskClient, forge_headers: Headers, clock: TestClock
) -> None:
    connect(app, client, forge_headers, scenario="healthy")
    with app.extensions["db"].session() as session:
        space = storage.get_space(session, SITE_A, "OPS")
        job_id = refresh_jobs.submit_refresh(Asleep(app), session, space).id
        session.commit()
    sessions = app.extensions["db"].sessionmaker
    lease = store.JobPolicy.from_config(app.config).lease
    assert store.claim(sessions, job_id, "killed", now=clock(), lease=lease)  # then SIGKILL
    queue = jobs.InProcessQueue(app)
    try:
        sweeper = Sweeper(queue, interval=3600)
        sweeper.run_once()
        queue.join()
        assert all_jobs(app)[0][2] == "running" and rows(app) == {}  # its lease holds
        clock.advance(seconds=lease.total_seconds() + 1)
        sweeper.run_once()
        queue.join()
    finally:
        queue.stop()
    with app.extensions["db"].session() as session:
        job = session.get(Job, job_id)
        assert job is not None
        assert (job.status, job.attempts) == ("done", 2)
        assert job.result is not None and job.result["space_key"] == "OPS"
    assert rows(app)


def test_rovo_says_when_a_refresh_goes_on_in_the_background(
    app: Flask, client: FlaskClient, forge_headers: Headers
) -> None:
    connect(app, client, forge_headers, scenario="healthy")
    jobs.set_queue(app, Asleep(app))
    app.config["MULESIGHT_REFRESH_WAIT_S"] = 0
    response = client.post(
        "/forge/v1/rovo/refresh-dataset",
        json={"space_key": "OPS", "dataset": "api_manager"},
        headers=forge_headers(),
    )
    assert response.status_code == 200, response.json
    body: dict[str, Any] = response.json
    assert body["status"] == "pending"
    assert body["message"].startswith("The API Manager refresh of space OPS is still going")
