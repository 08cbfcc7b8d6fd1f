"""CSP regional markets (DOMAIN.md REG-01, POR-02b) as pure lookups.

A CSP "region" is Microsoft's CSP regional market, not the ISO country: Microsoft groups its CSP
markets into regions (Partner Center docs, "Cloud Solution Provider program regional markets and
currencies", `partner-center/regional-authorization-overview.md`). Some regions hold one country
(United States, Japan), others many (Europe: Germany and France are one region). The table ships as
data in `domain/data/csp_regions.json`, with its source and date; this module is the one place
that reads it.

The JSON is read once, on first use, and cached; after that every call is a dictionary lookup.
Country codes are ISO 3166-1 alpha-2 (plus XK for Kosovo, as the table records it). Input is
trimmed and upper-cased, so "de", " DE " and "DE" are the same market.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from domain.errors import BusinessRuleViolation, RegionMismatch

RULE = "REG-01"
DATA_PACKAGE = "domain"
DATA_FILE = "data/csp_regions.json"


class UnknownMarket(BusinessRuleViolation):
    """The country is not a CSP market in Microsoft's regional-market table (REG-01)."""

    error_type = "UnknownMarket"


@dataclass(frozen=True, slots=True)
class CspRegion:
    """One CSP regional market: a stable slug and the region's name as the document gives it."""

    id: str
    name: str


@dataclass(frozen=True, slots=True)
class _Table:
    regions: tuple[CspRegion, ...]
    by_country: dict[str, CspRegion]
    source: dict[str, Any]


def normalize_country(country: str) -> str:
    """The table's spelling of `country`: trimmed and upper-case ("de" -> "DE")."""
    return country.strip().upper()


def region_of(country: str) -> CspRegion:
    """The CSP region of `country` (ISO 3166-1 alpha-2, any case).

    Raises UnknownMarket, naming the country, when it is not a CSP market.
    """
    code = normalize_country(country)
    region = _table().by_country.get(code)
    if region is None:
        raise UnknownMarket(
            f"{country!r} is not a CSP market: Microsoft's CSP regional-market table has no "
            f"country/region with that code ({RULE})",
            country=country,
            rule=RULE,
        )
    return region


def is_csp_market(country: str) -> bool:
    """Whether `country` is a market in the table."""
    return normalize_country(country) in _table().by_country


def same_region(a: str, b: str) -> bool:
    """Whether countries `a` and `b` are in one CSP region. Raises UnknownMarket for either."""
    return region_of(a) == region_of(b)


def describe_mismatch(
    first_label: str, first_country: str, second_label: str, second_country: str
) -> str:
    """The refusal text naming both parties, both countries and both regions, e.g.

    "reseller 4512345 is in US (United States region) but provider 3456789 is in JP (Japan
    region): CSP partners transact only within one regional market (REG-01)".

    A country that is not a CSP market is named as such instead of a region. Raises ValueError
    when both countries are in one region: there is no mismatch to describe.
    """
    first = _where(first_country)
    second = _where(second_country)
    if _known_same_region(first_country, second_country):
        raise ValueError(
            f"{first_country} and {second_country} are both in {first}: no region mismatch"
        )
    return (
        f"{first_label} is in {normalize_country(first_country)} ({first}) but {second_label} is "
        f"in {normalize_country(second_country)} ({second}): CSP partners transact only within "
        f"one regional market ({RULE})"
    )


def require_same_region(
    first_label: str, first_country: str, second_label: str, second_country: str
) -> CspRegion:
    """The shared CSP region of both parties, or RegionMismatch with `describe_mismatch` text.

    A country that is not a CSP market can share no region with anyone: that is a mismatch too.
    """
    if _known_same_region(first_country, second_country):
        return region_of(first_country)
    first_region = _table().by_country.get(normalize_country(first_country))
    second_region = _table().by_country.get(normalize_country(second_country))
    raise RegionMismatch(
        describe_mismatch(first_label, first_country, second_label, second_country),
        rule=RULE,
        first=first_label,
        first_country=normalize_country(first_country),
        first_region=first_region.id if first_region else None,
        second=second_label,
        second_country=normalize_country(second_country),
        second_region=second_region.id if second_region else None,
    )


def all_regions() -> tuple[CspRegion, ...]:
    """Every CSP region, in the document's order."""
    return _table().regions


def countries_in(region_id: str) -> frozenset[str]:
    """The country codes of one region (empty for an unknown region id)."""
    return frozenset(c for c, r in _table().by_country.items() if r.id == region_id)


def source() -> dict[str, Any]:
    """The table's provenance block (repository, path, commit, document date, retrieval date)."""
    return dict(_table().source)


def _where(country: str) -> str:
    region = _table().by_country.get(normalize_country(country))
    return f"{region.name} region" if region else "not a CSP market"


def _known_same_region(a: str, b: str) -> bool:
    by_country = _table().by_country
    first = by_country.get(normalize_country(a))
    return first is not None and first == by_country.get(normalize_country(b))


@cache
def _table() -> _Table:
    raw = resources.files(DATA_PACKAGE).joinpath(DATA_FILE).read_text(encoding="utf-8")
    return _parse(json.loads(raw))


def _parse(data: dict[str, Any]) -> _Table:
    regions: list[CspRegion] = []
    by_country: dict[str, CspRegion] = {}
    for entry in data["regions"]:
        region = CspRegion(id=str(entry["id"]), name=str(entry["name"]))
        regions.append(region)
        for market in entry["markets"]:
            code = str(market["country"])
            other = by_country.get(code)
            if other is not None and other != region:
                raise ValueError(f"{DATA_FILE}: {code} is in both {other.id} and {region.id}")
            by_country[code] = region
    return _Table(regions=tuple(regions), by_country=by_country, source=dict(data["source"]))
