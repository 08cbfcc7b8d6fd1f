"""`LocalPartnerCenter`: the `PartnerCenter` interface answered from an editable JSON file.

The embedded default runs without Microsoft credentials; an operator plays Partner Center by editing
this file while the product runs. Every call sees the file as it is on disk, so an edit takes effect
on the next call (an activity retry included); the parsed file is kept and parsed again only when
the file changed (`adapters.json_file`). The adapter's own changes (`create_tenant`,
`ensure_admin_agent`, `place_order`, ...) are each one line appended to `<file>.journal` under a
file lock shared by every worker process, and answered from at once; the journal is folded into the
file a second after the last change, every 256 changes and when the worker stops
(`adapters.json_journal`). So the file is current a moment after a change, and a change costs an
append, not a rewrite of the whole file. `current_data(path)` reads the file with the journal.

File format (every section optional; a missing file is empty data)::

    {
      "profiles": {"<partnerId>": {"partnerName": "Contoso K.K.", "country": "JP"}},
      "tenants": {
        "<tenant uuid>": {
          "country": "JP",
          "defaultDomain": "contoso.onmicrosoft.com",
          "globalAdmins": ["admin@contoso.onmicrosoft.com"],
          "adminAgent": false
        }
      },
      "agreements": {"<partnerId>": {"isAgreementSigned": true}},
      "createdTenants": {"<idempotency key>": "<tenant uuid>"}
    }

- `profiles`: what `GET /v1/profiles/mpn?mpnId=` would answer. An id not listed is unknown
  (`PartnerIdNotFound`, Partner Center's error 3000).
- `tenants`: the Entra tenants. `globalAdmins` are compared case-insensitively; `adminAgent` says
  whether the company is already in the Admin agent group (ENR-08).
- `agreements`: the MPA status per PartnerID (agreementstatus). Without an entry, an id in
  `indirectResellers` has not signed (2203), one only in `profiles` is not an indirect reseller
  (2204; also "not signed" for MPA-01), and an id in neither is unknown (2200,
  `PartnerIdNotFound`).
- `createdTenants`: written by `create_tenant`, so that repeating an idempotency key returns the
  same tenant. A created tenant's id is `uuid5(TENANT_NAMESPACE, key)`.

Relationship sections (DOMAIN.md sections 3-5)::

      "relationships": {"<provider partnerId>": {"<reseller partnerId>": {"state": "Active"}}},
      "indirectResellers": {"<partnerId>": {"programStatus": "Active"}},
      "customers": {
        "<customer tenant uuid>": {"companyName": "Kaisha K.K.", "country": "JP",
                                   "partners": ["<partnerId>", ...]}
      },
      "orders": {"<idempotency key>": {...}}

- `relationships`: the partnerships Partner Center lists (`GET /v1/relationships`), by provider.
  A provider sees its resellers (`IsIndirectCloudSolutionProviderOf`), a reseller its providers
  (`IsIndirectResellerOf`); names and locations come from `profiles`, a tenant id from the
  profile's optional `tenantId`. Add an entry to play a reseller accepting a request (REL-04).
- `indirectResellers`: who `POST /v1/partners/validateresellers` and orders accept as Partner of
  Record: a PartnerID without a profile answers 800015, one not listed here 800016, one whose
  `programStatus` is not `Active` 800039. Like Partner Center, orders are refused for these POR
  reasons only from `por_validation_from` (the `CSP_POR_VALIDATION_FROM` setting, POR-01): before
  it "nothing changes" (seed 003) and the order is placed with the POR it names;
  `validateresellers` answers the same on either side of the date.
- `customers`: the customers and the partners with a commerce relationship with each. An order
  for a customer not listed, or by a partner not in its `partners`, answers 20002; by a partner
  whose profile country differs from the customer's `country`, 2030.
- `orders`: written by `place_order`, keyed by idempotency key, so a repeated key returns the same
  order. An order's id is `uuid5(ORDER_NAMESPACE, key)`.

Provider operations for partnered resellers (REL-05, REL-06)::

      "subscriptions": {
        "<subscription id>": {"customerId": "<customer tenant uuid>", "offerId": "...",
                              "status": "active", "partnerId": null,
                              "partnerOnRecordLocked": false,
                              "supportContact": {"supportTenantId": "...", "supportMpnId": "...",
                                                 "name": "..."}}
      },
      "createdCustomers": {"<idempotency key>": "<customer tenant uuid>"}

- `subscriptions`: a customer's subscriptions. Not found (or another customer's) answers 20003,
  `status` deleted 2011, suspended 800091. A new reseller of record (`partnerId`) is checked as
  `validateresellers` does (800015/800016/800039), then 2072 for a provider's id, 900123 for an
  unsigned MPA, and 800098 when `partnerOnRecordLocked`. A support contact must be an active
  reseller of the provider (`relationships`).
- `createdCustomers`: written by `create_customer` (which adds the customer to `customers` with
  the provider and the reseller as its partners); a customer's id is
  `uuid5(CUSTOMER_NAMESPACE, key)`. The reseller must be an active reseller of the provider.

A file that is not valid JSON or has the wrong shape (say, an operator's half-saved edit) raises
`PartnerCenterUnavailable`: the activity retries and succeeds once the file is fixed.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid5

from pydantic import ValidationError

from adapters import json_journal as journal
from adapters.json_file import JsonFile
from adapters.json_journal import FOLD_AFTER_SECONDS, FOLD_AT, Edit, journal_path
from adapters.partner_center import PartnerCenterUnavailable, signed_from_verdict
from domain.errors import (
    NoCommerceRelationship,
    PartnerIdNotFound,
    PartnershipNotActive,
    PorInvalid,
    RegionMismatch,
    SubscriptionNotChangeable,
    TenantNotFound,
)
from domain.identifiers import TenantId
from domain.partner_center import (
    AgreementAnswer,
    AgreementVerdict,
    CreatedCustomer,
    MpnProfile,
    NewCustomer,
    OrderSubmission,
    PartnerRelationship,
    PlacedOrder,
    RelationshipType,
    ResellerValidation,
    SubscriptionPartnerOfRecord,
    SupportContact,
    TenantInfo,
)

__all__ = [
    "CUSTOMER_NAMESPACE",
    "ORDER_NAMESPACE",
    "TENANT_NAMESPACE",
    "LocalPartnerCenter",
    "current_data",
    "sample_data",
    "write_sample_if_missing",
]

TENANT_NAMESPACE = UUID("5d0c6b1e-8f3a-4c52-9a0e-7b2f4e6c1d38")
"""Namespace of the tenant ids `create_tenant` derives from idempotency keys."""

ORDER_NAMESPACE = UUID("9a4f2c6e-1b3d-4e5f-8a7b-6c5d4e3f2a1b")
"""Namespace of the order ids `place_order` derives from idempotency keys."""

CUSTOMER_NAMESPACE = UUID("2f6d8e1a-4c3b-4a5e-9d7f-0b1c2d3e4f5a")
"""Namespace of the customer ids `create_customer` derives from idempotency keys."""

RELATIONSHIP_REQUEST_BASE = "https://admin.microsoft.com/Adminportal/Home"

_DOMAIN_PREFIX = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


class LocalPartnerCenter:
    """Partner Center answered from the JSON file at `path` (format in the module docstring)."""

    def __init__(
        self,
        path: Path,
        *,
        por_validation_from: datetime | None = None,
        clock: Callable[[], datetime] | None = None,
        fold_at: int = FOLD_AT,
        fold_after_seconds: float | None = FOLD_AFTER_SECONDS,
    ) -> None:
        """`por_validation_from`: the instant Partner Center starts refusing orders for their
        Partner of Record (None: always). `clock`: Partner Center's clock (UTC now by default).
        `fold_at`, `fold_after_seconds`: when the journal of changes is folded into the file
        (`adapters.json_journal`; None: only at `fold_at` changes and at `aclose`)."""
        if por_validation_from is not None and por_validation_from.tzinfo is None:
            raise ValueError("por_validation_from must carry a time zone")
        self._path = Path(path)
        self._file = journal.JournaledJsonFile(
            self._path,
            _parser(self._path),
            _unavailable(self._path),
            fold_at=fold_at,
            fold_after_seconds=fold_after_seconds,
        )
        self._por_validation_from = por_validation_from
        self._clock = clock or (lambda: datetime.now(UTC))

    @property
    def path(self) -> Path:
        return self._path

    async def get_mpn_profile(self, partner_id: str) -> MpnProfile:
        data = await self._read()
        pid = partner_id.strip()
        entry = _section(data, "profiles", self._path).get(pid)
        if entry is None:
            raise _partner_not_found(pid)
        with self._reading(f"profiles.{pid}"):
            return MpnProfile(
                partner_id=pid, partner_name=entry["partnerName"], country=entry["country"]
            )

    async def get_tenant(self, tenant_id: TenantId) -> TenantInfo:
        data = await self._read()
        entry = self._tenant(data, tenant_id)
        return self._tenant_info(tenant_id, entry)

    async def is_global_admin(self, tenant_id: TenantId, user_principal_name: str) -> bool:
        data = await self._read()
        entry = self._tenant(data, tenant_id)
        wanted = user_principal_name.strip().casefold()
        with self._reading(f"tenants.{tenant_id}.globalAdmins"):
            admins = entry.get("globalAdmins", [])
            if not isinstance(admins, list):
                raise TypeError("must be a list of user principal names")
            return any(str(admin).strip().casefold() == wanted for admin in admins)

    async def create_tenant(
        self, *, domain_prefix: str, country: str, global_admin: str, idempotency_key: str
    ) -> TenantInfo:
        prefix = domain_prefix.strip().lower()
        if not _DOMAIN_PREFIX.match(prefix):
            raise ValueError(
                f"domain prefix {domain_prefix!r} is not a valid <prefix>.onmicrosoft.com label"
            )
        admin = global_admin.strip()

        def decide(data: dict[str, Any]) -> tuple[TenantInfo, list[Edit]]:
            tenants = _section(data, "tenants", self._path)
            created = _section(data, "createdTenants", self._path)
            recorded = created.get(idempotency_key)
            with self._reading(f"createdTenants.{idempotency_key}"):
                tenant_id = (
                    UUID(recorded)
                    if recorded is not None
                    else uuid5(TENANT_NAMESPACE, idempotency_key)
                )
            remember: Edit = (("createdTenants", idempotency_key), str(tenant_id))
            existing = _find_tenant(tenants, tenant_id)
            if existing is not None:
                info = self._tenant_info(tenant_id, existing[1])
                return info, [remember] if recorded is None else []
            info = TenantInfo(
                tenant_id=tenant_id, country=country, default_domain=f"{prefix}.onmicrosoft.com"
            )
            tenant = {
                "country": info.country,
                "defaultDomain": info.default_domain,
                "globalAdmins": [admin],
                "adminAgent": False,
            }
            return info, [(("tenants", str(tenant_id)), tenant), remember]

        return await self._file.change("create_tenant", decide)

    async def ensure_admin_agent(self, tenant_id: TenantId, *, idempotency_key: str) -> None:
        def decide(data: dict[str, Any]) -> tuple[None, list[Edit]]:
            key, entry = self._tenant_entry(data, tenant_id)
            if entry.get("adminAgent") is True:
                return None, []
            return None, [(("tenants", key, "adminAgent"), True)]

        await self._file.change("ensure_admin_agent", decide)

    async def agreement_status(self, partner_id: str) -> AgreementAnswer:
        """`agreements.<id>`: signed or not. Without an entry: an id in `indirectResellers` has an
        indirect-reseller account and has not signed (2203); one only in `profiles` has no
        indirect-reseller account (2204); an id in neither is unknown (2200)."""
        data = await self._read()
        pid = partner_id.strip()
        agreement = _section(data, "agreements", self._path).get(pid)
        if agreement is None:
            if pid in _section(data, "indirectResellers", self._path):
                return AgreementAnswer(
                    partner_id=pid,
                    verdict=AgreementVerdict.NOT_SIGNED,
                    code="2203",
                    description=f"PartnerID {pid} has not signed the MPA",
                )
            if pid in _section(data, "profiles", self._path):
                return AgreementAnswer(
                    partner_id=pid,
                    verdict=AgreementVerdict.NOT_INDIRECT_RESELLER,
                    code="2204",
                    description=f"PartnerID {pid} has no indirect-reseller account",
                )
            return AgreementAnswer(
                partner_id=pid,
                verdict=AgreementVerdict.PARTNER_ID_UNKNOWN,
                code="2200",
                description=f"PartnerID {pid} was not found",
            )
        with self._reading(f"agreements.{pid}"):
            signed = agreement.get("isAgreementSigned", False)
            if not isinstance(signed, bool):
                raise TypeError("isAgreementSigned must be true or false")
        return AgreementAnswer(
            partner_id=pid,
            verdict=AgreementVerdict.SIGNED if signed else AgreementVerdict.NOT_SIGNED,
        )

    async def is_agreement_signed(self, partner_id: str) -> bool:
        return signed_from_verdict(await self.agreement_status(partner_id))

    async def list_relationships(
        self, partner_id: str, relationship_type: RelationshipType
    ) -> list[PartnerRelationship]:
        data = await self._read()
        pid = partner_id.strip()
        by_provider = _section(data, "relationships", self._path)
        profiles = _section(data, "profiles", self._path)
        if relationship_type is RelationshipType.INDIRECT_PROVIDER_OF:
            with self._reading(f"relationships.{pid}"):
                pairs = [(other, entry) for other, entry in (by_provider.get(pid) or {}).items()]
        else:
            with self._reading("relationships"):
                pairs = [
                    (provider, resellers[pid])
                    for provider, resellers in by_provider.items()
                    if pid in resellers
                ]
        items: list[PartnerRelationship] = []
        for other, entry in pairs:
            profile = profiles.get(other) or {}
            with self._reading(f"relationships ({pid}, {other})"):
                items.append(
                    PartnerRelationship(
                        partner_tenant_id=str(profile.get("tenantId") or ""),
                        name=str(profile.get("partnerName") or other),
                        mpn_id=other,
                        location=profile.get("country"),
                        relationship_type=relationship_type,
                        state=str(entry.get("state", "Active")),
                    )
                )
        return items

    async def get_customer_relationship_request(
        self, reseller_partner_id: str, provider_partner_id: str | None
    ) -> str:
        data = await self._read()
        reseller = reseller_partner_id.strip()
        if reseller not in _section(data, "profiles", self._path):
            raise _partner_not_found(reseller)
        if provider_partner_id is None:
            query = f"invType=ResellerRelationship&partnerId={reseller}&msppId=0"
        else:
            query = (
                f"invType=IndirectResellerRelationship&partnerId={reseller}"
                f"&indirectCSPId={provider_partner_id.strip()}"
            )
        return f"{RELATIONSHIP_REQUEST_BASE}?{query}#/BillingAccounts/partner-invitation"

    async def validate_resellers(self, partner_ids: Sequence[str]) -> list[ResellerValidation]:
        data = await self._read()
        return [self._validate_reseller(data, pid.strip()) for pid in partner_ids]

    def _validate_reseller(self, data: dict[str, Any], pid: str) -> ResellerValidation:
        if pid not in _section(data, "profiles", self._path):
            return ResellerValidation(
                partner_id=pid,
                is_valid_partner_id_on_record=False,
                error_code="800015",
                error_description=f"PartnerId {pid} not found",
            )
        program = _section(data, "indirectResellers", self._path).get(pid)
        if program is None:
            return ResellerValidation(
                partner_id=pid,
                is_valid_partner_id_on_record=False,
                error_code="800016",
                error_description=f"PartnerId {pid} is not a valid indirect reseller PartnerId",
            )
        with self._reading(f"indirectResellers.{pid}"):
            status = str(program.get("programStatus", "Active"))
        if status.casefold() != "active":
            return ResellerValidation(
                partner_id=pid,
                is_valid_partner_id_on_record=False,
                error_code="800039",
                error_description=f"the reseller program status of PartnerId {pid} is {status}, "
                "not active",
            )
        return ResellerValidation(partner_id=pid, is_valid_partner_id_on_record=True)

    async def place_order(self, order: OrderSubmission, *, idempotency_key: str) -> PlacedOrder:
        def decide(data: dict[str, Any]) -> tuple[PlacedOrder, list[Edit]]:
            recorded = _section(data, "orders", self._path).get(idempotency_key)
            if recorded is not None:
                with self._reading(f"orders.{idempotency_key}"):
                    return PlacedOrder.model_validate(recorded), []
            self._check_order(data, order)
            placed = PlacedOrder(
                order_id=str(uuid5(ORDER_NAMESPACE, idempotency_key)),
                status="completed",
                customer_id=str(order.customer_id),
                line_items=order.line_items,
            )
            return placed, [(("orders", idempotency_key), placed.model_dump(mode="json"))]

        return await self._file.change("place_order", decide)

    def _check_order(self, data: dict[str, Any], order: OrderSubmission) -> None:
        """The refusals Partner Center answers an order with, in its order of checks."""
        customer_id = str(order.customer_id)
        customer = _find_tenant(_section(data, "customers", self._path), order.customer_id)
        partners: list[str] = []
        if customer is not None:
            with self._reading(f"customers.{customer_id}"):
                partners = [str(p) for p in customer[1].get("partners", [])]
        if order.partner_id not in partners:
            raise NoCommerceRelationship(
                f"partner {order.partner_id} has no commerce relationship with customer "
                f"{customer_id} (Partner Center error 20002)",
                customer_tenant_id=customer_id,
                partner_center_code="20002",
            )
        assert customer is not None
        profile = _section(data, "profiles", self._path).get(order.partner_id) or {}
        with self._reading(f"customers.{customer_id}"):
            country = str(customer[1]["country"])
        if profile.get("country") != country:
            raise RegionMismatch(
                f"partner {order.partner_id} is not onboarded to sell in {country}, the "
                "customer's country/region (Partner Center error 2030)",
                customer_country=country,
                partner_center_code="2030",
            )
        gate = self._por_validation_from
        if gate is not None and self._clock() < gate:
            return  # POR-01: before the date nothing changes (seed 003)
        for line in order.line_items:
            if line.partner_id_on_record is None:
                continue
            check = self._validate_reseller(data, line.partner_id_on_record)
            if not check.is_valid_partner_id_on_record:
                raise PorInvalid(
                    f"Partner Center refused Partner of Record {line.partner_id_on_record} on "
                    f"line {line.line_item_number} (error {check.error_code}: "
                    f"{check.error_description})",
                    partner_of_record=line.partner_id_on_record,
                    partner_center_code=check.error_code,
                )

    # -- provider operations for partnered resellers (REL-05, REL-06) ------------------------

    async def create_customer(
        self, customer: NewCustomer, *, idempotency_key: str
    ) -> CreatedCustomer:
        def decide(data: dict[str, Any]) -> tuple[CreatedCustomer, list[Edit]]:
            customers = _section(data, "customers", self._path)
            recorded = _section(data, "createdCustomers", self._path).get(idempotency_key)
            if recorded is not None:
                found = _find_tenant(customers, UUID(str(recorded)))
                if found is not None:
                    return self._created_customer(found[0], found[1]), []
            self._require_partnered(
                data, customer.provider_partner_id, customer.reseller_partner_id, "create_customer"
            )
            customer_id = uuid5(CUSTOMER_NAMESPACE, idempotency_key)
            entry = {
                "companyName": customer.company_name,
                "country": customer.address.country,
                "defaultDomain": customer.domain,
                "associatedPartnerId": customer.reseller_tenant_id,
                "partners": [customer.provider_partner_id, customer.reseller_partner_id],
            }
            return self._created_customer(str(customer_id), entry), [
                (("customers", str(customer_id)), entry),
                (("createdCustomers", idempotency_key), str(customer_id)),
            ]

        return await self._file.change("create_customer", decide)

    def _created_customer(self, key: str, entry: Any) -> CreatedCustomer:
        with self._reading(f"customers.{key}"):
            return CreatedCustomer(
                customer_id=UUID(key),
                domain=str(entry.get("defaultDomain") or ""),
                company_name=str(entry["companyName"]),
                associated_partner_id=entry.get("associatedPartnerId"),
            )

    async def set_subscription_support_contact(
        self,
        provider_partner_id: str,
        customer_id: TenantId,
        subscription_id: str,
        contact: SupportContact,
    ) -> SupportContact:
        def decide(data: dict[str, Any]) -> tuple[SupportContact, list[Edit]]:
            key, entry = self._subscription(data, customer_id, subscription_id)
            self._require_partnered(
                data, provider_partner_id, contact.support_mpn_id, "set the support contact"
            )
            wanted = {
                "supportTenantId": contact.support_tenant_id,
                "supportMpnId": contact.support_mpn_id,
                "name": contact.name,
            }
            if entry.get("supportContact") == wanted:
                return contact, []
            return contact, [(("subscriptions", key, "supportContact"), wanted)]

        return await self._file.change("set_subscription_support_contact", decide)

    async def update_subscription_partner_of_record(
        self,
        customer_id: TenantId,
        subscription_id: str,
        partner_id: str,
        *,
        idempotency_key: str,
    ) -> SubscriptionPartnerOfRecord:
        pid = partner_id.strip()

        def decide(data: dict[str, Any]) -> tuple[SubscriptionPartnerOfRecord, list[Edit]]:
            key, entry = self._subscription(data, customer_id, subscription_id)
            with self._reading(f"subscriptions.{subscription_id}"):
                locked = bool(entry.get("partnerOnRecordLocked", False))
            if locked:
                raise PorInvalid(
                    f"Partner Center cannot update the partner on record of subscription "
                    f"{subscription_id} (error 800098: Can't update the partner on record for "
                    "this subscription)",
                    partner_of_record=pid,
                    partner_center_code="800098",
                )
            if pid in _section(data, "relationships", self._path):
                raise PorInvalid(
                    f"PartnerID {pid} is an indirect provider's (error 2072: PartnerID of "
                    "Indirect Provider isn't valid as Partner On Record)",
                    partner_of_record=pid,
                    partner_center_code="2072",
                )
            check = self._validate_reseller(data, pid)
            if not check.is_valid_partner_id_on_record:
                raise PorInvalid(
                    f"Partner Center refused Partner of Record {pid} for subscription "
                    f"{subscription_id} (error {check.error_code}: {check.error_description})",
                    partner_of_record=pid,
                    partner_center_code=check.error_code,
                )
            agreement = _section(data, "agreements", self._path).get(pid) or {}
            if agreement.get("isAgreementSigned") is not True:
                raise PorInvalid(
                    f"PartnerID {pid} has not accepted the Microsoft Partner Agreement (error "
                    "900123)",
                    partner_of_record=pid,
                    partner_center_code="900123",
                )
            with self._reading(f"subscriptions.{subscription_id}"):
                answer = SubscriptionPartnerOfRecord(
                    customer_id=str(customer_id),
                    subscription_id=subscription_id,
                    offer_id=entry.get("offerId"),
                    partner_id=pid,
                    status=str(entry.get("status", "active")),
                )
            if entry.get("partnerId") == pid:
                return answer, []
            return answer, [(("subscriptions", key, "partnerId"), pid)]

        return await self._file.change("update_subscription_partner_of_record", decide)

    def _subscription(
        self, data: dict[str, Any], customer_id: TenantId, subscription_id: str
    ) -> tuple[str, dict[str, Any]]:
        """The customer's subscription (its key, its entry); refusals as Partner Center's 20003 /
        2011 / 800091."""
        subscriptions = _section(data, "subscriptions", self._path)
        found = _find_tenant(subscriptions, UUID(subscription_id))
        entry: Any = found[1] if found else None
        with self._reading(f"subscriptions.{subscription_id}"):
            owner = UUID(str(entry["customerId"])) if isinstance(entry, dict) else None
            status = str(entry.get("status", "active")).casefold() if entry else ""
        if entry is None or owner != customer_id:
            raise SubscriptionNotChangeable(
                f"subscription {subscription_id} of customer {customer_id} was not found (error "
                "20003)",
                subscription_id=subscription_id,
                partner_center_code="20003",
            )
        if status in ("deleted", "suspended"):
            code = "2011" if status == "deleted" else "800091"
            raise SubscriptionNotChangeable(
                f"subscription {subscription_id} is {status} and cannot be updated (error {code})",
                subscription_id=subscription_id,
                partner_center_code=code,
            )
        assert isinstance(entry, dict) and found is not None
        return found[0], entry

    def _require_partnered(
        self, data: dict[str, Any], provider: str, reseller: str, operation: str
    ) -> None:
        """Partner Center's own check: the reseller is on the provider's list, active."""
        entry = (_section(data, "relationships", self._path).get(provider) or {}).get(reseller)
        with self._reading(f"relationships.{provider}.{reseller}"):
            state = None if entry is None else str(entry.get("state", "Active"))
        if state is None or state.casefold() != "active":
            raise PartnershipNotActive(
                f"Partner Center refused {operation}: PartnerID {reseller} is not an active "
                f"indirect reseller of provider {provider} (relationship: {state or 'none'})",
                provider_partner_id=provider,
                reseller_partner_id=reseller,
                partnership_status=state,
            )

    # -- file access -------------------------------------------------------------------------

    async def fold(self) -> bool:
        """Fold the journal of changes into the file now (True when it held any)."""
        return await self._file.fold()

    async def aclose(self) -> None:
        """Leave the file current: fold what the journal holds (the worker calls this at stop)."""
        await self._file.aclose()

    async def _read(self) -> dict[str, Any]:
        """The file with the journal applied (shared: never change it); parsed again only when
        the file changed, the journal's new lines applied when it grew."""
        return await self._file.aread()

    def _tenant(self, data: dict[str, Any], tenant_id: TenantId) -> dict[str, Any]:
        return self._tenant_entry(data, tenant_id)[1]

    def _tenant_entry(
        self, data: dict[str, Any], tenant_id: TenantId
    ) -> tuple[str, dict[str, Any]]:
        found = _find_tenant(_section(data, "tenants", self._path), tenant_id)
        if found is None:
            raise TenantNotFound(f"tenant {tenant_id} was not found", tenant_id=str(tenant_id))
        key, entry = found
        if not isinstance(entry, dict):
            raise self._malformed(f"tenants.{key}", "must be an object")
        return key, entry

    def _tenant_info(self, tenant_id: TenantId, entry: dict[str, Any]) -> TenantInfo:
        with self._reading(f"tenants.{tenant_id}"):
            return TenantInfo(
                tenant_id=tenant_id, country=entry["country"], default_domain=entry["defaultDomain"]
            )

    @contextlib.contextmanager
    def _reading(self, where: str) -> Iterator[None]:
        """Turn a malformed entry of the operator's file into a retryable, explanatory error."""
        try:
            yield
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            if isinstance(exc, ValidationError):
                reason = "; ".join(f"{e['loc'][-1]}: {e['msg']}" for e in exc.errors())
            elif isinstance(exc, KeyError):
                reason = f"missing {exc}"
            else:
                reason = str(exc)
            raise self._malformed(where, reason) from exc

    def _malformed(self, where: str, reason: str) -> PartnerCenterUnavailable:
        return PartnerCenterUnavailable(
            f"partner center data file {self._path}: {where}: {reason}; fix the file"
        )


def _partner_not_found(partner_id: str) -> PartnerIdNotFound:
    return PartnerIdNotFound(
        f"PartnerID {partner_id} was not found (Partner Center error 3000)", partner_id=partner_id
    )


def _section(data: dict[str, Any], name: str, path: Path) -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise PartnerCenterUnavailable(
            f"partner center data file {path}: {name!r} must be an object; fix the file"
        )
    return value


def _find_tenant(tenants: dict[str, Any], tenant_id: TenantId) -> tuple[str, Any] | None:
    """The entry keyed by `tenant_id`, whatever the case or braces of the key's spelling."""
    canonical = str(tenant_id)
    if canonical in tenants:
        return canonical, tenants[canonical]
    for key, entry in tenants.items():
        with contextlib.suppress(ValueError):
            if UUID(key) == tenant_id:
                return key, entry
    return None


def _parser(path: Path) -> Callable[[bytes], dict[str, Any]]:
    def parse(raw: bytes) -> dict[str, Any]:
        try:
            data = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise PartnerCenterUnavailable(
                f"partner center data file {path} is not valid JSON ({exc}); fix the file"
            ) from exc
        if not isinstance(data, dict):
            raise PartnerCenterUnavailable(
                f"partner center data file {path} must hold a JSON object; fix the file"
            )
        return data

    return parse


def _unavailable(path: Path) -> Callable[[str], PartnerCenterUnavailable]:
    return lambda reason: PartnerCenterUnavailable(f"partner center data file {path}: {reason}")


def current_data(path: Path) -> dict[str, Any]:
    """What `LocalPartnerCenter(path)` answers from now: the file with the changes its journal
    holds (not folded yet) applied. Blocking; for tests and tools."""
    path = Path(path)
    return journal.current_data(path, _parser(path), _unavailable(path))


def sample_data() -> dict[str, Any]:
    """A small realistic data set: two JP partners and one US partner, each with its tenant, a JP
    indirect provider and one JP customer.

    Sakura Cloud (JP) has signed the MPA, Contoso (US) has explicitly not, Fabrikam (JP) has no
    agreement entry (also not signed). Tokyo Cloud Distribution (JP) is an indirect provider;
    Sakura is a valid Partner of Record (`indirectResellers`); the customer Minato Trading (JP)
    has a commerce relationship with both and one subscription without a reseller of record.
    """
    return {
        "profiles": {
            "4512345": {
                "partnerName": "Sakura Cloud Solutions K.K.",
                "country": "JP",
                "tenantId": "3f2a8c1e-5b7d-4e9a-8c6f-1a2b3c4d5e6f",
            },
            "5234567": {"partnerName": "Contoso Cloud Partners LLC", "country": "US"},
            "6345678": {"partnerName": "Fabrikam Japan G.K.", "country": "JP"},
            "3456789": {"partnerName": "Tokyo Cloud Distribution K.K.", "country": "JP"},
        },
        "tenants": {
            "3f2a8c1e-5b7d-4e9a-8c6f-1a2b3c4d5e6f": {
                "country": "JP",
                "defaultDomain": "sakuracloud.onmicrosoft.com",
                "globalAdmins": ["admin@sakuracloud.onmicrosoft.com"],
                "adminAgent": False,
            },
            "8b1d4f2a-9c3e-4a7b-b5d6-2e8f0a1c3b5d": {
                "country": "US",
                "defaultDomain": "contosocloud.onmicrosoft.com",
                "globalAdmins": ["it-admin@contosocloud.onmicrosoft.com"],
                "adminAgent": True,
            },
            "c47e9a13-6d2b-4f8e-a1c5-9b3d7e2f4a60": {
                "country": "JP",
                "defaultDomain": "fabrikamjp.onmicrosoft.com",
                "globalAdmins": ["yamada@fabrikamjp.onmicrosoft.com"],
                "adminAgent": False,
            },
        },
        "agreements": {
            "4512345": {"isAgreementSigned": True},
            "5234567": {"isAgreementSigned": False},
            "3456789": {"isAgreementSigned": True},
        },
        "createdTenants": {},
        "relationships": {},
        "indirectResellers": {"4512345": {"programStatus": "Active"}},
        "customers": {
            "d2a7c9e4-3b1f-4c6a-9e8d-5f7a1b2c3d4e": {
                "companyName": "Minato Trading K.K.",
                "country": "JP",
                "partners": ["3456789", "4512345"],
            }
        },
        "orders": {},
        "subscriptions": {
            "6f1e2d3c-4b5a-4987-8c6d-5e4f3a2b1c0d": {
                "customerId": "d2a7c9e4-3b1f-4c6a-9e8d-5f7a1b2c3d4e",
                "offerId": "CFQ7TTC0LH18:0001",
                "status": "active",
                "partnerId": None,
            }
        },
        "createdCustomers": {},
    }


def write_sample_if_missing(path: Path) -> bool:
    """Write `sample_data()` to `path` unless a file is already there; True when it wrote one.
    A journal left beside a deleted file belonged to that file's data and is removed."""
    path = Path(path)
    if path.exists():
        return False
    journal_path(path).unlink(missing_ok=True)
    JsonFile(path, _parser(path)).write(sample_data())
    return True
