"""The pipeline catalogue: what operators start and what backends report, as two tables.

`PIPELINES`: what an operator can start (`csp start`), with its input model and workflow id.
`DECISIONS`: what backends report to a running pipeline (signed `POST /callbacks/...` on the
gateway) and operators send with `csp decide`: the Temporal update, the payload model and which
backends may report it. The gateway's routes, its OpenAPI document and the CLI are generated from
these tables, so a new pipeline or decision is one entry here. (The schedules are the table in
runtime/schedules.py.)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from contract import names
from domain.capability_assessment import AssessmentScore, CapabilityQuestionnaire
from domain.direct_bill import (
    CreditReviewRequest,
    DirectBillApplication,
    EnrollmentForm,
    InformationAnswer,
    InformationRequest,
    MicrosoftDecision,
    MpaAcceptance,
    SupportPlanPurchase,
)
from domain.gdap_restoration import GdapRegrantReport, GdapRestorationRequest
from domain.messages import Acknowledgement, Withdrawal
from domain.provider_operations import (
    ResellerCustomerRequest,
    SubscriptionResellerRequest,
    SupportContactRequest,
)
from domain.reassessment import (
    PassingScoreNotice,
    PlanRenewal,
    ReassessmentRequest,
    SecurityRemediation,
    TransitionRequest,
)
from domain.relationships import (
    CustomerAcceptance,
    CustomerInvitationRequest,
    PartnerOfRecordFix,
    PartnershipAcceptance,
    PartnershipRequest,
    SubscriptionOrderRequest,
)
from domain.reseller_enrollment import (
    MpaSignatureReport,
    ResellerEnrollmentApplication,
    ReviewDecision,
)
from domain.reseller_exit import ResellerExitRequest, SupportCaseOpened, SupportOutcome
from domain.transition import ProviderChoice

# ---- tables ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PathKey:
    """One path segment naming the pipeline instance (e.g. the PartnerID)."""

    name: str
    pattern: str
    description: str
    example: str

    def matches(self, value: str) -> bool:
        return re.fullmatch(self.pattern, value) is not None


@dataclass(frozen=True)
class Pipeline:
    name: str
    """Route segment and CLI name, e.g. `reseller-enrollment`."""
    workflow_type: str
    input_model: type[BaseModel]
    keys: tuple[PathKey, ...]
    workflow_id: Callable[..., str]
    """Workflow id from the key values (keyword arguments named as `keys`)."""
    keys_of: Callable[[Any], dict[str, str]]
    """Key values from a validated input."""
    description: str

    def workflow_id_for(self, validated_input: Any) -> str:
        return self.workflow_id(**self.keys_of(validated_input))

    def start_summary(self, validated_input: Any) -> str:
        """The Web UI's one-line summary of a started pipeline: type, business key, region.
        Never personal data (no names, no emails): the UI shows it unencrypted."""
        keys = ", ".join(f"{k} {v}" for k, v in self.keys_of(validated_input).items())
        region = region_of(validated_input)
        where = f" in {region}" if region and region not in keys else ""
        return f"{self.workflow_type}: {keys}{where}"

    def start_details(self, validated_input: Any) -> str:
        """The Web UI's details of a started pipeline (Markdown), same rule as the summary."""
        lines = [f"**Pipeline**: {self.name} (`{self.workflow_type}`)"]
        lines += [f"**{k}**: {v}" for k, v in self.keys_of(validated_input).items()]
        region = region_of(validated_input)
        if region:
            lines.append(f"**Region**: {region}")
        lines.append(self.description)
        return "\n\n".join(lines)


def region_of(validated_input: Any) -> str | None:
    """The CSP region a pipeline's input names, if any (region, address or customer country)."""
    for candidate in (
        getattr(validated_input, "region", None),
        getattr(getattr(validated_input, "address", None), "country", None),
        getattr(validated_input, "customer_country", None),
    ):
        if isinstance(candidate, str) and candidate:
            return candidate
    return None


@dataclass(frozen=True)
class Decision:
    pipeline: Pipeline
    name: str
    """Route segment and CLI name, e.g. `review-decision`."""
    update: str
    payload: type[BaseModel]
    backends: frozenset[str]
    """Backends whose shared secret may sign this callback."""
    summary: str
    result: type[BaseModel] = Acknowledgement


_PARTNER_ID = PathKey(
    name="partner_id",
    pattern=r"^[0-9]{5,10}$",
    description="PartnerID (MPN ID) of the enrolling location",
    example="4512345",
)

RESELLER_ENROLLMENT = Pipeline(
    name="reseller-enrollment",
    workflow_type=names.RESELLER_ENROLLMENT,
    input_model=ResellerEnrollmentApplication,
    keys=(_PARTNER_ID,),
    workflow_id=names.reseller_enrollment_id,
    keys_of=lambda app: {"partner_id": app.partner_id},
    description="Indirect-reseller enrollment with email verification (ENR-01..09)",
)

_PGA = PathKey(
    name="pga_id",
    pattern=r"^[0-9]{5,10}$",
    description="PartnerID of the partner global account (PGA)",
    example="4500001",
)
_REGION = PathKey(
    name="region",
    pattern=r"^[A-Z]{2}$",
    description="ISO 3166-1 alpha-2 country/region of the direct-bill tenant",
    example="JP",
)
_YEAR = PathKey(
    name="year", pattern=r"^20[0-9]{2}$", description="Year of the re-assessment", example="2026"
)

DIRECT_BILL = Pipeline(
    name="direct-bill",
    workflow_type=names.DIRECT_BILL_APPLICATION,
    input_model=DirectBillApplication,
    keys=(_PGA, _REGION),
    workflow_id=names.direct_bill_id,
    keys_of=lambda app: {"pga_id": app.pga_id, "region": app.region},
    description="Direct-bill application for one PGA and region (DB-01..DB-11)",
)

CREDIT_REVIEW = Pipeline(
    name="credit-review",
    workflow_type=names.CREDIT_REVIEW,
    input_model=CreditReviewRequest,
    keys=(_PGA, _REGION),
    workflow_id=lambda pga_id, region: names.credit_review_id(names.direct_bill_id(pga_id, region)),
    keys_of=lambda request: {"pga_id": request.pga_id, "region": request.region},
    description="Credit review of a direct-bill application (started by it, DB-09)",
)

REASSESSMENT = Pipeline(
    name="reassessment",
    workflow_type=names.PARTNER_REASSESSMENT,
    input_model=ReassessmentRequest,
    keys=(_PGA, _REGION, _YEAR),
    workflow_id=lambda pga_id, region, year: names.reassessment_id(pga_id, region, int(year)),
    keys_of=lambda request: {
        "pga_id": request.pga_id,
        "region": request.region,
        "year": str(request.month.year),
    },
    description="A direct-bill partner's annual re-assessment (RA-01; started by the sweep)",
)


def _transition_keys(request: TransitionRequest) -> dict[str, str]:
    if request.year is None:
        raise ValueError(
            "a transition's input names the re-assessment year it follows (`year`): its "
            "workflow id is transition-<PGA>-<region>-<year>"
        )
    return {"pga_id": request.pga_id, "region": request.region, "year": str(request.year)}


TRANSITION = Pipeline(
    name="transition-to-indirect",
    workflow_type=names.TRANSITION_TO_INDIRECT,
    input_model=TransitionRequest,
    keys=(_PGA, _REGION, _YEAR),
    workflow_id=lambda pga_id, region, year: names.transition_id(pga_id, region, int(year)),
    keys_of=_transition_keys,
    description="A direct-bill partner's move back to indirect reseller with a provider of its "
    "region (RA-02..RA-04; started by its re-assessment)",
)

_PROVIDER = PathKey(
    name="provider_partner_id",
    pattern=r"^[0-9]{5,10}$",
    description="PartnerID of the indirect provider",
    example="3456789",
)
_RESELLER = PathKey(
    name="reseller_partner_id",
    pattern=r"^[0-9]{5,10}$",
    description="PartnerID of the indirect reseller",
    example="4512345",
)
_CUSTOMER = PathKey(
    name="customer_tenant_id",
    pattern=r"^[0-9a-fA-F-]{36}$",
    description="The customer's Entra tenant id",
    example="d2a7c1e4-0b6f-4c3a-9e8d-7f6a5b4c3d2e",
)
_ORDER = PathKey(
    name="order_ref",
    pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$",
    description="The provider's order reference",
    example="PO-2026-0042",
)

PARTNERSHIP = Pipeline(
    name="partnership",
    workflow_type=names.PARTNERSHIP,
    input_model=PartnershipRequest,
    keys=(_PROVIDER, _RESELLER),
    workflow_id=names.partnership_id,
    keys_of=lambda r: {
        "provider_partner_id": r.provider_partner_id,
        "reseller_partner_id": r.reseller_partner_id,
    },
    description="Provider-reseller partnership (REL-01..05, END-01..02)",
)

CUSTOMER_INVITATION = Pipeline(
    name="customer-invitation",
    workflow_type=names.CUSTOMER_INVITATION,
    input_model=CustomerInvitationRequest,
    keys=(_RESELLER, _CUSTOMER),
    workflow_id=names.customer_invitation_id,
    keys_of=lambda r: {
        "reseller_partner_id": r.reseller_partner_id,
        "customer_tenant_id": str(r.customer_tenant_id),
    },
    description="Customer invitation, joint or reseller-only (CUS-01..04)",
)

SUBSCRIPTION_ORDER = Pipeline(
    name="subscription-order",
    workflow_type=names.SUBSCRIPTION_ORDER,
    input_model=SubscriptionOrderRequest,
    keys=(_PROVIDER, _ORDER),
    workflow_id=names.subscription_order_id,
    keys_of=lambda r: {"provider_partner_id": r.provider_partner_id, "order_ref": r.order_ref},
    description="A subscription order with its Partner-of-Record validation (POR-01..05)",
)

_DOMAIN_PREFIX = PathKey(
    name="domain_prefix",
    pattern=r"^[a-z0-9][a-z0-9-]{0,26}$",
    description="The new customer's <prefix>.onmicrosoft.com label",
    example="minatoshoji",
)
_SUBSCRIPTION = PathKey(
    name="subscription_id",
    pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
    description="The Partner Center subscription id (lower case)",
    example="6f1e2d3c-4b5a-4987-8c6d-5e4f3a2b1c0d",
)

RESELLER_CUSTOMER = Pipeline(
    name="reseller-customer",
    workflow_type=names.RESELLER_CUSTOMER,
    input_model=ResellerCustomerRequest,
    keys=(_PROVIDER, _DOMAIN_PREFIX),
    workflow_id=names.reseller_customer_id,
    keys_of=lambda r: {
        "provider_partner_id": r.provider_partner_id,
        "domain_prefix": r.domain_prefix,
    },
    description="A new customer added on a partnered reseller's behalf (REL-05)",
)

SUBSCRIPTION_SUPPORT_CONTACT = Pipeline(
    name="support-contact",
    workflow_type=names.SUBSCRIPTION_SUPPORT_CONTACT,
    input_model=SupportContactRequest,
    keys=(_PROVIDER, _SUBSCRIPTION),
    workflow_id=names.support_contact_id,
    keys_of=lambda r: {
        "provider_partner_id": r.provider_partner_id,
        "subscription_id": r.subscription_id,
    },
    description="A partnered reseller made a subscription's support contact (REL-05)",
)

SUBSCRIPTION_RESELLER = Pipeline(
    name="subscription-reseller",
    workflow_type=names.SUBSCRIPTION_RESELLER,
    input_model=SubscriptionResellerRequest,
    keys=(_PROVIDER, _SUBSCRIPTION),
    workflow_id=names.subscription_reseller_id,
    keys_of=lambda r: {
        "provider_partner_id": r.provider_partner_id,
        "subscription_id": r.subscription_id,
    },
    description="An existing subscription names an indirect reseller as its POR (REL-06)",
)

_CURRENT_PROVIDER = PathKey(
    name="provider_partner_id",
    pattern=r"^[0-9]{5,10}$",
    description="PartnerID of the provider the reseller leaves",
    example="3456789",
)

RESELLER_EXIT = Pipeline(
    name="reseller-exit",
    workflow_type=names.RESELLER_EXIT,
    input_model=ResellerExitRequest,
    keys=(_RESELLER, _CURRENT_PROVIDER),
    workflow_id=names.reseller_exit_id,
    keys_of=lambda r: {
        "reseller_partner_id": r.reseller_partner_id,
        "provider_partner_id": r.provider_partner_id,
    },
    description="A reseller ends or moves its provider relationship via Microsoft Support (END-03)",
)

_REINSTATED = PathKey(
    name="reinstated",
    pattern=r"^[0-9]{14}$",
    description="When the reseller's tenant was reinstated, YYYYMMDDHHMMSS (UTC)",
    example="20260301090000",
)

GDAP_RESTORATION = Pipeline(
    name="gdap-restoration",
    workflow_type=names.GDAP_RESTORATION,
    input_model=GdapRestorationRequest,
    keys=(_RESELLER, _REINSTATED),
    workflow_id=names.gdap_restoration_id,
    keys_of=lambda r: {
        "reseller_partner_id": r.reseller_partner_id,
        "reinstated": names.reinstated_stamp(r.reinstated_at),
    },
    description="GDAP granted again per customer after a reinstatement (POR-04; started by "
    "the partnership)",
)

PIPELINES: tuple[Pipeline, ...] = (
    RESELLER_ENROLLMENT,
    DIRECT_BILL,
    CREDIT_REVIEW,
    REASSESSMENT,
    TRANSITION,
    PARTNERSHIP,
    CUSTOMER_INVITATION,
    SUBSCRIPTION_ORDER,
    RESELLER_CUSTOMER,
    SUBSCRIPTION_SUPPORT_CONTACT,
    SUBSCRIPTION_RESELLER,
    RESELLER_EXIT,
    GDAP_RESTORATION,
)


def _direct_bill(
    name: str,
    update: str,
    payload: type[BaseModel],
    backends: set[str],
    summary: str,
    result: type[BaseModel] = Acknowledgement,
) -> Decision:
    return Decision(
        pipeline=DIRECT_BILL,
        name=name,
        update=update,
        payload=payload,
        backends=frozenset(backends),
        summary=summary,
        result=result,
    )


DECISIONS: tuple[Decision, ...] = (
    Decision(
        pipeline=RESELLER_ENROLLMENT,
        name="review-decision",
        update=names.UPDATE_DECIDE_REVIEW,
        payload=ReviewDecision,
        backends=frozenset({"review"}),
        summary="Microsoft's review decision, approve or reject (ENR-07)",
    ),
    Decision(
        pipeline=RESELLER_ENROLLMENT,
        name="mpa-signed",
        update=names.UPDATE_REPORT_MPA_SIGNED,
        payload=MpaSignatureReport,
        backends=frozenset({"partner-center", "operations"}),
        summary="The MPA was signed: the pipeline re-checks Partner Center now (ENR-09)",
    ),
    Decision(
        pipeline=RESELLER_ENROLLMENT,
        name="withdrawal",
        update=names.UPDATE_WITHDRAW,
        payload=Withdrawal,
        backends=frozenset({"operations"}),
        summary="The partner withdraws its enrollment",
    ),
    _direct_bill(
        "initial-review",
        names.UPDATE_REPORT_INITIAL_REVIEW,
        MicrosoftDecision,
        {"review"},
        "Microsoft's check of the initial requirements (DB-08)",
    ),
    _direct_bill(
        "information-request",
        names.UPDATE_REQUEST_INFORMATION,
        InformationRequest,
        {"review"},
        "Microsoft asks for more information; the application pauses (DB-08)",
    ),
    _direct_bill(
        "information-answer",
        names.UPDATE_ANSWER_INFORMATION,
        InformationAnswer,
        {"operations"},
        "The applicant's answer to an information request (DB-08)",
    ),
    _direct_bill(
        "assessment",
        names.UPDATE_SUBMIT_ASSESSMENT,
        CapabilityQuestionnaire,
        {"assessment"},
        "The capability assessment; answers the score (DB-06)",
        result=AssessmentScore,
    ),
    _direct_bill(
        "application-decision",
        names.UPDATE_DECIDE_APPLICATION,
        MicrosoftDecision,
        {"review"},
        "Microsoft's decision on the application (DB-08)",
    ),
    _direct_bill(
        "enrollment-form",
        names.UPDATE_SUBMIT_ENROLLMENT_FORM,
        EnrollmentForm,
        {"partner-center", "operations"},
        "The enrollment form was submitted (DB-09)",
    ),
    _direct_bill(
        "support-plan",
        names.UPDATE_REPORT_SUPPORT_PLAN,
        SupportPlanPurchase,
        {"billing"},
        "A premium support plan was bought, after credit approval (DB-09)",
    ),
    _direct_bill(
        "mpa-accepted",
        names.UPDATE_REPORT_MPA_ACCEPTED,
        MpaAcceptance,
        {"partner-center", "operations"},
        "The MPA was accepted, after the support plan (DB-09)",
    ),
    _direct_bill(
        "withdrawal",
        names.UPDATE_WITHDRAW,
        Withdrawal,
        {"operations"},
        "The applicant withdraws the application",
    ),
    Decision(
        pipeline=CREDIT_REVIEW,
        name="credit-decision",
        update=names.UPDATE_DECIDE_CREDIT,
        payload=MicrosoftDecision,
        backends=frozenset({"credit"}),
        summary="The credit team's decision (DB-09)",
    ),
    Decision(
        pipeline=PARTNERSHIP,
        name="accepted",
        update=names.UPDATE_REPORT_PARTNERSHIP_ACCEPTED,
        payload=PartnershipAcceptance,
        backends=frozenset({"partner-center", "operations"}),
        summary="The reseller accepted the partnership request (REL-04)",
    ),
    Decision(
        pipeline=CUSTOMER_INVITATION,
        name="reseller-relationship-accepted-by-customer",
        update=names.UPDATE_RESELLER_RELATIONSHIP_ACCEPTED,
        payload=CustomerAcceptance,
        backends=frozenset({"partner-center"}),
        summary="Partner Center webhook: the customer accepted the invitation (CUS-03)",
    ),
    Decision(
        pipeline=CUSTOMER_INVITATION,
        name="indirect-reseller-relationship-accepted-by-customer",
        update=names.UPDATE_INDIRECT_RESELLER_RELATIONSHIP_ACCEPTED,
        payload=CustomerAcceptance,
        backends=frozenset({"partner-center"}),
        summary="Partner Center webhook: the customer accepted the invitation (CUS-03)",
    ),
    Decision(
        pipeline=SUBSCRIPTION_ORDER,
        name="partner-of-record-fix",
        update=names.UPDATE_FIX_PARTNER_OF_RECORD,
        payload=PartnerOfRecordFix,
        backends=frozenset({"operations"}),
        summary="A corrected Partner of Record; the blocked order is re-validated (POR-03)",
    ),
    Decision(
        pipeline=SUBSCRIPTION_RESELLER,
        name="partner-of-record-fix",
        update=names.UPDATE_FIX_PARTNER_OF_RECORD,
        payload=PartnerOfRecordFix,
        backends=frozenset({"operations"}),
        summary="A corrected reseller for the subscription; re-validated (REL-06, POR-03)",
    ),
    Decision(
        pipeline=SUBSCRIPTION_RESELLER,
        name="withdrawal",
        update=names.UPDATE_WITHDRAW,
        payload=Withdrawal,
        backends=frozenset({"operations"}),
        summary="The provider gives up naming a reseller on the blocked subscription",
    ),
    Decision(
        pipeline=RESELLER_EXIT,
        name="support-case",
        update=names.UPDATE_RECORD_SUPPORT_CASE,
        payload=SupportCaseOpened,
        backends=frozenset({"operations"}),
        summary="The Microsoft Support case the reseller opened (END-03)",
    ),
    Decision(
        pipeline=RESELLER_EXIT,
        name="support-outcome",
        update=names.UPDATE_REPORT_SUPPORT_OUTCOME,
        payload=SupportOutcome,
        backends=frozenset({"operations"}),
        summary="Microsoft Support's outcome: ended, moved or declined (END-03)",
    ),
    Decision(
        pipeline=RESELLER_EXIT,
        name="withdrawal",
        update=names.UPDATE_WITHDRAW,
        payload=Withdrawal,
        backends=frozenset({"operations"}),
        summary="The reseller withdraws its exit request",
    ),
    Decision(
        pipeline=GDAP_RESTORATION,
        name="gdap-regranted",
        update=names.UPDATE_REPORT_GDAP_REGRANTED,
        payload=GdapRegrantReport,
        backends=frozenset({"partner-center", "operations"}),
        summary="Delegated admin to one customer was granted again (POR-04)",
    ),
    Decision(
        pipeline=REASSESSMENT,
        name="questionnaire",
        update=names.UPDATE_SUBMIT_REASSESSMENT,
        payload=CapabilityQuestionnaire,
        backends=frozenset({"assessment"}),
        summary="The re-assessment questionnaire; answers the local score, advice only (RA-01)",
        result=AssessmentScore,
    ),
    Decision(
        pipeline=REASSESSMENT,
        name="security-remediated",
        update=names.UPDATE_REPORT_SECURITY_REMEDIATED,
        payload=SecurityRemediation,
        backends=frozenset({"partner-center", "operations"}),
        summary="The failed security re-validation was fixed; checked again (DB-04)",
    ),
    Decision(
        pipeline=REASSESSMENT,
        name="passing-score",
        update=names.UPDATE_REPORT_PASSING_SCORE,
        payload=PassingScoreNotice,
        backends=frozenset({"assessment"}),
        summary="Microsoft's re-assessment score notice: passed or not; it decides (RA-01)",
    ),
    Decision(
        pipeline=REASSESSMENT,
        name="support-plan-renewal",
        update=names.UPDATE_REPORT_PLAN_RENEWAL,
        payload=PlanRenewal,
        backends=frozenset({"billing"}),
        summary="The premium support plan was renewed after a passing score (RA-01)",
    ),
    Decision(
        pipeline=TRANSITION,
        name="choose-provider",
        update=names.UPDATE_CHOOSE_INDIRECT_PROVIDER,
        payload=ProviderChoice,
        backends=frozenset({"operations"}),
        summary="The partner's authorized indirect provider in its CSP region; the partnership "
        "runs as the transition's child (RA-04)",
    ),
)


def find_pipeline(name: str) -> Pipeline | None:
    return next((p for p in PIPELINES if p.name == name), None)


def find_decision(pipeline: str, name: str) -> Decision | None:
    """By route name (`review-decision`) or update name (`decide_review`)."""
    return next(
        (d for d in DECISIONS if d.pipeline.name == pipeline and name in (d.name, d.update)),
        None,
    )
