"""The gateway's delivery ledger (issue 12): each signed callback's delivery id with the route and
body digest it was first seen with, and the answer it got, kept longer than the signature's
freshness window so a delivery id cannot be reused for another route or body.

Revision ID: 0006_callback_deliveries
Revises: 0005_por_sweep
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_callback_deliveries"
down_revision = "0005_por_sweep"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "callback_deliveries",
        sa.Column("backend", sa.String(64), primary_key=True),
        sa.Column("delivery_id", sa.String(128), primary_key=True),
        sa.Column("route", sa.String(400), nullable=False),
        sa.Column("body_sha256", sa.String(64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answer_status", sa.Integer),
        sa.Column("answer_body", sa.Text),
    )
    op.create_index("ix_callback_deliveries_received_at", "callback_deliveries", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_callback_deliveries_received_at", table_name="callback_deliveries")
    op.drop_table("callback_deliveries")
