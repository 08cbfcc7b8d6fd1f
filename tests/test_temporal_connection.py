"""Temporal Cloud readiness: the connection comes from a `temporalio.envconfig` profile (TOML
file, standard TEMPORAL_* variables: API key or mTLS, TLS server name) with the product's own
settings on top; secrets can be files (`<VARIABLE>_FILE`); and the worker checks its search
attributes at start, naming the commands that create them where it may not."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode, TLSConfig
from temporalio.testing import WorkflowEnvironment

from contract.names import SEARCH_ATTRIBUTES
from runtime import search_attribute_check
from runtime.binaries import temporal_cli
from runtime.search_attribute_check import (
    SearchAttributesMissing,
    missing_search_attributes,
    require_search_attributes,
)
from runtime.secret_files import secret_variables
from runtime.settings import Settings
from runtime.temporal_client import connect
from runtime.temporal_profile import connection_target
from tests.conftest import free_port

DEFAULT = "127.0.0.1:7233"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    for variable in list(os.environ):
        if variable.startswith(("CSP_", "TEMPORAL_")):
            monkeypatch.delenv(variable)
    yield monkeypatch


def _write_profile(path: Path) -> None:
    path.write_text(
        """
[profile.prod]
address = "my-ns.a1b2c.tmprl.cloud:7233"
namespace = "my-ns.a1b2c"
api_key = "key-from-profile"

[profile.prod.tls]
server_name = "my-ns.a1b2c.tmprl.cloud"

[profile.mtls]
address = "temporal.internal:7233"
namespace = "csp"

[profile.mtls.tls]
client_cert_data = "CERT"
client_key_data = "KEY"
"""
    )


def test_a_cloud_profile_gives_address_namespace_api_key_and_server_name(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _write_profile(tmp_path / "temporal.toml")
    clean_env.setenv("TEMPORAL_CONFIG_FILE", str(tmp_path / "temporal.toml"))
    clean_env.setenv("TEMPORAL_PROFILE", "prod")
    settings = Settings()
    assert settings.remote_temporal
    target = connection_target(settings, DEFAULT)
    assert target.address == "my-ns.a1b2c.tmprl.cloud:7233"
    assert target.namespace == "my-ns.a1b2c"
    assert target.api_key == "key-from-profile"
    assert isinstance(target.tls, TLSConfig)
    assert target.tls.domain == "my-ns.a1b2c.tmprl.cloud"


def test_an_mtls_profile_and_settings_on_top(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _write_profile(tmp_path / "temporal.toml")
    clean_env.setenv("TEMPORAL_CONFIG_FILE", str(tmp_path / "temporal.toml"))
    clean_env.setenv("TEMPORAL_PROFILE", "mtls")
    target = connection_target(Settings(), DEFAULT)
    assert isinstance(target.tls, TLSConfig)
    assert (target.tls.client_cert, target.tls.client_private_key) == (b"CERT", b"KEY")
    assert target.api_key is None and target.namespace == "csp"
    # The product's own variables win over the profile, field by field.
    clean_env.setenv("TEMPORAL_NAMESPACE", "csp-staging")
    clean_env.setenv("TEMPORAL_TLS_SERVER_NAME", "frontend.internal")
    target = connection_target(Settings(), DEFAULT)
    assert target.namespace == "csp-staging"
    assert target.address == "temporal.internal:7233"
    assert isinstance(target.tls, TLSConfig)
    assert target.tls.domain == "frontend.internal"
    assert target.tls.client_cert == b"CERT"


def test_standard_variables_without_a_file(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "key").write_text("key-from-file\n")
    clean_env.setenv("TEMPORAL_ADDRESS", "ns.acct.tmprl.cloud:7233")
    clean_env.setenv("TEMPORAL_API_KEY_FILE", str(tmp_path / "key"))
    target = connection_target(Settings(), DEFAULT)
    assert target.address == "ns.acct.tmprl.cloud:7233"
    assert target.api_key == "key-from-file"
    assert target.tls is True  # an API key implies TLS


def test_no_profile_means_the_embedded_default(clean_env: pytest.MonkeyPatch) -> None:
    settings = Settings()
    assert not settings.remote_temporal
    target = connection_target(settings, DEFAULT)
    assert (target.address, target.namespace, target.tls, target.api_key) == (
        DEFAULT,
        "default",
        False,
        None,
    )


def test_secret_files(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert {"token_secrets", "payload_keys", "temporal_api_key", "registry_password"} <= set(
        secret_variables(Settings)
    )
    (tmp_path / "token").write_text("from-file\n")
    (tmp_path / "empty").write_text("\n")
    clean_env.setenv("CSP_TOKEN_SECRETS_FILE", str(tmp_path / "token"))
    clean_env.setenv("CSP_CALLBACK_SECRETS_FILE", str(tmp_path / "empty"))
    settings = Settings()
    assert settings.token_secrets is not None
    assert settings.token_secrets.get_secret_value() == "from-file"
    assert settings.callback_secrets is None  # an empty file is unset
    # The variable itself wins over its file.
    clean_env.setenv("CSP_TOKEN_SECRETS", "from-env")
    settings = Settings()
    assert settings.token_secrets is not None
    assert settings.token_secrets.get_secret_value() == "from-env"
    # A file that cannot be read stops the start, naming the variable.
    clean_env.setenv("CSP_PAYLOAD_KEYS_FILE", str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="CSP_PAYLOAD_KEYS_FILE"):
        Settings()


@pytest.fixture
async def bare_server() -> AsyncIterator[WorkflowEnvironment]:
    """A dev server without the product's search attributes."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_cli(),
        ip="127.0.0.1",
        port=free_port(),
        dev_server_log_level="error",
    )
    try:
        yield env
    finally:
        await env.shutdown()


async def test_missing_search_attributes_are_named_with_the_commands_to_create_them(
    bare_server: WorkflowEnvironment, monkeypatch: pytest.MonkeyPatch
) -> None:
    client: Client = bare_server.client
    names = [key.name for key in SEARCH_ATTRIBUTES]
    assert await missing_search_attributes(client) == names

    async def refused(client: Client) -> list[str]:  # as Temporal Cloud answers an API key
        raise RPCError("Request unauthorized.", RPCStatusCode.PERMISSION_DENIED, b"")

    with monkeypatch.context() as patched:
        patched.setattr(search_attribute_check, "ensure_search_attributes", refused)
        with pytest.raises(SearchAttributesMissing) as missing:
            await require_search_attributes(client)
    message = str(missing.value)
    assert "tcld namespace search-attributes add --namespace default" in message
    for key in SEARCH_ATTRIBUTES:
        assert key.name in message
    assert '"NextDeadline=Datetime"' in message and '"PartnerId=Keyword"' in message
    assert "temporal operator search-attribute create" in message

    # Where adding is allowed, the worker adds them and goes on.
    assert sorted(await require_search_attributes(client)) == sorted(names)
    for _ in range(50):
        if not await missing_search_attributes(client):
            break
        await asyncio.sleep(0.1)
    assert await missing_search_attributes(client) == []


async def test_connect_uses_the_profile(
    clean_env: pytest.MonkeyPatch, dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    address = dev_env.client.service_client.config.target_host
    (tmp_path / "temporal.toml").write_text(
        f'[profile.local]\naddress = "{address}"\nnamespace = "default"\n'
    )
    clean_env.setenv("TEMPORAL_CONFIG_FILE", str(tmp_path / "temporal.toml"))
    clean_env.setenv("TEMPORAL_PROFILE", "local")
    client = await connect(Settings())
    assert client.service_client.config.target_host == address
    assert await client.service_client.check_health()
