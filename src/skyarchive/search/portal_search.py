"""Searches as the portal runs them: one page of rows, the totals and the facet counts.

A result may hold any number of observations, so the server pages and sorts, and counts the
facets beside the grid over the whole match set: each value's count among the rows the search
matches and among those the chosen facet values leave ("(shown of total)"). Criteria are
MAST-style filter dicts and mean what they mean on ``Mast.Caom.Filtered`` (see
:mod:`skyarchive.search.criteria`); chosen facet values are such filters too.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Float,
    bindparam,
    case,
    func,
    literal,
    select,
)

from skyarchive import loop_budget
from skyarchive.access.rights import EXCLUSIVE_ACCESS, PUBLIC, data_rights, released_clause
from skyarchive.db.driver_rows import DriverRows
from skyarchive.db.id_lists import in_ids
from skyarchive.db.tables import observations
from skyarchive.errors import BadQuery
from skyarchive.search.columns import OBSERVATION_COLUMNS, ColumnInfo, observation_column
from skyarchive.search.cone import Cone
from skyarchive.search.criteria import Criterion, parse_criteria
from skyarchive.search.criteria_shapes import criteria_shape
from skyarchive.search.facet_summary import counts_are_stored, stored_facet_values
from skyarchive.search.facet_values import MAX_VALUES, facet_values, token_counts
from skyarchive.search.observations import (
    ObservationQuery,
    carried_index,
    cone_matches_under,
    count_observations,
    every_observation,
    search_observations,
    where_clause,
)
from skyarchive.search.portal_query import PositionQuery
from skyarchive.search.tokens import asked_once

DEFAULT_LIMIT = 5000
#: The facets beside the grid, in the order they are shown.
FACETS = (
    "obs_collection", "instrument_name", "calib_level", "proposal_id", "filters",
    "dataproduct_type", "dataRights", "target_name", "wavelength_region", "intentType",
)  # fmt: skip
_ID_CHUNK = 5000


#: The table columns a portal page carries beside each row's JSON text: what the caller's
#: ``mayRetrieve`` and ``preview`` are decided by, and what a cone's facet counts count.
CARRIED = tuple(dict.fromkeys((
    "proposal_id", "t_obs_release", "jpegURL",
    *(name for name in FACETS if name != "dataRights"),
)))  # fmt: skip


@dataclass
class PortalResult:
    columns: Sequence[ColumnInfo]
    #: ``(text, values)``: the row as JSON text and the :data:`CARRIED` columns (where
    #: ``carried_index(CARRIED)`` says)
    rows: list[Any]
    total: int
    position: PositionQuery | None = None
    programs: list[str] = field(default_factory=list)
    #: Rows the search matches before the chosen facet values narrow it.
    matched: int = 0
    #: Per facet column: values with ``shown`` (under the chosen facets) and ``total`` counts.
    facets: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


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
            entry = {**entry, "values": _once(spelled)}
        out.append(entry)
    return out


def _once(values: list[Any]) -> list[Any]:
    """``values`` with repeated texts left out; other values (ranges, lists: for
    parse_criteria to name) kept as they are."""
    seen: set[str] = set()
    kept = []
    for value in values:
        if isinstance(value, str):
            if value in seen:
                continue
            seen.add(value)
        kept.append(value)
    return kept


@dataclass
class PortalQuery:
    """One search of the portal: what to match, which facet values are chosen, which page."""

    position: PositionQuery | None = None
    programs: Sequence[str] = ()
    filters: Any = None
    facets: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    sort: str | None = None
    descending: bool = False
    page: int = 1
    pagesize: int = DEFAULT_LIMIT
    with_facets: bool = True


def base_criteria(query: PortalQuery) -> list[Criterion]:
    """The search's own criteria (filters and programs), without the chosen facet values.

    Raises
    ------
    BadQuery
        When nothing limits the search (no position, program or filter).
    """
    criteria = criteria_from(query.filters)
    if query.programs:
        criteria.append(
            parse_criteria([{"paramName": "proposal_id", "values": list(query.programs)}],
                           observation_column)[0]
        )  # fmt: skip
    if query.position is None and not criteria:
        raise BadQuery("Give a position, a program ID or at least one filter to search.")
    return criteria


def facet_criteria(facets: Mapping[str, Sequence[Any]]) -> list[Criterion]:
    """The chosen facet values as criteria: values of one facet OR-ed, facets AND-ed."""
    if not isinstance(facets, Mapping):
        raise BadQuery("facets must map a column name to the list of its chosen values.")
    filters = [{"paramName": name, "values": list(values)}
               for name, values in facets.items() if values]  # fmt: skip
    return criteria_from(filters)


def cone_of(position: PositionQuery | None) -> Cone | None:
    return None if position is None else Cone(position.ra, position.dec, position.radius)


def run_search(conn: Connection, query: PortalQuery, *, now: float) -> PortalResult:
    """One page of the matching rows (nearest first for cones, else by obsid, or by ``sort``),
    the totals and, with ``with_facets``, the facet counts over the whole match set.

    Each row is its JSON text, as the MAST API reads it (stored by the database for the
    default columns), with the :data:`CARRIED` columns beside it: a page of dicts cost three
    times as much to read and to write as JSON again."""
    criteria = base_criteria(query)
    narrowed = [*criteria, *facet_criteria(query.facets)]
    cone = cone_of(query.position)
    search = ObservationQuery(criteria=narrowed, cone=cone, page=query.page,
                              pagesize=query.pagesize, sort=query.sort,
                              descending=query.descending)  # fmt: skip
    has_tokens = asked_once(conn)  # asked once for the page, the counts and the facets
    page = search_observations(conn, search, now=now, has_tokens=has_tokens, as_json=True,
                               carrying=CARRIED)  # fmt: skip
    # Tried on the event loop (skyarchive.loop_budget), the search stops past its budget
    # between the page's rows, each made in Python (the loop's engine stops it between, and
    # within, its statements).
    rows = list(loop_budget.checked(page.rows))
    chosen = len(narrowed) > len(criteria)
    if cone is None and query.with_facets:
        facets = facet_counts(conn, criteria, narrowed if chosen else None, None, now=now,
                              has_tokens=has_tokens)  # fmt: skip
        # Every row is public or exclusive, so the data rights facet has counted the rows the
        # search matches (total) and those the chosen values leave (shown): no COUNT again.
        rights = facets["dataRights"]
        if page.known_total is None:
            page.known_total = sum(value["shown"] for value in rights)
        matched = sum(value["total"] for value in rights)
        return PortalResult(page.columns, rows, page.total, query.position,
                            list(query.programs), matched, facets)  # fmt: skip
    result = PortalResult(page.columns, rows, page.total, query.position, list(query.programs))
    if cone is not None and page.matched is not None:
        # The cone was matched once for the page; the facets count the same observations
        # (and, with facet values chosen, those the search's own criteria match: once more).
        everything = _cone_ids(conn, cone, criteria, now, has_tokens) if chosen else page.matched
        result.matched = len(everything)
        if query.with_facets and not chosen and page.held is not None:
            # the page's query read every matched row, facet columns among them
            result.facets = _held_facet_counts(page.held, carried_index(CARRIED), now)
        elif query.with_facets:
            shown = set(page.matched) if chosen else None
            result.facets = _cone_facet_counts(conn, everything, shown, now=now)
        return result
    result.matched = count_observations(conn, criteria=criteria, cone=cone, now=now,
                                        has_tokens=has_tokens) if chosen \
        else result.total  # fmt: skip
    if query.with_facets:
        result.facets = facet_counts(conn, criteria, narrowed if chosen else None, cone, now=now,
                                     has_tokens=has_tokens)  # fmt: skip
    return result


def matching_rows(
    conn: Connection, query: PortalQuery, *, now: float, columns: Sequence[str] | None = None,
    chunk: int = _ID_CHUNK,
) -> Iterator[dict]:  # fmt: skip
    """Every row of the search, in its order (exports): in obsid order by keyset pagination
    (:func:`~skyarchive.search.observations.every_observation`), else (a cone, a sort) a page
    of ``chunk`` rows at a time."""
    narrowed = [*base_criteria(query), *facet_criteria(query.facets)]
    cone = cone_of(query.position)
    if cone is None and query.sort is None:
        yield from every_observation(conn, narrowed, now=now, columns=columns)
        return
    number = 1
    while True:
        search = ObservationQuery(criteria=narrowed, cone=cone, columns=columns, page=number,
                                  pagesize=chunk, sort=query.sort,
                                  descending=query.descending)  # fmt: skip
        taken = 0
        for row in search_observations(conn, search, now=now).rows:
            taken += 1
            yield row
        if taken < chunk:
            return
        number += 1


def facet_counts(
    conn: Connection,
    criteria: Sequence[Criterion],
    narrowed: Sequence[Criterion] | None,
    cone: Cone | None,
    *,
    now: float,
    stored: bool = True,
    has_tokens: Callable[[str], bool] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Per facet column, its values with their count among the rows ``criteria`` (and the cone)
    match (``total``) and among those ``narrowed`` match (``shown``; the same when None).
    ``stored=False`` counts from the observations even where stored counts would serve (the
    benchmark's reference).

    A search by program alone reads the counts the writers store, and with chosen values of
    facets those hold whole (instrument, level, product type, intent, program) counts among
    the observations only what the stored rows cannot tell
    (:mod:`skyarchive.search.facet_summary`). Otherwise, without a cone, the database counts
    in two passes over the matching rows, whatever the number of facets
    (:func:`_grouped_facets`). A cone's matches are found once and their facet
    columns read by obsid. ``has_tokens``: the search's
    :func:`~skyarchive.search.tokens.asked_once`, when it has one already.
    """
    has_tokens = asked_once(conn) if has_tokens is None else has_tokens
    if cone is not None:
        shown_ids = None if narrowed is None else set(
            _cone_ids(conn, cone, narrowed, now, has_tokens)
        )  # fmt: skip
        matched = _cone_ids(conn, cone, criteria, now, has_tokens)
        return _cone_facet_counts(conn, matched, shown_ids, now=now)
    if narrowed is not None and list(narrowed[: len(criteria)]) == list(criteria):
        narrowed = narrowed[len(criteria) :]  # every counted row passes the search's own part
    if stored and counts_are_stored(criteria, narrowed or ()):
        held = stored_facet_values(conn, criteria, narrowed or (), now=now, has_tokens=has_tokens)
        return _listed_facets(held.total, None if held.shown is held.total else held.shown)
    where_all = where_clause(criteria, now=now, has_tokens=has_tokens)
    shown_flag: ColumnElement = literal(1) if narrowed is None else case(
        (where_clause(narrowed, now=now, has_tokens=has_tokens), 1), else_=0
    )  # fmt: skip
    by_program = any(c.column.name == "proposal_id" for c in criteria)
    totals: dict[str, Counter[Any]] = {name: Counter() for name in FACETS}
    shown: dict[str, Counter[Any]] = {name: Counter() for name in FACETS}
    for names, values, count, seen, released, seen_released in _grouped_facets(
        conn, where_all, shown_flag, now, by_program=by_program
    ):
        for name, value in zip(names, values, strict=True):
            totals[name][value] += count
            shown[name][value] += seen
        if released is not None:
            totals["dataRights"][PUBLIC] += released
            totals["dataRights"][EXCLUSIVE_ACCESS] += count - released
            shown["dataRights"][PUBLIC] += seen_released
            shown["dataRights"][EXCLUSIVE_ACCESS] += seen - seen_released
    return _listed_facets(totals, None if narrowed is None else shown)


def _listed_facets(
    totals: Mapping[str, Counter[Any]], shown: Mapping[str, Counter[Any]] | None
) -> dict[str, list[dict[str, Any]]]:
    """Each facet's listed values from its counts per stored value (``totals``) and among the
    rows shown (``shown``; None when every matched row is shown: its counts are the totals',
    split into parts once)."""
    out = {}
    for name in FACETS:
        column = observation_column(name)
        total = token_counts(column, totals[name].items())
        shown_here = total if shown is None else token_counts(column, shown[name].items())
        out[name] = facet_values(column, total, shown_here)
    return out


#: The two passes over the matching rows: the program with the facets that have few values
#: (missions, instruments, levels, ...), and the program with its targets. Each groups by a
#: prefix of a covering index (schema 0027: ``ix_observations_facets`` and
#: ``ix_observations_program_targets``), so a search by program reads the groups in index
#: order, with no sort, from narrow index entries instead of the wide rows.
_FACET_PASSES = (
    ("proposal_id", "obs_collection", "instrument_name", "calib_level", "filters",
     "dataproduct_type", "wavelength_region", "intentType"),
    ("proposal_id", "target_name"),
)  # fmt: skip
#: What each pass counts (the second pass's program is counted by the first).
_COUNTED = (_FACET_PASSES[0], ("target_name",))


def _grouped_facets(
    conn: Connection,
    where: ColumnElement[bool],
    shown_flag: ColumnElement,
    now: float,
    *,
    by_program: bool,
) -> Iterator[tuple[Sequence[str], Sequence[Any], int, int, int | None, int]]:
    """(facet names, their values, rows, rows shown, rows public, rows shown and public) per
    group of each pass (the public counts in the first pass only, else None).

    Whether a row is shown and whether it is public are summed, not grouped by, so the groups
    stay a prefix of the index and come in its order, with no sort, on both databases.
    (PostgreSQL's ``GROUPING SETS`` over both passes in one scan was measured slower: it sorts
    the rows again for the second set.) Without a program among the criteria, the columns are
    grouped as expressions no index holds: grouped by a bare indexed column, SQLite would read
    the whole table through that index to skip a sort instead of finding the matching rows
    through the criteria's index.
    """
    released = case((released_clause(observations.c.t_obs_release, now), 1), else_=0)

    def grouped(name: str) -> ColumnElement:
        column = observations.c[name]
        return column if by_program else func.coalesce(column, None)

    sums = [func.count(), func.sum(shown_flag)]
    public = [func.sum(released), func.sum(shown_flag * released)]
    for number, names in enumerate(_FACET_PASSES):
        keys = [grouped(n) for n in names]
        extra = public if number == 0 else []
        width = len(keys)
        for row in conn.execute(select(*keys, *sums, *extra).where(where).group_by(*keys)):
            count, seen = row[width], row[width + 1]
            if number == 0:
                yield names, row[:width], count, seen, row[width + 2], row[width + 3]
            else:  # the program is grouped by only to keep the index's order
                yield _COUNTED[1], row[1:width], count, seen, None, 0


def _facet_expression(column: ColumnInfo, now: Any, *, alone: bool = False) -> ColumnElement:
    if column.name == "dataRights":
        release = observations.c.t_obs_release
        return case((released_clause(release, now), PUBLIC), else_=EXCLUSIVE_ACCESS)
    if alone:
        # Grouped by a bare indexed column, SQLite reads the whole table through that index to
        # skip a sort (2 s at 10^6 rows) instead of finding the matching rows through the
        # criteria's index: an expression no index holds leaves it the criteria's plan.
        return func.coalesce(observations.c[column.name], None)
    return observations.c[column.name]


def _grouped_counts(
    conn: Connection, column: ColumnInfo, where: ColumnElement[bool], now: float
) -> Counter[str]:
    expr = _facet_expression(column, now, alone=True)
    query = select(expr, func.count()).where(where).group_by(expr)
    return token_counts(column, conn.execute(query))


def _cone_ids(
    conn: Connection,
    cone: Cone,
    criteria: Sequence[Criterion],
    now: float,
    has_tokens: Callable[[str], bool],
) -> list[int]:
    """The observations ``cone`` touches that ``criteria`` match (obsids, nearest first)."""
    shaped = criteria_shape(criteria, now=now, has_tokens=has_tokens)
    return [obsid for obsid, _ in cone_matches_under(conn, cone, shaped)]


@functools.lru_cache(maxsize=4)
def _cone_facet_statement(dialect: str) -> DriverRows:
    """The facet columns of observations by obsid (parameters ``ids``, a list, and ``now``),
    built once per dialect and read on the driver's cursor: its ten expressions and the ids'
    literals cost more, built per request, than the rows it reads, and the ids bound as one
    value (:func:`in_ids`) spare SQLAlchemy rendering an expanding list per execution."""
    now = bindparam("now", type_=Float)
    exprs = [_facet_expression(observation_column(name), now).label(f"f{i}")
             for i, name in enumerate(FACETS)]  # fmt: skip
    listed = in_ids(observations.c.obsid, "ids", dialect)
    return DriverRows(select(observations.c.obsid, *exprs).where(listed))


def _cone_facet_counts(
    conn: Connection, matched: Sequence[int], shown_ids: set[int] | None, *, now: float
) -> dict[str, list[dict[str, Any]]]:
    """The facet counts of a cone's ``matched`` observations (``shown_ids``: those the chosen
    facet values leave; None: all of them), their facet columns read by obsid."""
    totals: dict[str, Counter[Any]] = {name: Counter() for name in FACETS}
    shown: dict[str, Counter[Any]] = {name: Counter() for name in FACETS}
    query = _cone_facet_statement(conn.dialect.name)
    for start in range(0, len(matched), _ID_CHUNK):
        chunk = matched[start : start + _ID_CHUNK]
        for obsid, *values in query.tuples(conn, {"ids": chunk, "now": now}):
            seen = shown_ids is not None and obsid in shown_ids
            for name, value in zip(FACETS, values, strict=True):
                totals[name][value] += 1
                if seen:
                    shown[name][value] += 1
    return _listed_facets(totals, None if shown_ids is None else shown)


def _held_facet_counts(
    held: Sequence[tuple[Sequence[Any], float]], index: Mapping[str, int], now: float
) -> dict[str, list[dict[str, Any]]]:
    """The facet counts of a cone's matched observations from their rows as the page read
    them (``index``: each column's place; every row counted as shown, nothing being chosen):
    the counts :func:`_cone_facet_counts` reads by obsid, the data rights by
    :func:`~skyarchive.access.rights.data_rights`, the one rule ``released_clause`` writes
    in SQL."""
    by_column = list(zip(*(row for row, _ in held), strict=True)) if held else []
    counted: dict[str, Counter[Any]] = {}
    for name in FACETS:
        if not by_column:
            counted[name] = Counter()
        elif name == "dataRights":
            releases = by_column[index["t_obs_release"]]
            counted[name] = Counter(data_rights(release, now=now) for release in releases)
        else:
            counted[name] = Counter(by_column[index[name]])
    return _listed_facets(counted, None)


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
    has_tokens = asked_once(conn)
    where = where_clause(others, now=now, has_tokens=has_tokens)
    matching = count_observations(conn, criteria=others, now=now, has_tokens=has_tokens)
    if column.name in ("dataRights", "distance", "objID1"):
        rights = column.name == "dataRights"
        values = _rights_values(conn, others, now, has_tokens) if rights else []
        return {"column": column.name, "matching": matching, "values": values}
    if column.continuous:
        expr = observations.c[column.name]
        low, high = conn.execute(select(func.min(expr), func.max(expr)).where(where)).one()
        return {"column": column.name, "matching": matching, "min": low, "max": high}
    counts = _grouped_counts(conn, column, where, now)
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_VALUES]
    values = [{"value": value, "count": count} for value, count in ordered]
    return {"column": column.name, "matching": matching, "values": values}


def _rights_values(
    conn: Connection, others: list[Criterion], now: float, has_tokens: Callable[[str], bool]
) -> list[dict]:
    out = []
    for rights in ("PUBLIC", "EXCLUSIVE_ACCESS"):
        criterion = criteria_from([{"paramName": "dataRights", "values": [rights]}])[0]
        count = count_observations(
            conn, criteria=[*others, criterion], now=now, has_tokens=has_tokens
        )
        if count:
            out.append({"value": rights, "count": count})
    return out
