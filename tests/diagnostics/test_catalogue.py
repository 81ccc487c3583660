"""Conformance of the catalogue: every entry complete and consistent with datasets.md."""

from __future__ import annotations

import pytest

from diagnostics.catalogue import (
    CATALOGUE,
    DATASET_KEYS,
    DATASETS,
    MACRO_DATASETS,
    PROBES,
    PROBES_BY_KEY,
    SCOPE_KEYS,
    SCOPES,
    dataset_for_macro,
    scope_used_by,
    scope_validated_by,
)
from diagnostics.model import MACRO_TYPES

CONTRACT_DATASETS = (
    "diagnostics",
    "exchange",
    "endpoints",
    "runtime_manager",
    "api_manager",
    "api_security_posture",
    "ops_dashboard",
    "rovo",
)
CONTRACT_SCOPES = (
    "read:organization",
    "read:orgenvironments",
    "read:exchange",
    "read:applications",
    "read:runtime_fabrics",
    "read:api_configuration",
    "read:api_policies",
    "read:api_contracts",
)


def test_the_eight_datasets_and_scopes_of_the_contract() -> None:
    assert DATASET_KEYS == CONTRACT_DATASETS
    assert SCOPE_KEYS == CONTRACT_SCOPES


def test_keys_are_unique() -> None:
    assert len({p.key for p in PROBES}) == len(PROBES)
    assert len({d.key for d in DATASETS}) == len(DATASETS)
    assert len({s.key for s in SCOPES}) == len(SCOPES)


@pytest.mark.parametrize("probe", PROBES, ids=lambda p: p.key)
def test_every_probe_is_complete_and_consistent(probe) -> None:
    assert probe.title and probe.path.startswith("/")
    assert probe.method in ("GET", "POST")
    assert probe.dataset in DATASET_KEYS
    assert probe.scope is None or probe.scope in SCOPE_KEYS
    assert all(dep in PROBES_BY_KEY for dep in probe.depends_on)
    assert probe.key.startswith(probe.dataset + ".")
    if probe.per == "environment":
        assert "{env_id}" in probe.path or any("{env_id}" in v for _, v in probe.headers)


@pytest.mark.parametrize("scope", SCOPES, ids=lambda s: s.key)
def test_every_scope_has_words_and_probes(scope) -> None:
    assert scope.why_needed and scope.impact
    assert scope_validated_by(scope.key), "a scope no probe validates cannot be checked"
    assert scope_used_by(scope.key)


@pytest.mark.parametrize("dataset", DATASETS, ids=lambda d: d.key)
def test_every_dataset_is_fed(dataset) -> None:
    assert dataset.name and dataset.impact
    if dataset.derived:
        assert all(s in DATASET_KEYS for s in dataset.sources)
        assert not [p for p in PROBES if p.dataset == dataset.key], "derived datasets make no call"
    else:
        assert [p for p in PROBES if p.dataset == dataset.key]


def test_every_macro_type_reads_a_dataset() -> None:
    assert {m for m, _ in MACRO_DATASETS} == set(MACRO_TYPES)
    assert dataset_for_macro("api-manager-instance", "security") == "api_security_posture"
    assert dataset_for_macro("exchange-asset", "endpoints") == "endpoints"
    assert dataset_for_macro("exchange-asset", "compact") == "exchange"


@pytest.mark.parametrize("probe", PROBES, ids=lambda p: p.key)
def test_every_probe_declares_how_it_runs(probe) -> None:
    """Role, fan-out, payload and sampling are declared, and consistent with the path."""
    assert probe.role in ("token", "inventory", "data")
    assert (probe.role == "inventory") == (probe.provides is not None)
    fan = probe.fan_out
    for name, _ in fan.binds:
        assert "{" + name + "}" in probe.path + "".join(v for _, v in probe.headers)
    if not fan.once and not fan.inventory:
        assert probe.depends_on, "a probe fanning out over listed items needs the listing"
        parent = PROBES_BY_KEY[probe.depends_on[0]]
        assert parent.payload.key is not None, "its dependency must list items"
    if fan.inventory:
        assert any(PROBES_BY_KEY[d].provides == "environments" for d in probe.depends_on)
    if probe.payload.paged:
        assert {"offset", "limit"} <= {name for name, _ in probe.params}
    if probe.sample.crawled and probe.role == "data":
        assert probe.payload.read is not None, "a crawled probe reads its answer strictly"
    for key in probe.disproved_by:
        assert key in PROBES_BY_KEY and probe.denial == "empty"


def test_one_token_probe_and_one_environment_inventory() -> None:
    assert [p.key for p in PROBES if p.role == "token"] == ["diagnostics.token"]
    assert [p.key for p in PROBES if p.provides == "environments"] == ["diagnostics.environments"]


def test_the_crawl_fetches_the_scheduled_datasets() -> None:
    assert CATALOGUE.crawled_datasets() == (
        "diagnostics",
        "exchange",
        "runtime_manager",
        "api_manager",
        "api_security_posture",
    )
