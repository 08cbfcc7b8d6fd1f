"""Name an indirect reseller on an existing subscription (DOMAIN.md REL-06; issue 14).

prechecks (an Admin or Sales agent; the provider's accepted relationship with the customer,
CUS-01; the customer in the provider's region, REG-01) -> POR validation of the chosen or entered
PartnerID, the same rules as for a new order (POR-01..05, MPA-02, REL-02, date-gated by
`por_validation_from`; an entered PartnerID Partner Center has no profile for fails POR-02c) ->
updating the subscription's partner of record in Partner Center -> updated.

An invalid POR blocks at `por_invalid` (until a deadline) for `fix_partner_of_record`, re-validated
like an order's, and so does Partner Center's refusal of the POR (800098, 2072, 800015, 800016,
800039, 900123). A subscription Partner Center cannot change (20003, 2011, 800091) fails the
pipeline. Terminal outcomes: updated, failed, refused, withdrawn.
"""

from __future__ import annotations

from datetime import datetime, timedelta

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
        OrderFacts,
        OrderFactsRequest,
        PorFactsRequest,
    )
    from contract.activities.policies import LOAD_RELATIONSHIP_POLICY
    from contract.activities.provider_operations import (
        SAVE_SUBSCRIPTION_RESELLER,
        UPDATE_SUBSCRIPTION_PARTNER_OF_RECORD,
        PartnerOfRecordChange,
    )
    from contract.errors import business_rejection
    from domain.errors import BusinessRuleViolation, PorInvalid, WrongStage
    from domain.messages import Acknowledgement, Withdrawal
    from domain.partner_center import SubscriptionPartnerOfRecord
    from domain.por_rules import evaluate_partner_of_record, require_valid_partner_of_record
    from domain.provider_operations import (
        SubscriptionResellerRecord,
        SubscriptionResellerRequest,
        SubscriptionResellerResult,
        SubscriptionResellerStage,
        SubscriptionResellerStatus,
    )
    from domain.relationship_rules import (
        require_can_set_partner_of_record,
        require_commerce_relationship,
        require_same_region,
    )
    from domain.relationships import PartnerOfRecordFix, PorVerdict, RelationshipPolicy

_UPDATE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
)
"""Partner Center's transient answers (2055, 800082, 900278, 408, 429, 5xx) until the retry
window."""

_SUBJECT = "subscription"


class _Blocked(Exception):
    def __init__(self, refusal: ApplicationError) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal


@workflow.defn(name=names.SUBSCRIPTION_RESELLER)
class SubscriptionResellerWorkflow:
    @pipeline.init_with_input
    def __init__(self, request: SubscriptionResellerRequest) -> None:
        self._req = request
        self._policy = RelationshipPolicy()
        self._lean = False
        """Reads run as local activities (pipeline.lean_lookups, decided once per run)."""
        self._stages = StageTracker(SubscriptionResellerStage.PRECHECKS, "pre-checks")
        self._region: str | None = None
        self._provider_country: str | None = None
        self._por = request.partner_of_record
        self._verdict: PorVerdict | None = None
        self._validations = 0
        self._warnings: list[str] = []
        self._blocked_until: datetime | None = None
        self._blocks = 0
        self._fix: PartnerOfRecordFix | None = None
        self._withdrawal: Withdrawal | None = None
        self._updated: SubscriptionPartnerOfRecord | None = None
        self._ended: PipelineEnded | None = None

    @workflow.run
    async def run(self, request: SubscriptionResellerRequest) -> SubscriptionResellerResult:
        pipeline.require_business_id(pipelines.SUBSCRIPTION_RESELLER.workflow_id_for(request))
        self._lean = pipeline.lean_lookups()
        pipeline.show_partner(request.provider_partner_id)
        self._policy = await pipeline.load_policy(LOAD_RELATIONSHIP_POLICY, local=self._lean)
        ended = await pipeline.run_pipeline(
            prechecks=self._prechecks,
            steps=self._steps,
            refused=SubscriptionResellerStage.REFUSED,
            finish=self._finish,
        )
        if ended.outcome is SubscriptionResellerStage.FAILED:
            raise ApplicationError(ended.reason, type=ended.error_type, non_retryable=True)
        return self._result()

    async def _prechecks(self) -> None:
        self._stages.enter(
            SubscriptionResellerStage.PRECHECKS, "pre-checks (role, customer relationship, region)"
        )
        req = self._req
        customer = str(req.customer_tenant_id)
        pipeline.enforce(lambda: require_can_set_partner_of_record(req.requested_by))  # 003
        facts: OrderFacts = await pipeline.check(
            ORDER_FACTS,
            OrderFactsRequest(
                provider_partner_id=req.provider_partner_id, customer_tenant_id=customer
            ),
            local=self._lean,
        )
        self._provider_country = facts.provider.country
        relationship = pipeline.enforce(  # CUS-01
            lambda: require_commerce_relationship(
                provider_partner_id=req.provider_partner_id,
                customer_tenant_id=customer,
                relationships=facts.relationships,
            )
        )
        self._region = relationship.customer_country
        workflow.upsert_search_attributes([names.SA_REGION.value_set(self._region)])
        pipeline.enforce(  # REG-01
            lambda: require_same_region(
                rule="REG-01",
                first=f"customer {customer}",
                first_country=relationship.customer_country,
                second=f"provider {req.provider_partner_id}",
                second_country=facts.provider.country,
            )
        )

    async def _steps(self) -> PipelineEnded:
        while self._updated is None:
            self._raise_if_withdrawn()
            try:
                await self._validate()
                self._raise_if_withdrawn()
                self._updated = await self._update()
            except _Blocked as blocked:
                await self._await_fix(blocked.refusal)
        pending = (
            "; Partner Center is still applying it (202 Accepted)" if self._updated.pending else ""
        )
        return PipelineEnded(
            SubscriptionResellerStage.UPDATED,
            f"subscription {self._req.subscription_id} names reseller {self._por} as its "
            f"partner of record{pending}",
        )

    async def _validate(self) -> None:
        """POR-01..05, MPA-02, REL-02 for the chosen PartnerID, exactly as for a new order."""
        self._stages.enter(SubscriptionResellerStage.POR_VALIDATION, "Partner of Record validation")
        req = self._req
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
            require_valid_partner_of_record(
                verdict, order_ref=req.subscription_id, subject_kind=_SUBJECT
            )
        except BusinessRuleViolation as violation:
            raise _Blocked(pipeline.refuse(violation)) from violation
        for warning in verdict.warnings:
            if warning not in self._warnings:
                self._warnings.append(warning)

    async def _update(self) -> SubscriptionPartnerOfRecord:
        req = self._req
        self._stages.enter(
            SubscriptionResellerStage.UPDATING, "Partner Center to update the partner of record"
        )
        await self._save()
        try:
            return await pipeline.execute(
                UPDATE_SUBSCRIPTION_PARTNER_OF_RECORD,
                PartnerOfRecordChange(
                    idempotency_key=pipeline.step_key(f"update-por-{self._blocks}"),
                    customer_tenant_id=req.customer_tenant_id,
                    subscription_id=req.subscription_id,
                    partner_of_record=self._por,
                ),
                schedule_to_close=self._policy.order_retry_window,
                retry=_UPDATE_RETRY,
            )
        except ActivityError as err:
            rejection = business_rejection(err)
            if rejection is None:
                raise PipelineEnded(
                    SubscriptionResellerStage.FAILED,
                    "Partner Center did not update the subscription within "
                    f"{self._policy.order_retry_window} of retries: {err.cause or err}",
                    "PartnerCenterUnavailable",
                ) from err
            if rejection.type == PorInvalid.error_type:
                raise _Blocked(rejection) from err
            raise PipelineEnded(
                SubscriptionResellerStage.FAILED, rejection.message, rejection.type
            ) from err

    async def _await_fix(self, refusal: ApplicationError) -> None:
        """POR-03: blocked until a valid POR is named; the deadline is fixed at the first block."""
        self._blocks += 1
        if self._blocked_until is None:
            self._blocked_until = workflow.now() + self._policy.order_fix_window
        deadline = self._blocked_until
        self._stages.enter(
            SubscriptionResellerStage.POR_INVALID,
            f"a valid Partner of Record (fix_partner_of_record): {refusal.message}",
            deadline,
            note=refusal.message,
        )
        await self._save(reason=refusal.message, error_type=refusal.type)
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
                SubscriptionResellerStage.FAILED,
                f"{refusal.message}; no valid Partner of Record was named by "
                f"{deadline.isoformat()}",
                refusal.type,
            ) from None
        self._raise_if_withdrawn()
        fix = self._fix
        assert fix is not None
        self._por = fix.partner_of_record
        self._fix = None

    def _raise_if_withdrawn(self) -> None:
        if self._withdrawal is not None:
            raise pipeline.withdrawn(SubscriptionResellerStage.WITHDRAWN, self._withdrawal)

    async def _save(self, *, reason: str | None = None, error_type: str | None = None) -> None:
        req = self._req
        await pipeline.execute(
            SAVE_SUBSCRIPTION_RESELLER,
            SubscriptionResellerRecord(
                customer_tenant_id=str(req.customer_tenant_id),
                subscription_id=req.subscription_id,
                provider_partner_id=req.provider_partner_id,
                partner_of_record=self._por,
                status=self._stages.stage,
                status_reason=reason,
                error_type=error_type,
                pending_in_partner_center=self._updated.pending if self._updated else False,
                workflow_id=workflow.info().workflow_id,
                updated_at=workflow.now(),
            ),
            start_to_close=pipeline.LOOKUP_TIMEOUT,
        )

    async def _finish(self, ended: PipelineEnded) -> None:
        self._ended = ended
        self._stages.end(SubscriptionResellerStage(ended.outcome), ended.reason)
        await self._save(reason=ended.reason, error_type=ended.error_type)

    def _result(self) -> SubscriptionResellerResult:
        ended = self._ended
        return SubscriptionResellerResult(
            provider_partner_id=self._req.provider_partner_id,
            subscription_id=self._req.subscription_id,
            outcome=self._stages.stage,
            partner_of_record=self._por,
            warnings=tuple(self._warnings),
            pending_in_partner_center=self._updated.pending if self._updated else False,
            reason=ended.reason if ended else None,
            error_type=ended.error_type if ended else None,
        )

    def _refuse_stage(self, wanted: str) -> ApplicationError:
        return pipeline.refuse(
            WrongStage(
                f"subscription {self._req.subscription_id} is at stage "
                f"{self._stages.stage.value}, not {wanted}",
                stage=self._stages.stage.value,
            )
        )

    # ---- updates and query --------------------------------------------------------------------

    @workflow.update(name=names.UPDATE_FIX_PARTNER_OF_RECORD)
    async def fix_partner_of_record(self, fix: PartnerOfRecordFix) -> Acknowledgement:
        """Names the POR and answers once it is re-validated: accepted when valid, otherwise the
        update fails with the error naming every failed condition (and it stays blocked)."""
        seen = self._validations
        self._fix = fix
        await workflow.wait_condition(
            lambda: self._validations > seen or self._stages.stage.is_terminal
        )
        verdict = self._verdict
        if self._stages.stage.is_terminal or verdict is None:
            raise self._refuse_stage("blocked by its Partner of Record")
        try:
            require_valid_partner_of_record(
                verdict, order_ref=self._req.subscription_id, subject_kind=_SUBJECT
            )
        except BusinessRuleViolation as violation:
            raise pipeline.refuse(violation) from violation
        return Acknowledgement(
            stage=self._stages.stage.value,
            message=f"Partner of Record {fix.partner_of_record} is valid; the update goes on",
        )

    @fix_partner_of_record.validator
    def _validate_fix(self, fix: PartnerOfRecordFix) -> None:
        if self._stages.stage is not SubscriptionResellerStage.POR_INVALID or self._fix is not None:
            raise self._refuse_stage("blocked by its Partner of Record (por_invalid)")
        pipeline.enforce(lambda: require_can_set_partner_of_record(fix.fixed_by))

    @workflow.update(name=names.UPDATE_WITHDRAW)
    def withdraw(self, withdrawal: Withdrawal) -> Acknowledgement:
        self._withdrawal = withdrawal
        return Acknowledgement(stage=self._stages.stage.value, message="change withdrawn")

    @withdraw.validator
    def _validate_withdraw(self, withdrawal: Withdrawal) -> None:
        if self._stages.stage is not SubscriptionResellerStage.POR_INVALID or (
            self._withdrawal is not None
        ):
            raise self._refuse_stage("blocked by its Partner of Record (por_invalid)")

    @workflow.query(name=names.QUERY_STATUS)
    def status(self) -> SubscriptionResellerStatus:
        req = self._req
        return SubscriptionResellerStatus(
            workflow_id=workflow.info().workflow_id,
            provider_partner_id=req.provider_partner_id,
            customer_tenant_id=str(req.customer_tenant_id),
            subscription_id=req.subscription_id,
            partner_of_record=self._por,
            region=self._region,
            stage=self._stages.stage,
            waiting_for=self._stages.waiting_for,
            deadline=self._stages.deadline,
            verdict=self._verdict,
            warnings=tuple(self._warnings),
            pending_in_partner_center=self._updated.pending if self._updated else False,
            outcome_reason=self._ended.reason if self._ended else None,
            error_type=self._ended.error_type if self._ended else None,
            history=tuple(self._stages.history),
        )
