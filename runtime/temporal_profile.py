"""Where and how to connect to Temporal: a `temporalio.envconfig` profile (TOML file and the
standard TEMPORAL_* variables: address, namespace, API key, mTLS files, TLS server name, gRPC
metadata) with the product's own settings on top when they are set.

The TOML file is read only when asked for (TEMPORAL_CONFIG_FILE or TEMPORAL_PROFILE), so a
developer's own profile never redirects the embedded default. A Temporal Cloud profile:

    [profile.prod]
    address = "my-ns.a1b2c.tmprl.cloud:7233"
    namespace = "my-ns.a1b2c"
    api_key = "..."                      # or [profile.prod.tls] client_cert_path / client_key_path
    [profile.prod.tls]
    server_name = "my-ns.a1b2c.tmprl.cloud"
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from temporalio.envconfig import ClientConfigProfile
from temporalio.service import TLSConfig

from runtime.settings import Settings


@dataclass(frozen=True)
class ConnectionTarget:
    address: str
    namespace: str
    tls: TLSConfig | bool
    api_key: str | None
    rpc_metadata: dict[str, str]


def load_profile(settings: Settings) -> ClientConfigProfile:
    """The envconfig profile: file only when asked for, TEMPORAL_* variables always."""
    use_file = settings.temporal_profile is not None or settings.temporal_config_file is not None
    return ClientConfigProfile.load(
        profile=settings.temporal_profile,
        config_source=settings.temporal_config_file,
        disable_file=not use_file,
        config_file_strict=use_file,
        override_env_vars=dict(os.environ),
    )


def _read(path: Any) -> bytes | None:
    return path.read_bytes() if path is not None else None


def connection_target(settings: Settings, default_address: str) -> ConnectionTarget:
    profile = load_profile(settings)
    profile_tls = profile.tls.to_connect_tls_config() if profile.tls is not None else None
    api_key = (
        settings.temporal_api_key.get_secret_value()
        if settings.temporal_api_key is not None
        else profile.api_key
    )
    files = (
        settings.temporal_tls_cert,
        settings.temporal_tls_key,
        settings.temporal_tls_server_ca,
    )
    tls: TLSConfig | bool
    if any(f is not None for f in files) or settings.temporal_tls_server_name:
        base = profile_tls if isinstance(profile_tls, TLSConfig) else TLSConfig()
        tls = TLSConfig(
            client_cert=_read(settings.temporal_tls_cert) or base.client_cert,
            client_private_key=_read(settings.temporal_tls_key) or base.client_private_key,
            server_root_ca_cert=_read(settings.temporal_tls_server_ca) or base.server_root_ca_cert,
            domain=settings.temporal_tls_server_name or base.domain,
        )
    elif profile_tls is not None:
        tls = profile_tls
    else:
        tls = api_key is not None  # API keys imply TLS (Temporal Cloud)
    return ConnectionTarget(
        address=settings.temporal_address or profile.address or default_address,
        namespace=(
            settings.temporal_namespace
            if "temporal_namespace" in settings.model_fields_set or profile.namespace is None
            else profile.namespace
        ),
        tls=tls,
        api_key=api_key,
        rpc_metadata=dict(profile.grpc_meta),
    )
