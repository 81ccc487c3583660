"""A ``requests`` transport that answers from a :class:`~diagnostics.simulator.handler.Simulation`.

Mount it on a session (:func:`simulated_session` does) and the client code sees real
``requests.Response`` objects — status, headers, streamed body, ``url``, ``request``, encoding —
and real ``requests`` exceptions: a hanging request sleeps the caller's read timeout, then raises
:class:`requests.exceptions.ReadTimeout`, as a silent server would.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from email.utils import formatdate
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.exceptions import ReadTimeout
from requests.models import PreparedRequest, Response
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers
from urllib3 import HTTPResponse
from urllib3.util import Timeout

from diagnostics.anypoint.controlplanes import CONTROL_PLANE_URLS
from diagnostics.simulator.handler import Answer, SimResponse, Simulation, reason_phrase
from diagnostics.simulator.scenario import Scenario

DEFAULT_HANG_S = 60.0

TimeoutArg = float | tuple[float | None, float | None] | Timeout | None


class ScenarioAdapter(BaseAdapter):
    """Answers every request it is given from ``simulation``; sleeps the scenario's latency.

    ``hang_s`` bounds a hanging request when the caller gave no read timeout.
    """

    def __init__(
        self,
        simulation: Simulation,
        *,
        hang_s: float = DEFAULT_HANG_S,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__()
        self.simulation = simulation
        self.hang_s = hang_s
        self._sleep = sleep

    def send(
        self,
        request: PreparedRequest,
        stream: bool = False,
        timeout: TimeoutArg = None,
        verify: bool | str = True,
        cert: Any = None,
        proxies: Mapping[str, str] | None = None,
    ) -> Response:
        answer = self.simulation.handle(
            request.method or "GET", request.url or "", dict(request.headers), _body(request.body)
        )
        if answer.hang:
            read = _read_timeout(timeout)
            self._sleep(read if read is not None else self.hang_s)
            host = urlsplit(request.url or "").netloc
            raise ReadTimeout(f"{host}: Read timed out. (read timeout={read})", request=request)
        if self.simulation.latency_s:
            self._sleep(self.simulation.latency_s)
        return self.build_response(request, answer)

    def build_response(self, request: PreparedRequest, answer: SimResponse) -> Response:
        """A ``requests.Response`` as ``HTTPAdapter`` would build it from the wire."""
        reason = reason_phrase(answer.status)
        headers = {"Date": formatdate(usegmt=True), **answer.headers}
        raw = HTTPResponse(
            body=io.BytesIO(answer.body),
            headers=headers,
            status=answer.status,
            version=11,
            version_string="HTTP/1.1",
            reason=reason,
            preload_content=False,
            decode_content=False,
            request_method=request.method,
            request_url=request.url,
        )
        response = Response()
        response.status_code = answer.status
        response.headers = CaseInsensitiveDict(headers)
        response.encoding = get_encoding_from_headers(response.headers)
        response.raw = raw
        response.reason = reason
        response.url = request.url or ""
        response.request = request
        # requests stores whichever adapter sent the request; its stub allows only HTTPAdapter.
        response.connection = self  # type: ignore[assignment]  # see the line above
        return response

    def close(self) -> None:
        """Nothing to release: no sockets, no pools."""


def simulated_session(
    scenario: Scenario, base_url: str | None = None, *, answers: Sequence[Answer] = ()
) -> requests.Session:
    """A session whose requests to ``base_url`` (default: the scenario's control plane) are
    answered by a new :class:`Simulation` of ``scenario`` (with ``answers`` for added paths)."""
    base = (base_url or CONTROL_PLANE_URLS[scenario.control_plane]).rstrip("/")
    session = requests.Session()
    session.mount(f"{base}/", ScenarioAdapter(Simulation(scenario, answers)))
    return session


def _body(body: bytes | str | Iterable[bytes | str] | None) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    return b"".join(chunk.encode() if isinstance(chunk, str) else chunk for chunk in body)


def _read_timeout(timeout: TimeoutArg) -> float | None:
    if isinstance(timeout, Timeout):
        value = timeout.read_timeout
        return float(value) if isinstance(value, int | float) else None
    if isinstance(timeout, tuple):
        return None if timeout[1] is None else float(timeout[1])
    return None if timeout is None else float(timeout)
