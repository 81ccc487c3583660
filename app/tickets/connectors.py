"""Which ticket system the service writes to: Service Management when ``JSM_*`` is configured,
else the local ticket store (service.md)."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Mapping
from typing import Any

import requests
from sqlalchemy.orm import Session

from app.net import guarded_session, outbound_policy
from app.services.outbox import Dispatcher, DispatchReport, RetryPolicy
from app.tickets import TicketConnector
from app.tickets.jsm import JsmConnector
from app.tickets.store import LocalTicketStore

TARGET_JSM = "jsm"
TARGET_LOCAL = "local"
JSM_SETTINGS = ("JSM_BASE_URL", "JSM_EMAIL", "JSM_API_TOKEN", "JSM_SERVICE_DESK_ID")
JSM_POOL_SIZE = 16
_shared: dict[str, JsmConnector] = {}
_shared_lock = threading.Lock()


def jsm_configured(config: Mapping[str, Any]) -> bool:
    """Every ``JSM_*`` variable is set."""
    return all(config.get(name) for name in JSM_SETTINGS)


def target_for(config: Mapping[str, Any]) -> str:
    """``"jsm"`` or ``"local"``: where new outbox messages go."""
    return TARGET_JSM if jsm_configured(config) else TARGET_LOCAL


def jsm_connector(
    config: Mapping[str, Any], *, session: requests.Session | None = None
) -> JsmConnector:
    return JsmConnector(
        str(config["JSM_BASE_URL"]),
        str(config["JSM_EMAIL"]),
        str(config["JSM_API_TOKEN"]),
        str(config["JSM_SERVICE_DESK_ID"]),
        timeout=float(config["JSM_TIMEOUT"]),
        session=session,
        outbound_policy=outbound_policy(config),
    )


def shared_jsm_connector(config: Mapping[str, Any]) -> JsmConnector:
    """This process's connector for the configured site: one pooled session, kept open, shared
    by every thread (a new TLS connection per ticket cost more than the call itself)."""
    ident = hashlib.sha256(
        "\0".join(str(config.get(name)) for name in JSM_SETTINGS).encode()
    ).hexdigest()
    with _shared_lock:
        connector = _shared.get(ident)
        if connector is None:
            session = guarded_session(outbound_policy(config), pool_maxsize=JSM_POOL_SIZE)
            connector = _shared[ident] = jsm_connector(config, session=session)
        return connector


class ConnectorFactory:
    """The dispatcher's ``connector_factory``: a local store per session, and Service Management
    through one connector — this process's shared one (``shared=True``), or its own.

    The local store never commits by itself: the dispatcher commits its write together
    with the message's "delivered" mark. Call :meth:`close` when done.
    """

    def __init__(self, config: Mapping[str, Any], *, shared: bool = False) -> None:
        self.config = config
        self.shared = shared
        self._jsm: JsmConnector | None = None

    def __call__(self, session: Session, target: str) -> TicketConnector | None:
        if target == TARGET_LOCAL:
            return LocalTicketStore(session)
        if target == TARGET_JSM and jsm_configured(self.config):
            if self._jsm is None:
                self._jsm = (
                    shared_jsm_connector(self.config) if self.shared else jsm_connector(self.config)
                )
            return self._jsm
        return None

    def concurrent(self, target: str) -> bool:
        """Service Management calls may go out together; local writes go one by one."""
        return target == TARGET_JSM

    def close(self) -> None:
        if self._jsm is not None and not self.shared:
            self._jsm.close()
        self._jsm = None


def dispatch_pending(
    config: Mapping[str, Any],
    session_factory: Callable[[], Session],
    *,
    prefix: str | None = None,
    worker: str | None = None,
) -> DispatchReport:
    """Deliver what is due now with the configured connectors; returns the dispatch report."""
    factory = ConnectorFactory(config, shared=True)
    try:
        dispatcher = Dispatcher(
            session_factory,
            factory,
            policy=RetryPolicy.from_config(config),
            worker=f"{worker or 'job'}-pid{os.getpid()}",  # claims say which process holds them
        )
        return dispatcher.run_once(prefix=prefix)
    finally:
        factory.close()


__all__ = [
    "TARGET_JSM",
    "TARGET_LOCAL",
    "ConnectorFactory",
    "dispatch_pending",
    "jsm_configured",
    "jsm_connector",
    "shared_jsm_connector",
    "target_for",
]
