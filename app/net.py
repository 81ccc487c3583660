"""Outbound HTTP from the service to URLs a tenant (or a token) names: public addresses only.

Server-side request forgery defence. A URL is judged on what its host *resolves to*, not on its
text: ``127.1``, ``2130706433``, ``0x7f000001``, ``017700000001``, ``[::1]``,
``[::ffff:127.0.0.1]`` and a DNS name pointing at ``10.0.0.5`` are all the same refusal.

- :func:`check_url` — at save time (``PUT /forge/v1/connection``): the host is resolved and every
  address must be public.
- :func:`guarded_session` — at connect time: a ``requests`` session whose connections resolve the
  host *once*, check every address, and connect to the checked address (TLS still verifies the
  host name), so a DNS answer that changes between the check and the connect (DNS rebinding)
  cannot swap in an internal address. Redirects go through the same check; environment proxies
  are not used (the check would judge the proxy, not the destination).

Refused: loopback, private (RFC 1918, ULA), link-local, multicast, reserved, unspecified, shared
(CGNAT) and every other non-global range, including IPv4 embedded in IPv6 (mapped, 6to4, Teredo).
``MULESIGHT_OUTBOUND_ALLOW`` (comma-separated networks, e.g. ``127.0.0.0/8,::1/128``) is the one
explicit exception, for local development and tests; it is empty by default.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util import connection as urllib3_connection

from diagnostics.errors import DestinationRefused

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
ALLOW_SETTING = "MULESIGHT_OUTBOUND_ALLOW"


class BlockedDestination(DestinationRefused):
    """An outbound URL whose host is (or resolves to) an address the service must not call.

    The message is safe to show: it names the host and why, never a credential. A diagnostics
    run reports it as a finding (the engine knows its base class), not as a crashed probe.
    """

    def __init__(self, host: str, reason: str) -> None:
        super().__init__(
            host,
            reason,
            f"Refused to connect to {host}: {reason}. MuleSight only calls public internet "
            "addresses; use the public host name of the service.",
        )


def blocked_reason(address: IPAddress) -> str | None:
    """Why ``address`` is not a public destination (``None`` when it is)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo or (None, None))[1]
        if embedded is not None:
            reason = blocked_reason(embedded)
            return f"{reason} (embedded in {address})" if reason else None
    checks = (
        ("an unspecified address", address.is_unspecified),
        ("a loopback address", address.is_loopback),
        ("a link-local address", address.is_link_local),
        ("a multicast address", address.is_multicast),
        ("a private address", address.is_private),
        ("a reserved address", address.is_reserved),
        ("not a public internet address", not address.is_global),
    )
    for name, hit in checks:
        if hit:
            return f"{address} is {name}"
    return None


def parse_networks(value: str | Iterable[str] | None) -> tuple[IPNetwork, ...]:
    """``"127.0.0.0/8, ::1"`` (or a list) as networks; raises ``ValueError`` on a bad entry."""
    if not value:
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)
    return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in items if item.strip())


def _address(text: str) -> IPAddress:
    return ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone id


@dataclass(frozen=True)
class OutboundPolicy:
    """Which destinations outbound calls may reach: public ones, plus ``allowed`` networks."""

    allowed: tuple[IPNetwork, ...] = ()

    def refusal(self, address: IPAddress) -> str | None:
        if any(address.version == net.version and address in net for net in self.allowed):
            return None
        return blocked_reason(address)

    def resolve(self, host: str, port: int) -> list[IPAddress]:
        """Every address of ``host``, each checked; raises :class:`BlockedDestination`.

        Raises ``socket.gaierror`` when the name does not resolve.
        """
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses = list(dict.fromkeys(_address(str(info[4][0])) for info in infos))
        for address in addresses:
            reason = self.refusal(address)
            if reason:
                raise BlockedDestination(host, reason)
        return addresses


def outbound_policy(config: Mapping[str, Any]) -> OutboundPolicy:
    """The policy of a Flask config (``MULESIGHT_OUTBOUND_ALLOW``)."""
    return OutboundPolicy(parse_networks(config.get(ALLOW_SETTING)))


def check_url(url: str, policy: OutboundPolicy, *, resolve: bool = True) -> None:
    """Refuse a URL whose host is, or resolves to, a non-public address.

    A name that does not resolve (yet) passes here; the connect-time check still applies.
    """
    parts = urlsplit(url)
    host = parts.hostname
    if not host:
        raise BlockedDestination(url, "the URL has no host")
    if host.rstrip(".").lower() == "localhost" or host.lower().endswith(".localhost"):
        raise BlockedDestination(host, "localhost is this machine")
    try:
        address = _address(host)
    except ValueError:
        address = None
    if address is not None:
        reason = policy.refusal(address)
        if reason:
            raise BlockedDestination(host, reason)
        return
    if resolve:
        try:
            policy.resolve(host, parts.port or (443 if parts.scheme == "https" else 80))
        except (socket.gaierror, UnicodeError):
            return


# -- connect-time enforcement --------------------------------------------------------------------


class _GuardedConnectionMixin:
    """Resolve once, check, connect to the checked address (hostname kept for TLS and Host)."""

    outbound_policy: OutboundPolicy = OutboundPolicy()
    _dns_host: str
    host: str
    port: int
    timeout: Any
    source_address: Any
    socket_options: Any

    def _new_conn(self) -> socket.socket:
        try:
            addresses = self.outbound_policy.resolve(self._dns_host, self.port)
        except socket.gaierror as exc:
            raise NewConnectionError(self, f"cannot resolve {self.host}: {exc}") from exc  # type: ignore[arg-type]  # mixed into HTTPConnection only
        last: OSError | None = None
        for address in addresses:
            try:
                return urllib3_connection.create_connection(
                    (str(address), self.port),
                    self.timeout,
                    source_address=self.source_address,
                    socket_options=self.socket_options,
                )
            except TimeoutError as exc:
                raise ConnectTimeoutError(self, f"connecting to {self.host} timed out") from exc
            except OSError as exc:
                last = exc
        raise NewConnectionError(self, f"failed to connect to {self.host}: {last}")  # type: ignore[arg-type]  # mixed into HTTPConnection only


def _pool_classes(policy: OutboundPolicy) -> dict[str, type]:
    attrs = {"outbound_policy": policy}
    http = type("GuardedHTTPConnection", (_GuardedConnectionMixin, HTTPConnection), attrs)
    https = type("GuardedHTTPSConnection", (_GuardedConnectionMixin, HTTPSConnection), attrs)
    return {
        "http": type("GuardedHTTPConnectionPool", (HTTPConnectionPool,), {"ConnectionCls": http}),
        "https": type(
            "GuardedHTTPSConnectionPool", (HTTPSConnectionPool,), {"ConnectionCls": https}
        ),
    }


class GuardedAdapter(HTTPAdapter):
    """A transport adapter whose every new connection passes :class:`OutboundPolicy`."""

    def __init__(self, policy: OutboundPolicy, **kwargs: Any) -> None:
        self.outbound_policy = policy
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _pool_classes(self.outbound_policy)


def guarded_session(
    policy: OutboundPolicy | None = None, *, pool_maxsize: int = 32
) -> requests.Session:
    """A session for tenant-chosen destinations (see the module docstring)."""
    session = requests.Session()
    session.trust_env = False
    adapter = GuardedAdapter(policy or OutboundPolicy(), pool_maxsize=pool_maxsize)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
