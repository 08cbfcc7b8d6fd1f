"""Direct-bill partners and cool-downs (legacy migration 2).

Revision ID: 0002_direct_bill
Revises: 0001_initial
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_direct_bill"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "direct_bill_partners",
        sa.Column("pga_id", sa.String(16), primary_key=True),
        sa.Column("region", sa.String(2), primary_key=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("workflow_id", sa.String(200), nullable=False),
        sa.Column("pla_id", sa.String(16), nullable=False),
        sa.Column("legal_name", sa.String(500)),
        sa.Column("contact_name", sa.String(500)),
        sa.Column("contact_email", sa.String(320)),
        sa.Column("status_reason", sa.Text),
        sa.Column("support_plan_kind", sa.String(64)),
        sa.Column("support_plan_contract_id", sa.String(200)),
        sa.Column("support_plan_renewal_date", sa.Date),
        sa.Column("renewal_month", sa.Integer),
        sa.Column("onboarding_anniversary_month", sa.Integer),
        sa.Column("activated_at", sa.DateTime(timezone=True)),
        sa.Column("next_reassessment_due", sa.Date),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "cooldowns",
        sa.Column("pga_id", sa.String(16), primary_key=True),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("cooldowns")
    op.drop_table("direct_bill_partners")
