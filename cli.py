"""`csp`: the operator CLI over the Temporal client, driven by the tables in contract/pipelines.py.

    csp pipelines                                   what can be started and decided
    csp start <pipeline> <file.json|file.yaml|->    start a pipeline from its input file
    csp status <workflow id> [--json]               the pipeline's status query, readable
    csp list [--pipeline P] [--stage S] [--region R] [--partner ID] [--open] [--limit N]
    csp decide <pipeline> <workflow id> <decision> <file|JSON> [--delivery-id ID]
    csp schedules ensure                            create or update the product's schedules
    csp partner-center check                        read-only Partner Center / Graph calls with
                                                    the configured credentials: OK or the failure

    csp completion bash|zsh|fish                    the shell completion script

It connects with the product's settings (TEMPORAL_ADDRESS, namespace, TLS, API key, payload keys),
so it reads and writes encrypted payloads like the worker does. Any error is one line on stderr
(exit 1; a usage error exit 2) that names the rule broken and shows an accepted example; never a
traceback, not even when the reader of its output goes away (`csp list | head -1`). Built on
Click (`csp --help`, `csp <command> --help`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import sys
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import pydantic
import yaml
from click.shell_completion import CompletionItem, get_completion_class

from contract import names
from contract.pipelines import (
    DECISIONS,
    PIPELINES,
    Decision,
    Pipeline,
    find_decision,
    find_pipeline,
)

if TYPE_CHECKING:
    from temporalio.client import Client

    from runtime.settings import Settings

# The Temporal client, SQLAlchemy/Alembic, the gateway and the settings are imported by the
# commands that use them: `--help`, `pipelines` and each shell-completion request (one `csp` run
# per Tab press) stay quick.

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


def _validated(
    model: type[pydantic.BaseModel], data: Any, accepted: str | None = None
) -> pydantic.BaseModel:
    from runtime.payload_codec import validation_summary

    try:
        return model.model_validate(data)
    except pydantic.ValidationError as err:
        shown = f"; accepted example: {accepted}" if accepted else ""
        raise CliError(validation_summary(err) + shown) from None


def _pipeline(name: str, command: str = "start") -> Pipeline:
    pipeline = find_pipeline(name)
    if pipeline is None:
        known = ", ".join(p.name for p in PIPELINES)
        example = EXAMPLES[command][-1 if command == "list" else 0]
        raise CliError(f"unknown pipeline {name!r}; known: {known}; e.g. `{example}`")
    return pipeline


def _example_input(pipeline: Pipeline) -> str | None:
    """The sample input file shipped for the pipeline, when there is one."""
    sample = Path(__file__).resolve().parent / "examples" / f"{pipeline.name}.json"
    return f"examples/{sample.name}" if sample.is_file() else None


_SAMPLE_STRINGS = {
    "date": "2026-01-31",
    "date-time": "2026-01-31T09:00:00Z",
    "email": "ops@example.com",
}


def _sample_value(schema: dict[str, Any], definitions: dict[str, Any]) -> Any:
    if "$ref" in schema:
        return _sample_value(definitions[schema["$ref"].rsplit("/", 1)[1]], definitions)
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [o for o in schema[key] if o.get("type") != "null"]
            return _sample_value(options[0], definitions) if options else None
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        required = schema.get("required", [])
        properties = schema.get("properties", {})
        return {name: _sample_value(properties[name], definitions) for name in required}
    samples = {"integer": 1, "number": 1, "boolean": True, "array": []}
    if kind in samples:
        return samples[kind]
    return _SAMPLE_STRINGS.get(schema.get("format", ""), "ops")


def example_payload(model: type[pydantic.BaseModel]) -> str | None:
    """A minimal payload built from the model's schema (its required fields), shown only when
    the model accepts it."""
    schema = model.model_json_schema()
    try:
        sample = _sample_value(schema, schema.get("$defs", {}))
        model.model_validate(sample)
    except (pydantic.ValidationError, KeyError, IndexError, TypeError):
        return None
    return json.dumps(sample)


# ---- commands ---------------------------------------------------------------------------------


def cmd_pipelines() -> None:
    from gateway.callbacks import callback_path

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
    from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
    from temporalio.exceptions import WorkflowAlreadyStartedError

    pipeline = _pipeline(pipeline_name)
    validated = _validated(
        pipeline.input_model, read_input(source, inline_allowed=False), _example_input(pipeline)
    )
    try:
        workflow_id = pipeline.workflow_id_for(validated)
    except ValueError as err:  # an input that names no business key (a transition's year)
        raise CliError(str(err)) from None
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
    from temporalio.client import WorkflowQueryFailedError
    from temporalio.service import RPCError, RPCStatusCode

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


@dataclass(frozen=True)
class ListFilters:
    pipeline: str | None = None
    stage: str | None = None
    region: str | None = None
    partner: str | None = None
    open: bool = False
    limit: int = 100
    json: bool = False


def _visibility_query(args: ListFilters) -> str:
    clauses: list[str] = []
    if args.pipeline:
        clauses.append(f"WorkflowType = '{_pipeline(args.pipeline, 'list').workflow_type}'")
    for value, attribute, option, example in (
        (args.stage, names.SA_STAGE.name, "--stage", "review"),
        (args.region, names.SA_REGION.name, "--region", "JP"),
        (args.partner, names.SA_PARTNER_ID.name, "--partner", "4512345"),
    ):
        if value is None:
            continue
        if not _FILTER_VALUE.match(value):
            raise CliError(
                f"{attribute} filter {value!r}: letters, digits, '.', '_' or '-' only, 1 to 64 "
                f"characters; e.g. `csp list {option} {example}`"
            )
        clauses.append(f"{attribute} = '{value.upper() if attribute == 'Region' else value}'")
    if args.open:
        clauses.append("ExecutionStatus = 'Running'")
    return " AND ".join(clauses)


async def cmd_list(client: Client, args: ListFilters) -> None:
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


def _decision(pipeline_name: str, decision_name: str) -> Decision:
    _pipeline(pipeline_name, "decide")
    decision = find_decision(pipeline_name, decision_name)
    if decision is None:
        known = ", ".join(d.name for d in DECISIONS if d.pipeline.name == pipeline_name)
        raise CliError(
            f"{pipeline_name} has no decision {decision_name!r}; known: {known}; "
            f"e.g. `{EXAMPLES['decide'][0]}`"
        )
    return decision


async def cmd_decide(
    client: Client,
    pipeline_name: str,
    workflow_id: str,
    decision_name: str,
    payload_source: str,
    delivery_id: str | None,
) -> None:
    from temporalio.client import WorkflowExecutionStatus
    from temporalio.service import RPCError, RPCStatusCode

    from runtime.decisions import DecisionNotDelivered, DecisionRefused, send_decision

    decision = _decision(pipeline_name, decision_name)
    accepted = example_payload(decision.payload)
    try:
        data = read_input(payload_source, inline_allowed=True)
    except CliError as err:
        shown = f"; accepted example: '{accepted}'" if accepted else ""
        raise CliError(f"{err}{shown}") from None
    payload = _validated(decision.payload, data, f"'{accepted}'" if accepted else None)
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
    from runtime.schedules import ensure_schedules

    for schedule_id, what in await ensure_schedules(client, settings):
        print(f"{what} schedule {schedule_id}")


async def cmd_db(action: str, settings: Settings) -> None:
    """`csp db upgrade` / `csp db current` on CSP_REGISTRY_URL (or the embedded default's file).
    Safe while workers run: the upgrade holds the same lock as their own upgrade at start."""
    from sqlalchemy.engine import make_url

    from adapters.registry.migrate import head_revision, registry_revision, upgrade_registry

    url = settings.registry_database_url
    shown = make_url(url).render_as_string(hide_password=True)
    if action == "upgrade":
        from runtime.state_dir import prepare_state_dir

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

    from adapters.registry.sql import SqlPartnerRegistry
    from contract.display import display_time, set_display_time_zone
    from domain.por_sweep import invalid_line

    registry = SqlPartnerRegistry.connect(settings.registry_database_url)
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


# ---- entry point (Click) ----------------------------------------------------------------------

EXAMPLES: dict[str, list[str]] = {
    "csp": [
        "csp pipelines",
        "csp start reseller-enrollment examples/reseller-enrollment.json",
        "csp list --pipeline reseller-enrollment --open",
        "csp status reseller-enrollment-4512345",
    ],
    "pipelines": ["csp pipelines", "csp pipelines | grep POST"],
    "start": [
        "csp start reseller-enrollment examples/reseller-enrollment.json",
        "cat application.yaml | csp start direct-bill -",
    ],
    "status": ["csp status reseller-enrollment-4512345", "csp status direct-bill-4512345 --json"],
    "list": [
        "csp list --stage review --region JP",
        "csp list --pipeline direct-bill --open --limit 20 --json",
    ],
    "decide": [
        "csp decide reseller-enrollment reseller-enrollment-4512345 review-decision "
        '\'{"decision": "approve", "decided_by": "ops-desk"}\'',
        "csp decide reseller-enrollment reseller-enrollment-4512345 withdrawal withdrawal.yaml "
        "--delivery-id ticket-42",
    ],
    "schedules": ["csp schedules ensure"],
    "ensure": ["csp schedules ensure"],
    "db": ["csp db upgrade", "csp db current"],
    "upgrade": ["csp db upgrade"],
    "current": ["csp db current"],
    "partner-center": ["csp partner-center check"],
    "check": ["csp partner-center check"],
    "por-report": ["csp por-report", "csp por-report --json | jq '.invalid_resellers'"],
    "completion": [
        'eval "$(csp completion bash)"     # in ~/.bashrc',
        'eval "$(csp completion zsh)"      # in ~/.zshrc',
        "csp completion fish > ~/.config/fish/completions/csp.fish",
    ],
}


def _epilog(command: str) -> str:
    # "\b" keeps Click from re-wrapping the example lines.
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in EXAMPLES[command])


_CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@dataclass(frozen=True)
class _Target:
    address: str | None
    namespace: str | None


def _complete_pipeline(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    return [
        CompletionItem(p.name, help=p.description)
        for p in PIPELINES
        if p.name.startswith(incomplete)
    ]


def _complete_decision(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    pipeline = ctx.params.get("pipeline")
    return [
        CompletionItem(d.name, help=d.summary)
        for d in DECISIONS
        if d.pipeline.name == pipeline and d.name.startswith(incomplete)
    ]


def _complete_file(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    return [CompletionItem(incomplete, type="file")]


def _run_connected(
    ctx: click.Context, command: Callable[[Client, Settings], Awaitable[None]]
) -> None:
    from runtime.settings import Settings
    from runtime.temporal_client import connect, temporal_address

    target: _Target = ctx.find_object(_Target) or _Target(None, None)
    overrides: dict[str, Any] = {}
    if target.address:
        overrides["temporal_address"] = target.address
    if target.namespace:
        overrides["temporal_namespace"] = target.namespace
    settings = Settings().model_copy(update=overrides)

    async def connected() -> None:
        try:
            client = await connect(settings)
        except RuntimeError as err:
            reason = str(err).removeprefix("Failed client connect: ")
            raise CliError(
                f"cannot reach Temporal at {temporal_address(settings)}: {reason}"
            ) from None
        await command(client, settings)

    asyncio.run(connected())


@click.group(context_settings=_CONTEXT, epilog=_epilog("csp"))
@click.option(
    "--address", metavar="HOST:PORT", help="Temporal frontend (default: TEMPORAL_ADDRESS)."
)
@click.option("--namespace", help="Temporal namespace (default: TEMPORAL_NAMESPACE).")
@click.pass_context
def cli(ctx: click.Context, address: str | None, namespace: str | None) -> None:
    """Operate the CSP enrollment pipelines over Temporal."""
    ctx.obj = _Target(address, namespace)


@cli.command(epilog=_epilog("pipelines"))
def pipelines() -> None:
    """List pipelines and their decisions (with their callback routes)."""
    cmd_pipelines()


@cli.command(epilog=_epilog("start"))
@click.argument("pipeline", shell_complete=_complete_pipeline)
@click.argument("file", shell_complete=_complete_file)
@click.pass_context
def start(ctx: click.Context, pipeline: str, file: str) -> None:
    """Start PIPELINE from FILE (.json, .yaml, .yml; - reads standard input).

    The workflow id is the pipeline's business key (e.g. reseller-enrollment-<PartnerID>)."""
    _pipeline(pipeline)  # a refused name fails before connecting
    _run_connected(ctx, lambda client, _: cmd_start(client, pipeline, file))


@cli.command(epilog=_epilog("status"))
@click.argument("workflow_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def status(ctx: click.Context, workflow_id: str, as_json: bool) -> None:
    """Show a pipeline's status (its status query, or what visibility knows)."""
    _run_connected(ctx, lambda client, _: cmd_status(client, workflow_id, as_json))


@cli.command("list", epilog=_epilog("list"))
@click.option(
    "--pipeline", help="Pipeline name, e.g. reseller-enrollment.", shell_complete=_complete_pipeline
)
@click.option("--stage", help="PipelineStage, e.g. review.")
@click.option("--region", help="Region (ISO country), e.g. JP.")
@click.option("--partner", help="PartnerId, e.g. 4512345.")
@click.option("--open", "only_open", is_flag=True, help="Running pipelines only.")
@click.option(
    "--limit", type=click.IntRange(1, 10_000), default=100, show_default=True, help="At most."
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def list_pipelines(
    ctx: click.Context,
    pipeline: str | None,
    stage: str | None,
    region: str | None,
    partner: str | None,
    only_open: bool,
    limit: int,
    as_json: bool,
) -> None:
    """List pipelines by type, stage, region and partner."""
    filters = ListFilters(pipeline, stage, region, partner, only_open, limit, as_json)
    _visibility_query(filters)  # a refused filter fails before connecting
    _run_connected(ctx, lambda client, _: cmd_list(client, filters))


@cli.command(epilog=_epilog("decide"))
@click.argument("pipeline", shell_complete=_complete_pipeline)
@click.argument("workflow_id")
@click.argument("decision", shell_complete=_complete_decision)
@click.argument("payload", shell_complete=_complete_file)
@click.option("--delivery-id", help="Makes a repeated command have one effect (the update id).")
@click.pass_context
def decide(
    ctx: click.Context,
    pipeline: str,
    workflow_id: str,
    decision: str,
    payload: str,
    delivery_id: str | None,
) -> None:
    """Send DECISION to a running pipeline. PAYLOAD is a JSON/YAML file, - for standard input,
    or inline JSON."""
    _decision(pipeline, decision)  # a refused name fails before connecting
    _run_connected(
        ctx,
        lambda client, _: cmd_decide(client, pipeline, workflow_id, decision, payload, delivery_id),
    )


@cli.group(epilog=_epilog("schedules"))
def schedules() -> None:
    """Manage the product's schedules."""


@schedules.command(epilog=_epilog("ensure"))
@click.pass_context
def ensure(ctx: click.Context) -> None:
    """Create or update every schedule."""
    from runtime.schedules import SCHEDULES

    if not SCHEDULES:
        click.echo("no schedules defined yet (runtime/schedules.py SCHEDULES is empty)")
        return
    _run_connected(ctx, cmd_schedules_ensure)


@cli.group(epilog=_epilog("db"))
def db() -> None:
    """The partner registry's schema (Alembic)."""


@db.command(epilog=_epilog("upgrade"))
def upgrade() -> None:
    """Bring the registry to the newest revision."""
    from runtime.settings import Settings

    asyncio.run(cmd_db("upgrade", Settings()))


@db.command(epilog=_epilog("current"))
def current() -> None:
    """Show the registry's revision."""
    from runtime.settings import Settings

    asyncio.run(cmd_db("current", Settings()))


@cli.group("partner-center", epilog=_epilog("partner-center"))
def partner_center() -> None:
    """Check the Partner Center and Graph credentials."""


@partner_center.command(epilog=_epilog("check"))
def check() -> None:
    """Run read-only calls and print, per operation, OK or the exact failure."""
    from runtime.settings import Settings

    asyncio.run(cmd_partner_center_check(Settings()))


@cli.command("por-report", epilog=_epilog("por-report"))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def por_report(as_json: bool) -> None:
    """Show the latest POR sweep's report: counts and every invalid reseller with its reason and
    what to do (reads the registry; needs no Temporal)."""
    from runtime.settings import Settings

    asyncio.run(cmd_por_report(Settings(), as_json))


@cli.command(epilog=_epilog("completion"))
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the shell completion script for SHELL (commands, pipelines, decisions, files)."""
    completer = get_completion_class(shell)
    assert completer is not None  # the Choice above allows only shells Click supports
    click.echo(completer(cli, {}, "csp", "_CSP_COMPLETE").source())


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _error_message(err: BaseException) -> str:
    from temporalio.client import WorkflowFailureError
    from temporalio.service import RPCError

    from runtime.payload_codec import validation_summary

    if isinstance(err, CliError):
        return str(err)
    if isinstance(err, RPCError):
        return f"Temporal refused ({err.status.name if err.status else 'error'}): {err.message}"
    if isinstance(err, WorkflowFailureError):
        return f"workflow failed: {err.cause}"
    if isinstance(err, pydantic.ValidationError):
        return validation_summary(err)
    return f"{type(err).__name__}: {err}"


def _usage_error(err: click.UsageError) -> str:
    """One line: Click's message, an accepted example of the command, where the help is."""
    ctx = err.ctx
    command = ctx.info_name if ctx is not None and ctx.parent is not None else "csp"
    example = EXAMPLES.get(command or "csp", EXAMPLES["csp"])[0]
    where = ctx.command_path if ctx is not None else "csp"
    said = _one_line(err.format_message()).rstrip(".")
    return f"{said}; e.g. `{example}` (see `{where} --help`)"


def _invoke(argv: Sequence[str] | None) -> int:
    """Runs the command; returns the exit status, printing any error as one line."""
    message: str | None = None
    try:
        result = cli.main(args=argv, prog_name="csp", standalone_mode=False)
        return result if isinstance(result, int) else 0
    except click.exceptions.NoArgsIsHelpError as err:
        click.echo(err.format_message(), err=True)
        return 2
    except click.UsageError as err:
        print(f"csp: error: {_usage_error(err)}", file=sys.stderr)
        return 2
    except click.ClickException as err:
        message = err.format_message()
    except BrokenPipeError:
        return _reader_left()
    except SystemExit as exited:  # Click after a closed pipe, shell completion
        return exited.code if isinstance(exited.code, int) else 0 if exited.code is None else 1
    except (KeyboardInterrupt, click.Abort):
        message = "interrupted"
    except Exception as err:  # the promise: one line, never a traceback
        message = _error_message(err)
    print(f"csp: error: {_one_line(message)}", file=sys.stderr)
    return 130 if message == "interrupted" else 1


# Exit status when the reader went away, as Click (and Python's documentation on SIGPIPE) use.
_READER_GONE_STATUS = 1


def _reader_left() -> int:
    """The reader of stdout is gone (`csp list | head -1`): nothing more to say, and nothing
    buffered may be flushed into the closed pipe on the way out."""
    with contextlib.suppress(OSError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return _READER_GONE_STATUS


def main(argv: Sequence[str] | None = None) -> None:
    code = _invoke(argv)
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        code = _reader_left()
    with contextlib.suppress(OSError):
        sys.stderr.flush()
    # The Temporal runtime's native threads can abort a normal interpreter shutdown
    # (PyGILState_Release): nothing is left to clean up, so leave without finalization.
    os._exit(code)


if __name__ == "__main__":
    main()
