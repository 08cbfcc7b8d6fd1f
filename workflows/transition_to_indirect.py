"""Transition of a direct-bill partner back to the indirect-reseller model (RA-02..RA-04).

The registry moves through `transitioning` to `indirect_reseller`, the one-year cooldown is
recorded with its earliest re-application date (the direct-bill gate then refuses before it), and
the partner is told which requirements failed. RA-04 makes it a real move: the partner chooses an
authorized indirect provider in its CSP region (`choose_indirect_provider`, checked by its
validator) by a deadline, and the Partnership pipeline runs as this workflow's child under its
business-key id; the transition ends once the partnership is active, or records (and tells
operations) that no provider was chosen or the partnership did not become active. Customers and
subscriptions stay in place. Every step is idempotent, so a retry or a replay repeats nothing.
"""

from __future__ import annotations

import contextlib
from datetime import datetime

from temporalio import workflow
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    ChildWorkflowError,
    WorkflowAlreadyStartedError,
)
from temporalio.workflow import ParentClosePolicy

from workflows import pipeline
from workflows.pipeline import StageTracker

with workflow.unsafe.imports_passed_through():
    from contract import names, pipelines
    from contract.activities.direct_bill import (
        LIST_AUTHORIZED_INDIRECT_PROVIDERS,
        START_DIRECT_BILL_COOLDOWN,
        ProviderOptionsRequest,
    )
    from contract.activities.policies import LOAD_REASSESSMENT_POLICY
    from contract.activities.reassessment import (
        CHANGE_DIRECT_BILL_STATUS,
        GET_DIRECT_BILL_RECORD,
        RecordLookup,
        StatusChange,
    )
    from contract.activities.relationships import GET_PARTNERSHIP, PartnershipParties
    from domain import direct_bill_rules, regions
    from domain.calendar import business_date, show_instant
    from domain.direct_bill import Cooldown, DirectBillRecord, DirectBillRegistryStatus
    from domain.errors import BusinessRuleViolation, InvalidSourceData
    from domain.messages import Acknowledgement
    from domain.notifications import EmailFacts, EmailKind
    from domain.reassessment import (
        ReassessmentPolicy,
        TransitionRequest,
        TransitionResult,
    )
    from domain.relationships import PartnershipRequest, PartnershipResult, PartnershipStage
    from domain.transition import (
        CUSTOMERS_STAY,
        ProviderChoice,
        ProviderOptions,
        TransitionStage,
        TransitionStatus,
        require_authorized_provider_in_region,
    )


MOVE_PATCH = "ra-04-transition-moves-to-a-provider"
"""RA-04: after the cooldown the partner chooses a provider and the partnership runs as a child.
Histories recorded before it went straight to `indirect_reseller` and replay that way."""


UNKNOWN_PARTNER_PATCH = "ra-04-unknown-partner-ends-the-transition"
"""A PGA or PLA location the partner-programs source does not know: the transition records a
final status and tells operations instead of failing at `transitioning`. Histories recorded
before it failed there and replay that way."""


@workflow.defn(name=names.TRANSITION_TO_INDIRECT)
class TransitionToIndirectResellerWorkflow:
    @workflow.init
    def __init__(self, request: TransitionRequest) -> None:
        self._request = request
        self._stages = StageTracker(TransitionStage.TRANSITIONING, "the transition steps")
        self._options: ProviderOptions | None = None
        self._choice: ProviderChoice | None = None
        self._partnership_id: str | None = None

    @workflow.run
    async def run(self, request: TransitionRequest) -> TransitionResult:
        if request.year is None:  # an input recorded before it named its year
            pipeline.require_business_id(
                names.transition_id_stem(request.pga_id, request.region),
                suffix=pipeline.year_suffix,
            )
        else:
            pipeline.require_business_id(pipelines.TRANSITION.workflow_id_for(request))
        workflow.upsert_search_attributes(
            [
                names.SA_PARTNER_ID.value_set(request.pga_id),
                names.SA_REGION.value_set(request.region),
                names.SA_STAGE.value_set("transitioning"),
            ]
        )
        reasons = "; ".join(request.reasons)
        workflow.set_current_details(f"**transitioning** to indirect reseller: {reasons}")
        record = await pipeline.execute(
            GET_DIRECT_BILL_RECORD, RecordLookup(pga_id=request.pga_id, region=request.region)
        )
        await self._status(request, DirectBillRegistryStatus.TRANSITIONING, reasons)
        now = workflow.now()
        cooldown = await pipeline.execute(
            START_DIRECT_BILL_COOLDOWN,
            Cooldown(
                pga_id=request.pga_id,
                until=direct_bill_rules.cooldown_end(now, request.business_time_zone),
                reason=f"transition to indirect reseller in {request.region}: {reasons}",
                started_at=now,
            ),
        )
        await pipeline.send_email(
            EmailFacts(
                kind=EmailKind.RA_TRANSITION,
                to=record.contact_email or "csp-operations@example.com",
                partner_id=request.pga_id,
                recipient_name=record.contact_name or "partner",
                legal_name=record.legal_name or f"PGA {request.pga_id}",
                reason="\n".join(f"- {r}" for r in request.reasons),
                allowed_from=business_date(cooldown.until, request.business_time_zone),
                region=request.region,
            ),
            "transition",
        )
        provider: str | None = None
        partnership: str | None = None
        note: str | None = None
        if workflow.patched(MOVE_PATCH):
            provider, partnership, note = await self._move(record)
            self._stages.enter(TransitionStage.INDIRECT_RESELLER, None, note=note)
        status_reason = f"{reasons}; {note}" if note else reasons
        await self._status(request, DirectBillRegistryStatus.INDIRECT_RESELLER, status_reason)
        workflow.upsert_search_attributes(
            [
                names.SA_STAGE.value_set("indirect_reseller"),
                names.SA_OUTCOME.value_set("transitioned"),
            ]
        )
        allowed_on = business_date(cooldown.until, request.business_time_zone)
        workflow.set_current_details(
            f"**indirect_reseller**: may apply for direct bill again from "
            f"{allowed_on.isoformat()} (any time that day, {request.business_time_zone})"
        )
        return TransitionResult(
            pga_id=request.pga_id,
            region=request.region,
            cooldown_until=cooldown.until,
            provider_partner_id=provider,
            partnership_outcome=partnership,
            note=note,
        )

    # ---- RA-04: the move to an indirect provider ----------------------------------------------

    async def _move(self, record: DirectBillRecord) -> tuple[str | None, str | None, str]:
        """The provider chosen (None: none by the deadline), the partnership's stage at the end,
        and the note the registry keeps."""
        request = self._request
        policy: ReassessmentPolicy = await pipeline.load_policy(LOAD_REASSESSMENT_POLICY)
        try:
            options = self._options = await pipeline.execute(
                LIST_AUTHORIZED_INDIRECT_PROVIDERS,
                ProviderOptionsRequest(pga_id=request.pga_id, pla_id=request.pla_id),
                start_to_close=pipeline.LOOKUP_TIMEOUT,
            )
        except ActivityError as err:
            unknown = _unknown_to_the_source(err)
            if unknown is None or not workflow.patched(UNKNOWN_PARTNER_PATCH):
                raise
            problem = f"no indirect provider could be offered: {unknown}"
            await self._tell_operations(record, policy, f"{problem}; {CUSTOMERS_STAY}")
            return None, None, f"{problem}; operations were told; {CUSTOMERS_STAY}"
        deadline = workflow.now() + policy.provider_choice_period
        self._stages.enter(
            TransitionStage.AWAITING_PROVIDER_CHOICE,
            "the partner to choose an authorized indirect provider in its CSP region "
            f"({names.UPDATE_CHOOSE_INDIRECT_PROVIDER})",
            deadline,
        )
        await self._email(
            EmailKind.RA_CHOOSE_PROVIDER,
            "choose-provider",
            record,
            reason=_offer(options),
            deadline=deadline,
        )
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(
                lambda: self._choice is not None,
                timeout=deadline - workflow.now(),
                timeout_summary="RA-04: the partner's choice of indirect provider",
            )
        choice = self._choice
        if choice is None:
            note = f"no indirect provider was chosen by {show_instant(deadline)}; {CUSTOMERS_STAY}"
            await self._tell_operations(record, policy, note)
            return None, None, note
        outcome = await self._partnership(record, policy, choice)
        provider = choice.provider_partner_id
        if outcome == PartnershipStage.ACTIVE.value:
            return provider, outcome, f"moved to indirect provider {provider}; {CUSTOMERS_STAY}"
        note = (
            f"the partnership with indirect provider {provider} did not become active "
            f"({outcome}); {CUSTOMERS_STAY}"
        )
        await self._tell_operations(record, policy, note)
        return provider, outcome, note

    async def _partnership(
        self, record: DirectBillRecord, policy: ReassessmentPolicy, choice: ProviderChoice
    ) -> str:
        """Start the Partnership pipeline as a child (it outlives this workflow) and wait, reading
        its registry record, until it is active, it ends, or `partnership_wait` runs out."""
        request = self._request
        provider = choice.provider_partner_id
        child_id = self._partnership_id = names.partnership_id(provider, request.pla_id)
        deadline = workflow.now() + policy.partnership_wait
        self._stages.enter(
            TransitionStage.AWAITING_PARTNERSHIP,
            f"the partnership with indirect provider {provider} to become active",
            deadline,
        )
        child: workflow.ChildWorkflowHandle[object, PartnershipResult] | None = None
        # A partnership pipeline already running under that id: its record tells how it stands.
        with contextlib.suppress(WorkflowAlreadyStartedError):
            child = await workflow.start_child_workflow(
                names.PARTNERSHIP,
                PartnershipRequest(
                    provider_partner_id=provider,
                    provider_tenant_id=choice.provider_tenant_id,
                    reseller_partner_id=request.pla_id,
                    requested_by=choice.requested_by,
                    reseller_email=record.contact_email or policy.operations_email,
                    reseller_contact_name=record.contact_name or "partner",
                    invitation_link=choice.invitation_link,
                ),
                id=child_id,
                result_type=PartnershipResult,
                parent_close_policy=ParentClosePolicy.ABANDON,
            )
        parties = PartnershipParties(
            provider_partner_id=provider, reseller_partner_id=request.pla_id
        )
        while True:
            found = await pipeline.execute(
                GET_PARTNERSHIP, parties, start_to_close=pipeline.LOOKUP_TIMEOUT
            )
            if found.record is not None and found.record.status is PartnershipStage.ACTIVE:
                return PartnershipStage.ACTIVE.value
            if child is not None and child.done():
                return _ended(child)
            now = workflow.now()
            if now >= deadline:
                return f"not active by {show_instant(deadline)}"
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: child is not None and child.done(),
                    timeout=min(policy.partnership_check_interval, deadline - now),
                    timeout_summary="RA-04: the partnership with the chosen provider",
                )

    async def _tell_operations(
        self, record: DirectBillRecord, policy: ReassessmentPolicy, note: str
    ) -> None:
        await self._email(
            EmailKind.RA_NO_PROVIDER,
            "no-provider",
            record,
            reason=note,
            to=policy.operations_email,
            recipient_name="CSP operations",
        )

    async def _email(
        self,
        kind: EmailKind,
        step: str,
        record: DirectBillRecord,
        *,
        reason: str,
        deadline: datetime | None = None,
        to: str | None = None,
        recipient_name: str | None = None,
    ) -> None:
        request = self._request
        await pipeline.send_email(
            EmailFacts(
                kind=kind,
                to=to or record.contact_email or "csp-operations@example.com",
                partner_id=request.pga_id,
                recipient_name=recipient_name or record.contact_name or "partner",
                legal_name=record.legal_name or f"PGA {request.pga_id}",
                reason=reason,
                deadline=deadline,
                region=request.region,
            ),
            step,
        )

    # ---- update and query ---------------------------------------------------------------------

    @workflow.update(name=names.UPDATE_CHOOSE_INDIRECT_PROVIDER)
    def choose_indirect_provider(self, choice: ProviderChoice) -> Acknowledgement:
        self._choice = choice
        return Acknowledgement(
            stage=self._stages.stage.value,
            message=f"Indirect provider {choice.provider_partner_id} was chosen by "
            f"{choice.chosen_by}; its partnership request to PartnerID {self._request.pla_id} "
            "starts now.",
        )

    @choose_indirect_provider.validator
    def _validate_choice(self, choice: ProviderChoice) -> None:
        stage = self._stages.stage
        if stage is not TransitionStage.AWAITING_PROVIDER_CHOICE or self._choice is not None:
            raise pipeline.wrong_stage(
                f"the transition is at {stage.value}, not awaiting the choice of an indirect "
                "provider",
                stage.value,
            )
        assert self._options is not None
        try:
            require_authorized_provider_in_region(
                choice.provider_partner_id, self._request.pla_id, self._options
            )
        except BusinessRuleViolation as violation:
            raise pipeline.refuse(violation) from violation

    @workflow.query(name=names.QUERY_STATUS)
    def status(self) -> TransitionStatus:
        request = self._request
        options = self._options
        return TransitionStatus(
            pga_id=request.pga_id,
            region=request.region,
            pla_id=request.pla_id,
            stage=self._stages.stage,
            waiting_for=self._stages.waiting_for,
            deadline=self._stages.deadline,
            reseller_country=options.reseller_country if options else None,
            providers_offered=options.providers if options else (),
            provider_partner_id=self._choice.provider_partner_id if self._choice else None,
            partnership_workflow_id=self._partnership_id,
            history=tuple(self._stages.history),
        )

    async def _status(
        self, request: TransitionRequest, status: DirectBillRegistryStatus, reason: str
    ) -> None:
        await pipeline.execute(
            CHANGE_DIRECT_BILL_STATUS,
            StatusChange(
                pga_id=request.pga_id,
                region=request.region,
                status=status,
                reason=reason,
                updated_at=workflow.now(),
            ),
        )


def _offer(options: ProviderOptions) -> str:
    """The authorized providers in the partner's CSP region, one a line, for its email."""
    country = options.reseller_country
    if country is None or not regions.is_csp_market(country):
        return "- (the location of your PLA is not on record: please contact us)"
    region = regions.region_of(country)
    lines = [
        f"- {p.name} (PartnerID {p.partner_id}, {p.country})"
        for p in options.providers
        if regions.is_csp_market(p.country) and regions.region_of(p.country) == region
    ]
    return "\n".join(lines) or f"- (no authorized indirect provider in {region.name} is on record)"


def _unknown_to_the_source(err: ActivityError) -> str | None:
    """The message of the provider lookup's non-retryable InvalidSourceData (it names the source
    and the field), if that is why it failed."""
    cause = err.cause
    if (
        isinstance(cause, ApplicationError)
        and cause.non_retryable
        and cause.type == InvalidSourceData.error_type
    ):
        return cause.message
    return None


def _ended(child: workflow.ChildWorkflowHandle[object, PartnershipResult]) -> str:
    """How a partnership pipeline that ended before becoming active ended."""
    try:
        return child.result().outcome.value
    except ChildWorkflowError as err:
        cause = err.cause
        return f"refused: {cause}" if cause is not None else f"failed: {err}"
