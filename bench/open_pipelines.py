"""Issue 7: 10,000 reseller enrollments waiting on email verification; worker and server RSS.

    .venv/bin/python -m bench.open_pipelines [--pipelines 10000] [--window 500] [--quick]

Pipelines are started in windows (at most `--window` starting at once); a window is done when
every one of its pipelines has mailed its verification link, i.e. passed its pre-checks and waits
in `email_verification` (the child `EmailVerification` waits on its 30-day deadline). Nobody
clicks. The baseline measured in the same run is the idle worker and server, before the first
pipeline. The worker is the production one, alone in its process (default workflow cache).
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
from contract import names
from runtime.logging import configure_logging


async def run(pipelines: int, window: int) -> None:
    async with bench_stack() as (state, server, sink):
        partners = Partners(stack_paths(state)["partner_center"])
        config = WorkerConfig(address=server.address, state_dir=str(state), smtp_port=sink.port)
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
            started = time.perf_counter()
            opened = 0

            async def open_one(partner: Partner) -> None:
                await start_real(server.client, partner)
                await sink.next_for(partner.contact, within=600)
                sink.forget(partner.contact)

            while opened < pipelines:
                group = partners.take(min(window, pipelines - opened))
                partners.publish(group)
                await bounded(group, window, open_one)
                opened += len(group)
                if opened % max(window, pipelines // 10) == 0 or opened == pipelines:
                    say(
                        f"{opened} waiting after {time.perf_counter() - started:.0f}s: worker RSS "
                        f"{mib(worker.rss_kb())}, dev server RSS {mib(server_sampler.sample())}"
                    )
            seconds = time.perf_counter() - started
            await asyncio.sleep(5)  # let the last workflow tasks settle
            running = await server.client.count_workflows(
                f"WorkflowType = '{names.RESELLER_ENROLLMENT}' AND ExecutionStatus = 'Running'"
            )
            await sampler.stop()
            await server_sampler.stop()
            worker_now, worker_peak = worker.rss_kb(), worker.peak_rss_kb()
            server_now = None if server.pid is None else proc_status_kb(server.pid, "VmRSS")
            server_peak = None if server.pid is None else proc_status_kb(server.pid, "VmHWM")
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
