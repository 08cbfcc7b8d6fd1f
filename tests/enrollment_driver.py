"""Helpers that drive an enrollment the way its real callers do (start, link, decisions)."""

from __future__ import annotations

import asyncio
from email.message import EmailMessage
from typing import Any

from temporalio.client import Client, WorkflowHandle

from adapters.mail.smtp_sink import SmtpSink, link_token, subject_of, verification_links
from contract import names
from domain.email_verification import EmailVerificationStatus, VerifyEmail
from domain.messages import Acknowledgement
from domain.reseller_enrollment import (
    EnrollmentResult,
    EnrollmentStatus,
    ResellerEnrollmentApplication,
    ReviewDecision,
)


async def start_enrollment(
    client: Client, workflow_id: str, application: dict[str, Any]
) -> WorkflowHandle[Any, EnrollmentResult]:
    return await client.start_workflow(
        names.RESELLER_ENROLLMENT,
        ResellerEnrollmentApplication.model_validate(application),
        id=workflow_id,
        task_queue=names.TASK_QUEUE,
        result_type=EnrollmentResult,
    )


def subjects(sink: SmtpSink) -> list[str]:
    return [subject_of(m) for m in sink.messages()]


def token_from(message: EmailMessage) -> str:
    [link] = verification_links(message)
    return link_token(link)


async def latest_token(sink: SmtpSink, count: int) -> str:
    messages = await sink.wait_for_messages(count, timeout_seconds=30)
    links = [m for m in messages if verification_links(m)]
    return token_from(links[-1])


async def links_recorded(client: Client, workflow_id: str, count: int) -> None:
    """Wait until the verification child has recorded `count` sent links: the email reaches the
    sink a moment before the activity's completion reaches the workflow, and until then the child
    answers a resend with "a verification email is being sent right now"."""
    child = client.get_workflow_handle(names.email_verification_id(workflow_id))
    for _ in range(300):
        current = await child.query(names.QUERY_STATUS, result_type=EmailVerificationStatus)
        if current.links_sent >= count:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{child.id} never recorded {count} sent link(s)")


async def verify(client: Client, workflow_id: str, token: str) -> Acknowledgement:
    child = client.get_workflow_handle(names.email_verification_id(workflow_id))
    ack: Acknowledgement = await child.execute_update(
        names.UPDATE_VERIFY_EMAIL, VerifyEmail(token=token), result_type=Acknowledgement
    )
    return ack


async def status(handle: WorkflowHandle[Any, Any]) -> EnrollmentStatus:
    current: EnrollmentStatus = await handle.query(names.QUERY_STATUS, result_type=EnrollmentStatus)
    return current


async def decide(
    handle: WorkflowHandle[Any, Any], decision: str, reason: str | None = None
) -> Acknowledgement:
    ack: Acknowledgement = await handle.execute_update(
        names.UPDATE_DECIDE_REVIEW,
        ReviewDecision.model_validate(
            {"decision": decision, "reason": reason, "decided_by": "review-backend"}
        ),
        result_type=Acknowledgement,
    )
    return ack
