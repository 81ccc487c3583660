"""The agreed async shape of Forge runs: ``POST /forge/v1/runs`` waits a bounded time, then answers
201 with the run, or 202 ``{"id", "state"}``; ``GET /forge/v1/runs/<id>`` answers 202 while the
run is not finished, then 200 with the report; a failed run answers its error."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from app import jobs
from app.models import Job, Space
from app.queue import execute, store
from tests.app.conftest import SITE_A, SITE_B, TestClock
from tests.app.test_runs import SANDBOX_ONLY, URL, add_space, set_scenario

Headers = Callable[..., dict[str, str]]


class Parked(jobs.SyncQueue):
    """Records runs and wake-ups but runs nothing until the test says (a busy worker pool)."""

    def __init__(self, app: Flask) -> None:
        super().__init__(app)
        self.woken: list[int] = []

    def wake(self, job_id: int) -> None:
        self.woken.append(job_id)


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "MULESIGHT_RUN_WAIT_S": 0}


@pytest.fixture(autouse=True)
def spaces(app: Flask) -> None:
    add_space(app, SITE_A, "OPS", scenario=SANDBOX_ONLY)
    add_space(app, SITE_B, "BONLY", scenario="healthy")


@pytest.fixture
def parked(app: Flask) -> Parked:
    queue = Parked(app)
    jobs.set_queue(app, queue)
    return queue


def test_a_run_not_finished_in_time_answers_202_then_the_report(
    app: Flask, client: FlaskClient, forge_headers: Headers, parked: Parked
) -> None:
    headers = forge_headers()
    started = client.post(URL, json={"space_key": "OPS"}, headers=headers)
    assert started.status_code == 202
    run_id = started.json["id"]
    assert started.json == {"id": run_id, "state": "queued"}
    assert started.headers["Location"] == f"{URL}/{run_id}"

    polled = client.get(f"{URL}/{run_id}", headers=headers)
    assert (polled.status_code, polled.json) == (202, {"id": run_id, "state": "queued"})

    sessions = app.extensions["db"].sessionmaker
    [job_id] = parked.woken
    claimed = store.claim(sessions, job_id, "w", now=store_now(app), lease=parked.policy.lease)
    assert claimed is not None
    running = client.get(f"{URL}/{run_id}", headers=headers)
    assert (running.status_code, running.json["state"]) == (202, "running")
    with app.extensions["db"].session() as session:  # give it back, then let a worker run it
        session.execute(sa.update(Job).values(status="queued", claimed_by=None))
        session.commit()
    assert execute(app, job_id, "w") == "done"

    done = client.get(f"{URL}/{run_id}", headers=headers)
    assert done.status_code == 200
    assert done.json["run_id"] == run_id and done.json["verdict"] == "broken"
    listed = client.get(URL, headers=headers).json
    assert [r["id"] for r in listed] == [run_id]


def store_now(app: Flask) -> Any:
    from app.queue.runner import clock_of

    return clock_of(app)()


def test_a_run_finished_within_the_wait_answers_201_with_the_run(
    app: Flask, client: FlaskClient, forge_headers: Headers
) -> None:
    app.config["MULESIGHT_RUN_WAIT_S"] = 8
    answer = client.post(URL, json={"space_key": "OPS"}, headers=forge_headers())
    assert answer.status_code == 201
    assert answer.json["space_key"] == "OPS" and answer.json["report"]["verdict"] == "broken"
    assert answer.json["id"] == answer.json["report"]["run_id"]


def test_the_in_process_queue_answers_201_too(
    app: Flask, client: FlaskClient, forge_headers: Headers
) -> None:
    app.config.update(MULESIGHT_RUN_WAIT_S=30, MULESIGHT_JOB_QUEUE=None)
    answer = client.post(URL, json={"space_key": "OPS"}, headers=forge_headers())
    assert answer.status_code == 201 and answer.json["report"]["verdict"] == "broken"
    assert isinstance(jobs.get_queue(app), jobs.InProcessQueue)


def test_a_failed_run_answers_its_error_when_polled(
    app: Flask, client: FlaskClient, forge_headers: Headers, parked: Parked
) -> None:
    set_scenario(app, SITE_A, "OPS", "no-such-scenario")
    headers = forge_headers()
    run_id = client.post(URL, json={"space_key": "OPS"}, headers=headers).json["id"]
    assert execute(app, parked.woken[0], "w") == "failed"
    failed = client.get(f"{URL}/{run_id}", headers=headers)
    assert failed.status_code == 409
    assert failed.json["error"]["code"] == "scenario_unavailable"
    assert "no-such-scenario" in failed.json["error"]["message"]


def test_another_tenant_s_run_is_not_found_even_while_queued(
    client: FlaskClient, forge_headers: Headers, parked: Parked
) -> None:
    run_id = client.post(URL, json={"space_key": "OPS"}, headers=forge_headers()).json["id"]
    other = client.get(f"{URL}/{run_id}", headers=forge_headers(installation_id=SITE_B))
    assert other.status_code == 404


def test_the_system_token_is_never_stored_in_clear(
    app: Flask, client: FlaskClient, forge_headers: Headers, parked: Parked
) -> None:
    headers = {**forge_headers(), "x-forge-oauth-system": "sys-Qw7"}
    assert client.post(URL, json={"space_key": "OPS"}, headers=headers).status_code == 202
    with app.extensions["db"].engine.connect() as conn:
        payloads = conn.execute(sa.text("SELECT payload FROM jobs")).scalars().all()
    assert payloads and all("sys-Qw7" not in json.dumps(p) for p in payloads)


# -- the site self-check ---------------------------------------------------------------------------


def test_a_self_check_not_finished_in_time_answers_202_then_every_space_s_run(
    app: Flask, client: FlaskClient, forge_headers: Headers, parked: Parked
) -> None:
    add_space(app, SITE_A, "DOCS", scenario="healthy")
    headers = forge_headers(SITE_A)
    started = client.post(URL, json={"scope": "site"}, headers=headers)
    assert started.status_code == 202, started.json
    assert started.json["state"] == "queued"
    check_id = started.json["id"]
    assert started.headers["Location"] == f"{URL}/{check_id}"
    assert client.get(f"{URL}/{check_id}", headers=headers).status_code == 202
    assert client.get(f"{URL}/{check_id}", headers=forge_headers(SITE_B)).status_code == 404

    assert execute(app, parked.woken[0], "worker") == "done"  # a worker comes
    done = client.get(f"{URL}/{check_id}", headers=headers)
    assert done.status_code == 200, done.json
    assert done.json["scope"] == "site" and done.json["verdict"] == "broken"
    assert sorted(r["space_key"] for r in done.json["runs"]) == ["DOCS", "OPS"]


def test_a_self_check_whose_worker_died_is_finished_by_the_sweeper_without_a_run_twice(
    app: Flask, client: FlaskClient, forge_headers: Headers, parked: Parked, clock: TestClock
) -> None:
    from app.queue.sweeper import Sweeper
    from app.services import runs, site_check

    add_space(app, SITE_A, "DOCS", scenario="healthy")
    headers = forge_headers(SITE_A)
    check_id = client.post(URL, json={"scope": "site"}, headers=headers).json["id"]
    [job_id] = parked.woken
    sessions = app.extensions["db"].sessionmaker
    lease = store.JobPolicy.from_config(app.config).lease
    store.claim(sessions, job_id, "killed", now=clock(), lease=lease)
    with app.app_context(), app.extensions["db"].session() as session:  # DOCS ran, then SIGKILL
        space = session.scalars(sa.select(Space).where(Space.key == "DOCS")).one()
        runs.run_for_space(
            session,
            space,
            config=app.config,
            box=app.extensions["secret_box"],
            requested_by="self-check:x",
            run_id=site_check.space_run_id(check_id, "DOCS"),
        )
    clock.advance(seconds=lease.total_seconds() + 1)
    queue = jobs.InProcessQueue(app)
    try:
        Sweeper(queue, interval=3600).run_once()
        queue.join()
    finally:
        queue.stop()
    done = client.get(f"{URL}/{check_id}", headers=headers)
    assert done.status_code == 200, done.json
    assert sorted(r["space_key"] for r in done.json["runs"]) == ["DOCS", "OPS"]
    listed = client.get(f"{URL}?scope=site", headers=headers).json
    assert sorted(r["space_key"] for r in listed) == ["DOCS", "OPS"]  # DOCS stored once


def test_a_self_check_of_a_broken_scenario_answers_its_error(
    app: Flask, client: FlaskClient, forge_headers: Headers
) -> None:
    set_scenario(app, SITE_A, "OPS", "no-such-scenario")
    app.config["MULESIGHT_RUN_WAIT_S"] = 30  # the in-process worker finishes well within it
    response = client.post(URL, json={"scope": "site"}, headers=forge_headers(SITE_A))
    assert response.status_code == 409, response.json
    assert response.json["error"]["code"] == "scenario_unavailable"
