"""The `csp` console script as an operator runs it: a subprocess against the real dev server,
with the production worker running the pipelines it starts."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from contract import names
from domain.reassessment_rules import month_of
from domain.reseller_enrollment import EnrollmentStage
from domain.transition import TransitionStage, TransitionStatus
from runtime.payload_codec import new_payload_key
from runtime.schedules import SCHEDULES
from runtime.temporal_client import data_converter
from tests.conftest import Stack, application
from tests.enrollment_driver import latest_token, verify
from tests.relationship_driver import PROVIDER, eventually
from tests.test_callbacks import gateway, new_partner, wait_for_stage
from tests.test_codec import personal_data_in, temporal_json
from tests.test_transition_workflow import DE_PROVIDER
from tests.test_transition_workflow import _partner as transition_partner

CSP = Path(sys.executable).parent / "csp"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@dataclass
class Run:
    code: int
    out: str
    err: str

    def one_line_error(self) -> str:
        """The promise: exit 1, one line on stderr, no traceback."""
        assert self.code == 1, (self.code, self.out, self.err)
        lines = self.err.strip().splitlines()
        assert len(lines) == 1, self.err
        assert lines[0].startswith("csp: error: ")
        assert "Traceback" not in self.err
        return lines[0].removeprefix("csp: error: ")


def _env(target: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CSP_", "TEMPORAL_"))}
    env.update(TEMPORAL_ADDRESS=target, CSP_STATE_DIR=str(tmp_path), **extra)
    return env


async def csp(env: dict[str, str], *args: str, stdin: bytes | None = None) -> Run:
    """Runs the console script without blocking the loop the test's worker runs on."""
    assert CSP.exists(), "the `csp` console script is installed with the package"
    process = await asyncio.create_subprocess_exec(
        str(CSP),
        *args,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        out, err = await process.communicate(stdin)
    assert process.returncode is not None
    return Run(process.returncode, out.decode(), err.decode())


async def _listed(env: dict[str, str], *filters: str, expected: str) -> Run:
    """`csp list` once visibility (eventually consistent) shows the expected pipeline."""
    for _ in range(100):
        run = await csp(env, "list", *filters)
        if expected in run.out:
            return run
        await asyncio.sleep(0.1)
    raise AssertionError(f"csp list {' '.join(filters)} never showed {expected}")


async def test_operator_starts_follows_and_decides_a_pipeline(
    dev_env: WorkflowEnvironment, stack: Stack, tmp_path: Path
) -> None:
    client = dev_env.client
    env = _env(client.service_client.config.target_host, tmp_path)
    partner_id = new_partner(stack, mpa_signed=False)
    workflow_id = names.reseller_enrollment_id(partner_id)
    source = tmp_path / "enrollment.yaml"
    source.write_text(yaml.safe_dump(application(partner_id=partner_id)))
    async with stack.worker(client):
        try:
            started = await csp(env, "start", "reseller-enrollment", str(source))
            assert started.code == 0, started.err
            assert started.out.startswith(f"started {workflow_id} (ResellerEnrollment, run ")
            handle = client.get_workflow_handle(workflow_id)
            await wait_for_stage(handle, EnrollmentStage.EMAIL_VERIFICATION)

            again = await csp(env, "start", "reseller-enrollment", str(source))
            assert f"{workflow_id} is already running" in again.one_line_error()

            shown = await csp(env, "status", workflow_id)
            assert shown.code == 0, shown.err
            lines = shown.out.splitlines()
            assert lines[0] == f"{workflow_id}  ResellerEnrollment  RUNNING"
            assert any(line.split() == ["stage:", "email_verification"] for line in lines)
            assert any(
                line.startswith("waiting for:") and "verification link" in line for line in lines
            )
            assert "history:" in lines
            as_json = json.loads((await csp(env, "status", workflow_id, "--json")).out)
            assert as_json["stage"] == "email_verification" and as_json["status"] == "RUNNING"

            listed = await _listed(
                env,
                "--stage",
                "email_verification",
                "--region",
                "jp",
                "--partner",
                partner_id,
                expected=workflow_id,
            )
            header, row = listed.out.splitlines()
            assert header.split()[:3] == ["WORKFLOW", "ID", "TYPE"]
            assert row.split()[:6] == [
                workflow_id,
                "ResellerEnrollment",
                "RUNNING",
                "email_verification",
                "JP",
                partner_id,
            ]
            nothing = await csp(env, "list", "--stage", "review", "--partner", partner_id)
            assert nothing.out.startswith("no pipelines match")

            await verify(client, workflow_id, await latest_token(stack.sink, 1))
            await wait_for_stage(handle, EnrollmentStage.REVIEW)

            # A decision from stdin, as YAML, is refused in its one line: the model says why.
            refused = await csp(
                env,
                "decide",
                "reseller-enrollment",
                workflow_id,
                "review-decision",
                "-",
                stdin=b"decision: reject\ndecided_by: ops-desk-7\n",
            )
            message = refused.one_line_error()
            assert "a rejection must carry a reason" in message and "ops-desk-7" not in message

            approve = '{"decision": "approve", "decided_by": "ops-desk"}'
            decide = ("decide", "reseller-enrollment", workflow_id, "decide_review", approve)
            decided = await csp(env, *decide, "--delivery-id", "ticket-42")
            assert decided.code == 0, decided.err
            assert decided.out.startswith("accepted (operator:ticket-42): ")
            assert (
                json.loads(decided.out.split(": ", 1)[1])["message"]
                == "The review was approved by ops-desk."
            )
            # The same command again (same delivery id) has no second effect, same answer.
            repeated = await csp(env, *decide, "--delivery-id", "ticket-42")
            assert repeated.out == decided.out
            await wait_for_stage(handle, EnrollmentStage.MPA_SIGNATURE)
            late = await csp(env, *decide)
            assert late.one_line_error().startswith("refused (WrongStage): ")

            # The partner signs the MPA; the operator reports it instead of waiting for the poll.
            stack.edit_partner_center(
                lambda data: data["agreements"].update({partner_id: {"isAgreementSigned": True}})
            )
            reported = await csp(
                env,
                "decide",
                "reseller-enrollment",
                workflow_id,
                "mpa-signed",
                '{"reported_by": "ops-desk"}',
            )
            assert reported.code == 0, reported.err
            result = await asyncio.wait_for(handle.result(), 60)
            assert result["outcome"] == "active"
            finished = await csp(env, "status", workflow_id)
            assert finished.out.splitlines()[0].endswith("COMPLETED")
            assert any(line.split() == ["stage:", "active"] for line in finished.out.splitlines())
            closed = await csp(env, *decide)
            assert "has ended (COMPLETED)" in closed.one_line_error()
        finally:
            await _terminate(client, workflow_id)


async def _terminate(client: Client, workflow_id: str) -> None:
    try:
        await client.get_workflow_handle(workflow_id).terminate("test cleanup")
    except Exception:  # finished already
        return


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("start", "wholesale", "x.json"), "unknown pipeline 'wholesale'; known: reseller"),
        (("start", "reseller-enrollment", "missing.json"), "no such file: missing.json"),
        (("status", "reseller-enrollment-0000000"), "no pipeline with workflow id"),
        (("list", "--stage", "review' OR 1=1"), "letters, digits"),
        (
            ("decide", "reseller-enrollment", "w", "promote", "{}"),
            "has no decision 'promote'; known: review-decision, mpa-signed, withdrawal",
        ),
        (("decide", "reseller-enrollment", "w", "withdrawal", "oops"), "neither a file nor"),
        (
            (
                "decide",
                "reseller-enrollment",
                "reseller-enrollment-0000000",
                "withdrawal",
                '{"reason": "r", "requested_by": "ops"}',
            ),
            "no pipeline with workflow id reseller-enrollment-0000000",
        ),
    ],
)
async def test_errors_are_one_clear_line(
    dev_env: WorkflowEnvironment, tmp_path: Path, args: tuple[str, ...], says: str
) -> None:
    env = _env(dev_env.client.service_client.config.target_host, tmp_path)
    run = await csp(env, *args)
    assert says in run.one_line_error()


async def test_invalid_input_and_unreachable_server(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    env = _env(dev_env.client.service_client.config.target_host, tmp_path)
    bad = application()
    bad["primary_contact"]["is_employee"] = False
    source = tmp_path / "bad.json"
    source.write_text(json.dumps(bad))
    message = (await csp(env, "start", "reseller-enrollment", str(source))).one_line_error()
    assert "the primary contact must be an employee" in message
    assert personal_data_in(message) == []
    broken = tmp_path / "broken.json"
    broken.write_text('{"partner_id": ')
    message = (await csp(env, "start", "reseller-enrollment", str(broken))).one_line_error()
    assert message == f"{broken} is not valid JSON"
    unreachable = _env("127.0.0.1:1", tmp_path)
    message = (await csp(unreachable, "status", "anything")).one_line_error()
    assert message.startswith("cannot reach Temporal at 127.0.0.1:1")


async def test_cli_reads_and_writes_encrypted_payloads(
    dev_env: WorkflowEnvironment, stack: Stack, tmp_path: Path
) -> None:
    """The CLI uses the same converter as the worker: with keys set, what it starts is encrypted
    in the server and its status output is still readable."""
    target = dev_env.client.service_client.config.target_host
    keys = new_payload_key("k1")
    env = _env(target, tmp_path, CSP_PAYLOAD_KEYS=keys)
    stack.settings = stack.settings.model_copy(update={"payload_keys": SecretStr(keys)})
    client = await Client.connect(
        target, namespace=dev_env.client.namespace, data_converter=data_converter(stack.settings)
    )
    partner_id = new_partner(stack)
    workflow_id = names.reseller_enrollment_id(partner_id)
    source = tmp_path / "enrollment.json"
    source.write_text(json.dumps(application(partner_id=partner_id)))
    async with stack.worker(client):
        try:
            assert (await csp(env, "start", "reseller-enrollment", str(source))).code == 0
            await wait_for_stage(
                client.get_workflow_handle(workflow_id), EnrollmentStage.EMAIL_VERIFICATION
            )
            shown = await csp(env, "status", workflow_id)
            assert any(
                line.split() == ["stage:", "email_verification"] for line in shown.out.splitlines()
            )
            history = await temporal_json(target, "workflow", "show", "--workflow-id", workflow_id)
            assert personal_data_in(history) == []
        finally:
            await _terminate(client, workflow_id)


async def _refused_at_once(client: Client, workflow_id: str) -> ApplicationError:
    """The pipeline failed at once on its plaintext input (no workflow task failed and retried
    while it showed RUNNING): its failure, decoded (with keys set the worker encrypts it)."""
    with pytest.raises(WorkflowFailureError) as failed:
        await asyncio.wait_for(client.get_workflow_handle(workflow_id).result(), timeout=60)
    cause = failed.value.cause
    assert isinstance(cause, ApplicationError), cause
    async for event in client.get_workflow_handle(workflow_id).fetch_history_events():
        assert not event.HasField("workflow_task_failed_event_attributes"), event
    return cause


async def test_with_keys_set_plaintext_is_refused_and_documented_commands_work(
    dev_env: WorkflowEnvironment, stack: Stack, tmp_path: Path
) -> None:
    """With CSP_PAYLOAD_KEYS set: the README's `temporal workflow start` through the gateway's
    codec and `csp start` with the keys both run the pipeline; the same start without the codec
    or without the keys stores plaintext, and the pipeline fails at once with a clear error."""
    target = dev_env.client.service_client.config.target_host
    keys = new_payload_key("k1")
    stack.settings = stack.settings.model_copy(update={"payload_keys": SecretStr(keys)})
    client = await Client.connect(
        target, namespace=dev_env.client.namespace, data_converter=data_converter(stack.settings)
    )
    token = "codec-token-for-operators-0001"
    started: list[str] = []
    async with (
        gateway(client, codec_tokens=[token]) as url,
        stack.worker(client),
    ):
        try:
            # The README's command, with the codec flags documented for encryption.
            by_cli = new_partner(stack)
            workflow_id = names.reseller_enrollment_id(by_cli)
            started.append(workflow_id)
            start = ("workflow", "start", "--type", names.RESELLER_ENROLLMENT)
            queue = ("--task-queue", names.TASK_QUEUE, "--workflow-id")
            codec = ("--codec-endpoint", url, "--codec-auth", f"Bearer {token}")
            payload = json.dumps(application(partner_id=by_cli))
            await temporal_json(target, *start, *queue, workflow_id, "--input", payload, *codec)
            await wait_for_stage(
                client.get_workflow_handle(workflow_id), EnrollmentStage.EMAIL_VERIFICATION
            )
            history = await temporal_json(target, "workflow", "show", "--workflow-id", workflow_id)
            assert personal_data_in(history) == []

            # `csp start` with the keys (the worker's settings).
            by_csp = new_partner(stack)
            csp_id = names.reseller_enrollment_id(by_csp)
            started.append(csp_id)
            source = tmp_path / "enrollment.json"
            source.write_text(json.dumps(application(partner_id=by_csp)))
            env = _env(target, tmp_path, CSP_PAYLOAD_KEYS=keys)
            assert (await csp(env, "start", "reseller-enrollment", str(source))).code == 0, env
            await wait_for_stage(
                client.get_workflow_handle(csp_id), EnrollmentStage.EMAIL_VERIFICATION
            )

            # Without the codec: plaintext in the server, refused by the worker, clearly.
            plain = new_partner(stack)
            plain_id = names.reseller_enrollment_id(plain)
            started.append(plain_id)
            payload = json.dumps(application(partner_id=plain))
            await temporal_json(target, *start, *queue, plain_id, "--input", payload)
            refused = await _refused_at_once(client, plain_id)
            assert refused.type == "PlaintextPayloadRefused"
            assert "payload is not encrypted" in refused.message
            assert "CSP_PAYLOAD_KEYS is set" in refused.message
            assert "--codec-endpoint" in refused.message

            # `csp start` without the keys: the same refusal.
            no_keys = new_partner(stack)
            no_keys_id = names.reseller_enrollment_id(no_keys)
            started.append(no_keys_id)
            source.write_text(json.dumps(application(partner_id=no_keys)))
            plain_env = _env(target, tmp_path)
            assert (await csp(plain_env, "start", "reseller-enrollment", str(source))).code == 0
            refused = await _refused_at_once(client, no_keys_id)
            assert refused.type == "PlaintextPayloadRefused"
        finally:
            for workflow_id in started:
                await _terminate(client, workflow_id)


async def test_schedules_are_ensured_from_the_table(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    env = _env(dev_env.client.service_client.config.target_host, tmp_path)
    ids = [d.schedule_id for d in SCHEDULES]
    assert ids, "the product defines its schedules in runtime/schedules.py"
    try:
        first = await csp(env, "schedules", "ensure")
        assert first.code == 0, first.err
        assert first.out.splitlines() == [f"created schedule {i}" for i in ids]
        again = await csp(env, "schedules", "ensure")
        assert again.out.splitlines() == [f"updated schedule {i}" for i in ids]
        for definition in SCHEDULES:
            handle = dev_env.client.get_schedule_handle(definition.schedule_id)
            action: Any = (await handle.describe()).schedule.action
            assert action.workflow == definition.workflow_type
            assert action.task_queue == names.TASK_QUEUE
    finally:
        for schedule_id in ids:  # nothing left to fire on the shared dev server
            with contextlib.suppress(Exception):
                await dev_env.client.get_schedule_handle(schedule_id).delete()


async def test_operator_starts_a_transition_and_chooses_its_provider(
    dev_env: WorkflowEnvironment, stack: Stack, tmp_path: Path
) -> None:
    """RA-04 (seed 004:
    "上記の要件の 1 つ以上を満たしていない場合は、CSP パートナーとして取引するための承認
    を維持するために、間接リセラーの状態に移行する必要があります。";
    DOMAIN.md RA-04: "choose an authorized indirect provider in its region"): the transition is
    in the catalogue, so `csp start` runs it under its business-key id (from the `year` its input
    names) and `csp decide ... choose-provider` sends the partner's choice, with the shipped
    example payload; another region's provider is refused in one line naming both regions."""
    client = dev_env.client
    env = _env(client.service_client.config.target_host, tmp_path)
    pga = "5600021"
    pla = await transition_partner(stack, pga)
    year = month_of(datetime.now(UTC)).year
    workflow_id = names.transition_id(pga, "JP", year)
    request = {"pga_id": pga, "region": "JP", "pla_id": pla, "reasons": ["DB-03 TTM revenue"]}
    yearless = tmp_path / "transition-yearless.json"
    yearless.write_text(json.dumps(request))
    source = tmp_path / "transition.json"
    source.write_text(json.dumps({**request, "year": year}))
    mistyped_zone = tmp_path / "transition-zone.json"
    mistyped_zone.write_text(
        json.dumps({**request, "year": year, "business_time_zone": "Asia/Tokio"})
    )
    example = EXAMPLES / "transition-choose-provider.json"
    async with stack.worker(client):
        try:
            refused_start = await csp(env, "start", "transition-to-indirect", str(yearless))
            assert "names the re-assessment year it follows (`year`)" in (
                refused_start.one_line_error()
            )
            refused_zone = await csp(env, "start", "transition-to-indirect", str(mistyped_zone))
            assert "business_time_zone" in refused_zone.one_line_error()
            assert "'Asia/Tokio' is not an IANA time zone name" in refused_zone.err
            started = await csp(env, "start", "transition-to-indirect", str(source))
            assert started.code == 0, started.err
            assert started.out.startswith(f"started {workflow_id} (TransitionToIndirectReseller")
            handle = client.get_workflow_handle(workflow_id)
            await eventually(
                lambda: handle.query(names.QUERY_STATUS, result_type=TransitionStatus),
                lambda s: s.stage is TransitionStage.AWAITING_PROVIDER_CHOICE,
            )
            other = dict(json.loads(example.read_text()), provider_partner_id=DE_PROVIDER)
            decide = ("decide", "transition-to-indirect", workflow_id, "choose-provider")
            refused = (await csp(env, *decide, json.dumps(other))).one_line_error()
            assert refused.startswith("refused (RegionMismatch): ")
            assert "Europe" in refused and "Japan" in refused
            chosen = await csp(env, *decide, str(example), "--delivery-id", "ticket-7")
            assert chosen.code == 0, chosen.err
            assert chosen.out.startswith("accepted (operator:ticket-7): ")
            answer = json.loads(chosen.out.split(": ", 1)[1])
            assert answer["message"].startswith(f"Indirect provider {PROVIDER} was chosen by ")
            status = await eventually(
                lambda: handle.query(names.QUERY_STATUS, result_type=TransitionStatus),
                lambda s: s.stage is TransitionStage.AWAITING_PARTNERSHIP,
            )
            assert status.provider_partner_id == PROVIDER
            assert status.partnership_workflow_id == names.partnership_id(PROVIDER, pla)
        finally:
            for running in (workflow_id, names.partnership_id(PROVIDER, pla)):
                with contextlib.suppress(Exception):
                    await client.get_workflow_handle(running).terminate("test over")


async def test_pipelines_lists_the_table() -> None:
    run = await csp(dict(os.environ), "pipelines")
    assert run.code == 0
    assert "POST /callbacks/reseller-enrollment/{partner_id}/review-decision" in run.out
    assert "decide review-decision" in run.out and "backends: review" in run.out
    assert (
        "POST /callbacks/transition-to-indirect/{pga_id}/{region}/{year}/choose-provider" in run.out
    )


# ---- on Click: help with examples, rules with accepted examples, completion, closed pipes -------


async def test_help_shows_examples_for_every_command() -> None:
    env = dict(os.environ)
    top = await csp(env, "--help")
    assert top.code == 0, top.err
    assert "Examples:" in top.out
    assert "csp start reseller-enrollment examples/reseller-enrollment.json" in top.out
    commands = [
        ("pipelines",), ("start",), ("status",), ("list",), ("decide",), ("schedules", "ensure"),
        ("db", "upgrade"), ("db", "current"), ("partner-center", "check"), ("completion",),
    ]  # fmt: skip
    for command in commands:
        shown = await csp(env, *command, "--help")
        assert shown.code == 0, (command, shown.err)
        assert "Examples:" in shown.out and f"csp {' '.join(command)}" in shown.out, command
    decide = await csp(env, "decide", "-h")
    assert 'review-decision \'{"decision": "approve"' in decide.out


async def test_usage_errors_are_one_line_with_the_rule_and_an_example() -> None:
    env = dict(os.environ)
    limit = await csp(env, "list", "--limit", "0")
    assert limit.code == 2 and len(limit.err.strip().splitlines()) == 1, limit.err
    assert "1<=x<=10000" in limit.err and "e.g. `csp list --stage review" in limit.err
    assert "(see `csp list --help`)" in limit.err
    missing = await csp(env, "start", "reseller-enrollment")
    assert missing.code == 2 and "Missing argument 'FILE'" in missing.err
    assert "e.g. `csp start reseller-enrollment examples/reseller-enrollment.json`" in missing.err
    # Names and filters are refused before any connection (no Temporal needed for these).
    stage = (await csp(env, "list", "--stage", "review' OR 1=1")).one_line_error()
    assert "letters, digits, '.', '_' or '-' only, 1 to 64 characters" in stage
    assert stage.endswith("e.g. `csp list --stage review`")
    unknown = (await csp(env, "start", "wholesale", "x.json")).one_line_error()
    assert unknown.endswith(
        "e.g. `csp start reseller-enrollment examples/reseller-enrollment.json`"
    )


async def test_invalid_payloads_show_an_accepted_example(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    from contract.pipelines import find_decision

    env = _env(dev_env.client.service_client.config.target_host, tmp_path)
    refused = await csp(
        env,
        "decide",
        "reseller-enrollment",
        names.reseller_enrollment_id("4512345"),
        "review-decision",
        '{"decision": "perhaps"}',
    )
    message = refused.one_line_error()
    rule, _, example = message.partition("; accepted example: ")
    assert "decision" in rule and "decided_by" in rule
    decision = find_decision("reseller-enrollment", "review-decision")
    assert decision is not None
    decision.payload.model_validate_json(example.strip("'"))  # the example shown is accepted
    bad = application()
    bad["primary_contact"]["is_employee"] = False
    source = tmp_path / "bad.json"
    source.write_text(json.dumps(bad))
    start = (await csp(env, "start", "reseller-enrollment", str(source))).one_line_error()
    assert start.endswith("; accepted example: examples/reseller-enrollment.json")


async def test_shell_completion_offers_commands_pipelines_and_decisions() -> None:
    env = dict(os.environ)
    script = await csp(env, "completion", "bash")
    assert script.code == 0 and "_CSP_COMPLETE=bash_complete" in script.out

    async def offered(*words: str) -> list[str]:
        line = " ".join(["csp", *words])
        asked = {**env, "_CSP_COMPLETE": "bash_complete", "COMP_WORDS": line}
        asked["COMP_CWORD"] = str(len(words))
        run = await csp(asked)
        assert run.code == 0, run.err
        return [item.partition(",")[2] for item in run.out.splitlines()]

    assert {"start", "decide", "list", "completion"} <= set(await offered(""))
    assert await offered("start", "reseller-en") == ["reseller-enrollment"]
    assert await offered("decide", "reseller-enrollment", "w", "") == [
        "review-decision",
        "mpa-signed",
        "withdrawal",
    ]


@pytest.mark.parametrize("args", [("pipelines",), ("--help",), ("list", "--help")])
def test_a_closed_pipe_ends_quietly(args: tuple[str, ...]) -> None:
    """`csp pipelines | head -1` where the reader has gone before csp writes: no traceback, no
    'Exception ignored' from the interpreter, exit 1 as Click does."""
    import subprocess

    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [str(CSP), *args], stdout=write_end, stderr=subprocess.PIPE, timeout=60, check=False
        )
    finally:
        os.close(write_end)
    assert done.stderr == b"" and done.returncode == 1, done.stderr
    shell = subprocess.run(
        ["bash", "-o", "pipefail", "-c", f"{CSP} pipelines | head -1"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert shell.stderr == "" and len(shell.stdout.splitlines()) == 1
