"""Deliberately changed copies of the enrollment workflow, registered under the production name,
for `tests/test_replay.py` to prove that the replayer reports a changed command sequence as
non-deterministic. (A module of its own: the workflow sandbox re-imports it for every run.)"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

from workflows import pipeline

with workflow.unsafe.imports_passed_through():
    from contract import names
    from contract.activities.checks import (
        CHECK_AGREEMENT_STATUS,
        VERIFY_PARTNER_ID,
        PartnerIdCheck,
    )
    from domain.reseller_enrollment import EnrollmentResult, ResellerEnrollmentApplication
    from workflows.reseller_enrollment import ResellerEnrollmentWorkflow


@workflow.defn(name=names.RESELLER_ENROLLMENT)
class SkipsTheRegistryLookup(ResellerEnrollmentWorkflow):
    """A refactoring that drops the "already enrolled?" registry lookup from the pre-checks."""

    @workflow.run
    async def run(self, application: ResellerEnrollmentApplication) -> EnrollmentResult:
        return await super().run(application)

    async def _prechecks(self) -> None:
        await pipeline.check(VERIFY_PARTNER_ID, PartnerIdCheck(partner_id=self._app.partner_id))


@workflow.defn(name=names.RESELLER_ENROLLMENT)
class ChecksTheMpaEarly(ResellerEnrollmentWorkflow):
    """A change that adds an activity (an early MPA status check) before the pre-checks."""

    @workflow.run
    async def run(self, application: ResellerEnrollmentApplication) -> EnrollmentResult:
        return await super().run(application)

    async def _prechecks(self) -> None:
        await pipeline.execute(
            CHECK_AGREEMENT_STATUS,
            PartnerIdCheck(partner_id=self._app.partner_id),
            start_to_close=timedelta(seconds=30),
        )
        await super()._prechecks()
