"""The delivery ledger: what the gateway remembers of each signed callback's delivery id.

A delivery id names one route and one body. The first delivery claims the id; a redelivery (same
route, same body) gets the first answer once there is one; the same id with another route or body
is refused (`DeliveryIdReused`, 409) before anything reaches a pipeline. Entries are kept for
`retention`, which must be longer than the signature's freshness window plus the allowed clock
skew: after that no signature for the id is fresh any more, so forgetting it opens no replay.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from gateway.refusals import DeliveryIdReused
from gateway.signatures import SignedDelivery

DEFAULT_RETENTION = timedelta(days=7)


@dataclass(frozen=True)
class RecordedAnswer:
    status: int
    body: str
    """The JSON text that was answered."""


@dataclass(frozen=True)
class DeliveryEntry:
    route: str
    body_sha256: str
    answer: RecordedAnswer | None


class DeliveryLedger(Protocol):
    async def claim(
        self, backend: str, delivery_id: str, route: str, body_sha256: str, now: datetime
    ) -> DeliveryEntry | None:
        """Record a first delivery (None), or return the entry an earlier one left."""
        ...

    async def record_answer(self, backend: str, delivery_id: str, answer: RecordedAnswer) -> None:
        """Keep the answer of a claimed delivery (the first one kept wins)."""
        ...

    async def forget_before(self, cutoff: datetime) -> int:
        """Drop entries received before `cutoff`; returns how many."""
        ...

    async def close(self) -> None:
        """Release the ledger's connections (the gateway's shutdown; closing twice is harmless)."""
        ...


async def admit(
    ledger: DeliveryLedger,
    delivery: SignedDelivery,
    now: datetime,
    retention: timedelta = DEFAULT_RETENTION,
) -> RecordedAnswer | None:
    """Claim the delivery id: None to go on to the pipeline, the first answer for a redelivery,
    or `DeliveryIdReused` when the id was first seen with another route or body. A first
    delivery also drops the entries older than `retention` (no fresh signature names them)."""
    entry = await ledger.claim(
        delivery.backend, delivery.delivery_id, delivery.route, delivery.digest, now
    )
    if entry is None:
        await ledger.forget_before(now - retention)
        return None
    if entry.route != delivery.route:
        raise DeliveryIdReused(
            f"delivery id {delivery.delivery_id!r} of backend {delivery.backend!r} was first "
            f"delivered to another route ({entry.route}); a delivery id names one route and body"
        )
    if entry.body_sha256 != delivery.digest:
        raise DeliveryIdReused(
            f"delivery id {delivery.delivery_id!r} of backend {delivery.backend!r} was first "
            "delivered with another body; send a new delivery with a new webhook-id"
        )
    return entry.answer
