"""One reseller enrollment, traced: run as its own process by tests/test_tracing.py (tracing
installs a process-wide tracer provider and instruments httpx, which must not leak into the other
tests). Production wiring throughout: `configure_tracing` with an in-memory exporter, the client
from `app.temporal_client.connect`, the production worker, the Partner Center HTTP adapter against
the fake Partner Center. Prints the finished spans as JSON on stdout.

    python -m tests.tracing_scenario <temporal address> <state folder>
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from pathlib import Path

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from adapters.mail.smtp_sink import SmtpSink
from adapters.partner_center.http import PartnerCenterHttpClient
from adapters.partner_programs.local import LocalPartnerPrograms
from adapters.registry.sql import SqlPartnerRegistry
from contract import names
from domain.reseller_enrollment import EnrollmentStage
from runtime.settings import Settings
from runtime.temporal_client import connect
from runtime.tracing import configure_tracing, shutdown_tracing
from tests.conftest import TOKEN_SECRET, application
from tests.enrollment_driver import decide, latest_token, start_enrollment, status, verify
from tests.fake_partner_center import (
    GRAPH_TOKEN,
    ORGANIZATION,
    PC_TOKEN,
    Answer,
    fixture,
    serve_documented_partner_center,
)
from worker import Dependencies, build_worker, mailer_from_settings


async def scenario(address: str, state: Path) -> list[dict[str, object]]:
    exporter = InMemorySpanExporter()
    configure_tracing("csp-tracing-test", None, exporter=exporter)
    # The partner, tenant and Global admin of Microsoft's published example answers, which the
    # document-built fake serves (tests/fixtures/partner_center/SOURCES.md).
    # Microsoft's organization example is a Dutch tenant, its legal-business-profile example a US
    # partner: the scenario's tenant is that example answered with the partner's country.
    organization = {
        **fixture("graph.organization_get.success_200.json"),
        "countryLetterCode": fixture("legal_business_profile.success_200.json")["address"][
            "country"
        ],
    }
    [admin] = fixture("graph.directoryrole_members_by_templateid.success_200.json")["value"]
    enrolling = application(
        partner_id=fixture("mpn_profile.success_200.json")["mpnId"],
        tenant_id=organization["id"],
        global_admin=admin["userPrincipalName"],
        address={**application()["address"], "country": organization["countryLetterCode"]},
    )
    async with (
        serve_documented_partner_center() as fake,
        SmtpSink(state / "mail", host="127.0.0.1", port=0) as sink,
    ):
        fake.answer("GET", ORGANIZATION, Answer(200, organization), forever=True)
        settings = Settings(
            temporal_address=address,
            state_dir=state,
            smtp_host="127.0.0.1",
            smtp_port=sink.port,
            token_secrets=TOKEN_SECRET,
            public_base_url="http://127.0.0.1:1",
        )
        client = await connect(settings)
        registry = await SqlPartnerRegistry.open(settings.registry_database_url)
        partner_center = PartnerCenterHttpClient(
            partner_center_tokens=PC_TOKEN,
            graph_tokens=GRAPH_TOKEN,
            base_url=fake.base_url,
            graph_url=fake.base_url,
            admin_agent_object_id=str(uuid.uuid4()),
            retry_backoff=0.0,
        )
        deps = Dependencies(
            mailer=mailer_from_settings(settings),
            partner_center=partner_center,
            registry=registry,
            partner_programs=LocalPartnerPrograms(state / "partner-programs.json"),
        )
        workflow_id = names.reseller_enrollment_id(enrolling["partner_id"])
        try:
            async with build_worker(client, deps, settings):
                handle = await start_enrollment(client, workflow_id, enrolling)
                await verify(client, workflow_id, await latest_token(sink, 1))
                for _ in range(200):
                    if (await status(handle)).stage is EnrollmentStage.REVIEW:
                        break
                    await asyncio.sleep(0.05)
                await decide(handle, "approve")
                outcome = (await handle.result()).outcome
                if outcome is not EnrollmentStage.ACTIVE:
                    raise AssertionError(f"enrollment ended {outcome}")
        finally:
            await registry.close()
    shutdown_tracing()
    return [
        {
            "name": span.name,
            "trace_id": format(span.context.trace_id, "032x"),
            "span_id": format(span.context.span_id, "016x"),
            "parent_id": format(span.parent.span_id, "016x") if span.parent else None,
            "kind": span.kind.name,
            "attributes": {k: str(v) for k, v in (span.attributes or {}).items()},
            "workflow_id": workflow_id,
        }
        for span in exporter.get_finished_spans()
    ]


def main() -> None:
    spans = asyncio.run(scenario(sys.argv[1], Path(sys.argv[2])))
    print(json.dumps(spans))


if __name__ == "__main__":
    main()
