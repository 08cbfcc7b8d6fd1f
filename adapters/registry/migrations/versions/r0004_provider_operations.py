"""Provider operations for partnered resellers (REL-05, END-03, issue 14): subscription support
contacts, subscription resellers (Partner of Record changes), reseller exits (legacy migration 4
of the issue-14 branch).

Revision ID: 0004_provider_operations
Revises: 0003_relationships
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_provider_operations"
down_revision = "0003_relationships"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subscription_support_contacts",
        sa.Column("customer_tenant_id", sa.String(36), primary_key=True),
        sa.Column("subscription_id", sa.String(36), primary_key=True),
        sa.Column("provider_partner_id", sa.String(16), nullable=False),
        sa.Column("reseller_partner_id", sa.String(16), nullable=False),
        sa.Column("reseller_tenant_id", sa.String(36), nullable=False),
        sa.Column("reseller_name", sa.String(500), nullable=False),
        sa.Column("workflow_id", sa.String(200), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("set_by", sa.String(320), nullable=False),
    )
    op.create_table(
        "subscription_resellers",
        sa.Column("customer_tenant_id", sa.String(36), primary_key=True),
        sa.Column("subscription_id", sa.String(36), primary_key=True),
        sa.Column("provider_partner_id", sa.String(16), nullable=False),
        sa.Column("partner_of_record", sa.String(16), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("status_reason", sa.Text),
        sa.Column("error_type", sa.String(64)),
        sa.Column("pending_in_partner_center", sa.Boolean, nullable=False),
        sa.Column("workflow_id", sa.String(200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "reseller_exits",
        sa.Column("reseller_partner_id", sa.String(16), primary_key=True),
        sa.Column("provider_partner_id", sa.String(16), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("new_provider_partner_id", sa.String(16)),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("case_reference", sa.String(64)),
        sa.Column("case_opened_at", sa.DateTime(timezone=True)),
        sa.Column("outcome_note", sa.Text),
        sa.Column("workflow_id", sa.String(200), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("reseller_exits")
    op.drop_table("subscription_resellers")
    op.drop_table("subscription_support_contacts")
