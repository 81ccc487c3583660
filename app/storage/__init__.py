"""The repository layer: every query the views need, so no view builds one inline.

Each tenant-scoped function takes the ``installation_id`` of the verified tenant
(``g.tenant.installation_id``) and filters by it; a row of another tenant is simply not found
(:class:`NotFound`, answered as 404 with nothing about the other tenant). Nothing here commits:
write functions add and ``flush()``; the request, job or command commits (:mod:`app.unit_of_work`).

Modules: :mod:`~app.storage.tenancy` (installations, spaces, connections),
:mod:`~app.storage.renders` (render telemetry), :mod:`~app.storage.support_tokens`.
Add a module per area (tickets, runs, snapshots) and re-export its public functions here.
"""

from __future__ import annotations


class NotFound(LookupError):
    """No such row for this tenant. The message is shown to the caller: name only what they sent."""


from app.storage.renders import recent_renders, record_renders  # noqa: E402
from app.storage.support_tokens import (  # noqa: E402
    create_support_token,
    find_support_token,
    list_support_tokens,
    revoke_support_token,
    touch_support_token,
)
from app.storage.tenancy import (  # noqa: E402
    connection_for,
    ensure_installation,
    find_space,
    get_space,
    list_spaces,
    save_connection,
    space_config,
)

__all__ = [
    "NotFound",
    "connection_for",
    "create_support_token",
    "ensure_installation",
    "find_space",
    "find_support_token",
    "get_space",
    "list_spaces",
    "list_support_tokens",
    "recent_renders",
    "record_renders",
    "revoke_support_token",
    "save_connection",
    "space_config",
    "touch_support_token",
]
