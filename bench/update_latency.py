"""Issue 7: latency of a backend update (`decide_review`) to the workflow's acknowledgement, at a
steady 20 updates/s, against the no-op skeleton of the same pipeline in the same run.

    .venv/bin/python -m bench.update_latency [--rate 20] [--seconds 20] [--segment 5] [--quick]

First every pipeline that will be decided is brought to `review` (started, the verification link
from the email sent as `verify_email`; skeletons likewise, then their `status` polled until
`review`); none of that is timed. Then `decide_review` (approve) goes out open-loop at `--rate`
per second (each update at its scheduled instant, whether or not earlier ones were acknowledged, so
a slow answer cannot hide the ones queued behind it), each to a different waiting pipeline, in
segments of `--segment` seconds alternating production and skeleton, `--seconds` seconds of each
in all after a warm-up segment of each. The latency is the time `execute_update` takes: the
client's request until the workflow's acknowledgement (the update completed) is back. The decided
pipelines go on to `active` meanwhile (approval email, Admin agent, MPA check, registry, email),
which is the load a real review backend causes.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path

if __package__ in (None, ""):  # `python bench/update_latency.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.enrollments import (
    APPROVE,
    Partner,
    Partners,
    review_skeleton,
    skeleton_stage,
    start_real,
    start_skeleton,
    verify_real,
    verify_skeleton,
    wait_under_review,
)
from bench.harness import (
    SKELETON_QUEUE,
    Mailbox,
    Server,
    WorkerConfig,
    bench_stack,
    bounded,
    machine,
    median,
    percentile,
    say,
    stack_paths,
    worker_process,
)
from bench.limits import CpuMeter, CpuUse, describe_ceiling, empty_workflows
from contract import names
from domain.messages import Acknowledgement
from runtime.logging import configure_logging


async def prepare_real(
    server: Server, sink: Mailbox, partners: Partners, count: int
) -> list[Partner]:
    ready: list[Partner] = []
    while len(ready) < count:
        group = partners.take(min(500, count - len(ready)))
        partners.publish(group)

        async def one(partner: Partner) -> None:
            await start_real(server.client, partner)
            await verify_real(server.client, sink, partner)
            await wait_under_review(sink, partner)

        await bounded(group, 500, one)
        ready += group
    return ready


async def prepare_skeletons(server: Server, partners: Partners, count: int) -> list[Partner]:
    group = partners.take(count)

    async def one(partner: Partner) -> None:
        await start_skeleton(server.client, partner)
        await verify_skeleton(server.client, partner)
        for _ in range(600):
            if await skeleton_stage(server.client, partner) == "review":
                return
            await asyncio.sleep(0.1)
        raise RuntimeError(f"skeleton {partner.partner_id} never reached review")

    await bounded(group, 500, one)
    return group


async def decide_real(server: Server, partner: Partner) -> None:
    handle = server.client.get_workflow_handle(names.reseller_enrollment_id(partner.partner_id))
    await handle.execute_update(names.UPDATE_DECIDE_REVIEW, APPROVE, result_type=Acknowledgement)


async def segment(
    targets: list[Partner],
    rate: float,
    send: Callable[[Partner], Awaitable[None]],
    latencies: list[float],
) -> None:
    """One update per target, the i-th at start + i / rate; latencies appended in ms."""

    async def one(partner: Partner, due: float) -> None:
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        sent = time.perf_counter()
        await send(partner)
        latencies.append((time.perf_counter() - sent) * 1000)

    start = time.perf_counter() + 0.05
    async with asyncio.TaskGroup() as group:
        for i, partner in enumerate(targets):
            group.create_task(one(partner, start + i / rate))


async def run(rate: float, seconds: float, segment_seconds: float) -> None:
    per_segment = max(1, round(rate * segment_seconds))
    segments = max(1, round(seconds / segment_seconds))
    needed = per_segment * (segments + 1)  # + the warm-up segment
    async with bench_stack() as (state, server, sink):
        partners = Partners(stack_paths(state)["partner_center"])
        config = WorkerConfig(
            address=server.address,
            state_dir=str(state),
            smtp_port=sink.port,
            extra_queues=[SKELETON_QUEUE],
        )
        async with worker_process(config) as worker:
            prepared = time.perf_counter()
            real = await prepare_real(server, sink, partners, needed)
            skeletons = await prepare_skeletons(server, partners, needed)
            say(
                f"prepared {needed} production and {needed} skeleton pipelines in review "
                f"({time.perf_counter() - prepared:.0f}s)"
            )
            measured: dict[str, list[float]] = {"production": [], "skeleton": []}
            cpu: dict[str, list[CpuUse]] = {"production": [], "skeleton": []}
            senders: dict[str, Callable[[Partner], Awaitable[None]]] = {
                "production": lambda p: decide_real(server, p),
                "skeleton": lambda p: review_skeleton(server.client, p),
            }
            pools = {"production": real, "skeleton": skeletons}
            for kind in ("production", "skeleton"):  # warm-up, not counted
                await segment(pools[kind][:per_segment], rate, senders[kind], [])
            for s in range(2 * segments):
                kind = ("production", "skeleton")[s % 2]
                first = per_segment * (1 + s // 2)
                meter = CpuMeter(server, worker.pid)
                meter.start()
                await segment(
                    pools[kind][first : first + per_segment], rate, senders[kind], measured[kind]
                )
                cpu[kind].append(meter.per(per_segment))
            ceiling = await empty_workflows(server, max(per_segment, 20), worker.pid)
        emails = sink.received
    say("")
    say(f"machine: {machine()}; date {date.today().isoformat()}")
    for kind in ("production", "skeleton"):
        values = measured[kind]
        label = kind if kind == "production" else "skeleton (baseline)"
        say(
            f"decide_review {label}: p50 {percentile(values, 50):.0f} ms, p99 "
            f"{percentile(values, 99):.0f} ms, max {max(values):.0f} ms "
            f"({len(values)} updates at {rate:g}/s in {segments} segments of {segment_seconds:g}s)"
        )
        say(
            f"{kind} CPU per update over its segments (the steps it sets off, as far as they ran "
            f"within the segment): worker {median([c.worker_ms for c in cpu[kind]]):.0f} ms, "
            f"dev server {median([c.server_ms for c in cpu[kind]]):.0f} ms"
        )
    say(describe_ceiling([ceiling]))
    p99 = percentile(measured["production"], 99)
    say(
        f"production p99 {p99:.0f} ms (target < 250 ms); p50 ratio production/skeleton "
        f"{median(measured['production']) / median(measured['skeleton']):.2f}; "
        f"emails delivered: {emails}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--seconds", type=float, default=20, help="measured seconds per kind")
    parser.add_argument("--segment", type=float, default=5)
    parser.add_argument("--quick", action="store_true", help="2 s per kind at 20/s")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.segment = 2, 1
    configure_logging("WARNING", "console")
    asyncio.run(run(args.rate, args.seconds, args.segment))


if __name__ == "__main__":
    main()
