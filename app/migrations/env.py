"""Alembic environment: run programmatically by :meth:`app.db.Database.upgrade`.

The caller passes an open connection in ``config.attributes["connection"]``; there is no
``alembic.ini``. To write a new revision, from the repository root::

    .venv/bin/python -c "from alembic import command; from app.db import alembic_config; \
command.revision(alembic_config(), message='what changes', rev_id='0002')"

then write its ``upgrade()`` by hand and check it with ``pytest tests/app/test_storage.py``.
"""

from __future__ import annotations

from alembic import context

from app.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through app.db.Database.upgrade (no connection given)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
