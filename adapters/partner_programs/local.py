"""`LocalPartnerPrograms`: partner-program facts from an editable JSON file.

Every call sees the file as it is on disk; its parsed form is kept until the file changes
(`adapters.json_file`). The one change the adapter makes (an activation) is a line appended to
`<file>.journal`, folded into the file a second later, every 256 changes and when the worker stops
(`adapters.json_journal`).

Format::

    {
      "partners": {
        "<PGA id>": {
          "membershipActive": true,
          "designations": ["Solutions Partner for Modern Work"],
          "securityRequirements": {
            "adminsRequiredNotUsingMfaCount": 0,
            "securityContactProvided": true,
            "securityAlertsPromptlyResolved": true,
            "averageResponseTimeInHours": 4
          },
          "ttmRevenue": {
            "periodStart": "2025-10-01", "periodEnd": "2026-09-30", "asOf": "2026-10-05",
            "tenants": [
              {"tenantId": "...", "cloudUsd": "700000.00", "perpetualSoftwareUsd": "300000.00"}
            ]
          },
          "locations": {"<PLA id>": {"country": "JP", "irAuthorizedAt": "2024-04-01T00:00:00Z"}}
        }
      },
      "activations": {"<PGA id>:<region>": {"tenantId": "...", "activatedAt": "..."}},
      "indirectProviders": {"<PartnerID>": {"partnerName": "...", "country": "JP"}}
    }

`indirectProviders`: the indirect providers Microsoft has authorized (RA-04), each with the
country of its authorized location; the CSP region follows from `domain.regions`.

Amounts are decimal strings (never floats). `ttmRevenue` states the trailing twelve months it
covers (calendar dates, both included) and the date it is stated as of (DB-03, seed 004: the
revenue "前の 12 か月間"); a figure without them is unreadable, not guessed. An unknown PGA
is `PartnerIdNotFound`; a broken file is `PartnerCenterUnavailable`, so the activity retries
until the operator fixes it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from adapters import json_journal as journal
from adapters.json_file import JsonFile
from adapters.json_journal import FOLD_AFTER_SECONDS, FOLD_AT, Edit, journal_path
from adapters.partner_center import PartnerCenterUnavailable
from domain.calendar import add_months_to_date
from domain.direct_bill import (
    Activation,
    LocationMembership,
    RevenueLine,
    SecurityRequirements,
    TtmRevenue,
)
from domain.errors import PartnerIdNotFound, aware_instant
from domain.transition import IndirectProvider

_TENANTS = uuid.UUID("6f1d2c3b-4a59-4e8f-9a7b-1c2d3e4f5a6b")


class LocalPartnerPrograms:
    def __init__(
        self,
        path: Path,
        *,
        fold_at: int = FOLD_AT,
        fold_after_seconds: float | None = FOLD_AFTER_SECONDS,
    ) -> None:
        self._path = Path(path)
        self._file = journal.JournaledJsonFile(
            self._path,
            _parser(self._path),
            _unavailable(self._path),
            fold_at=fold_at,
            fold_after_seconds=fold_after_seconds,
        )

    async def aclose(self) -> None:
        """Leave the file current: fold what the journal holds (the worker calls this at stop)."""
        await self._file.aclose()

    async def _load(self) -> dict[str, Any]:
        """The file's object with the journal applied, shared with other calls: never change it."""
        try:
            return await self._file.aread()
        except OSError as err:
            raise PartnerCenterUnavailable(f"{self._path} is not readable JSON: {err}") from err

    async def _partner(self, pga_id: str) -> dict[str, Any]:
        return self._partner_in(await self._load(), pga_id)

    def _partner_in(self, data: dict[str, Any], pga_id: str) -> dict[str, Any]:
        partner = data.get("partners", {}).get(pga_id)
        if not isinstance(partner, dict):
            raise PartnerIdNotFound(
                f"PGA {pga_id} is not known to the partner program", partner_id=pga_id
            )
        return partner

    async def get_ttm_revenue(self, pga_id: str) -> TtmRevenue:
        raw: Any = (await self._partner(pga_id)).get("ttmRevenue")
        if not isinstance(raw, dict):
            raise PartnerCenterUnavailable(
                f"ttmRevenue for PGA {pga_id} states no period and as-of date: give "
                '{"periodStart", "periodEnd", "asOf", "tenants": [...]} (DB-03)'
            )
        try:
            return TtmRevenue(
                period_start=date.fromisoformat(raw["periodStart"]),
                period_end=date.fromisoformat(raw["periodEnd"]),
                as_of=date.fromisoformat(raw["asOf"]),
                lines=tuple(
                    RevenueLine(
                        tenant_id=str(line["tenantId"]),
                        cloud_usd=Decimal(str(line.get("cloudUsd", "0"))),
                        perpetual_software_usd=Decimal(str(line.get("perpetualSoftwareUsd", "0"))),
                    )
                    for line in raw["tenants"]
                ),
            )
        except (KeyError, TypeError, InvalidOperation, ValueError) as err:
            raise PartnerCenterUnavailable(f"bad ttmRevenue for PGA {pga_id}: {err}") from err

    async def get_security_requirements(self, pga_id: str) -> SecurityRequirements:
        raw = (await self._partner(pga_id)).get("securityRequirements", {})
        try:
            return SecurityRequirements(
                admins_required_not_using_mfa_count=int(raw["adminsRequiredNotUsingMfaCount"]),
                security_contact_provided=bool(raw["securityContactProvided"]),
                security_alerts_promptly_resolved=bool(raw["securityAlertsPromptlyResolved"]),
                average_response_time_in_hours=raw.get("averageResponseTimeInHours"),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise PartnerCenterUnavailable(
                f"bad securityRequirements for PGA {pga_id}: {err}"
            ) from err

    async def get_designations(self, pga_id: str) -> list[str]:
        return [str(d) for d in (await self._partner(pga_id)).get("designations", [])]

    async def get_membership(self, pga_id: str, pla_id: str) -> LocationMembership:
        partner = await self._partner(pga_id)
        location = partner.get("locations", {}).get(pla_id) or {}
        authorized = location.get("irAuthorizedAt")
        return LocationMembership(
            membership_active=bool(partner.get("membershipActive", False)),
            pla_country=location.get("country"),
            ir_authorized_at=aware_instant(
                str(authorized),
                source=f"Partner Center programs file, PGA {pga_id} location {pla_id}",
                field="irAuthorizedAt",
            )
            if authorized
            else None,
        )

    async def list_authorized_indirect_providers(self) -> list[IndirectProvider]:
        providers = (await self._load()).get("indirectProviders", {})
        try:
            return [
                IndirectProvider(
                    partner_id=str(pid), name=str(entry["partnerName"]), country=entry["country"]
                )
                for pid, entry in providers.items()
            ]
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise PartnerCenterUnavailable(f"bad indirectProviders: {err}") from err

    async def activate_direct_bill_tenant(
        self, pga_id: str, region: str, *, idempotency_key: str
    ) -> Activation:
        key = f"{pga_id}:{region}"

        def decide(data: dict[str, Any]) -> tuple[dict[str, Any], list[Edit]]:
            self._partner_in(data, pga_id)
            recorded = data.get("activations", {}).get(key)
            if recorded is not None:
                return recorded, []
            entry = {
                "tenantId": str(uuid.uuid5(_TENANTS, idempotency_key)),
                "activatedAt": datetime.now(UTC).isoformat(),
            }
            return entry, [(("activations", key), entry)]

        try:
            entry = await self._file.change("activate_direct_bill_tenant", decide)
        except OSError as err:
            raise PartnerCenterUnavailable(f"{self._path} is not readable JSON: {err}") from err
        return Activation(
            tenant_id=entry["tenantId"], activated_at=datetime.fromisoformat(entry["activatedAt"])
        )


def _parser(path: Path) -> Callable[[bytes], dict[str, Any]]:
    def parse(raw: bytes) -> dict[str, Any]:
        try:
            data = json.loads(raw)
        except ValueError as err:  # JSONDecodeError and UnicodeDecodeError
            raise PartnerCenterUnavailable(f"{path} is not readable JSON: {err}") from err
        if not isinstance(data, dict):
            raise PartnerCenterUnavailable(f"{path} must hold a JSON object")
        return data

    return parse


def sample_data() -> dict[str, Any]:
    """Sakura Cloud's PGA (its Japanese PLA is the reseller in the Partner Center sample) meets
    every direct-bill requirement; Fabrikam's PGA misses several. The revenue figures are stated
    as of today, for the twelve months that ended last month."""
    today = datetime.now(UTC).date()
    return {
        "partners": {
            "4500001": {
                "membershipActive": True,
                "designations": ["Solutions Partner for Modern Work"],
                "securityRequirements": {
                    "adminsRequiredNotUsingMfaCount": 0,
                    "securityContactProvided": True,
                    "securityAlertsPromptlyResolved": True,
                    "averageResponseTimeInHours": 3.5,
                },
                "ttmRevenue": ttm_revenue_entry([
                    {"tenantId": "3f2a8c1e-5b7d-4e9a-8c6f-1a2b3c4d5e6f", "cloudUsd": "820000.00",
                     "perpetualSoftwareUsd": "95000.00"},
                    {"tenantId": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", "cloudUsd": "140000.00",
                     "perpetualSoftwareUsd": "0.00"},
                ], today),
                "locations": {
                    "4512345": {"country": "JP", "irAuthorizedAt": "2023-04-01T00:00:00+00:00"}
                },
            },
            "6300001": {
                "membershipActive": True,
                "designations": [],
                "securityRequirements": {
                    "adminsRequiredNotUsingMfaCount": 2,
                    "securityContactProvided": True,
                    "securityAlertsPromptlyResolved": False,
                    "averageResponseTimeInHours": 72,
                },
                "ttmRevenue": ttm_revenue_entry([
                    {"tenantId": "c47e9a13-6d2b-4f8e-a1c5-9b3d7e2f4a60", "cloudUsd": "310000.00",
                     "perpetualSoftwareUsd": "12000.00"}
                ], today),
                "locations": {
                    "6345678": {"country": "JP", "irAuthorizedAt": "2026-02-01T00:00:00+00:00"}
                },
            },
        },
        "activations": {},
        "indirectProviders": {
            "3456789": {"partnerName": "Tokyo Cloud Distribution K.K.", "country": "JP"}
        },
    }  # fmt: skip


def ttm_revenue_entry(tenants: list[dict[str, Any]], as_of: date) -> dict[str, Any]:
    """A `ttmRevenue` entry stated as of `as_of` for the twelve calendar months that ended on the
    last day of the month before it (DB-03)."""
    period_end = as_of.replace(day=1) - timedelta(days=1)
    period_start = add_months_to_date(period_end + timedelta(days=1), -12)
    return {
        "periodStart": period_start.isoformat(),
        "periodEnd": period_end.isoformat(),
        "asOf": as_of.isoformat(),
        "tenants": tenants,
    }


def _unavailable(path: Path) -> Callable[[str], PartnerCenterUnavailable]:
    return lambda reason: PartnerCenterUnavailable(f"partner programs data file {path}: {reason}")


def current_data(path: Path) -> dict[str, Any]:
    """What `LocalPartnerPrograms(path)` answers from now: the file with its journal applied.
    Blocking; for tests and tools."""
    path = Path(path)
    return journal.current_data(path, _parser(path), _unavailable(path))


def write_sample_if_missing(path: Path) -> bool:
    """Write `sample_data()` to `path` unless a file is already there (a journal left beside a
    deleted file is removed with it); True when it wrote one."""
    if path.exists():
        return False
    journal_path(path).unlink(missing_ok=True)
    JsonFile(path, _parser(path)).write(sample_data())
    return True
