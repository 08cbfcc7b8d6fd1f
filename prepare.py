"""`python -m prepare`: the one-shot set-up of the scaled deployment (docker-compose.yml).

Waits until the Temporal frontend answers on TEMPORAL_ADDRESS and its namespace exists, registers
the product's search attributes (contract/names.py, only the missing ones), and in local Partner
Center mode writes the sample data files into the shared state folder unless they exist. Exits 0
when done; safe to run again at every deployment. Workers register missing search attributes too,
so this is what makes them visible before the first pipeline starts.
"""

from __future__ import annotations

import asyncio
import time

import structlog
from temporalio.service import RPCError

from adapters.partner_center.local import write_sample_if_missing
from adapters.partner_programs.local import (
    write_sample_if_missing as write_programs_sample_if_missing,
)
from adapters.registry.migrate import upgrade_registry
from runtime.logging import configure_logging
from runtime.search_attribute_check import SearchAttributesMissing, require_search_attributes
from runtime.settings import Settings
from runtime.state_dir import prepare_state_dir
from runtime.temporal_client import connect, temporal_address

log = structlog.get_logger(__name__)

WAIT_SECONDS = 300.0
RETRY_SECONDS = 2.0


async def register_search_attributes(settings: Settings, wait_seconds: float) -> list[str]:
    """Register the missing search attributes once the frontend and namespace answer."""
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            client = await connect(settings)
            # Added where allowed; where not (Temporal Cloud), checked and named if missing.
            return await require_search_attributes(client)
        except SearchAttributesMissing:
            raise
        except (RuntimeError, RPCError) as err:  # not up yet, or the namespace not created yet
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"Temporal at {temporal_address(settings)} (namespace "
                    f"{settings.temporal_namespace}) did not answer within {wait_seconds:.0f} s: "
                    f"{err}"
                ) from err
            log.info("waiting_for_temporal", address=temporal_address(settings), error=str(err))
            await asyncio.sleep(RETRY_SECONDS)


async def prepare(settings: Settings, wait_seconds: float = WAIT_SECONDS) -> None:
    if settings.registry_url is not None:  # the shared registry: migrate before any replica
        revision = await upgrade_registry(settings.registry_database_url)
        log.info("registry_migrated", revision=revision)
    added = await register_search_attributes(settings, wait_seconds)
    log.info("search_attributes_ensured", added=added, namespace=settings.temporal_namespace)
    if settings.partner_center_mode == "local":
        prepare_state_dir(settings.state_dir)
        for path, write in (
            (settings.partner_center_data_path, write_sample_if_missing),
            (settings.partner_programs_data_path, write_programs_sample_if_missing),
        ):
            log.info("local_data_file", path=str(path), written=write(path))


def main() -> None:
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    asyncio.run(prepare(settings))


if __name__ == "__main__":
    main()
