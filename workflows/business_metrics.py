"""The product's business counters, emitted from workflow code through `workflow.metric_meter()`,
which the SDK silences during replay: a pipeline counts once however often its history is
replayed. Served with the SDK's own metrics on the worker's Prometheus endpoint
(runtime/metrics.py)."""

from __future__ import annotations

from temporalio import workflow

# Business counters (Prometheus names; labels in brackets)
PIPELINES_STARTED = "csp_pipelines_started"
"""Pipelines started [pipeline]."""


PIPELINES_COMPLETED = "csp_pipelines_completed"
"""Pipelines ended, whatever the outcome [pipeline, outcome]."""


PIPELINES_REFUSED = "csp_pipelines_refused"
"""Pipelines ended by a business refusal [pipeline, error_type], e.g. RegionMismatch."""


def pipeline_started(pipeline: str) -> None:
    meter = workflow.metric_meter()
    meter.create_counter(PIPELINES_STARTED, "Pipelines started").add(1, {"pipeline": pipeline})


def pipeline_ended(pipeline: str, outcome: str, error_type: str | None) -> None:
    meter = workflow.metric_meter()
    meter.create_counter(PIPELINES_COMPLETED, "Pipelines ended, by outcome").add(
        1, {"pipeline": pipeline, "outcome": outcome}
    )
    if error_type:
        meter.create_counter(PIPELINES_REFUSED, "Pipelines ended by a business refusal").add(
            1, {"pipeline": pipeline, "error_type": error_type}
        )
