"""The product's payload converter: pydantic JSON, and an undecodable payload fails at once.

A payload in an encoding nobody here writes (unknown `encoding` metadata, bytes that are not
JSON text) raises a non-retryable ApplicationError of type `UndecodablePayload` instead of the
SDK's KeyError/RuntimeError. In a workflow that fails the workflow at once (start input) or
rejects the update (update input) with this message, where a plain exception would fail the
workflow task again and again while the pipeline shows RUNNING (issue 12). A plaintext payload
the codec refused (encryption on) fails the same way, with the codec's message and the type
`PlaintextPayloadRefused`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import PydanticPayloadConverter
from temporalio.exceptions import ApplicationError

from runtime.payload_codec import PLAINTEXT_REFUSED, REFUSAL_METADATA, REFUSED_ENCODING

UNDECODABLE_PAYLOAD = "UndecodablePayload"


class StrictPayloadConverter(PydanticPayloadConverter):
    def from_payloads(
        self, payloads: Sequence[Payload], type_hints: list[type] | None = None
    ) -> list[Any]:
        for payload in payloads:
            if payload.metadata.get("encoding") == REFUSED_ENCODING:
                refusal = payload.metadata.get(REFUSAL_METADATA, b"").decode("utf-8", "replace")
                raise ApplicationError(refusal, type=PLAINTEXT_REFUSED, non_retryable=True)
        try:
            return super().from_payloads(payloads, type_hints)
        except (KeyError, RuntimeError, UnicodeDecodeError) as err:
            encodings = sorted(
                {p.metadata.get("encoding", b"<none>").decode(errors="replace") for p in payloads}
            )
            raise ApplicationError(
                f"a payload could not be decoded (encoding {', '.join(encodings)}; this product "
                f"reads json/plain): {err}",
                type=UNDECODABLE_PAYLOAD,
                non_retryable=True,
            ) from err
