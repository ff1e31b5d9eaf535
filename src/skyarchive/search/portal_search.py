"""Searches as the portal runs them: one call per search, every row the grid needs at once.

The portal's grid pages, sorts and facets the rows it holds in the browser, so a search returns
all matching rows (up to ``limit``) with every column. Criteria are MAST-style filter dicts and
mean what they mean on ``Mast.Caom.Filtered`` (see :mod:`skyarchive.search.criteria`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, func, select

from skyarchive.db.tables import observations
from skyarchive.errors import BadQuery
from skyarchive.search.columns import OBSERVATION_COLUMNS, ColumnInfo, observation_column
from skyarchive.search.cone import Cone
from skyarchive.search.criteria import Criterion, parse_criteria
from skyarchive.search.observations import (
    ObservationQuery,
    count_observations,
    search_observations,
    where_clause,
)
from skyarchive.search.portal_query import PositionQuery

DEFAULT_LIMIT = 5000
_MAX_VALUES = 500


@dataclass
class PortalResult:
    columns: list[ColumnInfo]
    rows: list[dict]
    total: int
    position: PositionQuery | None = None
    programs: list[str] = field(default_factory=list)


def column_facts(columns: Sequence[ColumnInfo] | None = None) -> list[dict[str, Any]]:
    """What the grid, the facets and the filter dialogs need to know about each column."""
    return [
        {
            "name": c.name, "label": c.label, "type": c.type, "unit": c.unit,
            "description": c.description, "visible": c.visible, "facet": c.facet,
            "separator": c.separator, "continuous": c.continuous,
        }
        for c in (columns if columns is not None else OBSERVATION_COLUMNS)
    ]  # fmt: skip


def criteria_from(filters: Any) -> list[Criterion]:
    return parse_criteria(lenient_target_names(filters or []), observation_column)


_CATALOGUE_NUMBER = re.compile(r"^([A-Za-z]+)[\s_-]?(\d.*)$")


def lenient_target_names(filters: Any) -> Any:
    """Target names typed as ``NGC6720*`` also match ``NGC 6720``, ``NGC-6720`` and ``NGC_6720``.

    Observers write catalogue names with and without a separator; people searching the portal
    should not have to guess which. (The MAST API keeps MAST's exact matching.)
    """
    if not isinstance(filters, list):
        return filters
    out = []
    for entry in filters:
        if isinstance(entry, dict) and str(entry.get("paramName", "")).lower() == "target_name":
            values = entry.get("values", [])
            values = values if isinstance(values, list) else [values]
            spelled: list[Any] = []
            for value in values:
                match = _CATALOGUE_NUMBER.match(value) if isinstance(value, str) else None
                if match:
                    letters, rest = match.groups()
                    spelled += [f"{letters}{sep}{rest}" for sep in ("", " ", "-", "_")]
                else:
                    spelled.append(value)
            entry = {**entry, "values": list(dict.fromkeys(spelled))}
        out.append(entry)
    return out


def run_search(
    conn: Connection,
    *,
    now: float,
    position: PositionQuery | None = None,
    programs: Sequence[str] = (),
    filters: Any = None,
    limit: int = DEFAULT_LIMIT,
) -> PortalResult:
    """Every matching row (nearest first for cones, else by obsid), at most ``limit``."""
    criteria = criteria_from(filters)
    if programs:
        criteria.append(
            parse_criteria([{"paramName": "proposal_id", "values": list(programs)}],
                           observation_column)[0]
        )  # fmt: skip
    if position is None and not criteria:
        raise BadQuery("Give a position, a program ID or at least one filter to search.")
    cone = Cone(position.ra, position.dec, position.radius) if position else None
    query = ObservationQuery(criteria=criteria, cone=cone, page=1, pagesize=max(1, limit))
    page = search_observations(conn, query, now=now)
    rows = list(page.rows)
    return PortalResult(page.columns, rows, page.total, position, list(programs))


def count_matching(conn: Connection, *, now: float, filters: Any = None) -> int:
    return count_observations(conn, criteria=criteria_from(filters), now=now)


def column_values(
    conn: Connection, column_name: str, *, now: float, filters: Any = None
) -> dict[str, Any]:
    """Values of one column with their counts among the rows the other filters leave.

    For ``;``-separated columns each token is counted. Continuous columns give their range.
    The filter on ``column_name`` itself is ignored, so the dialog shows every choice.
    """
    column = observation_column(column_name)
    others = [c for c in criteria_from(filters) if c.column.name != column.name]
    where = where_clause(others, now=now, conn=conn)
    matching = count_observations(conn, criteria=others, now=now)
    if column.name in ("dataRights", "distance", "objID1"):
        values = _rights_values(conn, others, now) if column.name == "dataRights" else []
        return {"column": column.name, "matching": matching, "values": values}
    expr = observations.c[column.name]
    if column.continuous:
        low, high = conn.execute(select(func.min(expr), func.max(expr)).where(where)).one()
        return {"column": column.name, "matching": matching, "min": low, "max": high}
    counts: Counter[str] = Counter()
    query = select(expr, func.count()).where(where).group_by(expr)
    for value, count in conn.execute(query):
        if value is None or value == "":
            continue
        tokens = str(value).split(column.separator) if column.separator else [str(value)]
        for token in dict.fromkeys(t.strip() for t in tokens if t.strip()):
            counts[token] += count
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:_MAX_VALUES]
    values = [{"value": value, "count": count} for value, count in ordered]
    return {"column": column.name, "matching": matching, "values": values}


def _rights_values(conn: Connection, others: list[Criterion], now: float) -> list[dict]:
    out = []
    for rights in ("PUBLIC", "EXCLUSIVE_ACCESS"):
        criterion = criteria_from([{"paramName": "dataRights", "values": [rights]}])[0]
        count = count_observations(conn, criteria=[*others, criterion], now=now)
        if count:
            out.append({"value": rights, "count": count})
    return out
