"""Activities' bad-data errors become non-retryable: retrying cannot fix a malformed value.

An activity (or the adapter under it) raising `domain.errors.InvalidSourceData` fails at once with
a non-retryable ApplicationError of type `InvalidSourceData`, whose message names the source and
the field; the pipeline then shows `Attention` (workflows/pipeline.py `execute`).
"""

from __future__ import annotations

from typing import Any

from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from contract.errors import invalid_data_error
from domain.errors import InvalidSourceData


class _InvalidDataIsFinal(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        try:
            return await super().execute_activity(input)
        except InvalidSourceData as err:
            raise invalid_data_error(err) from err


class InvalidDataInterceptor(Interceptor):
    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _InvalidDataIsFinal(next)
