"""The POR sweep the `por-validation-sweep` Schedule starts (REL-07; weekly by default).

It pages through the registry's active partnerships (ordered by provider and reseller), checks
each page's resellers with one `validateresellers` call, pausing between calls (the rate limit),
and the activity records every result with Partner Center's reason. A run makes a bounded number
of calls and then continues as new with its cursor and tally, so no run's history grows with the
number of partnerships (about 17 events per call). When the last page is checked it saves the
report and emails operations once: counts and each invalid reseller with its reason and what to
do. A batch Partner Center does not answer after the bounded retries is counted as not checked
and named in the report; the sweep goes on with the next page.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

from workflows import pipeline

with workflow.unsafe.imports_passed_through():
    from contract import names
    from contract.activities.policies import LOAD_RELATIONSHIP_POLICY
    from contract.activities.por_sweep import (
        FINISH_POR_SWEEP,
        LIST_ACTIVE_PARTNERSHIPS,
        VALIDATE_POR_BATCH,
        PartnershipPage,
        PartnershipPageRequest,
        PorBatch,
        PorSweepFinish,
    )
    from domain.notifications import EmailFacts, EmailKind
    from domain.por_sweep import (
        REPORT_LISTED_AT_MOST,
        PorSweepRequest,
        PorSweepSummary,
    )
    from domain.relationships import RelationshipPolicy

_REGISTRY_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30), maximum_attempts=10)
_PARTNER_CENTER_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5), maximum_interval=timedelta(minutes=1), maximum_attempts=5
)
_FAILURES_KEPT = 5


@workflow.defn(name=names.POR_SWEEP)
class PorSweepWorkflow:
    @workflow.init
    def __init__(self, request: PorSweepRequest) -> None:
        self._summary = request.summary or PorSweepSummary(
            sweep_id=workflow.info().workflow_id, started_at=workflow.now()
        )

    @workflow.run
    async def run(self, request: PorSweepRequest) -> PorSweepSummary:
        workflow.upsert_search_attributes([names.SA_STAGE.value_set("por_sweep")])
        policy = await pipeline.load_policy(LOAD_RELATIONSHIP_POLICY)
        cursor = request.cursor
        calls = 0
        while True:
            page = await self._page(cursor, policy)
            if page is None or not page.partnerships:
                break
            if calls >= policy.por_sweep_batches_per_run or (
                workflow.info().is_continue_as_new_suggested()
            ):
                # This page is listed again by the next run: no run is left with nothing to do.
                self._summary = self._summary.model_copy(update={"runs": self._summary.runs + 1})
                workflow.continue_as_new(PorSweepRequest(cursor=cursor, summary=self._summary))
            if (calls or self._summary.batches) and policy.por_sweep_pause > timedelta(0):
                await workflow.sleep(policy.por_sweep_pause, summary="rate limit")
            await self._check(page)
            calls += 1
            cursor = page.next_after
            self._show(f"checked up to {cursor}" if cursor else "checked every partnership")
            if cursor is None:
                break
        finished = await pipeline.execute(
            FINISH_POR_SWEEP,
            PorSweepFinish(
                summary=self._summary,
                finished_at=workflow.now(),
                listed_at_most=REPORT_LISTED_AT_MOST,
            ),
            retry=_REGISTRY_RETRY,
        )
        await pipeline.send_email(
            EmailFacts(
                kind=EmailKind.POR_SWEEP_REPORT,
                to=policy.operations_email,
                partner_id="-",
                recipient_name="CSP operations",
                legal_name="-",
                reason=finished.text,
            ),
            "por-report",
        )
        report = finished.report
        self._summary = self._summary.model_copy(
            update={"checked": report.checked, "valid": report.valid, "invalid": report.invalid}
        )
        self._show("report sent")
        return self._summary

    async def _page(
        self, cursor: tuple[str, str] | None, policy: RelationshipPolicy
    ) -> PartnershipPage | None:
        """The next page, or None when the registry cannot be read (named in the report)."""
        try:
            return await pipeline.execute(
                LIST_ACTIVE_PARTNERSHIPS,
                PartnershipPageRequest(after=cursor, limit=policy.por_sweep_batch_size),
                start_to_close=pipeline.LOOKUP_TIMEOUT,
                retry=_REGISTRY_RETRY,
            )
        except ActivityError as err:
            self._fail(f"the registry's partnerships after {cursor} could not be read: {err.cause}")
            return None

    async def _check(self, page: PartnershipPage) -> None:
        try:
            result = await pipeline.execute(
                VALIDATE_POR_BATCH,
                PorBatch(sweep_id=self._summary.sweep_id, partnerships=page.partnerships),
                start_to_close=pipeline.STEP_TIMEOUT,
                schedule_to_close=timedelta(minutes=15),
                retry=_PARTNER_CENTER_RETRY,
            )
        except ActivityError as err:
            first = page.partnerships[0]
            self._fail(
                f"{len(page.partnerships)} partnership(s) from {first.provider_partner_id}/"
                f"{first.reseller_partner_id}: {err.cause}",
                unchecked=len(page.partnerships),
            )
            return
        s = self._summary
        self._summary = s.model_copy(
            update={
                "checked": s.checked + result.valid + result.invalid,
                "valid": s.valid + result.valid,
                "invalid": s.invalid + result.invalid,
                "batches": s.batches + 1,
            }
        )

    def _fail(self, why: str, unchecked: int = 0) -> None:
        s = self._summary
        failures = s.failures if len(s.failures) >= _FAILURES_KEPT else (*s.failures, why)
        self._summary = s.model_copy(
            update={"unchecked": s.unchecked + unchecked, "failures": failures}
        )

    def _show(self, doing: str) -> None:
        s = self._summary
        workflow.set_current_details(
            f"**POR check**: {doing}. checked {s.checked} (valid {s.valid}, invalid {s.invalid}), "
            f"not checked {s.unchecked}, run {s.runs}"
        )

    @workflow.query(name=names.QUERY_STATUS)
    def status(self) -> PorSweepSummary:
        return self._summary
