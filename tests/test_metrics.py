"""The worker's Prometheus endpoint (`CSP_METRICS_BIND`): SDK metrics and the business counters
(pipelines started, ended by outcome, refused by error type), read over real HTTP after real
pipelines ran on the dev server, and not counted again when a history is replayed."""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
from temporalio.client import Client, WorkflowFailureError
from temporalio.runtime import Runtime
from temporalio.testing import WorkflowEnvironment

from contract import names
from domain.reseller_enrollment import EnrollmentStage
from runtime.metrics import install_metrics, metrics_runtime
from runtime.temporal_client import DATA_CONVERTER
from tests.conftest import US_PARTNER, Stack, application, free_port, new_partner
from tests.enrollment_driver import decide, latest_token, start_enrollment, status, verify
from workflows.business_metrics import PIPELINES_COMPLETED, PIPELINES_REFUSED, PIPELINES_STARTED

_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')

Series = list[tuple[str, dict[str, str], float]]


def parse(exposition: str) -> Series:
    """Prometheus text exposition -> (name, labels, value) per sample."""
    samples: Series = []
    for line in exposition.splitlines():
        if not line or line.startswith("#"):
            continue
        head, _, value = line.rpartition(" ")
        name, _, labels = head.partition("{")
        samples.append((name, dict(_LABEL.findall(labels)), float(value)))
    return samples


def total(samples: Series, name: str, **labels: str) -> float:
    return sum(
        value
        for sample, found, value in samples
        if sample == name and all(found.get(k) == v for k, v in labels.items())
    )


class Endpoint:
    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}/metrics"

    async def scrape(self) -> Series:
        async with httpx.AsyncClient() as http:
            answer = await http.get(self.url)
        assert answer.status_code == 200
        return parse(answer.text)

    async def wait_for(self, name: str, expected: float, **labels: str) -> Series:
        samples: Series = []
        for _ in range(100):
            samples = await self.scrape()
            if total(samples, name, **labels) >= expected:
                return samples
            await asyncio.sleep(0.1)
        raise AssertionError(f"{name}{labels} never reached {expected}: {samples}")


@pytest.fixture
async def metered(dev_env: WorkflowEnvironment) -> AsyncIterator[tuple[Client, Endpoint]]:
    """A client (and so its workers) on a runtime of its own serving /metrics on a free port."""
    port = free_port()
    runtime: Runtime = metrics_runtime(f"127.0.0.1:{port}")
    client = await Client.connect(
        dev_env.client.service_client.config.target_host,
        namespace=dev_env.client.namespace,
        data_converter=DATA_CONVERTER,
        runtime=runtime,
    )
    yield client, Endpoint(port)


async def test_business_counters_and_sdk_metrics_are_served(
    metered: tuple[Client, Endpoint], stack: Stack
) -> None:
    client, endpoint = metered
    pipeline = {"pipeline": names.RESELLER_ENROLLMENT}
    async with stack.worker(client):
        ok = new_partner(stack)
        ok_id = names.reseller_enrollment_id(ok)
        enrolled = await start_enrollment(client, ok_id, application(partner_id=ok))
        await verify(client, ok_id, await latest_token(stack.sink, 1))
        for _ in range(100):
            if (await status(enrolled)).stage is EnrollmentStage.REVIEW:
                break
            await asyncio.sleep(0.05)
        await decide(enrolled, "approve")
        assert (await enrolled.result()).outcome is EnrollmentStage.ACTIVE

        refused = await start_enrollment(
            client,
            names.reseller_enrollment_id(US_PARTNER),
            application(partner_id=US_PARTNER),
        )
        with pytest.raises(WorkflowFailureError):
            await refused.result()

        samples = await endpoint.wait_for(PIPELINES_COMPLETED, 2, **pipeline)
    assert total(samples, PIPELINES_STARTED, **pipeline) == 2
    assert total(samples, PIPELINES_STARTED, service="csp-enrollment", **pipeline) == 2
    assert total(samples, PIPELINES_COMPLETED, outcome="active", **pipeline) == 1
    assert total(samples, PIPELINES_COMPLETED, outcome="rejected", **pipeline) == 1
    assert total(samples, PIPELINES_REFUSED, error_type="RegionMismatch", **pipeline) == 1
    assert total(samples, PIPELINES_REFUSED, **pipeline) == 1
    # The SDK's own metrics are on the same endpoint, with the task queue as a label.
    assert total(samples, "temporal_workflow_completed", task_queue=names.TASK_QUEUE) >= 1
    assert any(name.startswith("temporal_activity_execution_latency") for name, _, _ in samples)

    # A fresh worker (empty cache) answers a query by replaying the whole history: no recount.
    async with stack.worker(client):
        assert (await status(enrolled)).stage is EnrollmentStage.ACTIVE
    again = await endpoint.scrape()
    assert total(again, PIPELINES_STARTED, **pipeline) == 2
    assert total(again, PIPELINES_COMPLETED, **pipeline) == 2


def test_an_empty_bind_address_disables_metrics() -> None:
    assert install_metrics("") is None


def test_a_taken_port_is_reported_and_the_process_runs_on(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        assert install_metrics(address) is None
    assert "metrics_endpoint_unavailable" in capsys.readouterr().out
    with pytest.raises(ValueError, match="Address already in use"), socket.socket() as again:
        again.bind(("127.0.0.1", 0))
        again.listen()
        metrics_runtime(f"127.0.0.1:{again.getsockname()[1]}")
