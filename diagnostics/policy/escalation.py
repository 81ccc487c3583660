"""The MuleSight escalation path and the stage a ticket has reached.

Support triage → engineering owner → security owner (security-impacting issues: a secret in
ticket content, an exposed credential) → product owner (customer communication and priority
alignment). The current stage is the furthest stage that applies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SUPPORT_TRIAGE = "support_triage"
ENGINEERING_OWNER = "engineering_owner"
SECURITY_OWNER = "security_owner"
PRODUCT_OWNER = "product_owner"

STAGES = (SUPPORT_TRIAGE, ENGINEERING_OWNER, SECURITY_OWNER, PRODUCT_OWNER)
STAGE_NAMES = {
    SUPPORT_TRIAGE: "Support triage",
    ENGINEERING_OWNER: "Engineering owner",
    SECURITY_OWNER: "Security owner",
    PRODUCT_OWNER: "Product owner",
}
# Finding owners (report.md) whose problems MuleSight engineering must fix.
ENGINEERING_OWNERS = frozenset({"mulesight_engineering"})


@dataclass(frozen=True)
class Escalation:
    """The current ``stage``, the stages engaged on the way (in path order) and why."""

    stage: str
    engaged: tuple[str, ...]
    reasons: tuple[str, ...]

    @property
    def name(self) -> str:
        return STAGE_NAMES[self.stage]

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "name": self.name,
            "engaged": list(self.engaged),
            "reasons": list(self.reasons),
        }


def escalation_stage(
    *,
    security_impacting: bool = False,
    breached: bool = False,
    owner: str | None = None,
) -> Escalation:
    """The escalation stage for a ticket.

    ``owner`` is the owner of the worst finding (``customer_admin``, ``mulesight_support``,
    ``mulesight_engineering``, ``mulesoft`` or ``None``). Problems owned by the customer or by
    MuleSoft stay with support triage, which routes them to their owner.
    """
    reasons = {SUPPORT_TRIAGE: "every ticket starts with support triage"}
    if owner in ENGINEERING_OWNERS:
        reasons[ENGINEERING_OWNER] = "the worst finding is owned by MuleSight engineering"
    if security_impacting:
        reasons[SECURITY_OWNER] = "the issue is security-impacting"
    if breached:
        reasons[PRODUCT_OWNER] = (
            "the resolution target has passed: customer communication and priority alignment"
        )
    engaged = tuple(s for s in STAGES if s in reasons)
    return Escalation(engaged[-1], engaged, tuple(reasons[s] for s in engaged))
