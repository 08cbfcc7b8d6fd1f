"""Issue 17: the SQLite registry under one reseller enrollment's calls.

    .venv/bin/python -m bench.registry_calls [--enrollments 1000] [--concurrency 10]
        [--rounds 2] [--quick]

The twelve registry calls one reseller enrollment (with its verification child) makes, counted on
a real run of the pipeline: `get_reseller`, `save_reseller`, four emails each an outbox check
(`was_message_sent`) and an outbox record (`record_message_sent`), `save_reseller`,
`get_reseller`. `--concurrency` enrollments run at once, as a worker runs their activities.
Reported: CPU per enrollment in this process (its threads included) and wall time.

**Production** is `SqlPartnerRegistry` as the worker opens it on a SQLite file: each call one unit
of work in the registry's threads (adapters/registry/database.py). The same-run **baseline** is
the same `SqlPartnerRegistry` code with each unit of work run by `run_sync` on SQLAlchemy's
aiosqlite engine, where every DB-API call (cursor, execute, fetch, close, commit) is its own
hand-off to aiosqlite's thread: what the registry cost before it ran its units of work whole.
Rounds alternate their order, each on a fresh file.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

if __package__ in (None, ""):  # `python bench/registry_calls.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from adapters.registry.database import SQLITE_LOCK_TIMEOUT_SECONDS, AsyncEngineDatabase
from adapters.registry.sql import SqlPartnerRegistry
from bench.harness import machine
from domain.reseller_enrollment import ResellerRecord, ResellerStatus


async def _one_enrollment(registry: SqlPartnerRegistry, partner_id: str) -> None:
    now = datetime.now(UTC)
    record = ResellerRecord(
        partner_id=partner_id,
        status=ResellerStatus.ENROLLING,
        country="JP",
        workflow_id=f"reseller-enrollment-{partner_id}",
        updated_at=now,
    )
    await registry.get_reseller(partner_id)
    await registry.save_reseller(record)
    for email in ("verification", "review", "approved", "active"):
        key = f"{partner_id}:email:{email}"
        if not await registry.was_message_sent(key):
            await registry.record_message_sent(key, now)
    await registry.save_reseller(
        record.model_copy(update={"status": ResellerStatus.ACTIVE, "updated_at": now})
    )
    await registry.get_reseller(partner_id)


async def _run(side: str, count: int, concurrency: int) -> tuple[float, float]:
    """CPU ms and wall ms per enrollment."""
    with tempfile.TemporaryDirectory(prefix="csp-bench-registry-") as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'registry.db'}"
        migrated = await SqlPartnerRegistry.open(url)
        if side == "baseline":
            await migrated.close()
            # The same units of work on the aiosqlite engine: every DB-API call a hand-off.
            engine = create_async_engine(url, connect_args={"timeout": SQLITE_LOCK_TIMEOUT_SECONDS})
            registry = SqlPartnerRegistry(AsyncEngineDatabase(engine))
        else:
            registry = migrated
        try:
            await _one_enrollment(registry, "warm-up")
            partners = iter(range(count))
            cpu, wall = time.process_time(), time.perf_counter()

            async def lane() -> None:
                for n in partners:
                    await _one_enrollment(registry, f"{n:07d}")

            await asyncio.gather(*(lane() for _ in range(concurrency)))
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            async with create_async_engine(url).connect() as check:
                rows = (await check.execute(sa.text("SELECT count(*) FROM sent_messages"))).scalar()
            assert rows == 4 * (count + 1), f"{side}: {rows} outbox rows for {count + 1}"
        finally:
            await registry.close()
    return cpu * 1000 / count, wall * 1000 / count


async def main(count: int, concurrency: int, rounds: int) -> None:
    print(
        f"machine: {machine()}; {count} enrollments per run (12 registry calls each), "
        f"{concurrency} at once, {rounds} rounds alternating"
    )
    runs: dict[str, list[tuple[float, float]]] = {"production": [], "baseline": []}
    for round_ in range(rounds):
        order = ["production", "baseline"] if round_ % 2 == 0 else ["baseline", "production"]
        for side in order:
            runs[side].append(await _run(side, count, concurrency))
    cpu = {side: statistics.median(r[0] for r in results) for side, results in runs.items()}
    wall = {side: statistics.median(r[1] for r in results) for side, results in runs.items()}
    print("| | CPU per enrollment | wall per enrollment |")
    print("|---|---|---|")
    print(
        f"| production (units of work in threads) | {cpu['production']:.2f} ms | "
        f"{wall['production']:.2f} ms |"
    )
    print(
        f"| baseline (aiosqlite, a hand-off per DB-API call) | {cpu['baseline']:.2f} ms | "
        f"{wall['baseline']:.2f} ms |"
    )
    print(f"CPU ratio baseline/production: {cpu['baseline'] / cpu['production']:.1f}x")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--enrollments", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="one round, 20 enrollments")
    args = parser.parse_args()
    if args.quick:
        args.enrollments, args.rounds = 20, 1
    return args


if __name__ == "__main__":
    args = _arguments()
    asyncio.run(main(args.enrollments, args.concurrency, args.rounds))
