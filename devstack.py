"""The embedded default: Temporal dev server (with Web UI), SMTP sink, HTTP gateway and worker in
one command, stopped cleanly by Ctrl-C. With TEMPORAL_ADDRESS set, no dev server is started.

The run command owns its processes (issue 12): it refuses to start when a port it needs is taken
(naming the port and its holder), connects only once the dev server it started is the process
listening on the Temporal port, and the dev server runs in its own process group, stopped on exit
and by the kernel when the run command dies (even by SIGKILL: runtime/owned_process.py)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import structlog
from temporalio.client import Client

from adapters.mail.smtp_sink import SmtpSink
from adapters.partner_center.local import write_sample_if_missing
from adapters.partner_programs.local import (
    write_sample_if_missing as write_programs_sample_if_missing,
)
from gateway.app import app_from_settings
from gateway.server import serve_asgi
from runtime.binaries import temporal_cli
from runtime.bytecode_cache import keep_bytecode
from runtime.local_ports import NeededPort, PortTaken, ensure_free
from runtime.logging import configure_logging
from runtime.metrics import install_metrics
from runtime.owned_process import ChildServerFailed, start_owned, stop_group, wait_until_listening
from runtime.search_attributes import dev_server_flags
from runtime.settings import Settings
from runtime.state_dir import prepare_state_dir
from runtime.temporal_client import connect
from worker import run_worker

log = structlog.get_logger(__name__)

_CONNECT_ATTEMPTS = 120
# The first start of the dev server creates its SQLite schema: well under a minute on a busy box.
_DEV_SERVER_LISTEN_SECONDS = 120
_DEV_SERVER_STOP_SECONDS = 20


def needed_ports(settings: Settings) -> list[NeededPort]:
    """The ports this run will listen on. (The metrics endpoint is left out: a taken metrics port
    is logged and the stack runs on without it, runtime/metrics.py.)"""
    ports: list[NeededPort] = []
    if not settings.remote_temporal:
        ports += [
            NeededPort(
                "127.0.0.1",
                settings.dev_server_port,
                "Temporal dev server",
                "CSP_DEV_SERVER_PORT",
            ),
            NeededPort("127.0.0.1", settings.dev_ui_port, "Temporal Web UI", "CSP_DEV_UI_PORT"),
        ]
    ports.append(
        NeededPort(settings.gateway_host, settings.gateway_port, "gateway", "CSP_GATEWAY_PORT")
    )
    if settings.mail_mode == "sink":
        ports.append(
            NeededPort(settings.smtp_host, settings.smtp_port, "SMTP sink", "CSP_SMTP_PORT")
        )
    return ports


def dev_server_command(settings: Settings) -> list[str]:
    return [
        temporal_cli(),
        "server",
        "start-dev",
        "--ip", "127.0.0.1",
        "--port", str(settings.dev_server_port),
        "--ui-port", str(settings.dev_ui_port),
        "--namespace", settings.temporal_namespace,
        "--db-filename", str(settings.state_dir / "temporal.db"),
        # WAL keeps the file-backed server as fast as the in-memory one (DESIGN.md).
        "--sqlite-pragma", "journal_mode=WAL",
        "--sqlite-pragma", "synchronous=NORMAL",
        "--log-format", "json",
        "--log-level", "warn",
        "--ui-disable-news-fetch",
        *dev_server_flags(),
        # Encrypted payloads: the UI asks the gateway's codec endpoint to decode them.
        *(["--ui-codec-endpoint", settings.public_base_url] if settings.payload_keys else []),
    ]  # fmt: skip


async def _watch(process: asyncio.subprocess.Process, log_path: Path, stop: asyncio.Event) -> int:
    """The dev server's exit while the stack runs on it: said, and the whole stack stopped (a
    worker and gateway left on a dead server would only retry)."""
    code = await process.wait()
    log.error("temporal_dev_server_exited", pid=process.pid, returncode=code, log=str(log_path))
    stop.set()
    return code


@contextlib.asynccontextmanager
async def dev_server(settings: Settings, stop: asyncio.Event) -> AsyncIterator[None]:
    """The dev server for the stack's lifetime; if it exits before the stack stops, `stop` is
    set and, once everything stopped, ChildServerFailed says so."""
    log_path = settings.state_dir / "temporal-server.log"
    with log_path.open("ab") as log_file:
        process = await start_owned(dev_server_command(settings), log_file)
        try:
            log.info(
                "temporal_dev_server_started",
                pid=process.pid,
                address=f"127.0.0.1:{settings.dev_server_port}",
                ui=f"http://127.0.0.1:{settings.dev_ui_port}",
                db=str(settings.state_dir / "temporal.db"),
            )
            # Connect only to the server started here: its own pid listens on the port.
            await wait_until_listening(
                process,
                settings.dev_server_port,
                within=_DEV_SERVER_LISTEN_SECONDS,
                log_path=log_path,
            )
            watch = asyncio.create_task(_watch(process, log_path, stop))
            try:
                yield
            finally:
                if watch.done():  # it exited on its own, not stopped below
                    raise ChildServerFailed(
                        f"it exited with status {watch.result()} while the stack was running "
                        f"(its log: {log_path})"
                    )
                watch.cancel()
        finally:
            await stop_group(process, _DEV_SERVER_STOP_SECONDS)
            log.info("temporal_dev_server_stopped", pid=process.pid)


async def connect_when_ready(settings: Settings) -> Client:
    for attempt in range(_CONNECT_ATTEMPTS):
        try:
            return await connect(settings)
        except RuntimeError:
            if attempt == _CONNECT_ATTEMPTS - 1:
                raise
            await asyncio.sleep(0.5)
    raise AssertionError("unreachable")


# ---- what the person who typed scripts/run sees (issue 15) ---------------------------------------

_STEPS = 4


def progress(step: int, text: str) -> None:
    """One progress line on stdout, printed at once (the logs go to stderr)."""
    print(f"[{step}/{_STEPS}] {text}", flush=True)


def ready_block(settings: Settings, gateway_url: str) -> str:
    """The one block that says the stack is up: where everything is and what to type next."""
    public = settings.public_base_url.rstrip("/")
    ui = (
        f"http://127.0.0.1:{settings.dev_ui_port}"
        if settings.temporal_address is None
        else "your Temporal UI (TEMPORAL_ADDRESS is set: no dev server started)"
    )
    rows = [
        ("Temporal Web UI", ui),
        ("Gateway", f"{public}  (listening on {gateway_url})"),
        ("API page", f"{public}/api"),
    ]
    if settings.payload_keys is not None:
        token_file = settings.state_dir / "codec-token"
        where = "CSP_CODEC_TOKENS" if settings.codec_tokens is not None else str(token_file)
        rows.append(("Codec login", f"{public}/codec-login  (token: {where})"))
    if settings.mail_mode == "sink":
        rows.append(("Mail folder", str((settings.state_dir / "mail").resolve())))
    width = max(len(label) for label, _ in rows)
    lines = [f"  {label.ljust(width)}  {value}" for label, value in rows]
    if settings.payload_keys is not None:
        lines += [
            "",
            "  Payloads are encrypted: log in at Codec login with the token (Start session).",
            "  Then in the Web UI click the glasses icon next to the time zone (Codec Server),",
            "  choose \u201cUse my browser setting and ignore Cluster-level setting.\u201d, paste",
            "  " + public + " into \u201cCodec Server browser endpoint\u201d, switch on",
            "  \u201cInclude cross-origin credentials\u201d, press Apply and reload the page",
            "  (README: Operating in the Web UI; the Temporal Cloud UI sends its access token).",
        ]
    lines += [
        "",
        "  Next: start the sample enrollment, then open its email in the mail folder:",
        "    .venv/bin/csp start reseller-enrollment examples/reseller-enrollment.json",
        "  Stop: Ctrl-C (state is kept in " + str(settings.state_dir) + ")",
    ]
    rule = "-" * 72
    return "\n".join([rule, "  CSP orchestrator is ready", "", *lines, rule])


async def run(settings: Settings, stop: asyncio.Event) -> None:
    ensure_free(needed_ports(settings))  # before anything is written or started
    prepare_state_dir(settings.state_dir)
    keep_bytecode(settings.state_dir)  # the in-process worker's sandbox, as worker.py's
    if settings.partner_center_mode == "local":
        write_sample_if_missing(settings.partner_center_data_path)
        write_programs_sample_if_missing(settings.partner_programs_data_path)
    async with contextlib.AsyncExitStack() as stack:
        if not settings.remote_temporal:
            progress(1, f"Starting the Temporal dev server (state in {settings.state_dir})...")
            await stack.enter_async_context(dev_server(settings, stop))
        else:
            progress(1, f"Using the Temporal service at {settings.temporal_address}...")
        progress(2, "Connecting to Temporal (the first start can take a minute)...")
        client = await connect_when_ready(settings)
        progress(3, "Starting the mail sink and the gateway...")
        if settings.mail_mode == "sink":
            sink = SmtpSink(
                settings.state_dir / "mail", host=settings.smtp_host, port=settings.smtp_port
            )
            await stack.enter_async_context(sink)
        app = app_from_settings(client, settings)
        url = await stack.enter_async_context(
            serve_asgi(app, settings.gateway_host, settings.gateway_port)
        )
        log.info("gateway_started", url=url, public_url=settings.public_base_url)
        progress(4, "Starting the worker (search attributes, schedules)...")
        await run_worker(
            settings, client, stop, on_started=lambda: print(ready_block(settings, url), flush=True)
        )


async def _main() -> None:
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # SIGHUP: the terminal was closed. Each stops the stack in order, the dev server last.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, stop.set)
    install_metrics(settings.metrics_bind)  # before the client: it uses the default runtime
    await run(settings, stop)


def main() -> None:
    try:
        asyncio.run(_main())
    except PortTaken as taken:
        print(f"scripts/run: refused: {taken}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None
    except ChildServerFailed as failed:
        print(f"scripts/run: the Temporal dev server failed: {failed}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
