"""`csp partner-center check` against the fake built from Microsoft's documents."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.partner_center.check import CheckResult, check_partner_center
from adapters.partner_center.http import PartnerCenterHttpClient
from domain.identifiers import TenantId
from tests.fake_partner_center import (
    GRAPH_TOKEN,
    PC_TOKEN,
    RELATIONSHIPS,
    DocumentedPartnerCenter,
    serve_documented_partner_center,
)

TENANT = TenantId("84841066-274d-4ec0-a5c1-276be684bdd3")
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
async def fake() -> AsyncIterator[DocumentedPartnerCenter]:
    async with serve_documented_partner_center() as server:
        yield server


def _client(base_url: str, *, graph: bool = True) -> PartnerCenterHttpClient:
    return PartnerCenterHttpClient(
        partner_center_tokens=PC_TOKEN,
        graph_tokens=GRAPH_TOKEN if graph else None,
        base_url=base_url,
        graph_url=base_url,
        max_attempts=1,
    )


def _by_operation(results: list[CheckResult]) -> dict[str, CheckResult]:
    return {r.operation.split(" GET ")[1]: r for r in results}


async def test_every_read_is_ok_with_working_credentials(fake: DocumentedPartnerCenter) -> None:
    async with _client(fake.base_url) as client:
        results = _by_operation(await check_partner_center(client, graph_tenant=TENANT))
    assert all(r.ok for r in results.values()), results
    assert results["/v1/profiles/mpn"].detail == "PartnerID 4391507 (Microsoft Partner)"
    assert "country US, vetting status authorized" in results["/v1/profiles/legalbusiness"].detail
    assert results["/v1/relationships"].detail == "2 indirect reseller(s)"
    assert results["/v1/compliance/csp/agreementstatus"].detail == "PartnerID 4391507: signed"
    assert "country NL" in results["/v1.0/organization/{tenant}"].detail
    assert {r.method for r in fake.requests} == {"GET"}  # read-only


async def test_failures_are_named_auth_permission_and_not_configured(
    fake: DocumentedPartnerCenter,
) -> None:
    fake.pc_tokens = {"another-token"}
    async with _client(fake.base_url, graph=False) as client:
        results = _by_operation(await check_partner_center(client, graph_tenant=TENANT))
    assert results["/v1/profiles/mpn"].kind == "auth"
    assert "800001" in results["/v1/profiles/mpn"].detail
    assert PC_TOKEN not in results["/v1/profiles/mpn"].detail
    assert results["/v1.0/organization/{tenant}"].kind == "not configured"

    fake.pc_tokens = {PC_TOKEN}
    fake.refuse_with_code("GET", RELATIONSHIPS, 900329)
    async with _client(fake.base_url) as client:
        results = _by_operation(await check_partner_center(client, graph_tenant=TENANT))
    relationships = results["/v1/relationships"]
    assert (relationships.ok, relationships.kind) == (False, "permission")
    assert "does not support application-only authentication" in relationships.detail
    assert results["/v1/profiles/mpn"].ok


async def test_an_unreachable_partner_center_is_network() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with _client(f"http://127.0.0.1:{port}") as client:
        results = await check_partner_center(client, graph_tenant=TENANT)
    by_operation = _by_operation(results)
    assert by_operation.pop("/v1/compliance/csp/agreementstatus").kind == "skipped"
    assert {r.kind for r in by_operation.values()} == {"network"}
    assert all("ConnectError" in r.detail for r in by_operation.values())


async def _csp(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import cli; cli.main()",
        *args,
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_the_cli_command(fake: DocumentedPartnerCenter, tmp_path: Path) -> None:
    env = {
        "CSP_PARTNER_CENTER_MODE": "http",
        "CSP_PARTNER_CENTER_URL": fake.base_url,
        "CSP_GRAPH_URL": fake.base_url,
        "CSP_PARTNER_CENTER_TOKEN": PC_TOKEN,
        "CSP_GRAPH_TOKEN": GRAPH_TOKEN,
        "CSP_ENTRA_TENANT_ID": str(TENANT),
        "CSP_STATE_DIR": str(tmp_path),
    }
    code, out, err = await _csp("partner-center", "check", env=env)
    assert (code, err) == (0, "")
    assert len(out.splitlines()) == 6
    assert all(line.startswith("OK") for line in out.splitlines())

    fake.refuse_with_code("GET", RELATIONSHIPS, 900329)
    code, out, err = await _csp("partner-center", "check", env=env)
    assert code == 1
    assert "FAILED (permission)" in out and "/v1/relationships" in out
    assert err.strip() == "csp: error: 1 of 6 Partner Center checks failed"

    code, out, _ = await _csp(
        "partner-center", "check", env={"CSP_PARTNER_CENTER_MODE": "local", "CSP_STATE_DIR": "x"}
    )
    assert code == 0 and "no credentials to check" in out
