"""REL-07: the periodic check of every established partnership's reseller with Partner Center's
`validateresellers` (003: providers find invalid PORs and fix them with the reseller before
orders fail). Pure models and rules: what a check records, the sweep's carried state, and the
report operations read (counts, each invalid reseller with its reason and what to do)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import Field

from domain.messages import Message

REPORT_LISTED_AT_MOST = 200
"""How many invalid resellers the report email lists; `csp por-report` shows every one."""


class PorCheck(Message):
    """One partnership's reseller as `validateresellers` judged it in one sweep."""

    sweep_id: str
    provider_partner_id: str
    reseller_partner_id: str
    valid: bool
    error_code: str | None = None
    reason: str | None = None
    """Partner Center's `errorDescription` (None when valid)."""
    checked_at: datetime


class PorSweepSummary(Message):
    sweep_id: str
    started_at: datetime
    checked: int = 0
    valid: int = 0
    invalid: int = 0
    unchecked: int = 0
    """Partnerships whose batch Partner Center did not answer (after the bounded retries)."""
    batches: int = 0
    runs: int = 1
    """Runs of the sweep so far (continue-as-new starts the next one)."""
    failures: tuple[str, ...] = ()
    """Why unchecked batches were not checked (at most a few, for the report)."""


class PorSweepRequest(Message):
    """What the schedule starts the sweep with (`{}`), or what a run hands the next one."""

    cursor: tuple[str, str] | None = None
    """(provider, reseller) of the last partnership checked: the next page starts after it."""
    summary: PorSweepSummary | None = None


class PorReport(Message):
    """A finished sweep as the registry keeps it (`csp por-report` shows the latest)."""

    sweep_id: str
    started_at: datetime
    finished_at: datetime
    checked: int
    valid: int
    invalid: int
    unchecked: int
    failures: tuple[str, ...] = Field(default=())


_WHAT_TO_DO = {
    "800015": "Partner Center does not know this PartnerID: confirm the reseller's PartnerID "
    "(the PLA of the country of purchase, POR-05) with the reseller and correct the partnership.",
    "800016": "not an authorized indirect reseller: the reseller must complete its CSP indirect "
    "reseller authorization; until then name another reseller as Partner of Record.",
    "800039": "the reseller's program status is not active: ask the reseller to restore it in "
    "Partner Center (e.g. accept the Microsoft Partner Agreement); until then name another "
    "reseller as Partner of Record.",
    "900400": "the PLA ID is not valid as Partner of Record: ask the reseller for the PLA ID of "
    "its location in the country of purchase (POR-05) and check it in Partner Center.",
}
_WHAT_TO_DO_OTHERWISE = (
    "ask the reseller to check its indirect reseller authorization in Partner Center; if it "
    "looks right, open a Partner Center support request quoting the error code."
)


def what_to_do(error_code: str | None) -> str:
    """The action for operations on an invalid POR, by Partner Center's error code."""
    return _WHAT_TO_DO.get(error_code or "", _WHAT_TO_DO_OTHERWISE)


def invalid_line(check: PorCheck) -> str:
    code = check.error_code or "no code"
    reason = check.reason or "no description"
    return (
        f"- {check.reseller_partner_id} (partnership with {check.provider_partner_id}): "
        f"error {code}: {reason}. What to do: {what_to_do(check.error_code)}"
    )


def report_text(report: PorReport, invalid: Sequence[PorCheck], listed_at_most: int) -> str:
    """The report's facts for the email: counts, then each invalid reseller (up to
    `listed_at_most`; the rest are counted and left to `csp por-report`)."""
    lines = [
        f"Checked {report.checked} partnership(s): {report.valid} valid, {report.invalid} "
        f"invalid, {report.unchecked} not checked (sweep {report.sweep_id}).",
    ]
    lines += [f"Not checked: {failure}" for failure in report.failures]
    if invalid:
        lines.append("")
        lines += [invalid_line(check) for check in invalid[:listed_at_most]]
    hidden = report.invalid - min(len(invalid), listed_at_most)
    if hidden > 0:
        lines.append(f"... and {hidden} more: run `csp por-report` for the full list.")
    return "\n".join(lines)
