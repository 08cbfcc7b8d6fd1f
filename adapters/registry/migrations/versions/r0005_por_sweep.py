"""Invalid Partners of Record found before orders fail (REL-07, issue 14): each sweep's check of
a partnership's reseller, and each finished sweep's report.

Revision ID: 0005_por_sweep
Revises: 0004_provider_operations
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_por_sweep"
down_revision = "0004_provider_operations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "por_checks",
        sa.Column("sweep_id", sa.String(200), primary_key=True),
        sa.Column("provider_partner_id", sa.String(16), primary_key=True),
        sa.Column("reseller_partner_id", sa.String(16), primary_key=True),
        sa.Column("valid", sa.Boolean, nullable=False),
        sa.Column("error_code", sa.String(32)),
        sa.Column("reason", sa.Text),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "por_reports",
        sa.Column("sweep_id", sa.String(200), primary_key=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("checked", sa.Integer, nullable=False),
        sa.Column("valid", sa.Integer, nullable=False),
        sa.Column("invalid", sa.Integer, nullable=False),
        sa.Column("unchecked", sa.Integer, nullable=False),
        sa.Column("failures", sa.JSON, nullable=False),
    )
    op.create_index("ix_por_reports_finished_at", "por_reports", ["finished_at"])


def downgrade() -> None:
    op.drop_index("ix_por_reports_finished_at", table_name="por_reports")
    op.drop_table("por_reports")
    op.drop_table("por_checks")
