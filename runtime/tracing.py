"""OpenTelemetry tracing: one trace from a client call through the workflow and its activities to
the outgoing HTTP requests (Partner Center, Graph), exported over OTLP/HTTP to CSP_OTLP_ENDPOINT.

Off unless CSP_OTLP_ENDPOINT is set (the embedded default sets none). `configure_tracing` runs
once per process before its Temporal client is created: the client then carries
`temporalio.contrib.opentelemetry.TracingInterceptor`, which its workers inherit, and httpx
clients created afterwards are instrumented.
"""

from __future__ import annotations

import structlog
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from temporalio.client import Interceptor
from temporalio.contrib.opentelemetry import TracingInterceptor

log = structlog.get_logger(__name__)

_provider: TracerProvider | None = None


def otlp_traces_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL of a collector base address (`http://host:4318`)."""
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith("/v1/traces") else f"{endpoint}/v1/traces"


def configure_tracing(
    service_name: str,
    otlp_endpoint: str | None,
    *,
    exporter: SpanExporter | None = None,
) -> TracerProvider | None:
    """Install the process's tracer provider (OTLP to `otlp_endpoint`, or `exporter` given by a
    test). Without either, tracing stays off and nothing is installed."""
    global _provider
    if exporter is None:
        if not otlp_endpoint:
            log.info("tracing_disabled")
            return None
        exporter = OTLPSpanExporter(endpoint=otlp_traces_url(otlp_endpoint))
    if _provider is not None:
        _provider.add_span_processor(BatchSpanProcessor(exporter))
        return _provider
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service_name}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    HTTPXClientInstrumentor().instrument(tracer_provider=provider)
    _provider = provider
    log.info("tracing_enabled", service=service_name, endpoint=otlp_endpoint)
    return provider


def tracing_enabled() -> bool:
    return _provider is not None


def client_interceptors() -> list[Interceptor]:
    """The Temporal client's interceptors: tracing when it is configured."""
    if _provider is None:
        return []
    return [TracingInterceptor(_provider.get_tracer("csp-enrollment"))]


def shutdown_tracing() -> None:
    """Flush the spans still buffered (at process exit)."""
    if _provider is not None:
        _provider.force_flush()
