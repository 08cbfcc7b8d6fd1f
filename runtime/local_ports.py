"""Local TCP ports of the embedded default (devstack.py): is a port free, and who holds it.

The holder is found the way `ss -ltnp` finds it on Linux: the listening socket's inode in
/proc/net/tcp{,6}, then the process whose file descriptors include that socket. Elsewhere (or for
another user's process) the holder is unknown and only the port is named.
"""

from __future__ import annotations

import errno
import os
import socket
from dataclasses import dataclass
from pathlib import Path

_PROC = Path("/proc")
_TCP_LISTEN = "0A"


@dataclass(frozen=True)
class PortHolder:
    pid: int
    command: str


@dataclass(frozen=True)
class NeededPort:
    host: str
    port: int
    purpose: str
    setting: str


class PortTaken(Exception):
    """A port the run command needs is in use: it refuses to start (and changes nothing)."""

    def __init__(self, needed: NeededPort, holders: list[PortHolder]) -> None:
        self.needed = needed
        self.holders = holders
        if holders:
            held = "; ".join(f"pid {h.pid} ({h.command})" for h in holders)
            hint = "stop that process"
        else:
            held = "a process this user cannot see"
            hint = f"find it with `ss -ltnp 'sport = :{needed.port}'` and stop it"
        super().__init__(
            f"port {needed.port} on {needed.host} ({needed.purpose}) is taken by {held}: "
            f"{hint}, or set {needed.setting} to a free port"
        )


def port_is_free(host: str, port: int) -> bool:
    """Whether a server could listen on host:port now. SO_REUSEADDR as servers set it, so a port
    left in TIME_WAIT by a stopped run counts as free, a listening one never does."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as err:
            if err.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def _listening_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = (_PROC / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10 or fields[3] != _TCP_LISTEN:
                continue
            if int(fields[1].rpartition(":")[2], 16) == port:
                inodes.add(fields[9])
    return inodes


def _command_line(pid: int) -> str:
    try:
        raw = (_PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return "?"
    text = " ".join(raw.replace(b"\0", b" ").decode(errors="replace").split())  # one line
    return text if len(text) <= 160 else text[:157] + "..."


def can_name_holders() -> bool:
    """Whether this system shows listening sockets the way listening_pids reads them."""
    return (_PROC / "net" / "tcp").exists()


def listening_pids(port: int) -> set[int]:
    """The processes with a socket listening on `port` (any address) that this user can see."""
    inodes = _listening_inodes(port)
    if not inodes:
        return set()
    wanted = {f"socket:[{inode}]" for inode in inodes}
    pids: set[int] = set()
    for entry in _PROC.iterdir() if _PROC.is_dir() else ():
        if not entry.name.isdigit():
            continue
        try:
            descriptors = list((entry / "fd").iterdir())
        except OSError:  # gone, or another user's process
            continue
        for descriptor in descriptors:
            try:
                if os.readlink(descriptor) in wanted:
                    pids.add(int(entry.name))
                    break
            except OSError:
                continue
    return pids


def port_holders(port: int) -> list[PortHolder]:
    return [PortHolder(pid, _command_line(pid)) for pid in sorted(listening_pids(port))]


def ensure_free(ports: list[NeededPort]) -> None:
    """Raises PortTaken for the first needed port that is in use, naming its holder(s)."""
    for needed in ports:
        if not port_is_free(needed.host, needed.port):
            raise PortTaken(needed, port_holders(needed.port))
