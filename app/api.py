"""The HTTP API's blueprints: flask-smorest, one per audience, documented from their schemas.

The audiences: ``forge`` (the Forge remote), ``support`` (support tokens), ``webhooks``,
``health`` (probes and ``/openapi.json``), and the HTML pages ``selfcheck`` and ``console``
(:class:`PageBlueprint`: registered the same way, deliberately not in the document, which is of
the JSON routes). Write a JSON view like this::

    @bp.get("/things")
    @forge_required                      # outermost: 401 before any validation
    @bp.arguments(SpaceQuery, location="query", arg_name="query")
    @bp.response(200, ThingOut(many=True))
    @bp.errors(400, 404, 422)
    def list_things(query):
        \"\"\"List the space's things.

        The rest of the docstring becomes the operation's description.
        \"\"\"

``arguments`` loads the query string or the JSON body (``arg_name="body"``) with its schema —
each schema's own ``unknown`` setting applies — and passes the result as ``arg_name``; what the
view returns is dumped with the ``response`` schema, unless it is a ``Response`` itself (CSV, a
202). Every error keeps the contract's body (:mod:`app.errors`): a ``ValidationError`` is a 422
naming the fields, a body that is not a JSON object a 400. ``errors`` documents error statuses
with the ``Error`` schema; ``forge_required`` / ``support_required`` add the security
requirement (and its 401) by themselves. ``tests/app/test_openapi.py`` compares the document
with every registered route: each is documented, a page, or ``static``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, NoReturn

import flask_smorest
from flask import Blueprint, Flask, Request
from marshmallow import Schema, ValidationError
from webargs.flaskparser import FlaskParser
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.routing import Rule

from app.errors import ApiError
from app.schemas import Error

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
TITLE = "MuleSight backend"
VERSION = "1"
OPENAPI_VERSION = "3.0.3"
DESCRIPTION = "Companion backend of MuleSight for Confluence."
EXTENSION = "mulesight_api"

View = Callable[..., Any]


class Parser(FlaskParser):
    """webargs, answering as the rest of the service does."""

    def load_json(self, req: Request, schema: Schema) -> Any:
        """400 on bad JSON or a body that is not an object; 415 on another content type."""
        body = req.get_json()
        if not isinstance(body, dict):
            raise ApiError(400, "bad_request", "The request body must be a JSON object.")
        return body

    def handle_error(self, error: ValidationError, *_: Any, **__: Any) -> NoReturn:
        """Re-raise without webargs' location key, for :func:`app.errors.handle_validation_error`."""
        messages = error.messages
        if isinstance(messages, dict) and len(messages) == 1:
            messages = next(iter(messages.values()))
        raise ValidationError(messages) from error


class ApiBlueprint(flask_smorest.Blueprint):  # type: ignore[misc]  # flask-smorest is untyped
    """A flask-smorest blueprint with the service's parser and an ``errors`` shorthand."""

    # unknown=None: no location-wide default, each schema's Meta.unknown decides (as before).
    ARGUMENTS_PARSER = Parser(unknown=None)

    def route(self, rule: str, *, parameters: Any = None, **options: Any) -> Callable[[View], View]:
        """flask-smorest's route, plus the security an auth decorator declared (and its 401)."""
        register = super().route(rule, parameters=parameters, **options)

        def decorator(view: View) -> View:
            security = getattr(view, "__api_security__", None)
            if security is not None:
                view = self.errors(401)(self.doc(security=[{security: []}])(view))
            registered: View = register(view)
            return registered

        return decorator

    def errors(self, *statuses: int) -> Callable[[View], View]:
        """Document error answers ``statuses`` (all in the ``Error`` shape)."""

        def decorator(view: View) -> View:
            for status in statuses:
                view = self.alt_response(
                    status, schema=Error, description=HTTP_STATUS_CODES.get(status, "Error")
                )(view)
            return view

        return decorator


class PageBlueprint(ApiBlueprint):
    """An audience of HTML pages for a browser (forms, redirects, downloads).

    Registered through the :class:`Api` like the JSON audiences but deliberately left out of the
    document: ``/openapi.json`` is "the OpenAPI 3 document of every JSON route" (``service.md``).
    """

    def add_url_rule(
        self,
        rule: str,
        endpoint: str | None = None,
        view_func: View | None = None,
        provide_automatic_options: bool | None = None,
        *,
        parameters: Any = None,
        tags: Any = None,
        **options: Any,
    ) -> None:
        """Flask's own rule, no document entry: so rules may share an endpoint, as Flask allows
        (``/selfcheck`` and ``/selfcheck/<space_key>`` are both ``selfcheck.page``)."""
        Blueprint.add_url_rule(
            self, rule, endpoint, view_func, provide_automatic_options, **options
        )


class Api(flask_smorest.Api):  # type: ignore[misc]  # flask-smorest is untyped
    """flask-smorest's Api minus its error handler (:mod:`app.errors` answers every error), and
    pages registered without a document entry."""

    ERROR_SCHEMA = Error

    def _register_error_handlers(self) -> None:
        """Keep the contract's error body (flask-smorest's own differs)."""

    def register_blueprint(
        self, blp: ApiBlueprint, *, parameters: Any = None, **options: Any
    ) -> None:
        """Register ``blp``; document it (paths and tag) unless it is a :class:`PageBlueprint`."""
        if isinstance(blp, PageBlueprint):
            self._app.register_blueprint(blp, **options)
        else:
            super().register_blueprint(blp, parameters=parameters, **options)


def init_app(app: Flask, blueprints: tuple[ApiBlueprint, ...]) -> Api:
    """Register ``blueprints``, documenting the JSON ones (``GET /openapi.json``: the health
    blueprint)."""
    api = Api(
        app,
        spec_kwargs={
            "title": TITLE,
            "version": VERSION,
            "openapi_version": OPENAPI_VERSION,
            "info": {"description": DESCRIPTION},
        },
    )
    for name, scheme in SECURITY_SCHEMES.items():
        api.spec.components.security_scheme(name, scheme)
    app.extensions[EXTENSION] = api
    for blueprint in blueprints:
        register(app, blueprint)
    return api


def register(app: Flask, blueprint: ApiBlueprint) -> None:
    """Add ``blueprint`` to ``app`` and to its document (e.g. a test's own routes)."""
    app.extensions[EXTENSION].register_blueprint(blueprint)


def document(app: Flask) -> dict[str, Any]:
    """The OpenAPI 3 document of every JSON route of ``app``."""
    spec: dict[str, Any] = app.extensions[EXTENSION].spec.to_dict()
    return spec


_CONVERTER = re.compile(r"<(?:[^:<>]+:)?(?P<name>[^<>]+)>")  # <converter:name>


def _openapi_path(rule: Rule) -> str:
    return _CONVERTER.sub(r"{\g<name>}", rule.rule)


def _is_page(app: Flask, rule: Rule) -> bool:
    return isinstance(app.blueprints.get(rule.endpoint.rpartition(".")[0]), PageBlueprint)


def page_rules(app: Flask) -> list[Rule]:
    """The routes of ``app``'s :class:`PageBlueprint` audiences (not in the document)."""
    return [rule for rule in app.url_map.iter_rules() if _is_page(app, rule)]


def undocumented_rules(app: Flask) -> list[Rule]:
    """Routes missing from the document, but for ``static`` and the pages (:func:`page_rules`)."""
    paths = document(app)["paths"]
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or _is_page(app, rule):
            continue
        operations = paths.get(_openapi_path(rule), {})
        if any(m.lower() not in operations for m in (rule.methods or set()) - {"HEAD", "OPTIONS"}):
            missing.append(rule)
    return missing
