"""One way to connect to Temporal, with the one data converter the whole product uses."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.contrib.pydantic import PydanticPayloadConverter
from temporalio.converter import DataConverter
from temporalio.service import TLSConfig

from runtime.payload_codec import (
    AesGcmPayloadCodec,
    EncodedFailureConverter,
    ValidationSafeFailureConverter,
    parse_payload_keys,
)
from runtime.settings import Settings

# Unencrypted: pydantic JSON payloads; validation failures recorded without input values.
DATA_CONVERTER: DataConverter = DataConverter(
    payload_converter_class=PydanticPayloadConverter,
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
        payload_converter_class=PydanticPayloadConverter,
        payload_codec=AesGcmPayloadCodec(keys),
        failure_converter_class=EncodedFailureConverter,
    )


def _tls(settings: Settings) -> TLSConfig | bool:
    if settings.temporal_tls_cert is None and settings.temporal_tls_server_ca is None:
        return settings.temporal_api_key is not None  # API keys imply TLS (Temporal Cloud)
    return TLSConfig(
        client_cert=settings.temporal_tls_cert.read_bytes() if settings.temporal_tls_cert else None,
        client_private_key=(
            settings.temporal_tls_key.read_bytes() if settings.temporal_tls_key else None
        ),
        server_root_ca_cert=(
            settings.temporal_tls_server_ca.read_bytes()
            if settings.temporal_tls_server_ca
            else None
        ),
    )


def temporal_address(settings: Settings) -> str:
    return settings.temporal_address or f"127.0.0.1:{settings.dev_server_port}"


async def connect(settings: Settings) -> Client:
    return await Client.connect(
        temporal_address(settings),
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings),
        tls=_tls(settings),
        api_key=(
            settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None
        ),
    )
