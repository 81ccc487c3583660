"""gunicorn settings for ``mulesight serve --workers N`` (or ``gunicorn -c python:app.gunicorn_conf``).

Threaded workers (``gthread``): a request that waits for a background run (``POST
/forge/v1/runs`` waits up to ``MULESIGHT_RUN_WAIT_S``) holds one thread, not a whole process.
Each worker process builds its own app (no preloading): its own database pool, its own Redis
connection. ``bind`` and ``workers`` come from the command line (``--host``, ``--port``,
``--workers``) or ``GUNICORN_CMD_ARGS``.
"""

from __future__ import annotations

import os
from typing import Any

from app.config import SETTINGS_BY_KEY

worker_class = "gthread"
threads = int(
    os.environ.get("MULESIGHT_SERVE_THREADS") or SETTINGS_BY_KEY["MULESIGHT_SERVE_THREADS"].default
)
timeout = 60  # a request is never longer than a Forge remote call (25 s); this catches a hung one
graceful_timeout = 30  # SIGTERM: finish the requests in flight, then exit
keepalive = 5
backlog = 2048
preload_app = False
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
accesslog = None  # the app logs what matters; an access log per webhook costs intake time
errorlog = "-"
loglevel = "warning"


def post_worker_init(worker: Any) -> None:
    """Start the worker's background part (the embedded queue's threads and sweeper, if any),
    then freeze the built app's objects (:mod:`app.heap`)."""
    from app.heap import freeze_startup_objects
    from app.jobs import get_queue

    flask_app = getattr(worker.wsgi, "flask_app", worker.wsgi)
    get_queue(flask_app).start()
    freeze_startup_objects()
