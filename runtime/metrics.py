"""Prometheus metrics: the Temporal SDK's own (workflow/activity task latencies, poll and slot
gauges, failures) plus the product's business counters, on one endpoint (`CSP_METRICS_BIND`).

The counters are emitted from inside workflows through `workflow.metric_meter()`, which the SDK
silences during replay: a pipeline counts once however often its history is replayed. The functions
below are safe to call from workflow code (import this module passed through).
"""

from __future__ import annotations

import structlog
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

log = structlog.get_logger(__name__)


def metrics_runtime(bind_address: str) -> Runtime:
    """A Temporal runtime serving Prometheus metrics on `host:port` (`/metrics`).

    Raises ValueError when the address is malformed or already in use."""
    return Runtime(
        telemetry=TelemetryConfig(
            metrics=PrometheusConfig(
                bind_address=bind_address,
                # Gateway requests take milliseconds: finer buckets than the SDK's default.
                histogram_bucket_overrides={
                    "csp_gateway_request_duration": [
                        2,
                        5,
                        10,
                        25,
                        50,
                        100,
                        250,
                        500,
                        1000,
                        2500,
                        5000,
                        10000,
                    ]
                },
            ),
            global_tags={"service": "csp-enrollment"},
        )
    )


def install_metrics(bind_address: str) -> Runtime | None:
    """Make the Prometheus runtime the process default, before any Temporal client is created.

    An empty address disables metrics. A port that cannot be bound is logged as an error and the
    process runs on without metrics (a scrape target that is down is what Prometheus alerts on)."""
    if not bind_address:
        log.info("metrics_disabled")
        return None
    try:
        runtime = metrics_runtime(bind_address)
    except ValueError as err:
        log.error("metrics_endpoint_unavailable", bind=bind_address, error=str(err))
        return None
    Runtime.set_default(runtime, error_if_already_set=True)
    log.info("metrics_endpoint_started", url=f"http://{bind_address}/metrics")
    return runtime
