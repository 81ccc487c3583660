"""Files of the instance folder that are generated once (keys), safely under concurrent start-up.

Gunicorn's web processes and the queue workers start together and each may be first to need a
key: the file is written under a temporary name and hard-linked into place, so exactly one
creator wins, nobody reads a half-written file, and everyone ends up with the winner's content.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from pathlib import Path


def create_once(path: Path, make: Callable[[], bytes]) -> bytes:
    """The content of ``path``, first written (mode 0600) with ``make()`` if it does not exist."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(make())
            with contextlib.suppress(FileExistsError):  # another process won: use its file
                os.link(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    return path.read_bytes()
