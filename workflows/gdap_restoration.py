"""Delegated admin (GDAP) granted again after a reseller's reinstatement (DOMAIN.md POR-04;
issue 14). Started by the partnership pipeline when the reseller's tenant is reinstated.

the customers whose GDAP the suspension revoked (registry) -> none: nothing_to_restore; else
operations are mailed the list -> awaiting_regrants: `report_gdap_regranted` per customer (the
registry's revocation mark is cleared) -> restored once all are; at `gdap_regrant_window` the
customers still pending are recorded as given up -> given_up.
"""

from __future__ import annotations

from temporalio import workflow

from workflows import pipeline
from workflows.pipeline import PipelineEnded, StageTracker

with workflow.unsafe.imports_passed_through():
    from contract import names, pipelines
    from contract.activities.policies import LOAD_RELATIONSHIP_POLICY
    from contract.activities.provider_operations import (
        LIST_GDAP_REVOKED_CUSTOMERS,
        RESTORE_CUSTOMER_GDAP,
        CustomerGdapRestored,
        OperationFactsRequest,
    )
    from domain.errors import DecisionInvalid
    from domain.gdap_restoration import (
        CustomerGdap,
        CustomerGdapState,
        GdapRegrantReport,
        GdapRestorationRequest,
        GdapRestorationResult,
        GdapRestorationStage,
        GdapRestorationStatus,
    )
    from domain.messages import Acknowledgement
    from domain.notifications import EmailFacts, EmailKind
    from domain.relationships import RelationshipPolicy


@workflow.defn(name=names.GDAP_RESTORATION)
class GdapRestorationWorkflow:
    @pipeline.init_with_input
    def __init__(self, request: GdapRestorationRequest) -> None:
        self._req = request
        self._policy = RelationshipPolicy()
        self._lean = False
        """Reads run as local activities (pipeline.lean_lookups, decided once per run)."""
        self._stages = StageTracker(
            GdapRestorationStage.AWAITING_REGRANTS, "the customers whose GDAP was revoked"
        )
        self._customers: dict[str, CustomerGdap] = {}
        self._listed = False
        self._ended: PipelineEnded | None = None

    @workflow.run
    async def run(self, request: GdapRestorationRequest) -> GdapRestorationResult:
        pipeline.require_business_id(pipelines.GDAP_RESTORATION.workflow_id_for(request))
        self._lean = pipeline.lean_lookups()
        pipeline.show_partner(request.reseller_partner_id)
        self._policy = await pipeline.load_policy(LOAD_RELATIONSHIP_POLICY, local=self._lean)
        ended = await pipeline.run_pipeline(
            prechecks=self._list,
            steps=self._steps,
            refused=GdapRestorationStage.NOTHING_TO_RESTORE,
            finish=self._finish,
        )
        return GdapRestorationResult(
            reseller_partner_id=request.reseller_partner_id,
            outcome=GdapRestorationStage(ended.outcome),
            customers=tuple(self._customers.values()),
            reason=ended.reason,
        )

    async def _list(self) -> None:
        listed = await pipeline.lookup(
            LIST_GDAP_REVOKED_CUSTOMERS,
            OperationFactsRequest(
                provider_partner_id=self._req.provider_partner_id,
                reseller_partner_id=self._req.reseller_partner_id,
            ),
            local=self._lean,
        )
        self._customers = {
            c: CustomerGdap(customer_tenant_id=c, state=CustomerGdapState.PENDING)
            for c in listed.customer_tenant_ids
        }
        self._listed = True

    async def _steps(self) -> PipelineEnded:
        req = self._req
        if not self._customers:
            return PipelineEnded(
                GdapRestorationStage.NOTHING_TO_RESTORE,
                f"no customer of reseller {req.reseller_partner_id} is marked as having lost "
                "delegated admin",
            )
        deadline = workflow.now() + self._policy.gdap_regrant_window
        self._stages.enter(
            GdapRestorationStage.AWAITING_REGRANTS,
            f"delegated admin granted again to {len(self._customers)} customer(s) "
            f"({names.UPDATE_REPORT_GDAP_REGRANTED} per customer)",
            deadline,
        )
        await pipeline.send_email(
            EmailFacts(
                kind=EmailKind.GDAP_REGRANT_NEEDED,
                to=self._policy.operations_email,
                partner_id=req.reseller_partner_id,
                recipient_name="CSP operations",
                legal_name=f"reseller PartnerID {req.reseller_partner_id}",
                reason="\n".join(f"- customer {c}" for c in self._customers)
                + f"\n(send {names.UPDATE_REPORT_GDAP_REGRANTED} to workflow "
                f"{workflow.info().workflow_id} for each)",
                deadline=deadline,
            ),
            "regrant-needed",
        )
        try:
            await workflow.wait_condition(
                lambda: not self._pending(),
                timeout=deadline - workflow.now(),
                timeout_summary="delegated admin granted again",
            )
        except TimeoutError:
            given_up = self._pending()
            for customer in given_up:
                self._customers[customer] = CustomerGdap(
                    customer_tenant_id=customer,
                    state=CustomerGdapState.GIVEN_UP,
                    at=workflow.now(),
                )
            return PipelineEnded(
                GdapRestorationStage.GIVEN_UP,
                f"{len(given_up)} customer(s) without delegated admin by {deadline.isoformat()}: "
                + ", ".join(given_up),
            )
        return PipelineEnded(
            GdapRestorationStage.RESTORED,
            f"delegated admin granted again to all {len(self._customers)} customer(s)",
        )

    def _pending(self) -> list[str]:
        return [
            c for c, state in self._customers.items() if state.state is CustomerGdapState.PENDING
        ]

    async def _finish(self, ended: PipelineEnded) -> None:
        self._ended = ended
        self._stages.end(GdapRestorationStage(ended.outcome), ended.reason)

    # ---- update and query ---------------------------------------------------------------------

    @workflow.update(name=names.UPDATE_REPORT_GDAP_REGRANTED)
    async def report_gdap_regranted(self, report: GdapRegrantReport) -> Acknowledgement:
        customer = str(report.customer_tenant_id)
        await pipeline.execute(
            RESTORE_CUSTOMER_GDAP,
            CustomerGdapRestored(
                reseller_partner_id=self._req.reseller_partner_id, customer_tenant_id=customer
            ),
            start_to_close=pipeline.LOOKUP_TIMEOUT,
        )
        self._customers[customer] = CustomerGdap(
            customer_tenant_id=customer,
            state=CustomerGdapState.REGRANTED,
            at=workflow.now(),
            reported_by=report.reported_by,
        )
        left = len(self._pending())
        return Acknowledgement(
            stage=self._stages.stage.value,
            message=f"delegated admin to customer {customer} recorded as granted again; "
            f"{left} customer(s) left",
        )

    @report_gdap_regranted.validator
    def _validate_regranted(self, report: GdapRegrantReport) -> None:
        if self._stages.stage is not GdapRestorationStage.AWAITING_REGRANTS or not self._listed:
            raise pipeline.wrong_stage(
                f"GDAP restoration for reseller {self._req.reseller_partner_id} is at stage "
                f"{self._stages.stage.value}, not awaiting_regrants",
                self._stages.stage.value,
            )
        customer = str(report.customer_tenant_id)
        state = self._customers.get(customer)
        if state is None or state.state is not CustomerGdapState.PENDING:
            pending = ", ".join(self._pending()) or "none"
            raise pipeline.refuse(
                DecisionInvalid(
                    f"customer {customer} is not waiting for delegated admin from reseller "
                    f"{self._req.reseller_partner_id} (pending: {pending})",
                    customer_tenant_id=customer,
                )
            )

    @workflow.query(name=names.QUERY_STATUS)
    def status(self) -> GdapRestorationStatus:
        return GdapRestorationStatus(
            workflow_id=workflow.info().workflow_id,
            provider_partner_id=self._req.provider_partner_id,
            reseller_partner_id=self._req.reseller_partner_id,
            stage=self._stages.stage,
            waiting_for=self._stages.waiting_for,
            deadline=self._stages.deadline,
            customers=tuple(self._customers.values()),
            outcome_reason=self._ended.reason if self._ended else None,
            history=tuple(self._stages.history),
        )
