"""The direct-bill capability assessment (DB-06), also used by the annual re-assessment (RA-01).

Three categories, each a set of capabilities the partner has or lacks. A category scores its share
of capabilities met times its weight; the total (0-100) feeds Microsoft's decision, and the pass
mark says whether it is a passing score.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Answers(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def met(self) -> tuple[int, int]:
        values = [bool(getattr(self, name)) for name in type(self).model_fields]
        return sum(values), len(values)


class SellCapabilities(_Answers):
    certified_staff: bool
    dedicated_sales_team: bool
    api_integrated_billing_and_provisioning: bool
    managed_services: bool
    solution_expertise: bool


class SecureCapabilities(_Answers):
    mfa_enforced: bool
    fraud_and_incident_monitoring: bool
    compliance_resources: bool
    customer_vetting_and_credit_checks: bool
    purchase_commitment_capture: bool


class SupportCapabilities(_Answers):
    ticketing_and_escalation: bool
    certified_support_staff: bool
    sla_metrics: bool


class CapabilityQuestionnaire(BaseModel):
    """The applicant's answers, submitted by the assessment backend."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sell: SellCapabilities
    secure: SecureCapabilities
    support: SupportCapabilities
    submitted_by: str = Field(min_length=1, max_length=200)


class AssessmentWeights(BaseModel):
    """Category weights (summing to 100) and the pass mark: operator settings (DB-06)."""

    model_config = ConfigDict(frozen=True)

    sell: Decimal = Decimal(40)
    secure: Decimal = Decimal(35)
    support: Decimal = Decimal(25)
    pass_mark: Decimal = Decimal(70)

    @model_validator(mode="after")
    def _sum_to_100(self) -> AssessmentWeights:
        if self.sell + self.secure + self.support != 100:
            raise ValueError("assessment category weights must add up to 100")
        if not 0 <= self.pass_mark <= 100:
            raise ValueError("the pass mark is a score between 0 and 100")
        return self


class AssessmentScore(BaseModel):
    model_config = ConfigDict(frozen=True)

    sell: Decimal
    secure: Decimal
    support: Decimal
    total: Decimal
    pass_mark: Decimal
    passed: bool
    missing: tuple[str, ...]
    """Capabilities answered "no", as `category.capability`."""


_CENT = Decimal("0.01")


def score_assessment(
    answers: CapabilityQuestionnaire, weights: AssessmentWeights
) -> AssessmentScore:
    def category(part: _Answers, weight: Decimal) -> Decimal:
        met, total = part.met()
        return (weight * met / total).quantize(_CENT, rounding=ROUND_HALF_UP)

    sell = category(answers.sell, weights.sell)
    secure = category(answers.secure, weights.secure)
    support = category(answers.support, weights.support)
    total = sell + secure + support
    missing = tuple(
        f"{name}.{field}"
        for name, part in (
            ("sell", answers.sell),
            ("secure", answers.secure),
            ("support", answers.support),
        )
        for field in type(part).model_fields
        if not getattr(part, field)
    )
    return AssessmentScore(
        sell=sell,
        secure=secure,
        support=support,
        total=total,
        pass_mark=weights.pass_mark,
        passed=total >= weights.pass_mark,
        missing=missing,
    )
