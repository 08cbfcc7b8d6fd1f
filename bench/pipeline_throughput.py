"""Issue 7: full reseller-enrollment pipelines per second, against a no-op skeleton of the same
shape, as interleaved pairs on one fresh dev server.

    .venv/bin/python -m bench.pipeline_throughput [--pipelines 300] [--pairs 3] [--quick]

A batch starts N pipelines at once and drives each to `active` the way its callers do: the
verification link read from the email in the SMTP sink and sent as `verify_email` to the child,
then `decide_review` (approve) once the "under review" email arrives. The skeleton
(bench/skeletons.py: same 11 activities, 9 search-attribute upserts, child workflow, the two
updates, the same deadlines, every activity a no-op) runs on the same worker process with the same
worker options. Its driver sends `verify_email` as soon as the child exists (it retries on "not
found" with a 50-400 ms back-off) and `decide_review` right after. Each pair runs one batch of
each, the order alternating; the figure is the median of the pairs' ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

if __package__ in (None, ""):  # `python bench/pipeline_throughput.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.enrollments import Partner, Partners, drive_real, drive_skeleton
from bench.harness import (
    SKELETON_QUEUE,
    Mailbox,
    Server,
    WorkerConfig,
    bench_stack,
    bounded,
    cpu_seconds,
    machine,
    median,
    mib,
    say,
    stack_paths,
    worker_process,
)
from runtime.logging import configure_logging

UPDATES_PER_PIPELINE = 2  # verify_email, decide_review


async def batch(
    kind: str, server: Server, sink: Mailbox, partners: Partners, count: int, worker_pid: int
) -> Batch:
    """Seconds from the first start to the last result of `count` pipelines of `kind`, and the
    CPU each process used meanwhile."""
    group = partners.take(count)
    if kind == "production":
        partners.publish(group)

    async def one(partner: Partner) -> None:
        if kind == "production":
            await drive_real(server.client, sink, partner)
        else:
            await drive_skeleton(server.client, partner)

    cpu = _cpu(server, worker_pid)
    started = time.perf_counter()
    await asyncio.wait_for(bounded(group, 1000, one), timeout=max(600, count * 2))
    seconds = time.perf_counter() - started
    used = [after - before for before, after in zip(cpu, _cpu(server, worker_pid), strict=True)]
    return Batch(seconds, *(1000 * u / count for u in used))


@dataclass(frozen=True)
class Batch:
    seconds: float
    worker_ms: float
    """CPU per pipeline (ms) of the worker process, the dev server, and this process (the
    drivers and the SMTP sink)."""
    server_ms: float
    driver_ms: float

    def cpu(self) -> str:
        return (
            f"CPU per pipeline: worker {self.worker_ms:.0f} ms, dev server {self.server_ms:.0f} "
            f"ms, drivers+sink {self.driver_ms:.0f} ms"
        )


def _cpu(server: Server, worker_pid: int) -> tuple[float, float, float]:
    return cpu_seconds(worker_pid), cpu_seconds(server.pid), time.process_time()


async def run(pipelines: int, pairs: int, warmup: int) -> None:
    async with bench_stack() as (state, server, sink):
        partners = Partners(stack_paths(state)["partner_center"])
        config = WorkerConfig(
            address=server.address,
            state_dir=str(state),
            smtp_port=sink.port,
            extra_queues=[SKELETON_QUEUE],
        )
        async with worker_process(config) as worker:
            for kind in ("production", "skeleton"):
                warm = await batch(kind, server, sink, partners, warmup, worker.pid)
                say(f"warm-up {kind}: {warmup} pipelines in {warm.seconds:.1f}s")
            ratios: list[float] = []
            rates: dict[str, list[float]] = {"production": [], "skeleton": []}
            for pair in range(pairs):
                order = ["production", "skeleton"] if pair % 2 == 0 else ["skeleton", "production"]
                for kind in order:
                    done = await batch(kind, server, sink, partners, pipelines, worker.pid)
                    seconds = done.seconds
                    rates[kind].append(pipelines / seconds)
                    say(
                        f"pair {pair + 1} {kind:<10}: {pipelines} pipelines in {seconds:.1f}s = "
                        f"{pipelines / seconds:.1f} pipelines/s, "
                        f"{UPDATES_PER_PIPELINE * pipelines / seconds:.1f} updates/s; {done.cpu()}"
                    )
                ratios.append(rates["production"][-1] / rates["skeleton"][-1])
            peak = worker.peak_rss_kb()
        emails, duplicates = sink.received, sink.duplicates
    say("")
    say(f"machine: {machine()}; date {date.today().isoformat()}")
    prod, skel = median(rates["production"]), median(rates["skeleton"])
    say(
        f"production: median {prod:.1f} pipelines/s, {UPDATES_PER_PIPELINE * prod:.1f} updates/s "
        f"({pipelines} per batch, {pairs} batches)"
    )
    say(
        f"skeleton (baseline): median {skel:.1f} pipelines/s, "
        f"{UPDATES_PER_PIPELINE * skel:.1f} updates/s"
    )
    say(
        f"ratio production/skeleton: median {median(ratios):.2f} "
        f"(pairs {', '.join(f'{r:.2f}' for r in ratios)}; target >= 0.80)"
    )
    say(
        f"worker peak RSS: {mib(peak)}; emails delivered to the sink: {emails} (repeated "
        f"verification emails: {duplicates})"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipelines", type=int, default=300)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--quick", action="store_true", help="20 pipelines, 1 pair")
    args = parser.parse_args(argv)
    if args.quick:
        args.pipelines, args.pairs, args.warmup = min(args.pipelines, 20), 1, 10
    configure_logging("WARNING", "console")
    asyncio.run(run(args.pipelines, args.pairs, args.warmup))


if __name__ == "__main__":
    main()
