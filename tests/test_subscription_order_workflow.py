"""The subscription-order pipeline on the time-skipping server: POR validation on either side of its
date, the block and its fix from the same pipeline, the MCA gate (CUS-04), and Partner Center's
order answers through the HTTP client against the local fake (800039, 800060, 429/5xx)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

import pytest
from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from adapters.partner_center.http import PartnerCenterHttpClient
from adapters.partner_center.local import LocalPartnerCenter
from contract import names
from domain.messages import Acknowledgement
from domain.relationships import (
    CustomerAgreementRecord,
    CustomerInvitationStage,
    CustomerRelationshipRecord,
    InvitationKind,
    OrderStage,
    OrderStatus,
)
from tests.conftest import Stack
from tests.fake_partner_center import (
    PC_TOKEN,
    Answer,
    DocumentedPartnerCenter,
    fixture,
    serve_documented_partner_center,
)
from tests.relationship_driver import (
    CUSTOMER,
    PROVIDER,
    RESELLER,
    UNSIGNED_RESELLER,
    US_RESELLER,
    agreement,
    bodies,
    order_request,
    prepare,
    start_order,
    subjects,
    update,
    wait_for_stage,
)

ORDERS = f"/v1/customers/{CUSTOMER}/orders"


async def _customer(stack: Stack, *, mca: bool = True, reseller: str = RESELLER) -> None:
    """The customer accepted a joint invitation from `reseller` and this provider (CUS-01)."""
    now = datetime.now(UTC)
    await stack.registry.save_customer_relationship(
        CustomerRelationshipRecord(
            reseller_partner_id=reseller,
            customer_tenant_id=str(CUSTOMER),
            kind=InvitationKind.JOINT,
            provider_partner_id=PROVIDER,
            customer_country="JP",
            status=CustomerInvitationStage.ACTIVE if mca else CustomerInvitationStage.MCA_PENDING,
            workflow_id=names.customer_invitation_id(reseller, str(CUSTOMER)),
            invited_at=now,
            accepted_at=now,
            updated_at=now,
        )
    )
    if mca:
        await stack.registry.save_customer_agreement(
            CustomerAgreementRecord(
                customer_tenant_id=str(CUSTOMER),
                signer_name="Taro Suzuki",
                accepted_at=datetime(2026, 1, 5, tzinfo=UTC),
                attested_by="sales",
                recorded_at=now,
            )
        )


async def _ready(stack: Stack, **customer: Any) -> None:
    await prepare(stack, partnerships=(RESELLER, UNSIGNED_RESELLER, US_RESELLER))
    await _customer(stack, **customer)


def _gate_in_the_future(stack: Stack) -> None:
    """The setting and Partner Center's own gate (which the setting mirrors) both in 2099."""
    stack.settings = stack.settings.model_copy(update={"por_validation_from": date(2099, 1, 1)})
    stack.partner_center = LocalPartnerCenter(
        stack.data_file, por_validation_from=datetime(2099, 1, 1, tzinfo=UTC)
    )


async def _status(handle: Any) -> OrderStatus:
    status: OrderStatus = await handle.query(names.QUERY_STATUS, result_type=OrderStatus)
    return status


def _fix(por: str, role: str = "sales_agent") -> dict[str, Any]:
    return {"partner_of_record": por, "fixed_by": {"user": "sales@tokyo", "role": role}}


def _pc_orders(stack: Stack) -> list[dict[str, Any]]:

    return list(stack.partner_center_data().get("orders", {}).values())


async def test_an_order_with_a_valid_por_is_placed(
    time_env: WorkflowEnvironment, stack: Stack
) -> None:
    await _ready(stack)
    async with stack.worker(time_env.client):
        handle = await start_order(time_env.client, order_request())
        result = await handle.result()
        status = await _status(handle)
    assert result.outcome is OrderStage.PLACED
    assert result.partner_of_record == RESELLER and result.warnings == ()
    assert status.verdict is not None and status.verdict.enforced and status.verdict.valid
    [placed] = _pc_orders(stack)
    assert [line["partner_id_on_record"] for line in placed["line_items"]] == [RESELLER]
    record = await stack.registry.get_order(PROVIDER, "PO-2026-0001")
    assert record is not None and record.status is OrderStage.PLACED
    assert record.partner_center_order_id == result.partner_center_order_id == placed["order_id"]


async def test_an_invalid_por_blocks_until_fixed_from_the_same_pipeline(
    time_env: WorkflowEnvironment, stack: Stack
) -> None:
    await _ready(stack)
    client = time_env.client
    async with stack.worker(client):
        handle = await start_order(client, order_request(partner_of_record=US_RESELLER))
        status = await wait_for_stage(handle, OrderStage.POR_INVALID, OrderStatus)
        # Every failed condition is named: a US PLA for a JP provider buying in JP, no MPA.
        assert status.verdict is not None
        assert [f.condition for f in status.verdict.blocking] == ["POR-02b", "POR-05", "MPA-02"]
        assert "[POR-02b]" in (status.waiting_for or "") and "[POR-05]" in (
            status.waiting_for or ""
        )
        assert status.deadline is not None
        record = await stack.registry.get_order(PROVIDER, "PO-2026-0001")
        assert record is not None and record.status is OrderStage.POR_INVALID
        assert record.error_type == "PorInvalid"
        await stack.sink.wait_for_messages(1, timeout_seconds=30)
        assert subjects(stack.sink) == [f"Order blocked for provider PartnerID {PROVIDER}"]
        assert "fix_partner_of_record" in bodies(stack.sink)[0]

        with pytest.raises(WorkflowUpdateFailedError) as forbidden:
            await update(
                handle,
                names.UPDATE_FIX_PARTNER_OF_RECORD,
                _fix(RESELLER, "helpdesk_agent"),
                Acknowledgement,
            )
        assert isinstance(forbidden.value.cause, ApplicationError)
        assert forbidden.value.cause.type == "RoleForbidden"

        with pytest.raises(WorkflowUpdateFailedError) as still_invalid:
            await update(
                handle, names.UPDATE_FIX_PARTNER_OF_RECORD, _fix("6345678"), Acknowledgement
            )
        cause = still_invalid.value.cause
        assert isinstance(cause, ApplicationError) and cause.type == "PorInvalid"
        assert "800016" in cause.message and "[REL-02]" in cause.message
        blocked = await wait_for_stage(handle, OrderStage.POR_INVALID, OrderStatus)
        assert blocked.deadline == status.deadline  # a failed fix does not extend the deadline

        ack = await update(
            handle, names.UPDATE_FIX_PARTNER_OF_RECORD, _fix(RESELLER), Acknowledgement
        )
        assert "is valid" in ack.message
        result = await handle.result()
    assert result.outcome is OrderStage.PLACED and result.partner_of_record == RESELLER
    [placed] = _pc_orders(stack)
    assert placed["line_items"][0]["partner_id_on_record"] == RESELLER


async def test_a_por_never_fixed_fails_the_order_at_its_deadline(
    time_env: WorkflowEnvironment, stack: Stack
) -> None:
    await _ready(stack)
    async with stack.worker(time_env.client):
        handle = await start_order(time_env.client, order_request(partner_of_record="9999999"))
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
        status = await _status(handle)
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == "PorInvalid" and cause.non_retryable
    for condition in ("[POR-02a]", "[POR-02c]", "[REL-02]"):
        assert condition in cause.message
    assert "no valid Partner of Record was set by" in cause.message
    assert status.stage is OrderStage.FAILED
    assert _pc_orders(stack) == []
    record = await stack.registry.get_order(PROVIDER, "PO-2026-0001")
    assert record is not None and record.status is OrderStage.FAILED


async def test_mpa_unsigned_blocks_with_mpa_not_signed(
    time_env: WorkflowEnvironment, stack: Stack
) -> None:
    await _ready(stack)
    async with stack.worker(time_env.client):
        handle = await start_order(
            time_env.client, order_request(partner_of_record=UNSIGNED_RESELLER)
        )
        status = await wait_for_stage(handle, OrderStage.POR_INVALID, OrderStatus)
        assert status.verdict is not None
        assert [f.condition for f in status.verdict.blocking] == ["MPA-02"]
        await update(
            handle,
            names.UPDATE_WITHDRAW,
            {"reason": "the reseller will sign next month", "requested_by": "sales"},
            Acknowledgement,
        )
        result = await handle.result()
    assert result.outcome is OrderStage.WITHDRAWN
    record = await stack.registry.get_order(PROVIDER, "PO-2026-0001")
    assert record is not None and record.status is OrderStage.WITHDRAWN


async def test_before_the_date_an_order_without_por_proceeds_with_a_warning(
    time_env: WorkflowEnvironment, stack: Stack
) -> None:
    await _ready(stack)
    _gate_in_the_future(stack)
    async with stack.worker(time_env.client):
        handle = await start_order(time_env.client, order_request(partner_of_record=None))
        result = await handle.result()
    assert result.outcome is OrderStage.PLACED
    [warning] = result.warnings
    assert warning.startswith("POR-01: no Partner of Record is named")
    assert "2099-01-01T00:00:00+00:00" in warning
    record = await stack.registry.get_order(PROVIDER, "PO-2026-0001")
    assert record is not None and record.warnings == (warning,) and record.por_enforced is False
    [placed] = _pc_orders(stack)
    assert placed["line_items"][0]["partner_id_on_record"] is None


async def test_before_the_date_a_por_partner_center_would_refuse_proceeds_with_a_warning(
    time_env: WorkflowEnvironment, stack: Stack
) -> None:
    """Item 6 of issue 14: before the date Partner Center itself places the order (seed 003:
    "nothing changes"), so a POR failing only date-gated conditions is placed, with warnings."""
    await _ready(stack)
    _gate_in_the_future(stack)
    # RESELLER is partnered and signed, but Partner Center does not list it as an indirect
    # reseller: validateresellers answers 800016 (POR-02a), which is date-gated.
    stack.edit_partner_center(lambda d: d["indirectResellers"].pop(RESELLER))
    async with stack.worker(time_env.client):
        handle = await start_order(time_env.client, order_request())
        result = await handle.result()
    assert result.outcome is OrderStage.PLACED
    [warning] = result.warnings
    assert warning.startswith("POR-02a: Partner Center does not accept PartnerID")
    assert "error 800016" in warning and "2099-01-01T00:00:00+00:00" in warning
    [placed] = _pc_orders(stack)
    assert placed["line_items"][0]["partner_id_on_record"] == RESELLER


async def test_from_the_date_partner_center_refuses_the_same_por(
    time_env: WorkflowEnvironment, stack: Stack
) -> None:
    """The same POR once enforced: the pipeline blocks it before Partner Center is asked."""
    await _ready(stack)
    stack.edit_partner_center(lambda d: d["indirectResellers"].pop(RESELLER))
    async with stack.worker(time_env.client):
        handle = await start_order(time_env.client, order_request())
        status = await wait_for_stage(handle, OrderStage.POR_INVALID, OrderStatus)
        assert status.verdict is not None and status.verdict.enforced
        assert [f.condition for f in status.verdict.blocking] == ["POR-02a"]
        await update(
            handle,
            names.UPDATE_WITHDRAW,
            {"reason": "the reseller is enrolling again", "requested_by": "sales"},
            Acknowledgement,
        )
        result = await handle.result()
    assert result.outcome is OrderStage.WITHDRAWN
    assert _pc_orders(stack) == []


async def test_before_the_date_an_unsigned_mpa_still_blocks(
    time_env: WorkflowEnvironment, stack: Stack
) -> None:
    await _ready(stack)
    _gate_in_the_future(stack)
    async with stack.worker(time_env.client):
        handle = await start_order(
            time_env.client, order_request(partner_of_record=UNSIGNED_RESELLER)
        )
        status = await wait_for_stage(handle, OrderStage.POR_INVALID, OrderStatus)
        assert status.verdict is not None and not status.verdict.enforced
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await update(
                handle,
                names.UPDATE_FIX_PARTNER_OF_RECORD,
                _fix(UNSIGNED_RESELLER),
                Acknowledgement,
            )
        assert isinstance(refused.value.cause, ApplicationError)
        assert refused.value.cause.type == "MpaNotSigned"
        stack.edit_partner_center(
            lambda d: d["agreements"].update({UNSIGNED_RESELLER: {"isAgreementSigned": True}})
        )
        # The same POR, re-checked now that it signed.
        await update(
            handle, names.UPDATE_FIX_PARTNER_OF_RECORD, _fix(UNSIGNED_RESELLER), Acknowledgement
        )
        result = await handle.result()
    assert result.outcome is OrderStage.PLACED and result.warnings == ()


async def test_a_missing_mca_waits_for_its_attestation(
    time_env: WorkflowEnvironment, stack: Stack
) -> None:
    await _ready(stack, mca=False)
    async with stack.worker(time_env.client):
        handle = await start_order(time_env.client, order_request())
        status = await wait_for_stage(handle, OrderStage.AWAITING_CUSTOMER_AGREEMENT, OrderStatus)
        assert "Microsoft Customer Agreement" in (status.waiting_for or "")
        with pytest.raises(WorkflowUpdateFailedError):
            await update(
                handle, names.UPDATE_FIX_PARTNER_OF_RECORD, _fix(RESELLER), Acknowledgement
            )
        await update(handle, names.UPDATE_ATTEST_CUSTOMER_AGREEMENT, agreement(), Acknowledgement)
        result = await handle.result()
    assert result.outcome is OrderStage.PLACED
    assert await stack.registry.get_customer_agreement(str(CUSTOMER)) is not None


async def test_a_missing_mca_never_attested_fails(
    time_env: WorkflowEnvironment, stack: Stack
) -> None:
    await _ready(stack, mca=False)
    async with stack.worker(time_env.client):
        handle = await start_order(time_env.client, order_request())
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
    assert isinstance(failure.value.cause, ApplicationError)
    assert failure.value.cause.type == "McaNotAccepted"


@pytest.mark.parametrize(
    ("overrides", "error_type"),
    [
        ({"customer_tenant_id": "00000000-0000-4000-8000-00000000abcd"}, "NoCommerceRelationship"),
        ({"requested_by": {"user": "desk", "role": "helpdesk_agent"}}, "RoleForbidden"),
    ],
)
async def test_prechecks_fail_the_order_at_once(
    time_env: WorkflowEnvironment, stack: Stack, overrides: dict[str, Any], error_type: str
) -> None:
    await _ready(stack)
    async with stack.worker(time_env.client):
        handle = await start_order(time_env.client, order_request(**overrides))
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
    assert isinstance(failure.value.cause, ApplicationError)
    assert failure.value.cause.type == error_type
    assert stack.sink.messages() == []


# -- Partner Center's own answers, through the HTTP client against the local fake --------------


class _OrdersOverHttp:
    """The stack's local Partner Center, except that orders go to Partner Center over HTTP."""

    def __init__(self, local: Any, http: PartnerCenterHttpClient) -> None:
        self._local = local
        self.place_order = http.place_order

    def __getattr__(self, name: str) -> Any:
        return getattr(self._local, name)


@pytest.fixture
async def fake_pc(stack: Stack) -> AsyncIterator[DocumentedPartnerCenter]:
    """The worker places orders over HTTP with a server answering Microsoft's documented order
    answers (tests/fake_partner_center.py); the other facts come from the stack's file."""
    await _ready(stack)
    async with (
        serve_documented_partner_center() as fake,
        PartnerCenterHttpClient(
            partner_center_tokens=PC_TOKEN, base_url=fake.base_url, retry_backoff=0.0
        ) as client,
    ):
        stack.partner_center = _OrdersOverHttp(stack.partner_center, client)  # type: ignore[assignment]
        yield fake


async def test_partner_center_refusing_the_por_blocks_and_a_fix_retries(
    time_env: WorkflowEnvironment, stack: Stack, fake_pc: DocumentedPartnerCenter
) -> None:
    fake_pc.refuse_with_code("POST", ORDERS, 800039)  # documented as HTTP 403
    async with stack.worker(time_env.client):
        handle = await start_order(time_env.client, order_request())
        status = await wait_for_stage(handle, OrderStage.POR_INVALID, OrderStatus)
        assert "800039" in (status.waiting_for or "")
        assert len(fake_pc.requests_to(ORDERS)) == 1  # not retried: the POR must be fixed
        await update(handle, names.UPDATE_FIX_PARTNER_OF_RECORD, _fix(RESELLER), Acknowledgement)
        result = await handle.result()
    assert result.outcome is OrderStage.PLACED
    first, second = fake_pc.requests_to(ORDERS)
    assert first.headers["ms-requestid"] != second.headers["ms-requestid"]  # a new attempt


async def test_transient_partner_center_answers_are_retried_with_one_request_id(
    time_env: WorkflowEnvironment, stack: Stack, fake_pc: DocumentedPartnerCenter
) -> None:
    fake_pc.refuse_with_code("POST", ORDERS, 800060)
    fake_pc.answer(  # three in-place retries, then 800060 again: the activity retries
        "POST",
        ORDERS,
        Answer(429, fixture("throttling.error_429.json"), {"Retry-After": "0"}),
        Answer(503),
        Answer(500),
    )
    fake_pc.refuse_with_code("POST", ORDERS, 800060)
    async with stack.worker(time_env.client):
        handle = await start_order(time_env.client, order_request())
        result = await handle.result()
    assert result.outcome is OrderStage.PLACED
    sent = fake_pc.requests_to(ORDERS)
    assert len(sent) == 6
    assert len({r.headers["ms-requestid"] for r in sent}) == 1
    assert str(UUID(sent[0].headers["ms-requestid"])) == sent[0].headers["ms-requestid"]


@pytest.mark.parametrize(
    ("code", "error_type"), [(20002, "NoCommerceRelationship"), (2030, "RegionMismatch")]
)
async def test_partner_center_business_refusals_fail_the_order(
    time_env: WorkflowEnvironment,
    stack: Stack,
    fake_pc: DocumentedPartnerCenter,
    code: int,
    error_type: str,
) -> None:
    fake_pc.refuse_with_code("POST", ORDERS, code)  # documented as HTTP 403
    async with stack.worker(time_env.client):
        handle = await start_order(time_env.client, order_request())
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
    assert isinstance(failure.value.cause, ApplicationError)
    assert failure.value.cause.type == error_type
    assert len(fake_pc.requests_to(ORDERS)) == 1
