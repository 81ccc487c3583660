"""Endpoints of a REST asset: its spec file from Exchange, read into HTTP methods and paths.

:func:`fetch_endpoints` reads an Exchange asset's detail, picks its spec file (OAS JSON / YAML,
or RAML), downloads it and parses it; :func:`parse_oas` and :func:`parse_raml` do the parsing
and :func:`answer_endpoint_question` matches a Rovo question ("which method creates an order?")
against the result.

A spec that cannot be read raises :class:`~diagnostics.errors.InvalidResponseError` with a short
message; nothing here crashes on a malformed file.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests
import yaml

from diagnostics.anypoint import AnypointClient
from diagnostics.catalogue import PROBES_BY_KEY
from diagnostics.errors import (
    AnypointConnectionError,
    AnypointError,
    AnypointTimeout,
    ClientRequestError,
    ForbiddenError,
    InvalidResponseError,
    NotFoundError,
    RateLimitedError,
    UpstreamError,
)

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# Preferred spec files: an OAS before a RAML, a plain file before a zip.
SPEC_CLASSIFIERS = ("oas", "fat-oas", "raml", "fat-raml")
_SPEC_SUFFIXES = (".json", ".yaml", ".yml", ".raml")
MAX_SPEC_MB = 20
MAX_SPEC_BYTES = MAX_SPEC_MB * 1024 * 1024


@dataclass(frozen=True)
class Endpoint:
    method: str  # upper case: GET, POST, ...
    path: str
    summary: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "path": self.path, "summary": self.summary}


@dataclass(frozen=True)
class EndpointsSpec:
    """One Exchange asset version's endpoints; ``asset`` has groupId, assetId, version, name."""

    asset: dict[str, Any]
    endpoints: list[Endpoint]

    def to_dict(self) -> dict[str, Any]:
        return {"asset": dict(self.asset), "endpoints": [e.to_dict() for e in self.endpoints]}


# -- fetching ----------------------------------------------------------------------------------


def fetch_endpoints(
    client: AnypointClient,
    group_id: str,
    asset_id: str,
    version: str,
    *,
    deadline: float | None = None,
) -> EndpointsSpec:
    """Read an Exchange asset's spec file and list its endpoints.

    Raises the client's errors (a 404 is how Exchange answers a missing ``read:exchange``) and
    :class:`InvalidResponseError` when the asset has no spec file or the file cannot be parsed.
    """
    probe = PROBES_BY_KEY["endpoints.asset_detail"]
    path = probe.path.format(group_id=group_id, asset_id=asset_id, version=version)
    detail = client.get(path, deadline=deadline).data
    if not isinstance(detail, Mapping):
        raise InvalidResponseError(f"GET {path}: unexpected shape for an Exchange asset", path=path)
    asset = {
        "groupId": detail.get("groupId", group_id),
        "assetId": detail.get("assetId", asset_id),
        "version": detail.get("version", version),
        "name": detail.get("name"),
    }
    spec_file = choose_spec_file(detail.get("files"))
    link = _link_of(spec_file) if spec_file is not None else None
    if spec_file is None or link is None:
        raise InvalidResponseError(f"{group_id}/{asset_id}/{version} lists no OAS or RAML file")
    content = download(client, link, deadline=deadline)
    text = _spec_text(content, spec_file)
    return EndpointsSpec(asset, parse_spec(text))


def choose_spec_file(files: Any) -> Mapping[str, Any] | None:
    """The best spec file of an asset's ``files``: by classifier, then plain text before zip."""
    candidates = [
        f
        for f in files or []
        if isinstance(f, Mapping) and f.get("classifier") in SPEC_CLASSIFIERS and _link_of(f)
    ]

    def rank(entry: Mapping[str, Any]) -> tuple[int, int]:
        packaging = str(entry.get("packaging") or "").lower()
        return SPEC_CLASSIFIERS.index(entry["classifier"]), int(packaging == "zip")

    return min(candidates, key=rank, default=None)


def _link_of(entry: Mapping[str, Any]) -> str | None:
    link = entry.get("externalLink") or entry.get("downloadURL")
    return link if isinstance(link, str) and link else None


def download(client: AnypointClient, url: str, *, deadline: float | None = None) -> bytes:
    """A spec file's bytes.

    A link on the client's own host goes through :meth:`AnypointClient.get`, so the token,
    retries and error mapping apply (Exchange serves JSON there). Any other link — Exchange's
    signed download links — is a plain GET on the client's session, with no Authorization.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise InvalidResponseError(f"the spec file link is not an http(s) URL: {parts.scheme!r}")
    if parts.netloc.lower() == client.host:
        params = dict(parse_qsl(parts.query)) or None
        result = client.get(parts.path or "/", params=params, deadline=deadline)
        return json.dumps(result.data).encode()
    return _plain_get(client, url, deadline)


def _plain_get(client: AnypointClient, url: str, deadline: float | None) -> bytes:
    """GET a link on another host through the client's session (its transport, e.g. the
    simulator), mapping failures to the engine's errors as the client does."""
    host = urlsplit(url).netloc
    shown = f"GET {host}{urlsplit(url).path}"  # never the query: signed links carry credentials
    left = client.retry.time_left(deadline)
    if left is not None and left <= 0:
        raise AnypointTimeout(f"{shown}: the time budget ran out", path=shown)
    connect, read = client.timeout
    timeout = (connect, read) if left is None else (min(connect, left), min(read, left))
    session: requests.Session = client._session  # no public raw download on the client yet
    try:
        with session.get(url, timeout=timeout, headers={"Accept": "*/*"}, stream=True) as response:
            if not response.ok:
                status = response.status_code
                cls = _DOWNLOAD_ERRORS.get(status, _fallback_error(status))
                raise cls(f"{shown} answered {status}", status=status, path=shown, attempts=1)
            return _bounded(response.iter_content(64 * 1024), shown)
    except requests.Timeout as exc:
        raise AnypointTimeout(f"{shown} timed out", path=shown, attempts=1) from exc
    except requests.RequestException as exc:
        why = f"could not reach {host} ({type(exc).__name__})"
        raise AnypointConnectionError(f"{shown}: {why}", path=shown, attempts=1) from exc


def _fallback_error(status: int) -> type[AnypointError]:
    return UpstreamError if status >= 500 else ClientRequestError


def _bounded(chunks: Iterable[bytes], shown: str) -> bytes:
    """The body, refusing anything larger than a spec file has any reason to be."""
    body = bytearray()
    for chunk in chunks:
        body += chunk
        if len(body) > MAX_SPEC_BYTES:
            raise InvalidResponseError(f"{shown}: the spec file is larger than {MAX_SPEC_MB} MB")
    return bytes(body)


_DOWNLOAD_ERRORS: Mapping[int, type[AnypointError]] = {
    401: ForbiddenError,  # an expired or foreign signed link
    403: ForbiddenError,
    404: NotFoundError,
    429: RateLimitedError,
}


def _spec_text(content: bytes, entry: Mapping[str, Any]) -> str:
    """The spec's text; for a zip, its main file (``mainFile``, else the only root spec file)."""
    if str(entry.get("packaging") or "").lower() == "zip" or content[:4] == b"PK\x03\x04":
        content = _main_file(content, entry.get("mainFile"))
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidResponseError("the spec file is not UTF-8 text") from exc


def _main_file(content: bytes, main: Any) -> bytes:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = archive.namelist()
            if not (isinstance(main, str) and main in names):
                roots = [n for n in names if "/" not in n and n.lower().endswith(_SPEC_SUFFIXES)]
                if len(roots) != 1:
                    raise InvalidResponseError("the spec archive has no single main file")
                main = roots[0]
            if archive.getinfo(main).file_size > MAX_SPEC_BYTES:
                raise InvalidResponseError(f"the spec file is larger than {MAX_SPEC_MB} MB")
            return archive.read(main)
    except zipfile.BadZipFile as exc:
        raise InvalidResponseError("the spec archive is not a valid zip file") from exc


# -- parsing -----------------------------------------------------------------------------------


def parse_spec(text: str) -> list[Endpoint]:
    """RAML when the text says so (``#%RAML``), else OpenAPI / Swagger."""
    if text.lstrip().startswith("#%RAML"):
        return parse_raml(text)
    return parse_oas(text)


def parse_oas(text: str) -> list[Endpoint]:
    """Every path × HTTP method of an OpenAPI 3 or Swagger 2 document (JSON or YAML).

    Paths are as the spec writes them (without ``basePath`` or server URLs); the summary is the
    operation's ``summary``, else its ``operationId``.
    """
    document = _load_json(text) if text.lstrip().startswith("{") else None
    if document is None:
        document = _load_yaml(text, yaml.SafeLoader, "OpenAPI")
    if not isinstance(document, Mapping) or not ({"openapi", "swagger"} & set(document)):
        raise InvalidResponseError("the spec file is not an OpenAPI or Swagger document")
    paths = document.get("paths") or {}
    if not isinstance(paths, Mapping):
        raise InvalidResponseError("the OpenAPI document's paths is not a mapping")
    endpoints = []
    for path, item in paths.items():
        if not isinstance(item, Mapping):
            continue
        for method in HTTP_METHODS:
            operation = item.get(method)
            if isinstance(operation, Mapping) or (method in item and operation is None):
                summary = _text(operation, "summary", "operationId") or _text(item, "summary")
                endpoints.append(Endpoint(method.upper(), str(path), summary))
    return endpoints


class _RamlLoader(yaml.SafeLoader):
    """A safe loader that reads any local tag (``!include file.raml``) as an :class:`_Tagged`."""


@dataclass(frozen=True)
class _Tagged:
    tag: str
    value: Any


def _construct_tagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> _Tagged:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node)
    else:
        # YAML has three kinds of node: what is left is a MappingNode.
        value = loader.construct_mapping(node)  # type: ignore[arg-type]  # narrowed by elimination
    return _Tagged(suffix, value)


_RamlLoader.add_multi_constructor("!", _construct_tagged)


def parse_raml(text: str) -> list[Endpoint]:
    """Every resource × method of a RAML 1.0 (or 0.8) document.

    Nested resources concatenate (``/orders:`` → ``/{orderId}:`` gives ``/orders/{orderId}``).
    An ``!include`` stands for a file we do not have: it is kept as an opaque value, so an
    included resource body contributes no methods and breaks nothing.
    """
    if not text.lstrip().startswith("#%RAML"):
        raise InvalidResponseError("the spec file is not a RAML document (no #%RAML header)")
    document = _load_yaml(text, _RamlLoader, "RAML")
    if not isinstance(document, Mapping):
        raise InvalidResponseError("the RAML document is not a mapping")
    return list(_raml_resources(document, ""))


def _raml_resources(node: Mapping[Any, Any], prefix: str) -> Iterator[Endpoint]:
    for key, body in node.items():
        if not (isinstance(key, str) and key.startswith("/")):
            continue
        path = prefix + key
        resource = body if isinstance(body, Mapping) else {}
        for method in HTTP_METHODS:
            for name in (method, method + "?"):  # RAML 0.8 marks optional methods with "?"
                if name in resource:
                    operation = resource[name]
                    summary = _text(operation, "displayName") or _first_line(operation)
                    yield Endpoint(method.upper(), path, summary)
        yield from _raml_resources(resource, path)


def _load_json(text: str) -> Any:
    """JSON the fast way; ``None`` lets the YAML parser (a JSON superset) try and explain."""
    try:
        return json.loads(text)
    except ValueError:
        return None


def _load_yaml(text: str, loader: type[yaml.SafeLoader], kind: str) -> Any:
    try:
        return yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" (line {where.line + 1})" if where is not None else ""
        raise InvalidResponseError(f"the {kind} spec file is not valid YAML/JSON{line}") from exc


def _text(node: Any, *keys: str) -> str | None:
    if isinstance(node, Mapping):
        for key in keys:
            value = node.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()
    return None


def _first_line(node: Any) -> str | None:
    description = _text(node, "description")
    return description.splitlines()[0].strip() if description else None


# -- answering questions -----------------------------------------------------------------------

_VERBS: Mapping[str, tuple[str, ...]] = {
    "create": ("POST",),
    "add": ("POST",),
    "post": ("POST",),
    "submit": ("POST",),
    "register": ("POST",),
    "place": ("POST",),
    "get": ("GET",),
    "list": ("GET",),
    "find": ("GET",),
    "show": ("GET",),
    "fetch": ("GET",),
    "retrieve": ("GET",),
    "read": ("GET",),
    "search": ("GET",),
    "view": ("GET",),
    "lookup": ("GET",),
    "update": ("PUT", "PATCH"),
    "modify": ("PUT", "PATCH"),
    "change": ("PUT", "PATCH"),
    "edit": ("PUT", "PATCH"),
    "replace": ("PUT",),
    "put": ("PUT",),
    "patch": ("PATCH",),
    "delete": ("DELETE",),
    "remove": ("DELETE",),
    "destroy": ("DELETE",),
}
_STOPWORD_TEXT = """
    a an the to of for by in on at is are be with from and or all any each one single
    what which who how do does can i we you my our me it its that this there
    method methods path paths endpoint endpoints http verb url uri api call use should
"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_ONE_WORDS = frozenset({"id", "single", "one", "specific", "given"})
_MANY_WORDS = frozenset({"all", "list", "every", "search"})
_WORD = re.compile(r"[a-z0-9]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def answer_endpoint_question(endpoints: Sequence[Endpoint], question: str) -> list[Endpoint]:
    """The endpoints that answer a question about methods and paths, best first.

    Verbs pick methods (create/add → POST, get/list/find/show → GET, update → PUT/PATCH,
    delete/remove → DELETE); other words must match path segments, singular or plural. "by id"
    or a singular noun prefers an item path (``/orders/{id}``), "list" or a plural a collection.
    """
    words = _words(question)
    methods = {m for w in words if (verb := _verb(w)) for m in _VERBS[verb]}
    nouns = [w for w in words if not _verb(w) and w not in _STOPWORDS]
    wanted = {_singular(w) for w in nouns}
    bonus = _shape_preference(words, nouns)
    scored = [
        (score + bonus(e.path), i, e)
        for i, e in enumerate(endpoints)
        if (score := _score(e, wanted)) > 0
    ]
    if methods:
        with_method = [(s + 2, i, e) for s, i, e in scored if e.method in methods]
        if with_method or not scored:  # nothing named matched: any endpoint with the method
            scored = with_method or [
                (0.0, i, e) for i, e in enumerate(endpoints) if e.method in methods
            ]
    scored.sort(key=lambda entry: (-entry[0], entry[1]))
    return [e for _, _, e in scored]


def _score(endpoint: Endpoint, nouns: set[str]) -> float:
    """How well a path (and its summary) matches the question's nouns; 0 means not at all."""
    static, params = _path_words(endpoint.path)
    matched = nouns & static
    if not matched:
        return 0.0
    score = 2.0 * len(matched) + 0.5 * len(nouns & params)
    score -= 0.5 * len(static - nouns)  # segments the question did not ask about
    summary = {_singular(w) for w in _words(endpoint.summary or "")}
    score += 0.25 * len(nouns & summary)
    return max(score, 0.1)


def _shape_preference(words: list[str], nouns: list[str]) -> Callable[[str], float]:
    """Prefer an item path for "by id" / a singular noun, a collection for "list" / a plural."""
    plural = any(w != _singular(w) for w in nouns)
    wants_one = any(w in _ONE_WORDS for w in words) or (bool(nouns) and not plural)
    wants_many = any(w in _MANY_WORDS for w in words) or plural
    if wants_one == wants_many:
        return lambda path: 0.0
    return lambda path: 1.0 if path.rstrip("/").endswith("}") == wants_one else 0.0


def _path_words(path: str) -> tuple[set[str], set[str]]:
    """Singular words of a path's static segments, and of its ``{parameters}``."""
    static: set[str] = set()
    params: set[str] = set()
    for segment in path.split("/"):
        target = params if segment.startswith(("{", ":")) else static
        target.update(_singular(w) for w in _words(_CAMEL.sub(" ", segment)))
    return static, params


def _words(text: str) -> list[str]:
    return _WORD.findall(_CAMEL.sub(" ", text).lower())


def _verb(word: str) -> str | None:
    """The base verb a word is a form of (creates, creating, created → create), if any."""
    for base in _candidate_bases(word):
        if base in _VERBS:
            return base
    return None


def _candidate_bases(word: str) -> Iterable[str]:
    yield word
    for suffix, replacement in (("ing", ""), ("ing", "e"), ("ed", ""), ("ed", "e"), ("es", "")):
        if word.endswith(suffix) and len(word) > len(suffix) + 2:
            yield word[: -len(suffix)] + replacement
    if word.endswith("s") and not word.endswith("ss"):
        yield word[:-1]


def _singular(word: str) -> str:
    """A crude singular, applied to both sides so that they meet: orders, order → order."""
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "ches", "shes", "zes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        return word[:-1]
    return word


__all__ = [
    "Endpoint",
    "EndpointsSpec",
    "answer_endpoint_question",
    "choose_spec_file",
    "download",
    "fetch_endpoints",
    "parse_oas",
    "parse_raml",
    "parse_spec",
]
