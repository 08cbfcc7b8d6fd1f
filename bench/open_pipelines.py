"""Issue 7: 10,000 reseller enrollments waiting on email verification; worker and server RSS.

    .venv/bin/python -m bench.open_pipelines [--pipelines 10000] [--window 500] [--quick]

Pipelines are started in windows (at most `--window` starting at once); a window is done when
every one of its pipelines has mailed its verification link, i.e. passed its pre-checks and waits
in `email_verification` (the child `EmailVerification` waits on its 30-day deadline). Nobody
clicks. The baseline measured in the same run is the idle worker and server, before the first
pipeline. The worker is the production one (default workflow cache); the same process also polls
the skeleton task queue, idle until the ceiling below.

In the same run (bench/limits.py, as pipeline_throughput): history events and workflow tasks per
open pipeline so far (a sample, the waiting child included), worker and dev server CPU per
pipeline opened (/proc/<pid>/stat, from the first start to 5 s after the last verification
email), and, once the RSS figures are read, a window's worth of empty workflows on the same
server and worker: the ceiling.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import date
from pathlib import Path

if __package__ in (None, ""):  # `python bench/open_pipelines.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.enrollments import Partner, Partners, start_real
from bench.harness import (
    SKELETON_QUEUE,
    PeakSampler,
    WorkerConfig,
    bench_stack,
    bounded,
    machine,
    mib,
    proc_status_kb,
    say,
    stack_paths,
    worker_process,
)
from bench.limits import CpuMeter, describe_ceiling, empty_workflows, history_shape, sample
from contract import names
from runtime.logging import configure_logging


async def run(pipelines: int, window: int) -> None:
    async with bench_stack() as (state, server, sink):
        partners = Partners(stack_paths(state)["partner_center"])
        config = WorkerConfig(
            address=server.address,
            state_dir=str(state),
            smtp_port=sink.port,
            extra_queues=[SKELETON_QUEUE],  # the empty workflows of the ceiling, at the end
        )
        async with worker_process(config) as worker:
            await asyncio.sleep(2)
            idle_worker = worker.rss_kb()
            idle_server = None if server.pid is None else proc_status_kb(server.pid, "VmRSS")
            say(
                f"idle (baseline): worker RSS {mib(idle_worker)}, dev server RSS {mib(idle_server)}"
            )
            sampler = PeakSampler(worker.pid, interval=1.0)
            server_sampler = PeakSampler(server.pid or 0, interval=1.0)
            sampler.start()
            server_sampler.start()
            meter = CpuMeter(server, worker.pid)
            meter.start()
            started = time.perf_counter()
            opened = 0
            ids: list[str] = []

            async def open_one(partner: Partner) -> None:
                await start_real(server.client, partner)
                await sink.next_for(partner.contact, within=600)
                sink.forget(partner.contact)

            while opened < pipelines:
                group = partners.take(min(window, pipelines - opened))
                partners.publish(group)
                await bounded(group, window, open_one)
                opened += len(group)
                ids.extend(names.reseller_enrollment_id(p.partner_id) for p in group)
                if opened % max(window, pipelines // 10) == 0 or opened == pipelines:
                    say(
                        f"{opened} waiting after {time.perf_counter() - started:.0f}s: worker RSS "
                        f"{mib(worker.rss_kb())}, dev server RSS {mib(server_sampler.sample())}"
                    )
            seconds = time.perf_counter() - started
            await asyncio.sleep(5)  # let the last workflow tasks settle
            cpu = meter.per(pipelines)
            running = await server.client.count_workflows(
                f"WorkflowType = '{names.RESELLER_ENROLLMENT}' AND ExecutionStatus = 'Running'"
            )
            await sampler.stop()
            await server_sampler.stop()
            worker_now, worker_peak = worker.rss_kb(), worker.peak_rss_kb()
            server_now = None if server.pid is None else proc_status_kb(server.pid, "VmRSS")
            server_peak = None if server.pid is None else proc_status_kb(server.pid, "VmHWM")
            # After the RSS figures: neither the history reads nor the ceiling count in them.
            shape = await history_shape(server.client, sample(ids))
            ceiling = await empty_workflows(server, window, worker.pid)
    say("")
    say(f"machine: {machine()}; date {date.today().isoformat()}")
    say(
        f"open pipelines: {running.count} ResellerEnrollment running, each waiting on email "
        f"verification ({pipelines} started in {seconds:.0f}s, {pipelines / seconds:.1f}/s)"
    )
    say(
        f"worker RSS: {mib(worker_now)} now, peak {mib(worker_peak)} (VmHWM; target < 500 MB); "
        f"idle baseline {mib(idle_worker)}"
    )
    say(
        f"dev server RSS: {mib(server_now)} now, peak {mib(server_peak)} (VmHWM); idle baseline "
        f"{mib(idle_server)}"
    )
    say(
        f"open pipeline steps so far: {shape.describe()}; CPU per pipeline opened: worker "
        f"{cpu.worker_ms:.0f} ms, dev server {cpu.server_ms:.0f} ms"
    )
    say(describe_ceiling([ceiling]))
    say(
        f"share of the ceiling: {pipelines / seconds / ceiling.rate:.2f} (pipelines opened/s "
        f"over empty workflows/s, {window} at once)"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipelines", type=int, default=10_000)
    parser.add_argument("--window", type=int, default=500)
    parser.add_argument("--quick", action="store_true", help="100 pipelines")
    args = parser.parse_args(argv)
    if args.quick:
        args.pipelines, args.window = min(args.pipelines, 100), 50
    configure_logging("WARNING", "console")
    asyncio.run(run(args.pipelines, args.window))


if __name__ == "__main__":
    main()
