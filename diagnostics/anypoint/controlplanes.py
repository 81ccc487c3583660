"""Anypoint control planes: their API hosts and their public status pages."""

from __future__ import annotations

from types import MappingProxyType
from urllib.parse import urlsplit

from diagnostics.errors import ConfigurationError

CONTROL_PLANE_URLS = MappingProxyType(
    {
        "us": "https://anypoint.mulesoft.com",
        "eu": "https://eu1.anypoint.mulesoft.com",
        "gov": "https://gov.anypoint.mulesoft.com",
    }
)

STATUS_PAGE_URLS = MappingProxyType(
    {
        "us": "https://status.mulesoft.com",
        "eu": "https://eu1-status.mulesoft.com",
        "gov": "https://gov-status.mulesoft.com",
    }
)

CUSTOM = "custom"


def resolve_base_url(control_plane: str, base_url: str | None = None) -> str:
    """The API base URL (scheme and host, no trailing slash) for a connection.

    ``base_url`` wins over the control plane's host when given (simulator, proxies); the
    ``custom`` control plane requires it.
    """
    if base_url:
        return _checked(base_url)
    if control_plane == CUSTOM:
        raise ConfigurationError("the custom control plane needs a base URL")
    try:
        return CONTROL_PLANE_URLS[control_plane]
    except KeyError:
        raise ConfigurationError(f"unknown control plane {control_plane!r}") from None


def status_page_url(control_plane: str) -> str | None:
    """MuleSoft's status page for a control plane; ``None`` for ``custom`` (or an unknown one)."""
    return STATUS_PAGE_URLS.get(control_plane)


def _checked(base_url: str) -> str:
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError("the base URL must be an absolute http(s) URL")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigurationError("the base URL must not carry credentials, a query or a fragment")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
