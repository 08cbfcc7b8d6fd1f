"""Provider <-> reseller partnership (DOMAIN.md REL-01..05, END-01..02, REG-01, POR-04).

prechecks (the requester is an Admin agent, the reseller an onboarded IR in the provider's region)
-> the partnership request email with Partner Center's link, unchanged -> awaiting acceptance
(reported by `report_partnership_accepted`, or found on Partner Center's relationships list;
reminders, then expiry) -> active. An established partnership keeps running: it records a
suspension of the reseller's tenant (and its reinstatement) and ends when an Admin or Sales agent
removes it with the four attestations. Customers and their delegated admin are never touched by a
removal. Terminal outcomes: removed, expired, withdrawn, refused (a pre-check failed: the workflow
fails with the rule's error type).
"""

from __future__ import annotations

import contextlib
from datetime import datetime

from temporalio import workflow
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

from workflows import pipeline
from workflows.pipeline import PipelineEnded, StageTracker

with workflow.unsafe.imports_passed_through():
    from contract import names, pipelines
    from contract.activities.policies import LOAD_RELATIONSHIP_POLICY
    from contract.activities.relationships import (
        FIND_PARTNERSHIP_IN_PARTNER_CENTER,
        PARTNERSHIP_FACTS,
        RECORD_RESELLER_SUSPENSION,
        SAVE_PARTNERSHIP,
        PartnershipFacts,
        PartnershipParties,
        SuspensionRecorded,
    )
    from domain.calendar import show_instant
    from domain.enrollment_rules import (
        require_provider_mpa_signed,
        require_reseller_can_transact,
    )
    from domain.errors import DecisionInvalid, WrongStage
    from domain.gdap_restoration import GdapRestorationRequest
    from domain.messages import Acknowledgement, Withdrawal
    from domain.notifications import EmailFacts, EmailKind, Reader, reader
    from domain.relationship_rules import (
        reminder_times,
        require_can_remove_partnership,
        require_can_request_partnership,
        require_removal_attestations,
        require_reseller_onboarded,
        require_same_region,
    )
    from domain.relationships import (
        PartnershipAcceptance,
        PartnershipRecord,
        PartnershipRemoval,
        PartnershipRequest,
        PartnershipResult,
        PartnershipResume,
        PartnershipStage,
        PartnershipStatus,
        RelationshipPolicy,
        ResellerSuspensionRecord,
        TenantSuspensionReport,
    )


GDAP_RESTORATION_PATCH = "por04-gdap-restoration"
"""Issue 14: a reinstatement starts the GdapRestoration pipeline; older histories replay without."""


@workflow.defn(name=names.PARTNERSHIP)
class PartnershipWorkflow(pipeline.DecisionSignals):
    @pipeline.init_with_input
    def __init__(self, request: PartnershipRequest) -> None:
        self._req = request
        self._policy = RelationshipPolicy()
        self._lean = False
        """Reads run as local activities (pipeline.lean_lookups, decided once per run)."""
        resume = request.resume
        self._stages = StageTracker(
            resume.stage if resume else PartnershipStage.PRECHECKS,
            "pre-checks",
            history=resume.history if resume else (),
        )
        self._region: str | None = resume.region if resume else None
        self._provider_name = resume.provider_name if resume else request.provider_partner_id
        self._reseller_name = resume.reseller_name if resume else request.reseller_partner_id
        self._requested_at: datetime | None = resume.requested_at if resume else None
        self._accepted_at: datetime | None = resume.accepted_at if resume else None
        self._accepted_via: str | None = resume.accepted_via if resume else None
        self._suspended_at: datetime | None = resume.suspended_at if resume else None
        self._reminders_sent = 0
        self._acceptance: PartnershipAcceptance | None = None
        self._withdrawal: Withdrawal | None = None
        self._removal: PartnershipRemoval | None = None
        self._suspension: TenantSuspensionReport | None = None
        self._reinstatement: TenantSuspensionReport | None = None
        self._last_note = ""
        self._ended: PipelineEnded | None = None
        self._registered = resume is not None  # a record of ours is in the registry

    # ---- the pipeline -------------------------------------------------------------------------

    @workflow.run
    async def run(self, request: PartnershipRequest) -> PartnershipResult:
        pipeline.require_business_id(pipelines.PARTNERSHIP.workflow_id_for(request))
        self._lean = pipeline.lean_lookups()
        pipeline.show_partner(request.reseller_partner_id)
        self._policy = await pipeline.load_policy(LOAD_RELATIONSHIP_POLICY, local=self._lean)
        ended = await pipeline.run_pipeline(
            prechecks=self._prechecks if request.resume is None else self._resume,
            steps=self._steps,
            refused=PartnershipStage.REFUSED,
            finish=self._finish,
            cancelled=PartnershipStage.CANCELLED,
            first_run=request.resume is None,
            lean=self._lean,
        )
        return PartnershipResult(
            provider_partner_id=request.provider_partner_id,
            reseller_partner_id=request.reseller_partner_id,
            outcome=PartnershipStage(ended.outcome),
            reason=ended.reason,
            error_type=ended.error_type,
        )

    async def _steps(self) -> PipelineEnded:
        if self._req.resume is None:
            await self._await_acceptance()
        await self._established()
        raise AssertionError("an established partnership ends only through PipelineEnded")

    async def _resume(self) -> None:
        """A continued run: the partnership is established; show where it is."""
        assert self._region is not None
        workflow.upsert_search_attributes([names.SA_REGION.value_set(self._region)])
        self._stages.enter(self._stages.stage, self._established_waiting_for(), note="continued")

    async def _prechecks(self) -> None:
        self._stages.enter(PartnershipStage.PRECHECKS, "pre-checks (role, reseller, region)")
        req = self._req
        pipeline.enforce(require_can_request_partnership, req.requested_by)  # REL-03
        facts: PartnershipFacts = await pipeline.check(
            PARTNERSHIP_FACTS, self._parties(), local=self._lean
        )
        self._provider_name = facts.provider.partner_name
        self._reseller_name = facts.reseller.partner_name
        pipeline.enforce(  # REL-01
            lambda: require_reseller_onboarded(
                req.reseller_partner_id, facts.reseller_status, facts.reseller_agreement
            )
        )
        pipeline.enforce(  # REG-01
            lambda: require_same_region(
                rule="REG-01",
                first=f"provider {req.provider_partner_id}",
                first_country=facts.provider.country,
                second=f"reseller {req.reseller_partner_id}",
                second_country=facts.reseller.country,
            )
        )
        pipeline.enforce(  # ENR-09 / MPA-02 / IND-01: the reseller may transact
            lambda: require_reseller_can_transact(
                req.reseller_partner_id,
                enrolled=True,  # REL-01 above: onboarded
                mpa_signed=facts.reseller_mpa_signed,
            )
        )
        pipeline.enforce(  # MPA-01: the provider's own agreement
            lambda: require_provider_mpa_signed(req.provider_partner_id, facts.provider_mpa_signed)
        )
        # The provider is the signed-in partner: its legal business profile states its country.
        self._region = facts.provider.country or "unknown"
        workflow.upsert_search_attributes([names.SA_REGION.value_set(self._region)])

    async def _await_acceptance(self) -> None:
        policy = self._policy
        sent_at = workflow.now()
        self._requested_at = sent_at
        reminders, deadline = reminder_times(
            sent_at, policy.partnership_reminders, policy.partnership_expiry
        )
        self._stages.enter(
            PartnershipStage.AWAITING_ACCEPTANCE,
            "the reseller to accept the partnership request (report_partnership_accepted or "
            "Partner Center's relationships list)",
            deadline,
        )
        await self._save()
        await self._email_reseller(EmailKind.PARTNERSHIP_REQUEST, "request", deadline)
        pending = list(reminders)
        next_poll = sent_at + policy.partnership_poll_interval
        while True:
            if self._acceptance is not None:
                self._accepted_at = self._acceptance.accepted_at or workflow.now()
                self._accepted_via = f"reported by {self._acceptance.reported_by}"
                break
            if self._withdrawal is not None:
                raise pipeline.withdrawn(PartnershipStage.WITHDRAWN, self._withdrawal)
            now = workflow.now()
            if now >= deadline:
                raise PipelineEnded(
                    PartnershipStage.EXPIRED,
                    f"the reseller did not accept by {show_instant(deadline)} "
                    f"({self._reminders_sent} reminder(s) sent)",
                )
            if pending and now >= pending[0]:
                pending.pop(0)
                self._reminders_sent += 1
                await self._email_reseller(
                    EmailKind.PARTNERSHIP_REMINDER, f"reminder-{self._reminders_sent}", deadline
                )
                continue
            if now >= next_poll:
                next_poll = now + policy.partnership_poll_interval
                listing = await pipeline.check(
                    FIND_PARTNERSHIP_IN_PARTNER_CENTER, self._parties(), local=self._lean
                )
                if listing.listed:
                    self._accepted_at = workflow.now()
                    self._accepted_via = "found on Partner Center's relationships list"
                    break
                continue
            wake = min([deadline, next_poll, *pending[:1]])
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: self._acceptance is not None or self._withdrawal is not None,
                    timeout=wake - now,
                    timeout_summary="partnership acceptance: reminder, poll or expiry",
                )
        self._stages.enter(PartnershipStage.ACTIVE, self._established_waiting_for())
        await self._save()
        await self._email_reseller(EmailKind.PARTNERSHIP_ACTIVE, "active", None)

    async def _established(self) -> None:
        """Active (or reseller suspended) until removed; wakes to keep its history short."""
        while True:
            try:
                await workflow.wait_condition(
                    self._report_pending,
                    timeout=self._policy.partnership_refresh_interval,
                    timeout_summary="established partnership: periodic refresh",
                )
            except TimeoutError:
                if workflow.info().is_continue_as_new_suggested():
                    await self._continue_as_new()
                continue
            # Reports accepted before a removal are recorded first: their callers wait for them.
            if self._suspension is not None:
                await self._record_suspension(self._suspension)
                self._suspension = None
            if self._reinstatement is not None:
                await self._record_reinstatement(self._reinstatement)
                self._reinstatement = None
            if self._removal is not None:
                removal = self._removal
                raise PipelineEnded(
                    PartnershipStage.REMOVED,
                    f"removed by {removal.requested_by.user} "
                    f"({removal.requested_by.role.value}): {removal.reason}",
                )

    async def _record_suspension(self, report: TenantSuspensionReport) -> None:
        """POR-04: recorded with its consequence on every customer of the reseller."""
        at = report.at or workflow.now()
        recorded: SuspensionRecorded = await pipeline.execute(
            RECORD_RESELLER_SUSPENSION,
            ResellerSuspensionRecord(
                reseller_partner_id=self._req.reseller_partner_id,
                suspended_at=at,
                reason=report.reason,
                reported_by=report.reported_by,
                updated_at=workflow.now(),
            ),
            start_to_close=pipeline.LOOKUP_TIMEOUT,
        )
        self._suspended_at = at
        self._last_note = (
            f"reseller tenant suspended since {show_instant(at)}: delegated admin (GDAP) "
            f"revoked on {recorded.customers_gdap_revoked} customer(s); it cannot be Partner of "
            "Record"
        )
        self._stages.enter(
            PartnershipStage.RESELLER_SUSPENDED,
            self._established_waiting_for(),
            note=self._last_note,
        )
        await self._save(reason=f"reseller tenant suspended: {report.reason}")
        await self._email(
            EmailKind.RESELLER_SUSPENDED,
            f"suspended-{len(self._stages.history)}",
            to=self._policy.operations_email,
            recipient_name="CSP operations",
            legal_name=self._reseller_name,
            partner_id=self._req.reseller_partner_id,
            reason=f"{report.reason} ({recorded.customers_gdap_revoked} customer(s) affected)",
        )

    async def _record_reinstatement(self, report: TenantSuspensionReport) -> None:
        assert self._suspended_at is not None
        at = report.at or workflow.now()
        await pipeline.execute(
            RECORD_RESELLER_SUSPENSION,
            ResellerSuspensionRecord(
                reseller_partner_id=self._req.reseller_partner_id,
                suspended_at=self._suspended_at,
                reason=report.reason,
                reported_by=report.reported_by,
                reinstated_at=at,
                updated_at=workflow.now(),
            ),
            start_to_close=pipeline.LOOKUP_TIMEOUT,
        )
        self._suspended_at = None
        self._last_note = (
            f"reseller tenant reinstated at {show_instant(at)}; delegated admin on its customers "
            "must be granted again"
        )
        self._stages.enter(
            PartnershipStage.ACTIVE, self._established_waiting_for(), note=self._last_note
        )
        await self._save(reason=f"reseller tenant reinstated: {report.reason}")
        if workflow.patched(GDAP_RESTORATION_PATCH):
            await self._start_gdap_restoration(at, report)

    async def _start_gdap_restoration(self, at: datetime, report: TenantSuspensionReport) -> None:
        """POR-04 (issue 14): operations learn which customers need GDAP again, and each is
        tracked until re-granted or given up (its own pipeline, outliving this run)."""
        reseller = self._req.reseller_partner_id
        try:
            await workflow.start_child_workflow(
                names.GDAP_RESTORATION,
                GdapRestorationRequest(
                    provider_partner_id=self._req.provider_partner_id,
                    reseller_partner_id=reseller,
                    reinstated_at=at,
                    reported_by=report.reported_by,
                ),
                id=names.gdap_restoration_id(reseller, names.reinstated_stamp(at)),
                parent_close_policy=ParentClosePolicy.ABANDON,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
        except WorkflowAlreadyStartedError:
            workflow.logger.warning("GDAP restoration for %s at %s already started", reseller, at)

    def _report_pending(self) -> bool:
        return (
            self._removal is not None
            or self._suspension is not None
            or self._reinstatement is not None
        )

    async def _continue_as_new(self) -> None:
        await workflow.wait_condition(
            lambda: workflow.all_handlers_finished() or self._report_pending()
        )
        if self._report_pending():
            return  # handled first; a later refresh continues as new
        assert self._region is not None and self._accepted_at is not None
        assert self._requested_at is not None
        workflow.continue_as_new(
            self._req.model_copy(
                update={
                    "resume": PartnershipResume(
                        stage=self._stages.stage,
                        region=self._region,
                        provider_name=self._provider_name,
                        reseller_name=self._reseller_name,
                        requested_at=self._requested_at,
                        accepted_at=self._accepted_at,
                        accepted_via=self._accepted_via or "",
                        suspended_at=self._suspended_at,
                        history=tuple(self._stages.history[-20:]),
                    )
                }
            )
        )

    # ---- helpers ------------------------------------------------------------------------------

    def _parties(self) -> PartnershipParties:
        return PartnershipParties(
            provider_partner_id=self._req.provider_partner_id,
            reseller_partner_id=self._req.reseller_partner_id,
        )

    def _established_waiting_for(self) -> str:
        if self._stages.stage is PartnershipStage.RESELLER_SUSPENDED:
            return "the reseller's reinstatement (report_reseller_reinstated) or a removal"
        return "a removal (remove_partnership) or a tenant suspension report"

    async def _save(self, *, reason: str | None = None, ended: bool = False) -> None:
        assert self._region is not None
        req = self._req
        await pipeline.execute(
            SAVE_PARTNERSHIP,
            PartnershipRecord(
                provider_partner_id=req.provider_partner_id,
                reseller_partner_id=req.reseller_partner_id,
                status=self._stages.stage,
                region=self._region,
                provider_tenant_id=str(req.provider_tenant_id),
                workflow_id=workflow.info().workflow_id,
                requested_at=self._requested_at or workflow.now(),
                accepted_at=self._accepted_at,
                ended_at=workflow.now() if ended else None,
                status_reason=reason,
                updated_at=workflow.now(),
            ),
            start_to_close=pipeline.LOOKUP_TIMEOUT,
        )
        self._registered = True

    async def _email_reseller(self, kind: EmailKind, step: str, deadline: datetime | None) -> None:
        req = self._req
        await self._email(
            kind,
            step,
            to=str(req.reseller_email),
            recipient_name=req.reseller_contact_name,
            legal_name=self._provider_name,
            partner_id=req.provider_partner_id,
            deadline=deadline,
            link=req.invitation_link,
            message=req.message if kind is EmailKind.PARTNERSHIP_REQUEST else None,
            prefs=reader(req.reseller_locale, req.reseller_time_zone, None),
        )

    async def _email(
        self,
        kind: EmailKind,
        step: str,
        *,
        to: str,
        recipient_name: str,
        legal_name: str,
        partner_id: str,
        reason: str | None = None,
        deadline: datetime | None = None,
        link: str | None = None,
        message: str | None = None,
        prefs: Reader | None = None,
    ) -> None:
        await pipeline.send_email(
            EmailFacts(
                kind=kind,
                to=to,
                partner_id=partner_id,
                recipient_name=recipient_name,
                legal_name=legal_name,
                reason=reason,
                deadline=deadline,
                link=link,
                message=message,
                **(prefs or reader(None, None, None)),
            ),
            step,
        )

    async def _finish(self, ended: PipelineEnded) -> None:
        outcome = PartnershipStage(ended.outcome)
        if outcome is PartnershipStage.CANCELLED and self._stages.stage.is_established:
            ended = PipelineEnded(
                outcome,
                f"{ended.reason}; the relationship itself was not removed in Partner Center",
                ended.error_type,
            )
        self._ended = ended
        self._stages.end(outcome, note=ended.reason)
        if outcome is PartnershipStage.REFUSED:
            return  # a pre-check refused: nothing was sent or recorded
        if outcome is PartnershipStage.CANCELLED and not self._registered:
            return  # cancelled in pre-checks: nothing was sent or recorded
        await self._save(reason=ended.reason, ended=True)
        ops = self._policy.operations_email
        if ended.outcome in (PartnershipStage.EXPIRED, PartnershipStage.REMOVED):
            kind = (
                EmailKind.PARTNERSHIP_EXPIRED
                if ended.outcome is PartnershipStage.EXPIRED
                else EmailKind.PARTNERSHIP_REMOVED
            )
            await self._email(
                kind,
                f"outcome-{ended.outcome.value}",
                to=ops,
                recipient_name="CSP operations",
                legal_name=self._reseller_name,
                partner_id=self._req.reseller_partner_id,
                reason=ended.reason,
            )

    def _refuse_stage(self, wanted: str) -> ApplicationError:
        return pipeline.refuse(
            WrongStage(
                f"partnership {self._req.provider_partner_id}-{self._req.reseller_partner_id} is "
                f"at stage {self._stages.stage.value}, not {wanted}",
                stage=self._stages.stage.value,
            )
        )

    # ---- updates and query --------------------------------------------------------------------

    @workflow.update(name=names.UPDATE_REPORT_PARTNERSHIP_ACCEPTED)
    def report_partnership_accepted(self, acceptance: PartnershipAcceptance) -> Acknowledgement:
        self._acceptance = acceptance
        return Acknowledgement(
            stage=self._stages.stage.value, message="partnership acceptance recorded"
        )

    @report_partnership_accepted.validator
    def _validate_accepted(self, acceptance: PartnershipAcceptance) -> None:
        if (
            self._stages.stage is not PartnershipStage.AWAITING_ACCEPTANCE
            or self._acceptance is not None
            or self._withdrawal is not None
        ):
            raise self._refuse_stage("awaiting the reseller's acceptance")
        at = acceptance.accepted_at
        if at is not None and (at.tzinfo is None or at > workflow.now()):
            raise pipeline.refuse(
                DecisionInvalid(
                    f"accepted_at {show_instant(at)} must carry a time zone and not be in the "
                    "future"
                )
            )

    @workflow.update(name=names.UPDATE_WITHDRAW)
    def withdraw(self, withdrawal: Withdrawal) -> Acknowledgement:
        self._withdrawal = withdrawal
        return Acknowledgement(
            stage=self._stages.stage.value, message="partnership request withdrawn"
        )

    @withdraw.validator
    def _validate_withdraw(self, withdrawal: Withdrawal) -> None:
        if (
            self._stages.stage is not PartnershipStage.AWAITING_ACCEPTANCE
            or self._acceptance is not None
            or self._withdrawal is not None
        ):
            raise self._refuse_stage("a pending request (an active partnership is removed)")

    @workflow.update(name=names.UPDATE_REMOVE_PARTNERSHIP)
    def remove_partnership(self, removal: PartnershipRemoval) -> Acknowledgement:
        self._removal = removal
        return Acknowledgement(
            stage=self._stages.stage.value,
            message="partnership removal recorded; customers and their delegated admin "
            "privileges are unchanged",
        )

    @remove_partnership.validator
    def _validate_remove(self, removal: PartnershipRemoval) -> None:
        if not self._stages.stage.is_established or self._removal is not None:
            raise self._refuse_stage("an established partnership")
        pipeline.enforce(require_can_remove_partnership, removal.requested_by)  # 003
        pipeline.enforce(require_removal_attestations, removal.attestations)  # END-02

    @workflow.update(name=names.UPDATE_REPORT_RESELLER_SUSPENDED)
    async def report_reseller_suspended(self, report: TenantSuspensionReport) -> Acknowledgement:
        self._suspension = report
        await workflow.wait_condition(lambda: self._suspension is None)
        return Acknowledgement(stage=self._stages.stage.value, message=self._last_note)

    @report_reseller_suspended.validator
    def _validate_suspended(self, report: TenantSuspensionReport) -> None:
        if (
            self._stages.stage is not PartnershipStage.ACTIVE
            or self._suspension is not None
            or self._removal is not None
        ):
            raise self._refuse_stage("active")

    @workflow.update(name=names.UPDATE_REPORT_RESELLER_REINSTATED)
    async def report_reseller_reinstated(self, report: TenantSuspensionReport) -> Acknowledgement:
        self._reinstatement = report
        await workflow.wait_condition(lambda: self._reinstatement is None)
        return Acknowledgement(stage=self._stages.stage.value, message=self._last_note)

    @report_reseller_reinstated.validator
    def _validate_reinstated(self, report: TenantSuspensionReport) -> None:
        if (
            self._stages.stage is not PartnershipStage.RESELLER_SUSPENDED
            or self._reinstatement is not None
            or self._removal is not None
        ):
            raise self._refuse_stage("reseller_suspended")

    @workflow.query(name=names.QUERY_STATUS)
    def status(self) -> PartnershipStatus:
        return PartnershipStatus(
            workflow_id=workflow.info().workflow_id,
            provider_partner_id=self._req.provider_partner_id,
            reseller_partner_id=self._req.reseller_partner_id,
            region=self._region,
            stage=self._stages.stage,
            waiting_for=self._stages.waiting_for,
            deadline=self._stages.deadline,
            reminders_sent=self._reminders_sent,
            accepted_at=self._accepted_at,
            accepted_via=self._accepted_via,
            suspended_at=self._suspended_at,
            outcome_reason=self._ended.reason if self._ended else None,
            error_type=self._ended.error_type if self._ended else None,
            history=tuple(self._stages.history),
            signal_refusals=self.signal_refusals(),
        )
