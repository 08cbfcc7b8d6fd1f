"""Resellers and the email outbox (legacy migration 1).

Revision ID: 0001_initial
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "resellers",
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
    op.create_table(
        "sent_messages",
        sa.Column("idempotency_key", sa.String(300), primary_key=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("sent_messages")
    op.drop_table("resellers")
