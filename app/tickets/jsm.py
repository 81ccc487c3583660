"""Jira Service Management connector, through atlassian-python-api's ``ServiceDesk`` client.

One HTTP attempt per call: the library's sleep-and-retry is off (``retry_with_header=False``, no
backoff) and every request carries the timeout, so a slow or rate-limiting site fails fast with a
:class:`TicketError` and the outbox retries later. The calls:

- comment: ``POST /rest/servicedeskapi/request/{key}/comment`` ``{"body", "public"}``
- attach: ``POST /rest/servicedeskapi/servicedesk/{id}/attachTemporaryFile`` (multipart ``file``)
  per file, then ``POST /rest/servicedeskapi/request/{key}/attachment``
  ``{"temporaryAttachmentIds", "public"}``
- labels: ``PUT /rest/api/3/issue/{key}`` ``{"update": {"labels": [{"add": label}, ...]}}``
- read: ``GET /rest/api/3/issue/{key}``
- find a marker: ``GET /rest/servicedeskapi/request/{key}/comment`` (public and internal, paged)
- labels already there: ``GET /rest/api/3/issue/{key}?fields=labels``

The files of one attachment call are uploaded concurrently; one connector (and its pooled
``requests`` session, connections kept open) serves every thread of a process.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

import requests
from atlassian import ServiceDesk

from app.net import BlockedDestination, OutboundPolicy, guarded_session
from app.tickets.base import Attachment, TicketData, TicketError
from app.tickets.markup import markdown_to_jira
from diagnostics.tickets import adf_to_text

log = logging.getLogger(__name__)

_DETAIL_LIMIT = 200
_COMMENT_PAGE = 100
_MAX_COMMENT_PAGES = 20


class JsmConnector:
    """A :class:`~app.tickets.base.TicketConnector` for a Service Management site.

    Basic auth (account email + API token); a ``session`` passed in gets that auth set on it.
    Without one, connections pass ``outbound_policy`` (public addresses only, see :mod:`app.net`).
    """

    def __init__(
        self,
        base_url: str,
        email: str,
        api_token: str,
        service_desk_id: str | int,
        *,
        timeout: float = 10,
        session: requests.Session | None = None,
        outbound_policy: OutboundPolicy | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        if session is None:
            session = guarded_session(outbound_policy)
        self.service_desk_id = str(service_desk_id)
        self._secret = api_token
        self._client = ServiceDesk(
            url=self.base_url,
            username=email,
            password=api_token,
            timeout=int(timeout),  # what the library keeps anyway; fractions restored below
            session=session,
            cloud=True,
            backoff_and_retry=False,
            retry_with_header=False,
        )
        # The library truncates to int; keep fractions (requests takes them).
        self._client.timeout = timeout  # type: ignore[assignment]  # float on purpose, see above

    def __repr__(self) -> str:
        return f"JsmConnector({self.base_url!r}, service_desk_id={self.service_desk_id!r})"

    def close(self) -> None:
        self._client.close()

    # --- TicketConnector ---

    def add_comment(self, key: str, body_markdown: str, *, public: bool) -> str:
        """Public or internal comment; the Markdown is sent as plain text (see ``markup``)."""
        with self._errors("comment", key):
            answer = self._client.create_request_comment(
                _path_key(key), markdown_to_jira(body_markdown), public=public
            )
        comment_id = answer.get("id") if isinstance(answer, Mapping) else None
        if comment_id is None:
            raise TicketError(
                f"JSM comment on {key}: the answer has no comment id", retryable=False
            )
        return str(comment_id)

    def attach(
        self, key: str, files: Sequence[Attachment], *, public: bool, note: str | None = None
    ) -> list[str]:
        """Upload the files as temporary attachments (concurrently), then attach them all in one
        request — with ``note`` as their comment (``additionalComment``) when given.

        Returns the Jira attachment ids (from each attachment's ``_links.jiraRest``).
        """
        if not files:
            return []
        if len(files) == 1:
            temporary_ids = [self._upload(key, files[0])]
        else:
            with ThreadPoolExecutor(len(files), "jsm-upload") as pool:
                temporary_ids = list(pool.map(lambda f: self._upload(key, f), files))
        data: dict[str, Any] = {"temporaryAttachmentIds": temporary_ids, "public": public}
        if note:
            data["additionalComment"] = {"body": note}
        with self._errors("attachment", key):
            answer = self._client.post(
                f"rest/servicedeskapi/request/{_path_key(key)}/attachment",
                data=data,
                headers=self._client.experimental_headers,
            )
        return _attachment_ids(answer)

    def find_marker(self, key: str, marker: str) -> str | None:
        """The id of a comment (public or internal) on ``key`` containing ``marker``."""
        start = 0
        for _ in range(_MAX_COMMENT_PAGES):
            with self._errors("comment search", key):
                answer = self._client.get(
                    f"rest/servicedeskapi/request/{_path_key(key)}/comment",
                    params={
                        "public": "true",
                        "internal": "true",
                        "start": start,
                        "limit": _COMMENT_PAGE,
                    },
                    headers=self._client.experimental_headers,
                )
            values = answer.get("values") if isinstance(answer, Mapping) else None
            for comment in values if isinstance(values, list) else ():
                if isinstance(comment, Mapping) and marker in str(comment.get("body") or ""):
                    return str(comment.get("id"))
            if (
                not isinstance(answer, Mapping)
                or not isinstance(values, list)
                or not values
                or answer.get("isLastPage", True)
            ):
                return None
            start += len(values)
        return None

    def has_labels(self, key: str, labels: Sequence[str]) -> bool:
        """Whether the issue carries every one of ``labels`` (an earlier try's labels landed)."""
        with self._errors("labels read", key):
            answer = self._client.get(
                f"rest/api/3/issue/{_path_key(key)}", params={"fields": "labels"}
            )
        fields = answer.get("fields") if isinstance(answer, Mapping) else None
        present = fields.get("labels") if isinstance(fields, Mapping) else None
        return isinstance(present, list) and set(labels) <= {str(label) for label in present}

    def add_labels(self, key: str, labels: Sequence[str]) -> None:
        if not labels:
            return
        with self._errors("labels", key):
            self._client.put(
                f"rest/api/3/issue/{_path_key(key)}",
                data={"update": {"labels": [{"add": label} for label in labels]}},
            )

    def get_ticket(self, key: str) -> TicketData:
        with self._errors("read", key):
            answer = self._client.get(f"rest/api/3/issue/{_path_key(key)}")
        fields = answer.get("fields") if isinstance(answer, Mapping) else None
        if not isinstance(answer, Mapping) or not isinstance(fields, Mapping):
            raise TicketError(f"JSM read of {key}: the answer has no fields", retryable=False)
        return TicketData(
            key=str(answer.get("key") or key),
            summary=str(fields.get("summary") or ""),
            description=adf_to_text(fields.get("description")),
            fields=dict(fields),
        )

    # --- helpers ---

    def _upload(self, key: str, attachment: Attachment) -> str:
        # The same headers the library's attach_temporary_file sends (which only reads from disk):
        # no JSON Content-Type (requests sets the multipart boundary) and the XSRF opt-out.
        headers = dict(self._client.experimental_headers)
        del headers["Content-Type"]
        headers["X-Atlassian-Token"] = "no-check"
        with self._errors("attachment upload", key):
            answer: Any = self._client.post(  # its shape is checked by reading it below
                f"rest/servicedeskapi/servicedesk/{quote(self.service_desk_id, safe='')}"
                "/attachTemporaryFile",
                headers=headers,
                files={"file": (attachment.name, attachment.data, attachment.content_type)},
            )
        try:
            return str(answer["temporaryAttachments"][0]["temporaryAttachmentId"])
        except (KeyError, IndexError, TypeError):
            raise TicketError(
                f"JSM attachment upload for {key}: the answer has no temporary attachment id",
                retryable=False,
            ) from None

    @contextmanager
    def _errors(self, operation: str, key: str) -> Iterator[None]:
        """Library and ``requests`` failures → :class:`TicketError`.

        Raised ``from None``: the original exceptions hold the prepared request, whose
        Authorization header carries the credentials.
        """
        try:
            yield
        except BlockedDestination as exc:
            message = f"JSM {operation} on {key}: {exc} (JSM_BASE_URL)"
            log.warning("%s", message)
            raise TicketError(message, retryable=False) from None
        except requests.HTTPError as exc:
            response = exc.response
            status = response.status_code if response is not None else None
            message = f"JSM {operation} on {key} failed: HTTP {status}"
            detail = self._redact(_server_message(response))
            if detail:
                message += f" ({detail})"
            log.warning("%s", message)
            if status is None:
                raise TicketError(message, retryable=False) from None
            raise TicketError.for_status(message, status) from None
        except requests.ConnectTimeout:  # never connected: nothing was sent
            message = (
                f"JSM {operation} on {key}: could not connect within {self._client.timeout:g} s"
            )
            log.warning("%s", message)
            raise TicketError(message, retryable=True) from None
        except requests.Timeout:  # sent, no answer: it may have been done
            message = f"JSM {operation} on {key} timed out after {self._client.timeout:g} s"
            log.warning("%s", message)
            raise TicketError(message, retryable=True, outcome_unknown=True) from None
        except requests.ConnectionError as exc:  # refused, or dropped mid-call: cannot tell which
            message = f"JSM {operation} on {key}: the connection failed ({type(exc).__name__})"
            log.warning("%s", message)
            raise TicketError(message, retryable=True, outcome_unknown=True) from None
        except requests.RequestException as exc:
            message = f"JSM {operation} on {key} failed ({type(exc).__name__})"
            log.warning("%s", message)
            raise TicketError(message, retryable=False) from None

    def _redact(self, text: str) -> str:
        return text.replace(self._secret, "***") if self._secret else text


def _path_key(key: str) -> str:
    return quote(key, safe="")


def _server_message(response: requests.Response | None) -> str:
    """The error text Jira sent (``errorMessage`` or ``errorMessages``/``errors``), shortened."""
    if response is None:
        return ""
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, Mapping):
        return ""
    messages: list[str] = []
    if isinstance(body.get("errorMessage"), str):
        messages.append(body["errorMessage"])
    if isinstance(body.get("errorMessages"), list):
        messages.extend(str(m) for m in body["errorMessages"])
    if isinstance(body.get("errors"), Mapping):
        messages.extend(f"{k}: {v}" for k, v in body["errors"].items())
    text = "; ".join(m for m in messages if m)
    return text if len(text) <= _DETAIL_LIMIT else text[: _DETAIL_LIMIT - 1] + "…"


def _attachment_ids(answer: Any) -> list[str]:
    attachments = answer.get("attachments") if isinstance(answer, Mapping) else None
    if isinstance(attachments, Mapping):
        attachments = attachments.get("values")
    ids = []
    for item in attachments if isinstance(attachments, list) else ():
        if not isinstance(item, Mapping):
            continue
        raw_links = item.get("_links")
        links = raw_links if isinstance(raw_links, Mapping) else {}
        ref = item.get("id") or links.get("jiraRest") or links.get("self")
        if ref:
            ids.append(str(ref).rstrip("/").rsplit("/", 1)[-1])
    return ids
