"""Anypoint Platform over HTTP: the client, its retry and rate-limit policies, payload shapes.

This package is the engine's only HTTP boundary; see :mod:`diagnostics.anypoint.client`.
"""

from __future__ import annotations

from diagnostics.anypoint import shapes
from diagnostics.anypoint.client import (
    DEFAULT_TIMEOUT,
    TOKEN_PATH,
    AnypointClient,
    ApiResult,
    CachedToken,
    new_token_cache,
)
from diagnostics.anypoint.controlplanes import (
    CONTROL_PLANE_URLS,
    STATUS_PAGE_URLS,
    resolve_base_url,
    status_page_url,
)
from diagnostics.anypoint.ratelimit import HostRateLimiter, RateLimiter
from diagnostics.anypoint.retry import RetryPolicy

__all__ = [
    "CONTROL_PLANE_URLS",
    "DEFAULT_TIMEOUT",
    "STATUS_PAGE_URLS",
    "TOKEN_PATH",
    "AnypointClient",
    "ApiResult",
    "CachedToken",
    "HostRateLimiter",
    "RateLimiter",
    "RetryPolicy",
    "new_token_cache",
    "resolve_base_url",
    "shapes",
    "status_page_url",
]
