"""A population of partnered resellers for the POR sweep (REL-07): active partnerships in the
registry (one bulk insert) and the local Partner Center file that judges their resellers, with a
known share invalid for each of `validateresellers`' refusals. Used by bench/por_sweep.py and
tests/test_por_sweep_workflow.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from adapters.registry.schema import partnerships
from adapters.registry.sql import SqlPartnerRegistry
from contract import names

PROVIDERS = ("3100001", "3100002")
PROVIDER_TENANT = "5b7c8d1e-2f3a-4b5c-9d6e-7f8a9b0c1d2e"
SINCE = datetime(2026, 1, 15, tzinfo=UTC)

NOT_FOUND, NOT_RESELLER, NOT_ACTIVE = 7, 37, 71
"""Resellers i with i % 100 equal to these are refused 800015 (not in `profiles`), 800016 (not
in `indirectResellers`) and 800039 (program status not active)."""


def reseller_id(i: int) -> str:
    return str(4_600_000 + i)


def expected_code(i: int) -> str | None:
    return {NOT_FOUND: "800015", NOT_RESELLER: "800016", NOT_ACTIVE: "800039"}.get(i % 100)


@dataclass(frozen=True)
class Population:
    rows: list[dict[str, Any]]
    partner_center: dict[str, Any]
    active: int
    invalid: dict[str, str]
    """reseller PartnerID -> the error code Partner Center answers for it."""


def population(resellers: int, inactive: int = 0) -> Population:
    """`resellers` active partnerships (alternating between two providers) and `inactive`
    partnerships that are not established (awaiting acceptance or removed): never checked."""
    rows: list[dict[str, Any]] = []
    profiles: dict[str, Any] = {}
    programs: dict[str, Any] = {}
    invalid: dict[str, str] = {}
    for i in range(resellers + inactive):
        pid = reseller_id(i)
        active = i < resellers
        provider = PROVIDERS[i % len(PROVIDERS)]
        status = "active" if active else ("awaiting_acceptance" if i % 2 else "removed")
        rows.append(
            {
                "provider_partner_id": provider,
                "reseller_partner_id": pid,
                "status": status,
                "region": "JP",
                "provider_tenant_id": PROVIDER_TENANT,
                "workflow_id": names.partnership_id(provider, pid),
                "requested_at": SINCE,
                "accepted_at": SINCE if active else None,
                "ended_at": None,
                "status_reason": None,
                "updated_at": SINCE,
            }
        )
        code = expected_code(i)
        if code != "800015":
            profiles[pid] = {"partnerName": f"Reseller {pid} K.K.", "country": "JP"}
        if code not in ("800015", "800016"):
            programs[pid] = {"programStatus": "Suspended" if code == "800039" else "Active"}
        if code is not None and active:
            invalid[pid] = code
    return Population(
        rows=rows,
        partner_center={"profiles": profiles, "indirectResellers": programs},
        active=resellers,
        invalid=invalid,
    )


async def insert_partnerships(registry_url: str, rows: list[dict[str, Any]]) -> None:
    """The registry migrated, then every row in one bulk insert."""
    await (await SqlPartnerRegistry.open(registry_url)).close()
    engine = create_async_engine(registry_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.insert(partnerships), rows)
    finally:
        await engine.dispose()
