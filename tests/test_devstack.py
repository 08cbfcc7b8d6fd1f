"""The README's run command as an operator uses it: the embedded default as a real process tree
(dev server + UI, worker, gateway, SMTP sink), driven by the `temporal` CLI and the emailed link,
stopped with Ctrl-C (SIGINT) and restarted on the same state folder."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from adapters.mail.smtp_sink import link_token, parse_eml, verification_links
from contract import names
from runtime.binaries import temporal_cli
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = json.loads((ROOT / "examples" / "reseller-enrollment.json").read_text())


class DevStack:
    def __init__(self, state: Path) -> None:
        self.state = state
        self.temporal_port = free_port()
        self.gateway_port = free_port()
        self.ui_port = free_port()
        self.env = {
            **os.environ,
            "CSP_STATE_DIR": str(state),
            "CSP_DEV_SERVER_PORT": str(self.temporal_port),
            "CSP_DEV_UI_PORT": str(self.ui_port),
            "CSP_GATEWAY_PORT": str(self.gateway_port),
            "CSP_PUBLIC_BASE_URL": f"http://127.0.0.1:{self.gateway_port}",
            "CSP_SMTP_PORT": str(free_port()),
        }
        self.env.pop("TEMPORAL_ADDRESS", None)
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        log = (self.state / "devstack.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "devstack"], cwd=ROOT, env=self.env, stdout=log, stderr=log
        )
        async with httpx.AsyncClient() as http:
            for _ in range(600):
                assert self.process.poll() is None, self.log()
                try:
                    if (await http.get(f"{self.url}/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        raise AssertionError("the dev stack did not come up:\n" + self.log())

    async def ready(self, starts: int) -> None:
        """Until the `starts`-th ready block is printed (the worker is then polling)."""
        for _ in range(600):
            text = (self.state / "devstack.log").read_text(errors="replace")
            if text.count("CSP orchestrator is ready") >= starts:
                return
            await asyncio.sleep(0.1)
        raise AssertionError("no ready block:\n" + self.log())

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=60)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    def log(self) -> str:
        return (self.state / "devstack.log").read_text(errors="replace")[-4000:]

    def cli(self, *args: str) -> dict[str, Any]:
        completed = subprocess.run(
            [temporal_cli(), *args, "--address", f"127.0.0.1:{self.temporal_port}", "-o", "json"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert completed.returncode == 0, completed.stderr
        return json.loads(completed.stdout) if completed.stdout.strip() else {}

    async def links(self, count: int) -> list[str]:
        for _ in range(300):
            files = (
                sorted((self.state / "mail").glob("*.eml"))
                if (self.state / "mail").exists()
                else []
            )
            found = []
            for file in files:
                found += verification_links(parse_eml(file.read_bytes()))
            if len(found) >= count:
                return found
            await asyncio.sleep(0.1)
        raise AssertionError("no verification link was mailed:\n" + self.log())


@pytest.fixture
async def devstack(tmp_path: Path) -> AsyncIterator[DevStack]:
    stack = DevStack(tmp_path)
    try:
        yield stack
    finally:
        if stack.process and stack.process.poll() is None:
            stack.process.kill()
            stack.process.wait()
        # the dev server is a grandchild: make sure it is gone too
        subprocess.run(["pkill", "-f", "--", f"--db-filename {tmp_path}"], check=False)


def _start(stack: DevStack, workflow_id: str) -> None:
    stack.cli(
        "workflow", "start",
        "--type", names.RESELLER_ENROLLMENT,
        "--task-queue", names.TASK_QUEUE,
        "--workflow-id", workflow_id,
        "--input", json.dumps(EXAMPLE),
    )  # fmt: skip


async def _open_link(link: str) -> None:
    async with httpx.AsyncClient() as http:
        page = await http.get(link)
        assert page.status_code == 200
        assert 'method="post"' in page.text
        base = link.split("/v/")[0].split("/verify-email")[0]
        confirmed = await http.post(f"{base}/verify-email", data={"token": link_token(link)})
        assert confirmed.status_code == 200, confirmed.text


async def _wait_stage(stack: DevStack, workflow_id: str, stage: str) -> dict[str, Any]:
    for _ in range(300):
        answer = stack.cli("workflow", "query", "--workflow-id", workflow_id, "--name", "status")
        current: dict[str, Any] = answer["queryResult"][0]
        if current["stage"] == stage:
            return current
        await asyncio.sleep(0.1)
    raise AssertionError(f"{workflow_id} never reached {stage}")


async def test_run_command_end_to_end_and_restart(devstack: DevStack) -> None:
    workflow_id = names.reseller_enrollment_id(EXAMPLE["partner_id"])
    await devstack.start()
    # The first start says what it does, then one ready block with the URLs and the next command.
    await devstack.ready(1)
    shown = (devstack.state / "devstack.log").read_text(errors="replace")
    assert all(f"[{n}/4] " in shown for n in range(1, 5)), shown[-4000:]
    assert "CSP orchestrator is ready" in shown
    assert f"http://127.0.0.1:{devstack.ui_port}" in shown
    assert f"{devstack.url}/api" in shown and str(devstack.state / "mail") in shown
    assert "csp start reseller-enrollment examples/reseller-enrollment.json" in shown
    _start(devstack, workflow_id)
    [link] = await devstack.links(1)
    assert link.startswith(devstack.url)
    status = await _wait_stage(devstack, workflow_id, "email_verification")
    assert status["deadline"]
    async with httpx.AsyncClient() as http:
        ui = await http.get(f"http://127.0.0.1:{devstack.ui_port}/namespaces/default/workflows")
        assert ui.status_code == 200

    # Ctrl-C while the pipeline waits, then start again on the same state folder.
    assert devstack.stop() == 0
    await devstack.start()
    await devstack.ready(2)
    await _open_link(link)
    await _wait_stage(devstack, workflow_id, "review")
    devstack.cli(
        "workflow", "update", "execute",
        "--workflow-id", workflow_id,
        "--name", names.UPDATE_DECIDE_REVIEW,
        "--input", json.dumps({"decision": "approve", "decided_by": "ops"}),
    )  # fmt: skip
    await _wait_stage(devstack, workflow_id, "active")
    assert devstack.stop() == 0
    assert (devstack.state / "temporal.db").exists()
    # The sink logs each verification link so an operator can click it from the console.
    logged = (devstack.state / "devstack.log").read_text()
    assert f'"verification_link": "{link}"' in logged


def test_ready_block_names_the_codec_login_when_payloads_are_encrypted(tmp_path: Path) -> None:
    from devstack import ready_block
    from runtime.payload_codec import new_payload_key
    from runtime.settings import Settings

    plain = Settings(state_dir=tmp_path, public_base_url="http://127.0.0.1:8080")
    assert "Codec login" not in ready_block(plain, "http://127.0.0.1:8080")
    encrypted = plain.model_copy(update={"payload_keys": SecretStr(new_payload_key("k1"))})
    block = ready_block(encrypted, "http://127.0.0.1:8080")
    assert "http://127.0.0.1:8080/codec-login" in block
    assert str(tmp_path / "codec-token") in block  # where the token is, never the token
    assert "include cross-origin credentials" in block
