"""Alembic environment: runs on the connection handed in by ``xinbao.migrate``."""

from __future__ import annotations

from alembic import context

from xinbao.schema import metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - only when someone runs bare `alembic`
    raise RuntimeError("run migrations with `xinbao db upgrade`")

context.configure(connection=connection, target_metadata=metadata,
                  render_as_batch=connection.dialect.name == "sqlite", compare_type=True)
with context.begin_transaction():
    context.run_migrations()
