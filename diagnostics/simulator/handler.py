"""The simulated Anypoint control plane: a pure ``handle(request) -> response`` from a scenario.

:class:`Simulation` does no IO and never sleeps: latency and hanging requests are the transports'
business (:mod:`~diagnostics.simulator.adapter` for a ``requests`` session,
:mod:`~diagnostics.simulator.server` for real HTTP). It answers every path of datasets.md with the
shapes and status codes Anypoint uses, including how it answers a missing grant:

========================================================  =======================================
endpoint family                                            scope missing for that org / environment
========================================================  =======================================
token with wrong client id or secret                       401 ``{"error": "invalid_client"}``
hierarchy                                                  401
organization, environments                                 403
CloudHub, AMC deployments, RTF targets, API Manager         403 ``{"message": "..."}``
Exchange asset search / detail                              200 ``[]`` / 404
========================================================  =======================================

Scenario faults are applied first, in order (:mod:`~diagnostics.simulator.faults`).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from requests.structures import CaseInsensitiveDict

from diagnostics.simulator.faults import Fault, FaultBook
from diagnostics.simulator.generate import ApiInstance, build_organization, stable_uuid
from diagnostics.simulator.scenario import Scenario

TOKEN_PATH = "/accounts/api/v2/oauth2/token"
TOKEN_LIFETIME_S = 3600
DEFAULT_PAGE_LIMIT = 20
RATE_LIMIT = 100
JSON_TYPE = "application/json; charset=utf-8"

_FORBIDDEN = "You do not have permission to access this resource"


@dataclass(frozen=True)
class SimResponse:
    """One answer of the simulation. ``hang``: the transport must never answer (a timeout)."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    hang: bool = False

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class _Request:
    method: str
    path: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]  # case-insensitive
    body: bytes
    origin: str
    params: Mapping[str, str] = field(default_factory=dict)

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


_Handler = Callable[[_Request], SimResponse]
SimRequest = _Request  # what an extra answer receives: method, path, query, headers, params


@dataclass(frozen=True)
class Answer:
    """How the simulated Anypoint answers one more path (a probe added to the catalogue).

    ``pattern`` is a regular expression over the path (named groups become ``request.params``);
    ``respond(simulation, request)`` returns the answer, typically refusing first with
    :meth:`Simulation.refusal` and then answering with :func:`json_answer`.
    """

    method: str
    pattern: str
    respond: Callable[[Simulation, SimRequest], SimResponse]


class Simulation:
    """The simulated Anypoint organization of one scenario.

    Thread-safe: fault counters and issued tokens are guarded by locks; everything else is read
    only after construction.
    """

    def __init__(self, scenario: Scenario, answers: Sequence[Answer] = ()) -> None:
        self.scenario = scenario
        self.data = build_organization(scenario)
        self.faults = FaultBook(scenario.faults)
        self._tokens: dict[str, str] = {}
        self._lock = threading.Lock()
        org = r"(?P<org>[^/]+)"
        env = r"(?P<env>[^/]+)"
        asset = r"(?P<group>[^/]+)/(?P<asset>[^/]+)/(?P<version>[^/]+)"
        apis = rf"/apimanager/api/v1/organizations/{org}/environments/{env}/apis"
        table: list[tuple[str, str, _Handler]] = [
            ("POST", TOKEN_PATH, self._token),
            ("GET", "/accounts/api/me", self._me),
            ("GET", rf"/accounts/api/organizations/{org}", self._organization),
            ("GET", rf"/accounts/api/organizations/{org}/hierarchy", self._hierarchy),
            ("GET", rf"/accounts/api/organizations/{org}/environments", self._environments),
            ("GET", "/exchange/api/v2/assets/search", self._exchange_search),
            ("GET", rf"/exchange/api/v2/assets/{asset}", self._asset_detail),
            (
                "GET",
                rf"/exchange/api/v2/assets/{asset}/files/(?P<classifier>[^/]+)/(?P<packaging>[^/]+)",
                self._asset_file,
            ),
            ("GET", "/cloudhub/api/v2/applications", self._cloudhub_apps),
            (
                "GET",
                rf"/amc/application-manager/api/v2/organizations/{org}/environments/{env}/deployments",
                self._deployments,
            ),
            ("GET", rf"/runtimefabric/api/organizations/{org}/targets", self._targets),
            ("GET", apis, self._apis),
            ("GET", rf"{apis}/(?P<api>[^/]+)/policies", self._policies),
            ("GET", rf"{apis}/(?P<api>[^/]+)/tiers", self._tiers),
            ("GET", rf"{apis}/(?P<api>[^/]+)/contracts", self._contracts),
        ]
        for answer in answers:
            table.append((answer.method, answer.pattern, partial(answer.respond, self)))
        self._routes = [(method, re.compile(pattern), fn) for method, pattern, fn in table]
        self._assets = {(a["groupId"], a["assetId"], a["version"]): a for a in self.data.assets}

    @property
    def latency_s(self) -> float:
        """Seconds the transports add to every answer."""
        return self.scenario.latency_ms / 1000.0

    def handle(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None = None,
        body: bytes | str | None = None,
    ) -> SimResponse:
        """Answer one request (``url`` absolute, with scheme and host)."""
        parts = urlsplit(url)
        if isinstance(body, str):
            body = body.encode()
        request = _Request(
            method=method.upper(),
            path=parts.path or "/",
            query=parse_qs(parts.query, keep_blank_values=True),
            headers=CaseInsensitiveDict(headers or {}),
            body=body or b"",
            origin=f"{parts.scheme or 'http'}://{parts.netloc}",
        )
        fault = self.faults.take(request.method, request.path, request.headers)
        if fault is not None:
            return _fault_answer(fault, request.path)
        allowed = []
        for route_method, pattern, fn in self._routes:
            match = pattern.fullmatch(request.path)
            if match is None:
                continue
            if route_method != request.method:
                allowed.append(route_method)
                continue
            params = {k: unquote(v) for k, v in match.groupdict().items()}
            return fn(replace(request, params=params))
        if allowed:
            return _json(405, {"message": "Method Not Allowed"}, {"Allow": ", ".join(allowed)})
        return _json(404, {"message": f"Cannot {request.method} {request.path}"})

    # -- authentication --------------------------------------------------------------------------

    def token_for(self, client_id: str) -> str:
        """The access token this scenario issues to ``client_id`` (same scenario, same token)."""
        return stable_uuid(self.scenario.name, self.scenario.org.id, "token", client_id)

    def _token(self, req: _Request) -> SimResponse:
        fields = _form(req)
        client_id, client_secret = fields.get("client_id"), fields.get("client_secret")
        basic = _basic_credentials(req.headers.get("Authorization"))
        if basic and not client_id:
            client_id, client_secret = basic
        if fields.get("grant_type") != "client_credentials":
            return _oauth_error(
                400, "unsupported_grant_type", "grant_type must be client_credentials"
            )
        if not client_id or not client_secret:
            return _oauth_error(400, "invalid_request", "client_id and client_secret are required")
        if self.scenario.credentials == "invalid":
            return _oauth_error(401, "invalid_client", "Invalid client credentials")
        token = self.token_for(client_id)
        with self._lock:
            self._tokens[token] = client_id
        body = {"access_token": token, "token_type": "bearer", "expires_in": TOKEN_LIFETIME_S}
        return _json(200, body, {"Cache-Control": "no-store", "Pragma": "no-cache"})

    def _client(self, req: _Request) -> str | None:
        """The client id behind the request's bearer token, if it is one this simulation issued."""
        scheme, _, token = (req.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        with self._lock:
            return self._tokens.get(token.strip())

    def _authenticated(self, req: _Request) -> SimResponse | None:
        """401 unless the request carries a token this simulation issued."""
        return _unauthorized() if self._client(req) is None else None

    # -- Access Management -----------------------------------------------------------------------

    def _me(self, req: _Request) -> SimResponse:
        client_id = self._client(req)
        if client_id is None:
            return _unauthorized()
        client = {"client_id": client_id, "name": "MuleSight", "org_id": self.scenario.org.id}
        return _json(200, {"client": client})

    def _organization(self, req: _Request) -> SimResponse:
        return self._accounts(req, "read:organization", 403, lambda: self.data.organization)

    def _hierarchy(self, req: _Request) -> SimResponse:
        return self._accounts(req, "read:organization", 401, lambda: self.data.hierarchy)

    def _environments(self, req: _Request) -> SimResponse:
        envs = self.data.environments
        return self._accounts(
            req, "read:orgenvironments", 403, lambda: {"data": envs, "total": len(envs)}
        )

    def _accounts(
        self, req: _Request, scope: str, denial: int, body: Callable[[], Any]
    ) -> SimResponse:
        if (answer := self._authenticated(req)) is not None:
            return answer
        if req.params["org"] != self.scenario.org.id or not self.scenario.granted(scope):
            if denial == 401:
                return _unauthorized()
            return _json(403, {"message": _FORBIDDEN})
        return _json(200, body())

    # -- Exchange --------------------------------------------------------------------------------

    def _exchange_search(self, req: _Request) -> SimResponse:
        if (answer := self._authenticated(req)) is not None:
            return answer
        page = _page(req)
        if isinstance(page, SimResponse):
            return page
        org = req.arg("organizationId") or self.scenario.org.id
        if org != self.scenario.org.id or not self.scenario.granted("read:exchange"):
            return _json(200, [])
        offset, limit = page
        return _json(200, self.data.assets[offset : offset + limit])

    def _asset_detail(self, req: _Request) -> SimResponse:
        if (answer := self._authenticated(req)) is not None:
            return answer
        key = (req.params["group"], req.params["asset"], req.params["version"])
        item = self._assets.get(key)
        if item is None or not self.scenario.granted("read:exchange"):
            return _json(404, {"status": 404, "message": "Asset not found"})
        base = f"{req.origin}/exchange/api/v2/assets/{'/'.join(key)}/files"
        files = []
        for entry in self.data.asset_files.get(key, []):
            link = f"{base}/{entry['classifier']}/{entry['packaging']}"
            files.append({**entry, "externalLink": link, "downloadURL": link})
        detail = {
            **item,
            "organization": {"id": self.scenario.org.id, "name": self.scenario.org.name},
            "files": files,
            "dependencies": [],
            "attributes": [],
            "categories": [],
            "customFields": [],
        }
        return _json(200, detail)

    def _asset_file(self, req: _Request) -> SimResponse:
        """A spec or package file (like Exchange's signed download links: no token needed)."""
        p = req.params
        found = self.data.files.get(
            (p["group"], p["asset"], p["version"], p["classifier"], p["packaging"])
        )
        if found is None:
            return _json(404, {"status": 404, "message": "File not found"})
        content_type, content = found
        return SimResponse(
            200, {"Content-Type": content_type, "Content-Length": str(len(content))}, content
        )

    # -- Runtime Manager -------------------------------------------------------------------------

    def _cloudhub_apps(self, req: _Request) -> SimResponse:
        if (answer := self._authenticated(req)) is not None:
            return answer
        env_id = req.headers.get("X-ANYPNT-ENV-ID")
        if not env_id:
            return _json(400, {"message": "The X-ANYPNT-ENV-ID header is required"})
        org_id = req.headers.get("X-ANYPNT-ORG-ID") or self.scenario.org.id
        if (denied := self._env_denial(org_id, env_id, "read:applications")) is not None:
            return denied
        return _json(200, self.data.cloudhub_apps[env_id])

    def _deployments(self, req: _Request) -> SimResponse:
        if (answer := self._authenticated(req)) is not None:
            return answer
        org_id, env_id = req.params["org"], req.params["env"]
        if (denied := self._env_denial(org_id, env_id, "read:applications")) is not None:
            return denied
        items = self.data.deployments[env_id]
        return _json(200, {"total": len(items), "items": items})

    def _targets(self, req: _Request) -> SimResponse:
        if (answer := self._authenticated(req)) is not None:
            return answer
        if req.params["org"] != self.scenario.org.id or not self.scenario.granted(
            "read:runtime_fabrics"
        ):
            return _json(403, {"message": _FORBIDDEN})
        return _json(200, self.data.targets)

    def refusal(self, req: SimRequest, scope: str, env_id: str | None = None) -> SimResponse | None:
        """How Anypoint refuses ``req``: 401 without a token this simulation issued, 403 when
        ``scope`` is not granted for the organization (or ``env_id``); ``None`` to answer it."""
        if (answer := self._authenticated(req)) is not None:
            return answer
        org_id = req.params.get("org") or req.headers.get("X-ANYPNT-ORG-ID") or self.scenario.org.id
        if env_id is None:
            if org_id != self.scenario.org.id or not self.scenario.granted(scope):
                return _json(403, {"message": _FORBIDDEN})
            return None
        return self._env_denial(org_id, env_id, scope)

    def _env_denial(self, org_id: str, env_id: str, scope: str) -> SimResponse | None:
        """403 unless the organization is ours, the environment exists and the scope is granted."""
        if org_id != self.scenario.org.id or env_id not in self.data.apis:
            return _json(403, {"message": _FORBIDDEN})
        if not self.scenario.granted(scope, env_id):
            return _json(403, {"message": _FORBIDDEN})
        return None

    # -- API Manager -----------------------------------------------------------------------------

    def _apis(self, req: _Request) -> SimResponse:
        """API instances grouped by asset; ``offset``, ``limit`` and ``total`` count the groups."""
        if (answer := self._authenticated(req)) is not None:
            return answer
        org_id, env_id = req.params["org"], req.params["env"]
        if (denied := self._env_denial(org_id, env_id, "read:api_configuration")) is not None:
            return denied
        page = _page(req)
        if isinstance(page, SimResponse):
            return page
        groups: dict[tuple[str, str], list[ApiInstance]] = {}
        for api in self.data.apis[env_id]:
            groups.setdefault((api.asset.group_id, api.asset.asset_id), []).append(api)
        offset, limit = page
        assets = [
            {
                "groupId": group_id,
                "assetId": asset_id,
                "exchangeAssetName": apis[0].asset.name or asset_id,
                "organizationId": self.scenario.org.id,
                "masterOrganizationId": self.scenario.org.id,
                "totalApis": len(apis),
                "apis": [api.body for api in apis],
            }
            for (group_id, asset_id), apis in list(groups.items())[offset : offset + limit]
        ]
        return _json(200, {"total": len(groups), "assets": assets})

    def _policies(self, req: _Request) -> SimResponse:
        return self._api_child(
            req, "read:api_policies", lambda api: {"policies": self.data.policies[api]}
        )

    def _tiers(self, req: _Request) -> SimResponse:
        return self._api_child(
            req, "read:api_contracts", lambda api: _listing("tiers", self.data.tiers[api])
        )

    def _contracts(self, req: _Request) -> SimResponse:
        return self._api_child(
            req, "read:api_contracts", lambda api: _listing("contracts", self.data.contracts[api])
        )

    def _api_child(self, req: _Request, scope: str, body: Callable[[int], Any]) -> SimResponse:
        if (answer := self._authenticated(req)) is not None:
            return answer
        org_id, env_id = req.params["org"], req.params["env"]
        if (denied := self._env_denial(org_id, env_id, scope)) is not None:
            return denied
        api_id = int(req.params["api"]) if req.params["api"].isdigit() else None
        api = self.data.api_by_id.get(api_id) if api_id is not None else None
        if api is None or api.environment_id != env_id:
            return _json(404, {"message": f"API {req.params['api']} not found"})
        return _json(200, body(api.id))


# -- answers -----------------------------------------------------------------------------------


def json_answer(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> SimResponse:
    """A JSON answer as Anypoint sends it."""
    return _json(status, payload, headers)


def _json(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> SimResponse:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return SimResponse(
        status,
        {"Content-Type": JSON_TYPE, "Content-Length": str(len(body)), **(headers or {})},
        body,
    )


def _unauthorized() -> SimResponse:
    return _json(401, {"message": "Unauthorized"}, {"WWW-Authenticate": "Bearer"})


def _oauth_error(status: int, error: str, description: str) -> SimResponse:
    return _json(status, {"error": error, "error_description": description})


def _listing(key: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"total": len(items), key: items}


def _fault_answer(fault: Fault, path: str) -> SimResponse:
    """What a fault answers: a hang, or its status with its body (JSON or text) and headers."""
    if fault.timeout:
        return SimResponse(504, {}, b"", hang=True)
    status = fault.status or 500
    body = fault.body
    if body is None:
        body = {"message": reason_phrase(status) or "Error"}
    if isinstance(body, str):
        content = body.encode()
        headers = {"Content-Type": "text/plain; charset=utf-8", "Content-Length": str(len(content))}
    else:
        content = json.dumps(dict(body), separators=(",", ":")).encode()
        headers = {"Content-Type": JSON_TYPE, "Content-Length": str(len(content))}
    if status == 429:
        headers["Retry-After"] = "1"
    if status == 503 and path.startswith("/accounts/"):
        at_capacity = b"capacity" in content.lower()
        headers["X-RateLimit-Limit"] = str(RATE_LIMIT)
        headers["X-RateLimit-Remaining"] = "0" if at_capacity else str(RATE_LIMIT - 1)
        headers["X-RateLimit-Reset"] = str(int(time.time()) + 1)
    headers.update(fault.headers)
    return SimResponse(status, headers, content)


def reason_phrase(status: int) -> str:
    """``503`` → ``Service Unavailable``; an unregistered status → ``""``."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


# -- request parsing ---------------------------------------------------------------------------


def _page(req: _Request) -> tuple[int, int] | SimResponse:
    """(offset, limit) from the query, or a 400 answer."""
    values = []
    for name, default, minimum in (("offset", 0, 0), ("limit", DEFAULT_PAGE_LIMIT, 1)):
        raw = req.arg(name)
        if raw is None or raw == "":
            values.append(default)
            continue
        if not raw.isdigit() or int(raw) < minimum:
            return _json(400, {"message": f"{name} must be an integer of at least {minimum}"})
        values.append(int(raw))
    return values[0], values[1]


def _form(req: _Request) -> dict[str, str]:
    """The token call's fields: a form body, or JSON."""
    content_type = (req.headers.get("Content-Type") or "").lower()
    text = req.body.decode("utf-8", errors="replace")
    if "json" in content_type:
        try:
            payload = json.loads(text or "{}")
        except ValueError:
            return {}
        return {str(k): str(v) for k, v in payload.items()} if isinstance(payload, dict) else {}
    return {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    scheme, _, value = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    return (client_id, secret) if sep else None
