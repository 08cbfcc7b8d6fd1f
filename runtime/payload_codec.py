"""Payload privacy: the AES-GCM payload codec, failure converters that keep personal data out of
the event history, and validation messages that never echo input values.

With `CSP_PAYLOAD_KEYS` set, every payload the product writes to Temporal (workflow input and
results, activity input and results, update arguments and answers, failure details) is encrypted
with the current key; the key id travels in the payload's metadata so payloads written with a
previous key still decrypt after a rotation. Failure messages and stack traces move into the
encoded failure attributes, so they are encrypted too. Search attributes and workflow ids are never
encoded: they hold no names or email addresses (contract/names.py).
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

import pydantic
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.converter import DefaultFailureConverter, PayloadCodec, PayloadConverter
from temporalio.exceptions import ApplicationError

ENCODING = b"binary/encrypted"
"""The `encoding` metadata of an encrypted payload."""
KEY_ID_METADATA = "encryption-key-id"
REFUSED_ENCODING = b"binary/plaintext-refused"
"""What `decode` turns a refused plaintext payload into: no data, the refusal in
`REFUSAL_METADATA`. The payload converter raises it (runtime/payload_converter.py), where a
workflow fails at once or an update is rejected; raised by the codec, the same refusal would fail
the workflow task again and again while the pipeline shows RUNNING."""
REFUSAL_METADATA = "refusal"
PLAINTEXT_REFUSED = "PlaintextPayloadRefused"
"""The metadata entry naming the key a payload was encrypted with."""

_NONCE_BYTES = 12
_KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class PayloadKeyError(ValueError):
    """The configured payload keys are unusable (startup error, names the setting)."""


class PayloadDecryptionError(ValueError):
    """A payload cannot be decrypted: unknown key id, tampered or truncated data."""


class PlaintextPayloadRefused(PayloadDecryptionError):
    """With payload keys set, a payload arrived unencrypted (written without the codec)."""


@dataclass(frozen=True)
class PayloadKey:
    key_id: str
    secret: bytes

    def __repr__(self) -> str:  # never print key material
        return f"PayloadKey(key_id={self.key_id!r})"


def parse_payload_keys(text: str) -> list[PayloadKey]:
    """`id1:base64key,id2:base64key` (current key first) -> keys. Each key is 32 random bytes."""
    keys: list[PayloadKey] = []
    for position, entry in enumerate(e.strip() for e in text.split(",")):
        if not entry:
            continue
        key_id, sep, encoded = entry.partition(":")
        key_id = key_id.strip()
        if not sep or not _KEY_ID.match(key_id):
            raise PayloadKeyError(
                f"CSP_PAYLOAD_KEYS entry {position + 1} is not `<key id>:<base64 key>` "
                "(key id: letters, digits, '.', '_' or '-')"
            )
        try:
            secret = base64.b64decode(encoded.strip(), validate=True)
        except binascii.Error:
            raise PayloadKeyError(f"CSP_PAYLOAD_KEYS key {key_id!r} is not valid base64") from None
        if len(secret) != 32:
            raise PayloadKeyError(
                f"CSP_PAYLOAD_KEYS key {key_id!r} is {len(secret)} bytes; AES-256 needs 32"
            )
        if any(k.key_id == key_id for k in keys):
            raise PayloadKeyError(f"CSP_PAYLOAD_KEYS names key id {key_id!r} twice")
        keys.append(PayloadKey(key_id, secret))
    return keys


def new_payload_key(key_id: str) -> str:
    """A fresh `id:base64key` entry for CSP_PAYLOAD_KEYS."""
    if not _KEY_ID.match(key_id):
        raise PayloadKeyError("a key id is letters, digits, '.', '_' or '-' (at most 64)")
    return f"{key_id}:{base64.b64encode(os.urandom(32)).decode()}"


class AesGcmPayloadCodec(PayloadCodec):
    """AES-256-GCM over the whole serialized payload; the key id is bound as associated data.

    A payload without the encrypted encoding is refused (`PlaintextPayloadRefused`; `decode`
    hands the refusal to the payload converter, see `REFUSED_ENCODING`):
    it was written without the codec (a `temporal workflow start` without `--codec-endpoint`, a
    client without CSP_PAYLOAD_KEYS) and would put personal data into the history in the clear.
    `accept_plaintext` (CSP_PAYLOAD_ACCEPT_PLAINTEXT) lets them through, for histories written
    before encryption was switched on. The codec endpoint shows plaintext payloads as they are
    (`decrypt(..., allow_plaintext=True)`): displaying one writes nothing.
    """

    def __init__(self, keys: Sequence[PayloadKey], *, accept_plaintext: bool = False) -> None:
        if not keys:
            raise PayloadKeyError("payload encryption needs at least one key")
        self._current = keys[0]
        self._ciphers = {k.key_id: AESGCM(k.secret) for k in keys}
        self._accept_plaintext = accept_plaintext

    @property
    def current_key_id(self) -> str:
        return self._current.key_id

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._decode_one(p) for p in payloads]

    def _decode_one(self, payload: Payload) -> Payload:
        try:
            return self.decrypt(payload)
        except PlaintextPayloadRefused as refused:
            return Payload(
                metadata={"encoding": REFUSED_ENCODING, REFUSAL_METADATA: str(refused).encode()}
            )

    def encrypt(self, payload: Payload) -> Payload:
        key_id = self._current.key_id
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._ciphers[key_id].encrypt(nonce, payload.SerializeToString(), key_id.encode())
        return Payload(
            metadata={"encoding": ENCODING, KEY_ID_METADATA: key_id.encode()},
            data=nonce + sealed,
        )

    def decrypt(self, payload: Payload, *, allow_plaintext: bool | None = None) -> Payload:
        encoding = payload.metadata.get("encoding", b"")
        if encoding != ENCODING:
            if allow_plaintext or (allow_plaintext is None and self._accept_plaintext):
                return payload
            raise PlaintextPayloadRefused(
                f"payload is not encrypted (encoding {encoding[:40].decode('utf-8', 'replace')!r})"
                " but CSP_PAYLOAD_KEYS is set: send it through the codec (`temporal ... "
                "--codec-endpoint <gateway> --codec-auth 'Bearer <codec token>'`, or `csp` with "
                "CSP_PAYLOAD_KEYS); CSP_PAYLOAD_ACCEPT_PLAINTEXT=true reads histories written "
                "before encryption"
            )
        key_id = payload.metadata.get(KEY_ID_METADATA, b"").decode("utf-8", "replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise PayloadDecryptionError(
                f"payload encrypted with key id {key_id[:64]!r}, which is not among "
                "CSP_PAYLOAD_KEYS (keep a rotated-out key as a previous key)"
            )
        if len(payload.data) <= _NONCE_BYTES:
            raise PayloadDecryptionError("encrypted payload is truncated")
        nonce, sealed = payload.data[:_NONCE_BYTES], payload.data[_NONCE_BYTES:]
        try:
            plain = cipher.decrypt(nonce, sealed, key_id.encode())
        except InvalidTag:
            raise PayloadDecryptionError(
                f"encrypted payload failed authentication with key {key_id!r} (tampered data)"
            ) from None
        decoded = Payload()
        decoded.ParseFromString(plain)
        return decoded


# ---- validation messages without input values ---------------------------------------------------


def _location(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(whole payload)"


def validation_fields(error: pydantic.ValidationError) -> list[dict[str, str]]:
    """Each failing field as {"field", "type", "rule"}; never the value that was given.

    `rule` is kept only for a ValueError raised by the product's own validators (domain/ states
    the rule there, never the input); pydantic's and email-validator's texts are left out because
    some of them quote parts of the input.
    """
    fields: list[dict[str, str]] = []
    for item in error.errors(include_url=False, include_input=False):
        entry = {"field": _location(item["loc"]), "type": item["type"]}
        ctx_error = (item.get("ctx") or {}).get("error")
        if isinstance(ctx_error, ValueError | AssertionError):
            entry["rule"] = str(ctx_error)
        fields.append(entry)
    return fields


def validation_summary(error: pydantic.ValidationError) -> str:
    """One line naming the model, the failing fields and the error types, without input values."""
    parts = []
    for field in validation_fields(error):
        detail = field["type"] + (f": {field['rule']}" if "rule" in field else "")
        parts.append(f"{field['field']} ({detail})")
    count = error.error_count()
    noun = "field" if count == 1 else "fields"
    return f"{count} invalid {noun} in {error.title}: " + "; ".join(parts)


class _ValidationSafeConversion(DefaultFailureConverter):
    """The default conversion, except that a pydantic ValidationError (a payload that does not
    fit its model) is recorded with `validation_summary` instead of pydantic's own text, which
    quotes the offending input (a name, an email address) into the event history."""

    def __init__(self) -> None:
        super().__init__(encode_common_attributes=False)

    def to_failure(
        self, exception: BaseException, payload_converter: PayloadConverter, failure: Failure
    ) -> None:
        if isinstance(exception, pydantic.ValidationError):
            safe = ApplicationError(validation_summary(exception), type="ValidationError")
            safe.__traceback__ = exception.__traceback__
            safe.__cause__ = exception.__cause__
            exception = safe
        super().to_failure(exception, payload_converter, failure)


def is_business_refusal(exception: BaseException) -> bool:
    """A business rule's refusal: a non-retryable ApplicationError with a stable type."""
    return (
        isinstance(exception, ApplicationError) and exception.non_retryable and bool(exception.type)
    )


def _failure_chain(failure: Failure) -> list[Failure]:
    chain = [failure]
    while chain[-1].HasField("cause"):
        chain.append(chain[-1].cause)
    return chain


def _drop_encoded_stack_trace(level: Failure, payload_converter: PayloadConverter) -> None:
    try:
        [attributes] = payload_converter.from_payloads([level.encoded_attributes])
    except Exception:  # not the product's encoding: leave it as it came
        return
    if isinstance(attributes, dict) and attributes.get("stack_trace"):
        attributes = {**attributes, "stack_trace": ""}
        level.encoded_attributes.CopyFrom(payload_converter.to_payloads([attributes])[0])


class ValidationSafeFailureConverter(DefaultFailureConverter):
    """How the product's failures reach Temporal, the Web UI and every client (issue 18).

    - Validation failures never quote the input (see `_ValidationSafeConversion`).
    - A business refusal (`is_business_refusal`) reaches the caller as its type and message only:
      no stack trace and no worker file paths, at any level of its cause chain. Unexpected
      errors keep their stack trace (the worker logs them too).
    - With `encode_common_attributes` (encryption on), every level's message and stack trace
      then move into its encoded (encrypted) attributes, as Temporal's default does; the codec
      endpoint shows them to the Web UI.
    """

    def __init__(self, *, encode_common_attributes: bool = False) -> None:
        super().__init__(encode_common_attributes=False)
        self._encode = encode_common_attributes
        self._conversion = _ValidationSafeConversion()

    def to_failure(
        self, exception: BaseException, payload_converter: PayloadConverter, failure: Failure
    ) -> None:
        self._conversion.to_failure(exception, payload_converter, failure)
        if is_business_refusal(exception):
            for level in _failure_chain(failure):
                level.stack_trace = ""
                if level.HasField("encoded_attributes"):  # a cause encoded where it arose
                    _drop_encoded_stack_trace(level, payload_converter)
        if self._encode:
            for level in _failure_chain(failure):
                if level.HasField("encoded_attributes"):
                    continue  # already a failure proto from elsewhere, encoded there
                level.encoded_attributes.CopyFrom(
                    payload_converter.to_payloads(
                        [{"message": level.message, "stack_trace": level.stack_trace}]
                    )[0]
                )
                level.message = "Encoded failure"
                level.stack_trace = ""


class EncodedFailureConverter(ValidationSafeFailureConverter):
    """With encryption on: message and stack trace go into the encoded (encrypted) attributes."""

    def __init__(self) -> None:
        super().__init__(encode_common_attributes=True)
