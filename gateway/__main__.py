"""`python -m gateway`: the HTTP gateway as its own service (production topology)."""

from __future__ import annotations

import asyncio
import signal

import structlog

from gateway.app import app_from_settings
from gateway.server import serve_asgi
from runtime.logging import configure_logging
from runtime.metrics import install_metrics
from runtime.settings import Settings
from runtime.state_dir import prepare_state_dir
from runtime.temporal_client import connect
from runtime.tracing import configure_tracing, shutdown_tracing

log = structlog.get_logger(__name__)


async def _main() -> None:
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    prepare_state_dir(settings.state_dir)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    # Both before the client: request metrics on its runtime's endpoint, traces through it.
    install_metrics(settings.metrics_bind)
    configure_tracing("csp-gateway", settings.otlp_endpoint)
    client = await connect(settings)
    app = app_from_settings(client, settings)
    try:
        async with serve_asgi(app, settings.gateway_host, settings.gateway_port) as url:
            log.info("gateway_started", url=url, public_url=settings.public_base_url)
            await stop.wait()
    finally:
        shutdown_tracing()


if __name__ == "__main__":
    asyncio.run(_main())
