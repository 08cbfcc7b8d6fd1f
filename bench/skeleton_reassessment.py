"""The no-op skeleton of a passing security-only `PartnerReassessment` in a lean run
(tests/test_bench_reassessment_skeleton_shape.py holds it to production's shape)."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from bench.skeletons import enter, lean, lookup, passed_outcome, report_to_sweep, write
    from contract import names
    from domain.reassessment import ReassessmentOutcome, ReassessmentRequest
    from workflows.pipeline import (
        LEAN_STEPS_PATCH,
        STEP_TIMEOUT,
        partner_attributes_not_set,
        started_lean,
    )


@workflow.defn(name=names.PARTNER_REASSESSMENT)
class SkeletonPartnerReassessment:
    """The shape of a passing security-only `PartnerReassessment` in a lean run: the
    `lean-steps` marker only when the sweep did not start it (it does here), 3 reads and the
    status change as local activities (policy, direct-bill record, security check; the status
    change with `pipeline.record`'s timeout), one upsert (the
    passed stage and its outcome, with the partner and its region unless the sweep started the
    run with them, as it does: production enters the security
    check without showing it, as it leaves that stage in the same workflow task), one activity
    (the passed email), then one signal to the sweep, after the email as production sends it."""

    @workflow.run
    async def run(self, request: ReassessmentRequest) -> ReassessmentOutcome:
        if not started_lean():
            lean(LEAN_STEPS_PATCH)  # the sweep starts it lean: no marker
        await lookup("load_reassessment_policy")
        await lookup("get_direct_bill_record", STEP_TIMEOUT)
        await lookup("check_direct_bill_security", STEP_TIMEOUT)
        await lookup("change_direct_bill_status")
        passed = [names.SA_OUTCOME.value_set("passed")]
        partner = partner_attributes_not_set(request.pga_id, request.region)
        enter("reassessment_passed", [*partner, *passed])
        await write("send_email")
        outcome = passed_outcome(request)
        await report_to_sweep(request, outcome)
        return outcome
