"""`csp`: the operator CLI over the Temporal client, driven by the tables in contract/pipelines.py.

    csp pipelines                                   what can be started and decided
    csp start <pipeline> <file.json|file.yaml|->    start a pipeline from its input file
    csp status <workflow id> [--json]               the pipeline's status query, readable
    csp list [--pipeline P] [--stage S] [--region R] [--partner ID] [--open] [--limit N]
    csp decide <pipeline> <workflow id> <decision> <file|JSON> [--delivery-id ID]
    csp schedules ensure                            create or update the product's schedules
    csp partner-center check                        read-only Partner Center / Graph calls with
                                                    the configured credentials: OK or the failure

It connects with the product's settings (TEMPORAL_ADDRESS, namespace, TLS, API key, payload keys),
so it reads and writes encrypted payloads like the worker does. Any error is one line on stderr
and exit code 1; never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import uuid
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, NoReturn

import pydantic
import yaml
from sqlalchemy.engine import make_url
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowQueryFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from adapters.registry.migrate import head_revision, registry_revision, upgrade_registry
from contract import names
from contract.pipelines import DECISIONS, PIPELINES, Pipeline, find_decision, find_pipeline
from gateway.callbacks import callback_path
from runtime.decisions import DecisionNotDelivered, DecisionRefused, send_decision
from runtime.payload_codec import validation_summary
from runtime.schedules import SCHEDULES, ensure_schedules
from runtime.settings import Settings
from runtime.state_dir import prepare_state_dir
from runtime.temporal_client import connect, temporal_address

_FILTER_VALUE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_RPC_TIMEOUT = timedelta(seconds=30)
_QUERY_TIMEOUT = timedelta(seconds=10)


class CliError(Exception):
    """An error the operator can act on; printed as one line."""


# ---- input ------------------------------------------------------------------------------------


def _parse_document(text: str, source: str, yaml_allowed: bool = True) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        if not yaml_allowed:
            raise CliError(f"{source} is not valid JSON") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise CliError(f"{source} is neither valid JSON nor YAML{where}") from None


def read_input(argument: str, *, inline_allowed: bool) -> Any:
    """A file (.json, .yaml, .yml; `-` is stdin), or with inline_allowed a JSON/YAML text."""
    if argument == "-":
        return _parse_document(sys.stdin.read(), "standard input")
    path = Path(argument)
    if path.is_file():
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise CliError(f"cannot read {argument}: {err}") from None
        return _parse_document(text, argument, yaml_allowed=path.suffix.lower() != ".json")
    if inline_allowed and argument.lstrip().startswith("{"):
        return _parse_document(argument, "the inline payload")
    if inline_allowed:
        raise CliError(f"{argument!r} is neither a file nor a JSON object")
    raise CliError(f"no such file: {argument}")


def _validated(model: type[pydantic.BaseModel], data: Any) -> pydantic.BaseModel:
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as err:
        raise CliError(validation_summary(err)) from None


def _pipeline(name: str) -> Pipeline:
    pipeline = find_pipeline(name)
    if pipeline is None:
        known = ", ".join(p.name for p in PIPELINES)
        raise CliError(f"unknown pipeline {name!r}; known: {known}")
    return pipeline


# ---- commands ---------------------------------------------------------------------------------


def cmd_pipelines() -> None:
    for pipeline in PIPELINES:
        print(f"{pipeline.name}  (workflow type {pipeline.workflow_type})")
        print(f"  {pipeline.description}")
        for decision in (d for d in DECISIONS if d.pipeline is pipeline):
            backends = ", ".join(sorted(decision.backends))
            print(f"  decide {decision.name:<18} update {decision.update:<20} backends: {backends}")
            print(f"    POST {callback_path(decision)}")


async def cmd_start(client: Client, pipeline_name: str, source: str) -> None:
    """Start a pipeline under its business-key workflow id (the only id it runs under).

    Id policy (README, "One pipeline per business key"): a start while the pipeline runs is
    refused (`FAIL`); after it closed a new run is allowed (`ALLOW_DUPLICATE`) and the pipeline's
    pre-checks judge the recorded state (e.g. `AlreadyEnrolling` for an active PartnerID, which
    writes no record and mails nobody)."""
    pipeline = _pipeline(pipeline_name)
    validated = _validated(pipeline.input_model, read_input(source, inline_allowed=False))
    workflow_id = pipeline.workflow_id_for(validated)
    try:
        handle = await client.start_workflow(
            pipeline.workflow_type,
            validated,
            id=workflow_id,
            task_queue=names.TASK_QUEUE,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            rpc_timeout=_RPC_TIMEOUT,
            # issue 15: what the Web UI shows for the pipeline (type, key, region; no PII)
            static_summary=pipeline.start_summary(validated),
            static_details=pipeline.start_details(validated),
        )
    except WorkflowAlreadyStartedError:
        raise CliError(
            f"{workflow_id} is already running; see `csp status {workflow_id}`"
        ) from None
    print(f"started {workflow_id} ({pipeline.workflow_type}, run {handle.first_execution_run_id})")


def _render(value: Any, indent: int = 0) -> list[str]:
    pad = "  " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        width = max((len(str(k)) for k in value), default=0)
        for key, item in value.items():
            label = str(key).replace("_", " ")
            if isinstance(item, dict | list) and item:
                lines.append(f"{pad}{label}:")
                lines += _render(item, indent + 1)
            else:
                shown = "-" if item is None or item == [] or item == {} else item
                lines.append(f"{pad}{label + ':':<{width + 2}}{shown}")
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                lines.append(pad + "  ".join("-" if v is None else str(v) for v in item.values()))
            else:
                lines.append(f"{pad}{item}")
    else:
        lines.append(f"{pad}{value}")
    return lines


async def cmd_status(client: Client, workflow_id: str, as_json: bool) -> None:
    handle = client.get_workflow_handle(workflow_id)
    try:
        described = await handle.describe(rpc_timeout=_RPC_TIMEOUT)
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            raise CliError(f"no pipeline with workflow id {workflow_id}") from None
        raise
    status = described.status.name if described.status else "UNKNOWN"
    try:
        state = await handle.query(names.QUERY_STATUS, rpc_timeout=_QUERY_TIMEOUT)
    except (RPCError, WorkflowQueryFailedError) as err:
        # No worker to answer (or a workflow without the query): what visibility knows.
        attrs = described.typed_search_attributes
        state = {
            "note": f"status query not answered ({_one_line(str(err))[:120]})",
            "stage": attrs.get(names.SA_STAGE),
            "region": attrs.get(names.SA_REGION),
            "partner_id": attrs.get(names.SA_PARTNER_ID),
            "outcome": attrs.get(names.SA_OUTCOME),
            "next_deadline": (d.isoformat() if (d := attrs.get(names.SA_NEXT_DEADLINE)) else None),
        }
    if as_json:
        print(json.dumps({"workflow_type": described.workflow_type, "status": status, **state}))
        return
    print(f"{workflow_id}  {described.workflow_type}  {status}")
    for line in _render(state):
        print(line)


def _visibility_query(args: argparse.Namespace) -> str:
    clauses: list[str] = []
    if args.pipeline:
        clauses.append(f"WorkflowType = '{_pipeline(args.pipeline).workflow_type}'")
    for value, attribute in (
        (args.stage, names.SA_STAGE.name),
        (args.region, names.SA_REGION.name),
        (args.partner, names.SA_PARTNER_ID.name),
    ):
        if value is None:
            continue
        if not _FILTER_VALUE.match(value):
            raise CliError(f"{attribute} filter {value!r}: letters, digits, '.', '_' or '-' only")
        clauses.append(f"{attribute} = '{value.upper() if attribute == 'Region' else value}'")
    if args.open:
        clauses.append("ExecutionStatus = 'Running'")
    return " AND ".join(clauses)


async def cmd_list(client: Client, args: argparse.Namespace) -> None:
    query = _visibility_query(args)
    rows: list[tuple[str, ...]] = []
    async for wf in client.list_workflows(query or None, limit=args.limit):
        attrs = wf.typed_search_attributes
        deadline = attrs.get(names.SA_NEXT_DEADLINE)
        rows.append(
            (
                wf.id,
                wf.workflow_type,
                wf.status.name if wf.status else "-",
                attrs.get(names.SA_STAGE) or "-",
                attrs.get(names.SA_REGION) or "-",
                attrs.get(names.SA_PARTNER_ID) or "-",
                deadline.isoformat() if deadline else "-",
            )
        )
    if args.json:
        keys = ("workflow_id", "type", "status", "stage", "region", "partner_id", "deadline")
        print(json.dumps([dict(zip(keys, row, strict=True)) for row in rows]))
        return
    if not rows:
        print(f"no pipelines match{f' {query}' if query else ''}")
        return
    header = ("WORKFLOW ID", "TYPE", "STATUS", "STAGE", "REGION", "PARTNER", "NEXT DEADLINE")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


async def cmd_decide(
    client: Client,
    pipeline_name: str,
    workflow_id: str,
    decision_name: str,
    payload_source: str,
    delivery_id: str | None,
) -> None:
    _pipeline(pipeline_name)
    decision = find_decision(pipeline_name, decision_name)
    if decision is None:
        known = ", ".join(d.name for d in DECISIONS if d.pipeline.name == pipeline_name)
        raise CliError(f"{pipeline_name} has no decision {decision_name!r}; known: {known}")
    payload = _validated(decision.payload, read_input(payload_source, inline_allowed=True))
    update_id = f"operator:{delivery_id or uuid.uuid4()}"
    handle = client.get_workflow_handle(workflow_id)
    try:
        described = await handle.describe(rpc_timeout=_RPC_TIMEOUT)
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            raise CliError(f"no pipeline with workflow id {workflow_id}") from None
        raise
    if described.workflow_type != decision.pipeline.workflow_type:
        raise CliError(
            f"{workflow_id} is a {described.workflow_type}, not a {pipeline_name} pipeline"
        )
    if described.status is not WorkflowExecutionStatus.RUNNING:
        state = described.status.name if described.status else "closed"
        raise CliError(f"{workflow_id} has ended ({state}); it takes no more decisions")
    try:
        answer = await send_decision(
            client, decision, workflow_id, payload, update_id=update_id, answer_within=_RPC_TIMEOUT
        )
    except DecisionRefused as refused:
        raise CliError(f"refused ({refused.error_type}): {refused.message}") from None
    except DecisionNotDelivered as failed:
        raise CliError(failed.message) from None
    print(f"accepted ({update_id}): {json.dumps(answer.model_dump(mode='json'))}")


async def cmd_schedules_ensure(client: Client, settings: Settings) -> None:
    for schedule_id, what in await ensure_schedules(client, settings):
        print(f"{what} schedule {schedule_id}")


async def cmd_db(action: str, settings: Settings) -> None:
    """`csp db upgrade` / `csp db current` on CSP_REGISTRY_URL (or the embedded default's file).
    Safe while workers run: the upgrade holds the same lock as their own upgrade at start."""
    url = settings.registry_database_url
    shown = make_url(url).render_as_string(hide_password=True)
    if action == "upgrade":
        prepare_state_dir(settings.state_dir)
        print(f"{shown}: {await upgrade_registry(url)} (newest: {head_revision()})")
    else:
        print(f"{shown}: {await registry_revision(url) or 'none'} (newest: {head_revision()})")


# ---- partner-center check ---------------------------------------------------------------------


async def cmd_partner_center_check(settings: Settings) -> None:
    """`csp partner-center check` (logic in adapters/partner_center/check.py)."""
    if settings.partner_center_mode == "local":
        print(
            "Partner Center is the local JSON file (CSP_PARTNER_CENTER_MODE=local, "
            f"{settings.partner_center_data_path}): no credentials to check"
        )
        return
    from adapters.partner_center.check import check_partner_center
    from adapters.partner_center.http import PartnerCenterHttpClient
    from worker import access_tokens_from_settings

    try:
        pc_tokens, graph_tokens = access_tokens_from_settings(settings)
    except (ValueError, OSError) as err:
        raise CliError(str(err)) from None
    try:
        graph_tenant = uuid.UUID(settings.entra_tenant_id) if settings.entra_tenant_id else None
    except ValueError:
        raise CliError(f"CSP_ENTRA_TENANT_ID is not a GUID: {settings.entra_tenant_id}") from None
    async with PartnerCenterHttpClient(
        partner_center_tokens=pc_tokens,
        graph_tokens=graph_tokens,
        base_url=settings.partner_center_url,
        graph_url=settings.graph_url,
        max_attempts=1,
        timeout=20.0,
    ) as client:
        results = await check_partner_center(client, graph_tenant=graph_tenant)
    for result in results:
        print(result.line())
    failed = [r for r in results if not r.ok]
    if failed:
        raise CliError(f"{len(failed)} of {len(results)} Partner Center checks failed")


# ---- por-report (REL-07) ------------------------------------------------------------------


async def cmd_por_report(settings: Settings, as_json: bool) -> None:
    """`csp por-report`: the latest POR sweep's report from the registry (CSP_REGISTRY_URL), with
    every invalid reseller, its reason and what to do. Reads only; needs no Temporal."""
    import sqlalchemy as sa
    from sqlalchemy.ext.asyncio import create_async_engine

    from adapters.registry.sql import SqlPartnerRegistry
    from contract.display import display_time, set_display_time_zone
    from domain.por_sweep import invalid_line

    registry = SqlPartnerRegistry(create_async_engine(settings.registry_database_url))
    try:
        report = await registry.latest_por_report()
        invalid = await registry.list_invalid_por_checks(report.sweep_id) if report else []
    except sa.exc.OperationalError as err:
        raise CliError(f"cannot read the registry (run `csp db upgrade`?): {err.orig}") from None
    finally:
        await registry.close()
    if report is None:
        print(f"no POR report yet: the {names.POR_SWEEP_SCHEDULE_ID} schedule has not finished")
        return
    if as_json:
        shown = report.model_dump(mode="json")
        shown["invalid_resellers"] = [check.model_dump(mode="json") for check in invalid]
        print(json.dumps(shown, indent=2, ensure_ascii=False))
        return
    set_display_time_zone(settings.display_time_zone)
    print(
        f"POR report {report.sweep_id}: started {display_time(report.started_at)}, finished "
        f"{display_time(report.finished_at)}"
    )
    print(
        f"checked {report.checked}: {report.valid} valid, {report.invalid} invalid, "
        f"{report.unchecked} not checked"
    )
    for failure in report.failures:
        print(f"not checked: {failure}")
    for check in invalid:
        print(invalid_line(check))


# ---- entry point ------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """Usage errors are one line too."""

    def error(self, message: str) -> NoReturn:
        print(f"csp: error: {message} (see `{self.prog} --help`)", file=sys.stderr)
        raise SystemExit(2)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="csp", description="Operate the CSP enrollment pipelines over Temporal.")
    parser.add_argument("--address", help="Temporal frontend host:port (default: settings)")
    parser.add_argument("--namespace", help="Temporal namespace (default: settings)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")

    commands.add_parser("pipelines", help="list pipelines and their decisions")

    start = commands.add_parser("start", help="start a pipeline from a JSON or YAML file")
    start.add_argument("pipeline")
    start.add_argument("file", help="input file (.json, .yaml, .yml) or - for stdin")

    status = commands.add_parser("status", help="show a pipeline's status")
    status.add_argument("workflow_id")
    status.add_argument("--json", action="store_true", help="machine-readable output")

    listing = commands.add_parser("list", help="list pipelines by stage, region, partner")
    listing.add_argument("--pipeline", help="pipeline name, e.g. reseller-enrollment")
    listing.add_argument("--stage", help="PipelineStage, e.g. review")
    listing.add_argument("--region", help="Region (ISO country), e.g. JP")
    listing.add_argument("--partner", help="PartnerId")
    listing.add_argument("--open", action="store_true", help="running pipelines only")
    listing.add_argument("--limit", type=int, default=100)
    listing.add_argument("--json", action="store_true", help="machine-readable output")

    decide = commands.add_parser("decide", help="send a decision to a running pipeline")
    decide.add_argument("pipeline")
    decide.add_argument("workflow_id")
    decide.add_argument("decision", help="e.g. review-decision (or the update name)")
    decide.add_argument("payload", help="a JSON/YAML file, - for stdin, or inline JSON")
    decide.add_argument(
        "--delivery-id", help="makes a repeated command have one effect (update id)"
    )

    schedules = commands.add_parser("schedules", help="manage the product's schedules")
    schedules_commands = schedules.add_subparsers(dest="action", required=True, metavar="action")
    schedules_commands.add_parser("ensure", help="create or update every schedule")

    db = commands.add_parser("db", help="the partner registry's schema (Alembic)")
    db_commands = db.add_subparsers(dest="action", required=True, metavar="action")
    db_commands.add_parser("upgrade", help="bring the registry to the newest revision")
    db_commands.add_parser("current", help="show the registry's revision")
    partner_center = commands.add_parser(
        "partner-center", help="check the Partner Center and Graph credentials"
    )
    pc_commands = partner_center.add_subparsers(dest="action", required=True, metavar="action")
    pc_commands.add_parser(
        "check", help="run read-only calls and print, per operation, OK or the exact failure"
    )
    por_report = commands.add_parser("por-report", help="show the latest POR sweep's report")
    por_report.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


async def _run(args: argparse.Namespace) -> None:
    if args.command == "pipelines":
        cmd_pipelines()
        return
    if args.command == "db":
        await cmd_db(args.action, Settings())
        return
    if args.command == "por-report":
        await cmd_por_report(Settings(), args.json)
        return
    if args.command == "partner-center":
        await cmd_partner_center_check(Settings())
        return
    if args.command == "schedules" and not SCHEDULES:
        print("no schedules defined yet (runtime/schedules.py SCHEDULES is empty)")
        return
    overrides: dict[str, Any] = {}
    if args.address:
        overrides["temporal_address"] = args.address
    if args.namespace:
        overrides["temporal_namespace"] = args.namespace
    settings = Settings().model_copy(update=overrides)
    try:
        client = await connect(settings)
    except RuntimeError as err:
        reason = str(err).removeprefix("Failed client connect: ")
        raise CliError(f"cannot reach Temporal at {temporal_address(settings)}: {reason}") from None
    if args.command == "start":
        await cmd_start(client, args.pipeline, args.file)
    elif args.command == "status":
        await cmd_status(client, args.workflow_id, args.json)
    elif args.command == "list":
        await cmd_list(client, args)
    elif args.command == "decide":
        await cmd_decide(
            client, args.pipeline, args.workflow_id, args.decision, args.payload, args.delivery_id
        )
    elif args.command == "schedules":
        await cmd_schedules_ensure(client, settings)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _error_message(err: BaseException) -> str:
    if isinstance(err, CliError):
        return str(err)
    if isinstance(err, RPCError):
        return f"Temporal refused ({err.status.name if err.status else 'error'}): {err.message}"
    if isinstance(err, WorkflowFailureError):
        return f"workflow failed: {err.cause}"
    if isinstance(err, pydantic.ValidationError):
        return validation_summary(err)
    return f"{type(err).__name__}: {err}"


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    message: str | None = None
    try:
        asyncio.run(_run(args))
    except KeyboardInterrupt:
        message = "interrupted"
    except Exception as err:  # the promise: one line, never a traceback
        message = _error_message(err)
    code = 0
    if message is not None:
        print(f"csp: error: {_one_line(message)}", file=sys.stderr)
        code = 130 if message == "interrupted" else 1
    # The Temporal runtime's native threads can abort a normal interpreter shutdown
    # (PyGILState_Release): nothing is left to clean up, so leave without finalization.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
