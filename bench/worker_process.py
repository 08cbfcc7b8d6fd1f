"""The worker of a benchmark, in its own process so that its RSS is its own.

`python -m bench.worker_process <config.json>` (written by `bench.harness.worker_process`): the
production worker exactly as `worker.py` builds it (`build_worker`, real SMTP / registry (the
SQLite file in the state folder, or the config's `registry_url`) / local Partner Center and
partner-program files, metrics on), plus, when asked, bench workers on their own
task queues with the same worker settings. Prints `ready` once polling; stops on SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from activities.policies import PolicyActivities
from activities.reassessment import ReassessmentActivities
from bench import skeletons
from bench.empty_workflow import EmptyWorkflow
from bench.harness import BASELINE_QUEUE, SKELETON_QUEUE, TOKEN_SECRET, free_port, stack_paths
from bench.skeleton_email_verification import SkeletonEmailVerification
from bench.skeleton_enrollment import SkeletonEnrollment
from bench.skeleton_reassessment import SkeletonPartnerReassessment
from bench.trivial_reassessment import TrivialPartnerReassessment
from runtime.bytecode_cache import keep_bytecode
from runtime.logging import configure_logging
from runtime.metrics import install_metrics
from runtime.settings import Settings
from runtime.temporal_client import DATA_CONVERTER
from worker import (
    SHARED_WORKFLOW_MODULES,
    WORKFLOW_FAILURE_EXCEPTION_TYPES,
    Dependencies,
    build_worker,
    open_dependencies,
    policies_from_settings,
    worker_interceptors,
    workflow_runner,
)
from workflows.reassessment_sweep import ReassessmentSweepWorkflow


def skeleton_runner() -> SandboxedWorkflowRunner:
    """Production's sandbox, sharing the skeletons' modules between instances as production
    shares its workflow modules (a skeleton paying for its module per instance would flatter
    production)."""
    return workflow_runner(shared_modules=(*SHARED_WORKFLOW_MODULES, "bench"))


def _settings(config: dict[str, Any]) -> Settings:
    state = Path(config["state_dir"])
    paths = stack_paths(state)
    return Settings(
        state_dir=state,
        smtp_host="127.0.0.1",
        smtp_port=config["smtp_port"],
        token_secrets=TOKEN_SECRET,
        public_base_url="http://127.0.0.1:1",
        partner_center_data=paths["partner_center"],
        partner_programs_data=paths["partner_programs"],
        registry_url=config.get("registry_url") or f"sqlite+aiosqlite:///{paths['registry']}",
        operations_email="ops@csp-bench.example",
        metrics_bind=f"127.0.0.1:{free_port()}",
    )


def _bench_worker(client: Client, queue: str, deps: Dependencies, settings: Settings) -> Worker:
    """The sweep (production code) with a bench `PartnerReassessment`, and the skeletons; the
    worker options are those of `build_worker`."""
    sweep = ReassessmentActivities(deps.registry)
    policies = PolicyActivities(policies_from_settings(settings))
    per_partner = (
        TrivialPartnerReassessment if queue == BASELINE_QUEUE else SkeletonPartnerReassessment
    )
    return Worker(
        client,
        task_queue=queue,
        workflows=[
            ReassessmentSweepWorkflow,
            per_partner,
            SkeletonEnrollment,
            SkeletonEmailVerification,
            EmptyWorkflow,
        ],
        activities=[
            policies.load_reassessment_policy,
            sweep.list_due_partners,
            sweep.start_partner_reassessments,
            skeletons.noop,
        ],
        workflow_failure_exception_types=WORKFLOW_FAILURE_EXCEPTION_TYPES,
        interceptors=worker_interceptors(),
        workflow_runner=skeleton_runner(),
        max_concurrent_workflow_tasks=settings.worker_max_workflow_tasks,
    )


async def _main(config: dict[str, Any]) -> None:
    settings = _settings(config)
    configure_logging("INFO", "json")
    keep_bytecode(settings.state_dir)  # as worker.py does
    install_metrics(settings.metrics_bind)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    client = await Client.connect(config["address"], data_converter=DATA_CONVERTER)
    async with open_dependencies(settings) as deps:  # as worker.py does
        workers = [build_worker(client, deps, settings)]
        for queue in config.get("extra_queues", []):
            assert queue in (BASELINE_QUEUE, SKELETON_QUEUE), queue
            workers.append(_bench_worker(client, queue, deps, settings))
        async with AsyncExitStack() as running:
            for worker in workers:
                await running.enter_async_context(worker)
            print("ready", flush=True)
            await stop.wait()


if __name__ == "__main__":
    asyncio.run(_main(json.loads(Path(sys.argv[1]).read_text())))
