"""A new CSP subscription order with its Partner of Record (DOMAIN.md POR-01..05, MPA-02, REL-02,
CUS-01, CUS-04, REG-01).

prechecks (the requester is an Admin or Sales agent; the provider has an accepted reseller
relationship with the customer, in its region) -> the customer's MCA attestation, waited for when
missing -> POR validation (date-gated by the `por_validation_from` setting) -> placing the order
in Partner Center (transient errors retried with backoff) -> placed.

An invalid POR blocks the order at stage `por_invalid` with an error naming every failed
condition; the pipeline waits (until a deadline) for `fix_partner_of_record`, re-validates and
retries, the same way after Partner Center itself refuses the POR (800015/800016/800039). Before
the date the order proceeds and the failed POR conditions are recorded as warnings. Terminal
outcomes: placed, failed (the workflow fails with the error type), withdrawn.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

from workflows import pipeline
from workflows.pipeline import PipelineEnded, StageTracker

with workflow.unsafe.imports_passed_through():
    from contract import names, pipelines
    from contract.activities.orders import (
        ORDER_FACTS,
        PARTNER_OF_RECORD_FACTS,
        PLACE_ORDER,
        SAVE_ORDER,
        OrderFacts,
        OrderFactsRequest,
        PlaceOrderRequest,
        PorFactsRequest,
    )
    from contract.activities.policies import LOAD_RELATIONSHIP_POLICY
    from contract.activities.relationships import SAVE_CUSTOMER_AGREEMENT
    from contract.errors import business_rejection
    from domain.calendar import show_instant
    from domain.errors import BusinessRuleViolation, McaNotAccepted, PorInvalid, WrongStage
    from domain.messages import Acknowledgement, Withdrawal
    from domain.notifications import EmailFacts, EmailKind
    from domain.partner_center import PlacedOrder
    from domain.por_rules import evaluate_partner_of_record, require_valid_partner_of_record
    from domain.relationship_rules import (
        require_can_set_partner_of_record,
        require_commerce_relationship,
        require_customer_agreement,
        require_same_region,
        require_valid_agreement_attestation,
    )
    from domain.relationships import (
        CustomerAgreementAttestation,
        CustomerAgreementRecord,
        OrderRecord,
        OrderResult,
        OrderStage,
        OrderStatus,
        PartnerOfRecordFix,
        PorFacts,
        PorVerdict,
        RelationshipPolicy,
        SubscriptionOrderRequest,
    )


_Result = TypeVar("_Result")

_ORDER_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
)
"""Partner Center's transient order answers (800060, 408, 429, 5xx): backoff until the retry
window."""


class _Blocked(Exception):
    """The order cannot go on until an operator fixes something (POR-03, CUS-04)."""

    def __init__(self, refusal: ApplicationError) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal


@workflow.defn(name=names.SUBSCRIPTION_ORDER)
class SubscriptionOrderWorkflow(pipeline.DecisionSignals):
    @pipeline.init_with_input
    def __init__(self, request: SubscriptionOrderRequest) -> None:
        self._req = request
        self._policy = RelationshipPolicy()
        self._lean = False
        """Reads run as local activities (pipeline.lean_lookups, decided once per run)."""
        self._stages = StageTracker(OrderStage.PRECHECKS, "pre-checks")
        self._region: str | None = None
        self._provider_country: str | None = None
        self._provider_name = request.provider_partner_id
        self._por = request.partner_of_record
        self._agreement: CustomerAgreementRecord | None = None
        self._verdict: PorVerdict | None = None
        self._validations = 0
        self._warnings: list[str] = []
        self._blocked_until: datetime | None = None
        self._blocks = 0
        self._fix: PartnerOfRecordFix | None = None
        self._attestation: CustomerAgreementAttestation | None = None
        self._withdrawal: Withdrawal | None = None
        self._placed: PlacedOrder | None = None
        self._ended: PipelineEnded | None = None
        self._registered = False  # a record of ours is in the registry

    # ---- the pipeline -------------------------------------------------------------------------

    @workflow.run
    async def run(self, request: SubscriptionOrderRequest) -> OrderResult:
        pipeline.require_business_id(pipelines.SUBSCRIPTION_ORDER.workflow_id_for(request))
        self._lean = pipeline.lean_lookups()
        pipeline.show_partner(request.provider_partner_id)
        self._policy = await pipeline.load_policy(LOAD_RELATIONSHIP_POLICY, local=self._lean)
        ended = await pipeline.run_pipeline(
            prechecks=self._prechecks,
            steps=self._steps,
            refused=OrderStage.FAILED,
            finish=self._finish,
            cancelled=OrderStage.CANCELLED,
            lean=self._lean,
        )
        if ended.outcome is OrderStage.FAILED:
            raise ApplicationError(ended.reason, type=ended.error_type, non_retryable=True)
        return self._result()

    async def _steps(self) -> PipelineEnded:
        await self._customer_agreement()
        while self._placed is None:
            self._raise_if_withdrawn()
            try:
                await self._validate_partner_of_record()
                self._raise_if_withdrawn()
                self._placed = await self._place()
            except _Blocked as blocked:
                await self._await_fix(blocked.refusal)
        return PipelineEnded(OrderStage.PLACED, f"Partner Center order {self._placed.order_id}")

    async def _prechecks(self) -> None:
        self._stages.enter(OrderStage.PRECHECKS, "pre-checks (role, customer relationship, region)")
        req = self._req
        pipeline.enforce(lambda: require_can_set_partner_of_record(req.requested_by))  # 003
        facts: OrderFacts = await pipeline.check(
            ORDER_FACTS,
            OrderFactsRequest(
                provider_partner_id=req.provider_partner_id,
                customer_tenant_id=str(req.customer_tenant_id),
            ),
            local=self._lean,
        )
        self._provider_name = facts.provider.partner_name
        self._provider_country = facts.provider.country
        relationship = pipeline.enforce(  # CUS-01
            lambda: require_commerce_relationship(
                provider_partner_id=req.provider_partner_id,
                customer_tenant_id=str(req.customer_tenant_id),
                relationships=facts.relationships,
            )
        )
        self._region = relationship.customer_country
        workflow.upsert_search_attributes([names.SA_REGION.value_set(self._region)])
        pipeline.enforce(  # REG-01
            lambda: require_same_region(
                rule="REG-01",
                first=f"customer {req.customer_tenant_id}",
                first_country=relationship.customer_country,
                second=f"provider {req.provider_partner_id}",
                second_country=facts.provider.country,
            )
        )
        self._agreement = facts.agreement
        await self._save()

    async def _customer_agreement(self) -> None:
        """CUS-04: attested before any order; a missing attestation blocks until it arrives."""
        try:
            require_customer_agreement(
                customer_tenant_id=str(self._req.customer_tenant_id),
                agreement=self._agreement,
                now=workflow.now(),
            )
            return
        except McaNotAccepted as missing:
            refusal = pipeline.refuse(missing)
        deadline = workflow.now() + self._policy.order_fix_window
        self._stages.enter(
            OrderStage.AWAITING_CUSTOMER_AGREEMENT,
            "the Microsoft Customer Agreement attestation (attest_customer_agreement)",
            deadline,
            note=refusal.message,
        )
        await self._save(reason=refusal.message, error_type=refusal.type)
        try:
            await workflow.wait_condition(
                lambda: self._attestation is not None or self._withdrawal is not None,
                timeout=deadline - workflow.now(),
                timeout_summary="Microsoft Customer Agreement attestation",
            )
        except TimeoutError:
            raise PipelineEnded(
                OrderStage.FAILED,
                f"{refusal.message}; none arrived by {show_instant(deadline)}",
                refusal.type,
            ) from None
        self._raise_if_withdrawn()
        attestation = self._attestation
        assert attestation is not None
        await pipeline.execute(
            SAVE_CUSTOMER_AGREEMENT,
            CustomerAgreementRecord(
                customer_tenant_id=str(self._req.customer_tenant_id),
                signer_name=attestation.signer_name,
                accepted_at=attestation.accepted_at,
                attested_by=attestation.attested_by,
                recorded_at=workflow.now(),
            ),
            start_to_close=pipeline.LOOKUP_TIMEOUT,
        )

    async def _validate_partner_of_record(self) -> None:
        """POR-01..05, MPA-02, REL-02 at this instant; raises `_Blocked` when the POR blocks."""
        self._stages.enter(OrderStage.POR_VALIDATION, "Partner of Record validation")
        req = self._req
        facts: PorFacts | None = None
        if self._por is not None:
            facts = await pipeline.check(
                PARTNER_OF_RECORD_FACTS,
                PorFactsRequest(
                    provider_partner_id=req.provider_partner_id, partner_of_record=self._por
                ),
                local=self._lean,
            )
        assert self._provider_country is not None and self._region is not None
        verdict = evaluate_partner_of_record(
            facts,
            provider_partner_id=req.provider_partner_id,
            provider_country=self._provider_country,
            purchase_country=self._region,
            now=workflow.now(),
            enforced_from=self._policy.por_validation_from,
        )
        self._verdict = verdict
        self._validations += 1
        try:
            require_valid_partner_of_record(verdict, order_ref=req.order_ref)
        except BusinessRuleViolation as violation:
            raise _Blocked(pipeline.refuse(violation)) from violation
        for warning in verdict.warnings:
            if warning not in self._warnings:
                workflow.logger.warning("order %s proceeds with: %s", req.order_ref, warning)
                self._warnings.append(warning)

    async def _place(self) -> PlacedOrder:
        req = self._req
        self._stages.enter(OrderStage.PLACING, "Partner Center to accept the order")
        await self._save()
        try:
            return await pipeline.execute(
                PLACE_ORDER,
                PlaceOrderRequest(
                    idempotency_key=pipeline.step_key(f"place-order-{self._blocks}"),
                    provider_partner_id=req.provider_partner_id,
                    customer_tenant_id=req.customer_tenant_id,
                    partner_of_record=self._por,
                    line_items=req.line_items,
                ),
                schedule_to_close=self._policy.order_retry_window,
                retry=_ORDER_RETRY,
            )
        except ActivityError as err:
            rejection = business_rejection(err)
            if rejection is None:
                raise PipelineEnded(
                    OrderStage.FAILED,
                    "Partner Center did not accept the order within "
                    f"{self._policy.order_retry_window} of retries: {err.cause or err}",
                    "PartnerCenterUnavailable",
                ) from err
            if rejection.type == PorInvalid.error_type:
                raise _Blocked(rejection) from err
            raise PipelineEnded(OrderStage.FAILED, rejection.message, rejection.type) from err

    async def _await_fix(self, refusal: ApplicationError) -> None:
        """POR-03: blocked until a valid POR is set; the deadline is fixed at the first block."""
        self._blocks += 1
        if self._blocked_until is None:
            self._blocked_until = workflow.now() + self._policy.order_fix_window
        deadline = self._blocked_until
        self._stages.enter(
            OrderStage.POR_INVALID,
            f"a valid Partner of Record (fix_partner_of_record): {refusal.message}",
            deadline,
            note=refusal.message,
        )
        await self._save(reason=refusal.message, error_type=refusal.type)
        await pipeline.send_email(
            EmailFacts(
                kind=EmailKind.ORDER_BLOCKED,
                to=self._policy.operations_email,
                partner_id=self._req.provider_partner_id,
                recipient_name="CSP operations",
                legal_name=self._provider_name,
                reason=f"{refusal.message} (error type {refusal.type}; send "
                f"{names.UPDATE_FIX_PARTNER_OF_RECORD} to workflow "
                f"{workflow.info().workflow_id})",
                deadline=deadline,
            ),
            f"blocked-{self._blocks}",
        )
        remaining = deadline - workflow.now()
        try:
            if remaining <= timedelta(0):
                raise TimeoutError
            await workflow.wait_condition(
                lambda: self._fix is not None or self._withdrawal is not None,
                timeout=remaining,
                timeout_summary="Partner of Record fix",
            )
        except TimeoutError:
            raise PipelineEnded(
                OrderStage.FAILED,
                f"{refusal.message}; no valid Partner of Record was set by "
                f"{show_instant(deadline)}",
                refusal.type,
            ) from None
        self._raise_if_withdrawn()
        fix = self._fix
        assert fix is not None
        self._por = fix.partner_of_record
        self._fix = None
        workflow.upsert_search_attributes([names.SA_NEXT_DEADLINE.value_unset()])

    # ---- helpers ------------------------------------------------------------------------------

    def _raise_if_withdrawn(self) -> None:
        if self._withdrawal is not None:
            raise pipeline.withdrawn(OrderStage.WITHDRAWN, self._withdrawal)

    async def _save(self, *, reason: str | None = None, error_type: str | None = None) -> None:
        req = self._req
        await pipeline.execute(
            SAVE_ORDER,
            OrderRecord(
                provider_partner_id=req.provider_partner_id,
                order_ref=req.order_ref,
                customer_tenant_id=str(req.customer_tenant_id),
                partner_of_record=self._por,
                status=self._stages.stage,
                por_enforced=self._verdict.enforced if self._verdict else None,
                warnings=tuple(self._warnings),
                status_reason=reason,
                error_type=error_type,
                partner_center_order_id=self._placed.order_id if self._placed else None,
                workflow_id=workflow.info().workflow_id,
                updated_at=workflow.now(),
            ),
            start_to_close=pipeline.LOOKUP_TIMEOUT,
        )
        self._registered = True

    async def _finish(self, ended: PipelineEnded) -> None:
        self._ended = ended
        self._stages.end(OrderStage(ended.outcome), note=ended.reason)
        if ended.outcome is OrderStage.CANCELLED and not self._registered:
            return  # cancelled in pre-checks: nothing recorded
        await self._save(reason=ended.reason, error_type=ended.error_type)

    def _result(self) -> OrderResult:
        ended = self._ended
        assert ended is not None
        return OrderResult(
            provider_partner_id=self._req.provider_partner_id,
            order_ref=self._req.order_ref,
            outcome=OrderStage(ended.outcome),
            partner_of_record=self._por,
            partner_center_order_id=self._placed.order_id if self._placed else None,
            warnings=tuple(self._warnings),
            reason=ended.reason,
            error_type=ended.error_type,
        )

    def _refuse_stage(self, wanted: str) -> ApplicationError:
        return pipeline.refuse(
            WrongStage(
                f"order {self._req.order_ref} is at stage {self._stages.stage.value}, not {wanted}",
                stage=self._stages.stage.value,
            )
        )

    # ---- updates and query --------------------------------------------------------------------

    @workflow.update(name=names.UPDATE_FIX_PARTNER_OF_RECORD)
    async def fix_partner_of_record(self, fix: PartnerOfRecordFix) -> Acknowledgement:
        """Sets the POR and answers once it is re-validated: accepted when valid, otherwise the
        update fails with the error naming every failed condition (and the order stays blocked)."""
        seen = self._validations
        self._fix = fix
        await workflow.wait_condition(
            lambda: self._validations > seen or self._stages.stage.is_terminal
        )
        verdict = self._verdict
        if self._stages.stage.is_terminal or verdict is None:
            raise self._refuse_stage("blocked by its Partner of Record")
        pipeline.enforce(require_valid_partner_of_record, verdict, order_ref=self._req.order_ref)
        return Acknowledgement(
            stage=self._stages.stage.value,
            message=f"Partner of Record {fix.partner_of_record} is valid; the order goes on",
        )

    @fix_partner_of_record.validator
    def _validate_fix(self, fix: PartnerOfRecordFix) -> None:
        if self._stages.stage is not OrderStage.POR_INVALID or self._fix is not None:
            raise self._refuse_stage("blocked by its Partner of Record (por_invalid)")
        pipeline.enforce(lambda: require_can_set_partner_of_record(fix.fixed_by))

    @workflow.update(name=names.UPDATE_ATTEST_CUSTOMER_AGREEMENT)
    def attest_customer_agreement(
        self, attestation: CustomerAgreementAttestation
    ) -> Acknowledgement:
        self._attestation = attestation
        return Acknowledgement(
            stage=self._stages.stage.value,
            message="Microsoft Customer Agreement attestation recorded",
        )

    @attest_customer_agreement.validator
    def _validate_attestation(self, attestation: CustomerAgreementAttestation) -> None:
        if (
            self._stages.stage is not OrderStage.AWAITING_CUSTOMER_AGREEMENT
            or self._attestation is not None
        ):
            raise self._refuse_stage("awaiting the Microsoft Customer Agreement attestation")
        pipeline.enforce(require_valid_agreement_attestation, attestation, now=workflow.now())

    @workflow.update(name=names.UPDATE_WITHDRAW)
    def withdraw(self, withdrawal: Withdrawal) -> Acknowledgement:
        self._withdrawal = withdrawal
        return Acknowledgement(stage=self._stages.stage.value, message="order withdrawn")

    @withdraw.validator
    def _validate_withdraw(self, withdrawal: Withdrawal) -> None:
        if (
            self._stages.stage in (OrderStage.PLACING, OrderStage.PRECHECKS)
            or self._stages.stage.is_terminal
            or self._withdrawal is not None
        ):
            raise self._refuse_stage("waiting (an order being placed cannot be withdrawn)")

    @workflow.query(name=names.QUERY_STATUS)
    def status(self) -> OrderStatus:
        req = self._req
        return OrderStatus(
            workflow_id=workflow.info().workflow_id,
            provider_partner_id=req.provider_partner_id,
            order_ref=req.order_ref,
            customer_tenant_id=str(req.customer_tenant_id),
            partner_of_record=self._por,
            region=self._region,
            stage=self._stages.stage,
            waiting_for=self._stages.waiting_for,
            deadline=self._stages.deadline,
            verdict=self._verdict,
            warnings=tuple(self._warnings),
            partner_center_order_id=self._placed.order_id if self._placed else None,
            outcome_reason=self._ended.reason if self._ended else None,
            error_type=self._ended.error_type if self._ended else None,
            history=tuple(self._stages.history),
            signal_refusals=self.signal_refusals(),
        )
