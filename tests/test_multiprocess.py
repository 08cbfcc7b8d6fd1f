"""The scaled topology as real processes on this machine: one Temporal dev server, three
`python worker.py` processes and two `python -m gateway` processes, the partner registry on the
local PostgreSQL. Enrollments run through both gateways (verification links over HTTP); one
worker is killed with SIGKILL mid-run, another stopped with SIGTERM (graceful shutdown); every
pipeline still completes and each email is sent exactly once."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from adapters.mail.smtp_sink import SmtpSink, link_token, verification_links
from adapters.partner_center.local import current_data
from contract import names as contract
from domain.reseller_enrollment import EnrollmentResult, EnrollmentStage
from tests.conftest import (
    GLOBAL_ADMIN,
    _drop_postgres_database,
    _postgres_database,
    application,
    free_port,
    partner_center_data,
)
from tests.enrollment_driver import decide, start_enrollment
from tests.test_faults import (
    ENROLLMENT_SUBJECTS,
    STARTUP_SECONDS,
    Processes,
    _no_pending_activities,
    _wait_stage,
)

PARTNERS = [f"{3000001 + i}" for i in range(6)]


def _tenant(partner_id: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"tenant-{partner_id}"))


def _contact(partner_id: str) -> str:
    return f"contact-{partner_id}@partner.example"


def _partner_center() -> dict[str, Any]:
    data = partner_center_data()
    for partner_id in PARTNERS:
        data["profiles"][partner_id] = {"partnerName": f"Partner {partner_id}", "country": "JP"}
        data["tenants"][_tenant(partner_id)] = {
            "country": "JP",
            "defaultDomain": f"p{partner_id}.onmicrosoft.com",
            "globalAdmins": [GLOBAL_ADMIN],
            "adminAgent": False,
        }
        data["agreements"][partner_id] = {"isAgreementSigned": True}
    return data


class Topology(Processes):
    def __init__(self, state: Path, sink: SmtpSink, registry_url: str) -> None:
        super().__init__(state, sink)
        (state / "partner-center.json").write_text(json.dumps(_partner_center()))
        self.worker_env.update(
            {
                "CSP_REGISTRY_URL": registry_url,
                "CSP_WORKER_SHUTDOWN_SECONDS": "20",
                "CSP_PIPELINE_GAUGE_SECONDS": "0",
            }
        )

    async def start_worker_with_health(self, name: str) -> tuple[subprocess.Popen[bytes], str]:
        health = f"127.0.0.1:{free_port()}"
        saved = dict(self.worker_env)
        self.worker_env["CSP_HEALTH_BIND"] = health
        try:
            worker = await self.start_worker(name)
        finally:
            self.worker_env.clear()
            self.worker_env.update(saved)
        return worker, f"http://{health}"

    async def start_gateway(self, name: str) -> str:
        port = free_port()
        env = {**self.worker_env, "CSP_GATEWAY_PORT": str(port)}
        env["CSP_PUBLIC_BASE_URL"] = f"http://127.0.0.1:{port}"
        log_name = f"{name}.log"
        gateway = self._spawn([sys.executable, "-m", "gateway"], log_name, env)
        for _ in range(STARTUP_SECONDS * 10):
            assert gateway.poll() is None, self.log(log_name)
            if '"gateway_started"' in self.log(log_name):
                return f"http://127.0.0.1:{port}"
            await asyncio.sleep(0.1)
        raise AssertionError(f"{name} did not start:\n" + self.log(log_name))


@pytest.fixture
async def topology(tmp_path: Path) -> AsyncIterator[Topology]:
    created = await _postgres_database()
    if isinstance(created, str):
        pytest.skip(created)
    url, name = created
    try:
        async with SmtpSink(tmp_path / "mail", host="127.0.0.1", port=0) as sink:
            started = Topology(tmp_path, sink, url)
            try:
                yield started
            finally:
                started.stop_all()
    finally:
        await _drop_postgres_database(name)


async def _link_for(sink: SmtpSink, recipient: str) -> str:
    for _ in range(STARTUP_SECONDS * 10):
        for message in sink.messages():
            if str(message["To"]) == recipient and verification_links(message):
                [link] = verification_links(message)
                return link_token(link)
        await asyncio.sleep(0.1)
    raise AssertionError(f"no verification link for {recipient}")


async def _ready(http: httpx.AsyncClient, url: str) -> None:
    for _ in range(STARTUP_SECONDS * 10):
        answer = await http.get(f"{url}/readyz")
        if answer.status_code == 200:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{url} never became ready")


async def test_three_workers_two_gateways_one_killed_every_pipeline_completes_mailing_once(
    topology: Topology,
) -> None:
    await topology.start_server()
    workers = [await topology.start_worker_with_health(f"worker-{i}") for i in (1, 2, 3)]
    gateways = [await topology.start_gateway(f"gateway-{i}") for i in (1, 2)]
    client: Client = await topology.client()
    async with httpx.AsyncClient(timeout=30) as http:
        for _, health in workers:
            assert (await http.get(f"{health}/livez")).status_code == 200
            await _ready(http, health)
        for gateway in gateways:
            await _ready(http, gateway)

        ids = [contract.reseller_enrollment_id(p) for p in PARTNERS]
        handles = [
            await start_enrollment(
                client,
                workflow_id,
                application(
                    partner_id=partner_id,
                    tenant_id=_tenant(partner_id),
                    primary_contact={
                        **application()["primary_contact"],
                        "email": _contact(partner_id),
                    },
                ),
            )
            for workflow_id, partner_id in zip(ids, PARTNERS, strict=True)
        ]
        # The first half verified through the gateways before the kill.
        half = len(PARTNERS) // 2
        for i, partner_id in enumerate(PARTNERS[:half]):
            token = await _link_for(topology.sink, _contact(partner_id))
            answer = await http.post(
                f"{gateways[i % 2]}/verify-email",
                data={"token": token},
                headers={"Accept": "application/json"},
            )
            assert answer.status_code == 200, answer.text
        for workflow_id in ids[:half]:
            await _wait_stage(client, workflow_id, EnrollmentStage.REVIEW)
        for workflow_id in ids:
            await _no_pending_activities(client, workflow_id)
            await _no_pending_activities(client, contract.email_verification_id(workflow_id))

        # Mid-run: one worker dies without warning, another is stopped as a redeploy does.
        killed, _ = workers[0]
        topology.kill9(killed)
        stopped, _ = workers[1]
        os.kill(stopped.pid, signal.SIGTERM)
        assert await asyncio.to_thread(stopped.wait, 40) == 0, topology.log("worker-2.log")
        assert '"worker_stopped"' in topology.log("worker-2.log")

        for i, partner_id in enumerate(PARTNERS[half:]):
            token = await _link_for(topology.sink, _contact(partner_id))
            answer = await http.post(
                f"{gateways[i % 2]}/verify-email",
                data={"token": token},
                headers={"Accept": "application/json"},
            )
            assert answer.status_code == 200, answer.text
        for workflow_id, handle in zip(ids, handles, strict=True):
            await _wait_stage(client, workflow_id, EnrollmentStage.REVIEW)
            await decide(handle, "approve")
        for workflow_id in ids:
            result = client.get_workflow_handle(workflow_id, result_type=EnrollmentResult)
            outcome = await asyncio.wait_for(result.result(), STARTUP_SECONDS * 2)
            assert outcome.outcome is EnrollmentStage.ACTIVE, workflow_id

    messages = await topology.sink.wait_for_messages(
        len(PARTNERS) * len(ENROLLMENT_SUBJECTS), timeout_seconds=60
    )
    await asyncio.sleep(1)  # a duplicate, if any, would arrive now
    sent = Counter((str(m["To"]), str(m["Subject"])) for m in topology.sink.messages())
    expected = Counter(
        (_contact(partner_id), subject)
        for partner_id in PARTNERS
        for subject in ENROLLMENT_SUBJECTS
    )
    assert sent == expected, messages
    # Every worker appended its admin-agent changes to the shared Partner Center journal.
    tenants = current_data(topology.state / "partner-center.json")["tenants"]
    assert all(tenants[_tenant(partner_id)]["adminAgent"] is True for partner_id in PARTNERS)
