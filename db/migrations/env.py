"""Alembic environment: runs on the connection taskql hands it (see db/migrate.py)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from db.models import Base

connection: Connection | None = context.config.attributes.get("connection")
if connection is None:
    raise SystemExit("Run migrations with `taskql migrate`; it supplies the database connection.")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
