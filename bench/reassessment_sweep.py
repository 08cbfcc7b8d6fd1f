"""Issue 5: the monthly re-assessment sweep over a registry of 10,000 direct-bill partners.

    .venv/bin/python -m bench.reassessment_sweep [--partners 10000] [--pairs 1] [--quick]
    .venv/bin/python -m bench.reassessment_sweep --stress [--rounds 4] [--quick]

About 1/12 of the partners are due in the sweep's month (`--stress`: all of them). Every due
partner is security-only (onboarding-anniversary month = the sweep month, support-plan renewal
month another), so its `PartnerReassessment` passes without human input: security score, registry
update, "passed" email, outcome signalled to the sweep.

One worker process (the production `build_worker`) against a fresh dev server started the
embedded way. Each pair runs the same production `ReassessmentSweep` over the same partners three
ways, interleaved: with the production `PartnerReassessment` (task queue `csp-enrollment`), with a
trivial one that only signals the sweep (the baseline, bench task queue `csp-bench-baseline`), and
with a no-op skeleton of the production shape (`csp-bench-skeleton`). The bench queues run the
production sweep and sweep activities; only the per-partner workflow registered under the name
`PartnerReassessment` differs, because the sweep's start activity starts that name on its own task
queue. Each sweep uses its own year so that the business ids never collide.

`--stress` seeds the partners twice. The first set is due all in one month: one production sweep
re-assesses all of them (the issue's stress run: it completes, its largest history, the worker's
RSS). The second set is due in `--rounds` slices (default 4: 2,500 partners each, four
consecutive months), and production and skeleton sweeps alternate slice by slice, the order
flipping each round, so that both see the same machine for the ratio: one sequential pass each
measured the machine's drift over half an hour as much as the code. The trivial baseline (issue
5's comparison) runs only without `--stress`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python bench/reassessment_sweep.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from adapters.partner_programs.local import ttm_revenue_entry
from adapters.registry.schema import direct_bill_partners
from adapters.registry.sql import SqlPartnerRegistry
from bench.harness import (
    BASELINE_QUEUE,
    SKELETON_QUEUE,
    PeakSampler,
    Server,
    WorkerConfig,
    bench_stack,
    cpu_seconds,
    history_length,
    machine,
    max_history_length,
    median,
    mib,
    proc_status_kb,
    say,
    stack_paths,
    worker_process,
)
from bench.limits import describe_ceiling, empty_workflows, finished_sample, history_shape
from contract import names
from domain.direct_bill import DirectBillRegistryStatus
from domain.reassessment import SweepRequest, SweepSummary
from runtime.logging import configure_logging

SWEEP_MONTHS = (3, 4, 5, 6, 7, 8)
"""The months the due partners' anniversaries fall in: the first for the sweep over every due
partner, the others one per `--stress` round. The year changes per sweep."""
MONTH = SWEEP_MONTHS[0]
WARMUP_MONTH = 9
WARMUP_PARTNERS = 50
"""Extra partners due in WARMUP_MONTH only (10 with --quick): each kind of sweep runs once over
them first."""
KINDS = {
    "production": names.TASK_QUEUE,
    "baseline": BASELINE_QUEUE,
    "skeleton": SKELETON_QUEUE,
}


def _pga(i: int) -> str:
    return f"{7000000 + i}"


def _months(i: int, due_in: int | None) -> tuple[int, int]:
    """(renewal month, anniversary month) of partner i: never a sweep or warm-up month unless
    due (then the anniversary is the month it is due in and the renewal another month)."""
    others = [m for m in range(1, 13) if m not in (*SWEEP_MONTHS, WARMUP_MONTH)]
    renewal = others[i % len(others)]
    if due_in is not None:
        return renewal, due_in
    return renewal, others[(i + 3) % len(others)]


def _row(pga: str, renewal: int, anniversary: int) -> dict[str, Any]:
    return {
        "pga_id": pga,
        "region": "JP",
        "status": DirectBillRegistryStatus.ACTIVE.value,
        "workflow_id": names.direct_bill_id(pga, "JP"),
        "pla_id": f"{pga[:-1]}9",
        "legal_name": f"Partner {pga} K.K.",
        "contact_name": "Taro Suzuki",
        "contact_email": f"contact-{pga}@partner.example",
        "support_plan_kind": "premier_support_for_partners",
        "support_plan_contract_id": f"PSfP-{pga}",
        "support_plan_renewal_date": date(2030, renewal, 28),
        "renewal_month": renewal,
        "onboarding_anniversary_month": anniversary,
        "activated_at": datetime(2027, 1, 1, tzinfo=UTC),
        "next_reassessment_due": None,
        "updated_at": datetime(2029, 1, 1, tzinfo=UTC),
    }


def _program(pga: str) -> dict[str, Any]:
    return {
        "membershipActive": True,
        "designations": ["Solutions Partner for Security"],
        "securityRequirements": {
            "adminsRequiredNotUsingMfaCount": 0,
            "securityContactProvided": True,
            "securityAlertsPromptlyResolved": True,
        },
        "ttmRevenue": ttm_revenue_entry(
            [{"tenantId": "t", "cloudUsd": "1000000.00", "perpetualSoftwareUsd": "0"}],
            datetime.now(UTC).date(),
        ),
        "locations": {},
    }


async def seed(state: Path, partners: int, rounds: int | None, warmup: int) -> dict[int, int]:
    """The registry (one bulk insert) and the partner-program file; returns the count due in
    each sweep month. Without `rounds`, 1/12 of the partners are due in MONTH. With it
    (`--stress`), every partner is due in MONTH, and as many more are due in `rounds` slices in
    the months after it."""
    paths = stack_paths(state)
    url = f"sqlite+aiosqlite:///{paths['registry']}"
    await (await SqlPartnerRegistry.open(url)).close()  # migrations
    rows, programs = [], {}
    due: Counter[int] = Counter()

    def add(i: int, month: int | None) -> None:
        renewal, anniversary = _months(i, month)
        rows.append(_row(_pga(i), renewal, anniversary))
        if month is not None:
            due[month] += 1
            programs[_pga(i)] = _program(_pga(i))

    for i in range(partners):
        add(i, MONTH if rounds or i % 12 == 0 else None)
    if rounds:
        for i in range(partners, 2 * partners):
            add(i, SWEEP_MONTHS[1 + i % rounds])
    first_warm = len(rows)
    for j in range(warmup):
        pga = _pga(first_warm + j)
        renewal, _ = _months(j, None)
        rows.append(_row(pga, renewal, WARMUP_MONTH))
        programs[pga] = _program(pga)
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.insert(direct_bill_partners), rows)
    finally:
        await engine.dispose()
    paths["partner_programs"].write_text(json.dumps({"partners": programs, "activations": {}}))
    return dict(sorted(due.items()))


@dataclass
class SweepRun:
    kind: str
    due: int
    seconds: float
    summary: SweepSummary
    runs: int
    largest_run: int
    peak_rss_kb: int
    worker_cpu: float
    server_cpu: float

    @property
    def rate(self) -> float:
        return self.due / self.seconds

    def describe(self) -> str:
        return (
            f"{self.due} partners in {self.seconds:.1f}s = {self.rate:.1f} partners/s; sweep runs "
            f"{self.runs} (largest {self.largest_run} events); worker RSS peak "
            f"{mib(self.peak_rss_kb)}; CPU per partner: worker "
            f"{1000 * self.worker_cpu / self.due:.1f} ms, dev server "
            f"{1000 * self.server_cpu / self.due:.1f} ms"
        )


async def sweep(server: Server, kind: str, month: date, worker_pid: int) -> SweepRun:
    workflow_id = f"reassessment-sweep-bench-{kind}-{month:%Y-%m}"
    sampler = PeakSampler(worker_pid)
    sampler.start()
    worker_cpu, server_cpu = cpu_seconds(worker_pid), cpu_seconds(server.pid)
    started = time.perf_counter()
    handle = await server.client.start_workflow(
        names.REASSESSMENT_SWEEP,
        SweepRequest(month=month),
        id=workflow_id,
        task_queue=KINDS[kind],
        result_type=SweepSummary,
    )
    summary = await handle.result()
    seconds = time.perf_counter() - started
    worker_cpu, server_cpu = (
        cpu_seconds(worker_pid) - worker_cpu,
        cpu_seconds(server.pid) - server_cpu,
    )
    await sampler.stop()
    if summary.passed != summary.due or summary.unfinished or summary.errors:
        raise RuntimeError(f"{kind} sweep {month:%Y-%m} did not pass everyone: {summary}")
    runs, largest = 0, 0
    run_id: str | None = handle.first_execution_run_id or handle.result_run_id
    while run_id is not None:
        runs += 1
        events, run_id = await history_length(server.client, workflow_id, run_id)
        largest = max(largest, events)
    return SweepRun(
        kind, summary.due, seconds, summary, runs, largest, sampler.peak, worker_cpu, server_cpu
    )


async def run(partners: int, rounds: int | None, pairs: int, warmup: int) -> None:
    """Without `rounds`: `pairs` rounds of all three kinds over the partners due in MONTH. With
    `rounds` (`--stress`): one production sweep over every partner (all due in MONTH), then
    production and skeleton, one slice of the second set a round."""
    kinds = ["production", "skeleton"] if rounds else list(KINDS)
    async with bench_stack() as (state, server, sink):
        seeded = time.perf_counter()
        due = await seed(state, partners, rounds, warmup)
        seeded = time.perf_counter() - seeded
        slices = [due[month] for month in SWEEP_MONTHS[1 : 1 + (rounds or 0)]]
        say(
            f"registry: {partners} direct-bill partners (+{warmup} warm-up), {due[MONTH]} due "
            f"in month {MONTH:02d}"
            + (
                f" (all), and {sum(slices)} more due in {len(slices)} slices of "
                f"{'/'.join(map(str, slices))} in the months after it"
                if rounds
                else ""
            )
            + f"; seeded in {seeded:.1f}s"
        )
        say(
            "every due partner is security-only (anniversary month = sweep month, renewal month "
            "another): its PartnerReassessment passes without human input"
        )
        config = WorkerConfig(
            address=server.address,
            state_dir=str(state),
            smtp_port=sink.port,
            extra_queues=[BASELINE_QUEUE, SKELETON_QUEUE],
        )
        async with worker_process(config) as worker:
            idle = worker.rss_kb()
            say(f"worker pid {worker.pid}: idle RSS {mib(idle)}; dev server pid {server.pid}")
            year = 2030  # a year per sweep: business ids never collide
            for kind in kinds:
                warm = await sweep(server, kind, date(year, WARMUP_MONTH, 1), worker.pid)
                year += 1
                say(f"warm-up {kind}: {warm.due} partners in {warm.seconds:.1f}s")
            full: SweepRun | None = None
            if rounds:
                full = await sweep(server, "production", date(year, MONTH, 1), worker.pid)
                year += 1
                say(f"one sweep, every partner due: production {full.describe()}")
            results: list[dict[str, SweepRun]] = []
            for index in range(rounds or pairs):
                month = SWEEP_MONTHS[1 + index] if rounds else MONTH
                order = kinds if index % 2 == 0 else list(reversed(kinds))
                done: dict[str, SweepRun] = {}
                for kind in order:
                    done[kind] = await sweep(server, kind, date(year, month, 1), worker.pid)
                    year += 1
                    r = done[kind]
                    say(f"{'round' if rounds else 'pair'} {index + 1} {kind:<10}: " + r.describe())
                results.append(done)
            ceiling = await empty_workflows(server, max(due[MONTH], 20), worker.pid)
            peak = worker.peak_rss_kb()
        shapes = {
            kind: await history_shape(
                server.client,
                await finished_sample(server.client, names.PARTNER_REASSESSMENT, KINDS[kind]),
            )
            for kind in kinds
        }
        runs, largest, where = await max_history_length(server.client)
        server_rss = None if server.pid is None else proc_status_kb(server.pid, "VmHWM")
        emails = sink.received

    def of(kind: str) -> list[SweepRun]:
        return [done[kind] for done in results]

    def swept(kind: str) -> list[SweepRun]:
        return of(kind) + ([full] if full is not None and kind == "production" else [])

    def rates(kind: str) -> str:
        done = of(kind)
        overall = sum(r.due for r in done) / sum(r.seconds for r in done)
        return (
            ", ".join(f"{r.rate:.1f}" for r in done)
            + f" -> median {median([r.rate for r in done]):.1f}; "
            + f"all {sum(r.due for r in done)} in {sum(r.seconds for r in done):.0f}s = "
            + f"{overall:.1f}/s"
        )

    def ratios(against: str) -> str:
        each = [done["production"].rate / done[against].rate for done in results]
        overall = sum(r.seconds for r in of(against)) / sum(r.seconds for r in of("production"))
        return (
            f"median {median(each):.2f} ({'rounds' if rounds else 'pairs'} "
            f"{', '.join(f'{r:.2f}' for r in each)}; all partners {overall:.2f})"
        )

    say("")
    say(f"machine: {machine()}; date {date.today().isoformat()}")
    say(
        f"due partners per sweep: {'/'.join(map(str, due.values()))}; emails delivered to the "
        f"sink: {emails}"
    )
    if full is not None:
        say(
            f"one sweep over all {full.due} partners due (production): {full.rate:.1f} "
            f"partners/s, {full.runs} sweep runs, the largest {full.largest_run} events, worker "
            f"RSS peak {mib(full.peak_rss_kb)} (target < 300 MB)"
        )
    say(f"re-assessed/s (production): {rates('production')}")
    if not rounds:
        say(f"re-assessed/s (baseline, trivial per-partner workflow): {rates('baseline')}")
    say(f"re-assessed/s (skeleton, production shape, no-op): {rates('skeleton')}")
    if not rounds:
        say(f"ratio vs baseline: {ratios('baseline')}; target >= 0.80")
    say(f"ratio vs skeleton: {ratios('skeleton')}" + ("; target >= 0.80" if rounds else ""))
    say(
        f"largest history: {largest} events ({where}) over {runs} runs of every workflow "
        f"(target <= 10000)"
    )
    say(
        f"sweep runs per sweep (continue-as-new): {max(p.runs for p in swept('production'))}; "
        f"largest sweep run "
        f"{max(r.largest_run for kind in kinds for r in swept(kind))} events"
    )
    for kind, shape in shapes.items():
        say(
            f"{kind} PartnerReassessment steps: "
            + shape.describe().replace("per pipeline", "per partner")
            + f"; CPU per partner (median): worker "
            f"{median([1000 * r.worker_cpu / r.due for r in of(kind)]):.1f} ms, dev server "
            f"{median([1000 * r.server_cpu / r.due for r in of(kind)]):.1f} ms"
        )
    say(describe_ceiling([ceiling]))
    share = median([p.rate for p in of("production")]) / ceiling.rate
    say(f"share of the ceiling: production {share:.2f} (re-assessed/s over empty workflows/s)")
    say(
        "worker RSS peak during the sweeps: "
        + ", ".join(f"{kind} {mib(max(r.peak_rss_kb for r in swept(kind)))}" for kind in kinds)
        + f"; whole run {mib(peak)} (VmHWM; target < 300 MB)"
    )
    say(f"dev server peak RSS: {mib(server_rss)} (VmHWM)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partners", type=int, default=10_000)
    parser.add_argument(
        "--stress", action="store_true", help="every partner due: one sweep, then slices"
    )
    parser.add_argument("--pairs", type=int, default=1, help="without --stress")
    parser.add_argument(
        "--rounds",
        type=int,
        default=4,
        choices=range(1, len(SWEEP_MONTHS)),
        metavar=f"1..{len(SWEEP_MONTHS) - 1}",
        help="--stress: slices of the due partners, one production and one skeleton sweep each",
    )
    parser.add_argument("--quick", action="store_true", help="240 partners, 1 pair (smoke check)")
    args = parser.parse_args(argv)
    warmup = WARMUP_PARTNERS
    if args.quick:
        args.partners, args.pairs, warmup = min(args.partners, 240), 1, 10
    configure_logging("WARNING", "console")
    asyncio.run(run(args.partners, args.rounds if args.stress else None, args.pairs, warmup))


if __name__ == "__main__":
    main()
