"""The production gateway app on a free loopback port, for tests."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence

from temporalio.client import Client

from gateway.app import create_app
from gateway.server import serve_asgi


@contextlib.asynccontextmanager
async def serve_gateway(client: Client, secrets: Sequence[bytes]) -> AsyncIterator[str]:
    async with serve_asgi(create_app(client, secrets)) as url:
        yield url
