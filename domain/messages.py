"""Messages every pipeline shares: the one model base, an update's acknowledgement, a withdrawal,
a stage change in a pipeline's history, and the approve-or-reject decision backends report."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.identifiers import NonEmptyText


class Message(BaseModel):
    """The base of every message the product exchanges: unknown fields are refused (a typo in a
    backend's payload fails loudly) and values are immutable once validated."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Acknowledgement(Message):
    """The answer to an accepted update."""

    accepted: bool = True
    stage: str
    message: str


class Withdrawal(Message):
    reason: NonEmptyText
    requested_by: NonEmptyText


class StageChange(Message):
    """One entry of a pipeline's stage history (the `status` query)."""

    stage: str
    at: datetime
    note: str


class ApproveOrReject(Message):
    """A decision a backend or a person reports; a rejection carries the reason the partner is
    told."""

    decision: Literal["approve", "reject"]
    reason: str | None = Field(default=None, max_length=2000)
    decided_by: NonEmptyText

    @property
    def outcome(self) -> str:
        """The decision as an English participle: "approved" or "rejected"."""
        return "approved" if self.decision == "approve" else "rejected"

    def sentence(self, subject: str) -> str:
        """An acknowledgement that reads as English: "The credit review was rejected by ops."."""
        return f"The {subject} was {self.outcome} by {self.decided_by}."

    @model_validator(mode="after")
    def _reason_for_rejection(self) -> Self:
        if self.decision == "reject" and not (self.reason and self.reason.strip()):
            raise ValueError("a rejection must carry a reason for the partner")
        return self


class SignalRefusal(Message):
    """A decision sent as a signal and refused (the `status` query lists the latest few): a
    signal has no answer, so this is where its sender, or an operator, reads why."""

    name: str
    delivery_id: str | None
    error_type: str
    message: str
    at: datetime


DELIVERY_ID_FIELD = "delivery_id"
"""The field a decision sent as a signal carries besides the update's payload: applied once per
delivery id (a backend's retry with the same id is ignored)."""
