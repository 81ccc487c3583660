"""Macro discovery: which Confluence pages hold MuleSight macros, and in which modes.

MuleSight's macros are Forge macros, and CQL's ``macro = "..."`` only knows server/Connect
macros (``ac:structured-macro``), so a CQL search for them finds nothing. Instead the search lists
the pages (of one space, or the whole site) with their storage bodies expanded, and the macros are
recognised in storage format, where a Forge macro is stored as::

    <ac:adf-extension><ac:adf-node type="extension">
      <ac:adf-attribute key="extension-key">{appId}/{envId}/static/{moduleKey}</ac:adf-attribute>
      <ac:adf-attribute key="parameters">
        <ac:adf-parameter key="guest-params"><ac:adf-parameter key="mode">…</ac:adf-parameter>
        </ac:adf-parameter> …
      </ac:adf-attribute> …
    </ac:adf-node><ac:adf-fallback>…</ac:adf-fallback></ac:adf-extension>

The call goes through atlassian-python-api's ``Confluence.cql``
(``GET {base}/wiki/rest/api/search``) with the Forge app system token as a bearer token against
``app.apiBaseUrl``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import requests
from atlassian import Confluence
from atlassian.errors import ApiValueError

from app.net import OutboundPolicy, guarded_session
from diagnostics.model import MACRO_TYPES, MacroPage, MacroPlacement

log = logging.getLogger(__name__)

SEARCH_EXPAND = "content.space,content.body.storage"
# A bound on result pages read from one search (MAX_SEARCH_PAGES * limit pages of content).
MAX_SEARCH_PAGES = 200
_STATIC_MARKER = "/static/"


class ConfluenceError(Exception):
    """The search could not be done. ``message`` is safe to show (it never holds the token)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def find_macro_pages(
    api_base_url: str,
    app_token: str,
    *,
    space_key: str | None = None,
    app_key_suffixes: Iterable[str] = MACRO_TYPES,
    limit: int = 50,
    timeout: float = 10,
    outbound_policy: OutboundPolicy | None = None,
) -> list[MacroPage]:
    """The pages (of ``space_key``, or the whole site) that hold at least one MuleSight macro.

    ``app_key_suffixes`` are the Forge macro module keys to recognise. Results are read page by page
    (``start``/``limit``) while Confluence reports a next page. Raises :class:`ConfluenceError`
    (and :class:`~app.net.BlockedDestination` for a non-public host).
    """
    module_keys = frozenset(app_key_suffixes)
    cql = build_cql(space_key)
    found: dict[str, MacroPage] = {}
    with guarded_session(outbound_policy) as session:
        session.headers["Authorization"] = f"Bearer {app_token}"
        confluence = Confluence(
            url=api_base_url.rstrip("/") + "/wiki",
            cloud=True,
            session=session,
            timeout=timeout,
            # No sleeping on 429 Retry-After inside a request: the caller decides about retries.
            retry_with_header=False,
        )
        # The library truncates to int; keep fractions (requests takes them).
        confluence.timeout = timeout  # type: ignore[assignment]  # float on purpose, see above
        for result in _search(confluence, cql, limit, timeout):
            page = _macro_page(result, module_keys, space_key)
            if page is not None and page.page_id not in found:
                found[page.page_id] = page
    return list(found.values())


def build_cql(space_key: str | None) -> str:
    """CQL for the candidate pages: every page of the space (or of the site)."""
    if space_key is None:
        return "type = page"
    return f'type = page AND space = "{_cql_quote(space_key)}"'


def _cql_quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _search(
    confluence: Confluence, cql: str, limit: int, timeout: float
) -> Iterator[Mapping[str, Any]]:
    start = 0
    for _ in range(MAX_SEARCH_PAGES):
        data = _cql_page(confluence, cql, start, limit, timeout)
        results = data.get("results")
        if not isinstance(results, list) or not results:
            return
        yield from (r for r in results if isinstance(r, Mapping))
        links = data.get("_links")
        if not (isinstance(links, Mapping) and links.get("next")):
            return
        start += len(results)
    log.warning("Confluence search stopped after %d result pages: %s", MAX_SEARCH_PAGES, cql)


def _cql_page(
    confluence: Confluence, cql: str, start: int, limit: int, timeout: float
) -> Mapping[str, Any]:
    try:
        data = confluence.cql(cql, start=start, limit=limit, expand=SEARCH_EXPAND)
    except ApiValueError:
        raise ConfluenceError(
            "Confluence rejected the search query (HTTP 400)", status=400
        ) from None
    except requests.HTTPError as exc:
        status = exc.response.status_code if exc.response is not None else None
        raise ConfluenceError(_http_message(status), status=status) from None
    except requests.Timeout:
        raise ConfluenceError(f"Confluence did not answer within {timeout:g} s") from None
    except requests.RequestException as exc:
        raise ConfluenceError(f"Could not reach Confluence ({type(exc).__name__})") from None
    if not isinstance(data, Mapping):
        raise ConfluenceError("Confluence answered the search with an unexpected body")
    return data


def _http_message(status: int | None) -> str:
    if status == 401:
        return "Confluence refused the app token (HTTP 401)"
    if status == 403:
        return "The app may not search this Confluence site (HTTP 403)"
    if status == 429:
        return "Confluence rate-limited the search (HTTP 429)"
    if status is not None and status >= 500:
        return f"Confluence is unavailable (HTTP {status})"
    return f"Confluence search failed (HTTP {status})"


def _macro_page(
    result: Mapping[str, Any], module_keys: frozenset[str], space_key: str | None
) -> MacroPage | None:
    content = result.get("content")
    if not isinstance(content, Mapping) or content.get("id") is None:
        return None
    storage = _dig(content, "body", "storage", "value")
    macros = parse_storage_macros(storage, module_keys) if isinstance(storage, str) else ()
    if not macros:
        return None
    return MacroPage(
        page_id=str(content["id"]),
        title=str(content.get("title") or result.get("title") or ""),
        space_key=_space_key(content) or space_key,
        macros=macros,
    )


def _space_key(content: Mapping[str, Any]) -> str | None:
    key = _dig(content, "space", "key")
    if isinstance(key, str) and key:
        return key
    link = _dig(content, "_expandable", "space")  # "/rest/api/space/OPS" when not expanded
    if isinstance(link, str) and link.rstrip("/"):
        return link.rstrip("/").rsplit("/", 1)[-1]
    return None


def _dig(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data


# --- storage format ---------------------------------------------------------------------------


def parse_storage_macros(
    storage: str, module_keys: Iterable[str] = MACRO_TYPES
) -> tuple[MacroPlacement, ...]:
    """The MuleSight macros in a storage-format body, in document order.

    A Forge macro is an ``ac:adf-node`` whose ``extension-key`` attribute (or, failing that, its
    ``extension-id`` parameter) ends with ``/static/<moduleKey>``; its mode is the ``mode`` guest
    parameter. Storage format uses undeclared ``ac:``/``ri:`` prefixes and HTML entities, so it is
    read with the standard library's HTML parser, which takes both as they are.
    """
    keys = frozenset(module_keys)
    root = _parse(storage)
    placements = []
    for node in root.iter("ac:adf-node"):
        module = _module_key(node)
        if module in keys:
            placements.append(MacroPlacement(macro=module, mode=_mode(node)))
    return tuple(placements)


def _module_key(node: _Element) -> str | None:
    attributes = _keyed(node, "ac:adf-attribute")
    key = attributes.get("extension-key")
    candidates = [key.text()] if key is not None else []
    params = attributes.get("parameters")
    if params is not None and (ext_id := _keyed(params, "ac:adf-parameter").get("extension-id")):
        candidates.append(ext_id.text())
    for candidate in candidates:
        if _STATIC_MARKER in candidate:
            return candidate.rsplit(_STATIC_MARKER, 1)[1].strip("/") or None
    return None


def _mode(node: _Element) -> str | None:
    params = _keyed(node, "ac:adf-attribute").get("parameters")
    if params is None:
        return None
    guest = _keyed(params, "ac:adf-parameter").get("guest-params")
    if guest is None:
        return None
    mode = _keyed(guest, "ac:adf-parameter").get("mode")
    value = mode.text() if mode is not None else ""
    return value or None


def _keyed(element: _Element, tag: str) -> dict[str, _Element]:
    """Direct children with ``tag``, by their ``key`` attribute (the first of each key wins)."""
    keyed: dict[str, _Element] = {}
    for child in element.children:
        key = child.attrs.get("key")
        if child.tag == tag and key is not None:
            keyed.setdefault(key, child)
    return keyed


@dataclass
class _Element:
    tag: str
    attrs: dict[str, str] = field(default_factory=dict)
    children: list[_Element] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)

    def iter(self, tag: str) -> Iterator[_Element]:
        for child in self.children:
            if child.tag == tag:
                yield child
            yield from child.iter(tag)

    def text(self) -> str:
        """All text inside the element, stripped (list values are joined by commas)."""
        values = [c for c in self.children if c.tag == "ac:adf-parameter-value"]
        if values:
            return ",".join(v.text() for v in values)
        return "".join(self._all_text()).strip()

    def _all_text(self) -> Iterator[str]:
        yield from self.texts
        for child in self.children:
            yield from child._all_text()


_VOID_TAGS = frozenset({"br", "hr", "img", "col", "input", "meta", "link", "area", "wbr"})


class _TreeBuilder(HTMLParser):
    """Builds a small element tree; tag and attribute names are kept with their prefixes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = _Element("#root")
        self._stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = _Element(tag, {k: v or "" for k, v in attrs})
        self._stack[-1].children.append(element)
        if tag not in _VOID_TAGS:
            self._stack.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._stack[-1].children.append(_Element(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self._stack) - 1, 0, -1):
            if self._stack[depth].tag == tag:
                del self._stack[depth:]
                return
        # a stray end tag: ignored

    def handle_data(self, data: str) -> None:
        self._stack[-1].texts.append(data)


def _parse(storage: str) -> _Element:
    builder = _TreeBuilder()
    builder.feed(storage)
    builder.close()
    return builder.root


# --- space permissions --------------------------------------------------------------------------

ADMINISTER_SPACE = ("administer", "space")


def is_space_admin(
    api_base_url: str,
    user_token: str,
    space_key: str,
    *,
    timeout: float = 5,
    outbound_policy: OutboundPolicy | None = None,
) -> bool:
    """Whether the user whose Forge user token (``x-forge-oauth-user``) this is administers the space.

    Asked of Confluence as that user, so Confluence's own permission model decides (groups,
    site admins included): ``GET /wiki/api/v2/spaces?keys=KEY`` gives the space id (a space the
    user cannot see is not found), then ``GET /wiki/api/v2/spaces/{id}/operations`` lists the
    operations the user may perform; ``administer`` on ``space`` is the space admin permission.
    Raises :class:`ConfluenceError` when Confluence cannot answer.
    """
    base = api_base_url.rstrip("/") + "/wiki/api/v2"
    with guarded_session(outbound_policy, pool_maxsize=1) as session:
        session.headers.update(
            {"Authorization": f"Bearer {user_token}", "Accept": "application/json"}
        )
        spaces = _v2_get(session, f"{base}/spaces", {"keys": space_key}, timeout)
        results = spaces.get("results") if isinstance(spaces, Mapping) else None
        match = next(
            (r for r in results or () if isinstance(r, Mapping) and r.get("key") == space_key),
            None,
        )
        if match is None or match.get("id") is None:
            return False
        answer = _v2_get(session, f"{base}/spaces/{match['id']}/operations", None, timeout)
    operations = answer.get("operations") if isinstance(answer, Mapping) else None
    return any(
        isinstance(op, Mapping) and (op.get("operation"), op.get("targetType")) == ADMINISTER_SPACE
        for op in operations or ()
    )


def _v2_get(
    session: requests.Session, url: str, params: Mapping[str, str] | None, timeout: float
) -> Any:
    try:
        response = session.get(url, params=params, timeout=timeout, allow_redirects=False)
    except requests.Timeout:
        raise ConfluenceError(f"Confluence did not answer within {timeout:g} s") from None
    except requests.RequestException as exc:
        raise ConfluenceError(f"Could not reach Confluence ({type(exc).__name__})") from None
    if response.status_code == 404:
        return {}
    if not response.ok:
        raise ConfluenceError(
            _http_message(response.status_code).replace("search", "permission check"),
            status=response.status_code,
        )
    try:
        return response.json()
    except ValueError:
        raise ConfluenceError(
            "Confluence answered the permission check with an unexpected body"
        ) from None
