"""The space's connected app: "Test connection", and the checklist of the scopes it needs.

:func:`check_connection` does what MuleSight's own button does — token, organization,
environments — and explains a failure in plain words with the fix (never the secret).
:func:`scope_checklist` / :func:`scopes_csv` are generated from :mod:`diagnostics.catalogue` only.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.crypto import SecretBox
from app.models import Space
from app.services.anypoint import anypoint_for, is_simulated
from app.services.refresh import resolve_organization_id
from diagnostics.anypoint import AnypointClient, shapes, status_page_url
from diagnostics.catalogue import (
    DATASETS_BY_KEY,
    PROBES_BY_KEY,
    SCOPES,
    probes_for_scope,
    scope_used_by,
)
from diagnostics.errors import (
    AnypointError,
    AuthenticationError,
    ConfigurationError,
    DestinationRefusedError,
    ForbiddenError,
    NotFoundError,
)
from diagnostics.runner import classify_error

CHECK_DEADLINE_S = 15.0
CSV_FILENAME = "mulesight-required-scopes.csv"
CSV_COLUMNS = ("scope", "why needed", "used by", "validated by", "granted at")
CONNECTED_APPS = "Anypoint Access Management → Connected Apps → the MuleSight app"
_UNREACHABLE = ("timeout", "rate_limited")


@dataclass(frozen=True)
class ConnectionCheck:
    """The result of a connection test; ``problem`` / ``fix`` are set when ``ok`` is false."""

    ok: bool
    organization: dict[str, str | None] | None = None
    environment_count: int | None = None
    step: str | None = None  # token / organization / environments, where it failed
    http_status: int | None = None
    missing_scope: str | None = None
    problem: str | None = None
    fix: str | None = None


def check_connection(
    space: Space,
    box: SecretBox,
    config: Mapping[str, Any],
    *,
    deadline_s: float = CHECK_DEADLINE_S,
) -> ConnectionCheck:
    """Token, organization and environments of the space's connected app."""
    if not space.client_secret_set and not is_simulated(config):
        return ConnectionCheck(
            False,
            step="token",
            problem="No client secret is saved for this space.",
            fix="Enter the connected app's client secret in these settings and save.",
        )
    try:
        anypoint = anypoint_for(space, box, config)
    except ConfigurationError as exc:
        return _settings_problem(exc)
    try:
        with anypoint.client() as client:
            return _check(client, space.control_plane, client.retry.clock() + deadline_s)
    except ConfigurationError as exc:
        return _settings_problem(exc)
    finally:
        anypoint.close()


def _check(client: AnypointClient, control_plane: str, deadline: float) -> ConnectionCheck:
    step = "token"
    try:
        client.authenticate(deadline)
        organization_id = resolve_organization_id(client, deadline)
        step = "organization"
        path = PROBES_BY_KEY["diagnostics.organization"].path.format(org_id=organization_id)
        organization = client.get(path, deadline=deadline).data or {}
        step = "environments"
        path = PROBES_BY_KEY["diagnostics.environments"].path.format(org_id=organization_id)
        environments = shapes.environments(client.get(path, deadline=deadline).data)
    except DestinationRefusedError:
        raise  # a refused host is the caller's 422 (app.errors), not an Anypoint problem
    except AnypointError as exc:
        return _problem(step, exc, control_plane)
    return ConnectionCheck(
        True,
        organization={"id": organization_id, "name": _text(organization.get("name"))},
        environment_count=len(environments),
    )


def _problem(step: str, exc: AnypointError, control_plane: str) -> ConnectionCheck:
    """A failure in plain words: what is wrong and where to fix it."""
    status = exc.status
    probe = PROBES_BY_KEY.get(f"diagnostics.{step}")
    missing = probe.scope if probe is not None else None
    if step == "token" and isinstance(exc, AuthenticationError):
        return ConnectionCheck(
            False,
            step=step,
            http_status=status,
            problem="Anypoint refused the client ID or client secret (401 on the token call).",
            fix=(
                f"In {CONNECTED_APPS}, copy the client ID and secret again (or rotate the "
                "secret), then save them in these MuleSight settings."
            ),
        )
    if isinstance(exc, AuthenticationError | ForbiddenError) and missing:
        return ConnectionCheck(
            False,
            step=step,
            http_status=status,
            missing_scope=missing,
            problem=(
                f"The connected app may not read the {step} (HTTP {status}): "
                f"the scope {missing} is missing."
            ),
            fix=f"In {CONNECTED_APPS} → Scopes, add {missing} for the organization, then test again.",
        )
    if isinstance(exc, NotFoundError) and step == "organization":
        return ConnectionCheck(
            False,
            step=step,
            http_status=status,
            problem="Anypoint does not know the organization ID saved for this space (404).",
            fix="Copy the organization ID from Anypoint Access Management → Business Groups and save it here.",
        )
    outcome = classify_error(exc)
    if outcome in _UNREACHABLE or (status or 0) >= 500 or status is None:
        page = status_page_url(control_plane)
        where = f"MuleSoft's status page ({page})" if page else "your Anypoint host's status"
        return ConnectionCheck(
            False,
            step=step,
            http_status=status,
            problem=f"Anypoint is unreachable: the {step} call did not succeed in time ({_said(status)}).",
            fix=f"Check {where} and try again in a few minutes; nothing needs changing in MuleSight.",
        )
    return ConnectionCheck(
        False,
        step=step,
        http_status=status,
        problem=f"Anypoint answered the {step} call unexpectedly ({_said(status)}).",
        fix="Try again; if it keeps failing, run MuleSight diagnostics and send the report to support.",
    )


def _settings_problem(exc: ConfigurationError) -> ConnectionCheck:
    return ConnectionCheck(
        False,
        step="settings",
        problem=f"The connection settings cannot work: {exc}.",
        fix="Choose a control plane (or enter the base URL of a custom one) and save.",
    )


def _said(status: int | None) -> str:
    return f"HTTP {status}" if status else "no answer"


def _text(value: Any) -> str | None:
    return str(value) if value else None


# -- the scope checklist ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ScopeRow:
    scope: str
    why_needed: str
    used_by: tuple[str, ...]  # dataset names
    used_by_datasets: tuple[str, ...]  # dataset keys
    validated_by: tuple[str, ...]  # "METHOD /path" of the probes that check it
    granted_at: str  # "organization" or "per environment"


def scope_checklist() -> list[ScopeRow]:
    """Every scope the connected app needs, from the catalogue (the one source)."""
    rows = []
    for scope in SCOPES:
        probes = probes_for_scope(scope.key)
        datasets = scope_used_by(scope.key)
        per_env = any(p.per in ("environment", "api_instance") for p in probes)
        rows.append(
            ScopeRow(
                scope=scope.key,
                why_needed=scope.why_needed,
                used_by=tuple(DATASETS_BY_KEY[d].name for d in datasets),
                used_by_datasets=datasets,
                validated_by=tuple(f"{p.method} {p.path}" for p in probes),
                granted_at="per environment" if per_env else "organization",
            )
        )
    return rows


def scopes_csv(rows: list[ScopeRow]) -> str:
    """The checklist as CSV (one row per scope; lists joined with "; ")."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow(
            [
                row.scope,
                row.why_needed,
                "; ".join(row.used_by),
                "; ".join(row.validated_by),
                row.granted_at,
            ]
        )
    return out.getvalue()
