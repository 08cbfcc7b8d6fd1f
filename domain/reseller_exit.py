"""The reseller side of ending a relationship (DOMAIN.md END-03, seed 000 scenario 6): a reseller
that wants to end its relationship with an indirect provider, or move to another provider, asks
Microsoft Support. The pipeline records the request, the Support case reference and the outcome
Support reports; customers and delegated admin privileges are never touched (END-01).

Models only; the rules live in `domain.relationship_rules`.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from domain.identifiers import NonEmptyText, PartnerId
from domain.messages import Message, StageChange
from domain.relationships import CustomText, Requester

SupportCaseReference = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{2,63}$"),
]
"""A Microsoft Support case (service request) number as Support gives it."""


class ExitKind(StrEnum):
    END = "end"
    """End the relationship with the provider."""
    MOVE = "move"
    """Move to another indirect provider."""


class ExitOutcome(StrEnum):
    """What Microsoft Support reports it did."""

    ENDED = "ended"
    MOVED = "moved"
    DECLINED = "declined"


class ResellerExitStage(StrEnum):
    PRECHECKS = "prechecks"
    AWAITING_SUPPORT_CASE = "awaiting_support_case"
    AWAITING_OUTCOME = "awaiting_outcome"
    ENDED = "ended"
    MOVED = "moved"
    DECLINED = "declined"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"
    REFUSED = "refused"
    # Recorded by the pipeline reconciler when Temporal closed the pipeline (issue 18).
    TERMINATED = "terminated"
    TIMED_OUT = "timed_out"
    FAILED = "failed"

    @property
    def is_terminal(self) -> bool:
        return self not in (
            ResellerExitStage.PRECHECKS,
            ResellerExitStage.AWAITING_SUPPORT_CASE,
            ResellerExitStage.AWAITING_OUTCOME,
        )


class ResellerExitRequest(Message):
    """END-03: the reseller asks to end its relationship with a provider, or to move."""

    reseller_partner_id: PartnerId
    provider_partner_id: PartnerId
    kind: ExitKind
    new_provider_partner_id: PartnerId | None = Field(
        default=None, description="The provider the reseller moves to (kind `move` only)."
    )
    reason: NonEmptyText
    requested_by: Requester
    message: CustomText | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ResellerExitRequest:
        if self.kind is ExitKind.MOVE:
            if self.new_provider_partner_id is None:
                raise ValueError("a move names new_provider_partner_id")
            if self.new_provider_partner_id == self.provider_partner_id:
                raise ValueError("a move names a provider other than the current one")
        elif self.new_provider_partner_id is not None:
            raise ValueError("only a move names new_provider_partner_id")
        return self


class SupportCaseOpened(Message):
    """The reseller opened a Microsoft Support case for the request."""

    case_reference: SupportCaseReference
    opened_at: datetime
    reported_by: NonEmptyText


class SupportOutcome(Message):
    """What Microsoft Support reports on the case."""

    outcome: ExitOutcome
    reported_by: NonEmptyText
    note: CustomText | None = None


class ResellerExitRecord(Message):
    """The request as the registry knows it, keyed by reseller + provider."""

    reseller_partner_id: str
    provider_partner_id: str
    kind: ExitKind
    new_provider_partner_id: str | None = None
    status: ResellerExitStage
    case_reference: str | None = None
    case_opened_at: datetime | None = None
    outcome_note: str | None = None
    workflow_id: str
    requested_at: datetime
    updated_at: datetime


class ResellerExitStatus(Message):
    workflow_id: str
    reseller_partner_id: str
    provider_partner_id: str
    kind: ExitKind
    new_provider_partner_id: str | None
    stage: ResellerExitStage
    waiting_for: str | None
    deadline: datetime | None
    case_reference: str | None = None
    customers_unchanged: bool = True
    """END-01: this pipeline never changes customers or their delegated admin privileges."""
    outcome_reason: str | None = None
    error_type: str | None = None
    history: tuple[StageChange, ...] = ()


class ResellerExitResult(Message):
    reseller_partner_id: str
    provider_partner_id: str
    outcome: ResellerExitStage
    case_reference: str | None = None
    reason: str | None = None
    error_type: str | None = None
