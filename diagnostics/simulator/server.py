"""The simulated Anypoint over real HTTP, answering with the same :class:`Simulation` code.

Used by ``mulesight simulate``, the benchmark and the tests: HTTP/1.1 with keep-alive (every
answer carries ``Content-Length``), one daemon thread per connection, no request logging.
A hanging request gets no answer: its handler waits until the client gives up and disconnects,
the server stops, or ``hang_s`` passes — then closes the connection.
"""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from diagnostics.simulator.handler import Simulation, reason_phrase
from diagnostics.simulator.scenario import Scenario

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8099
DEFAULT_HANG_S = 60.0
IDLE_CONNECTION_S = 120.0


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # never wait for idle keep-alive connections on close
    # A client opens a pool of connections at once (32 for a run): socketserver's backlog of 5
    # dropped the others' SYNs, which the kernel only retries after 1 s.
    request_queue_size = socket.SOMAXCONN

    def __init__(self, address: tuple[str, int], simulation: Simulation, hang_s: float) -> None:
        self.simulation = simulation
        self.hang_s = hang_s
        self.stopping = threading.Event()
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: a client that went away mid-answer is not worth a traceback."""


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = (
        True  # headers and body are separate writes: no 40 ms delayed-ACK stall
    )
    server_version = "anypoint-simulator"
    sys_version = ""
    timeout = IDLE_CONNECTION_S
    server: _Server

    def do_GET(self) -> None:
        self._answer()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
        answer = self.server.simulation.handle(
            self.command, f"http://{host}{self.path}", dict(self.headers.items()), body
        )
        if answer.hang:
            self._hang()
            return
        if self.server.simulation.latency_s:
            time.sleep(self.server.simulation.latency_s)
        self.send_response(answer.status, reason_phrase(answer.status) or None)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        if not any(name.lower() == "content-length" for name in answer.headers):
            self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer.body)

    def _hang(self) -> None:
        """Say nothing until the client disconnects, the server stops, or ``hang_s`` passes."""
        self.close_connection = True
        deadline = time.monotonic() + self.server.hang_s
        while not self.server.stopping.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            readable, _, _ = select.select([self.connection], [], [], min(left, 0.2))
            if readable:
                try:
                    if not self.connection.recv(1, socket.MSG_PEEK):
                        return  # the client closed the connection
                except OSError:
                    return
                self.server.stopping.wait(min(left, 0.2))  # more data pending: do not spin

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: no line per request."""


class SimulatorServer:
    """A simulated Anypoint listening on ``host:port`` (``port=0``: any free port).

    ``with SimulatorServer(scenario) as srv:`` serves from a daemon thread; ``srv.base_url`` is
    where. The socket is bound on construction, so ``base_url`` is known before serving.
    """

    def __init__(
        self,
        scenario: Scenario | Simulation,
        host: str = DEFAULT_HOST,
        port: int = 0,
        *,
        hang_s: float = DEFAULT_HANG_S,
    ) -> None:
        self.simulation = scenario if isinstance(scenario, Simulation) else Simulation(scenario)
        server_class = _Server6 if ":" in host else _Server
        self._server = server_class((host, port), self.simulation, hang_s)
        self._thread: threading.Thread | None = None
        self._serving = threading.Event()  # serve_forever() runs in a caller's thread

    @property
    def base_url(self) -> str:
        address, port = self._server.server_address[:2]
        host = address.decode() if isinstance(address, bytes) else str(address)
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def start(self) -> SimulatorServer:
        """Serve from a daemon thread."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.1},
                name=f"simulator-{self.simulation.scenario.name}",
                daemon=True,
            )
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve from the calling thread until :meth:`stop` (from another thread) or Ctrl-C."""
        self._serving.set()
        try:
            self._server.serve_forever(poll_interval=0.2)
        except KeyboardInterrupt:
            pass
        finally:
            self._serving.clear()
            self.close()

    def stop(self) -> None:
        """Stop serving, end hanging requests and close the listening socket."""
        self._server.stopping.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        elif self._serving.is_set():
            self._server.shutdown()
        self.close()

    def close(self) -> None:
        self._server.stopping.set()
        self._server.server_close()

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def serve(
    scenario: Scenario,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve ``scenario`` on ``host:port`` until Ctrl-C; ``on_ready(base_url)`` once listening."""
    server = SimulatorServer(scenario, host, port)
    if on_ready is not None:
        try:
            on_ready(server.base_url)
        except BaseException:
            server.close()
            raise
    server.serve_forever()
