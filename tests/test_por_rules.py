"""Partner-of-Record validation at its edges (POR-01..05, MPA-02, REL-02): the date gate's first
instant, each condition failing alone, every failure named, warnings before the date."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.errors import MpaNotSigned, PorInvalid
from domain.por_rules import (
    MPA_SIGNED,
    PARTNERSHIP,
    POR_AUTHORIZED,
    POR_NAMED,
    POR_PURCHASE_COUNTRY,
    POR_SAME_REGION,
    POR_VALID_PLA,
    evaluate_partner_of_record,
    por_enforced,
    require_valid_partner_of_record,
)
from domain.relationships import PartnerCenterPorValidation, PorFacts, PorVerdict

GATE = datetime(2025, 9, 1, tzinfo=UTC)
AFTER = GATE + timedelta(days=100)


def _facts(**changes: Any) -> PorFacts:
    base: dict[str, Any] = {
        "partner_id": "4512345",
        "profile_country": "JP",
        "reseller_status": "active",
        "suspended_since": None,
        "mpa_signed": True,
        "partnership_status": "active",
        "partner_center": PartnerCenterPorValidation(is_valid=True),
    }
    base.update(changes)
    return PorFacts(**base)


def _verdict(facts: PorFacts | None, now: datetime = AFTER, **kw: str) -> PorVerdict:
    return evaluate_partner_of_record(
        facts,
        provider_partner_id="3456789",
        provider_country=kw.get("provider_country", "JP"),
        purchase_country=kw.get("purchase_country", "JP"),
        now=now,
        enforced_from=GATE,
    )


def test_the_gate_opens_at_its_first_instant() -> None:
    assert not por_enforced(GATE - timedelta(microseconds=1), GATE)
    assert por_enforced(GATE, GATE)
    assert por_enforced(GATE + timedelta(microseconds=1), GATE)


def test_a_valid_por_passes_before_and_after_the_date() -> None:
    for now in (GATE - timedelta(days=1), GATE, AFTER):
        verdict = _verdict(_facts(), now)
        assert verdict.valid and not verdict.failures and not verdict.warnings
        require_valid_partner_of_record(verdict, order_ref="PO-1")


def test_no_por_blocks_from_the_first_instant_and_only_warns_before() -> None:
    before = _verdict(None, GATE - timedelta(microseconds=1))
    assert before.valid and not before.enforced
    assert len(before.warnings) == 1 and before.warnings[0].startswith(POR_NAMED)
    assert "2025-09-01T00:00:00+00:00" in before.warnings[0]

    at_gate = _verdict(None, GATE)
    assert at_gate.enforced and [f.condition for f in at_gate.blocking] == [POR_NAMED]
    with pytest.raises(PorInvalid) as refused:
        require_valid_partner_of_record(at_gate, order_ref="PO-1")
    assert refused.value.details["failed_conditions"] == [POR_NAMED]
    assert "order PO-1 is blocked" in refused.value.message


@pytest.mark.parametrize(
    ("changes", "condition", "words"),
    [
        (
            {
                "partner_center": PartnerCenterPorValidation(
                    is_valid=False,
                    error_code="800039",
                    error_description="reseller program status not active",
                )
            },
            POR_AUTHORIZED,
            "error 800039",
        ),
        ({"reseller_status": "withdrawn"}, POR_AUTHORIZED, "enrollment is withdrawn"),
        (
            {"suspended_since": datetime(2026, 1, 2, tzinfo=UTC)},
            POR_AUTHORIZED,
            "suspended since 2026-01-02",
        ),
        (
            {"profile_country": None, "mpa_signed": None},
            POR_VALID_PLA,
            "not linked to a valid partner location account",
        ),
        ({"partnership_status": "removed"}, PARTNERSHIP, "partnership: removed"),
        ({"partnership_status": None}, PARTNERSHIP, "partnership: none"),
    ],
)
def test_each_condition_blocks_alone_after_the_date(
    changes: dict[str, Any], condition: str, words: str
) -> None:
    verdict = _verdict(_facts(**changes))
    assert [f.condition for f in verdict.blocking] == [condition]
    with pytest.raises(PorInvalid) as refused:
        require_valid_partner_of_record(verdict, order_ref="PO-7")
    assert words in refused.value.message
    assert refused.value.details["partner_of_record"] == "4512345"


def test_region_mismatch_fails_region_and_country_of_purchase() -> None:
    verdict = _verdict(_facts(profile_country="US"))
    assert [f.condition for f in verdict.blocking] == [POR_SAME_REGION, POR_PURCHASE_COUNTRY]
    assert (
        "(its PLA) is in US (United States region) but provider 3456789 is in JP (Japan "
        "region)" in verdict.blocking[0].problem
    )
    assert "use the reseller's PLA for JP" in verdict.blocking[1].problem


def test_the_pla_of_another_country_of_purchase_fails_por_05_only() -> None:
    verdict = _verdict(_facts(profile_country="JP"), purchase_country="KR", provider_country="JP")
    assert [f.condition for f in verdict.blocking] == [POR_PURCHASE_COUNTRY]


def test_mpa_unsigned_alone_is_mpa_not_signed_on_either_side_of_the_date() -> None:
    for now in (GATE - timedelta(microseconds=1), GATE):
        verdict = _verdict(_facts(mpa_signed=False), now)
        assert [f.condition for f in verdict.blocking] == [MPA_SIGNED]
        with pytest.raises(MpaNotSigned) as refused:
            require_valid_partner_of_record(verdict, order_ref="PO-2")
        assert "has not signed the Microsoft Partner Agreement" in refused.value.message


def test_every_failed_condition_is_named_in_one_error() -> None:
    facts = _facts(
        profile_country="US",
        reseller_status="enrolling",
        mpa_signed=False,
        partnership_status=None,
        partner_center=PartnerCenterPorValidation(
            is_valid=False, error_code="800016", error_description="not a valid IR PartnerId"
        ),
    )
    verdict = _verdict(facts)
    with pytest.raises(PorInvalid) as refused:  # not MpaNotSigned: MPA is one failure of many
        require_valid_partner_of_record(verdict, order_ref="PO-3")
    conditions = refused.value.details["failed_conditions"]
    assert conditions == [
        POR_AUTHORIZED,
        POR_AUTHORIZED,
        POR_SAME_REGION,
        POR_PURCHASE_COUNTRY,
        MPA_SIGNED,
        PARTNERSHIP,
    ]
    assert "fails 6 condition(s)" in refused.value.message
    for condition in set(conditions):
        assert f"[{condition}]" in refused.value.message


def test_before_the_date_gated_failures_are_warnings_but_mpa_and_partnership_block() -> None:
    facts = _facts(profile_country="US", mpa_signed=False, partnership_status=None)
    verdict = _verdict(facts, GATE - timedelta(seconds=1))
    assert not verdict.enforced
    assert [f.condition for f in verdict.blocking] == [MPA_SIGNED, PARTNERSHIP]
    assert [w.split(":")[0] for w in verdict.warnings] == [POR_SAME_REGION, POR_PURCHASE_COUNTRY]
    with pytest.raises(PorInvalid):
        require_valid_partner_of_record(verdict, order_ref="PO-4")

    only_gated = _verdict(_facts(profile_country="US"), GATE - timedelta(seconds=1))
    assert only_gated.valid and len(only_gated.warnings) == 2
    require_valid_partner_of_record(only_gated, order_ref="PO-5")
