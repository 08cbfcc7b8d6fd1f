"""RA-04 on the time-skipping server: the transition back to indirect reseller is a real move.

The partner chooses an authorized indirect provider in its CSP region (`choose_indirect_provider`,
refused by its validator otherwise), the Partnership pipeline runs as the transition's child under
its business-key id, and customers stay where they are.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import (
    Client,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from adapters.mail.smtp_sink import subject_of, text_of
from contract import names
from domain.calendar import business_date, start_of_day
from domain.direct_bill import DirectBillRegistryStatus
from domain.locale import Locale, human_day
from domain.reassessment import TransitionRequest, TransitionResult
from domain.reassessment_rules import month_of
from domain.relationships import (
    CustomerInvitationStage,
    CustomerRelationshipRecord,
    InvitationKind,
    PartnershipStage,
)
from domain.reseller_enrollment import ResellerRecord, ResellerStatus
from domain.transition import TransitionStage, TransitionStatus
from tests.conftest import Stack
from tests.reassessment_fixtures import Partner, seed
from tests.relationship_driver import (
    CUSTOMER,
    PARTNERSHIP_LINK,
    PROVIDER,
    PROVIDER_TENANT,
    eventually,
    prepare,
)
from tests.test_callbacks import gateway, signed_headers

DE_PROVIDER = "7700001"
"""An indirect provider authorized in Germany: the Europe region, not Japan's."""


async def _partner(stack: Stack, pga: str) -> str:
    """A JP direct-bill partner due for transition; its PLA (returned) is a JP indirect reseller
    that Partner Center knows, with one customer."""
    now = datetime.now(UTC)
    month = month_of(now)
    await seed(stack, month, [Partner(pga)])
    pla = f"{pga[:-1]}9"
    await prepare(stack)

    def partner_center(data: dict[str, Any]) -> None:
        data["profiles"][pla] = {"partnerName": f"Partner {pga} K.K.", "country": "JP"}
        data["agreements"][pla] = {"isAgreementSigned": True}
        data["indirectResellers"][pla] = {"programStatus": "Active"}

    def programs(data: dict[str, Any]) -> None:
        data["partners"][pga]["locations"] = {pla: {"country": "JP"}}
        data["indirectProviders"] = {
            PROVIDER: {"partnerName": "Tokyo Cloud Distribution K.K.", "country": "JP"},
            DE_PROVIDER: {"partnerName": "Rhein Cloud Distribution GmbH", "country": "DE"},
        }

    stack.edit_partner_center(partner_center)
    stack.edit_partner_programs(programs)
    await stack.registry.save_reseller(
        ResellerRecord(
            partner_id=pla,
            status=ResellerStatus.ACTIVE,
            country="JP",
            workflow_id=names.reseller_enrollment_id(pla),
            ir_authorized_at=now - timedelta(days=900),
            active_since=now - timedelta(days=900),
            updated_at=now,
        )
    )
    await stack.registry.save_customer_relationship(
        CustomerRelationshipRecord(
            reseller_partner_id=pla,
            customer_tenant_id=str(CUSTOMER),
            kind=InvitationKind.RESELLER_ONLY,
            customer_country="JP",
            status=CustomerInvitationStage.ACTIVE,
            workflow_id=names.customer_invitation_id(pla, str(CUSTOMER)),
            invited_at=now,
            accepted_at=now,
            updated_at=now,
        )
    )
    return pla


async def _start(
    client: Client, pga: str, pla: str, business_time_zone: str = "UTC"
) -> WorkflowHandle[Any, TransitionResult]:
    year = month_of(datetime.now(UTC)).year
    return await client.start_workflow(
        names.TRANSITION_TO_INDIRECT,
        TransitionRequest(
            pga_id=pga,
            region="JP",
            pla_id=pla,
            reasons=("DB-03 TTM revenue USD 999,999.99",),
            year=year,
            business_time_zone=business_time_zone,
        ),
        id=names.transition_id(pga, "JP", year),
        task_queue=names.TASK_QUEUE,
        result_type=TransitionResult,
    )


async def _status(handle: WorkflowHandle[Any, Any]) -> TransitionStatus:
    status: TransitionStatus = await handle.query(names.QUERY_STATUS, result_type=TransitionStatus)
    return status


async def _awaiting_choice(handle: WorkflowHandle[Any, Any]) -> TransitionStatus:
    for _ in range(400):
        try:
            status = await _status(handle)
        except Exception:  # the first workflow task has not run yet
            await asyncio.sleep(0.025)
            continue
        if status.stage is TransitionStage.AWAITING_PROVIDER_CHOICE:
            return status
        await asyncio.sleep(0.025)
    raise AssertionError(f"{handle.id} never awaited the provider choice")


def _choice(provider: str) -> dict[str, Any]:
    return {
        "provider_partner_id": provider,
        "provider_tenant_id": str(PROVIDER_TENANT),
        "requested_by": {"user": "admin@provider.example", "role": "admin_agent"},
        "invitation_link": PARTNERSHIP_LINK,
        "chosen_by": "taro.suzuki@partner.example",
    }


async def test_a_provider_in_the_region_is_partnered_as_a_child_and_the_move_completes(
    time_env: WorkflowEnvironment, stack: Stack
) -> None:
    """RA-04 (seed 004:
    "上記の要件の 1 つ以上を満たしていない場合は、CSP パートナーとして取引するための承認
    を維持するために、間接リセラーの状態に移行する必要があります。";
    DOMAIN.md RA-04: "the pipeline has it choose an
    authorized indirect provider in its region and runs the partnership (section 3), with
    customers and subscriptions left in place"): the JP partner chooses a JP provider through
    operations' signed gateway callback (the catalogue's `choose-provider` route; a DE provider is
    refused there with 409 `RegionMismatch`, another backend with 403), the
    Partnership pipeline starts as the transition's child under its business-key id, and the
    transition ends once the partnership is active; the partner's customer is still its own."""
    pga = "5600001"
    pla = await _partner(stack, pga)
    client = time_env.client
    year = month_of(datetime.now(UTC)).year
    # The choice arrives as operations' signed callback on the catalogue's route.
    route = f"/callbacks/transition-to-indirect/{pga}/JP/{year}/choose-provider"
    with time_env.auto_time_skipping_disabled():
        async with (
            stack.worker(client),
            gateway(client) as url,
            httpx.AsyncClient(base_url=url) as http,
        ):
            handle = await _start(client, pga, pla)
            offered = await _awaiting_choice(handle)
            assert offered.reseller_country == "JP"
            other_region = json.dumps(_choice(DE_PROVIDER)).encode()
            refused = await http.post(
                route,
                content=other_region,
                headers=signed_headers(route, other_region, "operations"),
            )
            assert refused.status_code == 409, refused.text
            assert refused.json()["error"]["type"] == "RegionMismatch"
            choice = json.dumps(_choice(PROVIDER)).encode()
            not_allowed = await http.post(
                route, content=choice, headers=signed_headers(route, choice, "review")
            )
            assert not_allowed.status_code == 403, not_allowed.text
            chosen = await http.post(
                route, content=choice, headers=signed_headers(route, choice, "operations")
            )
            assert chosen.status_code == 200, chosen.text
            ack = chosen.json()
            assert ack["stage"] == "awaiting_provider_choice"
            assert f"Indirect provider {PROVIDER} was chosen" in ack["message"]
            child_id = names.partnership_id(PROVIDER, pla)
            status = await eventually(
                lambda: _status(handle),
                lambda s: s.stage is TransitionStage.AWAITING_PARTNERSHIP,
            )
            assert status.partnership_workflow_id == child_id
            child = client.get_workflow_handle(child_id)
            history = await child.fetch_history()
            started = history.events[0].workflow_execution_started_event_attributes
            assert started.parent_workflow_execution.workflow_id == handle.id
            await eventually(
                lambda: stack.registry.get_partnership(PROVIDER, pla),
                lambda r: r is not None and r.status is PartnershipStage.AWAITING_ACCEPTANCE,
            )
            await child.execute_update(
                names.UPDATE_REPORT_PARTNERSHIP_ACCEPTED, {"reported_by": "partner-portal"}
            )
            await time_env.sleep(timedelta(hours=7))  # the next read of the partnership record
            result = await handle.result()

    assert result.provider_partner_id == PROVIDER
    assert result.partnership_outcome == "active"
    record = await stack.registry.get_direct_bill(pga, "JP")
    assert record is not None and record.status is DirectBillRegistryStatus.INDIRECT_RESELLER
    assert record.status_reason is not None
    assert f"moved to indirect provider {PROVIDER}" in record.status_reason
    assert "customers and subscriptions stay in place" in record.status_reason
    partnership = await stack.registry.get_partnership(PROVIDER, pla)
    assert partnership is not None and partnership.status is PartnershipStage.ACTIVE
    customer = await stack.registry.get_customer_relationship(pla, str(CUSTOMER))
    assert customer is not None and customer.status is CustomerInvitationStage.ACTIVE
    [offer] = [m for m in stack.sink.messages() if "Choose your indirect provider" in subject_of(m)]
    body = text_of(offer)
    assert f"Tokyo Cloud Distribution K.K. (PartnerID {PROVIDER}, JP)" in body
    assert DE_PROVIDER not in body  # another region's provider is not offered


async def test_a_provider_in_another_region_is_refused_naming_both_regions(
    time_env: WorkflowEnvironment, stack: Stack
) -> None:
    """RA-04 and REG-01 (seed 004:
    "上記の要件の 1 つ以上を満たしていない場合は、CSP パートナーとして取引するための承認
    を維持するために、間接リセラーの状態に移行する必要があります。";
    DOMAIN.md RA-04: "choose an authorized
    indirect provider in its region"): a German provider is authorized, but in the Europe region,
    so the JP partner's choice is refused naming both countries and both regions, and a PartnerID
    that is no authorized provider is refused as such; the transition still awaits a choice."""
    pga = "5600002"
    pla = await _partner(stack, pga)
    client = time_env.client
    with time_env.auto_time_skipping_disabled():
        async with stack.worker(client):
            handle = await _start(client, pga, pla)
            await _awaiting_choice(handle)
            with pytest.raises(WorkflowUpdateFailedError) as other_region:
                await handle.execute_update(
                    names.UPDATE_CHOOSE_INDIRECT_PROVIDER, _choice(DE_PROVIDER)
                )
            with pytest.raises(WorkflowUpdateFailedError) as unknown:
                await handle.execute_update(
                    names.UPDATE_CHOOSE_INDIRECT_PROVIDER, _choice("1234567")
                )
            status = await _status(handle)

    cause = other_region.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "RegionMismatch"
    assert f"provider {DE_PROVIDER} is in DE (" in cause.message
    assert f"partner {pla} is in JP (" in cause.message
    assert "Europe" in cause.message and "Japan" in cause.message
    refused = unknown.value.cause
    assert isinstance(refused, ApplicationError) and refused.type == "ProviderNotAuthorized"
    assert "1234567 is not an authorized indirect provider" in refused.message
    assert status.stage is TransitionStage.AWAITING_PROVIDER_CHOICE
    assert status.provider_partner_id is None
    assert await stack.registry.get_partnership(DE_PROVIDER, pla) is None


async def test_no_choice_by_the_deadline_is_recorded_and_operations_are_told(
    time_env: WorkflowEnvironment, stack: Stack
) -> None:
    """RA-04 (seed 004:
    "上記の要件の 1 つ以上を満たしていない場合は、CSP パートナーとして取引するための承認
    を維持するために、間接リセラーの状態に移行する必要があります。";
    DOMAIN.md RA-04: the partner "must keep transacting as an
    IR"): the partner names no provider within the choice period (default 30 days); the
    transition ends recording that none was chosen, the partner is indirect reseller, nothing is
    deleted, and operations are emailed."""
    pga = "5600003"
    pla = await _partner(stack, pga)
    client = time_env.client
    async with stack.worker(client):
        handle = await _start(client, pga, pla)
        result = await handle.result()
        status = await _status(handle)

    assert result.provider_partner_id is None
    assert result.note is not None and result.note.startswith("no indirect provider was chosen by")
    waited = {c.stage: c.at for c in status.history}
    elapsed = waited["indirect_reseller"] - waited["awaiting_provider_choice"]
    assert timedelta(days=30) <= elapsed < timedelta(days=30, minutes=1)
    record = await stack.registry.get_direct_bill(pga, "JP")
    assert record is not None and record.status is DirectBillRegistryStatus.INDIRECT_RESELLER
    assert record.status_reason is not None
    assert "no indirect provider was chosen" in record.status_reason
    assert await stack.registry.get_customer_relationship(pla, str(CUSTOMER)) is not None
    [ops] = [m for m in stack.sink.messages() if str(m["To"]) == "ops@csp.example"]
    assert subject_of(ops) == f"Transition of PGA {pga} (JP) has no indirect provider"
    assert "no indirect provider was chosen by" in text_of(ops)


async def test_a_partnership_that_never_becomes_active_is_recorded_and_operations_are_told(
    time_env: WorkflowEnvironment, stack: Stack
) -> None:
    """RA-04 (seed 004:
    "上記の要件の 1 つ以上を満たしていない場合は、CSP パートナーとして取引するための承認
    を維持するために、間接リセラーの状態に移行する必要があります。";
    DOMAIN.md RA-04: "runs the partnership (section 3)"): the partner chose a provider but never
    accepted its partnership request; the transition stops waiting after `partnership_wait`,
    records that the partnership did not become active, keeps the customers, and tells
    operations."""
    pga = "5600004"
    pla = await _partner(stack, pga)
    client = time_env.client
    async with stack.worker(client):
        handle = await _start(client, pga, pla)
        await _awaiting_choice(handle)
        await handle.execute_update(names.UPDATE_CHOOSE_INDIRECT_PROVIDER, _choice(PROVIDER))
        result = await handle.result()

    assert result.provider_partner_id == PROVIDER
    assert result.partnership_outcome != "active"
    note = f"the partnership with indirect provider {PROVIDER} did not become active"
    assert result.note is not None and result.note.startswith(note)
    record = await stack.registry.get_direct_bill(pga, "JP")
    assert record is not None and record.status is DirectBillRegistryStatus.INDIRECT_RESELLER
    assert record.status_reason is not None and note in record.status_reason
    assert await stack.registry.get_customer_relationship(pla, str(CUSTOMER)) is not None
    ops = [m for m in stack.sink.messages() if "has no indirect provider" in subject_of(m)]
    assert [str(m["To"]) for m in ops] == ["ops@csp.example"]
    assert note in text_of(ops[0])


def _forget_the_pga(pga: str, pla: str) -> Callable[[dict[str, Any]], None]:
    def edit(data: dict[str, Any]) -> None:
        del data["partners"][pga]

    return edit


def _forget_the_pla_location(pga: str, pla: str) -> Callable[[dict[str, Any]], None]:
    def edit(data: dict[str, Any]) -> None:
        data["partners"][pga]["locations"] = {}

    return edit


def _forget_a_providers_country(pga: str, pla: str) -> Callable[[dict[str, Any]], None]:
    def edit(data: dict[str, Any]) -> None:
        del data["indirectProviders"][PROVIDER]["country"]

    return edit


@pytest.mark.parametrize(
    ("forget", "field"),
    [
        (_forget_the_pga, "partners.{pga}"),
        (_forget_the_pla_location, "partners.{pga}.locations.{pla}.country"),
        (_forget_a_providers_country, "indirectProviders.{provider}.country"),
    ],
)
async def test_a_partner_unknown_to_the_partner_programs_ends_recorded_and_operations_are_told(
    time_env: WorkflowEnvironment,
    stack: Stack,
    forget: Callable[[str, str], Callable[[dict[str, Any]], None]],
    field: str,
) -> None:
    """RA-04 (seed 004:
    "上記の要件の 1 つ以上を満たしていない場合は、CSP パートナーとして取引するための承認
    を維持するために、間接リセラーの状態に移行する必要があります。";
    DOMAIN.md RA-04: "choose an authorized indirect provider in its region"): when the
    partner-programs source does not know the PGA, or the PLA's country, no provider of its
    region can be offered; nor when the file's list of authorized providers is malformed (the
    file and the field named; it used to be retried as if Partner Center were unavailable).
    Retrying cannot fix that: the lookup fails once, non-retryable, naming the source and the
    field; the transition still ends, the registry says why instead of staying at
    `transitioning`, customers stay, and operations are emailed."""
    pgas: dict[Callable[..., object], str] = {
        _forget_the_pga: "5600005",
        _forget_the_pla_location: "5600006",
        _forget_a_providers_country: "5600007",
    }
    pga = pgas[forget]
    pla = await _partner(stack, pga)
    stack.edit_partner_programs(forget(pga, pla))
    expected_field = field.format(pga=pga, pla=pla, provider=PROVIDER)
    source = (
        f"partner programs data file {stack.programs_file}"
        if forget is _forget_a_providers_country
        else "partner-programs source"
    )
    client = time_env.client
    async with stack.worker(client):
        handle = await _start(client, pga, pla)
        result = await handle.result()
        status = await _status(handle)
        history = await handle.fetch_history()

    lookups = [
        e
        for e in history.events
        if e.activity_task_scheduled_event_attributes.activity_type.name
        == "list_authorized_indirect_providers"
    ]
    assert len(lookups) == 1
    [failed] = [
        e.activity_task_failed_event_attributes
        for e in history.events
        if e.HasField("activity_task_failed_event_attributes")
    ]
    assert failed.failure.application_failure_info.non_retryable
    assert failed.failure.application_failure_info.type == "InvalidSourceData"
    started = [e for e in history.events if e.HasField("activity_task_started_event_attributes")]
    assert all(e.activity_task_started_event_attributes.attempt == 1 for e in started)

    assert result.provider_partner_id is None and result.partnership_outcome is None
    assert result.note is not None
    assert result.note.startswith(f"no indirect provider could be offered: {source}")
    assert f"field {expected_field!r} is missing" in result.note
    assert status.stage is TransitionStage.INDIRECT_RESELLER
    record = await stack.registry.get_direct_bill(pga, "JP")
    assert record is not None and record.status is DirectBillRegistryStatus.INDIRECT_RESELLER
    assert record.status_reason is not None
    assert f"field {expected_field!r} is missing" in record.status_reason
    assert "operations were told" in record.status_reason
    assert "customers and subscriptions stay in place" in record.status_reason
    assert await stack.registry.get_customer_relationship(pla, str(CUSTOMER)) is not None
    [ops] = [m for m in stack.sink.messages() if str(m["To"]) == "ops@csp.example"]
    assert subject_of(ops) == f"Transition of PGA {pga} (JP) has no indirect provider"
    assert expected_field in text_of(ops)
    assert not [
        m for m in stack.sink.messages() if "Choose your indirect provider" in subject_of(m)
    ]


async def test_an_unknown_business_time_zone_fails_the_run_at_once_and_changes_nothing(
    time_env: WorkflowEnvironment, stack: Stack
) -> None:
    """A transition started by hand (`temporal workflow start --input ...`) with a mistyped
    `business_time_zone`: the input is refused when it is decoded, so the run fails at once naming
    the field, before any step. It used to pass the decode, set the registry to `transitioning`
    and then fail its workflow task on every attempt when the cooldown needed the zone (RUNNING
    forever, no step left to retry)."""
    pga = "5600041"
    pla = await _partner(stack, pga)
    year = month_of(datetime.now(UTC)).year
    request = {
        "pga_id": pga,
        "region": "JP",
        "pla_id": pla,
        "reasons": ["DB-03 TTM revenue USD 999,999.99"],
        "business_time_zone": "Asia/Tokio",
        "year": year,
    }
    client = time_env.client
    async with stack.worker(client):
        handle = await client.start_workflow(
            names.TRANSITION_TO_INDIRECT,
            request,
            id=names.transition_id(pga, "JP", year),
            task_queue=names.TASK_QUEUE,
        )
        async with asyncio.timeout(30):  # a run stuck RUNNING never ends: fail, don't hang
            with pytest.raises(WorkflowFailureError) as failure:
                await handle.result()
    message = str(failure.value.cause)
    assert "business_time_zone" in message
    assert "'Asia/Tokio' is not an IANA time zone name" in message
    history = await handle.fetch_history()
    assert not [e for e in history.events if e.HasField("activity_task_scheduled_event_attributes")]
    record = await stack.registry.get_direct_bill(pga, "JP")
    assert record is not None and record.status is DirectBillRegistryStatus.ACTIVE
    assert stack.sink.messages() == []


async def test_the_transition_email_names_the_cooldowns_date_in_the_business_time_zone(
    time_env: WorkflowEnvironment, stack: Stack
) -> None:
    """RA-03 ("One year is a calendar year counted in dates: rejected on 2025-10-20, the partner
    may apply again from 2026-10-20 (any time that day)") with DB-07's business time zone: in
    Asia/Tokyo the cooldown starts at 00:00 JST, 15:00 UTC the day before; the transition email
    and the run's details name the Tokyo date, the date the refusal (CooldownActive) names."""
    pga = "5600011"
    pla = await _partner(stack, pga)
    client = time_env.client
    async with stack.worker(client):
        handle = await _start(client, pga, pla, business_time_zone="Asia/Tokyo")
        await handle.result()
        metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    cooldown = await stack.registry.get_cooldown(pga)
    assert cooldown is not None
    allowed_on = business_date(cooldown.until, "Asia/Tokyo")
    assert start_of_day(allowed_on, "Asia/Tokyo") == cooldown.until
    [notice] = [m for m in stack.sink.messages() if "transition to indirect" in subject_of(m)]
    said = f"A new direct-bill application is possible from {human_day(allowed_on, Locale.EN)}."
    assert said in text_of(notice)
    assert f"from {allowed_on.isoformat()} (any time that day, Asia/Tokyo)" in (
        metadata.current_details
    )
