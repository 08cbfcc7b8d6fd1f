"""The benchmarks in bench/ still run: each in its --quick mode with tiny sizes, as a subprocess
(its own dev server, worker process and SMTP sink; local_files and registry_calls need none), all
seven at once, the re-assessment sweep also with --stress.
Only that each finishes and prints its figure lines is checked, never a figure: timing belongs to
the benchmarks."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

BENCHMARKS: dict[str, tuple[list[str], list[str]]] = {
    "reassessment_sweep": (
        ["--quick", "--partners", "60"],
        [
            r"^re-assessed/s \(production\): \d",
            r"^re-assessed/s \(baseline, trivial per-partner workflow\): \d",
            r"^ratio vs baseline: median \d+\.\d\d",
            r"^largest history: \d+ events",
            r"^worker RSS peak during the sweeps: production \d+ MB, baseline \d+ MB, "
            r"skeleton \d+ MB; whole run \d+ MB",
            r"^production PartnerReassessment steps: \d+ history events, \d+ workflow tasks",
            r"^empty workflows \(the server's ceiling\): median \d+\.\d workflows/s",
        ],
    ),
    "reassessment_sweep --stress": (
        ["--quick", "--stress", "--partners", "40", "--rounds", "2"],
        [
            r"^registry: 40 direct-bill partners \(\+10 warm-up\), 40 due in month 03 \(all\), "
            r"and 40 more due in 2 slices of 20/20",
            r"^one sweep over all 40 partners due \(production\): \d+\.\d partners/s, \d+ sweep "
            r"runs, the largest \d+ events, worker RSS peak \d+ MB",
            r"^round 2 skeleton  : 20 partners in ",
            r"^re-assessed/s \(production\): \d+\.\d, \d+\.\d -> median .*; all 40 in ",
            r"^ratio vs skeleton: median \d+\.\d\d \(rounds \d+\.\d\d, \d+\.\d\d; all partners",
            r"^worker RSS peak during the sweeps: production \d+ MB, skeleton \d+ MB;",
        ],
    ),
    "por_sweep": (
        ["--quick", "--resellers", "120"],
        [
            r"^resellers checked/s \(production\): \d",
            r"^resellers checked/s \(baseline, same calls without Temporal\): \d",
            r"^ratio vs baseline: median \d+\.\d\d",
            r"^sweep runs per sweep: \d+; largest sweep run \d+ events",
            r"^production sweep steps: \d+ history events, \d+ workflow tasks per sweep.*"
            r"worker \d+\.\d\d ms, dev server \d+\.\d\d ms",
            r"^empty workflows \(the server's ceiling\): median \d+\.\d workflows/s",
        ],
    ),
    "pipeline_throughput": (
        ["--quick", "--pipelines", "6", "--warmup", "3"],
        [
            r"^registry: sqlite; worker processes: 1$",
            r"^production: median \d+\.\d pipelines/s, \d+\.\d updates/s",
            r"^skeleton \(baseline\): median \d+\.\d pipelines/s",
            r"^ratio production/skeleton: median \d+\.\d\d",
            r"^production steps: \d+ history events, \d+ workflow tasks per pipeline.*"
            r"worker \d+ ms, dev server \d+ ms",
            r"^skeleton steps: \d+ history events, \d+ workflow tasks per pipeline",
            r"^all processes' CPU per pipeline \(median\): production \d+ ms, skeleton \d+ ms; "
            r"skeleton/production \d+\.\d\d",
            r"^empty workflows \(the server's ceiling\): median \d+\.\d workflows/s",
            r"^share of the ceiling: production \d+\.\d\d, skeleton \d+\.\d\d",
        ],
    ),
    "open_pipelines": (
        ["--quick", "--pipelines", "30", "--window", "15"],
        [
            r"^open pipelines: 30 ResellerEnrollment running",
            r"^idle \(baseline\): worker RSS \d+ MB",
            r"^worker RSS: \d+ MB now, peak \d+ MB",
            r"^dev server RSS: \d+ MB now, peak \d+ MB",
            r"^open pipeline steps so far: \d+ history events, \d+ workflow tasks per pipeline.*"
            r"worker \d+ ms, dev server \d+ ms",
            r"^empty workflows \(the server's ceiling\): median \d+\.\d workflows/s",
        ],
    ),
    "update_latency": (
        ["--quick", "--rate", "10", "--seconds", "1", "--segment", "1"],
        [
            r"^decide_review production: p50 \d+ ms, p99 \d+ ms",
            r"^decide_review skeleton \(baseline\): p50 \d+ ms, p99 \d+ ms",
            r"^production CPU per update .*: worker \d+ ms, dev server \d+ ms",
            r"^empty workflows \(the server's ceiling\): median \d+\.\d workflows/s",
        ],
    ),
    "local_files": (
        ["--quick"],
        [
            r"^\| 20 \| \d+\.\d\d / \d+\.\d\d ms, 0 folds \| \d+\.\d\d / \d+\.\d\d ms, 10 folds"
            r" \| \d+\.\dx \|$",
        ],
    ),
    "registry_calls": (
        ["--quick"],
        [
            r"^\| production \(units of work in threads\) \| \d+\.\d\d ms \| \d+\.\d\d ms \|$",
            r"^\| baseline \(aiosqlite, a hand-off per DB-API call\) \| \d+\.\d\d ms \|",
            r"^CPU ratio baseline/production: \d+\.\dx$",
        ],
    ),
}


@pytest.mark.bench
@pytest.mark.timeout(240)
def test_every_benchmark_runs_in_quick_mode() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        running = {}
        for name, (args, _) in BENCHMARKS.items():
            out = (Path(tmp) / f"{name}.out").open("w+")
            process = subprocess.Popen(
                [sys.executable, "-m", f"bench.{name.split()[0]}", *args],
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
            )
            running[name] = (process, out)
        failures = []
        for name, (process, out) in running.items():
            try:
                code = process.wait(timeout=200)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                code = None
            out.seek(0)
            printed = out.read()
            out.close()
            missing = [
                line
                for line in BENCHMARKS[name][1]
                if not re.search(line, printed, flags=re.MULTILINE)
            ]
            if code != 0 or missing:
                failures.append(f"{name}: exit {code}, missing {missing}\n{printed[-3000:]}")
        assert not failures, "\n\n".join(failures)


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status  # a zombie has exited


@pytest.mark.bench
@pytest.mark.timeout(180)
def test_a_benchmark_stopped_with_sigterm_stops_its_worker_and_dev_server() -> None:
    """`kill <benchmark>` cancels it as Ctrl-C does: its worker process and dev server stop too,
    instead of running on, busy, under the next benchmark's figures."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.reassessment_sweep", "--quick", "--partners", "600"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    worker = server = 0
    try:
        assert process.stdout is not None
        for line in process.stdout:
            found = re.search(r"^worker pid (\d+): .*; dev server pid (\d+)", line)
            if found:
                worker, server = int(found[1]), int(found[2])
                break
        else:
            pytest.fail("the benchmark ended before its worker started")
        assert _alive(worker) and _alive(server)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=90)
        assert not _alive(worker) and not _alive(server)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for pid in (worker, server):  # what the benchmark failed to stop
            if pid and _alive(pid):
                os.kill(pid, signal.SIGKILL)
