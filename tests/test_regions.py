"""CSP regional markets (REG-01, POR-02b): domain/regions.py and domain/data/csp_regions.json.

Each test quotes the line of Microsoft's "Cloud Solution Provider program regional markets and
currencies" page (partner-center/regional-authorization-overview.md, ms.date 04/15/2021) that it
checks.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from importlib import resources
from typing import Any

import pytest

from domain.errors import BusinessRuleViolation, RegionMismatch
from domain.regions import (
    CspRegion,
    UnknownMarket,
    all_regions,
    countries_in,
    describe_mismatch,
    is_csp_market,
    region_of,
    require_same_region,
    same_region,
    source,
)


def _data() -> dict[str, Any]:
    text = resources.files("domain").joinpath("data/csp_regions.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def test_germany_and_france_are_one_region_europe() -> None:
    """## Europe region and market
    "If your company's location is in the list below, you can sell CSP offers to customers in all
    locations in the list." ... "| France | EUR |" ... "| Germany | EUR |"
    """
    assert region_of("DE") == CspRegion(id="europe", name="Europe")
    assert region_of("FR") == region_of("DE")
    assert same_region("DE", "FR")


def test_japan_and_united_states_are_different_regions() -> None:
    """## Japan region and market
    "If your company's location is Japan, you can sell CSP offers to customers in Japan."
    ## United States region and market: "| United States | USD |"
    """
    assert region_of("JP") == CspRegion(id="japan", name="Japan")
    assert region_of("US") == CspRegion(id="united-states", name="United States")
    assert not same_region("JP", "US")
    assert countries_in("japan") == {"JP"}


def test_a_multi_country_region_other_than_europe_matches_neighbours() -> None:
    """## Latin America and the Caribbean region and market
    "If your company's location is in the list below, you can sell CSP offers to customers in all
    locations in the list." ... "| Chile | USD |" ... "| Colombia | USD |"
    """
    assert region_of("CO").id == "latin-america-caribbean"
    assert same_region("CO", "CL")
    assert same_region("MX", "AR")
    # "If your company is located in Brazil, you can sell CSP offers to customers only in Brazil."
    assert not same_region("CO", "BR")


def test_us_outlying_islands_share_the_united_states_region() -> None:
    """Doc: "For example, if your company is located in the United States, you can sell CSP
    offers to customers in the U.S. and in U.S. Outlying Islands."
    """
    assert same_region("US", "UM")
    assert countries_in("united-states") == {"US", "UM"}


def test_african_countries_listed_under_the_middle_east_table_stay_there() -> None:
    """## Middle East, Central Europe, and Eastern Europe region and market
    "| South Africa | USD |" (not in the Africa table, which lists "| Kenya | USD |")
    """
    assert region_of("ZA").id == "middle-east-central-eastern-europe"
    assert region_of("KE").id == "africa"
    assert not same_region("ZA", "KE")
    assert same_region("ZA", "TR")


def test_unknown_code_raises_unknown_market_naming_it() -> None:
    """## For unsupported countries
    "If your country is not supported, establish the customer CSP relationship using the Office
    admin URL."
    """
    with pytest.raises(UnknownMarket) as caught:
        region_of("XX")
    assert "XX" in str(caught.value)
    assert caught.value.details["country"] == "XX"
    assert isinstance(caught.value, BusinessRuleViolation)
    assert caught.value.error_type == "UnknownMarket"
    assert not is_csp_market("XX")
    with pytest.raises(UnknownMarket, match="XX"):
        same_region("DE", "XX")


@pytest.mark.parametrize("bad", ["", "D", "DEU", "Germany", "1A"])
def test_malformed_codes_are_unknown_markets(bad: str) -> None:
    """Doc: "To determine where you can sell CSP offers, find your company's location in one of the
    lists below." (a value that is not a listed code is in none of them)
    """
    with pytest.raises(UnknownMarket):
        region_of(bad)


def test_lower_case_and_padded_input_is_the_same_market() -> None:
    """## Europe region and market: "| Germany | EUR |" ... "| France | EUR |"
    (the table's codes are upper case; input is trimmed and upper-cased, never refused for case)
    """
    assert region_of("de") == region_of("DE") == region_of(" De ")
    assert same_region("de", "FR")
    assert is_csp_market("jp")
    with pytest.raises(UnknownMarket, match="xx"):
        region_of("xx")


def test_describe_mismatch_names_both_countries_and_both_regions() -> None:
    """## Japan region and market: "If your company's location is Japan, you can sell CSP offers
    to customers in Japan."
    """
    text = describe_mismatch("reseller 4512345", "us", "provider 3456789", "JP")
    assert text == (
        "reseller 4512345 is in US (United States region) but provider 3456789 is in JP "
        "(Japan region): CSP partners transact only within one regional market (REG-01)"
    )


def test_describe_mismatch_names_a_non_market_and_refuses_a_non_mismatch() -> None:
    """Doc: "If your country is not supported, establish the customer CSP relationship using the
    Office admin URL." / Europe: "you can sell CSP offers to customers in all locations in the
    list."
    """
    text = describe_mismatch("customer", "XX", "provider 3456789", "DE")
    assert "XX (not a CSP market)" in text
    assert "DE (Europe region)" in text
    with pytest.raises(ValueError):
        describe_mismatch("reseller 1", "DE", "provider 2", "FR")


def test_require_same_region_returns_the_region_or_raises_region_mismatch() -> None:
    """## Europe region and market: "| Germany | EUR |" ... "| France | EUR |";
    ## Japan region and market: "| Japan | JPY |"
    """
    assert require_same_region("reseller 1", "DE", "provider 2", "fr").id == "europe"
    with pytest.raises(RegionMismatch) as caught:
        require_same_region("reseller 4512345", "US", "provider 3456789", "JP")
    assert "US (United States region)" in caught.value.message
    assert "JP (Japan region)" in caught.value.message
    assert caught.value.details["first_region"] == "united-states"
    assert caught.value.details["second_region"] == "japan"
    with pytest.raises(RegionMismatch, match="not a CSP market"):
        require_same_region("customer", "XX", "provider 2", "DE")


def test_every_code_in_the_data_file_is_two_upper_case_letters() -> None:
    """Doc: "| Country/Region | Currency |" (every table row is one country/region, recorded by its
    ISO 3166-1 alpha-2 code)
    """
    for region in _data()["regions"]:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", region["id"]), region["id"]
        assert region["name"]
        assert region["markets"], region["id"]
        for market in region["markets"]:
            assert re.fullmatch(r"[A-Z]{2}", market["country"]), market
            assert market["name"]


def test_no_country_is_in_two_regions() -> None:
    """Doc: "To determine where you can sell CSP offers, find your company's location in one of the
    lists below." (one list per location: the document lists no market under two regions)
    """
    regions_of: dict[str, set[str]] = defaultdict(set)
    for region in _data()["regions"]:
        for market in region["markets"]:
            regions_of[market["country"]].add(region["id"])
    assert {c: r for c, r in regions_of.items() if len(r) > 1} == {}


def test_repeated_codes_within_a_region_are_distinct_subdivisions() -> None:
    """## Latin America and the Caribbean: "| Bonaire | USD |" ... "| Saba | USD |" ...
    "| Sint Eustatius | USD |" (three markets, one ISO 3166-1 code BQ)
    """
    for region in _data()["regions"]:
        seen: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for market in region["markets"]:
            seen[market["country"]].append(market)
        for code, markets in seen.items():
            if len(markets) > 1:
                subdivisions = [m.get("subdivision") for m in markets]
                assert None not in subdivisions, code
                assert len(set(subdivisions)) == len(markets), code
    assert region_of("BQ").id == "latin-america-caribbean"


def test_source_block_is_present() -> None:
    """# Cloud Solution Provider program regional markets and currencies where you can sell CSP
    offers (ms.date: 04/15/2021)
    """
    block = _data()["source"]
    for key in ("repository", "path", "commit", "title", "retrieved", "document_date"):
        assert block.get(key), key
    assert block["path"] == "partner-center/regional-authorization-overview.md"
    assert re.fullmatch(r"[0-9a-f]{40}", block["commit"])
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", block["document_date"])
    assert block["retrieved"] == "2026-11-30"
    assert source() == block


def test_the_table_has_every_region_the_document_lists() -> None:
    """The document's "## <name> region and market" headings: Africa, Asia and Pacific,
    Australia, Brazil, Canada, China, Europe, India, Japan, Korea, Republic of, Latin America and
    the Caribbean, Middle East, Central Europe, and Eastern Europe, New Zealand, Russia, Taiwan,
    United States.
    """
    assert [r.id for r in all_regions()] == [
        "africa",
        "asia-pacific",
        "australia",
        "brazil",
        "canada",
        "china",
        "europe",
        "india",
        "japan",
        "korea",
        "latin-america-caribbean",
        "middle-east-central-eastern-europe",
        "new-zealand",
        "russia",
        "taiwan",
        "united-states",
    ]
    assert sum(len(r["markets"]) for r in _data()["regions"]) == 246
    assert region_of("KR").name == "Korea, Republic of"
    assert region_of("TR").id == "middle-east-central-eastern-europe"
    assert region_of("CI").id == "africa"
    assert region_of("HK") == region_of("MO") == region_of("SG")
    assert region_of("TW").id == "taiwan"
    assert not same_region("TW", "CN")
