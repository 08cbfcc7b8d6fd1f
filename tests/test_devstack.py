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
from runtime.local_ports import listening_pids, port_is_free
from runtime.owned_process import ChildServerFailed, start_owned, stop_group, wait_until_listening
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
    assert "Include cross-origin credentials" in block


# ---- the run command owns its processes (issue 12 item 7) -------------------------------------

_LISTENER = (
    "import socket, sys, time\n"
    "s = socket.socket()\n"
    "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
    "s.bind(('127.0.0.1', int(sys.argv[1])))\n"
    "s.listen()\n"
    "print('listening', flush=True)\n"
    "time.sleep(120)\n"
)


def _listener(port: int) -> subprocess.Popen[str]:
    """Another program holding `port` (as an orphaned dev server or any other server would)."""
    holder = subprocess.Popen(
        [sys.executable, "-c", _LISTENER, str(port)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "listening"
    return holder


def _gone(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"  # exited, not yet reaped by its new parent


@pytest.mark.parametrize(
    ("taken", "setting"),
    [("temporal_port", "CSP_DEV_SERVER_PORT"), ("gateway_port", "CSP_GATEWAY_PORT")],
)
def test_refuses_a_taken_port_naming_it_and_its_holder(
    tmp_path: Path, taken: str, setting: str
) -> None:
    stack = DevStack(tmp_path / "state")  # not created: a refusal writes nothing
    port = getattr(stack, taken)
    holder = _listener(port)
    try:
        refused = subprocess.run(
            [sys.executable, "-m", "devstack"],
            cwd=ROOT,
            env=stack.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        holder.kill()
        holder.wait()
    assert refused.returncode == 1, refused.stderr
    [line] = [row for row in refused.stderr.splitlines() if row.startswith("scripts/run:")]
    assert f"port {port} on 127.0.0.1" in line and f"pid {holder.pid} (" in line, line
    assert setting in line and "Traceback" not in refused.stderr
    assert not (tmp_path / "state").exists()  # no dev server, no state, nothing started
    assert port_is_free("127.0.0.1", stack.temporal_port) or taken == "temporal_port"


async def test_only_the_started_server_counts_as_listening(tmp_path: Path) -> None:
    """wait_until_listening accepts the child's own socket and refuses a port another process
    answers, or a child that exited: real processes on free ports."""
    port = free_port()
    log_path = tmp_path / "child.log"
    with log_path.open("ab") as log_file:
        own = await start_owned([sys.executable, "-c", _LISTENER, str(port)], log_file)
        try:
            await wait_until_listening(own, port, within=30)
            assert os.getpgid(own.pid) == own.pid  # its own process group
        finally:
            await stop_group(own, 10)
        assert own.returncode is not None

        stranger_port = free_port()
        stranger = _listener(stranger_port)
        idle = await start_owned([sys.executable, "-c", "import time; time.sleep(60)"], log_file)
        try:
            with pytest.raises(ChildServerFailed, match=f"pid {stranger.pid} ") as caught:
                await wait_until_listening(idle, stranger_port, within=30)
            assert f"not by the one started (pid {idle.pid})" in str(caught.value)
        finally:
            await stop_group(idle, 10)
            stranger.kill()
            stranger.wait()

        log_file.write(b"bind: address already in use\n")
        log_file.flush()
        failing = await start_owned([sys.executable, "-c", "raise SystemExit(3)"], log_file)
        with pytest.raises(ChildServerFailed, match="exited with status 3") as caught:
            await wait_until_listening(failing, free_port(), within=30, log_path=log_path)
        assert "address already in use" in str(caught.value)


async def test_a_killed_run_command_leaves_no_dev_server(devstack: DevStack) -> None:
    await devstack.start()
    await devstack.ready(1)
    assert devstack.process is not None
    [server] = listening_pids(devstack.temporal_port)
    assert server != devstack.process.pid and os.getpgid(server) == server
    assert f'"pid": {server}' in devstack.log()  # the one the run command started

    devstack.process.kill()  # SIGKILL: no handler runs in the run command
    devstack.process.wait()
    for _ in range(300):
        if _gone(server) and port_is_free("127.0.0.1", devstack.temporal_port):
            break
        await asyncio.sleep(0.1)
    assert _gone(server), "the dev server outlived the run command"

    # The same ports and state folder start again (nothing orphaned holds them), and Ctrl-C
    # stops the new dev server too.
    await devstack.start()
    await devstack.ready(2)
    [again] = listening_pids(devstack.temporal_port)
    assert devstack.stop() == 0
    assert _gone(again)


async def test_a_dev_server_that_dies_stops_the_run_command_saying_so(devstack: DevStack) -> None:
    """The embedded dev server killed under a running stack: the run command does not keep a
    worker and gateway retrying against nothing; it stops them, says why, and exits 1."""
    await devstack.start()
    await devstack.ready(1)
    assert devstack.process is not None
    [server] = listening_pids(devstack.temporal_port)

    os.killpg(server, signal.SIGKILL)
    code = await asyncio.to_thread(devstack.process.wait, 90)

    assert code == 1, devstack.log()
    log = devstack.log()
    assert '"event": "temporal_dev_server_exited"' in log
    assert "scripts/run: the Temporal dev server failed: it exited with status -9" in log
    assert port_is_free("127.0.0.1", devstack.gateway_port)
