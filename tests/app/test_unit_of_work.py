"""Units of work: only requests, jobs and commands commit (see :mod:`app.unit_of_work`)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask, abort
from flask.testing import FlaskCliRunner

from app.cli import token
from app.db import get_session
from app.models import AuditLog, Installation, SupportToken
from app.unit_of_work import commit_step, unit_of_work

ROOT = Path(__file__).resolve().parents[2]
# Where repositories and services live: nothing here commits but the machinery listed below.
SCANNED = ("app/storage", "app/services", "app/tickets", "app/queue")

# The queue and outbox machinery is unit-of-work infrastructure: each commit is its own step.
ALLOWLIST: dict[tuple[str, str], str] = {
    ("app/queue/store.py", "claim"): "a claimed job is leased before it runs, seen by every worker",
    ("app/queue/store.py", "_update_owned"): "a lease renewed or ended is seen by every worker",
    ("app/queue/store.py", "sweep"): "expired leases go back to the queue for another worker",
    ("app/queue/store.py", "prune"): "old finished jobs are deleted in bounded batches",
    ("app/queue/backends.py", "JobQueue.enqueue"): "enqueue records the job durably, then wakes",
    ("app/queue/waiting.py", "poll_until_ended"): "ends the read transaction between polls",
    ("app/services/outbox.py", "Dispatcher._renew"): "a message claim's heartbeat",
    ("app/services/outbox.py", "Dispatcher._claim_batch"): "messages are claimed before delivery",
    ("app/services/outbox.py", "Dispatcher._deliver_one"): "a local write commits with its mark",
    ("app/services/outbox.py", "Dispatcher._mark_delivered"): "a run's delivered marks, one step",
    ("app/services/outbox.py", "Dispatcher._failed"): "a failed attempt is recorded at once",
}


def _commits(path: Path) -> Iterator[tuple[str, int]]:
    """``(qualified function, line)`` of every ``<x>.commit()`` call in ``path``."""

    def walk(node: ast.AST, scope: str) -> Iterator[tuple[str, int]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                yield from walk(child, f"{scope}.{child.name}" if scope else child.name)
                continue
            call = child
            if (
                isinstance(call, ast.Call)
                and isinstance(call.func, ast.Attribute)
                and call.func.attr == "commit"
            ):
                yield scope, call.lineno
            yield from walk(child, scope)

    yield from walk(ast.parse(path.read_text(encoding="utf-8")), "")


def test_repositories_and_services_never_commit() -> None:
    found: dict[tuple[str, str], list[int]] = {}
    for folder in SCANNED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for scope, line in _commits(path):
                found.setdefault((path.relative_to(ROOT).as_posix(), scope), []).append(line)
    unexpected = {
        f"{file}:{lines[0]} in {scope or 'module'}"
        for (file, scope), lines in found.items()
        if (file, scope) not in ALLOWLIST
    }
    assert not unexpected, "commit at the request, job or command instead: " + ", ".join(
        sorted(unexpected)
    )
    stale = set(ALLOWLIST) - set(found)
    assert not stale, f"no longer commits: drop from the list: {sorted(stale)}"


@pytest.fixture
def failing_app(app: Flask) -> Flask:
    app.config["PROPAGATE_EXCEPTIONS"] = False  # answered 500, as in production

    @app.post("/_test/write/<mode>")
    def write(mode: str) -> tuple[str, int]:
        session = get_session()
        session.add(Installation(id=f"inst-{mode}", cloud_id="cloud-x"))
        session.flush()
        if mode == "fail":
            raise RuntimeError("after writing")
        if mode == "refuse":  # e.g. a token that registered its installation, then was refused
            abort(403)
        return "", 204

    return app


def _installations(app: Flask) -> list[str]:
    with app.extensions["db"].session() as session:
        return list(session.scalars(sa.select(Installation.id).order_by(Installation.id)))


def test_a_request_that_fails_after_writing_leaves_nothing_written(failing_app: Flask) -> None:
    response = failing_app.test_client().post("/_test/write/fail")
    assert response.status_code == 500
    assert _installations(failing_app) == []


def test_a_request_that_succeeds_commits_its_writes(failing_app: Flask) -> None:
    response = failing_app.test_client().post("/_test/write/ok")
    assert response.status_code == 204
    assert _installations(failing_app) == ["inst-ok"]


def test_a_refused_request_keeps_what_was_written_before(failing_app: Flask) -> None:
    response = failing_app.test_client().post("/_test/write/refuse")
    assert response.status_code == 403
    assert _installations(failing_app) == ["inst-refuse"]


def _count_commits(app: Flask) -> list[int]:
    commits: list[int] = []
    sa.event.listen(app.extensions["db"].engine, "commit", lambda _conn: commits.append(1))
    return commits


def test_a_command_commits_once_at_the_end(app: Flask, runner: FlaskCliRunner) -> None:
    commits = _count_commits(app)
    result = runner.invoke(token, ["create", "--name", "ops-bot", "--role", "support"])
    assert result.exit_code == 0, result.output
    assert len(commits) == 1
    with app.extensions["db"].session() as session:
        assert session.scalar(sa.select(SupportToken.name)) == "ops-bot"
        assert session.scalar(sa.select(AuditLog.action)) == "support_token.create"


def test_a_job_step_commits_once_or_not_at_all(app: Flask) -> None:
    commits = _count_commits(app)
    with unit_of_work(app.extensions["db"]) as session:
        session.add(Installation(id="inst-job", cloud_id="cloud-x"))
        session.flush()
        session.add(Installation(id="inst-job-2", cloud_id="cloud-x"))
    with pytest.raises(RuntimeError), unit_of_work(app.extensions["db"]) as session:
        session.add(Installation(id="inst-lost", cloud_id="cloud-x"))
        session.flush()
        raise RuntimeError("the job failed")
    assert len(commits) == 1
    assert _installations(app) == ["inst-job", "inst-job-2"]


def test_a_step_commits_only_what_it_wrote(app: Flask) -> None:
    commits = _count_commits(app)
    with app.extensions["db"].session() as session:
        session.scalar(sa.select(Installation.id))
        commit_step(session)  # read only: nothing to commit
        assert commits == []
        session.add(Installation(id="inst-step", cloud_id="cloud-x"))
        session.flush()
        commit_step(session)
    assert len(commits) == 1
    assert _installations(app) == ["inst-step"]
