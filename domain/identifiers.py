"""Canonical identifiers shared by every pipeline.

"MPN ID" and "PartnerID" name one identifier (DOMAIN.md, Actors): a PGA (partner global account)
worldwide and a PLA (partner location account) per country/region. Both are the same digit string
shape, so one type serves; which account an id names is said by the field that holds it.
"""

from __future__ import annotations

import re
from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator, StringConstraints

_COUNTRY = re.compile(r"^[A-Z]{2}$")


def _canonical_partner_id(value: str) -> str:
    digits = value.strip()
    if not digits.isdigit() or not 5 <= len(digits) <= 10:
        raise ValueError("a PartnerID (MPN ID) is 5 to 10 digits")
    return digits


def _canonical_country(value: str) -> str:
    code = value.strip().upper()
    if not _COUNTRY.match(code):
        raise ValueError("a country/region is an ISO 3166-1 alpha-2 code such as JP or US")
    return code


PartnerId = Annotated[str, AfterValidator(_canonical_partner_id)]
"""A PartnerID / MPN ID: digits only, whitespace stripped."""

CountryCode = Annotated[str, AfterValidator(_canonical_country)]
"""ISO 3166-1 alpha-2, upper case. The region of a partner, tenant or customer."""

TenantId = UUID
"""A Microsoft Entra (Azure AD) tenant id."""

NonEmptyText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)
]
