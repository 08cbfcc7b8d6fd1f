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
is `PartnerIdNotFound`. A file that is not readable JSON (an edit caught half-saved) is
`PartnerCenterUnavailable`: the activity retries (bounded) and the next attempt reads the saved
file. A readable file with a missing or malformed field (`ttmRevenue`, `securityRequirements`,
`indirectProviders`, `irAuthorizedAt`) is `InvalidSourceData` naming the file and the field's path
(e.g. `partners.4500001.ttmRevenue.tenants[2].cloudUsd`): retrying cannot fix it, so it is not
retried and the pipeline shows `Attention` for the operator to fix the file.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from pydantic import ValidationError

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
from domain.errors import InvalidSourceData, PartnerIdNotFound, aware_instant
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
        self._source = f"partner programs data file {self._path}"
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

    def _invalid(self, field: str, problem: str) -> InvalidSourceData:
        return InvalidSourceData(self._source, field, problem)

    def _object(self, value: Any, field: str, wanted: str = "an object") -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self._invalid(field, _missing_or_not(value, wanted))
        return value

    def _date(self, entry: dict[str, Any], key: str, field: str) -> date:
        value = entry.get(key)
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                return date.fromisoformat(value)
        raise self._invalid(f"{field}.{key}", _missing_or_not(value, "an ISO date (2026-09-30)"))

    def _amount(self, line: dict[str, Any], key: str, field: str) -> Decimal:
        value = line.get(key, "0")
        amount: Decimal | None = None
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            with contextlib.suppress(InvalidOperation):
                amount = Decimal(str(value))
        if amount is None or not amount.is_finite() or amount < 0:
            raise self._invalid(
                f"{field}.{key}", f"is not a decimal amount in USD, 0 or more ({value!r})"
            )
        return amount

    async def get_ttm_revenue(self, pga_id: str) -> TtmRevenue:
        field = f"partners.{pga_id}.ttmRevenue"
        raw: Any = (await self._partner(pga_id)).get("ttmRevenue")
        if not isinstance(raw, dict):
            raise self._invalid(
                field,
                "states no period and as-of date: give "
                '{"periodStart", "periodEnd", "asOf", "tenants": [...]} (DB-03)',
            )
        tenants = raw.get("tenants")
        if not isinstance(tenants, list):
            raise self._invalid(f"{field}.tenants", _missing_or_not(tenants, "a list"))
        lines = []
        for index, line in enumerate(tenants):
            at = f"{field}.tenants[{index}]"
            entry = self._object(line, at)
            tenant_id = entry.get("tenantId")
            if not isinstance(tenant_id, str) or not tenant_id.strip():
                raise self._invalid(f"{at}.tenantId", _missing_or_not(tenant_id, "a tenant id"))
            lines.append(
                RevenueLine(
                    tenant_id=tenant_id,
                    cloud_usd=self._amount(entry, "cloudUsd", at),
                    perpetual_software_usd=self._amount(entry, "perpetualSoftwareUsd", at),
                )
            )
        period_start = self._date(raw, "periodStart", field)
        period_end = self._date(raw, "periodEnd", field)
        as_of = self._date(raw, "asOf", field)
        try:
            return TtmRevenue(
                period_start=period_start, period_end=period_end, as_of=as_of, lines=tuple(lines)
            )
        except ValidationError as err:  # the period is not the twelve months before asOf
            raise self._invalid(
                field, f"is not a trailing-twelve-month figure: {_rules(err)} (DB-03)"
            ) from None

    async def get_security_requirements(self, pga_id: str) -> SecurityRequirements:
        field = f"partners.{pga_id}.securityRequirements"
        raw = self._object((await self._partner(pga_id)).get("securityRequirements"), field)

        def flag(key: str) -> bool:
            value = raw.get(key)
            if not isinstance(value, bool):
                raise self._invalid(f"{field}.{key}", _missing_or_not(value, "true or false"))
            return value

        count = raw.get("adminsRequiredNotUsingMfaCount")
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise self._invalid(
                f"{field}.adminsRequiredNotUsingMfaCount",
                _missing_or_not(count, "a whole number, 0 or more"),
            )
        hours = raw.get("averageResponseTimeInHours")
        if hours is not None and (isinstance(hours, bool) or not isinstance(hours, int | float)):
            raise self._invalid(
                f"{field}.averageResponseTimeInHours", f"is not a number of hours ({hours!r})"
            )
        return SecurityRequirements(
            admins_required_not_using_mfa_count=count,
            security_contact_provided=flag("securityContactProvided"),
            security_alerts_promptly_resolved=flag("securityAlertsPromptlyResolved"),
            average_response_time_in_hours=hours,
        )

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
                source=self._source,
                field=f"partners.{pga_id}.locations.{pla_id}.irAuthorizedAt",
            )
            if authorized
            else None,
        )

    async def list_authorized_indirect_providers(self) -> list[IndirectProvider]:
        providers = self._object(
            (await self._load()).get("indirectProviders", {}), "indirectProviders"
        )
        found = []
        for partner_id, entry in providers.items():
            at = f"indirectProviders.{partner_id}"
            provider = self._object(entry, at)
            texts = {}
            for key in ("partnerName", "country"):
                value = provider.get(key)
                if not isinstance(value, str) or not value.strip():
                    raise self._invalid(f"{at}.{key}", _missing_or_not(value, "a text"))
                texts[key] = value
            found.append(
                IndirectProvider(
                    partner_id=partner_id, name=texts["partnerName"], country=texts["country"]
                )
            )
        return found

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


def _missing_or_not(value: Any, wanted: str) -> str:
    return "is missing" if value is None else f"is not {wanted} ({value!r})"


def _rules(err: ValidationError) -> str:
    """The rules a model's own validators state (never pydantic's texts, which quote input)."""
    return "; ".join(
        str((item.get("ctx") or {}).get("error") or item["msg"])
        for item in err.errors(include_url=False, include_input=False)
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
