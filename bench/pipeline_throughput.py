"""Issue 7: full reseller-enrollment pipelines per second, against a no-op skeleton of the same
shape, as interleaved pairs on one fresh dev server.

    .venv/bin/python -m bench.pipeline_throughput [--pipelines 300] [--pairs 3] [--warmup 50]
        [--workers 1] [--registry sqlite|postgresql] [--quick]

A batch starts N pipelines at once and drives each to `active` the way its callers do: the
verification link read from the email in the SMTP sink and sent as `verify_email` to the child,
then `decide_review` (approve) once the "under review" email arrives. The skeleton
(bench/skeleton_enrollment.py: the same `lean-lookups` marker, 5 reads as local activities, 6
activities, 6 search-attribute upserts, child workflow, the two updates, the same deadlines, every
activity a no-op) runs on the same worker process with the same worker options. Its driver sends
`verify_email` as soon as the child exists (it retries on "not found" with a 50-400 ms back-off) and
`decide_review` right after. Each pair runs one batch of each, the order alternating; the figure is
the median of the pairs' ratios.

In the same run (bench/limits.py): history events and workflow tasks per pipeline (counted in the
histories of a sample of each batch's finished pipelines, the child included), worker and dev
server CPU per pipeline (/proc/<pid>/stat), and after each pair a batch of as many empty workflows
on the same server: the ceiling the two rates are read against.

`--workers N` starts N production worker processes (bench/worker_process.py), all polling the
same production and skeleton task queues; CPU and peak RSS are reported per process and in total
(CPU per pipeline summed over the workers). `--registry postgresql` gives the workers a fresh
PostgreSQL database instead of the SQLite file: created on the server of $CSP_BENCH_POSTGRES_URL
(else $CSP_TEST_POSTGRES_URL, else postgresql+asyncpg://postgres@127.0.0.1:5432/postgres),
migrated before the workers start, dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

if __package__ in (None, ""):  # `python bench/pipeline_throughput.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.enrollments import Partner, Partners, drive_real, drive_skeleton, skeleton_id
from bench.harness import (
    REGISTRIES,
    SKELETON_QUEUE,
    Mailbox,
    Server,
    WorkerConfig,
    bench_registry,
    bench_stack,
    bounded,
    machine,
    median,
    mib,
    say,
    stack_paths,
    worker_processes,
)
from bench.limits import (
    Ceiling,
    CpuMeter,
    CpuUse,
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
    kind: str,
    server: Server,
    sink: Mailbox,
    partners: Partners,
    count: int,
    worker_pids: Sequence[int],
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

    meter = CpuMeter(server, worker_pids)
    meter.start()
    driver = time.process_time()
    started = time.perf_counter()
    await asyncio.wait_for(bounded(group, 1000, one), timeout=max(600, count * 2))
    seconds = time.perf_counter() - started
    used = meter.per(count)
    driver_ms = 1000 * (time.process_time() - driver) / count
    ids = [
        names.reseller_enrollment_id(p.partner_id) if kind == "production" else skeleton_id(p)
        for p in group
    ]
    shape = await history_shape(server.client, sample(ids))  # after the CPU was read
    return Batch(seconds, used, driver_ms, shape)


@dataclass(frozen=True)
class Batch:
    seconds: float
    used: CpuUse
    """CPU per pipeline (ms) of the worker processes (each and together) and the dev server."""
    driver_ms: float
    """CPU per pipeline (ms) of this process (the drivers and the SMTP sink)."""
    shape: HistoryShape

    @property
    def total_ms(self) -> float:
        """CPU per pipeline of every process on the machine that takes part: the workers, the
        dev server, and this process (drivers and SMTP sink)."""
        return self.used.worker_ms + self.used.server_ms + self.driver_ms

    def cpu(self) -> str:
        return (
            f"CPU per pipeline: {self.used.describe_workers()}, dev server "
            f"{self.used.server_ms:.0f} ms, drivers+sink {self.driver_ms:.0f} ms"
        )


def median_cpu(batches: Sequence[Batch]) -> CpuUse:
    """The median of each figure over the batches (each worker's on its own)."""
    processes = len(batches[0].used.workers_ms)
    return CpuUse(
        worker_ms=median([b.used.worker_ms for b in batches]),
        server_ms=median([b.used.server_ms for b in batches]),
        workers_ms=tuple(median([b.used.workers_ms[i] for b in batches]) for i in range(processes)),
    )


def describe_peaks(peaks: Sequence[int | None]) -> str:
    """`173 MB`, or with several processes `180 MB + 175 MB = 355 MB (sum of each one's peak)`."""
    if len(peaks) == 1:
        return mib(peaks[0])
    known = [p for p in peaks if p is not None]
    total = sum(known) if len(known) == len(peaks) else None
    return f"{' + '.join(mib(p) for p in peaks)} = {mib(total)} (sum of each process's peak)"


async def run(pipelines: int, pairs: int, warmup: int, workers: int, registry_kind: str) -> None:
    async with (
        bench_stack() as (state, server, sink),
        bench_registry(registry_kind, state) as registry,
    ):
        partners = Partners(stack_paths(state)["partner_center"])
        config = WorkerConfig(
            address=server.address,
            state_dir=str(state),
            smtp_port=sink.port,
            extra_queues=[SKELETON_QUEUE],
            registry_url=registry.url,
        )
        async with worker_processes(config, workers) as started:
            pids = [w.pid for w in started]
            say(f"registry: {registry.describe()}")
            say(
                f"worker processes: {workers} (pids {', '.join(map(str, pids))}), each polling "
                f"{names.TASK_QUEUE} and {SKELETON_QUEUE}; dev server pid {server.pid}"
            )
            for kind in ("production", "skeleton"):
                warm = await batch(kind, server, sink, partners, warmup, pids)
                say(f"warm-up {kind}: {warmup} pipelines in {warm.seconds:.1f}s")
            await empty_workflows(server, warmup, pids)
            ratios: list[float] = []
            rates: dict[str, list[float]] = {"production": [], "skeleton": []}
            batches: dict[str, list[Batch]] = {"production": [], "skeleton": []}
            ceilings: list[Ceiling] = []
            for pair in range(pairs):
                order = ["production", "skeleton"] if pair % 2 == 0 else ["skeleton", "production"]
                for kind in order:
                    done = await batch(kind, server, sink, partners, pipelines, pids)
                    seconds = done.seconds
                    rates[kind].append(pipelines / seconds)
                    batches[kind].append(done)
                    say(
                        f"pair {pair + 1} {kind:<10}: {pipelines} pipelines in {seconds:.1f}s = "
                        f"{pipelines / seconds:.1f} pipelines/s, "
                        f"{UPDATES_PER_PIPELINE * pipelines / seconds:.1f} updates/s; {done.cpu()}"
                    )
                ratios.append(rates["production"][-1] / rates["skeleton"][-1])
                ceiling = await empty_workflows(server, pipelines, pids)
                ceilings.append(ceiling)
                say(
                    f"pair {pair + 1} empty     : {pipelines} workflows at "
                    f"{ceiling.rate:.1f} workflows/s; CPU per workflow: "
                    f"{ceiling.cpu.describe_workers()}, dev server {ceiling.cpu.server_ms:.0f} ms"
                )
            peaks = [w.peak_rss_kb() for w in started]
        emails, duplicates = sink.received, sink.duplicates
    say("")
    say(f"machine: {machine()}; date {date.today().isoformat()}")
    say(f"registry: {registry_kind}; worker processes: {workers}")
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
        cpu = median_cpu(done_batches)
        say(
            f"{kind} steps: {done_batches[-1].shape.describe()}; CPU per pipeline (median): "
            f"{cpu.describe_workers()}, dev server {cpu.server_ms:.0f} ms"
        )
    total = {kind: median([b.total_ms for b in batches[kind]]) for kind in batches}
    say(
        f"all processes' CPU per pipeline (median): production {total['production']:.0f} ms, "
        f"skeleton {total['skeleton']:.0f} ms; skeleton/production "
        f"{total['skeleton'] / total['production']:.2f} (when the machine's cores are the limit, "
        "the rate ratio follows this one)"
    )
    say(describe_ceiling(ceilings))
    ceiling_rate = median([c.rate for c in ceilings])
    say(
        f"share of the ceiling: production {prod / ceiling_rate:.2f}, skeleton "
        f"{skel / ceiling_rate:.2f} (pipelines/s over empty workflows/s)"
    )
    say(
        f"worker peak RSS: {describe_peaks(peaks)}; emails delivered to the sink: {emails} "
        f"(repeated verification emails: {duplicates})"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipelines", type=int, default=300)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="production worker processes, all on the same task queues (default 1)",
    )
    parser.add_argument(
        "--registry",
        choices=REGISTRIES,
        default="sqlite",
        help="sqlite: a file in the state folder (default); postgresql: a fresh database on "
        "$CSP_BENCH_POSTGRES_URL / $CSP_TEST_POSTGRES_URL's server, dropped at the end",
    )
    parser.add_argument("--quick", action="store_true", help="20 pipelines, 1 pair")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    if args.quick:
        args.pipelines, args.pairs, args.warmup = min(args.pipelines, 20), 1, 10
    configure_logging("WARNING", "console")
    asyncio.run(run(args.pipelines, args.pairs, args.warmup, args.workers, args.registry))


if __name__ == "__main__":
    main()
