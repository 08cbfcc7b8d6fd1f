"""The annual direct-bill re-assessment and the transition back to indirect reseller
(DOMAIN.md section 8, RA-01..RA-03, and DB-04's yearly security re-validation)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum

from pydantic import AwareDatetime, Field

from domain.calendar import BusinessTimeZone
from domain.capability_assessment import AssessmentScore, AssessmentWeights
from domain.direct_bill import EligibilityCheck, SupportPlan
from domain.identifiers import NonEmptyText
from domain.messages import Message, SignalRefusal


class DueKind(StrEnum):
    """Why a partner is due in a month: its support-plan renewal month (RA-01), its onboarding
    anniversary month (DB-04), or both."""

    RENEWAL = "renewal"
    SECURITY = "security"
    BOTH = "both"

    @property
    def reassesses(self) -> bool:
        return self is not DueKind.SECURITY

    @property
    def revalidates_security(self) -> bool:
        return self is not DueKind.RENEWAL


class DuePartner(Message):
    pga_id: str
    region: str
    pla_id: str
    kind: DueKind
    legal_name: str | None = None


class SweepRequest(Message):
    """The monthly sweep's input. `month` (first day) overrides the schedule's time for manual
    runs; the cursor and summary carry the sweep across continue-as-new."""

    month: date | None = None
    cursor: tuple[str, str] | None = None
    paging_done: bool = False
    outstanding: tuple[str, ...] = ()
    summary: SweepSummary | None = None
    wait_until: AwareDatetime | None = None
    """With its UTC offset: the sweep waits for its partners' outcomes until then."""
    month_zone: BusinessTimeZone | None = None
    """The zone in which a run without `month` reads the month of its scheduled time (the
    schedule fires at 02:00 on the 1st there: `runtime/schedules.py`). None: UTC, as the sweeps
    started before the schedule followed the business time zone read it."""


class SweepSummary(Message):
    month: date
    due: int = 0
    started: int = 0
    already_done: int = 0
    """Partners whose re-assessment for the year already exists (a re-run or an overlap)."""
    passed: int = 0
    failed: int = 0
    errors: int = 0
    unfinished: int = 0


class ReassessmentRequest(Message):
    pga_id: str
    region: str
    pla_id: str
    kind: DueKind
    month: date
    sweep_workflow_id: str | None = None


class ReassessmentPolicy(Message):
    """Operator settings for the re-assessment (DOMAIN.md open points)."""

    weights: AssessmentWeights = AssessmentWeights()
    business_time_zone: BusinessTimeZone = "UTC"
    """The IANA zone in which the date rules (RA-01, RA-03) count calendar dates."""
    questionnaire_reminder_interval: timedelta = timedelta(days=7)
    security_remediation_period: timedelta = timedelta(days=30)
    """DB-04 (DOMAIN.md open points): a failed security re-validation opens this remediation
    period, with reminders; only a failure still open at its end starts the transition."""
    security_remediation_reminder_interval: timedelta = timedelta(days=7)
    score_notice_wait: timedelta = timedelta(days=30)
    """How long after the questionnaire Microsoft's passing-score notice is awaited (RA-01)."""
    plan_renewal_grace: timedelta = timedelta(days=30)
    """How long after the passing-score notice the renewed support plan may be reported."""
    sweep_grace: timedelta = timedelta(days=7)
    """How long past its partners' last deadline the sweep waits for their outcomes."""
    revenue_max_age_days: int = Field(default=90, ge=0)
    """DB-03 (RA-01): a TTM revenue figure older than this many calendar days counts as unknown."""
    provider_choice_period: timedelta = timedelta(days=30)
    """RA-04: how long a transitioning partner has to choose an authorized indirect provider in
    its region; at its end the transition records that none was chosen and tells operations."""
    partnership_wait: timedelta = timedelta(days=30)
    """RA-04: how long the partnership with the chosen provider may take to become active (the
    partnership pipeline's own acceptance expiry bounds it too)."""
    partnership_check_interval: timedelta = timedelta(hours=6)
    """How often the transition reads the partnership's record while it waits for it."""
    sweep_page_size: int = Field(default=200, ge=1, le=1000)
    operations_email: str = "csp-operations@example.com"


class PlanRenewal(Message):
    plan: SupportPlan
    reported_by: NonEmptyText


class SecurityRemediation(Message):
    """The partner reports its security failure fixed (DB-04); the pipeline checks the security
    score again before it believes it."""

    reported_by: NonEmptyText
    note: str | None = Field(default=None, max_length=2000)


class PassingScoreNotice(Message):
    """Microsoft's notice on the re-assessment score (RA-01; seed 004: "合格評価スコアの通知").

    Microsoft decides the pass; the locally computed score is shown as advice only."""

    passed: bool
    decided_by: NonEmptyText
    score: str | None = Field(default=None, max_length=200)
    """The score as Microsoft's notice states it, if it does."""
    reason: str | None = Field(default=None, max_length=2000)


class ReassessmentStage(StrEnum):
    SECURITY_CHECK = "security_check"
    SECURITY_REMEDIATION = "security_remediation"
    QUESTIONNAIRE = "questionnaire"
    SCORE_NOTICE = "score_notice"
    PLAN_RENEWAL = "plan_renewal"
    REVENUE_CHECK = "revenue_check"
    PASSED = "passed"
    TRANSITION = "transition"
    FAILED = "failed"
    CANCELLED = "cancelled"


class ReassessmentStatus(Message):
    workflow_id: str
    pga_id: str
    region: str
    kind: DueKind
    stage: ReassessmentStage
    waiting_for: str | None
    deadline: datetime | None
    checks: tuple[EligibilityCheck, ...] = ()
    assessment: AssessmentScore | None = None
    """The locally computed capability score: advice only, Microsoft's notice decides."""
    score_notice: PassingScoreNotice | None = None
    security_rechecks: int = 0
    """How often a reported security remediation was checked against the score (DB-04)."""
    failures: tuple[str, ...] = ()
    signal_refusals: tuple[SignalRefusal, ...] = ()
    """Decisions sent as signals and refused, latest last (a signal has no answer)."""


class ReassessmentOutcome(Message):
    """What a partner's re-assessment reports to the sweep and returns."""

    workflow_id: str
    pga_id: str
    region: str
    passed: bool
    failures: tuple[str, ...] = ()
    error: str | None = None
    next_due: date | None = None
    cooldown_until: datetime | None = None


class TransitionRequest(Message):
    pga_id: str
    region: str
    pla_id: str
    reasons: tuple[str, ...] = Field(min_length=1)
    business_time_zone: BusinessTimeZone = "UTC"
    """The zone the one-year cooldown (RA-03) is counted in (the re-assessment policy's)."""
    year: int | None = Field(default=None, ge=2025, le=2099)
    """The re-assessment year the transition follows: its workflow id's suffix
    (`transition-<PGA>-<region>-<year>`). Inputs recorded before it name none."""


class TransitionResult(Message):
    pga_id: str
    region: str
    cooldown_until: datetime
    provider_partner_id: str | None = None
    """RA-04: the indirect provider the partner moved to (None: none chosen, or a history
    recorded before the move)."""
    partnership_outcome: str | None = None
    """The partnership pipeline's stage when the transition ended (`active` once moved)."""
    note: str | None = None


SweepRequest.model_rebuild()
