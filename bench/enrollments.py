"""Driving reseller enrollments the way their real callers do, for the pipeline benchmarks: start,
the verification link read from the email in the SMTP sink, `verify_email` on the child, the
review decision on the parent; and the same for the no-op skeleton (bench/skeleton_enrollment)."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from adapters.mail.smtp_sink import link_token, verification_links
from bench.harness import SKELETON_QUEUE, Mailbox
from bench.skeletons import SKELETON_ENROLLMENT, SkeletonResult, SkeletonStatus
from contract import names
from domain.email_verification import VerifyEmail
from domain.messages import Acknowledgement
from domain.reseller_enrollment import (
    EnrollmentResult,
    EnrollmentStage,
    EnrollmentStatus,
    ResellerEnrollmentApplication,
    ReviewDecision,
)

_TENANTS = uuid.UUID("0f6c1a52-3d4e-4b7a-9c2d-8e1f0a2b3c4d")
GLOBAL_ADMIN = "admin@bench.onmicrosoft.com"
APPROVE = ReviewDecision.model_validate({"decision": "approve", "decided_by": "review-backend"})


@dataclass(frozen=True)
class Partner:
    partner_id: str

    @property
    def tenant_id(self) -> str:
        return str(uuid.uuid5(_TENANTS, self.partner_id))

    @property
    def contact(self) -> str:
        return f"contact-{self.partner_id}@bench.example"

    def application(self) -> ResellerEnrollmentApplication:
        return ResellerEnrollmentApplication.model_validate(
            {
                "partner_id": self.partner_id,
                "tenant_id": self.tenant_id,
                "global_admin": GLOBAL_ADMIN,
                "applicant_authorized": True,
                "legal_name": f"Bench {self.partner_id} K.K.",
                "address": {
                    "line1": "1-2-3 Marunouchi",
                    "city": "Chiyoda-ku, Tokyo",
                    "postal_code": "100-0005",
                    "country": "JP",
                },
                "primary_contact": {
                    "first_name": "Hanako",
                    "last_name": "Yamada",
                    "email": self.contact,
                    "phone": "+81 3 1234 5678",
                    "is_employee": True,
                    "locale": "en",  # the driver reads English subjects (JP defaults to ja)
                },
                "support": {"email": "support@bench.example", "phone": "+81 3 1234 0000"},
            }
        )


class Partners:
    """Fresh PartnerIDs; `publish` writes the local Partner Center file with exactly those that
    are being enrolled, so the file (re-read on every call) stays the size of one batch."""

    def __init__(self, path: Path, first: int = 6_000_000) -> None:
        self._path = path
        self._next = first

    def take(self, count: int) -> list[Partner]:
        taken = [Partner(str(self._next + i)) for i in range(count)]
        self._next += count
        return taken

    def publish(self, partners: list[Partner]) -> None:
        data: dict[str, Any] = {"profiles": {}, "tenants": {}, "agreements": {}}
        for p in partners:
            data["profiles"][p.partner_id] = {
                "partnerName": f"Bench {p.partner_id}",
                "country": "JP",
            }
            data["tenants"][p.tenant_id] = {
                "country": "JP",
                "defaultDomain": f"bench{p.partner_id}.onmicrosoft.com",
                "globalAdmins": [GLOBAL_ADMIN],
                "adminAgent": False,
            }
            data["agreements"][p.partner_id] = {"isAgreementSigned": True}
        tmp = self._path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(self._path)


def skeleton_id(partner: Partner) -> str:
    return f"bench-skeleton-enrollment-{partner.partner_id}"


# ---- the production pipeline -----------------------------------------------------------------


async def start_real(client: Client, partner: Partner) -> WorkflowHandle[Any, EnrollmentResult]:
    return await client.start_workflow(
        names.RESELLER_ENROLLMENT,
        partner.application(),
        id=names.reseller_enrollment_id(partner.partner_id),
        task_queue=names.TASK_QUEUE,
        result_type=EnrollmentResult,
    )


async def verify_real(client: Client, sink: Mailbox, partner: Partner) -> None:
    """The contact opens the link from the verification email (the gateway's update)."""
    message = await sink.next_for(partner.contact)
    [link] = verification_links(message)
    token = link_token(link)
    workflow_id = names.reseller_enrollment_id(partner.partner_id)
    child = client.get_workflow_handle(names.email_verification_id(workflow_id))
    await child.execute_update(
        names.UPDATE_VERIFY_EMAIL, VerifyEmail(token=token), result_type=Acknowledgement
    )


async def wait_under_review(sink: Mailbox, partner: Partner) -> None:
    """Until the "under review" email (sent once the stage is `review`). A repeated verification
    email (a retried send after a lost acknowledgement: same link) is counted and skipped."""
    while True:
        message = await sink.next_for(partner.contact)
        subject = str(message["Subject"])
        if "under review" in subject:
            return
        if not verification_links(message):
            raise RuntimeError(f"{partner.partner_id}: unexpected email {subject!r}")
        sink.duplicates += 1


async def review_real(client: Client, sink: Mailbox, partner: Partner) -> None:
    """The review backend decides once the pipeline says (by email) it is under review."""
    await wait_under_review(sink, partner)
    handle = client.get_workflow_handle(names.reseller_enrollment_id(partner.partner_id))
    await handle.execute_update(names.UPDATE_DECIDE_REVIEW, APPROVE, result_type=Acknowledgement)


async def drive_real(client: Client, sink: Mailbox, partner: Partner) -> None:
    handle = await start_real(client, partner)
    await verify_real(client, sink, partner)
    await review_real(client, sink, partner)
    result = await handle.result()
    if result.outcome is not EnrollmentStage.ACTIVE:
        raise RuntimeError(f"{partner.partner_id} ended {result.outcome}: {result.reason}")
    sink.forget(partner.contact)


async def real_stage(client: Client, partner: Partner) -> EnrollmentStage:
    handle = client.get_workflow_handle(names.reseller_enrollment_id(partner.partner_id))
    status: EnrollmentStatus = await handle.query(names.QUERY_STATUS, result_type=EnrollmentStatus)
    return status.stage


# ---- the skeleton ----------------------------------------------------------------------------


async def start_skeleton(client: Client, partner: Partner) -> WorkflowHandle[Any, SkeletonResult]:
    return await client.start_workflow(
        SKELETON_ENROLLMENT,
        partner.application(),
        id=skeleton_id(partner),
        task_queue=SKELETON_QUEUE,
        result_type=SkeletonResult,
    )


async def verify_skeleton(client: Client, partner: Partner) -> int:
    """`verify_email` on the skeleton's child once it exists; returns how many tries it took."""
    child = client.get_workflow_handle(names.email_verification_id(skeleton_id(partner)))
    delay, tries = 0.05, 0
    while True:
        tries += 1
        try:
            await child.execute_update(
                names.UPDATE_VERIFY_EMAIL, VerifyEmail(token="-"), result_type=Acknowledgement
            )
            return tries
        except RPCError as err:
            if err.status is not RPCStatusCode.NOT_FOUND:
                raise
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.4)


async def review_skeleton(client: Client, partner: Partner) -> None:
    handle = client.get_workflow_handle(skeleton_id(partner))
    await handle.execute_update(names.UPDATE_DECIDE_REVIEW, APPROVE, result_type=Acknowledgement)


async def drive_skeleton(client: Client, partner: Partner) -> int:
    handle = await start_skeleton(client, partner)
    tries = await verify_skeleton(client, partner)
    await review_skeleton(client, partner)
    await handle.result()
    return tries


async def skeleton_stage(client: Client, partner: Partner) -> str:
    handle = client.get_workflow_handle(skeleton_id(partner))
    status: SkeletonStatus = await handle.query(names.QUERY_STATUS, result_type=SkeletonStatus)
    return status.stage
