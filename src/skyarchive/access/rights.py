"""Exclusive-access periods and the dataRights they imply.

``dataRights`` is never stored: it is derived from ``t_obs_release`` whenever a row is served,
so a changed release date takes effect at once.
"""

from __future__ import annotations

import calendar
import time
from typing import Any

from sqlalchemy import ColumnElement, or_

PUBLIC = "PUBLIC"
EXCLUSIVE_ACCESS = "EXCLUSIVE_ACCESS"
#: The data rights a row may have: the only values of ``dataRights`` (MAST's searches, the
#: portal) and MastMissions' ``access``, so the only ones a criterion on them may ask for.
DATA_RIGHTS = (PUBLIC, EXCLUSIVE_ACCESS)

# Categories whose data are public as soon as they are archived (JWST policy).
_PUBLIC_AT_ONCE = frozenset({"ERS", "DD", "COM", "CAL", "ENG", "ERO", "TREASURY", "LARGE", "AR"})


def eap_months(category: str | None, *, override: int | None, default_months: int) -> int:
    """Months of exclusive access for a program.

    Parameters
    ----------
    category : str or None
        Program category from the CATEGORY keyword (GO, GTO, ERS, COM, DD, CAL, ...).
    override : int or None
        The operator's setting for this program; wins when given.
    default_months : int
        Period for GO/GTO (and unknown) categories, from the settings.
    """
    if override is not None:
        return max(0, override)
    if category and category.upper() in _PUBLIC_AT_ONCE:
        return 0
    return default_months


def add_months_mjd(mjd: float, months: int) -> float:
    """``mjd`` plus a whole number of calendar months (day clipped to the month's length)."""
    if months == 0:
        return mjd
    # Imported here: every server process imports this module, and astropy.time took half a
    # second of its two to start (only ingest and the EAP tools add months).
    from astropy.time import Time

    moment = Time(mjd, format="mjd", scale="utc").to_datetime()
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return float(Time(moment.replace(year=year, month=month, day=day), scale="utc").mjd)


_UNIX_EPOCH_MJD = 40587.0


def now_mjd() -> float:
    """The current UTC time as MJD (plain arithmetic: it runs on every query)."""
    return time.time() / 86400.0 + _UNIX_EPOCH_MJD


def data_rights(t_obs_release: float | None, *, now: float | None = None) -> str:
    """PUBLIC once the release date has passed, EXCLUSIVE_ACCESS before (and when unknown)."""
    if t_obs_release is None:
        return EXCLUSIVE_ACCESS
    return PUBLIC if (now if now is not None else now_mjd()) >= t_obs_release else EXCLUSIVE_ACCESS


def released_clause(release: ColumnElement[Any], now: Any) -> ColumnElement[bool]:
    """SQL twin of :func:`data_rights`: true once the release date ``release`` (a column of
    MJD) has passed by ``now`` (a number or a bound parameter); never true when it is unknown."""
    return release <= now


def restricted_clause(release: ColumnElement[Any], now: Any) -> ColumnElement[bool]:
    """The rows :func:`released_clause` leaves out: not yet released, or no release date."""
    return or_(*restricted_ranges(release, now))


def restricted_ranges(release: ColumnElement[Any], now: Any) -> list[ColumnElement[bool]]:
    """:func:`restricted_clause` as its two disjoint parts, each one range of an index that
    holds the release date (a query per part, UNION ALL, reads just those ranges; OR-ed,
    PostgreSQL can only combine them as bitmaps, never from the index alone)."""
    return [release > now, release.is_(None)]
