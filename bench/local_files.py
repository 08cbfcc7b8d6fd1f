"""Issue 17: the embedded default's local Partner Center file under an enrollment's calls.

    .venv/bin/python -m bench.local_files [--sizes 150,1000,10000] [--enrollments 300] [--rounds 2]
        [--quick]

For each file size (partners in the file, each with its profile, tenant and agreement), the calls
one reseller enrollment makes to the local Partner Center (`get_mpn_profile`, `get_tenant`,
`is_global_admin`, `agreement_status`, `ensure_admin_agent`, `get_tenant`), for `--enrollments`
partners one after another: CPU per enrollment in this process (its threads included) and wall
time. **Production** is the adapter as the worker builds it: each change one line appended to the
journal, folded into the file every 256 changes (`adapters/json_journal.py`). The same-run
**baseline** is the same adapter with `fold_at=1`: every change folded at once, a rewrite of the
whole file per change, as the adapter did before the journal. Rounds alternate their order.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from uuid import UUID

if __package__ in (None, ""):  # `python bench/local_files.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters.json_file import RACY_WINDOW_NS
from adapters.partner_center.local import LocalPartnerCenter
from bench.enrollments import GLOBAL_ADMIN, Partners
from bench.harness import machine


async def _enrollments(size: int, count: int, fold_at: int) -> tuple[float, float, int]:
    """CPU ms and wall ms per enrollment, and the folds (whole-file rewrites) made."""
    with tempfile.TemporaryDirectory(prefix="csp-bench-files-") as folder:
        path = Path(folder) / "partner-center.json"
        partners = Partners(path)
        group = partners.take(size)
        partners.publish(group)  # the file pipeline_throughput writes, with `size` partners
        await asyncio.sleep(RACY_WINDOW_NS / 1e9)  # as a worker finds it: written a while ago
        partner_center = LocalPartnerCenter(path, fold_at=fold_at, fold_after_seconds=None)
        cpu, wall = time.process_time(), time.perf_counter()
        for partner in group[:count]:
            tenant_id = UUID(partner.tenant_id)
            await partner_center.get_mpn_profile(partner.partner_id)
            await partner_center.get_tenant(tenant_id)
            await partner_center.is_global_admin(tenant_id, GLOBAL_ADMIN)
            await partner_center.agreement_status(partner.partner_id)
            await partner_center.ensure_admin_agent(tenant_id, idempotency_key=partner.partner_id)
            await partner_center.get_tenant(tenant_id)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        folds = partner_center._file.folds
        await partner_center.aclose()
        return cpu * 1000 / count, wall * 1000 / count, folds


async def main(sizes: list[int], count: int, rounds: int) -> None:
    print(f"machine: {machine()}; {count} enrollments per run, {rounds} rounds alternating")
    print(
        "| partners in the file | production: CPU / wall per enrollment, folds | "
        "baseline (whole-file rewrite per change) | CPU ratio |"
    )
    print("|---|---|---|---|")
    for size in sizes:
        runs: dict[str, list[tuple[float, float, int]]] = {"production": [], "baseline": []}
        for round_ in range(rounds):
            order = ["production", "baseline"] if round_ % 2 == 0 else ["baseline", "production"]
            for name in order:
                fold_at = 1 if name == "baseline" else 256
                runs[name].append(await _enrollments(size, min(count, size), fold_at))

        def shown(results: list[tuple[float, float, int]]) -> str:
            cpu = statistics.median(r[0] for r in results)
            wall = statistics.median(r[1] for r in results)
            folds = results[0][2]
            return f"{cpu:.2f} / {wall:.2f} ms, {folds} fold{'' if folds == 1 else 's'}"

        ratio = statistics.median(r[0] for r in runs["baseline"]) / statistics.median(
            r[0] for r in runs["production"]
        )
        print(
            f"| {size:,} | {shown(runs['production'])} | {shown(runs['baseline'])} | {ratio:.1f}x |"
        )


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="150,1000,10000")
    parser.add_argument("--enrollments", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="one round, 20 partners, 10 calls")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.enrollments, args.rounds = "20", 10, 1
    return args


if __name__ == "__main__":
    args = _arguments()
    asyncio.run(main([int(s) for s in args.sizes.split(",")], args.enrollments, args.rounds))
