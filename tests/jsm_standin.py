"""A Service Management stand-in on loopback, for tests and benchmarks that run real processes.

It answers the calls the JSM connector makes (comments, the comment list, temporary uploads,
attachments with their comment, labels, an issue's labels) after ``latency`` seconds each, keeps everything it was
sent per ticket, and counts the TCP connections it accepted (kept-open connections show as few).
With ``hold_first_comment``, the first internal comment is recorded and then its answer is held
until :meth:`release` — the moment to kill the worker that sent it (its outcome is then unknown
to the service: the comment exists, the outbox does not know).
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

_COMMENT = re.compile(r"^/rest/servicedeskapi/request/([^/]+)/comment$")
_ATTACH = re.compile(r"^/rest/servicedeskapi/request/([^/]+)/attachment$")
_UPLOAD = re.compile(r"^/rest/servicedeskapi/servicedesk/[^/]+/attachTemporaryFile$")
_ISSUE = re.compile(r"^/rest/api/3/issue/([^/]+)$")


class _QuietServer(ThreadingHTTPServer):
    """A client killed mid-call (the crash tests kill workers) is expected, not a traceback."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class JsmStandIn:
    def __init__(self, *, latency: float = 0.0, hold_first_comment: bool = False) -> None:
        self.latency = latency
        self.hold_first_comment = hold_first_comment
        self.lock = threading.Lock()
        self.comments: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.attachments: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.labels: dict[str, list[list[str]]] = defaultdict(list)
        self.searches: dict[str, int] = defaultdict(int)
        self.first_seen: dict[str, float] = {}
        self.done_at: dict[str, float] = {}
        self.connections = 0
        self.requests = 0
        self.held = threading.Event()
        self.held_ticket: str | None = None
        self._release = threading.Event()
        self._ids = 0
        self._server = _QuietServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> JsmStandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()

    def release(self) -> None:
        self._release.set()

    def next_id(self) -> int:
        with self.lock:
            self._ids += 1
            return self._ids

    def internal_comments(self, ticket: str, containing: str = "") -> list[str]:
        with self.lock:
            return [
                c["body"]
                for c in self.comments[ticket]
                if not c["public"] and containing in c["body"]
            ]

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "comments": {k: list(v) for k, v in self.comments.items()},
                "attachments": {k: list(v) for k, v in self.attachments.items()},
                "labels": {k: list(v) for k, v in self.labels.items()},
            }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                with standin.lock:
                    standin.connections += 1

            def log_message(self, *_args: Any) -> None:
                pass

            def _body(self) -> bytes | None:
                """The request's body; ``None`` when the caller went away before sending all
                of it (a worker killed mid-request): such a request never reaches a real
                server's handler, so it changes nothing here either."""
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if len(body) < length:
                    self.close_connection = True
                    return None
                return body

            def _answer(self, status: int, payload: Any = None) -> None:
                data = b"" if payload is None else json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the caller was killed while we waited
                    pass

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                self._pause()
                issue = _ISSUE.match(url.path)
                if issue:
                    with standin.lock:
                        present = sorted({x for xs in standin.labels[issue.group(1)] for x in xs})
                    return self._answer(200, {"key": issue.group(1), "fields": {"labels": present}})
                match = _COMMENT.match(url.path)
                if not match:
                    return self._answer(404, {"errorMessage": "not found"})
                ticket, query = match.group(1), parse_qs(url.query)
                start, limit = int(query.get("start", ["0"])[0]), int(query.get("limit", ["50"])[0])
                with standin.lock:
                    standin.searches[ticket] += 1
                    values = [
                        {"id": c["id"], "body": c["body"], "public": c["public"]}
                        for c in standin.comments[ticket]
                    ]
                page = values[start : start + limit]
                self._answer(
                    200,
                    {"values": page, "isLastPage": start + limit >= len(values), "start": start},
                )

            def do_POST(self) -> None:
                path, body = urlsplit(self.path).path, self._body()
                if body is None:
                    return
                self._pause()
                if _UPLOAD.match(path):
                    ident = f"tmp-{standin.next_id()}"
                    return self._answer(
                        201, {"temporaryAttachments": [{"temporaryAttachmentId": ident}]}
                    )
                match = _COMMENT.match(path)
                if match:
                    return self._comment(match.group(1), json.loads(body))
                match = _ATTACH.match(path)
                if match:
                    return self._attach(match.group(1), json.loads(body))
                self._answer(404, {"errorMessage": "not found"})

            def do_PUT(self) -> None:
                path, body = urlsplit(self.path).path, self._body()
                if body is None:
                    return
                self._pause()
                match = _ISSUE.match(path)
                if not match:
                    return self._answer(404, {"errorMessage": "not found"})
                labels = [item["add"] for item in json.loads(body)["update"]["labels"]]
                with standin.lock:
                    standin.labels[match.group(1)].append(labels)
                    standin._mark(match.group(1))
                self._answer(204)

            def _pause(self) -> None:
                with standin.lock:
                    standin.requests += 1
                if standin.latency:
                    time.sleep(standin.latency)

            def _comment(self, ticket: str, data: dict[str, Any]) -> None:
                ident = str(standin.next_id())
                hold = False
                with standin.lock:
                    standin.comments[ticket].append(
                        {"id": ident, "body": data["body"], "public": bool(data["public"])}
                    )
                    standin._mark(ticket)
                    if (
                        standin.hold_first_comment
                        and not data["public"]
                        and not standin.held.is_set()
                    ):
                        standin.held_ticket, hold = ticket, True
                        standin.held.set()
                if hold:
                    standin._release.wait(120)
                self._answer(201, {"id": ident})

            def _attach(self, ticket: str, data: dict[str, Any]) -> None:
                ids = [str(standin.next_id()) for _ in data["temporaryAttachmentIds"]]
                with standin.lock:
                    standin.attachments[ticket].append({"ids": ids, "public": data["public"]})
                    note = (data.get("additionalComment") or {}).get("body")
                    if note:
                        standin.comments[ticket].append(
                            {"id": str(standin._ids + 1000), "body": note, "public": False}
                        )
                    standin._mark(ticket)
                self._answer(201, {"attachments": {"values": [{"id": i} for i in ids]}})

        return Handler

    def _mark(self, ticket: str) -> None:
        """Lock held: when a ticket was first and last written to (monotonic seconds)."""
        now = time.monotonic()
        self.first_seen.setdefault(ticket, now)
        self.done_at[ticket] = now
