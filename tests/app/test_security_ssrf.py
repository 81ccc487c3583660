"""SSRF: outbound URLs that a tenant chooses are judged on what they resolve to, when saved and
again when connected; redirects are not followed. See docs/security.md."""

from __future__ import annotations

import http.server
import json
import logging
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
import responses
from flask import Flask
from flask.testing import FlaskClient

from app import storage
from app.confluence import find_macro_pages
from app.net import (
    BlockedDestination,
    OutboundPolicy,
    blocked_reason,
    check_url,
    guarded_session,
    parse_networks,
)
from app.services import runs
from app.tickets.base import TicketError
from app.tickets.jsm import JsmConnector
from diagnostics.anypoint import AnypointClient
from diagnostics.errors import InvalidResponseError
from diagnostics.model import Connection
from tests.app.conftest import CLOUDS, SITE_A, make_app

Headers = Callable[..., dict[str, str]]
PUBLIC_IP = "93.184.216.34"

# Every way to write loopback, private, link-local, multicast and reserved addresses.
REFUSED_HOSTS = [
    "127.1",
    "2130706433",
    "0x7f000001",
    "017700000001",
    "127.0.0.1",
    "0.0.0.0",
    "localhost",
    "[::1]",
    "[::ffff:127.0.0.1]",
    "[::ffff:7f00:1]",
    "[2002:7f00:1::]",  # 6to4 wrapping 127.0.0.1
    "10.0.0.8",
    "172.16.0.1",
    "192.168.1.1",
    "100.64.0.1",  # shared address space (CGNAT)
    "169.254.169.254",  # cloud metadata
    "[fe80::1]",
    "[fd00::1]",
    "224.0.0.1",
    "[ff02::1]",
    "240.0.0.1",
    "255.255.255.255",
]


def connection_body(base_url: str) -> dict[str, Any]:
    return {
        "space_key": "OPS",
        "client_id": "client-1",
        "client_secret": "s3cret-value",
        "control_plane": "custom",
        "base_url": base_url,
    }


class FakeDns:
    """``socket.getaddrinfo`` answering chosen addresses for chosen names (others: unchanged)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.answers: dict[str, str] = {}
        self.lookups: list[str] = []
        real = socket.getaddrinfo

        def fake(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
            if host in self.answers:
                self.lookups.append(host)
                address = self.answers[host]
                family = socket.AF_INET6 if ":" in address else socket.AF_INET
                return [(family, socket.SOCK_STREAM, 6, "", (address, port or 0))]
            return real(host, port, *args, **kwargs)

        monkeypatch.setattr(socket, "getaddrinfo", fake)


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> FakeDns:
    return FakeDns(monkeypatch)


class _Counting(http.server.BaseHTTPRequestHandler):
    hits = 0

    def do_GET(self) -> None:
        type(self).hits += 1
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def local_server() -> Iterator[tuple[int, type[_Counting]]]:
    """An HTTP server on 127.0.0.1 that counts the requests it gets."""
    handler = type("Handler", (_Counting,), {"hits": 0})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], handler
    finally:
        server.shutdown()
        server.server_close()


# -- the address rule ----------------------------------------------------------------------------


@pytest.mark.parametrize("host", REFUSED_HOSTS)
def test_every_notation_of_an_internal_address_is_refused(host: str) -> None:
    with pytest.raises(BlockedDestination) as caught:
        check_url(f"https://{host}:8443/", OutboundPolicy())
    assert "Refused to connect" in str(caught.value)


def test_public_addresses_pass() -> None:
    for host in ("8.8.8.8", "[2001:4860:4860::8888]"):
        check_url(f"https://{host}/", OutboundPolicy())
    assert blocked_reason(__import__("ipaddress").ip_address(PUBLIC_IP)) is None


def test_the_allow_list_is_explicit_and_exact() -> None:
    policy = OutboundPolicy(parse_networks("127.0.0.0/8, ::1"))
    check_url("https://127.1/", policy)
    check_url("https://[::1]/", policy)
    with pytest.raises(BlockedDestination):
        check_url("https://10.0.0.1/", policy)
    with pytest.raises(ValueError):
        parse_networks("not-a-network")


# -- at save time: PUT /forge/v1/connection ------------------------------------------------------


@pytest.mark.parametrize("host", REFUSED_HOSTS)
def test_saving_an_internal_custom_control_plane_is_a_422(
    client: FlaskClient, forge_headers: Headers, host: str
) -> None:
    response = client.put(
        "/forge/v1/connection",
        json=connection_body(f"https://{host}:8443"),
        headers=forge_headers(),
    )
    assert response.status_code == 422, response.json["problem"]
    message = str(response.json["error"]["fields"]["base_url"])
    assert "Refused to connect" in message or "public host" in message
    assert (
        client.get(
            "/forge/v1/connection", query_string={"space_key": "OPS"}, headers=forge_headers()
        ).status_code
        == 404
    )


def test_a_name_that_resolves_to_a_private_address_is_refused(
    client: FlaskClient, forge_headers: Headers, dns: FakeDns
) -> None:
    dns.answers["anypoint.attacker.example"] = "10.1.2.3"
    dns.answers["v6.attacker.example"] = "::ffff:169.254.169.254"
    for name in dns.answers:
        response = client.put(
            "/forge/v1/connection",
            json=connection_body(f"https://{name}"),
            headers=forge_headers(),
        )
        assert response.status_code == 422
        assert "is a private address" in str(response.json) or "link-local" in str(response.json)
    assert dns.lookups == list(dns.answers)


def test_a_name_that_resolves_to_a_public_address_is_saved(
    client: FlaskClient, forge_headers: Headers, dns: FakeDns
) -> None:
    dns.answers["anypoint.customer.example"] = PUBLIC_IP
    response = client.put(
        "/forge/v1/connection",
        json=connection_body("https://anypoint.customer.example"),
        headers=forge_headers(),
    )
    assert response.status_code == 200
    assert response.json["base_url"] == "https://anypoint.customer.example"


# -- at connect time: DNS rebinding ----------------------------------------------------------------


def test_a_name_rebound_to_loopback_after_saving_is_refused_on_connect(
    app_config: dict[str, Any],
    forge_keys: Any,
    forge_headers: Headers,
    dns: FakeDns,
    local_server: tuple[int, type[_Counting]],
) -> None:
    port, handler = local_server
    app = make_app({**app_config, "MULESIGHT_ANYPOINT_MODE": "live"})
    client = app.test_client()
    name = "rebind.attacker.example"
    dns.answers[name] = PUBLIC_IP  # when saved
    saved = client.put(
        "/forge/v1/connection",
        json=connection_body(f"https://{name}:{port}"),
        headers=forge_headers(),
    )
    assert saved.status_code == 200
    dns.answers[name] = "127.0.0.1"  # then the attacker changes the DNS answer
    forge_keys.mock.add_passthru(f"https://{name}:{port}")
    response = client.post(
        "/forge/v1/connection/test", json={"space_key": "OPS"}, headers=forge_headers()
    )
    assert response.status_code == 422
    assert response.json["error"]["code"] == "destination_refused"
    assert "127.0.0.1 is a loopback address" in response.json["error"]["message"]
    assert "s3cret-value" not in response.get_data(as_text=True)
    assert handler.hits == 0  # nothing, not even the token call, reached the address
    app.extensions["db"].dispose()


def test_the_guarded_session_connects_to_the_checked_address_only(
    dns: FakeDns, local_server: tuple[int, type[_Counting]]
) -> None:
    port, handler = local_server
    dns.answers["dev.example"] = "127.0.0.1"
    with guarded_session() as session, pytest.raises(BlockedDestination):
        session.get(f"http://dev.example:{port}/", timeout=5)
    assert handler.hits == 0
    allowed = OutboundPolicy(parse_networks("127.0.0.0/8"))
    with guarded_session(allowed) as session:
        answer = session.get(f"http://dev.example:{port}/", timeout=5)
    assert answer.json() == {"ok": True} and handler.hits == 1


def test_redirects_through_a_guarded_session_are_checked_too(
    local_server: tuple[int, type[_Counting]], dns: FakeDns
) -> None:
    port, handler = local_server
    dns.answers["public.example"] = PUBLIC_IP
    with responses.RequestsMock() as mock:
        mock.get(
            "https://public.example/start",
            status=302,
            headers={"Location": f"http://127.0.0.1:{port}/"},
        )
        mock.add_passthru(f"http://127.0.0.1:{port}")
        with guarded_session() as session, pytest.raises(BlockedDestination):
            session.get("https://public.example/start", timeout=5)
    assert handler.hits == 0


# -- the Anypoint client does not follow redirects -------------------------------------------------


@responses.activate
def test_the_anypoint_client_does_not_follow_a_redirect() -> None:
    responses.post(
        "https://anypoint.mulesoft.com/accounts/api/v2/oauth2/token",
        status=307,
        headers={"Location": "https://collector.attacker.example/steal"},
    )
    connection = Connection(client_id="id", client_secret="s3cret-value", control_plane="us")
    with AnypointClient(connection) as client, pytest.raises(InvalidResponseError) as caught:
        client.authenticate()
    assert "redirected to collector.attacker.example" in str(caught.value)
    assert [call.request.url for call in responses.calls] == [
        "https://anypoint.mulesoft.com/accounts/api/v2/oauth2/token"
    ]


# -- Confluence and Service Management -------------------------------------------------------------


def test_confluence_search_refuses_an_internal_site() -> None:
    with pytest.raises(BlockedDestination):
        find_macro_pages("https://0x7f000001", "app-token", space_key="OPS", timeout=2)


def test_jsm_refuses_an_internal_site() -> None:
    connector = JsmConnector("https://169.254.169.254", "bot@example.com", "api-token", "1")
    with pytest.raises(TicketError) as caught:
        connector.add_comment("SUP-1", "hello", public=False)
    assert "link-local" in str(caught.value) and caught.value.retryable is False
    assert "api-token" not in str(caught.value)


def test_the_jsm_allow_list_reaches_a_local_site(local_server: tuple[int, type[_Counting]]) -> None:
    port, handler = local_server
    policy = OutboundPolicy(parse_networks("127.0.0.1/32"))
    connector = JsmConnector(
        f"http://127.0.0.1:{port}", "bot@example.com", "t", "1", outbound_policy=policy
    )
    with pytest.raises(TicketError):  # the counting server's answer is no comment
        connector.add_comment("SUP-1", "hello", public=False)
    assert handler.hits == 1


def test_requests_exceptions_are_not_swallowed() -> None:
    """The refusal is its own exception: not a connection error that would be retried."""
    assert not issubclass(BlockedDestination, requests.RequestException)


# -- a run whose Anypoint host is refused: one plain finding, no crashed probes --------------------


def test_a_run_against_a_loopback_anypoint_host_is_one_root_cause(
    app: Flask, local_server: tuple[int, type[_Counting]], caplog: pytest.LogCaptureFixture
) -> None:
    port, handler = local_server
    assert not app.config.get("MULESIGHT_OUTBOUND_ALLOW")  # the default policy
    with app.extensions["db"].session() as session:
        storage.ensure_installation(session, SITE_A, CLOUDS[SITE_A])
        space = storage.save_connection(
            session,
            app.extensions["secret_box"],
            SITE_A,
            space_key="OPS",
            client_id="client-1",
            control_plane="custom",
            base_url=f"https://127.0.0.1:{port}",  # as if saved before the rule existed
            sync_interval_hours=24,
            client_secret="s3cret-value",
        )
        session.commit()
        with caplog.at_level(logging.DEBUG):
            run = runs.run_for_space(
                session,
                space,
                config={**app.config, "MULESIGHT_ANYPOINT_MODE": "live"},
                box=app.extensions["secret_box"],
                requested_by="test",
            )
    report = run.report
    assert report["root_causes"] == ["anypoint.destination_refused"]
    refused = report["findings"][0]
    assert refused["key"] == "anypoint.destination_refused"
    assert (refused["status"], refused["owner"]) == ("fail", "customer_admin")
    assert refused["title"] == "MuleSight refused to connect to the Anypoint host 127.0.0.1"
    assert "127.0.0.1 is a loopback address" in refused["detail"]
    assert "public host name" in refused["remediation"]
    assert "MULESIGHT_OUTBOUND_ALLOW" in refused["remediation"]
    # everything else follows from it, folded beneath; no outage, no unanswered environment
    assert all(f["root"] == "anypoint.destination_refused" for f in report["findings"])
    assert {f["id"] for f in report["findings"]}.isdisjoint(
        {"upstream.outage", "anypoint.unreachable", "credentials.invalid"}
    )
    assert report["upstream"]["suspected"] is False
    assert report["verdict"] == "broken"
    token = report["datasets"]["diagnostics"]["probes"][0]
    assert token["outcome"] == "error" and "loopback" in token["message"]
    assert "crashed" not in caplog.text and "Traceback" not in caplog.text
    assert handler.hits == 0  # not even the token call reached the address
    assert "s3cret-value" not in json.dumps(report)


def test_the_connection_test_still_answers_a_refused_host_with_a_422(
    app_config: dict[str, Any],
    forge_keys: Any,
    forge_headers: Headers,
    local_server: tuple[int, type[_Counting]],
) -> None:
    port, handler = local_server
    app = make_app({**app_config, "MULESIGHT_ANYPOINT_MODE": "live"})
    with app.extensions["db"].session() as session:
        storage.ensure_installation(session, SITE_A, CLOUDS[SITE_A])
        storage.save_connection(
            session,
            app.extensions["secret_box"],
            SITE_A,
            space_key="OPS",
            client_id="client-1",
            control_plane="custom",
            base_url=f"https://[::1]:{port}",
            sync_interval_hours=24,
            client_secret="s3cret-value",
        )
        session.commit()
    forge_keys.mock.add_passthru(f"https://[::1]:{port}")
    response = app.test_client().post(
        "/forge/v1/connection/test", json={"space_key": "OPS"}, headers=forge_headers()
    )
    assert response.status_code == 422
    assert response.json["error"]["code"] == "destination_refused"
    assert "::1 is a loopback address" in response.json["error"]["message"]
    assert handler.hits == 0
    app.extensions["db"].dispose()
