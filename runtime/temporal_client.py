"""One way to connect to Temporal, with the one data converter the whole product uses."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.converter import DataConverter

from runtime.payload_codec import (
    AesGcmPayloadCodec,
    EncodedFailureConverter,
    ValidationSafeFailureConverter,
    parse_payload_keys,
)
from runtime.payload_converter import StrictPayloadConverter
from runtime.settings import Settings
from runtime.temporal_profile import connection_target
from runtime.tracing import client_interceptors

# Unencrypted: pydantic JSON payloads; validation failures recorded without input values.
DATA_CONVERTER: DataConverter = DataConverter(
    payload_converter_class=StrictPayloadConverter,
    failure_converter_class=ValidationSafeFailureConverter,
)


def data_converter(settings: Settings) -> DataConverter:
    """The converter for these settings: client, worker, replayer, gateway and CLI all use it.

    With CSP_PAYLOAD_KEYS set, payloads are AES-GCM encrypted (runtime/payload_codec.py) and
    failure messages and stack traces are moved into the encrypted failure attributes.
    """
    if settings.payload_keys is None:
        return DATA_CONVERTER
    keys = parse_payload_keys(settings.payload_keys.get_secret_value())
    if not keys:
        return DATA_CONVERTER
    return DataConverter(
        payload_converter_class=StrictPayloadConverter,
        payload_codec=AesGcmPayloadCodec(keys, accept_plaintext=settings.payload_accept_plaintext),
        failure_converter_class=EncodedFailureConverter,
    )


def temporal_address(settings: Settings) -> str:
    return settings.temporal_address or f"127.0.0.1:{settings.dev_server_port}"


async def connect(settings: Settings) -> Client:
    # envconfig profile + settings (runtime/temporal_profile.py); tracing when configured
    target = connection_target(settings, temporal_address(settings))
    return await Client.connect(
        target.address,
        namespace=target.namespace,
        data_converter=data_converter(settings),
        tls=target.tls,
        api_key=target.api_key,
        rpc_metadata=target.rpc_metadata,
        interceptors=client_interceptors(),
    )
