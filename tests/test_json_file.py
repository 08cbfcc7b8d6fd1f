"""`adapters.json_file.JsonFile` and the file-backed adapters built on it: one parse for many reads
of an unchanged file, every change on disk seen (same-size edits within one timestamp tick
included), writes that replace the file atomically without re-reading a current cache."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from adapters import json_file
from adapters.json_file import JsonFile
from adapters.partner_center import PartnerCenterUnavailable
from adapters.partner_center.local import LocalPartnerCenter, write_sample_if_missing
from adapters.partner_programs.local import LocalPartnerPrograms
from adapters.partner_programs.local import (
    write_sample_if_missing as write_programs_sample_if_missing,
)

SAKURA = "4512345"  # a JP reseller of adapters.partner_center.local.sample_data()
SAKURA_PGA = "4500001"  # its PGA in adapters.partner_programs.local.sample_data()


def _parse(raw: bytes) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(raw)
    return data


def _write_in_place(path: Path, data: dict[str, Any]) -> None:
    """An edit the way an editor or tests/conftest.py makes it: the same inode, rewritten."""
    path.write_text(json.dumps(data))


@pytest.fixture
def trusted_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """No racy window: a stat alone proves the cache current (as it does 2 s after an edit)."""
    monkeypatch.setattr(json_file, "RACY_WINDOW_NS", 0)


def test_one_parse_for_many_reads_of_an_unchanged_file(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    _write_in_place(path, {"answer": 42})
    file = JsonFile(path, _parse)
    for _ in range(50):
        assert file.read() == {"answer": 42}
    assert file.parses == 1


def test_an_old_file_is_answered_from_a_stat_alone(
    tmp_path: Path, trusted_at_once: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "data.json"
    _write_in_place(path, {"answer": 42})
    file = JsonFile(path, _parse)
    assert file.cached() is None  # nothing read yet
    assert file.read() == {"answer": 42}
    opened: list[object] = []
    monkeypatch.setattr(json_file, "open", lambda *a, **k: opened.append(a), raising=False)
    assert file.cached() == {"answer": 42}
    assert file.read() == {"answer": 42}
    assert opened == []


def test_a_same_size_edit_within_one_timestamp_tick_is_seen(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    _write_in_place(path, {"name": "aaaa"})
    file = JsonFile(path, _parse)
    assert file.read() == {"name": "aaaa"}
    before = path.stat()
    _write_in_place(path, {"name": "bbbb"})
    # Make the edit look like it happened in the same tick: same size, same mtime.
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size
    assert file.cached() is None  # a change this recent is never trusted on a stat alone
    assert file.read() == {"name": "bbbb"}
    assert file.parses == 2


def test_a_changed_file_is_parsed_again(tmp_path: Path, trusted_at_once: None) -> None:
    path = tmp_path / "data.json"
    _write_in_place(path, {"n": 1})
    file = JsonFile(path, _parse)
    assert file.read() == {"n": 1}
    _write_in_place(path, {"n": 2, "more": True})
    assert file.cached() is None
    assert file.read() == {"n": 2, "more": True}
    assert file.parses == 2
    path.unlink()
    assert file.read() == {}


def test_a_write_replaces_the_file_atomically_without_reading_it(
    tmp_path: Path, trusted_at_once: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "data.json"
    _write_in_place(path, {"n": 1})
    path.chmod(0o640)
    file = JsonFile(path, _parse)
    assert file.read() == {"n": 1}
    old_inode = path.stat().st_ino
    holder = path.open("rb")  # a reader in the middle of the old file
    opened: list[object] = []
    monkeypatch.setattr(json_file, "open", lambda *a, **k: opened.append(a), raising=False)
    data = file.for_change()
    data["n"] = 2
    file.write(data)
    assert opened == []  # the cached bytes were current: nothing re-read
    monkeypatch.undo()
    assert json.loads(holder.read()) == {"n": 1}  # the old file stayed whole
    holder.close()
    assert path.stat().st_ino != old_inode  # a new file took the name (os.replace)
    assert path.stat().st_mode & 0o777 == 0o640
    assert json.loads(path.read_bytes()) == {"n": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["data.json"]  # no temporary file left
    assert file.read() == {"n": 2}
    assert file.parses == 2  # the first read and the private copy to change


def test_a_change_that_fails_half_way_leaves_the_cache_as_the_disk(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    _write_in_place(path, {"n": 1})
    file = JsonFile(path, _parse)
    shared = file.read()
    data = file.for_change()
    data["n"] = 99  # then the change fails: nothing is written
    assert file.read() == {"n": 1}
    assert file.read() is shared


def test_a_broken_file_raises_the_adapters_error_until_fixed(tmp_path: Path) -> None:
    path = tmp_path / "pc.json"
    assert write_sample_if_missing(path)
    partner_center = LocalPartnerCenter(path)
    path.write_text("{ half saved")
    with pytest.raises(PartnerCenterUnavailable, match="not valid JSON"):
        partner_center._file.read()
    path.unlink()
    assert write_sample_if_missing(path)
    assert partner_center._file.read()["profiles"][SAKURA]


async def test_partner_center_parses_once_and_sees_an_edit(tmp_path: Path) -> None:
    path = tmp_path / "pc.json"
    assert write_sample_if_missing(path)
    partner_center = LocalPartnerCenter(path)
    names = {(await partner_center.get_mpn_profile(SAKURA)).partner_name for _ in range(20)}
    assert len(names) == 1
    assert partner_center._file.parses == 1
    data = json.loads(path.read_text())
    data["profiles"][SAKURA]["partnerName"] = "Renamed K.K."
    _write_in_place(path, data)  # as tests/conftest.py Stack.edit_partner_center does
    assert (await partner_center.get_mpn_profile(SAKURA)).partner_name == "Renamed K.K."


async def test_partner_center_writes_keep_an_operators_edit(tmp_path: Path) -> None:
    path = tmp_path / "pc.json"
    assert write_sample_if_missing(path)
    partner_center = LocalPartnerCenter(path)
    await partner_center.get_mpn_profile(SAKURA)
    data = json.loads(path.read_text())
    data["profiles"][SAKURA]["partnerName"] = "Edited K.K."
    _write_in_place(path, data)
    tenant = await partner_center.create_tenant(
        domain_prefix="sakuranew", country="JP", global_admin="admin@x", idempotency_key="k1"
    )
    await partner_center.aclose()  # folds the journal into the file
    on_disk = json.loads(path.read_text())
    assert on_disk["profiles"][SAKURA]["partnerName"] == "Edited K.K."
    assert str(tenant.tenant_id) in on_disk["tenants"]
    assert (await partner_center.get_tenant(tenant.tenant_id)).country == "JP"


async def test_partner_programs_parse_once_and_see_an_edit(tmp_path: Path) -> None:
    path = tmp_path / "programs.json"
    assert write_programs_sample_if_missing(path)
    programs = LocalPartnerPrograms(path)
    for _ in range(10):
        assert (await programs.get_membership(SAKURA_PGA, SAKURA)).membership_active
    assert programs._file.parses == 1
    data = json.loads(path.read_text())
    data["partners"][SAKURA_PGA]["membershipActive"] = False
    _write_in_place(path, data)  # as tests/conftest.py Stack.edit_partner_programs does
    assert not (await programs.get_membership(SAKURA_PGA, SAKURA)).membership_active
    activation = await programs.activate_direct_bill_tenant(SAKURA_PGA, "JP", idempotency_key="a")
    await programs.aclose()  # folds the journal into the file
    on_disk = json.loads(path.read_text())
    assert on_disk["partners"][SAKURA_PGA]["membershipActive"] is False
    assert on_disk["activations"][f"{SAKURA_PGA}:JP"]["tenantId"] == str(activation.tenant_id)
