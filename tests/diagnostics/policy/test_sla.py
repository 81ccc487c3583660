"""MuleSight due times (policy.md) and the escalation stage."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from diagnostics.policy import DEFAULT_SUPPORT_POLICY, escalation_stage, sla_for
from diagnostics.policy.sla import normalize_severity

MEL = ZoneInfo("Australia/Melbourne")
CLI_KEYS = {
    "severity",
    "timezone",
    "opened_at",
    "clock_started_at",
    "initial_response_due",
    "resolution_due",
    "update_cadence",
    "next_update_due",
    "holiday_policy",
    "holiday_in_window",
    "resolution_breached",
    "requires",
}


def mel(*args: int) -> datetime:
    return datetime(*args, tzinfo=MEL)


def test_sev1_over_melbourne_cup_with_reduced_staffing() -> None:
    result = sla_for("Sev 1", mel(2026, 10, 30, 15), now=mel(2026, 11, 5, 12))
    data = result.to_dict()
    assert data.keys() >= CLI_KEYS
    assert data["timezone"] == "Australia/Melbourne"
    assert data["opened_at"] == data["clock_started_at"] == "2026-10-30T15:00:00+11:00"
    assert data["initial_response_due"] == "2026-11-02T15:00:00+11:00"
    assert data["resolution_due"] == "2026-11-06T15:00:00+11:00"
    # First update Tue 11:00; 17 business hours later it is Thu 12:00: the next is Thu 15:00.
    assert data["next_update_due"] == "2026-11-05T15:00:00+11:00"
    assert data["update_cadence"].startswith("every 4 business hours until stabilization")
    assert data["holiday_policy"] == "reduced_staffing"
    assert data["holiday_in_window"] == [{"date": "2026-11-03", "name": "Melbourne Cup Day"}]
    assert "may be moderately delayed" in " ".join(data["notes"])
    assert data["holiday_affects"] == ["next_update_due", "resolution_due"]
    assert data["resolution_breached"] is False
    assert data["requires"] == []
    assert data["utc"]["resolution_due"] == "2026-11-06T04:00:00+00:00"


def test_closed_policy_skips_the_holiday() -> None:
    result = sla_for(
        "Sev 1", mel(2026, 10, 30, 15), now=mel(2026, 10, 30, 15), holiday_policy="closed"
    )
    assert result.holiday_policy == "closed"
    assert result.initial_response_due == mel(2026, 11, 2, 15)
    assert result.resolution_due == mel(2026, 11, 9, 15)
    assert [h.name for h in result.holiday_in_window] == ["Melbourne Cup Day"]
    assert DEFAULT_SUPPORT_POLICY.closed_note in result.notes


def test_opened_outside_business_hours_starts_the_clock_at_the_next_start() -> None:
    result = sla_for("Sev 2", mel(2026, 11, 7, 10), now=mel(2026, 11, 7, 10))  # Saturday
    assert result.clock_started_at == mel(2026, 11, 9, 9)
    assert result.initial_response_due == mel(2026, 11, 9, 17)
    assert result.resolution_due == mel(2026, 11, 13, 17)
    assert any("outside business hours" in n for n in result.notes)


@pytest.mark.parametrize(
    ("severity", "first_update"),
    [
        ("Sev 1", mel(2026, 11, 10, 13)),  # 4 business hours after the initial response
        ("Sev 2", mel(2026, 11, 10, 17)),  # 1 business day
        ("Sev 3", mel(2026, 11, 11, 17)),  # 2 business days
        ("Sev 4", mel(2026, 11, 16, 17)),  # 5 business days
    ],
)
def test_first_update_is_one_cadence_after_the_initial_response(
    severity: str, first_update: datetime
) -> None:
    result = sla_for(severity, mel(2026, 11, 9, 9), now=mel(2026, 11, 9, 9))
    assert result.initial_response_due == mel(2026, 11, 9, 17)
    assert result.next_update_due == first_update


def test_next_update_is_the_next_one_on_the_cadence_after_now() -> None:
    opened = mel(2026, 11, 9, 9)  # Sev 2: updates at Tue 17:00, Wed 17:00, Thu 17:00 ...
    assert sla_for("Sev 2", opened, now=mel(2026, 11, 11, 12)).next_update_due == mel(
        2026, 11, 11, 17
    )
    # Exactly on an update due: the next one.
    assert sla_for("Sev 2", opened, now=mel(2026, 11, 11, 17)).next_update_due == mel(
        2026, 11, 12, 17
    )
    # On the weekend after Friday's update: Monday's.
    assert sla_for("Sev 2", opened, now=mel(2026, 11, 14, 12)).next_update_due == mel(
        2026, 11, 16, 17
    )


def test_stabilized_sev1_moves_to_the_daily_cadence() -> None:
    result = sla_for("Sev 1", mel(2026, 11, 9, 9), now=mel(2026, 11, 9, 9), stabilized=True)
    assert result.next_update_due == mel(2026, 11, 10, 17)


def test_breach_requires_a_workaround_and_a_revised_eta() -> None:
    opened = mel(2026, 11, 9, 9)
    due = sla_for("Sev 3", opened, now=opened).resolution_due
    assert sla_for("Sev 3", opened, now=due).resolution_breached is False
    late = sla_for("Sev 3", opened, now=due + timedelta(minutes=1))
    assert late.resolution_breached is True
    assert late.requires == ("workaround_or_mitigation_plan", "revised_eta")


def test_now_defaults_to_the_system_clock() -> None:
    with time_machine.travel(datetime(2031, 3, 4, 5, 6, tzinfo=UTC), tick=False):
        result = sla_for("Sev 4", datetime(2020, 1, 6, 9, tzinfo=MEL))
    assert result.resolution_breached is True
    assert result.now == datetime(2031, 3, 4, 5, 6, tzinfo=UTC)


def test_christmas_2027_closed() -> None:
    result = sla_for(
        "Sev 3", mel(2027, 12, 23, 10), now=mel(2027, 12, 23, 10), holiday_policy="closed"
    )
    assert result.initial_response_due == mel(2027, 12, 24, 10)
    assert result.resolution_due == mel(2028, 1, 4, 10)
    assert [h.to_dict() for h in result.holiday_in_window] == [
        {"date": "2027-12-27", "name": "Christmas Day (observed)"},
        {"date": "2027-12-28", "name": "Boxing Day (observed)"},
        {"date": "2028-01-03", "name": "New Year's Day (observed)"},
    ]


def test_dst_change_is_in_the_offsets() -> None:
    result = sla_for("Sev 2", mel(2027, 4, 2, 15), now=mel(2027, 4, 2, 15))
    data = result.to_dict()
    assert data["opened_at"] == "2027-04-02T15:00:00+11:00"
    assert data["initial_response_due"] == "2027-04-05T15:00:00+10:00"
    assert data["utc"]["initial_response_due"] == "2027-04-05T05:00:00+00:00"


def test_naive_times_are_read_in_melbourne() -> None:
    result = sla_for("sev2", datetime(2026, 11, 9, 9), now=datetime(2026, 11, 9, 10))
    assert result.opened_at == mel(2026, 11, 9, 9)
    assert result.now == mel(2026, 11, 9, 10)
    assert any("no UTC offset" in n for n in result.notes)


def test_utc_input_is_given_back_in_melbourne() -> None:
    result = sla_for("Sev 2", datetime(2026, 11, 8, 22, tzinfo=UTC), now=mel(2026, 11, 9, 9))
    assert result.opened_at.isoformat() == "2026-11-09T09:00:00+11:00"


def test_figures_come_from_configuration() -> None:
    config = replace(DEFAULT_SUPPORT_POLICY, resolution=timedelta(hours=16))
    result = sla_for("Sev 2", mel(2026, 11, 9, 9), now=mel(2026, 11, 9, 9), config=config)
    assert result.resolution_due == mel(2026, 11, 10, 17)
    with pytest.raises(ValueError, match="holiday_policy"):
        replace(DEFAULT_SUPPORT_POLICY, holiday_policy="open")
    with pytest.raises(ValueError, match="holiday policy"):
        sla_for("Sev 2", mel(2026, 11, 9, 9), holiday_policy="open")


@pytest.mark.parametrize(
    ("given", "expected"),
    [("Sev 1", "Sev 1"), ("sev2", "Sev 2"), ("SEV-3", "Sev 3"), ("4", "Sev 4")],
)
def test_severity_spellings(given: str, expected: str) -> None:
    assert normalize_severity(given) == expected


@pytest.mark.parametrize("bad", ["Sev 5", "S1x", "", "critical"])
def test_unknown_severity(bad: str) -> None:
    with pytest.raises(ValueError, match="unknown severity"):
        sla_for(bad, mel(2026, 11, 9, 9))


# -- escalation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "stage", "engaged"),
    [
        ({}, "support_triage", ["support_triage"]),
        ({"owner": "customer_admin"}, "support_triage", ["support_triage"]),
        ({"owner": "mulesoft"}, "support_triage", ["support_triage"]),
        (
            {"owner": "mulesight_engineering"},
            "engineering_owner",
            ["support_triage", "engineering_owner"],
        ),
        ({"security_impacting": True}, "security_owner", ["support_triage", "security_owner"]),
        ({"breached": True}, "product_owner", ["support_triage", "product_owner"]),
        (
            {"security_impacting": True, "breached": True, "owner": "mulesight_engineering"},
            "product_owner",
            ["support_triage", "engineering_owner", "security_owner", "product_owner"],
        ),
    ],
)
def test_escalation_stage(kwargs: dict, stage: str, engaged: list[str]) -> None:
    escalation = escalation_stage(**kwargs)
    assert escalation.stage == stage
    assert list(escalation.engaged) == engaged
    assert len(escalation.reasons) == len(engaged)
    assert escalation.to_dict()["name"] == escalation.name
