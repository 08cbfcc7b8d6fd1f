"""The monthly sweep the `annual-reassessment` Schedule starts (RA-01, DB-04).

It pages through the registry's direct-bill partners due in its month (the schedule's time, not
the wall clock, so a backfill re-assesses a past month's partners) and starts one
`PartnerReassessment` per partner with a business-key id and REJECT_DUPLICATE reuse: a re-run or an
overlapping run never re-assesses a partner twice. Partners are started by an activity (not as
children) so that the sweep's history grows by about one event per partner. Partners report
their outcome by signal; the sweep keeps the summary (due, started, already done, passed, failed,
errors) and continues as new when its history grows, so no run's history is unbounded.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from temporalio import workflow

from workflows import pipeline

with workflow.unsafe.imports_passed_through():
    from contract import names
    from contract.activities.policies import LOAD_REASSESSMENT_POLICY
    from contract.activities.reassessment import (
        LIST_DUE_PARTNERS,
        START_PARTNER_REASSESSMENTS,
        DuePageRequest,
        StartBatch,
    )
    from domain import reassessment_rules as rules
    from domain.calendar import show_instant
    from domain.reassessment import (
        DuePartner,
        ReassessmentOutcome,
        ReassessmentPolicy,
        SweepRequest,
        SweepSummary,
    )

_STEP = timedelta(minutes=2)
_START_BATCH = timedelta(minutes=10)


_BOUND_ZONE = "UTC"
"""The zone of the month end in the sweep's own wait bound. The partners' questionnaires are due
when the month ends in the business time zone (PartnerReassessment), at most 14 hours from its
end in UTC; the bound adds days of grace on top, and keeps the value its histories were recorded
with (a bound that moved on replay could end a wait the history shows going on)."""

SWEEP_WAITS_FOR_NEW_STAGES_PATCH = "ra-sweep-waits-for-remediation-and-score-notice"
"""The sweep waits as long as a partner's re-assessment can now last (DB-04 remediation, RA-01
score notice). Histories recorded before it waited for the shorter pipeline."""

SWEEP_WAITS_FOR_THE_MOVE_PATCH = "ra-04-sweep-waits-for-the-move"
"""RA-04: a failed partner's transition now waits for its choice of indirect provider and the
partnership with it; the sweep waits that much longer. Older histories replay without."""


@workflow.defn(name=names.REASSESSMENT_SWEEP)
class ReassessmentSweepWorkflow:
    @pipeline.init_with_input
    def __init__(self, request: SweepRequest) -> None:
        self._request = request
        self._summary: SweepSummary | None = request.summary
        self._outstanding: set[str] = set(request.outstanding)
        self._early: set[str] = set()
        self._policy = ReassessmentPolicy()
        self._deadline: datetime | None = request.wait_until

    @workflow.run
    async def run(self, request: SweepRequest) -> SweepSummary:
        pipeline.require_business_id(names.SWEEP_WORKFLOW_ID, suffix=pipeline.any_suffix)
        summary = self._summary or SweepSummary(month=self._month(request))
        self._summary = summary
        workflow.upsert_search_attributes([names.SA_STAGE.value_set("reassessment_sweep")])
        self._policy = await pipeline.load_policy(LOAD_REASSESSMENT_POLICY)
        cursor, paging_done = request.cursor, request.paging_done
        while not paging_done:
            page = await pipeline.execute(
                LIST_DUE_PARTNERS,
                DuePageRequest(
                    month=summary.month,
                    after=cursor,
                    limit=self._policy.sweep_page_size,
                    business_time_zone=self._policy.business_time_zone,
                ),
                start_to_close=_STEP,
            )
            self._count(due=len(page.partners))
            if page.partners:
                await self._start(page.partners)
            cursor, paging_done = page.next_after, page.next_after is None
            self._show(f"started the partners due in {summary.month:%Y-%m} up to {cursor}")
            if workflow.info().is_continue_as_new_suggested():
                await self._continue(cursor, paging_done)
        deadline = self._deadline = self._wait_deadline()
        self._show(
            f"waiting for {len(self._outstanding)} outcome(s) until {show_instant(deadline)}"
        )
        while self._outstanding:
            remaining = deadline - workflow.now()
            if remaining <= timedelta(0):
                break
            try:
                await workflow.wait_condition(
                    lambda: not self._outstanding or workflow.info().is_continue_as_new_suggested(),
                    timeout=remaining,
                    timeout_summary="re-assessment outcomes",
                )
            except TimeoutError:
                break
            if self._outstanding and workflow.info().is_continue_as_new_suggested():
                await self._continue(cursor, paging_done)
        await workflow.wait_condition(workflow.all_handlers_finished)
        final = self._count(unfinished=len(self._outstanding))
        self._show("done")
        return final

    def _month(self, request: SweepRequest) -> date:
        if request.month is not None:
            return rules.month_of(request.month)
        scheduled = workflow.info().typed_search_attributes.get(names.SA_SCHEDULED_START)
        return rules.sweep_month(scheduled or workflow.now(), request.month_zone)

    def _wait_deadline(self) -> datetime:
        """The partners' own deadlines plus the grace, fixed by the first run of the sweep."""
        if self._request.wait_until is not None:
            return self._request.wait_until
        assert self._summary is not None
        policy = self._policy
        if workflow.patched(SWEEP_WAITS_FOR_NEW_STAGES_PATCH):
            # DB-04 remediation first, then the questionnaire, Microsoft's score notice and the
            # plan renewal: the latest a partner's outcome can arrive, plus the grace.
            after_remediation = workflow.now() + policy.security_remediation_period
            answers_by = rules.questionnaire_deadline(
                self._summary.month, after_remediation, _BOUND_ZONE
            )
            until = (
                answers_by
                + policy.score_notice_wait
                + policy.plan_renewal_grace
                + policy.sweep_grace
            )
            if workflow.patched(SWEEP_WAITS_FOR_THE_MOVE_PATCH):
                until += policy.provider_choice_period + policy.partnership_wait
            return until
        started = rules.questionnaire_deadline(self._summary.month, workflow.now(), _BOUND_ZONE)
        return started + policy.plan_renewal_grace + policy.sweep_grace

    async def _start(self, partners: tuple[DuePartner, ...]) -> None:
        assert self._summary is not None
        result = await pipeline.execute(
            START_PARTNER_REASSESSMENTS,
            StartBatch(
                sweep_workflow_id=workflow.info().workflow_id,
                month=self._summary.month,
                partners=partners,
            ),
            start_to_close=_START_BATCH,
        )
        for workflow_id in result.started:
            if workflow_id in self._early:
                self._early.discard(workflow_id)
            else:
                self._outstanding.add(workflow_id)
        self._count(
            started=len(result.started),
            already_done=len(result.already_done),
            errors=len(result.errors),
        )

    async def _continue(self, cursor: tuple[str, str] | None, paging_done: bool) -> None:
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(
            SweepRequest(
                month=self._summary.month if self._summary else None,
                cursor=cursor,
                paging_done=paging_done,
                outstanding=tuple(sorted(self._outstanding)),
                summary=self._summary,
                wait_until=self._deadline,
            )
        )

    def _count(self, **increments: int) -> SweepSummary:
        assert self._summary is not None
        self._summary = self._summary.model_copy(
            update={k: getattr(self._summary, k) + v for k, v in increments.items()}
        )
        return self._summary

    def _show(self, doing: str) -> None:
        s = self._summary
        assert s is not None
        workflow.set_current_details(
            f"**{s.month:%Y-%m}**: {doing}. due {s.due}, started {s.started}, already done "
            f"{s.already_done}, passed {s.passed}, failed {s.failed}, errors {s.errors}"
        )

    @workflow.signal(name=names.SIGNAL_REASSESSMENT_OUTCOME)
    def reassessment_outcome(self, outcome: ReassessmentOutcome) -> None:
        if outcome.workflow_id in self._outstanding:
            self._outstanding.discard(outcome.workflow_id)
        else:  # reported before its start was acknowledged here
            self._early.add(outcome.workflow_id)
        if outcome.error is not None:
            self._count(errors=1)
        else:
            self._count(**({"passed": 1} if outcome.passed else {"failed": 1}))

    @workflow.query(name=names.QUERY_STATUS)
    def status(self) -> SweepSummary:
        assert self._summary is not None
        return self._summary
