"""The Service Management stand-in behaves as a server would when its caller dies mid-request."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests

from tests.jsm_standin import JsmStandIn

COMMENTS = "/rest/servicedeskapi/request/SUP-1/comment"


@pytest.fixture
def standin() -> Iterator[JsmStandIn]:
    server = JsmStandIn().start()
    try:
        yield server
    finally:
        server.stop()


def test_a_request_cut_short_is_neither_answered_nor_recorded(
    standin: JsmStandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    address = urlsplit(standin.base_url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        sock.sendall(
            f"POST {COMMENTS} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            'Content-Length: 40\r\n\r\n{"body": '.encode()
        )
        sock.shutdown(socket.SHUT_WR)  # the caller is killed: the rest never comes
        assert sock.recv(100) == b""  # closed without an answer

    answer = requests.post(
        f"{standin.base_url}{COMMENTS}", json={"body": "whole", "public": False}, timeout=10
    )

    assert answer.status_code == 201
    assert [comment["body"] for comment in standin.comments["SUP-1"]] == ["whole"]
    assert "Traceback" not in capsys.readouterr().err
