"""Alembic environment: migrations run on the connection `adapters.registry.migrate` hands over
(config.attributes["connection"]), inside its transaction."""

from __future__ import annotations

from alembic import context

from adapters.registry.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
