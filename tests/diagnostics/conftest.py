"""Shared fixtures for engine tests: probe records built from the catalogue."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from diagnostics.catalogue import PROBES_BY_KEY
from diagnostics.probes import ProbeRecord

RecordFactory = Callable[..., ProbeRecord]


@pytest.fixture
def record() -> RecordFactory:
    def make(
        probe: str,
        outcome: str,
        env: str | None = None,
        *,
        cause: str | None = None,
        blocked_by: str | None = None,
        items: list | None = None,
    ) -> ProbeRecord:
        p = PROBES_BY_KEY[probe]
        return ProbeRecord(
            probe=p,
            environment_id=env,
            path=p.path,
            outcome=outcome,
            cause=cause,
            blocked_by=blocked_by,
            items=items,
        )

    return make
