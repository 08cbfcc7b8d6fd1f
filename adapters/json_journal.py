"""`JournaledJsonFile`: an operator-editable JSON file whose program-made changes go to a journal.

A file-backed adapter that rewrote its whole JSON file for each change it made (parse a copy,
serialise, fsync, replace) paid for the size of the file on every change. Here a change is one
line appended to `<file>.journal` beside the file: the paths it sets and their new values. What the
adapter answers from is the file with the journal's lines applied in order over it.

The journal is folded into the file (one atomic rewrite, then the journal emptied) once it holds
`fold_at` changes, once no change came for `fold_after_seconds` (so the file an operator opens is
current a moment after the last change), and when the adapter closes. Setting a path is
idempotent, so a fold interrupted between the rewrite and the emptying applies the same lines again
over a file that already holds them and changes nothing.

Worker processes share both files. Every change and every fold holds an exclusive `flock` on the
journal and every read that cannot answer from its cache a shared one, so a reader never sees a
folded file together with the journal that was folded into it. The journal's first line names a
random generation id, new at each fold: a reader whose cached position belongs to another
generation starts over.

Journal format (JSON Lines)::

    {"journal": 1, "generation": "<hex>", "file": "partner-center.json"}
    {"change": "ensure_admin_agent", "at": "2026-12-02T03:00:00.123456+00:00",
     "set": [[["tenants", "<tenant id>", "adminAgent"], true]]}

An operator edits the file, never the journal. Changes not yet folded are applied over the file as
it is on disk, an operator's later edit included; so an edit to a path the adapter set a moment
before is overridden by that change until the journal is folded (at most `fold_after_seconds`
after the last change), and a change inside an entry the operator deleted meanwhile is dropped. A
last line without its newline (a write cut short) is ignored and cut off by the next change.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import structlog

from adapters.json_file import JsonFile

__all__ = [
    "FOLD_AFTER_SECONDS",
    "FOLD_AT",
    "Edit",
    "JournaledJsonFile",
    "current_data",
    "journal_path",
]

FOLD_AT = 256
"""Changes a journal holds before the change that reaches this count folds it into the file."""

FOLD_AFTER_SECONDS = 1.0
"""Quiet time after the last change before the journal is folded into the file."""

Edit = tuple[tuple[str, ...], Any]
"""One change to the file's object: the keys from the top to the value, and the new value."""

Broken = Callable[[str], Exception]
_T = TypeVar("_T")
_FORMAT = 1


def journal_path(path: Path) -> Path:
    """Where the journal of the file at `path` lives."""
    return path.with_name(path.name + ".journal")


def current_data(
    path: Path, parse: Callable[[bytes], dict[str, Any]], broken: Broken
) -> dict[str, Any]:
    """The object at `path` with the changes its journal holds applied, read once. Blocking."""
    return JournaledJsonFile(path, parse, broken, fold_after_seconds=None).read()


@dataclass(frozen=True)
class _View:
    """The file's object with the journal applied, and where in the journal it stands."""

    base: dict[str, Any]
    generation: str | None
    offset: int
    changes: int
    merged: dict[str, Any]
    journal_stat: tuple[int, int, int, int] | None


class JournaledJsonFile:
    """The JSON object at `path` (read through `JsonFile` with `parse`) with its journal applied.

    `broken` turns a description of what is malformed (the journal, or the file where a change
    cannot apply) into the adapter's own retryable error, naming the file.
    """

    def __init__(
        self,
        path: Path,
        parse: Callable[[bytes], dict[str, Any]],
        broken: Broken,
        *,
        fold_at: int = FOLD_AT,
        fold_after_seconds: float | None = FOLD_AFTER_SECONDS,
    ) -> None:
        if fold_at < 1:
            raise ValueError("fold_at must be at least 1")
        self._path = Path(path)
        self._journal = journal_path(self._path)
        self._file = JsonFile(self._path, parse)
        self._broken = broken
        self._fold_at = fold_at
        self._fold_after = fold_after_seconds
        self._view: _View | None = None
        self._view_lock = threading.Lock()
        self._write_lock = asyncio.Lock()
        self._fold_timer: asyncio.TimerHandle | None = None
        self._fold_task: asyncio.Task[None] | None = None
        self.folds = 0
        """How many times this object folded the journal into the file (for tests, benchmarks)."""

    @property
    def path(self) -> Path:
        return self._path

    @property
    def journal(self) -> Path:
        return self._journal

    @property
    def parses(self) -> int:
        """How many times the file's bytes were parsed (for tests and benchmarks)."""
        return self._file.parses

    # -- reading -----------------------------------------------------------------------------

    def cached(self) -> dict[str, Any] | None:
        """The current object if two `stat`s prove the cache current, else None. No read."""
        view = self._view
        if view is None or self._file.cached() is not view.base:
            return None
        try:
            st = os.stat(self._journal)
        except FileNotFoundError:
            return view.merged if view.journal_stat is None else None
        return view.merged if _journal_stat(st) == view.journal_stat else None

    def read(self) -> dict[str, Any]:
        """The current object (shared with other callers: never change it). Blocking."""
        try:
            fd = os.open(self._journal, os.O_RDONLY)
        except FileNotFoundError:
            fd = -1
        if fd < 0:
            with self._view_lock:
                return self._refresh(None).merged
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
            with self._view_lock:
                return self._refresh(fd).merged
        finally:
            os.close(fd)

    async def aread(self) -> dict[str, Any]:
        cached = self.cached()
        if cached is not None:
            return cached
        return await asyncio.to_thread(self.read)

    # -- changing ----------------------------------------------------------------------------

    async def change(
        self, name: str, decide: Callable[[dict[str, Any]], tuple[_T, Sequence[Edit]]]
    ) -> _T:
        """Run `decide` on the current object (shared: it must not change it); it returns its
        result and the edits to make, which are appended to the journal as one line named `name`
        before this returns. No edits, no line."""
        async with self._write_lock:
            result = await asyncio.to_thread(self._change_sync, name, decide)
        self._arm_fold_timer()
        return result

    def _change_sync(
        self, name: str, decide: Callable[[dict[str, Any]], tuple[_T, Sequence[Edit]]]
    ) -> _T:
        with self._exclusive() as fd, self._view_lock:
            view = self._refresh(fd)
            result, edits = decide(view.merged)
            if not edits:
                return result
            line = _line(
                {
                    "change": name,
                    "at": datetime.now(UTC).isoformat(),
                    "set": [[list(keys), value] for keys, value in edits],
                }
            )
            merged = _apply_all(view.merged, edits, self._broken_file)  # before it is written
            offset, generation = self._prepare_append(fd, view)
            if os.write(fd, line) != len(line):
                raise OSError(f"{self._journal}: short write (disk full?)")
            os.fdatasync(fd)
            self._view = _View(
                base=view.base,
                generation=generation,
                offset=offset + len(line),
                changes=view.changes + 1,
                merged=merged,
                journal_stat=_journal_stat(os.fstat(fd)),
            )
            if self._view.changes >= self._fold_at:
                try:
                    self._fold_locked(fd)
                except Exception as exc:  # the change is recorded; a later fold takes it in
                    _fold_failed(self, exc)
            return result

    def _prepare_append(self, fd: int, view: _View) -> tuple[int, str]:
        """Make the journal end after a complete line of `view`'s generation (a header when it
        is empty); the offset it ends at and the generation."""
        if view.generation is None:
            return self._start_generation(fd)
        if os.fstat(fd).st_size != view.offset:
            os.ftruncate(fd, view.offset)  # a line cut short by a crash
        return view.offset, view.generation

    def _start_generation(self, fd: int) -> tuple[int, str]:
        """Empty the journal and write a new generation's header; where it ends, and its id."""
        generation = uuid.uuid4().hex
        header = _line({"journal": _FORMAT, "generation": generation, "file": self._path.name})
        os.ftruncate(fd, 0)
        os.write(fd, header)
        return len(header), generation

    # -- folding -----------------------------------------------------------------------------

    def fold_now(self) -> bool:
        """Fold the journal into the file now; True when there was something to fold. Blocking."""
        with self._exclusive() as fd, self._view_lock:
            self._refresh(fd)
            return self._fold_locked(fd)

    async def fold(self) -> bool:
        async with self._write_lock:
            return await asyncio.to_thread(self.fold_now)

    async def aclose(self) -> None:
        """Fold what the journal holds (a worker stopping leaves the file current). A file that
        cannot be read now (an operator's half-saved edit) keeps its journal, applied over it by
        the next reader; that is logged, not raised, so the rest of a shutdown goes on."""
        if self._fold_timer is not None:
            self._fold_timer.cancel()
            self._fold_timer = None
        task = self._fold_task
        if task is not None and not task.done():
            with contextlib.suppress(Exception):
                await task
        await self._fold_logged()

    def _fold_locked(self, fd: int) -> bool:
        view = self._view
        assert view is not None
        if view.changes == 0:
            return False
        self._file.write(view.merged)
        offset, generation = self._start_generation(fd)
        os.fdatasync(fd)
        self._view = _View(
            base=view.merged,
            generation=generation,
            offset=offset,
            changes=0,
            merged=view.merged,
            journal_stat=_journal_stat(os.fstat(fd)),
        )
        self.folds += 1
        return True

    def _arm_fold_timer(self) -> None:
        view = self._view
        if self._fold_after is None or view is None or view.changes == 0:
            return
        if self._fold_timer is not None:
            self._fold_timer.cancel()
        loop = asyncio.get_running_loop()
        self._fold_timer = loop.call_later(self._fold_after, self._fold_when_quiet)

    def _fold_when_quiet(self) -> None:
        self._fold_timer = None
        if self._fold_task is None or self._fold_task.done():
            self._fold_task = asyncio.get_running_loop().create_task(self._fold_logged())

    async def _fold_logged(self) -> None:
        try:
            await self.fold()
        except Exception as exc:  # the journal stays; the next change, quiet moment or close folds
            _fold_failed(self, exc)

    # -- the view ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[int]:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._journal, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield fd
        finally:
            os.close(fd)

    def _refresh(self, fd: int | None) -> _View:
        """The view as the files are now; called with the journal locked (or absent) and
        `_view_lock` held."""
        base = self._file.read()
        view = self._view
        if fd is None:
            fresh = _View(base, None, 0, 0, base, None)
            self._view = fresh
            return fresh
        st = os.fstat(fd)
        stat = _journal_stat(st)
        if view is not None and view.base is base and view.journal_stat == stat:
            return view
        raw = os.pread(fd, st.st_size, 0) if st.st_size else b""
        generation, header_end = self._header(raw)
        if (
            view is not None
            and view.base is base
            and generation is not None
            and view.generation == generation
            and view.offset <= len(raw)
        ):
            start, merged, changes = view.offset, view.merged, view.changes
        else:
            start, merged, changes = header_end, base, 0
        end = raw.rfind(b"\n") + 1 if generation is not None else header_end
        for number, line in enumerate(raw[start:end].splitlines(), start=changes + 2):
            merged = _apply_all(merged, self._edits(line, number), self._broken_file)
            changes += 1
        fresh = _View(base, generation, max(end, header_end), changes, merged, stat)
        self._view = fresh
        return fresh

    def _header(self, raw: bytes) -> tuple[str | None, int]:
        """The journal's generation and where its first line ends (None, 0: no complete header,
        an empty or cut-short journal that holds no change)."""
        end = raw.find(b"\n")
        if end < 0:
            return None, 0
        try:
            header = json.loads(raw[:end])
            if header.get("journal") != _FORMAT:
                raise ValueError(f"format {header.get('journal')!r}, not {_FORMAT}")
            return str(header["generation"]), end + 1
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise self._broken_journal(f"line 1 is not a journal header ({exc})") from exc

    def _edits(self, line: bytes, number: int) -> list[Edit]:
        try:
            entry = json.loads(line)
            edits: list[Edit] = []
            for keys, value in entry["set"]:
                if not keys or not all(isinstance(key, str) for key in keys):
                    raise ValueError(f"path {keys!r} is not a list of keys")
                edits.append((tuple(keys), value))
            return edits
        except (ValueError, KeyError, TypeError) as exc:
            raise self._broken_journal(f"line {number} is not a change ({exc})") from exc

    def _broken_file(self, reason: str) -> Exception:
        return self._broken(f"{reason}; fix the file")

    def _broken_journal(self, reason: str) -> Exception:
        return self._broken(
            f"journal {self._journal}: {reason}; the adapter writes this file, do not edit it"
        )


def _fold_failed(file: JournaledJsonFile, exc: Exception) -> None:
    structlog.get_logger().warning(
        "json_journal.fold_failed", file=str(file.path), journal=str(file.journal), error=str(exc)
    )


def _journal_stat(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _line(entry: dict[str, Any]) -> bytes:
    return (json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def _apply_all(
    data: dict[str, Any], edits: Sequence[Edit], broken: Callable[[str], Exception]
) -> dict[str, Any]:
    """`data` with `edits` set, in order, sharing every object they do not touch (never changing
    `data` or anything reachable from it). A missing top-level section is created; an edit inside
    an entry the file no longer has (an operator deleted it) is dropped, never made a partial
    entry."""
    root = dict(data)
    owned = {id(root)}
    for keys, value in edits:
        node: dict[str, Any] | None = root
        for depth, key in enumerate(keys[:-1]):
            assert node is not None
            child = node.get(key)
            if child is None and depth > 0:
                node = None
                break
            if child is None:
                child = {}
            elif not isinstance(child, dict):
                where = ".".join(keys[: depth + 1])
                raise broken(f"{where} must be an object (to set {'.'.join(keys)})")
            elif id(child) not in owned:
                child = dict(child)
            owned.add(id(child))
            node[key] = child
            node = child
        if node is not None:
            node[keys[-1]] = value
    return root
