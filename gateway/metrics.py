"""The gateway's request metrics, on the same Prometheus endpoint as the Temporal client's
(CSP_METRICS_BIND of `python -m gateway`; the embedded default's one endpoint):

| metric | labels |
|---|---|
| `csp_gateway_requests` (counter) | `route` (the route's path template), `method`, `status` |
| `csp_gateway_request_duration` (histogram, milliseconds) | `route`, `method` |

Paths that match no route count under `route="unmatched"`, so a scan cannot grow the label set."""

from __future__ import annotations

import time
from collections.abc import Sequence

from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.common import MetricMeter

GATEWAY_REQUESTS = "csp_gateway_requests"
GATEWAY_REQUEST_DURATION = "csp_gateway_request_duration"
UNMATCHED = "unmatched"


def route_template(routes: Sequence[BaseRoute], scope: Scope) -> str:
    for route in routes:
        match, _ = route.matches(scope)
        if match is not Match.NONE and isinstance(route, Route):
            return route.path
    return UNMATCHED


class GatewayMetricsMiddleware:
    def __init__(self, app: ASGIApp, meter: MetricMeter, routes: Sequence[BaseRoute]) -> None:
        self._app = app
        self._routes = routes
        self._requests = meter.create_counter(GATEWAY_REQUESTS, "Gateway HTTP requests")
        self._duration = meter.create_histogram_float(
            GATEWAY_REQUEST_DURATION, "Gateway HTTP request duration", "ms"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_recording_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self._app(scope, receive, send_recording_status)
        finally:
            route = route_template(self._routes, scope)
            method = str(scope.get("method", ""))
            self._requests.add(1, {"route": route, "method": method, "status": str(status)})
            self._duration.record(
                (time.perf_counter() - started) * 1000, {"route": route, "method": method}
            )
