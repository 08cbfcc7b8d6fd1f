"""The worker: runs every pipeline's workflows and activities on the product's task queue.

`python worker.py` connects to TEMPORAL_ADDRESS (or the embedded dev server's address) and runs
until SIGINT/SIGTERM. The embedded default (`devstack`) runs the same `run_worker`.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pydantic
import structlog

# The SDK reads `@activity.defn` with it too; no public reader exists (temporalio 1.35).
from temporalio.activity import _Definition as ActivityDefinition
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.checks import PartnerCenterActivities
from activities.direct_bill import DirectBillActivities
from activities.notifications import NotificationActivities
from activities.orders import OrderActivities
from activities.policies import Policies, PolicyActivities
from activities.provider_operations import ProviderOperationActivities
from activities.reassessment import ReassessmentActivities
from activities.registry import RegistryActivities
from activities.relationships import RelationshipActivities
from adapters.mail import Mailer
from adapters.mail.smtp_relay import SmtpRelayMailer
from adapters.partner_center import PartnerCenter
from adapters.partner_center.http import PartnerCenterHttpClient
from adapters.partner_center.local import LocalPartnerCenter
from adapters.partner_programs import PartnerPrograms
from adapters.partner_programs.local import LocalPartnerPrograms
from adapters.registry import PartnerRegistry
from adapters.registry.sql import SqlPartnerRegistry
from contract.names import TASK_QUEUE
from runtime.log_context import LogContextInterceptor
from runtime.logging import configure_logging
from runtime.metrics import install_metrics
from runtime.schedules import ensure_schedules
from runtime.search_attributes import ensure_search_attributes
from runtime.settings import Settings
from runtime.temporal_client import connect
from workflows.credit_review import CreditReviewWorkflow
from workflows.customer_invitation import CustomerInvitationWorkflow
from workflows.direct_bill_application import DirectBillApplicationWorkflow
from workflows.email_verification import EmailVerificationWorkflow
from workflows.gdap_restoration import GdapRestorationWorkflow
from workflows.partner_reassessment import PartnerReassessmentWorkflow
from workflows.partnership import PartnershipWorkflow
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
    ResellerCustomerWorkflow,
    SubscriptionSupportContactWorkflow,
    SubscriptionResellerWorkflow,
    ResellerExitWorkflow,
    GdapRestorationWorkflow,
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
        timeout_seconds=settings.smtp_timeout_seconds,
        local_hostname="csp-orchestrator",
    )


def partner_center_from_settings(settings: Settings) -> PartnerCenter:
    if settings.partner_center_mode == "local":
        return LocalPartnerCenter(
            settings.partner_center_data_path,
            por_validation_from=settings.relationship_policy().por_validation_from,
        )
    token = settings.partner_center_token
    if token is None:
        raise ValueError("CSP_PARTNER_CENTER_TOKEN is required when CSP_PARTNER_CENTER_MODE=http")
    return PartnerCenterHttpClient(
        token_provider=token.get_secret_value(),
        base_url=settings.partner_center_url,
        graph_url=settings.graph_url,
        admin_agent_object_id=settings.partner_center_admin_agent_object_id,
    )


@contextlib.asynccontextmanager
async def open_dependencies(settings: Settings) -> AsyncIterator[Dependencies]:
    registry = await SqlPartnerRegistry.open(settings.registry_database_url)
    try:
        yield Dependencies(
            mailer=mailer_from_settings(settings),
            partner_center=partner_center_from_settings(settings),
            registry=registry,
            partner_programs=LocalPartnerPrograms(settings.partner_programs_data_path),
        )
    finally:
        await registry.close()


def workflow_runner() -> SandboxedWorkflowRunner:
    """The workflow sandbox of the worker; the replay tests use the same one."""
    return SandboxedWorkflowRunner(
        # pydantic validates EmailStr with email_validator, imported lazily on first use.
        restrictions=SandboxRestrictions.default.with_passthrough_modules(
            "email_validator", "idna", "dns"
        )
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
        RelationshipActivities(deps.partner_center, deps.registry),
        OrderActivities(deps.partner_center, deps.registry),
        ProviderOperationActivities(deps.partner_center, deps.registry),
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


def build_worker(client: Client, deps: Dependencies, settings: Settings) -> Worker:
    return Worker(
        client,
        task_queue=TASK_QUEUE,
        workflows=WORKFLOWS,
        activities=activity_methods(*activity_instances(deps, settings)),
        workflow_failure_exception_types=WORKFLOW_FAILURE_EXCEPTION_TYPES,
        interceptors=[LogContextInterceptor()],
        workflow_runner=workflow_runner(),
    )


async def run_worker(settings: Settings, client: Client, stop: asyncio.Event) -> None:
    try:
        added = await ensure_search_attributes(client)
        log.info("search_attributes_ensured", added=added)
    except RPCError as err:  # e.g. Temporal Cloud without operator rights: registered elsewhere
        log.warning("search_attributes_not_checked", error=str(err))
    for schedule_id, done in await ensure_schedules(client):
        log.info("schedule_ensured", schedule_id=schedule_id, result=done)
    async with open_dependencies(settings) as deps:
        worker = build_worker(client, deps, settings)
        async with worker:
            log.info("worker_started", task_queue=TASK_QUEUE, namespace=client.namespace)
            await stop.wait()
        log.info("worker_stopped")


async def _main() -> None:
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    install_metrics(settings.metrics_bind)  # before the client: it uses the default runtime
    client = await connect(settings)
    await run_worker(settings, client, stop)


def main() -> None:
    asyncio.run(_main())


if __name__ == "__main__":
    main()
