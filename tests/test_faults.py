"""Faults with real processes on loopback: the Temporal dev server (on its SQLite file, as the
embedded default runs it) and `python worker.py` are separate processes that the tests kill with
SIGKILL and start again. Pipelines must complete with every email sent exactly once. Also: a backend
delivering the same decision twice has one effect, and malformed input from the `temporal` CLI is
refused with a clear error while the pipeline goes on."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from adapters.mail.smtp_sink import SmtpSink, link_token, subject_of, verification_links
from contract import names
from devstack import dev_server_command
from domain.messages import Acknowledgement
from domain.reseller_enrollment import EnrollmentResult, EnrollmentStage, ReviewDecision
from runtime.binaries import temporal_cli
from runtime.settings import Settings
from runtime.temporal_client import DATA_CONVERTER
from tests.conftest import (
    TOKEN_SECRET,
    UNSIGNED_TENANT,
    Stack,
    application,
    free_port,
    new_partner,
    partner_center_data,
)
from tests.enrollment_driver import decide, latest_token, start_enrollment, status, verify

ROOT = Path(__file__).resolve().parent.parent
STARTUP_SECONDS = 60

ENROLLMENT_SUBJECTS = [
    "Confirm your email address for your CSP reseller enrollment",
    "Your CSP reseller enrollment is under review",
    "Your CSP reseller enrollment is approved",
    "Your CSP reseller account is active",
]


class Processes:
    """The dev server and workers one test started; each stopped by its own pid."""

    def __init__(self, state: Path, sink: SmtpSink) -> None:
        self.state = state
        self.sink = sink
        self.settings = Settings(
            state_dir=state, dev_server_port=free_port(), dev_ui_port=free_port()
        )
        self.address = f"127.0.0.1:{self.settings.dev_server_port}"
        self.started: list[subprocess.Popen[bytes]] = []
        data_file = state / "partner-center.json"
        data_file.write_text(json.dumps(partner_center_data()))
        self.worker_env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("CSP_", "TEMPORAL_"))},
            "TEMPORAL_ADDRESS": self.address,
            "CSP_STATE_DIR": str(state),
            "CSP_SMTP_HOST": "127.0.0.1",
            "CSP_SMTP_PORT": str(sink.port),
            "CSP_MAIL_MODE": "relay",
            "CSP_TOKEN_SECRETS": TOKEN_SECRET,
            "CSP_PARTNER_CENTER_DATA": str(data_file),
            "CSP_OPERATIONS_EMAIL": "ops@csp.example",
            "CSP_METRICS_BIND": "",
        }

    def _spawn(
        self, command: list[str], log_name: str, env: dict[str, str] | None
    ) -> subprocess.Popen[bytes]:
        log = (self.state / log_name).open("ab")
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
        log.close()
        self.started.append(process)
        return process

    async def start_server(self) -> subprocess.Popen[bytes]:
        """`temporal server start-dev` on `<state>/temporal.db`, exactly as the run command."""
        server = self._spawn(dev_server_command(self.settings), "temporal-server.log", None)
        for _ in range(STARTUP_SECONDS * 10):
            assert server.poll() is None, self.log("temporal-server.log")
            try:
                await Client.connect(self.address, data_converter=DATA_CONVERTER)
                return server
            except RuntimeError:
                await asyncio.sleep(0.1)
        raise AssertionError("the dev server did not come up:\n" + self.log("temporal-server.log"))

    async def start_worker(self, name: str) -> subprocess.Popen[bytes]:
        log_name = f"{name}.log"
        worker = self._spawn([sys.executable, "worker.py"], log_name, self.worker_env)
        for _ in range(STARTUP_SECONDS * 10):
            assert worker.poll() is None, self.log(log_name)
            if '"worker_started"' in self.log(log_name):
                return worker
            await asyncio.sleep(0.1)
        raise AssertionError(f"{name} did not start:\n" + self.log(log_name))

    @staticmethod
    def kill9(process: subprocess.Popen[bytes]) -> None:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)

    def log(self, name: str) -> str:
        path = self.state / name
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    async def client(self) -> Client:
        return await Client.connect(self.address, data_converter=DATA_CONVERTER)

    def stop_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=30)


@pytest.fixture
async def processes(tmp_path: Path) -> AsyncIterator[Processes]:
    async with SmtpSink(tmp_path / "mail", host="127.0.0.1", port=0) as sink:
        started = Processes(tmp_path, sink)
        try:
            yield started
        finally:
            started.stop_all()


def _subjects(sink: SmtpSink) -> Counter[str]:
    return Counter(subject_of(message) for message in sink.messages())


async def _wait_stage(client: Client, workflow_id: str, stage: EnrollmentStage) -> None:
    handle = client.get_workflow_handle(workflow_id)
    for _ in range(STARTUP_SECONDS * 10):
        if (await status(handle)).stage is stage:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{workflow_id} never reached {stage.value}")


async def _no_pending_activities(client: Client, workflow_id: str) -> None:
    handle = client.get_workflow_handle(workflow_id)
    for _ in range(STARTUP_SECONDS * 10):
        if not (await handle.describe()).raw_description.pending_activities:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{workflow_id} kept an activity pending")


async def test_worker_killed_mid_pipeline_a_new_one_completes_it_mailing_once(
    processes: Processes,
) -> None:
    await processes.start_server()
    worker = await processes.start_worker("worker-1")
    client = await processes.client()
    workflow_id = names.reseller_enrollment_id("1234567")
    handle = await start_enrollment(client, workflow_id, application())
    await verify(client, workflow_id, await latest_token(processes.sink, 1))
    await _wait_stage(client, workflow_id, EnrollmentStage.REVIEW)
    await processes.sink.wait_for_messages(2, timeout_seconds=30)
    # Kill between steps, once the under-review email's activity is recorded as completed: an
    # activity running at the kill would only be retried after its start-to-close timeout.
    await _no_pending_activities(client, workflow_id)

    # SIGKILL: no graceful shutdown, the pipeline sits in the dead worker's cache.
    processes.kill9(worker)
    # The review backend reports its decision while no worker runs: the update waits.
    decision = asyncio.create_task(decide(handle, "approve"))
    await asyncio.sleep(0.5)
    assert not decision.done()

    await processes.start_worker("worker-2")
    ack = await asyncio.wait_for(decision, STARTUP_SECONDS)
    assert ack.stage == "review"
    result = await asyncio.wait_for(handle.result(), STARTUP_SECONDS)
    assert result.outcome is EnrollmentStage.ACTIVE
    # Each email exactly once: the new worker replayed the history instead of redoing steps.
    messages = await processes.sink.wait_for_messages(4, timeout_seconds=30)
    await asyncio.sleep(0.5)  # a duplicate, if any, would arrive now
    assert _subjects(processes.sink) == Counter(ENROLLMENT_SUBJECTS), messages


async def test_dev_server_killed_and_restarted_on_its_file_keeps_running_pipelines(
    processes: Processes,
) -> None:
    server = await processes.start_server()
    await processes.start_worker("worker")
    client = await processes.client()
    workflow_ids = [names.reseller_enrollment_id(p) for p in ("1234567", "2345678")]
    await start_enrollment(client, workflow_ids[0], application())
    contact = {**application()["primary_contact"], "email": "taro.sato@fabrikam.example"}
    await start_enrollment(
        client,
        workflow_ids[1],
        application(partner_id="2345678", tenant_id=str(UNSIGNED_TENANT), primary_contact=contact),
    )
    messages = await processes.sink.wait_for_messages(2, timeout_seconds=30)
    links = {str(m["To"]): verification_links(m) for m in messages}
    [first_link] = links["hanako.yamada@contoso.example"]
    assert links["taro.sato@fabrikam.example"]
    for workflow_id in workflow_ids:
        await _wait_stage(client, workflow_id, EnrollmentStage.EMAIL_VERIFICATION)
        await _no_pending_activities(client, names.email_verification_id(workflow_id))

    processes.kill9(server)
    assert not (await _reachable(processes.address))
    await processes.start_server()  # same port, same SQLite file
    client = await processes.client()

    # Both pipelines are still there, waiting where they were.
    for workflow_id in workflow_ids:
        await _wait_stage(client, workflow_id, EnrollmentStage.EMAIL_VERIFICATION)
    # ... and the worker (which outlived the server and reconnected) drives them to the end.
    await verify(client, workflow_ids[0], link_token(first_link))
    await _wait_stage(client, workflow_ids[0], EnrollmentStage.REVIEW)
    await decide(client.get_workflow_handle(workflow_ids[0]), "approve")
    first = client.get_workflow_handle(workflow_ids[0], result_type=EnrollmentResult)
    assert (await asyncio.wait_for(first.result(), STARTUP_SECONDS)).outcome is (
        EnrollmentStage.ACTIVE
    )
    second = client.get_workflow_handle(workflow_ids[1], result_type=EnrollmentResult)
    await second.execute_update(
        names.UPDATE_WITHDRAW, {"reason": "test over", "requested_by": "ops"}
    )
    assert (await asyncio.wait_for(second.result(), STARTUP_SECONDS)).outcome is (
        EnrollmentStage.WITHDRAWN
    )
    subjects = _subjects(processes.sink)
    assert subjects["Confirm your email address for your CSP reseller enrollment"] == 2
    assert subjects["Your CSP reseller account is active"] == 1


async def _reachable(address: str) -> bool:
    try:
        await asyncio.wait_for(Client.connect(address), 5)
    except (RuntimeError, TimeoutError):
        return False
    return True


# ---- duplicate deliveries and malformed input (in-process worker, real dev server) ----------


@pytest.fixture
def workflow_id(stack: Stack) -> str:
    """A PartnerID of this test's own: the dev server is shared by the session's tests."""
    return names.reseller_enrollment_id(new_partner(stack))


def _partner(workflow_id: str) -> str:
    return workflow_id.removeprefix(names.reseller_enrollment_id(""))


async def test_a_backend_delivering_a_decision_twice_has_one_effect(
    dev_env: WorkflowEnvironment, stack: Stack, workflow_id: str
) -> None:
    client = dev_env.client
    async with stack.worker(client):
        app = application(partner_id=_partner(workflow_id))
        handle = await start_enrollment(client, workflow_id, app)
        await verify(client, workflow_id, await latest_token(stack.sink, 1))
        await _wait_stage(client, workflow_id, EnrollmentStage.REVIEW)
        approve = ReviewDecision(decision="approve", decided_by="review-backend")
        # A retried delivery carries the same update id: one effect, the same answer twice.
        first, again = await asyncio.gather(
            *(
                handle.execute_update(
                    names.UPDATE_DECIDE_REVIEW,
                    approve,
                    id="review-backend:decision-42",
                    result_type=Acknowledgement,
                )
                for _ in range(2)
            )
        )
        assert first == again
        # A second, different delivery of a decision is refused with a stable type.
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(
                names.UPDATE_DECIDE_REVIEW,
                ReviewDecision(decision="reject", reason="late", decided_by="review-backend"),
                result_type=Acknowledgement,
            )
        cause = refused.value.cause
        assert isinstance(cause, ApplicationError) and cause.type == "WrongStage"
        result = await handle.result()
    assert result.outcome is EnrollmentStage.ACTIVE
    assert _subjects(stack.sink) == Counter(ENROLLMENT_SUBJECTS)


def _cli(dev_env: WorkflowEnvironment, *args: str) -> subprocess.CompletedProcess[str]:
    address = dev_env.client.service_client.config.target_host
    return subprocess.run(
        [temporal_cli(), *args, "--address", address, "--output", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_malformed_cli_updates_are_refused_and_the_pipeline_goes_on(
    dev_env: WorkflowEnvironment, stack: Stack, workflow_id: str
) -> None:
    client = dev_env.client
    async with stack.worker(client):
        app = application(partner_id=_partner(workflow_id))
        handle = await start_enrollment(client, workflow_id, app)
        await verify(client, workflow_id, await latest_token(stack.sink, 1))
        await _wait_stage(client, workflow_id, EnrollmentStage.REVIEW)
        for payload, says in [
            ('{"decision": "maybe", "decided_by": "ops"}', "decision"),
            ('{"decision": "reject", "decided_by": "ops"}', "reason"),
            ('{"decided_by": ""}', "decision"),
        ]:
            done = await asyncio.to_thread(
                _cli,
                dev_env,
                "workflow", "update", "execute",
                "--workflow-id", workflow_id,
                "--name", names.UPDATE_DECIDE_REVIEW,
                "--input", payload,
            )  # fmt: skip
            assert done.returncode != 0, payload
            assert says in done.stderr, done.stderr
        not_json = await asyncio.to_thread(
            _cli,
            dev_env,
            "workflow", "update", "execute",
            "--workflow-id", workflow_id,
            "--name", names.UPDATE_DECIDE_REVIEW,
            "--input", "{decision: approve",
        )  # fmt: skip
        assert not_json.returncode != 0
        # Nothing was lost: the pipeline still waits for its decision, and a valid one works.
        current = await status(handle)
        assert current.stage is EnrollmentStage.REVIEW
        await decide(handle, "approve")
        assert (await handle.result()).outcome is EnrollmentStage.ACTIVE


async def test_a_malformed_application_from_the_cli_fails_with_the_field_named(
    dev_env: WorkflowEnvironment, stack: Stack, workflow_id: str
) -> None:
    """A malformed application fails its workflow at once with the validation message."""
    client = dev_env.client
    async with stack.worker(client):
        done = await asyncio.to_thread(
            _cli,
            dev_env,
            "workflow", "start",
            "--type", names.RESELLER_ENROLLMENT,
            "--task-queue", names.TASK_QUEUE,
            "--workflow-id", workflow_id,
            "--input", json.dumps(application(partner_id="not-a-partner-id")),
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        result = await asyncio.to_thread(
            _cli, dev_env, "workflow", "result", "--workflow-id", workflow_id
        )
    assert result.returncode != 0
    assert "partner_id" in result.stdout + result.stderr
