"""Issue 14 (REL-07): the POR sweep over 5,000 partnered resellers in one sweep.

    .venv/bin/python -m bench.por_sweep [--resellers 5000] [--pairs 2] [--pause-seconds 0]
        [--batches-per-run 200] [--empty 100] [--quick]

The registry holds `--resellers` active partnerships (plus 5% not established, never checked)
and the local Partner Center file judges their resellers (3% invalid: 800015, 800016, 800039).
One worker process (the production `build_worker`) against a fresh dev server runs the production
`PorValidationSweep` as its schedule starts it: pages of 100 partnerships, one `validateresellers`
call each, every result recorded, one report email. The same-run **baseline** is the same work
without Temporal: this process pages the same registry, calls the same local Partner Center and
records the same rows in a plain loop (the adapters the activities call, nothing else). Pairs
alternate their order. The rate limit (the pause between calls, 1 s in production) is set with
`--pause-seconds` (default 0: the figure is the orchestration's cost, not the pause).

In the same run (bench/limits.py, as pipeline_throughput): history events and workflow tasks per
sweep (every run of its continue-as-new chain, counted in the histories), worker and dev server
CPU per reseller checked (/proc/<pid>/stat), and after each pair `--empty` empty workflows on the
same server and worker (the skeleton task queue, polled by the same process): the ceiling.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

if __package__ in (None, ""):  # `python bench/por_sweep.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters.partner_center.local import LocalPartnerCenter
from adapters.registry.sql import SqlPartnerRegistry
from bench.harness import (
    SKELETON_QUEUE,
    PeakSampler,
    Server,
    WorkerConfig,
    bench_stack,
    history_length,
    machine,
    max_history_length,
    median,
    mib,
    say,
    stack_paths,
    worker_process,
)
from bench.limits import (
    Ceiling,
    CpuMeter,
    CpuUse,
    describe_ceiling,
    empty_workflows,
    pipeline_steps,
)
from bench.partnered_resellers import insert_partnerships, population
from contract import names
from domain.por_sweep import PorCheck, PorSweepRequest, PorSweepSummary
from runtime.logging import configure_logging

BATCH = 100


@dataclass
class Measured:
    kind: str
    checked: int
    invalid: int
    seconds: float
    runs: int = 0
    largest_run: int = 0
    peak_rss_kb: int | None = None
    cpu: CpuUse | None = None
    """CPU per reseller checked (ms), production only."""
    events: int = 0
    """History events of the whole sweep (every run), production only."""
    workflow_tasks: int = 0

    @property
    def rate(self) -> float:
        return self.checked / self.seconds


async def production(server: Server, n: int, worker_pid: int) -> Measured:
    workflow_id = f"{names.POR_SWEEP_WORKFLOW_ID}-bench-{n}"  # as the schedule names its runs
    sampler = PeakSampler(worker_pid)
    sampler.start()
    meter = CpuMeter(server, worker_pid)
    meter.start()
    started = time.perf_counter()
    handle = await server.client.start_workflow(
        names.POR_SWEEP,
        PorSweepRequest().model_dump(mode="json", exclude_defaults=True),
        id=workflow_id,
        task_queue=names.TASK_QUEUE,
        result_type=PorSweepSummary,
    )
    summary = await handle.result()
    seconds = time.perf_counter() - started
    cpu = meter.per(max(summary.checked, 1))
    await sampler.stop()
    if summary.unchecked:
        raise RuntimeError(f"the sweep left partnerships unchecked: {summary}")
    runs, largest = 0, 0
    run_id: str | None = handle.first_execution_run_id or handle.result_run_id
    while run_id is not None:
        runs += 1
        events, run_id = await history_length(server.client, workflow_id, run_id)
        largest = max(largest, events)
    events, tasks = await pipeline_steps(
        server.client, workflow_id, first_run_id=handle.first_execution_run_id
    )
    return Measured(
        "production",
        summary.checked,
        summary.invalid,
        seconds,
        runs,
        largest,
        sampler.peak,
        cpu,
        events,
        tasks,
    )


async def baseline(state: Path, n: int) -> Measured:
    """The same pages, calls and writes in a plain loop, without Temporal."""
    paths = stack_paths(state)
    registry = await SqlPartnerRegistry.open(f"sqlite+aiosqlite:///{paths['registry']}")
    partner_center = LocalPartnerCenter(paths["partner_center"])
    sweep_id = f"baseline-{n}"
    checked = invalid = 0
    started = time.perf_counter()
    try:
        cursor: tuple[str, str] | None = None
        while True:
            page = await registry.list_active_partnerships(cursor, BATCH)
            if not page:
                break
            answers = await partner_center.validate_resellers(
                sorted({p.reseller_partner_id for p in page})
            )
            by_id = {a.partner_id: a for a in answers}
            now = datetime.now(UTC)
            checks = [
                PorCheck(
                    sweep_id=sweep_id,
                    provider_partner_id=p.provider_partner_id,
                    reseller_partner_id=p.reseller_partner_id,
                    valid=by_id[p.reseller_partner_id].is_valid_partner_id_on_record,
                    error_code=by_id[p.reseller_partner_id].error_code,
                    reason=by_id[p.reseller_partner_id].error_description,
                    checked_at=now,
                )
                for p in page
            ]
            await registry.record_por_checks(checks)
            checked += len(checks)
            invalid += sum(1 for c in checks if not c.valid)
            if len(page) < BATCH:
                break
            last = page[-1]
            cursor = (last.provider_partner_id, last.reseller_partner_id)
    finally:
        await registry.close()
    return Measured("baseline", checked, invalid, time.perf_counter() - started)


async def run(resellers: int, pairs: int, pause: float, per_run: int, empty: int) -> None:
    os.environ["CSP_POR_SWEEP_PAUSE_SECONDS"] = str(pause)  # the worker process's settings
    os.environ["CSP_POR_SWEEP_BATCH_SIZE"] = str(BATCH)
    os.environ["CSP_POR_SWEEP_BATCHES_PER_RUN"] = str(per_run)
    async with bench_stack() as (state, server, sink):
        paths = stack_paths(state)
        people = population(resellers, inactive=resellers // 20)
        seeded = time.perf_counter()
        await insert_partnerships(f"sqlite+aiosqlite:///{paths['registry']}", people.rows)
        paths["partner_center"].write_text(json.dumps(people.partner_center))
        paths["partner_programs"].write_text(json.dumps({"partners": {}, "activations": {}}))
        say(
            f"registry: {resellers} active partnerships (+{resellers // 20} not established), "
            f"{len(people.invalid)} resellers invalid; seeded in "
            f"{time.perf_counter() - seeded:.1f}s; batch {BATCH}, pause {pause}s, "
            f"{per_run} calls per run"
        )
        config = WorkerConfig(
            address=server.address,
            state_dir=str(state),
            smtp_port=sink.port,
            extra_queues=[SKELETON_QUEUE],  # the empty workflows of the ceiling
        )
        async with worker_process(config) as worker:
            say(
                f"worker pid {worker.pid}: idle RSS {mib(worker.rss_kb())}; dev server {server.pid}"
            )
            results: list[tuple[Measured, Measured]] = []
            ceilings: list[Ceiling] = []
            n = 0
            for pair in range(pairs):
                done: dict[str, Measured] = {}
                for kind in (
                    ("production", "baseline") if pair % 2 == 0 else ("baseline", "production")
                ):
                    n += 1
                    if kind == "production":
                        done[kind] = await production(server, n, worker.pid)
                    else:
                        done[kind] = await baseline(state, n)
                    r = done[kind]
                    if (r.checked, r.invalid) != (resellers, len(people.invalid)):
                        raise RuntimeError(f"{kind} checked {r.checked}, {r.invalid} invalid")
                    extra = (
                        f"; sweep runs {r.runs} (largest {r.largest_run} events), "
                        f"{r.events} events, {r.workflow_tasks} workflow tasks; CPU per "
                        f"reseller: worker {r.cpu.worker_ms:.2f} ms, dev server "
                        f"{r.cpu.server_ms:.2f} ms"
                        if r.cpu is not None
                        else ""
                    )
                    say(
                        f"pair {pair + 1} {kind:<10}: {r.checked} resellers in {r.seconds:.1f}s "
                        f"= {r.rate:.0f}/s{extra}"
                    )
                results.append((done["production"], done["baseline"]))
                ceiling = await empty_workflows(server, empty, worker.pid)
                ceilings.append(ceiling)
                say(
                    f"pair {pair + 1} empty     : {empty} workflows at {ceiling.rate:.1f} "
                    f"workflows/s; CPU per workflow: worker {ceiling.cpu.worker_ms:.0f} ms, dev "
                    f"server {ceiling.cpu.server_ms:.0f} ms"
                )
            peak = worker.peak_rss_kb()
        runs, largest, where = await max_history_length(server.client)
        emails = sink.received

    ratios = [p.rate / b.rate for p, b in results]
    say("")
    say(f"machine: {machine()}; date {date.today().isoformat()}")
    say(f"resellers per sweep: {resellers}; report emails delivered: {emails}")
    say(
        "resellers checked/s (production): "
        + ", ".join(f"{p.rate:.0f}" for p, _ in results)
        + f" -> median {median([p.rate for p, _ in results]):.0f}"
    )
    say(
        "resellers checked/s (baseline, same calls without Temporal): "
        + ", ".join(f"{b.rate:.0f}" for _, b in results)
    )
    say(
        f"ratio vs baseline: median {median(ratios):.2f} "
        f"(pairs {', '.join(f'{r:.2f}' for r in ratios)})"
    )
    say(
        f"sweep runs per sweep: {max(p.runs for p, _ in results)}; largest sweep run "
        f"{max(p.largest_run for p, _ in results)} events (target < 10000)"
    )
    say(f"largest history: {largest} events ({where}) over {runs} runs of every workflow")
    sweeps = [p for p, _ in results]
    cpus = [p.cpu for p in sweeps if p.cpu is not None]
    events, tasks = median([p.events for p in sweeps]), median([p.workflow_tasks for p in sweeps])
    say(
        f"production sweep steps: {events:.0f} history events, {tasks:.0f} workflow tasks per "
        f"sweep (every run; median of {len(sweeps)}), {events / resellers:.2f} events per "
        f"reseller; CPU per reseller (median): worker "
        f"{median([c.worker_ms for c in cpus]):.2f} ms, dev server "
        f"{median([c.server_ms for c in cpus]):.2f} ms"
    )
    say(describe_ceiling(ceilings))
    server_per_sweep = median([c.server_ms for c in cpus]) * resellers
    server_per_empty = median([c.cpu.server_ms for c in ceilings])
    say(
        f"dev server CPU per sweep: {server_per_sweep:.0f} ms = "
        f"{server_per_sweep / server_per_empty:.0f} empty workflows"
        if server_per_empty > 0
        else f"dev server CPU per sweep: {server_per_sweep:.0f} ms"
    )
    say(f"worker peak RSS: {mib(peak)} (VmHWM, whole run)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resellers", type=int, default=5_000)
    parser.add_argument("--pairs", type=int, default=2)
    parser.add_argument("--pause-seconds", type=float, default=0.0)
    parser.add_argument("--batches-per-run", type=int, default=200)
    parser.add_argument(
        "--empty", type=int, default=100, help="empty workflows per ceiling batch (after each pair)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="300 resellers, 1 pair, 20 empty workflows (smoke)"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.resellers, args.pairs, args.empty = min(args.resellers, 300), 1, min(args.empty, 20)
    configure_logging("WARNING", "console")
    asyncio.run(
        run(args.resellers, args.pairs, args.pause_seconds, args.batches_per_run, args.empty)
    )


if __name__ == "__main__":
    main()
