"""Payload shapes of Anypoint normalised to plain lists of objects."""

from __future__ import annotations

import copy

import pytest

from diagnostics.anypoint import shapes
from diagnostics.errors import InvalidResponseError

# fullInfo=false items
LEAN = [
    {
        "id": 11,
        "groupId": "68ef9520-24e9-4cf2-b2f5-620025690913",
        "assetId": "rate-limiting",
        "assetVersion": "1.4.0",
        "order": 1,
        "disabled": False,
        "type": "system",
        "configurationData": {"rateLimits": []},
    }
]
# the default, full-info items
FULL = [
    {
        "policyId": 11,
        "order": 1,
        "type": "system",
        "implementationAsset": {
            "groupId": "68ef9520-24e9-4cf2-b2f5-620025690913",
            "assetId": "rate-limiting",
            "version": "1.4.0",
        },
        "configuration": {"rateLimits": []},
    }
]


@pytest.mark.parametrize(
    "payload",
    [LEAN, {"policies": LEAN}, {"data": LEAN, "total": 1}],
    ids=["bare-list", "policies-key", "data-total"],
)
def test_the_three_policy_shapes_give_the_same_list(payload):
    assert shapes.policies(payload) == LEAN


@pytest.mark.parametrize("items", [LEAN, FULL], ids=["lean", "full"])
def test_policy_summary_reads_both_item_styles(items):
    (policy,) = shapes.policies({"policies": items})

    assert shapes.policy_summary(policy) == {
        "id": 11,
        "group_id": "68ef9520-24e9-4cf2-b2f5-620025690913",
        "asset_id": "rate-limiting",
        "asset_version": "1.4.0",
        "template_id": None,
        "order": 1,
        "disabled": False,
        "type": "system",
    }


@pytest.mark.parametrize(
    "payload",
    [{"items": []}, "policies", 3, None, [1, 2], {"policies": {"a": 1}}],
)
def test_unknown_policy_shapes_are_invalid(payload):
    with pytest.raises(InvalidResponseError):
        shapes.policies(payload)


def test_empty_policy_lists():
    assert shapes.policies([]) == []
    assert shapes.policies({"policies": None}) == []


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("STARTED", "started"),
        ("started", "started"),
        ("Started", "started"),
        (" RUNNING ", "running"),
        ("APPLIED", "applied"),
        ("DEPLOYMENT_FAILED", "deployment_failed"),
        ("Not Deployed", "not_deployed"),
        ("in-progress", "in_progress"),
        ("", None),
        (None, None),
    ],
)
def test_status_casing(raw, expected):
    assert shapes.normalize_status(raw) == expected


def test_environments():
    payload = {"data": [{"id": "e1", "name": "Production", "type": "production"}], "total": 1}
    assert shapes.environments(payload) == payload["data"]
    assert shapes.total_of(payload) == 1


def test_api_instances_are_flattened_out_of_their_assets():
    payload = {
        "total": 2,
        "assets": [
            {
                "id": 900,
                "groupId": "org-1",
                "assetId": "orders",
                "exchangeAssetName": "Orders",
                "apis": [
                    {"id": 1, "assetVersion": "1.0.0", "status": "ACTIVE"},
                    {"id": 2, "assetVersion": "2.0.0", "status": "Inactive", "groupId": "other"},
                ],
            },
            {"id": 901, "groupId": "org-1", "assetId": "empty", "apis": []},
        ],
    }
    original = copy.deepcopy(payload)

    instances = shapes.api_instances(payload)

    assert instances == [
        {
            "groupId": "org-1",
            "assetId": "orders",
            "exchangeAssetName": "Orders",
            "id": 1,
            "assetVersion": "1.0.0",
            "status": "active",
        },
        {
            "groupId": "other",
            "assetId": "orders",
            "exchangeAssetName": "Orders",
            "id": 2,
            "assetVersion": "2.0.0",
            "status": "inactive",
        },
    ]
    assert payload == original  # the answer itself is left alone
    assert shapes.total_of(payload) == 2


def test_amc_deployments_normalise_both_statuses():
    payload = {"items": [{"id": "d1", "status": "APPLIED", "application": {"status": "RUNNING"}}]}

    (deployment,) = shapes.deployments(payload)

    assert deployment["status"] == "applied"
    assert deployment["application"] == {"status": "running"}
    assert payload["items"][0]["application"]["status"] == "RUNNING"


def test_tiers_and_contracts():
    assert shapes.tiers({"total": 1, "tiers": [{"id": 1, "status": "ACTIVE"}]}) == [
        {"id": 1, "status": "active"}
    ]
    contracts = {"total": 3, "contracts": [{"id": 7, "status": "APPROVED"}]}
    assert shapes.contracts(contracts) == [{"id": 7, "status": "approved"}]
    assert shapes.total_of(contracts) == 3


@pytest.mark.parametrize(
    "reader", [shapes.cloudhub_applications, shapes.exchange_assets, shapes.runtime_fabric_targets]
)
def test_bare_list_answers(reader):
    assert reader([{"domain": "app", "status": "Started"}]) == [
        {"domain": "app", "status": "started"}
    ]
    with pytest.raises(InvalidResponseError):
        reader({"data": []})


@pytest.mark.parametrize(
    ("reader", "payload"),
    [
        (shapes.environments, []),
        (shapes.api_instances, {"total": 1}),
        (shapes.api_instances, {"assets": [{"apis": "x"}]}),
        (shapes.deployments, {"data": []}),
        (shapes.tiers, {"tiers": "gold"}),
        (shapes.contracts, None),
    ],
)
def test_wrong_envelopes_are_invalid(reader, payload):
    with pytest.raises(InvalidResponseError):
        reader(payload)


@pytest.mark.parametrize("payload", [[], {}, {"total": "3"}, {"total": True}, {"total": -1}])
def test_total_of_without_a_usable_total(payload):
    assert shapes.total_of(payload) is None
