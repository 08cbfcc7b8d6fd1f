"""`JsonFile`: an operator-editable JSON object file, parsed once per change on disk.

The embedded default's adapters answer from JSON files an operator (or a test) may edit at any
moment, so every call must see the file as it is on disk. Re-reading and parsing the whole file per
call costs more than the rest of a fast activity, so the parsed object is kept with the file's
identity (`st_dev`, `st_ino`, `st_size`, `st_mtime_ns`, `st_ctime_ns`) and reused while a `stat`
shows the same identity.

Timestamps have a granularity (a clock tick on Linux local filesystems, coarser on some network
ones): two edits within one tick that keep the size give the same identity. So an identity is only
trusted once the file's last change (`st_ctime_ns`, which the kernel sets and nobody can set back)
is at least `RACY_WINDOW_NS` older than the moment its content was read; until then each call
re-reads the bytes and compares them with the cached ones (a read and a comparison, no parse), the
way git treats "racily clean" index entries.

Writes replace the file atomically (a temporary file in the same directory, flushed and synced,
then `os.replace`), keeping the file's permission bits; a writer changes a private copy of the
object (`for_change`) parsed from the cached bytes, so readers never see a change that is not on
disk and a change that fails half-way leaves nothing behind. The module is thread-safe: a
snapshot is replaced whole, never changed.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["RACY_WINDOW_NS", "JsonFile"]

RACY_WINDOW_NS = 2_000_000_000
"""How long after its last change a file's identity is not trusted on its own (2 s: above the
coarsest timestamp granularity of the filesystems a state directory is put on)."""

Parse = Callable[[bytes], dict[str, Any]]
_Identity = tuple[int, int, int, int, int]


@dataclass(frozen=True)
class _Snapshot:
    identity: _Identity
    raw: bytes
    data: dict[str, Any]
    read_started_ns: int

    def trusted(self, identity: _Identity) -> bool:
        changed_ns = identity[4]
        return identity == self.identity and changed_ns <= self.read_started_ns - RACY_WINDOW_NS


def _identity(st: os.stat_result) -> _Identity:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class JsonFile:
    """The JSON object in the file at `path`; `parse` turns its bytes into the object (raising the
    adapter's own error for a broken file). A missing file reads as `{}`."""

    def __init__(self, path: Path, parse: Parse) -> None:
        self._path = Path(path)
        self._parse = parse
        self._snapshot: _Snapshot | None = None
        self.parses = 0
        """How many times the file's bytes were parsed (for tests and benchmarks)."""

    @property
    def path(self) -> Path:
        return self._path

    def cached(self) -> dict[str, Any] | None:
        """The parsed object if one `stat` proves it current, else None (then call `read`).
        Cheap enough for an event loop: no read, no parse."""
        snapshot = self._snapshot
        if snapshot is None:
            return None
        try:
            identity = _identity(os.stat(self._path))
        except FileNotFoundError:
            return None
        return snapshot.data if snapshot.trusted(identity) else None

    def read(self) -> dict[str, Any]:
        """The file's object as it is on disk now. Shared with other callers: do not change it."""
        snapshot = self._current()
        return {} if snapshot is None else snapshot.data

    def for_change(self) -> dict[str, Any]:
        """A private copy of the file's object, to change and pass to `write`."""
        snapshot = self._current()
        if snapshot is None:
            return {}
        self.parses += 1
        return self._parse(snapshot.raw)

    def write(self, data: dict[str, Any]) -> None:
        """Replace the file with `data` atomically; `data` becomes the cached object, so the caller
        must not change it afterwards."""
        started_ns = time.time_ns()
        raw = (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
        self._path.parent.mkdir(parents=True, exist_ok=True)
        try:
            mode = stat.S_IMODE(self._path.stat().st_mode)
        except FileNotFoundError:
            mode = 0o600  # state files are owner-only (runtime/state_dir.py)
        fd, tmp = tempfile.mkstemp(
            prefix=f".{self._path.name}.", suffix=".tmp", dir=self._path.parent
        )
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(raw)
                handle.flush()
                os.fsync(handle.fileno())
                os.fchmod(handle.fileno(), mode)
            os.replace(tmp, self._path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        try:
            identity = _identity(os.stat(self._path))
        except FileNotFoundError:
            self._snapshot = None
            return
        # Should another writer replace the file between os.replace and this stat, the identity is
        # theirs but its change is newer than `started_ns`: not trusted, so the next call compares
        # the bytes and finds the difference.
        self._snapshot = _Snapshot(identity, raw, data, started_ns)

    def _current(self) -> _Snapshot | None:
        snapshot = self._snapshot
        try:
            if snapshot is not None and snapshot.trusted(_identity(os.stat(self._path))):
                return snapshot
            started_ns = time.time_ns()
            with open(self._path, "rb") as handle:
                raw = handle.read()
                identity = _identity(os.fstat(handle.fileno()))
        except FileNotFoundError:
            self._snapshot = None
            return None
        if snapshot is not None and snapshot.raw == raw:
            data = snapshot.data
        else:
            self.parses += 1
            data = self._parse(raw)
        fresh = _Snapshot(identity, raw, data, started_ns)
        self._snapshot = fresh
        return fresh
