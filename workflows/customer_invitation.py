"""Customer invitation, joint or reseller-only (DOMAIN.md CUS-01..04, REG-01, SELF-01..03).

prechecks (the reseller is an onboarded IR; a joint invitation needs an active partnership with
the provider; the customer is in their region; not the partner itself, an affiliate, a CSP tenant
or the provider's own reseller) -> the invitation email with Partner Center's personalised link,
unchanged -> awaiting acceptance, reported by the webhook-named updates (reminders, then expiry)
-> awaiting the Microsoft Customer Agreement attestation (CUS-04) -> active.
Terminal outcomes: active, mca_pending (accepted, MCA not attested in its window: orders wait
for it), expired, withdrawn, refused (a pre-check failed: the workflow fails with the type).
"""

from __future__ import annotations

import contextlib
from datetime import datetime

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from workflows import pipeline
from workflows.pipeline import PipelineEnded, StageTracker

with workflow.unsafe.imports_passed_through():
    from contract import names, pipelines
    from contract.activities.policies import LOAD_RELATIONSHIP_POLICY
    from contract.activities.relationships import (
        CUSTOMER_INVITATION_FACTS,
        CUSTOMER_INVITATION_LINK,
        GET_CUSTOMER_AGREEMENT,
        SAVE_CUSTOMER_AGREEMENT,
        SAVE_CUSTOMER_RELATIONSHIP,
        CustomerAgreementLookup,
        CustomerLookup,
        InvitationFacts,
        InvitationFactsRequest,
        InvitationLink,
        InvitationLinkRequest,
    )
    from domain.calendar import show_instant
    from domain.enrollment_rules import (
        require_provider_mpa_signed,
        require_reseller_can_transact,
    )
    from domain.errors import BusinessRuleViolation, DecisionInvalid, WrongStage
    from domain.messages import Acknowledgement, Withdrawal
    from domain.notifications import EmailFacts, EmailKind, reader
    from domain.relationship_rules import (
        SelfDealingFacts,
        reminder_times,
        require_no_self_dealing,
        require_partnership_active,
        require_reseller_onboarded,
        require_same_customer,
        require_same_region,
        require_valid_agreement_attestation,
    )
    from domain.relationships import (
        AcceptanceEvent,
        CustomerAcceptance,
        CustomerAgreementAttestation,
        CustomerAgreementRecord,
        CustomerInvitationRequest,
        CustomerInvitationResult,
        CustomerInvitationStage,
        CustomerInvitationStatus,
        CustomerRelationshipRecord,
        InvitationKind,
        RelationshipPolicy,
    )


@workflow.defn(name=names.CUSTOMER_INVITATION)
class CustomerInvitationWorkflow(pipeline.DecisionSignals):
    @pipeline.init_with_input
    def __init__(self, request: CustomerInvitationRequest) -> None:
        self._req = request
        self._policy = RelationshipPolicy()
        self._lean = False
        """Reads run as local activities (pipeline.lean_lookups, decided once per run)."""
        self._stages = StageTracker(CustomerInvitationStage.PRECHECKS, "pre-checks")
        self._reseller_name = request.reseller_partner_id
        self._invited_at: datetime | None = None
        self._reminders_sent = 0
        self._event: AcceptanceEvent | None = None
        self._acceptance: CustomerAcceptance | None = None
        self._accepted_at: datetime | None = None
        self._attestation: CustomerAgreementAttestation | None = None
        self._agreement_at: datetime | None = None
        self._withdrawal: Withdrawal | None = None
        self._ended: PipelineEnded | None = None
        self._registered = False  # a record of ours is in the registry

    # ---- the pipeline -------------------------------------------------------------------------

    @workflow.run
    async def run(self, request: CustomerInvitationRequest) -> CustomerInvitationResult:
        pipeline.require_business_id(pipelines.CUSTOMER_INVITATION.workflow_id_for(request))
        self._lean = pipeline.lean_lookups()
        pipeline.show_partner(request.reseller_partner_id, request.customer_country)
        self._policy = await pipeline.load_policy(LOAD_RELATIONSHIP_POLICY, local=self._lean)
        ended = await pipeline.run_pipeline(
            prechecks=self._prechecks,
            steps=self._steps,
            refused=CustomerInvitationStage.REFUSED,
            finish=self._finish,
            cancelled=CustomerInvitationStage.CANCELLED,
            lean=self._lean,
        )
        return CustomerInvitationResult(
            reseller_partner_id=request.reseller_partner_id,
            customer_tenant_id=str(request.customer_tenant_id),
            outcome=CustomerInvitationStage(ended.outcome),
            reason=ended.reason,
        )

    async def _steps(self) -> PipelineEnded:
        await self._invite_and_wait()
        await self._await_customer_agreement()
        return PipelineEnded(
            CustomerInvitationStage.ACTIVE,
            "the customer accepted and its Microsoft Customer Agreement is attested",
        )

    async def _prechecks(self) -> None:
        self._stages.enter(CustomerInvitationStage.PRECHECKS, "pre-checks (reseller, region, self)")
        req = self._req
        facts: InvitationFacts = await pipeline.check(
            CUSTOMER_INVITATION_FACTS,
            InvitationFactsRequest(
                kind=req.kind,
                reseller_partner_id=req.reseller_partner_id,
                provider_partner_id=req.provider_partner_id,
                customer_tenant_id=str(req.customer_tenant_id),
                customer_partner_id=req.customer_partner_id,
            ),
            local=self._lean,
        )
        self._reseller_name = facts.reseller.partner_name
        pipeline.enforce(
            lambda: require_reseller_onboarded(
                req.reseller_partner_id, facts.reseller_status, facts.reseller_agreement
            )
        )
        if req.kind is InvitationKind.JOINT:
            assert req.provider_partner_id is not None and facts.provider is not None
            provider_id, provider = req.provider_partner_id, facts.provider
            pipeline.enforce(  # CUS-02
                lambda: require_partnership_active(
                    provider_partner_id=provider_id,
                    reseller_partner_id=req.reseller_partner_id,
                    status=facts.partnership_status,
                    purpose="a joint customer invitation",
                )
            )
            pipeline.enforce(  # REG-01
                lambda: require_same_region(
                    rule="REG-01",
                    first=f"customer {req.customer_name}",
                    first_country=req.customer_country,
                    second=f"provider {provider_id}",
                    second_country=provider.country,
                )
            )
        pipeline.enforce(  # REG-01
            lambda: require_same_region(
                rule="REG-01",
                first=f"customer {req.customer_name}",
                first_country=req.customer_country,
                second=f"reseller {req.reseller_partner_id}",
                second_country=facts.reseller.country,
            )
        )
        if req.kind is InvitationKind.JOINT:
            assert req.provider_partner_id is not None
            joint_provider = req.provider_partner_id
            pipeline.enforce(  # ENR-09 / MPA-02 / IND-01: the reseller may transact
                lambda: require_reseller_can_transact(
                    req.reseller_partner_id,
                    enrolled=True,  # REL-01 checked above: onboarded
                    mpa_signed=facts.reseller_mpa_signed,
                )
            )
            pipeline.enforce(  # MPA-01: the provider's own agreement
                lambda: require_provider_mpa_signed(joint_provider, facts.provider_mpa_signed)
            )
        sellers = tuple(p for p in (req.reseller_partner_id, req.provider_partner_id) if p)
        pipeline.enforce(  # SELF-01..03
            lambda: require_no_self_dealing(
                SelfDealingFacts(
                    customer_tenant_id=str(req.customer_tenant_id),
                    customer_partner_id=req.customer_partner_id,
                    customer_is_affiliate=req.customer_is_affiliate,
                    seller_partner_ids=sellers,
                    csp_tenant_owner=facts.csp_tenant_owner,
                    provider_partner_id=req.provider_partner_id,
                    customer_partnership_with_provider=facts.customer_partnership_with_provider,
                )
            )
        )

    async def _invite_and_wait(self) -> None:
        req = self._req
        policy = self._policy
        link: InvitationLink = await pipeline.check(
            CUSTOMER_INVITATION_LINK,
            InvitationLinkRequest(
                reseller_partner_id=req.reseller_partner_id,
                provider_partner_id=req.provider_partner_id,
            ),
        )
        sent_at = workflow.now()
        self._invited_at = sent_at
        reminders, deadline = reminder_times(
            sent_at, policy.customer_invitation_reminders, policy.customer_invitation_expiry
        )
        self._stages.enter(
            CustomerInvitationStage.AWAITING_ACCEPTANCE,
            f"the customer to accept ({names.UPDATE_RESELLER_RELATIONSHIP_ACCEPTED} or "
            f"{names.UPDATE_INDIRECT_RESELLER_RELATIONSHIP_ACCEPTED})",
            deadline,
        )
        await self._save()
        await self._email_customer(EmailKind.CUSTOMER_INVITATION, "invitation", link.url, deadline)
        pending = list(reminders)
        while True:
            if self._acceptance is not None:
                break
            if self._withdrawal is not None:
                self._raise_withdrawn()
            now = workflow.now()
            if now >= deadline:
                raise PipelineEnded(
                    CustomerInvitationStage.EXPIRED,
                    f"the customer did not accept by {show_instant(deadline)} "
                    f"({self._reminders_sent} reminder(s) sent)",
                )
            if pending and now >= pending[0]:
                pending.pop(0)
                self._reminders_sent += 1
                await self._email_customer(
                    EmailKind.CUSTOMER_INVITATION_REMINDER,
                    f"reminder-{self._reminders_sent}",
                    link.url,
                    deadline,
                )
                continue
            wake = min([deadline, *pending[:1]])
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: self._acceptance is not None or self._withdrawal is not None,
                    timeout=wake - now,
                    timeout_summary="customer invitation: reminder or expiry",
                )
        acceptance = self._acceptance
        assert acceptance is not None
        self._accepted_at = acceptance.accepted_at or workflow.now()

    async def _await_customer_agreement(self) -> None:
        """CUS-04: the MCA acceptance is attested here, or was already for this customer."""
        known: CustomerAgreementLookup = await pipeline.check(
            GET_CUSTOMER_AGREEMENT,
            CustomerLookup(customer_tenant_id=str(self._req.customer_tenant_id)),
            local=self._lean,
        )
        if known.record is not None:
            self._agreement_at = known.record.accepted_at
            return
        deadline = workflow.now() + self._policy.customer_agreement_window
        self._stages.enter(
            CustomerInvitationStage.AWAITING_CUSTOMER_AGREEMENT,
            "the Microsoft Customer Agreement attestation (attest_customer_agreement)",
            deadline,
        )
        await self._save()
        try:
            await workflow.wait_condition(
                lambda: self._attestation is not None,
                timeout=deadline - workflow.now(),
                timeout_summary="Microsoft Customer Agreement attestation",
            )
        except TimeoutError:
            raise PipelineEnded(
                CustomerInvitationStage.MCA_PENDING,
                f"the customer accepted, but no Microsoft Customer Agreement acceptance was "
                f"attested by {show_instant(deadline)}; orders wait for it (CUS-04)",
            ) from None
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
        self._agreement_at = attestation.accepted_at

    # ---- helpers ------------------------------------------------------------------------------

    def _raise_withdrawn(self) -> None:
        assert self._withdrawal is not None
        raise pipeline.withdrawn(CustomerInvitationStage.WITHDRAWN, self._withdrawal)

    async def _save(self) -> None:
        req = self._req
        assert self._invited_at is not None
        await pipeline.execute(
            SAVE_CUSTOMER_RELATIONSHIP,
            CustomerRelationshipRecord(
                reseller_partner_id=req.reseller_partner_id,
                customer_tenant_id=str(req.customer_tenant_id),
                kind=req.kind,
                provider_partner_id=req.provider_partner_id,
                customer_country=req.customer_country,
                customer_partner_id=req.customer_partner_id,
                status=self._stages.stage,
                workflow_id=workflow.info().workflow_id,
                invited_at=self._invited_at,
                accepted_at=self._accepted_at,
                acceptance_event=self._event.value if self._event else None,
                updated_at=workflow.now(),
            ),
            start_to_close=pipeline.LOOKUP_TIMEOUT,
        )
        self._registered = True

    def _default_message(self) -> str:
        req = self._req
        if req.kind is InvitationKind.JOINT:
            return (
                f"{self._reseller_name} and its indirect provider (PartnerID "
                f"{req.provider_partner_id}) invite {req.customer_name} to establish a reseller "
                "relationship with both: the reseller manages your subscriptions and the provider "
                "places orders for you."
            )
        return f"{self._reseller_name} invites {req.customer_name} to a reseller relationship."

    async def _email_customer(
        self, kind: EmailKind, step: str, link: str, deadline: datetime
    ) -> None:
        req = self._req
        await pipeline.send_email(
            EmailFacts(
                kind=kind,
                to=req.customer_email,
                partner_id=req.reseller_partner_id,
                recipient_name=req.customer_contact_name,
                legal_name=self._reseller_name,
                deadline=deadline,
                link=link,
                message=req.message or self._default_message(),
                **reader(req.customer_locale, req.customer_time_zone, req.customer_country),
            ),
            step,
        )

    async def _finish(self, ended: PipelineEnded) -> None:
        self._ended = ended
        outcome = CustomerInvitationStage(ended.outcome)
        self._stages.end(outcome, note=ended.reason)
        if outcome is CustomerInvitationStage.REFUSED:
            return  # a pre-check refused: nothing was sent or recorded
        if outcome is CustomerInvitationStage.CANCELLED and not self._registered:
            return  # cancelled before the invitation was sent: nothing recorded
        await self._save()
        if outcome is CustomerInvitationStage.EXPIRED:
            await pipeline.send_email(
                EmailFacts(
                    kind=EmailKind.CUSTOMER_INVITATION_EXPIRED,
                    to=self._policy.operations_email,
                    partner_id=self._req.reseller_partner_id,
                    recipient_name="CSP operations",
                    legal_name=self._reseller_name,
                    reason=ended.reason,
                ),
                "outcome-expired",
            )

    def _refuse_stage(self, wanted: str) -> ApplicationError:
        return pipeline.refuse(
            WrongStage(
                f"the invitation of customer {self._req.customer_tenant_id} is at stage "
                f"{self._stages.stage.value}, not {wanted}",
                stage=self._stages.stage.value,
            )
        )

    # ---- updates and query --------------------------------------------------------------------

    def _accept(self, event: AcceptanceEvent, acceptance: CustomerAcceptance) -> Acknowledgement:
        if self._acceptance is not None:  # a second delivery of the same acceptance
            return Acknowledgement(
                stage=self._stages.stage.value,
                message=f"acceptance already recorded ({self._event.value if self._event else ''})",
            )
        self._acceptance = acceptance
        self._event = event
        return Acknowledgement(stage=self._stages.stage.value, message=f"{event.value} recorded")

    def _validate_acceptance(self, acceptance: CustomerAcceptance) -> None:
        if self._acceptance is not None and not self._stages.stage.is_terminal:
            return  # a duplicate delivery is acknowledged, not refused
        if (
            self._stages.stage is not CustomerInvitationStage.AWAITING_ACCEPTANCE
            or self._withdrawal is not None
        ):
            raise self._refuse_stage("awaiting the customer's acceptance")
        try:
            require_same_customer(
                expected=str(self._req.customer_tenant_id),
                reported=str(acceptance.customer_tenant_id),
            )
            at = acceptance.accepted_at
            if at is not None and (at.tzinfo is None or at > workflow.now()):
                raise DecisionInvalid(
                    f"accepted_at {show_instant(at)} must carry a time zone and not be in the "
                    "future"
                )
        except BusinessRuleViolation as violation:
            raise pipeline.refuse(violation) from violation

    @workflow.update(name=names.UPDATE_RESELLER_RELATIONSHIP_ACCEPTED)
    def reseller_relationship_accepted_by_customer(
        self, acceptance: CustomerAcceptance
    ) -> Acknowledgement:
        return self._accept(AcceptanceEvent.RESELLER_RELATIONSHIP_ACCEPTED, acceptance)

    @reseller_relationship_accepted_by_customer.validator
    def _validate_reseller_accepted(self, acceptance: CustomerAcceptance) -> None:
        self._validate_acceptance(acceptance)

    @workflow.update(name=names.UPDATE_INDIRECT_RESELLER_RELATIONSHIP_ACCEPTED)
    def indirect_reseller_relationship_accepted_by_customer(
        self, acceptance: CustomerAcceptance
    ) -> Acknowledgement:
        return self._accept(AcceptanceEvent.INDIRECT_RESELLER_RELATIONSHIP_ACCEPTED, acceptance)

    @indirect_reseller_relationship_accepted_by_customer.validator
    def _validate_indirect_accepted(self, acceptance: CustomerAcceptance) -> None:
        self._validate_acceptance(acceptance)

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
            self._stages.stage is not CustomerInvitationStage.AWAITING_CUSTOMER_AGREEMENT
            or self._attestation is not None
        ):
            raise self._refuse_stage("awaiting the Microsoft Customer Agreement attestation")
        pipeline.enforce(require_valid_agreement_attestation, attestation, now=workflow.now())

    @workflow.update(name=names.UPDATE_WITHDRAW)
    def withdraw(self, withdrawal: Withdrawal) -> Acknowledgement:
        self._withdrawal = withdrawal
        return Acknowledgement(stage=self._stages.stage.value, message="invitation withdrawn")

    @withdraw.validator
    def _validate_withdraw(self, withdrawal: Withdrawal) -> None:
        if (
            self._stages.stage is not CustomerInvitationStage.AWAITING_ACCEPTANCE
            or self._acceptance is not None
            or self._withdrawal is not None
        ):
            raise self._refuse_stage("a pending invitation")

    @workflow.query(name=names.QUERY_STATUS)
    def status(self) -> CustomerInvitationStatus:
        req = self._req
        return CustomerInvitationStatus(
            workflow_id=workflow.info().workflow_id,
            kind=req.kind,
            reseller_partner_id=req.reseller_partner_id,
            provider_partner_id=req.provider_partner_id,
            customer_tenant_id=str(req.customer_tenant_id),
            region=req.customer_country,
            stage=self._stages.stage,
            waiting_for=self._stages.waiting_for,
            deadline=self._stages.deadline,
            reminders_sent=self._reminders_sent,
            acceptance_event=self._event,
            accepted_at=self._accepted_at,
            customer_agreement_at=self._agreement_at,
            outcome_reason=self._ended.reason if self._ended else None,
            error_type=self._ended.error_type if self._ended else None,
            history=tuple(self._stages.history),
            signal_refusals=self.signal_refusals(),
        )
