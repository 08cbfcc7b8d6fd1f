"""Liveness and readiness over HTTP, for container health checks and Kubernetes probes.

`/livez`: 200 while the process's event loop answers. `/readyz`: 200 when the readiness check
passes (worker: polling and Temporal answering; gateway: Temporal answering), else 503 with the
reason. The worker serves them on CSP_HEALTH_BIND; the gateway on its own port."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from temporalio.client import Client

from gateway.server import serve_asgi

ReadinessCheck = Callable[[], Awaitable[str | None]]
"""Returns None when ready, else why not."""


def temporal_readiness(client: Client, timeout: timedelta = timedelta(seconds=3)) -> ReadinessCheck:
    async def check() -> str | None:
        try:
            if await client.service_client.check_health(timeout=timeout):
                return None
            return "Temporal frontend reports not serving"
        except Exception as err:  # any failure to answer means: not ready
            return f"Temporal frontend unreachable: {err}"

    return check


async def livez(request: Request) -> Response:
    return JSONResponse({"status": "alive"})


def readyz_endpoint(check: ReadinessCheck) -> Callable[[Request], Awaitable[Response]]:
    async def readyz(request: Request) -> Response:
        reason = await check()
        if reason is None:
            return JSONResponse({"status": "ready"})
        return JSONResponse({"status": "not_ready", "reason": reason}, status_code=503)

    return readyz


def health_routes(check: ReadinessCheck) -> list[Route]:
    return [Route("/livez", livez), Route("/readyz", readyz_endpoint(check))]


def parse_bind(bind: str) -> tuple[str, int]:
    host, sep, port = bind.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"expected host:port, got {bind!r}")
    return host or "0.0.0.0", int(port)


@contextlib.asynccontextmanager
async def serve_health(bind: str, check: ReadinessCheck) -> AsyncIterator[str | None]:
    """Serve /livez and /readyz on `host:port` until the block exits (empty bind: nothing)."""
    if not bind:
        yield None
        return
    host, port = parse_bind(bind)
    async with serve_asgi(Starlette(routes=health_routes(check)), host, port) as url:
        yield url
