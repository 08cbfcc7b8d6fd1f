"""Issue 7: full reseller-enrollment pipelines per second, against a no-op skeleton of the same
shape, as interleaved pairs on one fresh dev server.

    .venv/bin/python -m bench.pipeline_throughput [--pipelines 300] [--pairs 3] [--quick]

A batch starts N pipelines at once and drives each to `active` the way its callers do: the
verification link read from the email in the SMTP sink and sent as `verify_email` to the child,
then `decide_review` (approve) once the "under review" email arrives. The skeleton
(bench/skeletons.py: the same `lean-lookups` marker, 5 reads as local activities, 6 activities,
6 search-attribute upserts, child workflow, the two updates, the same deadlines, every activity a
no-op) runs on the same worker process with the same
worker options. Its driver sends `verify_email` as soon as the child exists (it retries on "not
found" with a 50-400 ms back-off) and `decide_review` right after. Each pair runs one batch of
each, the order alternating; the figure is the median of the pairs' ratios.

In the same run (bench/limits.py): history events and workflow tasks per pipeline (counted in the
histories of a sample of each batch's finished pipelines, the child included), worker and dev
server CPU per pipeline (/proc/<pid>/stat), and after each pair a batch of as many empty workflows
on the same server: the ceiling the two rates are read against.
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

from bench.enrollments import Partner, Partners, drive_real, drive_skeleton, skeleton_id
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
from bench.limits import (
    Ceiling,
    HistoryShape,
    describe_ceiling,
    empty_workflows,
    history_shape,
    sample,
)
from contract import names
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
    ids = [
        names.reseller_enrollment_id(p.partner_id) if kind == "production" else skeleton_id(p)
        for p in group
    ]
    shape = await history_shape(server.client, sample(ids))  # after the CPU was read
    worker_ms, server_ms, driver_ms = (1000 * u / count for u in used)
    return Batch(seconds, worker_ms, server_ms, driver_ms, shape)


@dataclass(frozen=True)
class Batch:
    seconds: float
    worker_ms: float
    """CPU per pipeline (ms) of the worker process, the dev server, and this process (the
    drivers and the SMTP sink)."""
    server_ms: float
    driver_ms: float
    shape: HistoryShape

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
            await empty_workflows(server, warmup, worker.pid)
            ratios: list[float] = []
            rates: dict[str, list[float]] = {"production": [], "skeleton": []}
            batches: dict[str, list[Batch]] = {"production": [], "skeleton": []}
            ceilings: list[Ceiling] = []
            for pair in range(pairs):
                order = ["production", "skeleton"] if pair % 2 == 0 else ["skeleton", "production"]
                for kind in order:
                    done = await batch(kind, server, sink, partners, pipelines, worker.pid)
                    seconds = done.seconds
                    rates[kind].append(pipelines / seconds)
                    batches[kind].append(done)
                    say(
                        f"pair {pair + 1} {kind:<10}: {pipelines} pipelines in {seconds:.1f}s = "
                        f"{pipelines / seconds:.1f} pipelines/s, "
                        f"{UPDATES_PER_PIPELINE * pipelines / seconds:.1f} updates/s; {done.cpu()}"
                    )
                ratios.append(rates["production"][-1] / rates["skeleton"][-1])
                ceiling = await empty_workflows(server, pipelines, worker.pid)
                ceilings.append(ceiling)
                say(
                    f"pair {pair + 1} empty     : {pipelines} workflows at "
                    f"{ceiling.rate:.1f} workflows/s; CPU per workflow: worker "
                    f"{ceiling.cpu.worker_ms:.0f} ms, dev server {ceiling.cpu.server_ms:.0f} ms"
                )
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
        f"(pairs {', '.join(f'{r:.2f}' for r in ratios)}; target >= 0.90)"
    )
    for kind in ("production", "skeleton"):
        done_batches = batches[kind]
        say(
            f"{kind} steps: {done_batches[-1].shape.describe()}; CPU per pipeline (median): "
            f"worker {median([b.worker_ms for b in done_batches]):.0f} ms, dev server "
            f"{median([b.server_ms for b in done_batches]):.0f} ms"
        )
    say(describe_ceiling(ceilings))
    ceiling_rate = median([c.rate for c in ceilings])
    say(
        f"share of the ceiling: production {prod / ceiling_rate:.2f}, skeleton "
        f"{skel / ceiling_rate:.2f} (pipelines/s over empty workflows/s)"
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
