"""`adapters.json_journal` and the local Partner Center on it: a change is one appended line, never
a rewrite of the whole file; the journal is folded into the file at its size limit, after a quiet
moment and at close; an operator's edit and the adapter's changes both survive; worker processes
sharing the files lose nothing; a cut-short or broken journal is handled as the module says."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from adapters.json_journal import Edit, JournaledJsonFile, journal_path
from adapters.partner_center import PartnerCenterUnavailable
from adapters.partner_center.local import (
    LocalPartnerCenter,
    current_data,
    sample_data,
    write_sample_if_missing,
)

ROOT = Path(__file__).resolve().parents[1]
SAKURA = "4512345"  # sample_data(): JP, MPA signed, tenant below
SAKURA_TENANT = "3f2a8c1e-5b7d-4e9a-8c6f-1a2b3c4d5e6f"
FABRIKAM_TENANT = "c47e9a13-6d2b-4f8e-a1c5-9b3d7e2f4a60"


class Broken(Exception):
    pass


def _parse(raw: bytes) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(raw)
    return data


def _journaled(path: Path, **options: Any) -> JournaledJsonFile:
    return JournaledJsonFile(path, _parse, Broken, **options)


def _on_disk(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _bytes(path: Path) -> bytes:
    return path.read_bytes()


def _write_raw(path: Path, raw: bytes) -> None:
    path.write_bytes(raw)


def _write(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data))


def _journal_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in journal_path(path).read_text().splitlines()]


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    path = tmp_path / "partner-center.json"
    assert write_sample_if_missing(path)
    return path


async def _tenant(partner_center: LocalPartnerCenter, n: int) -> str:
    info = await partner_center.create_tenant(
        domain_prefix=f"t{n}",
        country="JP",
        global_admin=f"admin@t{n}.example",
        idempotency_key=f"k{n}",
    )
    return str(info.tenant_id)


async def test_a_change_is_one_appended_line_and_the_file_is_not_rewritten(sample: Path) -> None:
    before = os.stat(sample)
    raw = _bytes(sample)
    partner_center = LocalPartnerCenter(sample, fold_after_seconds=None)
    await partner_center.ensure_admin_agent(UUID(SAKURA_TENANT), idempotency_key="a")
    await partner_center.ensure_admin_agent(UUID(SAKURA_TENANT), idempotency_key="a")  # no-op

    after = os.stat(sample)
    assert (after.st_ino, after.st_mtime_ns, _bytes(sample)) == (
        before.st_ino,
        before.st_mtime_ns,
        raw,
    )
    header, change = _journal_lines(sample)
    assert header["journal"] == 1 and header["file"] == sample.name
    assert change["change"] == "ensure_admin_agent"
    assert change["set"] == [[["tenants", SAKURA_TENANT, "adminAgent"], True]]
    # The adapter, another adapter on the same file, and current_data all see the change.
    assert current_data(sample)["tenants"][SAKURA_TENANT]["adminAgent"] is True
    other = LocalPartnerCenter(sample, fold_after_seconds=None)
    await other.ensure_admin_agent(UUID(SAKURA_TENANT), idempotency_key="b")
    assert len(_journal_lines(sample)) == 2  # the other adapter saw it set: nothing appended


async def test_the_journal_folds_at_its_limit_keeping_every_change(sample: Path) -> None:
    partner_center = LocalPartnerCenter(sample, fold_at=3, fold_after_seconds=None)
    ids = [await _tenant(partner_center, n) for n in range(7)]
    # Folded after changes 3 and 6; change 7 waits in the journal.
    assert partner_center._file.folds == 2
    on_disk = _on_disk(sample)
    assert [i in on_disk["tenants"] for i in ids] == [True] * 6 + [False]
    assert len(_journal_lines(sample)) == 2  # the header and change 7
    data = current_data(sample)
    assert set(ids) <= set(data["tenants"])
    assert data["createdTenants"] == {f"k{n}": ids[n] for n in range(7)}
    assert data["profiles"] == sample_data()["profiles"]


async def test_a_quiet_moment_folds_the_journal(sample: Path) -> None:
    partner_center = LocalPartnerCenter(sample, fold_after_seconds=0.05)
    tenant = await _tenant(partner_center, 1)
    for _ in range(100):
        if tenant in _on_disk(sample)["tenants"]:
            break
        await asyncio.sleep(0.05)
    assert tenant in _on_disk(sample)["tenants"]
    assert len(_journal_lines(sample)) == 1  # only a new generation's header
    assert partner_center._file.folds == 1


async def test_close_folds_and_leaves_the_operators_edit(sample: Path) -> None:
    partner_center = LocalPartnerCenter(sample, fold_after_seconds=None)
    tenant = await _tenant(partner_center, 1)
    edited = _on_disk(sample)
    edited["profiles"][SAKURA]["partnerName"] = "Edited K.K."
    _write(sample, edited)  # an operator's edit while the change is unfolded
    assert (await partner_center.get_mpn_profile(SAKURA)).partner_name == "Edited K.K."
    assert (await partner_center.get_tenant(UUID(tenant))).country == "JP"

    await partner_center.aclose()
    on_disk = _on_disk(sample)
    assert on_disk["profiles"][SAKURA]["partnerName"] == "Edited K.K."
    assert tenant in on_disk["tenants"]
    assert await partner_center.fold() is False  # nothing left to fold


def _setting(edits: list[Edit]) -> Callable[[dict[str, Any]], tuple[None, list[Edit]]]:
    return lambda data: (None, edits)


async def test_close_with_a_broken_file_keeps_the_journal_and_does_not_raise(sample: Path) -> None:
    partner_center = LocalPartnerCenter(sample, fold_after_seconds=None)
    tenant = await _tenant(partner_center, 1)
    good = _bytes(sample)
    _write_raw(sample, b"{ half saved")  # an operator's edit, not finished
    await partner_center.aclose()  # logged, not raised
    assert len(_journal_lines(sample)) == 2  # the change is still there
    _write_raw(sample, good)
    assert tenant in current_data(sample)["tenants"]


def test_a_fold_that_fails_leaves_the_change_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "data.json"
    _write(path, {"n": 0})
    file = _journaled(path, fold_at=1, fold_after_seconds=None)

    def disk_full(data: dict[str, Any]) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(file._file, "write", disk_full)
    assert file._change_sync("edit", _setting([(("n",), 1)])) is None  # the fold's error logged
    assert _on_disk(path) == {"n": 0}
    assert _journaled(path).read() == {"n": 1}
    monkeypatch.undo()
    assert file.fold_now()
    assert _on_disk(path) == {"n": 1}


def test_an_interrupted_fold_applied_again_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.write_text(json.dumps({"a": {"b": 1}, "keep": True}))
    file = _journaled(path, fold_after_seconds=None)
    edits: list[list[Edit]] = [
        [(("a", "b"), 2)],
        [(("a",), {"c": 3})],
        [(("a", "d"), 4), (("x", "y"), {"z": 5}), (("x", "y", "w"), 6)],
    ]
    for step in edits:
        file._change_sync("edit", _setting(step))
    expected = {"a": {"c": 3, "d": 4}, "keep": True, "x": {"y": {"z": 5, "w": 6}}}
    assert file.read() == expected
    journal = journal_path(path).read_bytes()
    assert file.fold_now()
    # A crash after the file was replaced but before the journal was emptied:
    journal_path(path).write_bytes(journal)
    assert _journaled(path).read() == expected
    assert _on_disk(path) == expected


def test_a_change_inside_an_entry_the_operator_deleted_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    _write(path, {"tenants": {"a": {"adminAgent": False}, "b": {"adminAgent": False}}})
    file = _journaled(path, fold_after_seconds=None)
    file._change_sync("agent", _setting([(("tenants", "a", "adminAgent"), True)]))
    file._change_sync("order", _setting([(("orders", "k"), {"id": 1})]))  # a new section
    _write(path, {"tenants": {"b": {"adminAgent": False}}})  # the operator removes tenant a
    expected = {"tenants": {"b": {"adminAgent": False}}, "orders": {"k": {"id": 1}}}
    assert file.read() == expected
    assert file.fold_now()
    assert _on_disk(path) == expected


def test_a_line_cut_short_is_ignored_then_cut_off(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.write_text("{}")
    file = _journaled(path, fold_after_seconds=None)
    file._change_sync("one", lambda data: (None, [(("n",), 1)]))
    with journal_path(path).open("ab") as journal:
        journal.write(b'{"change":"two","set":[[["n"],')  # a crash mid-append
    assert _journaled(path).read() == {"n": 1}
    other = _journaled(path, fold_after_seconds=None)
    other._change_sync("three", lambda data: (None, [(("m",), 3)]))
    assert [line.get("change") for line in _journal_lines(path)] == [None, "one", "three"]
    assert _journaled(path).read() == {"n": 1, "m": 3}


async def test_a_broken_journal_is_the_adapters_retryable_error_naming_the_line(
    sample: Path,
) -> None:
    partner_center = LocalPartnerCenter(sample, fold_after_seconds=None)
    await _tenant(partner_center, 1)
    with journal_path(sample).open("a") as journal:
        journal.write("not json\n")
    fresh = LocalPartnerCenter(sample, fold_after_seconds=None)
    with pytest.raises(PartnerCenterUnavailable, match=r"journal .*: line 3 is not a change"):
        await fresh.get_mpn_profile(SAKURA)


async def test_a_journal_path_through_a_non_object_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.write_text(json.dumps({"tenants": []}))
    file = _journaled(path, fold_after_seconds=None)
    with pytest.raises(
        Broken, match=r"^tenants must be an object \(to set tenants.x\); fix the file$"
    ):
        await file.change("edit", lambda data: (None, [(("tenants", "x"), 1)]))
    assert file.read() == {"tenants": []}
    assert len(_journal_lines(path)) <= 1  # nothing appended


def test_a_new_sample_drops_the_journal_of_a_deleted_file(sample: Path) -> None:
    file = LocalPartnerCenter(sample, fold_after_seconds=None)._file
    file._change_sync("edit", lambda data: (None, [(("profiles", SAKURA), None)]))
    assert current_data(sample)["profiles"][SAKURA] is None
    sample.unlink()
    assert write_sample_if_missing(sample)
    assert not journal_path(sample).exists()
    assert current_data(sample)["profiles"][SAKURA]["partnerName"] == "Sakura Cloud Solutions K.K."


_WRITER = """
import asyncio, sys
from pathlib import Path
from adapters.partner_center.local import LocalPartnerCenter

async def main(path, name, count):
    partner_center = LocalPartnerCenter(Path(path), fold_at=7, fold_after_seconds=None)
    for n in range(count):
        await partner_center.create_tenant(
            domain_prefix=f"{name}{n}", country="JP", global_admin="a@b.example",
            idempotency_key=f"{name}-{n}",
        )
        await partner_center.get_mpn_profile("4512345")
    await partner_center.aclose()

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"""


def test_two_processes_sharing_the_file_lose_no_change(sample: Path) -> None:
    count = 60
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(sample), name, str(count)],
            cwd=ROOT,
            stderr=subprocess.PIPE,
        )
        for name in ("alpha", "beta")
    ]
    for writer in writers:
        _, stderr = writer.communicate(timeout=120)
        assert writer.returncode == 0, stderr.decode()
    on_disk = _on_disk(sample)  # both closed: everything folded
    assert len(_journal_lines(sample)) == 1
    created = on_disk["createdTenants"]
    assert sorted(created) == sorted(
        f"{name}-{n}" for name in ("alpha", "beta") for n in range(count)
    )
    assert set(created.values()) <= set(on_disk["tenants"])
    assert on_disk["tenants"][FABRIKAM_TENANT] == sample_data()["tenants"][FABRIKAM_TENANT]
