"""Public holidays by country and subdivision (the `holidays` library), read once per year.

A client's place is its own country and subdivision, else the MSP's (XBR_COUNTRY,
XBR_SUBDIVISION), which the unit of work carries in `session.info["holiday_place"]`.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from datetime import date
from functools import cache, lru_cache
from types import MappingProxyType

import holidays
from sqlalchemy.orm import Session

from states.errors import InvalidInput
from states.store.models import Client

Place = tuple[str | None, str | None]  # (ISO 3166-1 alpha-2 country, subdivision)
NOWHERE: Place = (None, None)  # weekends only


# (country, subdivision, year) entries: a few places and years in any installation
@lru_cache(maxsize=1024)
def holidays_in(country: str, subdivision: str | None, year: int) -> Mapping[date, str]:
    """The public holidays (observed days included) of one year in a place, by day."""
    days = holidays.country_holidays(country, subdiv=subdivision, years=range(year - 1, year + 2))
    # built with its neighbours: a holiday observed across New Year belongs to the day's year
    return MappingProxyType({day: name for day, name in days.items() if day.year == year})


def place_of(session: Session, client: Client) -> Place:
    """Where the client's holidays come from: its own country, else the MSP's."""
    if client.country:
        return (client.country, client.subdivision)
    default: Place = session.info.get("holiday_place", NOWHERE)
    return default


@cache
def _supported() -> dict[str, list[str]]:
    return {
        code: subdivisions
        for code, subdivisions in holidays.list_supported_countries().items()
        if len(code) == 2
    }


def check_place(country: str | None, subdivision: str | None) -> Place:
    """The place with its codes as the library spells them, or one clear error naming the
    unknown country or subdivision and the closest valid ones."""
    if not country:
        if subdivision:
            raise InvalidInput(
                f"subdivision {subdivision!r} needs its country; give --country too, e.g. US"
            )
        return NOWHERE
    supported = _supported()
    code = country.strip().upper()
    if code not in supported:
        close = difflib.get_close_matches(code, supported, n=5, cutoff=0.0)
        raise InvalidInput(
            f"unknown country {country!r}; give an ISO 3166 code such as {', '.join(close)}"
        )
    if not subdivision:
        return (code, None)
    if not supported[code]:
        raise InvalidInput(f"country {code} has no subdivisions; leave {subdivision!r} out")
    known = {s.upper(): s for s in supported[code]}
    if subdivision.strip().upper() not in known:
        listed = (
            supported[code]
            if len(supported[code]) <= 20
            else [
                known[s]
                for s in difflib.get_close_matches(subdivision.upper(), known, n=8, cutoff=0)
            ]
        )
        shown = ", ".join(listed) or "none"
        raise InvalidInput(
            f"country {code} has no subdivision {subdivision!r}; use one of {shown}"
            + (f" ({len(supported[code])} in all)" if len(listed) < len(supported[code]) else "")
        )
    return (code, known[subdivision.strip().upper()])
