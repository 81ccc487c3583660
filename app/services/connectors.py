"""Which ticket system the service writes to: Service Management when ``JSM_*`` is configured,
else the local ticket store (service.md)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.orm import Session

from app.services.outbox import Dispatcher, DispatchReport, RetryPolicy
from app.services.ticket_store import LocalTicketStore
from app.tickets import TicketConnector
from app.tickets.jsm import JsmConnector

TARGET_JSM = "jsm"
TARGET_LOCAL = "local"
JSM_SETTINGS = ("JSM_BASE_URL", "JSM_EMAIL", "JSM_API_TOKEN", "JSM_SERVICE_DESK_ID")


def jsm_configured(config: Mapping[str, Any]) -> bool:
    """Every ``JSM_*`` variable is set."""
    return all(config.get(name) for name in JSM_SETTINGS)


def target_for(config: Mapping[str, Any]) -> str:
    """``"jsm"`` or ``"local"``: where new outbox messages go."""
    return TARGET_JSM if jsm_configured(config) else TARGET_LOCAL


def jsm_connector(config: Mapping[str, Any]) -> JsmConnector:
    return JsmConnector(
        str(config["JSM_BASE_URL"]),
        str(config["JSM_EMAIL"]),
        str(config["JSM_API_TOKEN"]),
        str(config["JSM_SERVICE_DESK_ID"]),
        timeout=float(config["JSM_TIMEOUT"]),
    )


def connector_for(config: Mapping[str, Any], session: Session) -> TicketConnector:
    """Service Management when ``JSM_*`` are set, else the local store on ``session``."""
    if jsm_configured(config):
        return jsm_connector(config)
    return LocalTicketStore(session)


class ConnectorFactory:
    """The dispatcher's ``connector_factory``: one JSM connector reused, a local store per session.

    The local store does not commit by itself here: the dispatcher commits its write together
    with the message's "delivered" mark. Call :meth:`close` when done.
    """

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config
        self._jsm: JsmConnector | None = None

    def __call__(self, session: Session, target: str) -> TicketConnector | None:
        if target == TARGET_LOCAL:
            return LocalTicketStore(session, autocommit=False)
        if target == TARGET_JSM and jsm_configured(self.config):
            if self._jsm is None:
                self._jsm = jsm_connector(self.config)
            return self._jsm
        return None

    def close(self) -> None:
        if self._jsm is not None:
            self._jsm.close()
            self._jsm = None


def dispatch_pending(
    config: Mapping[str, Any],
    session_factory: Callable[[], Session],
    *,
    prefix: str | None = None,
    worker: str = "worker",
) -> DispatchReport:
    """Deliver what is due now with the configured connectors; returns the dispatch report."""
    factory = ConnectorFactory(config)
    try:
        dispatcher = Dispatcher(
            session_factory, factory, policy=RetryPolicy.from_config(config), worker=worker
        )
        return dispatcher.run_once(prefix=prefix)
    finally:
        factory.close()


__all__ = [
    "TARGET_JSM",
    "TARGET_LOCAL",
    "ConnectorFactory",
    "connector_for",
    "dispatch_pending",
    "jsm_configured",
    "jsm_connector",
    "target_for",
]
