"""What operators watch: the Grafana dashboard's queries name metrics the product really exports
(scraped from a real worker and gateway after real pipelines), the pipeline gauges (running by
stage, deadlines due this week, waiting past a deadline), the gateway's request metrics and the
liveness / readiness endpoints of the gateway and the worker."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.runtime import Runtime
from temporalio.testing import WorkflowEnvironment

from adapters.partner_programs.local import LocalPartnerPrograms
from contract import names as contract
from domain.reassessment import TransitionRequest, TransitionResult
from domain.reseller_enrollment import EnrollmentStage
from gateway.app import create_app
from gateway.metrics import GATEWAY_REQUEST_DURATION, GATEWAY_REQUESTS
from gateway.server import serve_asgi
from runtime.binaries import temporal_cli
from runtime.health import serve_health, temporal_readiness
from runtime.metrics import metrics_runtime
from runtime.pipeline_gauges import (
    DEADLINES_DUE_WEEK,
    PIPELINES_PAST_DEADLINE,
    PIPELINES_RUNNING,
    PipelineGauges,
)
from runtime.temporal_client import DATA_CONVERTER
from tests.conftest import (
    TOKEN_SECRET,
    UNSIGNED_TENANT,
    US_PARTNER,
    Stack,
    application,
    free_port,
    new_partner,
)
from tests.direct_bill_driver import db_application, start_direct_bill
from tests.enrollment_driver import decide, latest_token, start_enrollment, status, verify
from tests.reassessment_fixtures import Partner, seed
from tests.test_metrics import Endpoint, Series, total
from worker import Dependencies, build_worker, mailer_from_settings
from workflows.business_metrics import PIPELINES_COMPLETED, PIPELINES_REFUSED, PIPELINES_STARTED
from workflows.counting_interceptor import COUNTED_HERE, PipelineCounterInterceptor

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "csp-pipelines.json"

# PromQL words that are not metric names
_PROMQL_WORDS = {
    "sum", "max", "min", "avg", "count", "by", "without", "rate", "increase", "irate",
    "histogram_quantile", "le", "on", "ignoring", "group_left", "group_right", "offset", "bool",
    "and", "or", "unless", "topk", "bottomk", "delta", "deriv", "abs", "clamp_min", "vector",
}  # fmt: skip
_HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def dashboard_queries(dashboard: dict[str, object]) -> list[str]:
    panels = dashboard["panels"]
    assert isinstance(panels, list)
    return [target["expr"] for panel in panels for target in panel["targets"]]


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (labels, functions and durations removed)."""
    without_labels = re.sub(r"\{[^}]*\}", "", expr)
    without_groupings = re.sub(r"\b(?:by|without|on|ignoring)\s*\([^)]*\)", "", without_labels)
    without_ranges = re.sub(r"\[[^\]]*\]", "", without_groupings)
    words = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", without_ranges))
    return {w for w in words if w not in _PROMQL_WORDS}


def test_metric_names_are_read_from_promql() -> None:
    expr = (
        "histogram_quantile(0.95, sum by (le, task_queue) "
        '(rate(temporal_workflow_task_schedule_to_start_latency_bucket{task_queue="q"}[5m])))'
    )
    assert metric_names(expr) == {"temporal_workflow_task_schedule_to_start_latency_bucket"}
    assert metric_names("sum(max by (pipeline) (a_b)) / ignoring(x) c_d") == {"a_b", "c_d"}


def exported(samples: Series) -> set[str]:
    names = {name for name, _, _ in samples}
    return names | {n.removesuffix(s) for n in names for s in _HISTOGRAM_SUFFIXES if n.endswith(s)}


@pytest.fixture
async def metered(dev_env: WorkflowEnvironment) -> AsyncIterator[tuple[Client, Runtime, Endpoint]]:
    port = free_port()
    runtime = metrics_runtime(f"127.0.0.1:{port}")
    client = await Client.connect(
        dev_env.client.service_client.config.target_host,
        namespace=dev_env.client.namespace,
        data_converter=DATA_CONVERTER,
        runtime=runtime,
    )
    yield client, runtime, Endpoint(port)


async def _wait_for_stage(handle: WorkflowHandle[Any, Any], stage: EnrollmentStage) -> None:
    for _ in range(200):
        if (await status(handle)).stage is stage:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never reached {stage}")


async def refresh_until_running(
    gauges: PipelineGauges, client: Client, endpoint: Endpoint, now: datetime | None = None
) -> Series:
    """Refresh the gauges until a waiting enrollment shows (visibility is eventually
    consistent)."""
    for _ in range(100):
        await gauges.refresh(client, now)
        samples = await endpoint.scrape()
        running = {"pipeline": contract.RESELLER_ENROLLMENT, "stage": "email_verification"}
        if total(samples, PIPELINES_RUNNING, **running) >= 1:
            return samples
        await asyncio.sleep(0.1)
    raise AssertionError("the waiting enrollment never showed in csp_pipelines_running")


async def test_dashboard_queries_name_metrics_the_product_exports(
    metered: tuple[Client, Runtime, Endpoint], stack: Stack
) -> None:
    client, runtime, endpoint = metered
    dashboard = json.loads(DASHBOARD.read_text())
    queries = dashboard_queries(dashboard)
    wanted = set().union(*(metric_names(q) for q in queries))
    # Every subject the issue names has a panel.
    assert {
        "csp_pipelines_running", "csp_pipelines_refused", "csp_deadlines_due_week",
        "temporal_workflow_task_schedule_to_start_latency_bucket",
    } <= wanted  # fmt: skip

    async with stack.worker(client):
        ok, unsigned = new_partner(stack), new_partner(stack, mpa_signed=False)
        ok_id = contract.reseller_enrollment_id(ok)
        done = await start_enrollment(client, ok_id, application(partner_id=ok))
        await verify(client, ok_id, await latest_token(stack.sink, 1))
        await _wait_for_stage(done, EnrollmentStage.REVIEW)
        await decide(done, "approve")
        assert (await done.result()).outcome is EnrollmentStage.ACTIVE
        refused = await start_enrollment(
            client,
            contract.reseller_enrollment_id(US_PARTNER),
            application(partner_id=US_PARTNER),
        )
        with pytest.raises(WorkflowFailureError):
            await refused.result()
        await endpoint.wait_for(PIPELINES_REFUSED, 1)
        waiting = await start_enrollment(
            client,
            contract.reseller_enrollment_id(unsigned),
            application(partner_id=unsigned, tenant_id=str(UNSIGNED_TENANT)),
        )
        await _wait_for_stage(waiting, EnrollmentStage.EMAIL_VERIFICATION)
        try:
            await refresh_until_running(PipelineGauges(runtime.metric_meter), client, endpoint)
        finally:
            await waiting.terminate("test over")
        gateway = create_app(client, [TOKEN_SECRET.encode()], meter=runtime.metric_meter)
        async with serve_asgi(gateway) as url, httpx.AsyncClient(base_url=url) as http:
            assert (await http.get("/readyz")).status_code == 200
            assert (await http.get("/no-such-page")).status_code == 404
        samples = await endpoint.wait_for(GATEWAY_REQUESTS, 2)

    names = exported(samples)
    missing = sorted(n for n in wanted if n not in names)
    assert not missing, f"the dashboard reads metrics nobody exports: {missing}"


async def test_pipeline_gauges_count_running_pipelines_by_stage_and_deadline(
    metered: tuple[Client, Runtime, Endpoint], stack: Stack
) -> None:
    client, runtime, endpoint = metered
    gauges = PipelineGauges(runtime.metric_meter)
    async with stack.worker(client):
        partner = new_partner(stack)
        waiting = await start_enrollment(
            client, contract.reseller_enrollment_id(partner), application(partner_id=partner)
        )
        await _wait_for_stage(waiting, EnrollmentStage.EMAIL_VERIFICATION)
        try:
            # The verification deadline is 30 days out: now, within a week of it, past it.
            enrollment = {"pipeline": contract.RESELLER_ENROLLMENT}
            for shift, due, past in ((0, 0, 0), (25, 1, 0), (31, 0, 1)):
                now = datetime.now(UTC) + timedelta(days=shift)
                samples = await refresh_until_running(gauges, client, endpoint, now)
                # Other tests' pipelines on the shared dev server may be running too.
                assert total(samples, DEADLINES_DUE_WEEK, **enrollment) >= due
                assert total(samples, PIPELINES_PAST_DEADLINE, **enrollment) >= past
        finally:
            await waiting.terminate("test over")


async def test_gateway_counts_requests_by_route_template_and_status(
    metered: tuple[Client, Runtime, Endpoint],
) -> None:
    client, runtime, endpoint = metered
    gateway = create_app(client, [TOKEN_SECRET.encode()], meter=runtime.metric_meter)
    async with serve_asgi(gateway) as url, httpx.AsyncClient(base_url=url) as http:
        for _ in range(3):
            assert (await http.get("/healthz")).status_code == 200
        assert (await http.get("/verify-email", params={"token": "garbage"})).status_code == 400
        assert (await http.get("/wp-admin/secret")).status_code == 404
        assert (await http.get("/livez")).json() == {"status": "alive"}
    samples = await endpoint.wait_for(GATEWAY_REQUESTS, 6)
    assert total(samples, GATEWAY_REQUESTS, route="/healthz", method="GET", status="200") == 3
    assert total(samples, GATEWAY_REQUESTS, route="/verify-email", status="400") == 1
    # Unknown paths share one label value: a scan cannot grow the series.
    assert total(samples, GATEWAY_REQUESTS, route="unmatched", status="404") == 1
    assert not any("/wp-admin" in str(labels) for _, labels, _ in samples)
    assert total(samples, f"{GATEWAY_REQUEST_DURATION}_count", route="/healthz") == 3


async def test_readiness_reports_temporal_unreachable(dev_env: WorkflowEnvironment) -> None:
    ready = temporal_readiness(dev_env.client)
    assert await ready() is None
    gone = await WorkflowEnvironment.start_local(
        data_converter=DATA_CONVERTER,
        dev_server_existing_path=temporal_cli(),
        ip="127.0.0.1",
        port=free_port(),
        dev_server_log_level="error",
    )
    check = temporal_readiness(gone.client, timeout=timedelta(seconds=1))
    assert await check() is None
    await gone.shutdown()
    reason = await check()
    assert reason is not None and "unreachable" in reason

    async with serve_health(f"127.0.0.1:{free_port()}", check) as url:
        assert url is not None
        async with httpx.AsyncClient(base_url=url) as http:
            assert (await http.get("/livez")).status_code == 200
            answer = await http.get("/readyz")
    assert answer.status_code == 503
    assert "unreachable" in answer.json()["reason"]


async def test_every_pipeline_is_counted_once(
    metered: tuple[Client, Runtime, Endpoint], stack: Stack
) -> None:
    """The transition back to indirect reseller (counted by the interceptor) ends
    `transitioned`; the direct-bill application it puts in cooldown (counted by run_pipeline) is
    then refused with `CooldownActive`: both counted once each."""
    client, _, endpoint = metered
    pga = "5200001"
    await seed(stack, date(2026, 1, 1), [Partner(pga)])
    # RA-04: nobody chooses a provider here; the choice period (real time) ends after a second.
    stack.settings = stack.settings.model_copy(update={"ra_provider_choice_days": 1 / 86400})
    transition = {"pipeline": contract.TRANSITION_TO_INDIRECT}
    direct_bill = {"pipeline": contract.DIRECT_BILL_APPLICATION}
    async with stack.worker(client):
        handle = await client.start_workflow(
            contract.TRANSITION_TO_INDIRECT,
            TransitionRequest(pga_id=pga, region="JP", pla_id="5200009", reasons=("revenue",)),
            id=contract.transition_id(pga, "JP", 2026),
            task_queue=contract.TASK_QUEUE,
            result_type=TransitionResult,
        )
        assert (await handle.result()).pga_id == pga
        refused = await start_direct_bill(
            client,
            contract.direct_bill_id(pga, "JP"),
            db_application(pga_id=pga, pla_id="5200009"),
        )
        with pytest.raises(WorkflowFailureError):
            await refused.result()
        samples = await endpoint.wait_for(PIPELINES_COMPLETED, 1, **direct_bill)
    assert total(samples, PIPELINES_STARTED, **transition) == 1
    assert total(samples, PIPELINES_COMPLETED, outcome="transitioned", **transition) == 1
    assert total(samples, PIPELINES_STARTED, **direct_bill) == 1
    assert total(samples, PIPELINES_COMPLETED, outcome="refused", **direct_bill) == 1
    assert total(samples, PIPELINES_REFUSED, error_type="CooldownActive", **direct_bill) == 1
    # The pipelines that count themselves are not counted again by the interceptor (the direct-bill
    # refusal above counted once).
    assert contract.RESELLER_ENROLLMENT not in COUNTED_HERE
    assert contract.DIRECT_BILL_APPLICATION not in COUNTED_HERE


async def test_the_worker_takes_its_shutdown_grace_and_workflow_task_limit_from_settings(
    dev_env: WorkflowEnvironment, stack: Stack
) -> None:
    settings = stack.settings.model_copy(
        update={"worker_shutdown_seconds": 42.0, "worker_max_workflow_tasks": 7}
    )
    # A client of its own: a worker registers with its client's core on construction.
    client = await Client.connect(
        dev_env.client.service_client.config.target_host,
        namespace=dev_env.client.namespace,
        data_converter=DATA_CONVERTER,
    )
    deps = Dependencies(
        mailer=mailer_from_settings(settings),
        partner_center=stack.partner_center,
        registry=stack.registry,
        partner_programs=LocalPartnerPrograms(stack.programs_file),
    )
    worker = build_worker(client, deps, settings)
    async with worker:  # started and shut down, so nothing stays registered
        config = worker.config()
    assert config.get("graceful_shutdown_timeout") == timedelta(seconds=42)
    assert config.get("max_concurrent_workflow_tasks") == 7
    interceptors = config.get("interceptors") or []
    assert any(isinstance(i, PipelineCounterInterceptor) for i in interceptors)
