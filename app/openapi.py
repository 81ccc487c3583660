"""JSON endpoints declared once: the same marshmallow schemas validate, serialise and document.

Write a JSON view like this::

    from app.auth import forge_required
    from app.openapi import api_endpoint

    @bp.get("/things")
    @forge_required                      # outermost: 401 before any validation
    @api_endpoint(query=SpaceQuery, response=ThingOut, many=True, tags=["forge"])
    def list_things(query):
        \"\"\"List the space's things.

        The rest of the docstring becomes the operation's description.
        \"\"\"
        return storage.list_things(get_session(), g.tenant.installation_id, query["space_key"])

``api_endpoint`` loads ``query`` (from the query string) and ``body`` (from the JSON body) with
their schemas and passes the results as keyword arguments; a ``ValidationError`` becomes a 422
naming the fields. Whatever the view returns is dumped with ``response`` and sent with ``status``
— one success status per view. A view may return a ``Response`` itself (CSV, a redirect); declare
it with ``response=None, content_type="text/csv"``. ``errors`` lists the error statuses to
document (all use the ``Error`` schema). ``forge_required`` / ``support_required`` add the
security requirement by themselves.

``GET /openapi.json`` walks the URL map and documents every view carrying an ``api_endpoint``;
extra OpenAPI for one view can follow ``---`` in its docstring as YAML keyed by method (apispec's
convention), merged over the generated operation. HTML pages opt out with
:func:`exclude_from_openapi`; ``tests/app/test_openapi.py`` fails on any other undocumented route.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.yaml_utils import load_operations_from_docstring
from flask import Blueprint, Flask, Response, current_app, jsonify, request
from marshmallow import Schema, fields
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.routing import Rule

from app.errors import ApiError
from app.schemas import Error

API_VERSION = "1"
FORGE_SECURITY = "forgeInvocationToken"
SUPPORT_SECURITY = "supportToken"
SECURITY_SCHEMES = {
    FORGE_SECURITY: {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "Forge Invocation Token (RS256, aud = FORGE_APP_ID), added by Forge Remote.",
    },
    SUPPORT_SECURITY: {
        "type": "http",
        "scheme": "bearer",
        "description": "Support API token minted by `mulesight token create`.",
    },
}
DEFAULT_ERRORS = (400, 401, 404, 422)
SchemaType = type[Schema] | Schema


@dataclass(frozen=True)
class ApiDoc:
    """What :func:`api_endpoint` declared about one view."""

    query: SchemaType | None = None
    body: SchemaType | None = None
    response: SchemaType | None = None
    status: int = 200
    many: bool = False
    summary: str | None = None
    description: str | None = None
    tags: tuple[str, ...] = ()
    errors: tuple[int, ...] = DEFAULT_ERRORS
    content_type: str = "application/json"
    extra: Mapping[str, Any] = field(default_factory=dict)

    def operation(self, security: str | None, path_params: list[dict[str, Any]]) -> dict[str, Any]:
        op: dict[str, Any] = {"responses": {}}
        if self.summary:
            op["summary"] = self.summary
        if self.description:
            op["description"] = self.description
        if self.tags:
            op["tags"] = list(self.tags)
        params: list[dict[str, Any]] = list(path_params)
        if self.query is not None:
            params.append({"in": "query", "schema": self.query})
        if params:
            op["parameters"] = params
        if self.body is not None:
            op["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": self.body}},
            }
        success: dict[str, Any] = {"description": HTTP_STATUS_CODES.get(self.status, "Success")}
        if self.response is not None:
            schema: Any = self.response
            if self.many:
                schema = {"type": "array", "items": self.response}
            success["content"] = {self.content_type: {"schema": schema}}
        else:
            plain = {"type": "object" if self.content_type == "application/json" else "string"}
            success["content"] = {self.content_type: {"schema": plain}}
        op["responses"][str(self.status)] = success
        errors = set(self.errors)
        if security:
            op["security"] = [{security: []}]
            errors.add(401)
        if self.body is not None:
            errors.add(413)
        for status in sorted(errors):
            op["responses"][str(status)] = {
                "description": HTTP_STATUS_CODES.get(status, "Error"),
                "content": {"application/json": {"schema": Error}},
            }
        return op


def _instance(schema: SchemaType | None, **kwargs: Any) -> Schema | None:
    if schema is None:
        return None
    return schema(**kwargs) if isinstance(schema, type) else schema


def _query_data(schema: Schema) -> dict[str, Any]:
    """The query string as a dict; list fields take every value of a repeated parameter."""
    args = request.args
    data: dict[str, Any] = {}
    for name in args:
        declared = next((f for f in schema.fields.values() if (f.data_key or f.name) == name), None)
        data[name] = args.getlist(name) if isinstance(declared, fields.List) else args[name]
    return data


def _json_body() -> dict[str, Any]:
    body = request.get_json()  # 400 on bad JSON, 415 on another content type
    if not isinstance(body, dict):
        raise ApiError(400, "bad_request", "The request body must be a JSON object.")
    return body


def api_endpoint(
    *,
    query: SchemaType | None = None,
    body: SchemaType | None = None,
    response: SchemaType | None = None,
    status: int = 200,
    many: bool = False,
    summary: str | None = None,
    tags: Iterable[str] = (),
    errors: Iterable[int] = DEFAULT_ERRORS,
    content_type: str = "application/json",
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare, validate and serialise a JSON view (see the module docstring)."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        doc_summary, doc_description = _split_docstring(view.__doc__)
        doc = ApiDoc(
            query=query,
            body=body,
            response=response,
            status=status,
            many=many,
            summary=summary or doc_summary,
            description=doc_description,
            tags=tuple(tags),
            errors=tuple(errors),
            content_type=content_type,
            extra=load_operations_from_docstring(view.__doc__ or ""),
        )
        query_schema = _instance(query)
        body_schema = _instance(body)
        response_schema = _instance(response, many=many)

        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if query_schema is not None:
                kwargs["query"] = query_schema.load(_query_data(query_schema))
            if body_schema is not None:
                kwargs["body"] = body_schema.load(_json_body())
            result = view(*args, **kwargs)
            if isinstance(result, Response):
                return result
            payload = response_schema.dump(result) if response_schema is not None else result
            return jsonify(payload), status

        wrapper.__apidoc__ = doc  # type: ignore[attr-defined]  # read back by the spec builder
        return wrapper

    return decorator


def exclude_from_openapi(view: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a non-JSON view (an HTML page) as deliberately absent from the document."""
    view.__apidoc__ = None  # type: ignore[attr-defined]  # read back by the spec builder
    return view


def _split_docstring(doc: str | None) -> tuple[str | None, str | None]:
    text = inspect.cleandoc(doc or "").split("\n---", 1)[0].strip()
    if not text:
        return None, None
    summary, _, rest = text.partition("\n")
    return summary.strip(), (rest.strip() or None)


_CONVERTER = re.compile(r"<(?:(?P<converter>[^:<>]+):)?(?P<name>[^<>]+)>")
_PARAM_TYPES = {"int": "integer", "float": "number", "uuid": "string", "path": "string"}


def _openapi_path(rule: Rule) -> tuple[str, list[dict[str, Any]]]:
    params = [
        {
            "in": "path",
            "name": m["name"],
            "required": True,
            "schema": {"type": _PARAM_TYPES.get(m["converter"] or "", "string")},
        }
        for m in _CONVERTER.finditer(rule.rule)
    ]
    return _CONVERTER.sub(r"{\g<name>}", rule.rule), params


def undocumented_rules(app: Flask) -> list[Rule]:
    """Routes with neither an ``api_endpoint`` nor an explicit exclusion (``static`` aside)."""
    return [
        rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        and not hasattr(app.view_functions[rule.endpoint], "__apidoc__")
    ]


def build_spec(app: Flask) -> dict[str, Any]:
    """The OpenAPI 3 document of every documented route of ``app``."""
    spec = APISpec(
        title="MuleSight backend",
        version=API_VERSION,
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        info={"description": "Companion backend of MuleSight for Confluence."},
    )
    for name, scheme in SECURITY_SCHEMES.items():
        spec.components.security_scheme(name, scheme)
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        view = app.view_functions[rule.endpoint]
        doc: ApiDoc | None = getattr(view, "__apidoc__", None)
        if doc is None:
            continue
        path, path_params = _openapi_path(rule)
        security = getattr(view, "__api_security__", None)
        operations = {}
        methods = sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
        for method in methods:
            op = doc.operation(security, path_params)
            extra = dict(doc.extra.get(method.lower(), {}))
            op["responses"].update(extra.pop("responses", {}))
            op.update(extra)
            op_id = rule.endpoint if len(methods) == 1 else f"{rule.endpoint}.{method.lower()}"
            op.setdefault("operationId", op_id)
            operations[method.lower()] = op
        spec.path(path=path, operations=operations)
    return spec.to_dict()


bp = Blueprint("openapi", __name__)


@bp.get("/openapi.json")
@api_endpoint(errors=(), tags=["service"])
def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3 document of this service."""
    spec = current_app.extensions.get("openapi_spec")
    if spec is None:
        spec = current_app.extensions["openapi_spec"] = build_spec(current_app)
    return spec


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
