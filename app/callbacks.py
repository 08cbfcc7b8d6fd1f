"""The operator and backend interface as tables.

`PIPELINES`: what an operator can start (`csp start`), with its input model and workflow id.
`DECISIONS`: what backends report to a running pipeline (signed `POST /callbacks/...` on the
gateway) and operators send with `csp decide`: the route, the Temporal update, the payload model
and which backends may call it. The gateway's routes, its OpenAPI document and the CLI are
generated from these tables, so a new pipeline or decision is one entry here. (The schedules
`csp schedules ensure` keeps are the table in app/schedules.py.)

The signature rules (HMAC-SHA256 over `<timestamp>.<raw body>`, per-backend secret, freshness
window) are pure functions here too, tested at their edges.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

from pydantic import BaseModel

from app import contract
from domain.capability_assessment import AssessmentScore, CapabilityQuestionnaire
from domain.direct_bill import (
    DirectBillApplication,
    EnrollmentForm,
    InformationAnswer,
    InformationRequest,
    MicrosoftDecision,
    MpaAcceptance,
    SupportPlanPurchase,
)
from domain.reassessment import PlanRenewal, ReassessmentRequest
from domain.relationships import (
    CustomerAcceptance,
    CustomerInvitationRequest,
    PartnerOfRecordFix,
    PartnershipAcceptance,
    PartnershipRequest,
    SubscriptionOrderRequest,
)
from domain.reseller_enrollment import (
    Acknowledgement,
    MpaSignatureReport,
    ResellerEnrollmentApplication,
    ReviewDecision,
    Withdrawal,
)
from workflows.credit_review import CreditReviewRequest

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

    @property
    def path(self) -> str:
        keys = "/".join(f"{{{k.name}}}" for k in self.pipeline.keys)
        return f"/callbacks/{self.pipeline.name}/{keys}/{self.name}"


_PARTNER_ID = PathKey(
    name="partner_id",
    pattern=r"^[0-9]{5,10}$",
    description="PartnerID (MPN ID) of the enrolling location",
    example="4512345",
)

RESELLER_ENROLLMENT = Pipeline(
    name="reseller-enrollment",
    workflow_type=contract.RESELLER_ENROLLMENT,
    input_model=ResellerEnrollmentApplication,
    keys=(_PARTNER_ID,),
    workflow_id=contract.reseller_enrollment_id,
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
    workflow_type=contract.DIRECT_BILL_APPLICATION,
    input_model=DirectBillApplication,
    keys=(_PGA, _REGION),
    workflow_id=contract.direct_bill_id,
    keys_of=lambda app: {"pga_id": app.pga_id, "region": app.region},
    description="Direct-bill application for one PGA and region (DB-01..DB-11)",
)

CREDIT_REVIEW = Pipeline(
    name="credit-review",
    workflow_type=contract.CREDIT_REVIEW,
    input_model=CreditReviewRequest,
    keys=(_PGA, _REGION),
    workflow_id=lambda pga_id, region: contract.credit_review_id(
        contract.direct_bill_id(pga_id, region)
    ),
    keys_of=lambda request: {"pga_id": request.pga_id, "region": request.region},
    description="Credit review of a direct-bill application (started by it, DB-09)",
)

REASSESSMENT = Pipeline(
    name="reassessment",
    workflow_type=contract.PARTNER_REASSESSMENT,
    input_model=ReassessmentRequest,
    keys=(_PGA, _REGION, _YEAR),
    workflow_id=lambda pga_id, region, year: contract.reassessment_id(pga_id, region, int(year)),
    keys_of=lambda request: {
        "pga_id": request.pga_id,
        "region": request.region,
        "year": str(request.month.year),
    },
    description="A direct-bill partner's annual re-assessment (RA-01; started by the sweep)",
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
    workflow_type=contract.PARTNERSHIP,
    input_model=PartnershipRequest,
    keys=(_PROVIDER, _RESELLER),
    workflow_id=contract.partnership_id,
    keys_of=lambda r: {
        "provider_partner_id": r.provider_partner_id,
        "reseller_partner_id": r.reseller_partner_id,
    },
    description="Provider-reseller partnership (REL-01..05, END-01..02)",
)

CUSTOMER_INVITATION = Pipeline(
    name="customer-invitation",
    workflow_type=contract.CUSTOMER_INVITATION,
    input_model=CustomerInvitationRequest,
    keys=(_RESELLER, _CUSTOMER),
    workflow_id=contract.customer_invitation_id,
    keys_of=lambda r: {
        "reseller_partner_id": r.reseller_partner_id,
        "customer_tenant_id": str(r.customer_tenant_id),
    },
    description="Customer invitation, joint or reseller-only (CUS-01..04)",
)

SUBSCRIPTION_ORDER = Pipeline(
    name="subscription-order",
    workflow_type=contract.SUBSCRIPTION_ORDER,
    input_model=SubscriptionOrderRequest,
    keys=(_PROVIDER, _ORDER),
    workflow_id=contract.subscription_order_id,
    keys_of=lambda r: {"provider_partner_id": r.provider_partner_id, "order_ref": r.order_ref},
    description="A subscription order with its Partner-of-Record validation (POR-01..05)",
)

PIPELINES: tuple[Pipeline, ...] = (
    RESELLER_ENROLLMENT,
    DIRECT_BILL,
    CREDIT_REVIEW,
    REASSESSMENT,
    PARTNERSHIP,
    CUSTOMER_INVITATION,
    SUBSCRIPTION_ORDER,
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
        update=contract.UPDATE_DECIDE_REVIEW,
        payload=ReviewDecision,
        backends=frozenset({"review"}),
        summary="Microsoft's review decision, approve or reject (ENR-07)",
    ),
    Decision(
        pipeline=RESELLER_ENROLLMENT,
        name="mpa-signed",
        update=contract.UPDATE_REPORT_MPA_SIGNED,
        payload=MpaSignatureReport,
        backends=frozenset({"partner-center", "operations"}),
        summary="The MPA was signed: the pipeline re-checks Partner Center now (ENR-09)",
    ),
    Decision(
        pipeline=RESELLER_ENROLLMENT,
        name="withdrawal",
        update=contract.UPDATE_WITHDRAW,
        payload=Withdrawal,
        backends=frozenset({"operations"}),
        summary="The partner withdraws its enrollment",
    ),
    _direct_bill(
        "initial-review",
        contract.UPDATE_REPORT_INITIAL_REVIEW,
        MicrosoftDecision,
        {"review"},
        "Microsoft's check of the initial requirements (DB-08)",
    ),
    _direct_bill(
        "information-request",
        contract.UPDATE_REQUEST_INFORMATION,
        InformationRequest,
        {"review"},
        "Microsoft asks for more information; the application pauses (DB-08)",
    ),
    _direct_bill(
        "information-answer",
        contract.UPDATE_ANSWER_INFORMATION,
        InformationAnswer,
        {"operations"},
        "The applicant's answer to an information request (DB-08)",
    ),
    _direct_bill(
        "assessment",
        contract.UPDATE_SUBMIT_ASSESSMENT,
        CapabilityQuestionnaire,
        {"assessment"},
        "The capability assessment; answers the score (DB-06)",
        result=AssessmentScore,
    ),
    _direct_bill(
        "application-decision",
        contract.UPDATE_DECIDE_APPLICATION,
        MicrosoftDecision,
        {"review"},
        "Microsoft's decision on the application (DB-08)",
    ),
    _direct_bill(
        "enrollment-form",
        contract.UPDATE_SUBMIT_ENROLLMENT_FORM,
        EnrollmentForm,
        {"partner-center", "operations"},
        "The enrollment form was submitted (DB-09)",
    ),
    _direct_bill(
        "support-plan",
        contract.UPDATE_REPORT_SUPPORT_PLAN,
        SupportPlanPurchase,
        {"billing"},
        "A premium support plan was bought, after credit approval (DB-09)",
    ),
    _direct_bill(
        "mpa-accepted",
        contract.UPDATE_REPORT_MPA_ACCEPTED,
        MpaAcceptance,
        {"partner-center", "operations"},
        "The MPA was accepted, after the support plan (DB-09)",
    ),
    _direct_bill(
        "withdrawal",
        contract.UPDATE_WITHDRAW,
        Withdrawal,
        {"operations"},
        "The applicant withdraws the application",
    ),
    Decision(
        pipeline=CREDIT_REVIEW,
        name="credit-decision",
        update=contract.UPDATE_DECIDE_CREDIT,
        payload=MicrosoftDecision,
        backends=frozenset({"credit"}),
        summary="The credit team's decision (DB-09)",
    ),
    Decision(
        pipeline=PARTNERSHIP,
        name="accepted",
        update=contract.UPDATE_REPORT_PARTNERSHIP_ACCEPTED,
        payload=PartnershipAcceptance,
        backends=frozenset({"partner-center", "operations"}),
        summary="The reseller accepted the partnership request (REL-04)",
    ),
    Decision(
        pipeline=CUSTOMER_INVITATION,
        name="reseller-relationship-accepted-by-customer",
        update=contract.UPDATE_RESELLER_RELATIONSHIP_ACCEPTED,
        payload=CustomerAcceptance,
        backends=frozenset({"partner-center"}),
        summary="Partner Center webhook: the customer accepted the invitation (CUS-03)",
    ),
    Decision(
        pipeline=CUSTOMER_INVITATION,
        name="indirect-reseller-relationship-accepted-by-customer",
        update=contract.UPDATE_INDIRECT_RESELLER_RELATIONSHIP_ACCEPTED,
        payload=CustomerAcceptance,
        backends=frozenset({"partner-center"}),
        summary="Partner Center webhook: the customer accepted the invitation (CUS-03)",
    ),
    Decision(
        pipeline=SUBSCRIPTION_ORDER,
        name="partner-of-record-fix",
        update=contract.UPDATE_FIX_PARTNER_OF_RECORD,
        payload=PartnerOfRecordFix,
        backends=frozenset({"operations"}),
        summary="A corrected Partner of Record; the blocked order is re-validated (POR-03)",
    ),
    Decision(
        pipeline=REASSESSMENT,
        name="questionnaire",
        update=contract.UPDATE_SUBMIT_REASSESSMENT,
        payload=CapabilityQuestionnaire,
        backends=frozenset({"assessment"}),
        summary="The re-assessment questionnaire; answers the score (RA-01)",
        result=AssessmentScore,
    ),
    Decision(
        pipeline=REASSESSMENT,
        name="support-plan-renewal",
        update=contract.UPDATE_REPORT_PLAN_RENEWAL,
        payload=PlanRenewal,
        backends=frozenset({"billing"}),
        summary="The premium support plan was renewed after a passing score (RA-01)",
    ),
)


# HTTP status of a refused update, by error type; any other business refusal answers 409.
REFUSAL_STATUS: dict[str, int] = {
    "WrongStage": 409,
    "DecisionInvalid": 422,
    "ValidationError": 422,
    "TokenInvalid": 400,
    "TokenExpired": 410,
    "TokenAlreadyUsed": 409,
}


def refusal_status(error_type: str | None) -> int:
    return REFUSAL_STATUS.get(error_type or "", 409)


def find_pipeline(name: str) -> Pipeline | None:
    return next((p for p in PIPELINES if p.name == name), None)


def find_decision(pipeline: str, name: str) -> Decision | None:
    """By route name (`review-decision`) or update name (`decide_review`)."""
    return next(
        (d for d in DECISIONS if d.pipeline.name == pipeline and name in (d.name, d.update)),
        None,
    )


# ---- callback refusals (stable types the gateway answers with) --------------------------------


class CallbackRejected(Exception):
    """A callback refused before it reached a pipeline; nothing changed."""

    error_type: ClassVar[str] = "CallbackRejected"
    status: ClassVar[int] = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SignatureMissing(CallbackRejected):
    """A signature header is absent or malformed."""

    error_type = "SignatureMissing"
    status = 400


class DeliveryIdInvalid(CallbackRejected):
    error_type = "DeliveryIdInvalid"
    status = 400


class SignatureInvalid(CallbackRejected):
    """Unknown backend, or the signature does not match the body and timestamp."""

    error_type = "SignatureInvalid"
    status = 401


class SignatureStale(CallbackRejected):
    """The signed timestamp is outside the freshness window (replay protection)."""

    error_type = "SignatureStale"
    status = 401


class BackendForbidden(CallbackRejected):
    """A correctly signed backend that may not report this decision."""

    error_type = "BackendForbidden"
    status = 403


class PipelineNotFound(CallbackRejected):
    """No such pipeline kind or decision, or no pipeline with this key."""

    error_type = "PipelineNotFound"
    status = 404


class PipelineClosed(CallbackRejected):
    """The pipeline has ended; it takes no more decisions."""

    error_type = "PipelineClosed"
    status = 410


class MalformedJson(CallbackRejected):
    error_type = "MalformedJson"
    status = 400


class PayloadTooLarge(CallbackRejected):
    error_type = "PayloadTooLarge"
    status = 413


class PayloadInvalid(CallbackRejected):
    """The body does not fit the decision's model; `fields` names each failing field."""

    error_type = "PayloadInvalid"
    status = 422

    def __init__(self, message: str, fields: list[dict[str, str]]) -> None:
        super().__init__(message)
        self.fields = fields


class PipelineBusy(CallbackRejected):
    """The pipeline did not answer in time (no worker?): redeliver with the same delivery id."""

    error_type = "PipelineBusy"
    status = 503


CALLBACK_REJECTIONS: tuple[type[CallbackRejected], ...] = (
    SignatureMissing,
    DeliveryIdInvalid,
    SignatureInvalid,
    SignatureStale,
    BackendForbidden,
    PipelineNotFound,
    PipelineClosed,
    MalformedJson,
    PayloadTooLarge,
    PayloadInvalid,
    PipelineBusy,
)


# ---- signatures -------------------------------------------------------------------------------

HEADER_BACKEND = "X-Csp-Backend"
HEADER_TIMESTAMP = "X-Csp-Timestamp"
HEADER_SIGNATURE = "X-Csp-Signature"
HEADER_DELIVERY_ID = "X-Delivery-Id"

BACKEND_NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"
DELIVERY_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"
TIMESTAMP_PATTERN = r"^[0-9]{1,12}$"
SIGNATURE_PATTERN = r"^sha256=[0-9a-f]{64}$"
MIN_SECRET_LENGTH = 16


class CallbackSecretsInvalid(ValueError):
    """CSP_CALLBACK_SECRETS cannot be read (startup error, names the setting)."""


def parse_backend_secrets(text: str) -> dict[str, bytes]:
    """`name=secret,name2=secret2` or a JSON object `{"name": "secret"}` -> {name: secret}."""
    text = text.strip()
    pairs: list[tuple[str, str]] = []
    if text.startswith("{"):
        try:
            loaded = json.loads(text)
        except json.JSONDecodeError:
            raise CallbackSecretsInvalid("CSP_CALLBACK_SECRETS is not valid JSON") from None
        if not isinstance(loaded, dict) or not all(isinstance(v, str) for v in loaded.values()):
            raise CallbackSecretsInvalid(
                'CSP_CALLBACK_SECRETS as JSON is an object {"backend": "secret"}'
            )
        pairs = [(str(k), v) for k, v in loaded.items()]
    else:
        for position, entry in enumerate(e.strip() for e in text.split(",")):
            if not entry:
                continue
            name, sep, secret = entry.partition("=")
            if not sep:
                raise CallbackSecretsInvalid(
                    f"CSP_CALLBACK_SECRETS entry {position + 1} is not `backend=secret`"
                )
            pairs.append((name.strip(), secret.strip()))
    secrets: dict[str, bytes] = {}
    for name, secret in pairs:
        if not re.fullmatch(BACKEND_NAME_PATTERN, name):
            raise CallbackSecretsInvalid(
                f"CSP_CALLBACK_SECRETS backend name {name[:64]!r} is not lower-case letters, "
                "digits and '-'"
            )
        if len(secret) < MIN_SECRET_LENGTH:
            raise CallbackSecretsInvalid(
                f"CSP_CALLBACK_SECRETS secret of {name!r} is shorter than {MIN_SECRET_LENGTH} "
                "characters"
            )
        if name in secrets:
            raise CallbackSecretsInvalid(f"CSP_CALLBACK_SECRETS names backend {name!r} twice")
        secrets[name] = secret.encode()
    return secrets


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The `X-Csp-Signature` value: HMAC-SHA256 over `<timestamp>.<raw body>`."""
    digest = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


@dataclass(frozen=True)
class SignedDelivery:
    backend: str
    delivery_id: str

    @property
    def update_id(self) -> str:
        """The Temporal update id: a redelivery of the same delivery has exactly one effect."""
        return f"{self.backend}:{self.delivery_id}"


@dataclass(frozen=True)
class SignatureCheck:
    secrets: Mapping[str, bytes]
    max_age: timedelta = timedelta(seconds=300)

    def verify(
        self,
        headers: Mapping[str, str],
        body: bytes,
        decision: Decision,
        now: datetime,
    ) -> SignedDelivery:
        """Who signed this delivery, or the reason it is refused. Order: headers present and
        well-formed (400), backend known and signature valid (401), timestamp fresh (401),
        backend allowed for this decision (403)."""
        backend = headers.get(HEADER_BACKEND, "")
        timestamp = headers.get(HEADER_TIMESTAMP, "")
        signature = headers.get(HEADER_SIGNATURE, "")
        delivery_id = headers.get(HEADER_DELIVERY_ID, "")
        missing = [
            name
            for name, value in (
                (HEADER_BACKEND, backend),
                (HEADER_TIMESTAMP, timestamp),
                (HEADER_SIGNATURE, signature),
            )
            if not value
        ]
        if missing:
            raise SignatureMissing(f"missing header(s): {', '.join(missing)}")
        if not re.fullmatch(TIMESTAMP_PATTERN, timestamp):
            raise SignatureMissing(f"{HEADER_TIMESTAMP} is not a Unix time in seconds")
        if not re.fullmatch(SIGNATURE_PATTERN, signature):
            raise SignatureMissing(f"{HEADER_SIGNATURE} is not `sha256=<64 hex digits>`")
        if not re.fullmatch(DELIVERY_ID_PATTERN, delivery_id):
            raise DeliveryIdInvalid(
                f"{HEADER_DELIVERY_ID} is required: 1-128 letters, digits or . _ : -"
            )
        secret = self.secrets.get(backend)
        if secret is None:
            # Compare anyway so an unknown backend costs the same as a bad signature.
            hmac.compare_digest(signature, sign(b"-" * MIN_SECRET_LENGTH, timestamp, body))
            raise SignatureInvalid("unknown backend or bad signature")
        if not hmac.compare_digest(signature, sign(secret, timestamp, body)):
            raise SignatureInvalid("unknown backend or bad signature")
        age = now.timestamp() - int(timestamp)
        window = self.max_age.total_seconds()
        if abs(age) > window:
            raise SignatureStale(
                f"signature timestamp is {abs(int(age))} s "
                f"{'old' if age > 0 else 'in the future'}; the window is {int(window)} s "
                "(sign again with the current time)"
            )
        if backend not in decision.backends:
            allowed = ", ".join(sorted(decision.backends))
            raise BackendForbidden(
                f"backend {backend!r} may not report {decision.pipeline.name} {decision.name} "
                f"(allowed: {allowed})"
            )
        return SignedDelivery(backend=backend, delivery_id=delivery_id)
