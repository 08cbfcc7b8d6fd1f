"""`csp por-report` as an operator runs it (a subprocess): the latest POR sweep's report from the
registry, each invalid reseller with its reason and what to do; one clear line before any."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from adapters.registry.sql import SqlPartnerRegistry
from domain.por_sweep import PorCheck, PorReport, PorSweepRequest
from tests.test_cli import _env, csp

STARTED = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)


async def test_por_report_shows_the_latest_sweep(tmp_path: Path) -> None:
    env = _env("127.0.0.1:1", tmp_path)  # no Temporal needed
    missing = await csp(env, "por-report")
    assert "cannot read the registry (run `csp db upgrade`?)" in missing.one_line_error()

    registry = await SqlPartnerRegistry.open(f"sqlite+aiosqlite:///{tmp_path / 'registry.db'}")
    try:
        empty = await csp(env, "por-report")
        assert (empty.code, empty.out.strip()) == (
            0,
            "no POR report yet: the por-validation-sweep schedule has not finished",
        )
        for sweep, finished in (("sweep-old", STARTED), ("sweep-new", STARTED + timedelta(7))):
            await registry.record_por_checks(
                [
                    PorCheck(
                        sweep_id=sweep,
                        provider_partner_id="3100001",
                        reseller_partner_id="4600071",
                        valid=False,
                        error_code="800039",
                        reason="Reseller program status isn't active",
                        checked_at=finished,
                    )
                ]
            )
            await registry.save_por_report(
                PorReport(
                    sweep_id=sweep,
                    started_at=finished - timedelta(minutes=3),
                    finished_at=finished,
                    checked=5000,
                    valid=4999,
                    invalid=1,
                    unchecked=0,
                )
            )
    finally:
        await registry.close()
    shown = await csp(env, "por-report")
    assert shown.code == 0, shown.err
    lines = shown.out.splitlines()
    assert lines[0].startswith("POR report sweep-new: started ")
    assert lines[1] == "checked 5000: 4999 valid, 1 invalid, 0 not checked"
    assert lines[2].startswith(
        "- 4600071 (partnership with 3100001): error 800039: Reseller program status isn't "
        "active. What to do: the reseller's program status is not active"
    )
    as_json = json.loads((await csp(env, "por-report", "--json")).out)
    assert as_json["sweep_id"] == "sweep-new"
    assert [c["reseller_partner_id"] for c in as_json["invalid_resellers"]] == ["4600071"]


def test_the_examples_are_what_the_sweep_takes_and_the_report_prints() -> None:
    examples = Path(__file__).resolve().parent.parent / "examples"
    assert PorSweepRequest.model_validate_json((examples / "por-sweep.json").read_text()) == (
        PorSweepRequest()
    )
    shown = json.loads((examples / "por-report.json").read_text())
    checks = [PorCheck.model_validate(c) for c in shown.pop("invalid_resellers")]
    report = PorReport.model_validate(shown)
    assert all(c.sweep_id == report.sweep_id and not c.valid for c in checks)
