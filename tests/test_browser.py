"""What a person sees in a real browser (Debian's headless Chromium, installed by .ci/run): the
confirmation page and the API page served by the gateway, and the Temporal Web UI's workflow list
and detail page for a running pipeline. Screenshots of each are written to docs/ (kept in the
repository and shown in README.md) when CSP_SCREENSHOTS=docs; otherwise to the test's tmp folder."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml
from temporalio.testing import WorkflowEnvironment

from adapters.mail.smtp_sink import verification_links
from contract import names
from domain.reseller_enrollment import EnrollmentStage
from runtime.temporal_client import DATA_CONVERTER
from tests.chromium_cdp import CHROMIUM, HEADLESS_FLAGS
from tests.conftest import Stack, application, dev_server_with_ui, free_port
from tests.test_callbacks import gateway, new_partner, wait_for_stage
from tests.test_cli import _env, csp

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium: .ci/run installs Debian's package"
)


async def browse(url: str, shot: Path, *, wait_ms: int = 4000, live: bool = False) -> str:
    """The DOM after scripts ran, and a screenshot of the page at 1280x900. A `live` page keeps a
    long poll open (a running workflow's history), so virtual time never runs out: it is given
    `wait_ms` of real time instead."""
    assert CHROMIUM is not None
    flags = [
        *HEADLESS_FLAGS,
        "--window-size=1280,900",
        f"--timeout={wait_ms}" if live else f"--virtual-time-budget={wait_ms}",
    ]
    for extra in (["--dump-dom"], [f"--screenshot={shot}"]):
        process = await asyncio.create_subprocess_exec(
            CHROMIUM,
            *flags,
            *extra,
            url,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        async with asyncio.timeout(90):
            out, _ = await process.communicate()
        assert process.returncode == 0, (extra, url)
        if extra == ["--dump-dom"]:
            dom = out.decode(errors="replace")
    size = await asyncio.to_thread(lambda: shot.stat().st_size if shot.exists() else 0)
    assert size > 5_000, shot
    return dom


@pytest.fixture(scope="module")
async def ui_env() -> AsyncIterator[tuple[WorkflowEnvironment, int]]:
    """A dev server with its Web UI (the session's shared one runs without)."""
    ui_port = free_port()
    env = await dev_server_with_ui(DATA_CONVERTER, ui_port)
    try:
        yield env, ui_port
    finally:
        await env.shutdown()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    return ROOT / "docs" if os.environ.get("CSP_SCREENSHOTS") == "docs" else tmp_path


async def test_partner_pages_and_the_operator_console_in_a_browser(
    ui_env: tuple[WorkflowEnvironment, int], stack: Stack, tmp_path: Path, shots: Path
) -> None:
    env, ui_port = ui_env
    client = env.client
    partner_id = new_partner(stack, mpa_signed=False)
    workflow_id = names.reseller_enrollment_id(partner_id)
    contact = {**application()["primary_contact"]}
    del contact["locale"]  # a JP contact: Japanese by default
    source = tmp_path / "enrollment.yaml"
    source.write_text(yaml.safe_dump(application(partner_id=partner_id, primary_contact=contact)))
    async with gateway(client) as url:
        stack.settings = stack.settings.model_copy(update={"public_base_url": url})
        async with stack.worker(client):
            started = await csp(
                _env(client.service_client.config.target_host, tmp_path),
                "start",
                "reseller-enrollment",
                str(source),
            )
            assert started.code == 0, started.err
            handle = client.get_workflow_handle(workflow_id)
            try:
                await wait_for_stage(handle, EnrollmentStage.EMAIL_VERIFICATION)
                [message] = await stack.sink.wait_for_messages(1, timeout_seconds=30)
                [link] = verification_links(message)

                page = await browse(link, shots / "confirm-page.png", wait_ms=1000)
                assert "メールアドレスの確認" in page
                assert f"Contoso K.K. (PartnerID {partner_id})" in page
                assert "日本時間" in page and "<button" in page

                api = await browse(f"{url}/api", shots / "api-page.png")
                # Swagger UI rendered the document: operations and the signature scheme.
                assert "review-decision" in api
                assert "Authorize" in api

                ui = f"http://127.0.0.1:{ui_port}/namespaces/default/workflows"
                listing = await browse(ui, shots / "ui-workflow-list.png", wait_ms=15000)
                assert workflow_id in listing
                run_id = (await handle.describe()).run_id
                (tmp_path / "list.html").write_text(listing)
                # A running workflow's page keeps a history long poll open, on which headless
                # Chromium's virtual time never ends; the page is read once the run is closed
                # (everything the operator reads on it is the same, minus the live query).
                await handle.terminate("screenshot of the closed run")
                detail = await browse(
                    f"{ui}/{workflow_id}/{run_id}/history",
                    shots / "ui-workflow-detail.png",
                    wait_ms=15000,
                )
                (tmp_path / "detail.html").write_text(detail)
                assert f"ResellerEnrollment: partner_id {partner_id} in JP" in detail
                # The list shows summaries and search attributes only: no personal data. (The
                # detail page shows the input, which only encryption hides: see test_codec.py.)
                assert "hanako.yamada" not in listing
                assert "Email verification" in detail or "EmailVerification" in detail
            finally:
                with contextlib.suppress(Exception):
                    await handle.terminate("test finished")
