"""Registry tables and their ordered migrations (one list, applied in order, recorded by number)."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

metadata = sa.MetaData()

schema_migrations = sa.Table(
    "schema_migrations",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
)

resellers = sa.Table(
    "resellers",
    metadata,
    sa.Column("partner_id", sa.String(16), primary_key=True),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("country", sa.String(2), nullable=False),
    sa.Column("tenant_id", sa.String(36)),
    sa.Column("workflow_id", sa.String(200), nullable=False),
    sa.Column("status_reason", sa.Text),
    sa.Column("ir_authorized_at", sa.DateTime(timezone=True)),
    sa.Column("mpa_signed_at", sa.DateTime(timezone=True)),
    sa.Column("active_since", sa.DateTime(timezone=True)),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

sent_messages = sa.Table(
    "sent_messages",
    metadata,
    sa.Column("idempotency_key", sa.String(300), primary_key=True),
    sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
)


def _v1_initial(connection: sa.Connection) -> None:
    for table in (resellers, sent_messages):
        table.create(connection)


MIGRATIONS: list[Callable[[sa.Connection], None]] = [_v1_initial]
"""Migration N is MIGRATIONS[N - 1]. Append only; never edit a released one."""
