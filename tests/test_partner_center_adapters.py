"""Both `PartnerCenter` implementations: the JSON-file one and the HTTP client (against a real
local HTTP server, `tests.fake_partner_center`)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid5

import pytest

from adapters.partner_center import (
    PartnerCenter,
    PartnerCenterUnavailable,
)
from adapters.partner_center.local import (
    TENANT_NAMESPACE,
    LocalPartnerCenter,
    current_data,
    sample_data,
    write_sample_if_missing,
)
from domain.errors import PartnerIdNotFound, PorInvalid, TenantNotFound
from domain.partner_center import AgreementVerdict, OrderLine, OrderSubmission

SAKURA = "4512345"  # JP, MPA signed
CONTOSO = "5234567"  # US, MPA explicitly not signed
FABRIKAM = "6345678"  # JP, no agreement entry
SAKURA_TENANT = UUID("3f2a8c1e-5b7d-4e9a-8c6f-1a2b3c4d5e6f")
CONTOSO_TENANT = UUID("8b1d4f2a-9c3e-4a7b-b5d6-2e8f0a1c3b5d")  # already an admin agent
UNKNOWN_TENANT = UUID("00000000-0000-4000-8000-000000000001")


def _conforms(partner_center: PartnerCenter) -> PartnerCenter:
    """Type-checks that an implementation satisfies the Protocol."""
    return partner_center


# -- LocalPartnerCenter ------------------------------------------------------------------------


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "partner_center.json"
    assert write_sample_if_missing(path)
    return path


@pytest.fixture
def local(data_file: Path) -> PartnerCenter:
    return _conforms(LocalPartnerCenter(data_file))


def _read(path: Path) -> dict[str, Any]:
    """What the adapter answers from: the file with the changes its journal holds."""
    return current_data(path)


def _edit(path: Path, data: dict[str, Any]) -> None:
    """An operator's edit (a plain write, not atomic)."""
    _write_text(path, json.dumps(data))


def _write_text(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def _inode(path: Path) -> int:
    """Changes when the file is replaced, i.e. rewritten by the adapter."""
    return path.stat().st_ino


async def test_local_mpn_profile(local: PartnerCenter) -> None:
    profile = await local.get_mpn_profile(f" {SAKURA} ")
    assert (profile.partner_id, profile.partner_name, profile.country) == (
        SAKURA,
        "Sakura Cloud Solutions K.K.",
        "JP",
    )
    assert (await local.get_mpn_profile(CONTOSO)).country == "US"


async def test_local_unknown_partner_id(local: PartnerCenter) -> None:
    with pytest.raises(PartnerIdNotFound, match="9999999") as caught:
        await local.get_mpn_profile("9999999")
    assert caught.value.details == {"partner_id": "9999999"}
    assert "3000" in caught.value.message


async def test_local_tenant(local: PartnerCenter) -> None:
    tenant = await local.get_tenant(SAKURA_TENANT)
    assert (tenant.tenant_id, tenant.country, tenant.default_domain) == (
        SAKURA_TENANT,
        "JP",
        "sakuracloud.onmicrosoft.com",
    )
    with pytest.raises(TenantNotFound) as caught:
        await local.get_tenant(UNKNOWN_TENANT)
    assert caught.value.details == {"tenant_id": str(UNKNOWN_TENANT)}


async def test_local_global_admin_is_case_insensitive(local: PartnerCenter) -> None:
    assert await local.is_global_admin(SAKURA_TENANT, "Admin@SakuraCloud.onmicrosoft.com")
    assert not await local.is_global_admin(SAKURA_TENANT, "someone@sakuracloud.onmicrosoft.com")
    assert not await local.is_global_admin(CONTOSO_TENANT, "admin@sakuracloud.onmicrosoft.com")
    with pytest.raises(TenantNotFound):
        await local.is_global_admin(UNKNOWN_TENANT, "admin@sakuracloud.onmicrosoft.com")


async def test_local_agreement_status(local: PartnerCenter) -> None:
    assert await local.is_agreement_signed(SAKURA) is True
    assert await local.is_agreement_signed(CONTOSO) is False
    assert await local.is_agreement_signed(FABRIKAM) is False  # no entry: not signed
    with pytest.raises(PartnerIdNotFound, match="9999999"):
        await local.is_agreement_signed("9999999")
    assert isinstance(local, LocalPartnerCenter)
    assert (await local.agreement_status(FABRIKAM)).verdict is (
        AgreementVerdict.NOT_INDIRECT_RESELLER
    )
    assert (await local.agreement_status("9999999")).verdict is (
        AgreementVerdict.PARTNER_ID_UNKNOWN
    )


async def test_local_create_tenant_is_idempotent(local: PartnerCenter, data_file: Path) -> None:
    first = await local.create_tenant(
        domain_prefix="Tsubame",
        country="jp",
        global_admin="owner@tsubame.onmicrosoft.com",
        idempotency_key="enroll-42:create-tenant",
    )
    again = await local.create_tenant(
        domain_prefix="tsubame",
        country="JP",
        global_admin="owner@tsubame.onmicrosoft.com",
        idempotency_key="enroll-42:create-tenant",
    )
    assert first == again
    assert first.tenant_id == uuid5(TENANT_NAMESPACE, "enroll-42:create-tenant")
    assert (first.country, first.default_domain) == ("JP", "tsubame.onmicrosoft.com")

    data = _read(data_file)
    created = [t for t in data["tenants"].values() if t["defaultDomain"].startswith("tsubame.")]
    assert created == [
        {
            "country": "JP",
            "defaultDomain": "tsubame.onmicrosoft.com",
            "globalAdmins": ["owner@tsubame.onmicrosoft.com"],
            "adminAgent": False,
        }
    ]
    assert data["createdTenants"] == {"enroll-42:create-tenant": str(first.tenant_id)}
    assert await local.get_tenant(first.tenant_id) == first
    assert await local.is_global_admin(first.tenant_id, "OWNER@tsubame.onmicrosoft.com")

    other = await local.create_tenant(
        domain_prefix="tsubame2",
        country="US",
        global_admin="a@tsubame2.onmicrosoft.com",
        idempotency_key="enroll-43:create-tenant",
    )
    assert other.tenant_id != first.tenant_id


async def test_local_create_tenant_rejects_bad_input(local: PartnerCenter, data_file: Path) -> None:
    before = _read(data_file)
    with pytest.raises(ValueError, match="country"):
        await local.create_tenant(
            domain_prefix="ok", country="Japan", global_admin="a@b.c", idempotency_key="k1"
        )
    with pytest.raises(ValueError, match="domain prefix"):
        await local.create_tenant(
            domain_prefix="not valid.", country="JP", global_admin="a@b.c", idempotency_key="k2"
        )
    assert _read(data_file) == before


async def test_local_create_tenant_on_missing_file_creates_it(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "pc.json"
    partner_center = LocalPartnerCenter(path)
    with pytest.raises(PartnerIdNotFound):  # a missing file is empty data
        await partner_center.get_mpn_profile(SAKURA)
    tenant = await partner_center.create_tenant(
        domain_prefix="fresh",
        country="US",
        global_admin="a@fresh.onmicrosoft.com",
        idempotency_key="k",
    )
    assert _read(path)["tenants"][str(tenant.tenant_id)]["country"] == "US"


async def test_local_concurrent_creates_all_land(tmp_path: Path) -> None:
    partner_center = LocalPartnerCenter(tmp_path / "pc.json")
    tenants = await asyncio.gather(
        *(
            partner_center.create_tenant(
                domain_prefix=f"t{i}", country="JP", global_admin="a@b.c", idempotency_key=f"k{i}"
            )
            for i in range(8)
        )
    )
    data = _read(tmp_path / "pc.json")
    assert set(data["tenants"]) == {str(t.tenant_id) for t in tenants}
    assert len(data["createdTenants"]) == 8


async def test_local_ensure_admin_agent_is_idempotent(
    local: PartnerCenter, data_file: Path
) -> None:
    await local.ensure_admin_agent(SAKURA_TENANT, idempotency_key="k")
    assert _read(data_file)["tenants"][str(SAKURA_TENANT)]["adminAgent"] is True
    inode = _inode(data_file)
    await local.ensure_admin_agent(SAKURA_TENANT, idempotency_key="k")
    await local.ensure_admin_agent(CONTOSO_TENANT, idempotency_key="k2")  # already one
    assert _inode(data_file) == inode  # nothing rewritten
    with pytest.raises(TenantNotFound):
        await local.ensure_admin_agent(UNKNOWN_TENANT, idempotency_key="k3")


async def test_local_sees_operator_edits_and_keeps_them(
    local: PartnerCenter, data_file: Path
) -> None:
    assert await local.is_agreement_signed(FABRIKAM) is False
    data = _read(data_file)
    data["agreements"][FABRIKAM] = {"isAgreementSigned": True}
    data["profiles"]["7456789"] = {"partnerName": "Northwind Traders", "country": "us"}
    _edit(data_file, data)

    assert await local.is_agreement_signed(FABRIKAM) is True
    assert (await local.get_mpn_profile("7456789")).country == "US"

    await local.ensure_admin_agent(SAKURA_TENANT, idempotency_key="k")  # a write
    after = _read(data_file)
    assert after["profiles"]["7456789"]["partnerName"] == "Northwind Traders"
    assert after["agreements"][FABRIKAM] == {"isAgreementSigned": True}


async def test_local_malformed_file_is_retryable(local: PartnerCenter, data_file: Path) -> None:
    _write_text(data_file, '{"profiles": {')  # a half-saved edit
    with pytest.raises(PartnerCenterUnavailable, match="not valid JSON"):
        await local.get_mpn_profile(SAKURA)
    _edit(data_file, {"profiles": {SAKURA: {"partnerName": "Sakura"}}})
    with pytest.raises(PartnerCenterUnavailable, match="country"):
        await local.get_mpn_profile(SAKURA)


def test_write_sample_if_missing_keeps_an_existing_file(data_file: Path) -> None:
    _edit(data_file, {"profiles": {}})
    assert not write_sample_if_missing(data_file)
    assert _read(data_file) == {"profiles": {}}
    sample = sample_data()
    assert {p["country"] for p in sample["profiles"].values()} == {"JP", "US"}


# ---- the POR date gate (issue 14 item 6) -----------------------------------------------------


def _clock(at: datetime) -> Callable[[], datetime]:
    return lambda: at


@pytest.mark.parametrize(
    ("now", "placed"),
    [
        (datetime(2025, 8, 31, 23, 59, 59, tzinfo=UTC), True),
        (datetime(2025, 9, 1, 0, 0, tzinfo=UTC), False),
    ],
)
async def test_local_orders_are_refused_for_their_por_only_from_the_gate(
    tmp_path: Path, now: datetime, placed: bool
) -> None:
    """Seed 003: "until that date the experience does not change" in the UI nor the API; from
    2025-09-01 00:00 UTC an invalid POR (here 800016: not an indirect reseller) is refused."""
    path = tmp_path / "pc.json"
    data = sample_data()
    data["indirectResellers"] = {}
    path.write_text(json.dumps(data))
    gate = datetime(2025, 9, 1, tzinfo=UTC)
    partner_center = LocalPartnerCenter(path, por_validation_from=gate, clock=_clock(now))
    order = OrderSubmission(
        partner_id="3456789",
        customer_id=UUID("d2a7c9e4-3b1f-4c6a-9e8d-5f7a1b2c3d4e"),
        line_items=(
            OrderLine(
                line_item_number=0,
                offer_id="CFQ7TTC0LH18:0001",
                quantity=5,
                partner_id_on_record="4512345",
            ),
        ),
    )
    [check] = await partner_center.validate_resellers(["4512345"])
    assert check.error_code == "800016"  # the same answer on either side of the date
    if placed:
        result = await partner_center.place_order(order, idempotency_key="k1")
        assert result.line_items[0].partner_id_on_record == "4512345"
    else:
        with pytest.raises(PorInvalid) as refused:
            await partner_center.place_order(order, idempotency_key="k1")
        assert refused.value.details["partner_center_code"] == "800016"


def test_local_gate_needs_a_time_zone(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="time zone"):
        LocalPartnerCenter(tmp_path / "pc.json", por_validation_from=datetime(2025, 9, 1))
