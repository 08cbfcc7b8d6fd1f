"""Child servers the run command owns (devstack.py): started in their own process group, told
by the kernel to stop when their parent dies (Linux PR_SET_PDEATHSIG, so a SIGKILLed run command
leaves nothing behind), confirmed to be the process answering on their port, and stopped as a
group."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from runtime.local_ports import can_name_holders, listening_pids, port_holders

_PR_SET_PDEATHSIG = 1
# SIGTERM lets the dev server close its SQLite file cleanly; it stops within a second or two.
_DEATH_SIGNAL = signal.SIGTERM


class ChildServerFailed(Exception):
    """The child server exited, or another process answers on its port."""


def die_with_parent() -> Callable[[], None] | None:
    """A `preexec_fn` that makes the child receive SIGTERM when the thread that starts it dies
    (for any reason, SIGKILL included). None where the kernel has no such setting."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before the fork
    parent = os.getpid()

    def arrange() -> None:
        prctl(_PR_SET_PDEATHSIG, int(_DEATH_SIGNAL), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the setting took effect
            os.kill(os.getpid(), _DEATH_SIGNAL)

    return arrange


async def start_owned(command: list[str], log_file: BinaryIO) -> asyncio.subprocess.Process:
    """`command` in a new session (its own process group: a Ctrl-C on the terminal reaches only
    the run command, which stops it in order), dying with its parent."""
    return await asyncio.create_subprocess_exec(
        *command,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=log_file,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=die_with_parent(),
    )


def _ours(process: asyncio.subprocess.Process, pid: int) -> bool:
    if pid == process.pid:
        return True
    try:
        return os.getpgid(pid) == process.pid  # a process the child started itself
    except ProcessLookupError:
        return False


async def wait_until_listening(
    process: asyncio.subprocess.Process,
    port: int,
    *,
    within: float,
    log_path: Path | None = None,
) -> None:
    """Until `process` (or its group) listens on `port`. Raises ChildServerFailed when it exits
    first, when the port is answered by any other process, or after `within` seconds."""
    can_see_holders = can_name_holders()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        if process.returncode is not None:
            raise ChildServerFailed(
                f"it exited with status {process.returncode} before listening on port {port}"
                + _tail(log_path)
            )
        if can_see_holders:
            holders = listening_pids(port)
            if any(_ours(process, pid) for pid in holders):
                return
            strangers = [h for h in port_holders(port) if not _ours(process, h.pid)]
            if strangers:
                named = "; ".join(f"pid {h.pid} ({h.command})" for h in strangers)
                raise ChildServerFailed(
                    f"port {port} is answered by another process, {named}, not by the one "
                    f"started (pid {process.pid})"
                )
        if loop.time() > deadline:
            raise ChildServerFailed(f"it did not listen on port {port} within {within:.0f} s")
        await asyncio.sleep(0.1)


def _tail(log_path: Path | None) -> str:
    if log_path is None or not log_path.exists():
        return ""
    lines = log_path.read_text(errors="replace").strip().splitlines()[-3:]
    return ("; its log " + str(log_path) + " ends: " + " | ".join(lines)) if lines else ""


async def stop_group(process: asyncio.subprocess.Process, grace: float) -> None:
    """SIGTERM to the child's process group, SIGKILL after `grace` seconds."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), grace)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
