"""Evaluation is pure: it reads records and returns new ones, never rewriting what it was given."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

from diagnostics.evaluation import evaluate_datasets, read_empty_answers
from diagnostics.model import AppState, CacheEntry

ORG = "org-1"
NOW = datetime(2026, 11, 23, tzinfo=UTC)


def test_an_empty_search_with_owned_assets_becomes_a_new_forbidden_record(record) -> None:
    search = record("exchange.search", "empty", items=[])
    detail = record(
        "endpoints.asset_detail", "skipped", cause="empty", blocked_by="exchange.search"
    )
    instances = record("api_manager.instances", "ok", "env-1", items=[{"id": 1, "groupId": ORG}])
    given = [search, detail, instances]
    before = copy.deepcopy(given)

    records, applied = read_empty_answers(given, AppState(), ORG)

    assert applied
    assert given == before  # nothing passed in was changed
    new_search, new_detail, same = records
    assert (new_search.outcome, new_detail.cause) == ("forbidden", "forbidden")
    assert "read:exchange is missing" in (new_search.message or "")
    assert new_detail.message == (
        "not run: the Exchange search is blocked (read:exchange probably missing)"
    )
    assert same is instances


def test_an_empty_search_stays_empty_without_evidence_and_a_cache_is_evidence(record) -> None:
    search = record("exchange.search", "empty", items=[])

    records, applied = read_empty_answers([search], AppState(), ORG)
    assert not applied and records[0].outcome == "empty"

    cached = AppState(cache={"exchange": CacheEntry("exchange", items=3)})
    records, applied = read_empty_answers([search], cached, ORG)
    assert applied and records[0].outcome == "forbidden" and search.outcome == "empty"


def test_dataset_evaluation_leaves_records_alone(record) -> None:
    given = [record("exchange.search", "forbidden"), record("diagnostics.token", "ok")]
    before = copy.deepcopy(given)

    results = evaluate_datasets(given, AppState(), now=NOW)

    assert given == before
    assert results["exchange"].coverage == "none"
    assert results["diagnostics"].freshness.state == "not_applicable"
