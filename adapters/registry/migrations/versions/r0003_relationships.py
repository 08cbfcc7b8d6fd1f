"""Relationship pipelines: partnerships, customer relationships and agreements, reseller
suspensions, subscription orders (legacy migration 3).

Revision ID: 0003_relationships
Revises: 0002_direct_bill
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_relationships"
down_revision = "0002_direct_bill"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "partnerships",
        sa.Column("provider_partner_id", sa.String(16), primary_key=True),
        sa.Column("reseller_partner_id", sa.String(16), primary_key=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("region", sa.String(2), nullable=False),
        sa.Column("provider_tenant_id", sa.String(36), nullable=False),
        sa.Column("workflow_id", sa.String(200), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True)),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
        sa.Column("status_reason", sa.Text),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "customer_relationships",
        sa.Column("reseller_partner_id", sa.String(16), primary_key=True),
        sa.Column("customer_tenant_id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("provider_partner_id", sa.String(16)),
        sa.Column("customer_country", sa.String(2), nullable=False),
        sa.Column("customer_partner_id", sa.String(16)),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("workflow_id", sa.String(200), nullable=False),
        sa.Column("invited_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True)),
        sa.Column("acceptance_event", sa.String(100)),
        sa.Column("gdap_revoked_at", sa.DateTime(timezone=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_customer_relationships_customer", "customer_relationships", ["customer_tenant_id"]
    )
    op.create_table(
        "customer_agreements",
        sa.Column("customer_tenant_id", sa.String(36), primary_key=True),
        sa.Column("signer_name", sa.Text, nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attested_by", sa.Text, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "reseller_suspensions",
        sa.Column("reseller_partner_id", sa.String(16), primary_key=True),
        sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("reported_by", sa.Text, nullable=False),
        sa.Column("reinstated_at", sa.DateTime(timezone=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "subscription_orders",
        sa.Column("provider_partner_id", sa.String(16), primary_key=True),
        sa.Column("order_ref", sa.String(64), primary_key=True),
        sa.Column("customer_tenant_id", sa.String(36), nullable=False),
        sa.Column("partner_of_record", sa.String(16)),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("por_enforced", sa.Boolean),
        sa.Column("warnings", sa.JSON, nullable=False),
        sa.Column("status_reason", sa.Text),
        sa.Column("error_type", sa.String(64)),
        sa.Column("partner_center_order_id", sa.String(100)),
        sa.Column("workflow_id", sa.String(200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("subscription_orders")
    op.drop_table("reseller_suspensions")
    op.drop_table("customer_agreements")
    op.drop_index("ix_customer_relationships_customer", table_name="customer_relationships")
    op.drop_table("customer_relationships")
    op.drop_table("partnerships")
