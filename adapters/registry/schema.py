"""Registry tables. Their schema is created and changed by the Alembic revisions in
adapters/registry/migrations (`adapters.registry.migrate`); a change here needs a new revision."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

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


direct_bill_partners = sa.Table(
    "direct_bill_partners",
    metadata,
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

cooldowns = sa.Table(
    "cooldowns",
    metadata,
    sa.Column("pga_id", sa.String(16), primary_key=True),
    sa.Column("until", sa.DateTime(timezone=True), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
)


# ---- relationship pipelines: partnerships, customer relationships, orders (DOMAIN.md 3-6) ----

partnerships = sa.Table(
    "partnerships",
    metadata,
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

customer_relationships = sa.Table(
    "customer_relationships",
    metadata,
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
    sa.Index("ix_customer_relationships_customer", "customer_tenant_id"),
)

customer_agreements = sa.Table(
    "customer_agreements",
    metadata,
    sa.Column("customer_tenant_id", sa.String(36), primary_key=True),
    sa.Column("signer_name", sa.Text, nullable=False),
    sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("attested_by", sa.Text, nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
)

reseller_suspensions = sa.Table(
    "reseller_suspensions",
    metadata,
    sa.Column("reseller_partner_id", sa.String(16), primary_key=True),
    sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("reported_by", sa.Text, nullable=False),
    sa.Column("reinstated_at", sa.DateTime(timezone=True)),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

subscription_orders = sa.Table(
    "subscription_orders",
    metadata,
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


# ---- provider operations for partnered resellers (REL-05, issue 14) --------------------------

subscription_support_contacts = sa.Table(
    "subscription_support_contacts",
    metadata,
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

subscription_resellers = sa.Table(
    "subscription_resellers",
    metadata,
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

reseller_exits = sa.Table(
    "reseller_exits",
    metadata,
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


# ---- invalid Partners of Record found before orders fail (REL-07, issue 14) ------------------

por_checks = sa.Table(
    "por_checks",
    metadata,
    sa.Column("sweep_id", sa.String(200), primary_key=True),
    sa.Column("provider_partner_id", sa.String(16), primary_key=True),
    sa.Column("reseller_partner_id", sa.String(16), primary_key=True),
    sa.Column("valid", sa.Boolean, nullable=False),
    sa.Column("error_code", sa.String(32)),
    sa.Column("reason", sa.Text),
    sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
)

por_reports = sa.Table(
    "por_reports",
    metadata,
    sa.Column("sweep_id", sa.String(200), primary_key=True),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("checked", sa.Integer, nullable=False),
    sa.Column("valid", sa.Integer, nullable=False),
    sa.Column("invalid", sa.Integer, nullable=False),
    sa.Column("unchecked", sa.Integer, nullable=False),
    sa.Column("failures", sa.JSON, nullable=False),
    sa.Index("ix_por_reports_finished_at", "finished_at"),
)

# ---- the gateway's delivery ledger (issue 12): one delivery id names one route and one body ----

callback_deliveries = sa.Table(
    "callback_deliveries",
    metadata,
    sa.Column("backend", sa.String(64), primary_key=True),
    sa.Column("delivery_id", sa.String(128), primary_key=True),
    sa.Column("route", sa.String(400), nullable=False),
    sa.Column("body_sha256", sa.String(64), nullable=False),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("answer_status", sa.Integer),
    sa.Column("answer_body", sa.Text),
)
