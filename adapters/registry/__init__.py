"""The partner registry: system of record for each partner's program status, region and dates.

`PartnerRegistry` is the interface activities use; `sql.SqlPartnerRegistry` implements it on
SQLAlchemy (SQLite by default, PostgreSQL at scale).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, ConfigDict


class ResellerStatus(StrEnum):
    ENROLLING = "enrolling"
    ACTIVE = "active"
    REJECTED = "rejected"
    ABANDONED = "abandoned"
    WITHDRAWN = "withdrawn"


class ResellerRecord(BaseModel):
    """An indirect reseller as the registry knows it (DOMAIN.md section 1)."""

    model_config = ConfigDict(frozen=True)

    partner_id: str
    status: ResellerStatus
    country: str
    tenant_id: str | None = None
    workflow_id: str
    status_reason: str | None = None
    ir_authorized_at: datetime | None = None
    """When Microsoft approved the enrollment; direct-bill tenure (DB-01) counts from here."""
    mpa_signed_at: datetime | None = None
    active_since: datetime | None = None
    updated_at: datetime


class PartnerRegistry(Protocol):
    async def save_reseller(self, record: ResellerRecord) -> None:
        """Insert or replace the partner's reseller record (idempotent)."""
        ...

    async def get_reseller(self, partner_id: str) -> ResellerRecord | None: ...

    async def was_message_sent(self, idempotency_key: str) -> bool: ...

    async def record_message_sent(self, idempotency_key: str, sent_at: datetime) -> None:
        """Remember a sent email so a retried activity does not send it again."""
        ...

    async def close(self) -> None: ...
