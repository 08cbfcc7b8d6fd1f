"""The worker: runs every pipeline's workflows and activities on the product's task queue.

`python worker.py` connects to TEMPORAL_ADDRESS (or the embedded dev server's address) and runs
until SIGINT/SIGTERM. The embedded default (`devstack`) runs the same `run_worker`.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pydantic
import structlog

# The SDK reads `@activity.defn` with it too; no public reader exists (temporalio 1.35).
from temporalio.activity import _Definition as ActivityDefinition
from temporalio.client import Client
from temporalio.worker import Interceptor, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.checks import PartnerCenterActivities
from activities.direct_bill import DirectBillActivities
from activities.notifications import NotificationActivities
from activities.orders import OrderActivities
from activities.policies import Policies, PolicyActivities
from activities.por_sweep import PorSweepActivities
from activities.provider_operations import ProviderOperationActivities
from activities.reassessment import ReassessmentActivities
from activities.reconciler import ReconcilerActivities
from activities.registry import RegistryActivities
from activities.relationships import RelationshipActivities
from adapters.mail import Mailer
from adapters.mail.smtp_relay import SmtpRelayMailer
from adapters.partner_center import PartnerCenter
from adapters.partner_center.auth import (
    GRAPH_APP_SCOPE,
    GRAPH_RESOURCE,
    PARTNER_CENTER_APP_SCOPE,
    PARTNER_CENTER_RESOURCE,
    PARTNER_CENTER_USER_SCOPE,
    AccessTokens,
    MsalAccessTokens,
    StaticAccessToken,
)
from adapters.partner_center.http import PartnerCenterHttpClient
from adapters.partner_center.local import LocalPartnerCenter
from adapters.partner_programs import PartnerPrograms
from adapters.partner_programs.local import LocalPartnerPrograms
from adapters.registry import PartnerRegistry
from adapters.registry.sql import SqlPartnerRegistry
from contract.display import set_display_time_zone
from contract.names import TASK_QUEUE
from runtime.bytecode_cache import keep_bytecode
from runtime.data_errors import InvalidDataInterceptor
from runtime.health import serve_health, temporal_readiness
from runtime.log_context import LogContextInterceptor
from runtime.logging import configure_logging
from runtime.metrics import install_metrics
from runtime.pipeline_gauges import report_pipeline_gauges
from runtime.schedules import ensure_schedules
from runtime.search_attribute_check import require_search_attributes
from runtime.settings import Settings
from runtime.state_dir import prepare_state_dir
from runtime.temporal_client import connect
from runtime.tracing import configure_tracing, shutdown_tracing
from workflows.counting_interceptor import PipelineCounterInterceptor
from workflows.credit_review import CreditReviewWorkflow
from workflows.customer_invitation import CustomerInvitationWorkflow
from workflows.direct_bill_application import DirectBillApplicationWorkflow
from workflows.email_verification import EmailVerificationWorkflow
from workflows.gdap_restoration import GdapRestorationWorkflow
from workflows.partner_reassessment import PartnerReassessmentWorkflow
from workflows.partnership import PartnershipWorkflow
from workflows.pipeline_reconciler import PipelineReconcilerWorkflow
from workflows.por_sweep import PorSweepWorkflow
from workflows.provider_operations import (
    ResellerCustomerWorkflow,
    SubscriptionSupportContactWorkflow,
)
from workflows.reassessment_sweep import ReassessmentSweepWorkflow
from workflows.reseller_enrollment import ResellerEnrollmentWorkflow
from workflows.reseller_exit import ResellerExitWorkflow
from workflows.subscription_order import SubscriptionOrderWorkflow
from workflows.subscription_reseller import SubscriptionResellerWorkflow
from workflows.transition_to_indirect import TransitionToIndirectResellerWorkflow

log = structlog.get_logger(__name__)

WORKFLOWS = [
    ResellerEnrollmentWorkflow,
    EmailVerificationWorkflow,
    DirectBillApplicationWorkflow,
    CreditReviewWorkflow,
    ReassessmentSweepWorkflow,
    PartnerReassessmentWorkflow,
    TransitionToIndirectResellerWorkflow,
    PartnershipWorkflow,
    CustomerInvitationWorkflow,
    SubscriptionOrderWorkflow,
    PipelineReconcilerWorkflow,
    ResellerCustomerWorkflow,
    SubscriptionSupportContactWorkflow,
    SubscriptionResellerWorkflow,
    ResellerExitWorkflow,
    GdapRestorationWorkflow,
    PorSweepWorkflow,
]


@dataclass(frozen=True)
class Dependencies:
    mailer: Mailer
    partner_center: PartnerCenter
    registry: PartnerRegistry
    partner_programs: PartnerPrograms


def mailer_from_settings(settings: Settings) -> Mailer:
    # The sink listens on smtp_host:smtp_port too, so one client serves both modes.
    return SmtpRelayMailer(
        settings.smtp_host,
        settings.smtp_port,
        settings.mail_from,
        username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        starttls=settings.smtp_starttls,
        use_tls=settings.smtp_tls,
        allow_plaintext_auth=settings.smtp_allow_plaintext_auth,
        timeout_seconds=settings.smtp_timeout_seconds,
        local_hostname="csp-orchestrator",
        idle_seconds=settings.smtp_session_idle_seconds,
    )


def partner_center_from_settings(
    settings: Settings,
) -> LocalPartnerCenter | PartnerCenterHttpClient:
    """The configured Partner Center; close it with `aclose` (the local one folds its journal)."""
    if settings.partner_center_mode == "local":
        return LocalPartnerCenter(
            settings.partner_center_data_path,
            por_validation_from=settings.relationship_policy().por_validation_from,
        )
    pc_tokens, graph_tokens = access_tokens_from_settings(settings)
    return PartnerCenterHttpClient(
        partner_center_tokens=pc_tokens,
        graph_tokens=graph_tokens,
        base_url=settings.partner_center_url,
        graph_url=settings.graph_url,
        admin_agent_object_id=settings.partner_center_admin_agent_object_id,
    )


def access_tokens_from_settings(settings: Settings) -> tuple[AccessTokens, AccessTokens | None]:
    """One credential per audience: Partner Center (app+user with the refresh token, else
    app-only) and Graph (app-only, per customer tenant). Static tokens win when set."""
    secret = settings.entra_secret
    app = settings.entra_tenant_id and settings.entra_client_id and secret
    pc_tokens: AccessTokens
    if settings.partner_center_token is not None:
        pc_tokens = StaticAccessToken(
            settings.partner_center_token.get_secret_value(), audience=PARTNER_CENTER_RESOURCE
        )
    elif app:
        assert settings.entra_tenant_id and settings.entra_client_id and secret
        refresh_token = settings.partner_center_user_refresh_token
        pc_tokens = MsalAccessTokens(
            tenant_id=settings.entra_tenant_id,
            client_id=settings.entra_client_id,
            client_secret=secret,
            scope=PARTNER_CENTER_USER_SCOPE if refresh_token else PARTNER_CENTER_APP_SCOPE,
            refresh_token=refresh_token,
            authority_host=settings.entra_authority_host,
        )
    else:
        raise ValueError(
            "CSP_PARTNER_CENTER_MODE=http needs Entra ID credentials: CSP_ENTRA_TENANT_ID, "
            "CSP_ENTRA_CLIENT_ID and CSP_ENTRA_CLIENT_SECRET (or CSP_ENTRA_CLIENT_SECRET_FILE), "
            "plus CSP_PARTNER_CENTER_REFRESH_TOKEN(_FILE) for App+User; or a static "
            "CSP_PARTNER_CENTER_TOKEN"
        )
    graph_tokens: AccessTokens | None = None
    if settings.graph_token is not None:
        graph_tokens = StaticAccessToken(
            settings.graph_token.get_secret_value(), audience=GRAPH_RESOURCE
        )
    elif app:
        assert settings.entra_tenant_id and settings.entra_client_id and secret
        graph_tokens = MsalAccessTokens(
            tenant_id=settings.entra_tenant_id,
            client_id=settings.entra_client_id,
            client_secret=secret,
            scope=GRAPH_APP_SCOPE,
            authority_host=settings.entra_authority_host,
        )
    return pc_tokens, graph_tokens


@contextlib.asynccontextmanager
async def open_dependencies(settings: Settings) -> AsyncIterator[Dependencies]:
    registry = await SqlPartnerRegistry.open(settings.registry_database_url)
    mailer = mailer_from_settings(settings)
    partner_center = partner_center_from_settings(settings)
    partner_programs = LocalPartnerPrograms(settings.partner_programs_data_path)
    try:
        yield Dependencies(
            mailer=mailer,
            partner_center=partner_center,
            registry=registry,
            partner_programs=partner_programs,
        )
    finally:
        await partner_programs.aclose()
        await partner_center.aclose()
        await mailer.aclose()
        await registry.close()


SHARED_WORKFLOW_MODULES: tuple[str, ...] = ("workflows",)
"""Workflow code that every workflow instance shares instead of importing it afresh: the
workflow modules and their helpers keep no module state (constants, classes and functions only)
and call nothing outside `temporalio.workflow`, `domain` and `contract`. The sandbox runs a
module it does not pass through again for every instance: 5.9 ms of CPU for a
`PartnerReassessment` instance and 6.2 ms for a `ResellerEnrollment` one, against 0.2-0.4 ms
passed through (issue 17). Passed through, a module's own calls escape the sandbox's checks on
module members (`datetime.now`, say); the builtins' checks stay. So the replay tests run a saved
history of every workflow type with `shared_modules=()`, under all of the sandbox's checks; the
test stack runs the workflows as this worker does."""


def workflow_runner(
    *, shared_modules: Sequence[str] = SHARED_WORKFLOW_MODULES
) -> SandboxedWorkflowRunner:
    """The workflow sandbox of the worker; the replay tests use it with `shared_modules=()`."""
    passthrough = [
        # Pure and deterministic (no clock, no I/O): imported once for the worker instead
        # of once per workflow instance, which rebuilt every pydantic model's schema each
        # time (a fifth of the worker's CPU in the throughput benchmark's profile).
        "domain",
        "contract",
        # pydantic validates EmailStr with email_validator, imported lazily on first use.
        "email_validator",
        "idna",
        "dns",
        *shared_modules,
    ]
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*passthrough)
    )


# Input that fails validation fails the workflow instead of retrying the task forever.
WORKFLOW_FAILURE_EXCEPTION_TYPES: list[type[BaseException]] = [pydantic.ValidationError]


def policies_from_settings(settings: Settings) -> Policies:
    return Policies(
        enrollment=settings.enrollment_policy(),
        direct_bill=settings.direct_bill_policy(),
        reassessment=settings.reassessment_policy(),
        relationship=settings.relationship_policy(),
    )


def activity_instances(deps: Dependencies, settings: Settings) -> list[object]:
    """Every activity class, built with its dependencies."""
    return [
        NotificationActivities(
            deps.mailer,
            deps.registry,
            public_base_url=settings.public_base_url,
            signing_secrets=settings.signing_secrets(),
        ),
        PartnerCenterActivities(deps.partner_center),
        RegistryActivities(deps.registry),
        DirectBillActivities(deps.registry, deps.partner_programs),
        ReassessmentActivities(deps.registry),
        ReconcilerActivities(deps.registry),
        RelationshipActivities(deps.partner_center, deps.registry),
        OrderActivities(deps.partner_center, deps.registry),
        ProviderOperationActivities(deps.partner_center, deps.registry),
        PorSweepActivities(deps.partner_center, deps.registry),
        PolicyActivities(policies_from_settings(settings)),
    ]


def activity_methods(*instances: object) -> list[Callable[..., Any]]:
    """The `@activity.defn` methods of each instance, bound: a class is registered whole, so a
    new activity method cannot be forgotten here."""
    methods: list[Callable[..., Any]] = []
    for instance in instances:
        for name in dir(type(instance)):
            member = getattr(instance, name)
            if callable(member) and ActivityDefinition.from_callable(member) is not None:
                methods.append(member)
    return methods


def worker_interceptors() -> list[Interceptor]:
    """Log context on every workflow and activity, invalid data made final, business counters;
    the benchmarks' skeleton workers use the same list."""
    return [LogContextInterceptor(), InvalidDataInterceptor(), PipelineCounterInterceptor()]


def build_worker(client: Client, deps: Dependencies, settings: Settings) -> Worker:
    """The worker: every workflow and activity on the task queue, in the production sandbox."""
    set_display_time_zone(settings.display_time_zone)  # issue 15: the UI's current details
    return Worker(
        client,
        task_queue=TASK_QUEUE,
        workflows=WORKFLOWS,
        activities=activity_methods(*activity_instances(deps, settings)),
        workflow_failure_exception_types=WORKFLOW_FAILURE_EXCEPTION_TYPES,
        interceptors=worker_interceptors(),
        workflow_runner=workflow_runner(),
        max_concurrent_workflow_tasks=settings.worker_max_workflow_tasks,
        # On shutdown (SIGTERM at a redeploy) running activities get this long to finish before
        # they are cancelled; deployments keep it below their stop grace period.
        graceful_shutdown_timeout=timedelta(seconds=settings.worker_shutdown_seconds),
    )


async def run_worker(
    settings: Settings,
    client: Client,
    stop: asyncio.Event,
    on_started: Callable[[], None] | None = None,
) -> None:
    added = await require_search_attributes(client)
    log.info("search_attributes_ensured", added=added)
    for schedule_id, done in await ensure_schedules(client, settings):
        log.info("schedule_ensured", schedule_id=schedule_id, result=done)
    running = asyncio.Event()
    temporal_ready = temporal_readiness(client)

    async def ready() -> str | None:
        if not running.is_set():
            return "worker not polling (starting or shutting down)"
        return await temporal_ready()

    async with (
        open_dependencies(settings) as deps,
        serve_health(settings.health_bind, ready) as health_url,
    ):
        worker = build_worker(client, deps, settings)
        async with worker, report_pipeline_gauges(client, settings.pipeline_gauge_seconds):
            running.set()
            log.info(
                "worker_started",
                task_queue=TASK_QUEUE,
                namespace=client.namespace,
                health=health_url,
            )
            if on_started is not None:  # devstack's ready block
                on_started()
            await stop.wait()
            running.clear()
            log.info("worker_stopping", grace_seconds=settings.worker_shutdown_seconds)
        log.info("worker_stopped")


def load_settings() -> Settings:
    """The worker's settings, every policy built from them once before anything connects: a bad
    setting stops the worker at start with a message naming it (SystemExit), never a workflow
    task failing later, over and over, in every pipeline that reads it."""
    try:
        settings = Settings()
        policies_from_settings(settings)
    except (pydantic.ValidationError, ValueError) as err:
        raise SystemExit(f"csp worker: invalid settings, not starting:\n{err}") from err
    return settings


async def _main() -> None:
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    prepare_state_dir(settings.state_dir)
    keep_bytecode(settings.state_dir)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    install_metrics(settings.metrics_bind)  # before the client: it uses the default runtime
    configure_tracing("csp-worker", settings.otlp_endpoint)  # before the client too
    client = await connect(settings)
    try:
        await run_worker(settings, client, stop)
    finally:
        shutdown_tracing()


def main() -> None:
    asyncio.run(_main())


if __name__ == "__main__":
    main()
