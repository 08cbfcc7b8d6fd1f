"""Re-assessment rules: who is due in a month, what failing means, when the next one is due."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

from domain.calendar import (
    DEFAULT_BUSINESS_TIME_ZONE,
    add_months_to_date,
    business_date,
    show_instant,
    start_of_day,
)
from domain.capability_assessment import AssessmentScore
from domain.direct_bill import EligibilityCheck, SupportPlan
from domain.errors import PlanRenewalNotLater
from domain.reassessment import DueKind, PassingScoreNotice

MIN_ANSWER_WINDOW = timedelta(days=14)
"""A re-assessment that starts late in its month (a backfill) still gives the partner this long."""


def questionnaire_deadline(month: date, started: datetime, zone_name: str) -> datetime:
    """By the end of the month (the operator default), but never less than MIN_ANSWER_WINDOW.

    The month ends where its last calendar day ends in the business time zone: November's
    questionnaire in Asia/Tokyo is due at 2025-11-30T15:00Z, not at midnight UTC (DB-07)."""
    month_end = start_of_day(add_months_to_date(month_of(month), 1), zone_name)
    return max(month_end, started + MIN_ANSWER_WINDOW)


def month_of(moment: datetime | date) -> date:
    """The month a sweep covers, as its first day."""
    return date(moment.year, moment.month, 1)


def sweep_month(moment: datetime, zone_name: str | None) -> date:
    """The month a sweep started at `moment` covers: the month of that calendar date in the
    business time zone (DB-07), where its schedule fires at 02:00 on the 1st (in Asia/Tokyo, at
    2025-10-31T17:00Z: November). Without a zone (sweeps scheduled before the schedule followed
    the business time zone), the month of the UTC instant."""
    if zone_name is None:
        return month_of(moment)
    return month_of(business_date(moment, zone_name))


REASSESSMENTS_FROM = date(2025, 10, 1)
"""RA-01 (seed 004): "2025 年 10 月、Microsoft は ... 既存の直接請求パートナーの
年次再評価の要求を開始します": no re-assessment for a month before October 2025."""


def reassessment_applies(
    month: date, activated_at: datetime | None, zone_name: str = DEFAULT_BUSINESS_TIME_ZONE
) -> bool:
    """RA-01: whether a partner is re-assessed for `month` (its first day) at all.

    Not for a month before October 2025, and not for a partner that was not yet direct bill when
    that month began (its activation date, in the business time zone, must be before the month's
    first day): a backfill for October 2026 does not re-assess a partner activated in November
    2026, and a partner activated during its renewal month is first re-assessed a year later. A
    record without an activation date is one activated before activation dates were recorded.
    """
    first_day = month_of(month)
    if first_day < REASSESSMENTS_FROM:
        return False
    if activated_at is None:
        return True
    return business_date(activated_at, zone_name) < first_day


def due_kind(*, month: date, renewal_month: int | None, anniversary_month: int | None) -> DueKind:
    """RA-01: the support-plan renewal month; DB-04: the onboarding-anniversary month."""
    renewal = renewal_month == month.month
    security = anniversary_month == month.month
    if renewal and security:
        return DueKind.BOTH
    if renewal:
        return DueKind.RENEWAL
    if security:
        return DueKind.SECURITY
    raise ValueError(f"not due in {month:%Y-%m}")


def plan_renewed(current_renewal: date | None, reported: SupportPlan | None) -> bool:
    """RA-01: a premium plan whose renewal date is later than the one on record."""
    if reported is None:
        return False
    return current_renewal is None or reported.renewal_date > current_renewal


def require_plan_renewed(current_renewal: date | None, reported: SupportPlan) -> None:
    """RA-01 (seed 004: "パートナーのプレミアム サポート プラン契約の更新"): a renewal report whose
    renewal date is not later than the one on record is no renewal; it is refused naming both
    dates, and nothing changes."""
    if plan_renewed(current_renewal, reported):
        return
    assert current_renewal is not None
    raise PlanRenewalNotLater(
        f"the reported {reported.kind.value} plan {reported.contract_id} renews on "
        f"{reported.renewal_date.isoformat()}, which is not later than the renewal on record "
        f"({current_renewal.isoformat()}); report the renewed contract, whose renewal date is "
        f"after {current_renewal.isoformat()} (RA-01)",
        reported_renewal_date=reported.renewal_date.isoformat(),
        renewal_on_record=current_renewal.isoformat(),
    )


def reassessment_failures(
    *,
    score: AssessmentScore | None,
    questionnaire_deadline: datetime | None,
    checks: Sequence[EligibilityCheck],
    plan_required: bool,
    plan_ok: bool,
    notice_awaited: bool = False,
    notice: PassingScoreNotice | None = None,
) -> list[str]:
    """RA-02: every requirement failed, named for the partner. Empty means the partner passed."""
    failures = [
        f"{c.rule} {c.requirement}: {c.figure} (needs {c.threshold})"
        for c in checks
        if not c.passed
    ]
    if questionnaire_deadline is not None and score is None:
        failures.append(
            f"RA-01 questionnaire: not submitted by {show_instant(questionnaire_deadline)}"
        )
    if notice_awaited:
        # RA-01: Microsoft's passing-score notice decides; the local score is advice only.
        if score is not None and notice is None:
            failures.append("RA-01 capability assessment: no passing-score notice from Microsoft")
        elif notice is not None and not notice.passed:
            figure = f" (score {notice.score})" if notice.score else ""
            because = f": {notice.reason}" if notice.reason else ""
            failures.append(
                f"RA-01 capability assessment: Microsoft's score notice says not passed"
                f"{figure}{because}"
            )
    elif score is not None and not score.passed:
        failures.append(
            f"RA-01 capability assessment: scored {score.total} (needs {score.pass_mark})"
        )
    if plan_required and not plan_ok:
        failures.append("RA-01 premium support plan: not renewed")
    return failures


def next_due(month: date) -> date:
    return date(month.year + 1, month.month, 1)
