"""`PartnerRegistry` on SQLAlchemy: SQLite (in the registry's threads) or PostgreSQL (asyncpg);
each call is one unit of work (adapters/registry/database.py)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from adapters.registry.database import RegistryDatabase, open_database
from adapters.registry.schema import (
    cooldowns,
    customer_agreements,
    customer_relationships,
    direct_bill_partners,
    partnerships,
    por_checks,
    por_reports,
    reseller_exits,
    reseller_suspensions,
    resellers,
    sent_messages,
    subscription_orders,
    subscription_resellers,
    subscription_support_contacts,
)
from domain.direct_bill import (
    Cooldown,
    DirectBillRecord,
    DirectBillRegistryStatus,
    SupportPlan,
)
from domain.errors import refuse_nul
from domain.por_sweep import PorCheck, PorReport
from domain.provider_operations import SubscriptionResellerRecord, SupportContactRecord
from domain.reconciliation import UNSETTLED_STATUSES, ClosedPipeline, OpenRecord, PipelineKind
from domain.relationships import (
    CustomerAgreementRecord,
    CustomerRelationshipRecord,
    OrderRecord,
    PartnershipRecord,
    ResellerSuspensionRecord,
)
from domain.reseller_enrollment import ResellerRecord, ResellerStatus
from domain.reseller_exit import ResellerExitRecord


def _utc(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything the registry stores is UTC.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class _Tracked:
    """Where a pipeline keeps its registry row, for the reconciler (issue 18)."""

    table: sa.Table
    partner: str
    """The column naming the partner the row belongs to."""
    second: str | None = None
    """The rest of the row's key, if any."""
    label: str = ""
    """What `second` is, in words."""
    reason: str | None = "status_reason"
    """The column a recorded closure's reason goes to; None: the table has none."""
    ended: str | None = None
    """The column a recorded closure's time goes to, if the row has one."""


_TRACKED: dict[PipelineKind, _Tracked] = {
    "reseller_enrollment": _Tracked(resellers, "partner_id"),
    "direct_bill_application": _Tracked(direct_bill_partners, "pga_id", "region"),
    "partnership": _Tracked(
        partnerships, "provider_partner_id", "reseller_partner_id", "reseller", ended="ended_at"
    ),
    "customer_invitation": _Tracked(
        customer_relationships,
        "reseller_partner_id",
        "customer_tenant_id",
        "customer",
        reason=None,  # the reason reaches operations in the report
    ),
    "subscription_order": _Tracked(
        subscription_orders, "provider_partner_id", "order_ref", "order"
    ),
    "subscription_reseller": _Tracked(
        subscription_resellers, "provider_partner_id", "subscription_id", "subscription"
    ),
    "reseller_exit": _Tracked(
        reseller_exits,
        "reseller_partner_id",
        "provider_partner_id",
        "provider",
        reason="outcome_note",
    ),
}


def _direct_bill(row: sa.RowMapping | dict[str, Any]) -> DirectBillRecord:
    data = dict(row)
    for name in ("activated_at", "updated_at"):
        data[name] = _utc(data[name])
    return DirectBillRecord.model_validate(data)


def _stored(table: sa.Table, values: dict[str, Any]) -> dict[str, Any]:
    """`values` as the registry writes them: a text with a NUL byte refused, instants in UTC."""
    refuse_nul(values, source=f"registry table {table.name}")
    # SQLite keeps a datetime's wall-clock time and drops its offset: store UTC everywhere.
    return {
        name: value.astimezone(UTC) if isinstance(value, datetime) and value.tzinfo else value
        for name, value in values.items()
    }


def _first(query: sa.Select[Any]) -> Callable[[sa.Connection], dict[str, Any] | None]:
    def work(conn: sa.Connection) -> dict[str, Any] | None:
        row = conn.execute(query).mappings().first()
        return None if row is None else dict(row)

    return work


def _execute(statement: sa.Executable) -> Callable[[sa.Connection], None]:
    def work(conn: sa.Connection) -> None:
        conn.execute(statement)

    return work


class SqlPartnerRegistry:
    def __init__(self, database: RegistryDatabase) -> None:
        self._db = database

    @classmethod
    def connect(cls, url: str) -> SqlPartnerRegistry:
        """The registry at `url` as it is (no migration): for tools that only read."""
        return cls(open_database(url))

    @classmethod
    async def open(cls, url: str) -> SqlPartnerRegistry:
        """Connect and bring the schema up to date."""
        registry = cls.connect(url)
        await registry.migrate()
        return registry

    async def migrate(self) -> str:
        """Apply pending Alembic revisions (adapters.registry.migrate); returns the revision.
        Replicas starting together on PostgreSQL wait on an advisory lock: one migrates."""
        return await self._db.migrate()

    def _insert(self, table: sa.Table, values: Any) -> Any:
        dialect = postgresql if self._db.dialect_name == "postgresql" else sqlite
        return dialect.insert(table).values(values)

    def _upsert(
        self,
        table: sa.Table,
        values: dict[str, Any],
        key: str | tuple[str, ...],
        *,
        newer: str | None = None,
        keep: frozenset[str] = frozenset(),
    ) -> sa.Insert:
        """Insert or replace the row of `key` (every column but the keys and `keep`); with
        `newer` (a timestamp column) a row holding a later value of it is kept (a repeated write
        of an older step changes nothing)."""
        keys = [key] if isinstance(key, str) else list(key)
        values = _stored(table, values)
        statement = self._insert(table, values)
        updates = {n: statement.excluded[n] for n in values if n not in keys and n not in keep}
        if not updates:
            return cast(sa.Insert, statement.on_conflict_do_nothing(index_elements=keys))
        where = table.c[newer] <= statement.excluded[newer] if newer else None
        return cast(
            sa.Insert,
            statement.on_conflict_do_update(index_elements=keys, set_=updates, where=where),
        )

    async def save_reseller(self, record: ResellerRecord) -> None:
        values = record.model_dump(mode="python")
        values["status"] = record.status.value
        statement = self._upsert(resellers, values, "partner_id", newer="updated_at")
        await self._db.write(_execute(statement))

    async def get_reseller(self, partner_id: str) -> ResellerRecord | None:
        query = sa.select(resellers).where(resellers.c.partner_id == partner_id)
        data = await self._db.read(_first(query))
        if data is None:
            return None
        for name in ("ir_authorized_at", "mpa_signed_at", "active_since", "updated_at"):
            data[name] = _utc(data[name])
        data["status"] = ResellerStatus(data["status"])
        return ResellerRecord.model_validate(data)

    async def was_message_sent(self, idempotency_key: str) -> bool:
        query = sa.select(sent_messages.c.idempotency_key).where(
            sent_messages.c.idempotency_key == idempotency_key
        )
        return await self._db.read(lambda conn: conn.execute(query).first() is not None)

    async def record_message_sent(self, idempotency_key: str, sent_at: datetime) -> None:
        values = {"idempotency_key": idempotency_key, "sent_at": sent_at}
        await self._db.write(_execute(self._upsert(sent_messages, values, "idempotency_key")))

    async def get_direct_bill(self, pga_id: str, region: str) -> DirectBillRecord | None:
        table = direct_bill_partners
        query = sa.select(table).where(table.c.pga_id == pga_id, table.c.region == region)
        data = await self._db.read(_first(query))
        return None if data is None else _direct_bill(data)

    async def save_direct_bill(self, record: DirectBillRecord) -> None:
        values = record.model_dump(mode="python")
        values["status"] = record.status.value
        statement = self._upsert(
            direct_bill_partners, values, ("pga_id", "region"), newer="updated_at"
        )
        await self._db.write(_execute(statement))

    async def change_direct_bill_status(
        self,
        pga_id: str,
        region: str,
        *,
        status: DirectBillRegistryStatus,
        reason: str | None,
        updated_at: datetime,
        next_reassessment_due: date | None = None,
        renewed_plan: SupportPlan | None = None,
    ) -> bool:
        """One UPDATE of the partner's row, in one unit of work: no read and write-back. A row
        holding a later `updated_at` is kept, as `save_direct_bill` keeps it. False: no row."""
        table = direct_bill_partners
        values: dict[str, Any] = {
            "status": status.value,
            "status_reason": reason,
            "updated_at": updated_at,
        }
        if next_reassessment_due is not None:
            values["next_reassessment_due"] = next_reassessment_due
        if renewed_plan is not None:
            values |= {
                "support_plan_kind": renewed_plan.kind.value,
                "support_plan_contract_id": renewed_plan.contract_id,
                "support_plan_renewal_date": renewed_plan.renewal_date,
                "renewal_month": renewed_plan.renewal_date.month,
            }
        values = _stored(table, values)
        row = (table.c.pga_id == pga_id) & (table.c.region == region)
        update = sa.update(table).where(row, table.c.updated_at <= values["updated_at"])
        exists = sa.select(table.c.pga_id).where(row)

        def work(conn: sa.Connection) -> bool:
            if conn.execute(update.values(values)).rowcount:
                return True
            return conn.execute(exists).first() is not None  # kept as newer, or absent

        return await self._db.write(work)

    async def list_direct_bill_due(
        self, month: int, after: tuple[str, str] | None, limit: int
    ) -> list[DirectBillRecord]:
        table = direct_bill_partners
        query = sa.select(table).where(
            table.c.status == "active",
            sa.or_(table.c.renewal_month == month, table.c.onboarding_anniversary_month == month),
        )
        if after is not None:
            query = query.where(sa.tuple_(table.c.pga_id, table.c.region) > sa.tuple_(*after))
        query = query.order_by(table.c.pga_id, table.c.region).limit(limit)
        rows = await self._rows(query, ())
        return [_direct_bill(row) for row in rows]

    @staticmethod
    def _cooldown(data: dict[str, Any] | None) -> Cooldown | None:
        if data is None:
            return None
        for name in ("until", "started_at"):
            data[name] = _utc(data[name])
        return Cooldown.model_validate(data)

    async def get_cooldown(self, pga_id: str) -> Cooldown | None:
        query = sa.select(cooldowns).where(cooldowns.c.pga_id == pga_id)
        return self._cooldown(await self._db.read(_first(query)))

    async def start_cooldown(self, cooldown: Cooldown) -> Cooldown:
        query = sa.select(cooldowns).where(cooldowns.c.pga_id == cooldown.pga_id)
        statement = self._upsert(cooldowns, cooldown.model_dump(), "pga_id")

        def work(conn: sa.Connection) -> Cooldown:
            current = self._cooldown(_first(query)(conn))
            if current is not None and current.until >= cooldown.until:
                return current
            conn.execute(statement)
            return cooldown

        return await self._db.write(work)

    async def close(self) -> None:
        await self._db.close()

    # -- relationship pipelines (DOMAIN.md sections 3-6) -------------------------------------

    async def _save(
        self,
        table: sa.Table,
        values: dict[str, Any],
        keys: tuple[str, ...],
        *,
        keep: frozenset[str] = frozenset(),
    ) -> None:
        """Upsert `values`; on conflict every column but the keys and `keep` is replaced."""
        await self._db.write(_execute(self._upsert(table, values, keys, keep=keep)))

    async def _rows(self, query: sa.Select[Any], instants: tuple[str, ...]) -> list[dict[str, Any]]:
        rows = await self._db.read(lambda conn: conn.execute(query).mappings().all())
        found = []
        for row in rows:
            data = dict(row)
            for name in instants:
                data[name] = _utc(data[name])
            found.append(data)
        return found

    async def save_partnership(self, record: PartnershipRecord) -> None:
        await self._save(
            partnerships,
            record.model_dump(mode="python"),
            ("provider_partner_id", "reseller_partner_id"),
        )

    async def get_partnership(
        self, provider_partner_id: str, reseller_partner_id: str
    ) -> PartnershipRecord | None:
        query = sa.select(partnerships).where(
            partnerships.c.provider_partner_id == provider_partner_id,
            partnerships.c.reseller_partner_id == reseller_partner_id,
        )
        rows = await self._rows(query, ("requested_at", "accepted_at", "ended_at", "updated_at"))
        return PartnershipRecord.model_validate(rows[0]) if rows else None

    _RELATIONSHIP_INSTANTS = ("invited_at", "accepted_at", "gdap_revoked_at", "updated_at")

    async def save_customer_relationship(self, record: CustomerRelationshipRecord) -> None:
        await self._save(
            customer_relationships,
            record.model_dump(mode="python"),
            ("reseller_partner_id", "customer_tenant_id"),
            keep=frozenset({"gdap_revoked_at"}),
        )

    async def get_customer_relationship(
        self, reseller_partner_id: str, customer_tenant_id: str
    ) -> CustomerRelationshipRecord | None:
        table = customer_relationships
        query = sa.select(table).where(
            table.c.reseller_partner_id == reseller_partner_id,
            table.c.customer_tenant_id == customer_tenant_id,
        )
        rows = await self._rows(query, self._RELATIONSHIP_INSTANTS)
        return CustomerRelationshipRecord.model_validate(rows[0]) if rows else None

    async def list_customer_relationships(
        self, customer_tenant_id: str
    ) -> list[CustomerRelationshipRecord]:
        table = customer_relationships
        query = (
            sa.select(table)
            .where(table.c.customer_tenant_id == customer_tenant_id)
            .order_by(table.c.reseller_partner_id)
        )
        rows = await self._rows(query, self._RELATIONSHIP_INSTANTS)
        return [CustomerRelationshipRecord.model_validate(row) for row in rows]

    async def revoke_reseller_gdap(self, reseller_partner_id: str, at: datetime) -> int:
        table = customer_relationships
        statement = (
            table.update()
            .where(
                table.c.reseller_partner_id == reseller_partner_id,
                table.c.gdap_revoked_at.is_(None),
            )
            .values(gdap_revoked_at=at.astimezone(UTC))
        )
        marked = sa.select(sa.func.count()).where(
            table.c.reseller_partner_id == reseller_partner_id,
            table.c.gdap_revoked_at.is_not(None),
        )

        def work(conn: sa.Connection) -> int:
            conn.execute(statement)
            return int(conn.execute(marked).scalar_one())

        return await self._db.write(work)

    async def save_customer_agreement(self, record: CustomerAgreementRecord) -> None:
        await self._save(
            customer_agreements, record.model_dump(mode="python"), ("customer_tenant_id",)
        )

    async def get_customer_agreement(
        self, customer_tenant_id: str
    ) -> CustomerAgreementRecord | None:
        query = sa.select(customer_agreements).where(
            customer_agreements.c.customer_tenant_id == customer_tenant_id
        )
        rows = await self._rows(query, ("accepted_at", "recorded_at"))
        return CustomerAgreementRecord.model_validate(rows[0]) if rows else None

    async def save_reseller_suspension(self, record: ResellerSuspensionRecord) -> None:
        await self._save(
            reseller_suspensions, record.model_dump(mode="python"), ("reseller_partner_id",)
        )

    async def get_reseller_suspension(
        self, reseller_partner_id: str
    ) -> ResellerSuspensionRecord | None:
        query = sa.select(reseller_suspensions).where(
            reseller_suspensions.c.reseller_partner_id == reseller_partner_id
        )
        rows = await self._rows(query, ("suspended_at", "reinstated_at", "updated_at"))
        return ResellerSuspensionRecord.model_validate(rows[0]) if rows else None

    async def find_csp_tenant_owner(self, tenant_id: str) -> str | None:
        wanted = tenant_id.strip().lower()
        as_reseller = (
            sa.select(resellers.c.partner_id)
            .where(sa.func.lower(resellers.c.tenant_id) == wanted)
            .order_by(resellers.c.partner_id)
        )
        as_provider = (
            sa.select(partnerships.c.provider_partner_id)
            .where(sa.func.lower(partnerships.c.provider_tenant_id) == wanted)
            .order_by(partnerships.c.provider_partner_id)
        )

        def work(conn: sa.Connection) -> str | None:
            for query in (as_reseller, as_provider):
                owner = conn.execute(query).first()
                if owner is not None:
                    return str(owner[0])
            return None

        return await self._db.read(work)

    async def save_order(self, record: OrderRecord) -> None:
        values = record.model_dump(mode="python")
        values["warnings"] = list(record.warnings)
        await self._save(subscription_orders, values, ("provider_partner_id", "order_ref"))

    async def get_order(self, provider_partner_id: str, order_ref: str) -> OrderRecord | None:
        query = sa.select(subscription_orders).where(
            subscription_orders.c.provider_partner_id == provider_partner_id,
            subscription_orders.c.order_ref == order_ref,
        )
        rows = await self._rows(query, ("updated_at",))
        return OrderRecord.model_validate(rows[0]) if rows else None

    # ---- pipelines closed without an outcome (issue 18) -----------------------------------

    async def list_open_pipelines(self, limit: int) -> list[OpenRecord]:
        def work(conn: sa.Connection) -> list[OpenRecord]:
            records: list[OpenRecord] = []
            for kind, tracked in _TRACKED.items():
                table = tracked.table
                partner = table.c[tracked.partner]
                second = table.c[tracked.second] if tracked.second else None
                columns = [partner, table.c.status, table.c.workflow_id]
                query = (
                    sa.select(*columns, *([second] if second is not None else []))
                    .where(table.c.status.in_(sorted(UNSETTLED_STATUSES[kind])))
                    .order_by(partner, *([second] if second is not None else []))
                    .limit(limit - len(records))
                )
                for row in conn.execute(query).all():
                    other = str(row[3]) if second is not None else None
                    records.append(
                        OpenRecord(
                            kind=kind,
                            partner_id=str(row[0]),
                            region=other if tracked.second == "region" else None,
                            subject=f"{tracked.label} {other}"
                            if other is not None and tracked.second != "region"
                            else None,
                            status=str(row[1]),
                            workflow_id=str(row[2]),
                        )
                    )
                if len(records) >= limit:
                    break
            return records

        return await self._db.read(work)

    async def record_pipeline_closure(self, closed: ClosedPipeline) -> bool:
        """Only on the row the closed pipeline left: same pipeline, same unsettled status."""
        record = closed.record
        tracked = _TRACKED[record.kind]
        table = tracked.table
        now = datetime.now(UTC)
        values: dict[str, Any] = {"status": closed.closure.value, "updated_at": now}
        if tracked.reason:
            values[tracked.reason] = closed.reason
        if tracked.ended:
            values[tracked.ended] = (closed.closed_at or now).astimezone(UTC)
        statement = (
            sa.update(table)
            .where(
                table.c[tracked.partner] == record.partner_id,
                table.c.status == record.status,
                table.c.workflow_id == record.workflow_id,
            )
            .values(**values)
        )
        return await self._db.write(lambda conn: conn.execute(statement).rowcount == 1)

    async def save_support_contact(self, record: SupportContactRecord) -> None:
        await self._save(
            subscription_support_contacts,
            record.model_dump(mode="python"),
            ("customer_tenant_id", "subscription_id"),
        )

    async def get_support_contact(
        self, customer_tenant_id: str, subscription_id: str
    ) -> SupportContactRecord | None:
        query = sa.select(subscription_support_contacts).where(
            subscription_support_contacts.c.customer_tenant_id == customer_tenant_id,
            subscription_support_contacts.c.subscription_id == subscription_id,
        )
        rows = await self._rows(query, ("set_at",))
        return SupportContactRecord.model_validate(rows[0]) if rows else None

    async def save_subscription_reseller(self, record: SubscriptionResellerRecord) -> None:
        await self._save(
            subscription_resellers,
            record.model_dump(mode="python"),
            ("customer_tenant_id", "subscription_id"),
        )

    async def get_subscription_reseller(
        self, customer_tenant_id: str, subscription_id: str
    ) -> SubscriptionResellerRecord | None:
        query = sa.select(subscription_resellers).where(
            subscription_resellers.c.customer_tenant_id == customer_tenant_id,
            subscription_resellers.c.subscription_id == subscription_id,
        )
        rows = await self._rows(query, ("updated_at",))
        return SubscriptionResellerRecord.model_validate(rows[0]) if rows else None

    async def list_gdap_revoked_customers(
        self, reseller_partner_id: str
    ) -> list[CustomerRelationshipRecord]:
        table = customer_relationships
        query = (
            sa.select(table)
            .where(
                table.c.reseller_partner_id == reseller_partner_id,
                table.c.gdap_revoked_at.is_not(None),
            )
            .order_by(table.c.customer_tenant_id)
        )
        rows = await self._rows(query, self._RELATIONSHIP_INSTANTS)
        return [CustomerRelationshipRecord.model_validate(row) for row in rows]

    async def restore_customer_gdap(
        self, reseller_partner_id: str, customer_tenant_id: str
    ) -> bool:
        table = customer_relationships
        where = (
            table.c.reseller_partner_id == reseller_partner_id,
            table.c.customer_tenant_id == customer_tenant_id,
        )

        def work(conn: sa.Connection) -> bool:
            conn.execute(table.update().where(*where).values(gdap_revoked_at=None))
            return int(conn.execute(sa.select(sa.func.count()).where(*where)).scalar_one()) > 0

        return await self._db.write(work)

    async def save_reseller_exit(self, record: ResellerExitRecord) -> None:
        await self._save(
            reseller_exits,
            record.model_dump(mode="python"),
            ("reseller_partner_id", "provider_partner_id"),
        )

    async def get_reseller_exit(
        self, reseller_partner_id: str, provider_partner_id: str
    ) -> ResellerExitRecord | None:
        query = sa.select(reseller_exits).where(
            reseller_exits.c.reseller_partner_id == reseller_partner_id,
            reseller_exits.c.provider_partner_id == provider_partner_id,
        )
        rows = await self._rows(query, ("requested_at", "case_opened_at", "updated_at"))
        return ResellerExitRecord.model_validate(rows[0]) if rows else None

    # -- invalid Partners of Record found before orders fail (REL-07) ------------------------

    async def list_active_partnerships(
        self, after: tuple[str, str] | None, limit: int
    ) -> list[PartnershipRecord]:
        table = partnerships
        query = sa.select(table).where(table.c.status == "active")
        if after is not None:
            query = query.where(
                sa.tuple_(table.c.provider_partner_id, table.c.reseller_partner_id)
                > sa.tuple_(*after)
            )
        query = query.order_by(table.c.provider_partner_id, table.c.reseller_partner_id)
        rows = await self._rows(
            query.limit(limit), ("requested_at", "accepted_at", "ended_at", "updated_at")
        )
        return [PartnershipRecord.model_validate(row) for row in rows]

    async def record_por_checks(self, checks: Sequence[PorCheck]) -> None:
        if not checks:
            return
        keys = ("sweep_id", "provider_partner_id", "reseller_partner_id")
        rows = [
            {**c.model_dump(mode="python"), "checked_at": c.checked_at.astimezone(UTC)}
            for c in checks
        ]
        statement = self._insert(por_checks, rows)
        updates = {n: statement.excluded[n] for n in rows[0] if n not in keys}
        await self._db.write(
            _execute(statement.on_conflict_do_update(index_elements=keys, set_=updates))
        )

    async def count_por_checks(self, sweep_id: str) -> tuple[int, int]:
        query = (
            sa.select(por_checks.c.valid, sa.func.count())
            .where(por_checks.c.sweep_id == sweep_id)
            .group_by(por_checks.c.valid)
        )
        counted = await self._db.read(lambda conn: conn.execute(query).all())
        counts = {bool(valid): int(n) for valid, n in counted}
        return counts.get(True, 0), counts.get(False, 0)

    async def list_invalid_por_checks(
        self, sweep_id: str, limit: int | None = None
    ) -> list[PorCheck]:
        table = por_checks
        query = (
            sa.select(table)
            .where(table.c.sweep_id == sweep_id, sa.not_(table.c.valid))
            .order_by(table.c.provider_partner_id, table.c.reseller_partner_id)
        )
        if limit is not None:
            query = query.limit(limit)
        rows = await self._rows(query, ("checked_at",))
        return [PorCheck.model_validate(row) for row in rows]

    async def save_por_report(self, report: PorReport) -> None:
        values = report.model_dump(mode="python")
        values["failures"] = list(report.failures)
        await self._save(por_reports, values, ("sweep_id",))

    async def latest_por_report(self) -> PorReport | None:
        query = (
            sa.select(por_reports)
            .order_by(por_reports.c.finished_at.desc(), por_reports.c.sweep_id.desc())
            .limit(1)
        )
        rows = await self._rows(query, ("started_at", "finished_at"))
        if not rows:
            return None
        rows[0]["failures"] = tuple(rows[0]["failures"])
        return PorReport.model_validate(rows[0])
