"""A provider acting for a partnered reseller (DOMAIN.md REL-05, seed 003's table; issue 14).

`ResellerCustomer`: prechecks (an Admin or Sales agent; an active partnership, the reseller on
the provider's Partner Center list; the customer in the provider's region; a valid MCA
attestation when one is given) -> Partner Center creates the customer with the reseller as its
associated partner -> the registry records the customer relationship (joint: provider and
reseller), and its MCA attestation when given (CUS-04; without it orders wait for one) -> done.

`SubscriptionSupportContact`: prechecks (an Admin or Sales agent; an active partnership, the
reseller listed; the provider's accepted relationship with the customer, CUS-01) -> Partner
Center sets the subscription's support contact to the reseller -> the registry records it ->
done.

Terminal outcomes: done; refused (a pre-check failed); failed (Partner Center refused, or did not
answer within the retry window). Refused and failed end the workflow with the error type.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

from workflows import pipeline
from workflows.pipeline import PipelineEnded, StageTracker

with workflow.unsafe.imports_passed_through():
    from contract import names, pipelines
    from contract.activities import ActivityRef
    from contract.activities.policies import LOAD_RELATIONSHIP_POLICY
    from contract.activities.provider_operations import (
        CREATE_RESELLER_CUSTOMER,
        OPERATION_FACTS,
        SAVE_SUPPORT_CONTACT,
        SET_SUPPORT_CONTACT,
        CreateCustomerRequest,
        OperationFacts,
        OperationFactsRequest,
        SupportContactChange,
    )
    from contract.activities.relationships import (
        SAVE_CUSTOMER_AGREEMENT,
        SAVE_CUSTOMER_RELATIONSHIP,
    )
    from contract.errors import business_rejection
    from domain.partner_center import (
        CreatedCustomer,
        CustomerAddress,
        NewCustomer,
        PartnerRelationship,
        SupportContact,
    )
    from domain.provider_operations import (
        OperationStage,
        ProviderOperationResult,
        ProviderOperationStatus,
        ResellerCustomerRequest,
        SupportContactRecord,
        SupportContactRequest,
    )
    from domain.relationship_rules import (
        require_can_act_for_reseller,
        require_commerce_relationship,
        require_partnership_active,
        require_same_region,
        require_valid_agreement_attestation,
    )
    from domain.relationships import (
        CustomerAgreementRecord,
        CustomerInvitationStage,
        CustomerRelationshipRecord,
        InvitationKind,
        RelationshipPolicy,
    )

_In = TypeVar("_In")
_Out = TypeVar("_Out")

_PC_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
)
"""Partner Center's transient answers (408, 429, 5xx): backoff until the policy's retry window."""

CREATED_BY_PROVIDER = "created_by_provider"
"""The `acceptance_event` of a customer relationship the provider created (no invitation)."""


async def _facts(
    requested: OperationFactsRequest, purpose: str, *, local: bool
) -> tuple[OperationFacts, PartnerRelationship]:
    """REL-05: the partnership is active in the registry and Partner Center lists the reseller.
    `local`: the read as a local activity (the run took pipeline.lean_lookups)."""
    facts: OperationFacts = await pipeline.check(OPERATION_FACTS, requested, local=local)
    listed = facts.reseller
    status = facts.partnership_status
    if status is not None and (listed is None or not listed.is_active):
        state = listed.state if listed else "not listed"
        status = f"{status} in the registry but {state} in Partner Center's list of resellers"
    pipeline.enforce(
        lambda: require_partnership_active(
            provider_partner_id=requested.provider_partner_id,
            reseller_partner_id=requested.reseller_partner_id,
            status=status,
            purpose=purpose,
        )
    )
    assert listed is not None
    return facts, listed


async def _call_partner_center(
    activity: ActivityRef[_In, _Out], arg: _In, policy: RelationshipPolicy
) -> _Out:
    """One Partner Center change; a refusal or an exhausted retry window ends the pipeline."""
    try:
        return await pipeline.execute(
            activity,
            arg,
            schedule_to_close=policy.order_retry_window,
            retry=_PC_RETRY,
        )
    except ActivityError as err:
        rejection = business_rejection(err)
        if rejection is None:
            raise PipelineEnded(
                OperationStage.FAILED,
                f"Partner Center did not answer within {policy.order_retry_window} of retries: "
                f"{err.cause or err}",
                "PartnerCenterUnavailable",
            ) from err
        raise PipelineEnded(OperationStage.FAILED, rejection.message, rejection.type) from err


def _raise_if_failed(ended: PipelineEnded) -> None:
    if ended.outcome is OperationStage.FAILED:
        raise ApplicationError(ended.reason, type=ended.error_type, non_retryable=True)


@workflow.defn(name=names.RESELLER_CUSTOMER)
class ResellerCustomerWorkflow:
    @pipeline.init_with_input
    def __init__(self, request: ResellerCustomerRequest) -> None:
        self._req = request
        self._policy = RelationshipPolicy()
        self._lean = False
        """Reads run as local activities (pipeline.lean_lookups, decided once per run)."""
        self._stages = StageTracker(OperationStage.PRECHECKS, "pre-checks")
        self._reseller: PartnerRelationship | None = None
        self._created: CreatedCustomer | None = None
        self._ended: PipelineEnded | None = None

    @workflow.run
    async def run(self, request: ResellerCustomerRequest) -> ProviderOperationResult:
        pipeline.require_business_id(pipelines.RESELLER_CUSTOMER.workflow_id_for(request))
        self._lean = pipeline.lean_lookups()
        pipeline.show_partner(request.reseller_partner_id, request.customer_country)
        self._policy = await pipeline.load_policy(LOAD_RELATIONSHIP_POLICY, local=self._lean)
        ended = await pipeline.run_pipeline(
            prechecks=self._prechecks,
            steps=self._steps,
            refused=OperationStage.REFUSED,
            finish=self._finish,
        )
        _raise_if_failed(ended)
        return self._result()

    async def _prechecks(self) -> None:
        self._stages.enter(OperationStage.PRECHECKS, "pre-checks (role, partnership, region)")
        req = self._req
        pipeline.enforce(
            lambda: require_can_act_for_reseller(
                req.requested_by, "add a customer on a reseller's behalf"
            )
        )
        facts, self._reseller = await _facts(
            OperationFactsRequest(
                provider_partner_id=req.provider_partner_id,
                reseller_partner_id=req.reseller_partner_id,
            ),
            "adding a customer on the reseller's behalf",
            local=self._lean,
        )
        pipeline.enforce(  # REG-01
            lambda: require_same_region(
                rule="REG-01",
                first=f"customer {req.customer_name}",
                first_country=req.customer_country,
                second=f"provider {req.provider_partner_id}",
                second_country=facts.provider.country,
            )
        )
        if req.customer_agreement is not None:
            agreement = req.customer_agreement
            pipeline.enforce(  # CUS-04
                lambda: require_valid_agreement_attestation(agreement, now=workflow.now())
            )

    async def _steps(self) -> PipelineEnded:
        req = self._req
        reseller = self._reseller
        assert reseller is not None
        self._stages.enter(
            OperationStage.CALLING_PARTNER_CENTER, "Partner Center to create the customer"
        )
        billing = req.billing
        created = await _call_partner_center(
            CREATE_RESELLER_CUSTOMER,
            CreateCustomerRequest(
                idempotency_key=pipeline.step_key("create-customer"),
                customer=NewCustomer(
                    provider_partner_id=req.provider_partner_id,
                    reseller_partner_id=req.reseller_partner_id,
                    reseller_tenant_id=reseller.partner_tenant_id,
                    domain=req.domain,
                    company_name=req.customer_name,
                    email=billing.email,
                    culture=billing.culture,
                    language=billing.language,
                    address=CustomerAddress(
                        country=req.customer_country,
                        city=billing.city,
                        address_line1=billing.address_line1,
                        postal_code=billing.postal_code,
                        state=billing.state,
                        first_name=billing.first_name,
                        last_name=billing.last_name,
                        phone_number=billing.phone_number,
                    ),
                ),
            ),
            self._policy,
        )
        self._created = created
        customer_id = str(created.customer_id)
        now = workflow.now()
        agreement = req.customer_agreement
        if agreement is not None:
            await pipeline.execute(
                SAVE_CUSTOMER_AGREEMENT,
                CustomerAgreementRecord(
                    customer_tenant_id=customer_id,
                    signer_name=agreement.signer_name,
                    accepted_at=agreement.accepted_at,
                    attested_by=agreement.attested_by,
                    recorded_at=now,
                ),
                start_to_close=pipeline.LOOKUP_TIMEOUT,
            )
        await pipeline.execute(
            SAVE_CUSTOMER_RELATIONSHIP,
            CustomerRelationshipRecord(
                reseller_partner_id=req.reseller_partner_id,
                customer_tenant_id=customer_id,
                kind=InvitationKind.JOINT,
                provider_partner_id=req.provider_partner_id,
                customer_country=req.customer_country,
                status=CustomerInvitationStage.ACTIVE
                if agreement is not None
                else CustomerInvitationStage.MCA_PENDING,
                workflow_id=workflow.info().workflow_id,
                invited_at=now,
                accepted_at=now,
                acceptance_event=CREATED_BY_PROVIDER,
                updated_at=now,
            ),
            start_to_close=pipeline.LOOKUP_TIMEOUT,
        )
        mca = (
            "its Microsoft Customer Agreement is attested"
            if agreement is not None
            else "orders wait for its Microsoft Customer Agreement attestation (CUS-04)"
        )
        return PipelineEnded(
            OperationStage.DONE,
            f"customer {customer_id} ({created.domain}) created for reseller "
            f"{req.reseller_partner_id}; {mca}",
        )

    async def _finish(self, ended: PipelineEnded) -> None:
        self._ended = ended
        self._stages.end(OperationStage(ended.outcome), ended.reason)

    def _result(self) -> ProviderOperationResult:
        ended = self._ended
        return ProviderOperationResult(
            provider_partner_id=self._req.provider_partner_id,
            reseller_partner_id=self._req.reseller_partner_id,
            outcome=self._stages.stage,
            customer_tenant_id=str(self._created.customer_id) if self._created else None,
            reason=ended.reason if ended else None,
            error_type=ended.error_type if ended else None,
        )

    @workflow.query(name=names.QUERY_STATUS)
    def status(self) -> ProviderOperationStatus:
        req = self._req
        return ProviderOperationStatus(
            workflow_id=workflow.info().workflow_id,
            operation=names.RESELLER_CUSTOMER,
            provider_partner_id=req.provider_partner_id,
            reseller_partner_id=req.reseller_partner_id,
            customer_tenant_id=str(self._created.customer_id) if self._created else None,
            region=req.customer_country,
            stage=self._stages.stage,
            waiting_for=self._stages.waiting_for,
            outcome_reason=self._ended.reason if self._ended else None,
            error_type=self._ended.error_type if self._ended else None,
            history=tuple(self._stages.history),
        )


@workflow.defn(name=names.SUBSCRIPTION_SUPPORT_CONTACT)
class SubscriptionSupportContactWorkflow:
    @pipeline.init_with_input
    def __init__(self, request: SupportContactRequest) -> None:
        self._req = request
        self._policy = RelationshipPolicy()
        self._lean = False
        """Reads run as local activities (pipeline.lean_lookups, decided once per run)."""
        self._stages = StageTracker(OperationStage.PRECHECKS, "pre-checks")
        self._region: str | None = None
        self._reseller: PartnerRelationship | None = None
        self._contact: SupportContact | None = None
        self._ended: PipelineEnded | None = None

    @workflow.run
    async def run(self, request: SupportContactRequest) -> ProviderOperationResult:
        pipeline.require_business_id(
            pipelines.SUBSCRIPTION_SUPPORT_CONTACT.workflow_id_for(request)
        )
        self._lean = pipeline.lean_lookups()
        pipeline.show_partner(request.reseller_partner_id)
        self._policy = await pipeline.load_policy(LOAD_RELATIONSHIP_POLICY, local=self._lean)
        ended = await pipeline.run_pipeline(
            prechecks=self._prechecks,
            steps=self._steps,
            refused=OperationStage.REFUSED,
            finish=self._finish,
        )
        _raise_if_failed(ended)
        return self._result()

    async def _prechecks(self) -> None:
        self._stages.enter(
            OperationStage.PRECHECKS, "pre-checks (role, partnership, customer relationship)"
        )
        req = self._req
        customer = str(req.customer_tenant_id)
        pipeline.enforce(
            lambda: require_can_act_for_reseller(
                req.requested_by, "make a reseller a subscription's support contact"
            )
        )
        facts, self._reseller = await _facts(
            OperationFactsRequest(
                provider_partner_id=req.provider_partner_id,
                reseller_partner_id=req.reseller_partner_id,
                customer_tenant_id=customer,
            ),
            "making the reseller a subscription's support contact",
            local=self._lean,
        )
        relationship = pipeline.enforce(  # CUS-01
            lambda: require_commerce_relationship(
                provider_partner_id=req.provider_partner_id,
                customer_tenant_id=customer,
                relationships=facts.customer_relationships,
            )
        )
        self._region = relationship.customer_country
        workflow.upsert_search_attributes([names.SA_REGION.value_set(self._region)])

    async def _steps(self) -> PipelineEnded:
        req = self._req
        reseller = self._reseller
        assert reseller is not None
        self._stages.enter(
            OperationStage.CALLING_PARTNER_CENTER, "Partner Center to set the support contact"
        )
        contact = await _call_partner_center(
            SET_SUPPORT_CONTACT,
            SupportContactChange(
                provider_partner_id=req.provider_partner_id,
                customer_tenant_id=req.customer_tenant_id,
                subscription_id=req.subscription_id,
                contact=SupportContact(
                    support_tenant_id=reseller.partner_tenant_id,
                    support_mpn_id=req.reseller_partner_id,
                    name=reseller.name,
                ),
            ),
            self._policy,
        )
        self._contact = contact
        await pipeline.execute(
            SAVE_SUPPORT_CONTACT,
            SupportContactRecord(
                customer_tenant_id=str(req.customer_tenant_id),
                subscription_id=req.subscription_id,
                provider_partner_id=req.provider_partner_id,
                reseller_partner_id=req.reseller_partner_id,
                reseller_tenant_id=contact.support_tenant_id,
                reseller_name=contact.name,
                workflow_id=workflow.info().workflow_id,
                set_at=workflow.now(),
                set_by=req.requested_by.user,
            ),
            start_to_close=pipeline.LOOKUP_TIMEOUT,
        )
        return PipelineEnded(
            OperationStage.DONE,
            f"reseller {req.reseller_partner_id} ({contact.name}) is the support contact of "
            f"subscription {req.subscription_id}",
        )

    async def _finish(self, ended: PipelineEnded) -> None:
        self._ended = ended
        self._stages.end(OperationStage(ended.outcome), ended.reason)

    def _result(self) -> ProviderOperationResult:
        ended = self._ended
        return ProviderOperationResult(
            provider_partner_id=self._req.provider_partner_id,
            reseller_partner_id=self._req.reseller_partner_id,
            outcome=self._stages.stage,
            customer_tenant_id=str(self._req.customer_tenant_id),
            subscription_id=self._req.subscription_id,
            reason=ended.reason if ended else None,
            error_type=ended.error_type if ended else None,
        )

    @workflow.query(name=names.QUERY_STATUS)
    def status(self) -> ProviderOperationStatus:
        req = self._req
        return ProviderOperationStatus(
            workflow_id=workflow.info().workflow_id,
            operation=names.SUBSCRIPTION_SUPPORT_CONTACT,
            provider_partner_id=req.provider_partner_id,
            reseller_partner_id=req.reseller_partner_id,
            customer_tenant_id=str(req.customer_tenant_id),
            subscription_id=req.subscription_id,
            region=self._region,
            stage=self._stages.stage,
            waiting_for=self._stages.waiting_for,
            outcome_reason=self._ended.reason if self._ended else None,
            error_type=self._ended.error_type if self._ended else None,
            history=tuple(self._stages.history),
        )
