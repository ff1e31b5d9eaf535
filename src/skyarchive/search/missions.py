"""MastMissions' ``jwst`` search: one row per dataset (file set), found by conditions and cone.

A dataset is what MAST's mission search calls a file set: the files of one exposure
(``jw01189001001_02101_00001``) or of one level-3 product (its observation id). Its columns
come from the stored primary headers of its files (the highest-level file speaks for the set)
and from the archive (release date, access, footprint). The request's ``conditions`` use
MastMissions' small value language:

* ``a,b`` — alternatives (OR); a leading ``!`` negates a term (negated terms are AND-ed with
  the OR of the others);
* ``<v``, ``>v``, ``<=v``, ``>=v`` and ``a..b`` (inclusive) on numbers and dates;
* ``*`` wildcards on text; text matches ignore case; ``pi_name`` matches by containment;
* ``access`` takes only the data rights (``PUBLIC``, ``EXCLUSIVE_ACCESS``), or wildcards
  matching one: any other term is refused, as it would match nothing (or, negated, all).

Wire shapes (JSON body, ``info``/``results`` envelope) belong to the face
(:mod:`skyarchive.api.mast.missions`); this module returns rows.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection

from skyarchive.access.rights import DATA_RIGHTS, data_rights
from skyarchive.errors import BadQuery, UnknownColumn
from skyarchive.search.criteria import control_character
from skyarchive.search.mission_columns import (
    BY_NAME,
    COLUMNS,
    Condition,
    Cone,
    MissionColumn,
    Test,
)
from skyarchive.search.mission_files import (
    count_datasets,
    dataset_files,
    dataset_page,
    exact_in_sql,
)
from skyarchive.search.wildcards import glob_match, glob_matcher
from skyarchive.sky.stored_footprints import s_region_distances_arcsec

MISSIONS = ("jwst",)
_LEVEL_ORDER = ("1b", "2a", "2b", "2c", "3")
_MJD_EPOCH = datetime(1858, 11, 17, tzinfo=UTC)
MAX_TARGETS = 100
MAX_RADIUS_ARCSEC = 30 * 60.0  # what astroquery itself allows
MAX_CONDITION_TEXT = 2000
MAX_CONDITIONS = 100


DATASET_COLUMN = "fileSetName"
#: The column computed from the release date: its values are the data rights alone.
ACCESS_COLUMN = "access"
#: Always in a result, whatever ``select_cols`` says (as MAST does).
ALWAYS = ("ArchiveFileID", "s_region")
_OPTICS = ("FILTER", "PUPIL", "GRATING", "CHANNEL", "BAND", "CORONMSK")


def column(name: str) -> MissionColumn:
    """The column called ``name`` (case-sensitive, as MastMissions is).

    Raises
    ------
    UnknownColumn
        Naming the closest column.
    """
    found = BY_NAME.get(name) if isinstance(name, str) else None
    if found is None:
        close = difflib.get_close_matches(str(name), list(BY_NAME), n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise UnknownColumn(f"Unknown jwst column '{str(name)[:60]}'.{hint}")
    return found


def check_mission(mission: str) -> str:
    """The mission, lower-cased, if this archive serves it; else :class:`BadQuery`."""
    name = mission.strip().lower()
    if name not in MISSIONS:
        raise BadQuery(f"Unknown mission '{mission[:40]}'; this archive serves: jwst.")
    return name


# --- conditions -------------------------------------------------------------------------

_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})?", re.ASCII)
_TIME = r"[T ][0-9]{2}(?::[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?)?"
_DATE = re.compile(rf"[0-9]{{4}}(?:-[0-9]{{2}}(?:-[0-9]{{2}}(?:{_TIME})?)?)?", re.ASCII)
_COMPARISON = re.compile(r"(<=|>=|<|>)(.*)", re.DOTALL)


def parse_conditions(raw: Any) -> list[Condition]:
    """The request's ``conditions``: a list of one-key objects (a plain object is accepted).

    Raises
    ------
    BadQuery
        Unknown or unsearchable columns, and values the column's type cannot hold.
    """
    if raw in (None, ""):
        return []
    if isinstance(raw, dict):
        raw = [{key: value} for key, value in raw.items()]
    if not isinstance(raw, list):
        raise BadQuery("'conditions' must be a list of {column: value} objects.")
    if len(raw) > MAX_CONDITIONS:
        raise BadQuery(f"At most {MAX_CONDITIONS} conditions per search (got {len(raw)}).")
    conditions = []
    for entry in raw:
        if not isinstance(entry, dict) or not entry:
            raise BadQuery(f"Each condition is a {{column: value}} object; got {_shown(entry)}.")
        conditions += [_condition(name, value) for name, value in entry.items()]
    return conditions


def _condition(name: str, value: Any) -> Condition:
    col = column(name)
    if not col.queryable:
        raise BadQuery(f"Column '{name}' cannot be searched.")
    if isinstance(value, list):
        value = ",".join(str(item) for item in value)
    if col.name == ACCESS_COLUMN:
        _check_rights(col, value)
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise BadQuery(f"{name}: {_shown(value)} is not a value; send text or a number.")
    text = str(value)
    if len(text) > MAX_CONDITION_TEXT:
        raise BadQuery(
            f"{name}: the value is {len(text)} characters; at most {MAX_CONDITION_TEXT}."
        )
    control = control_character(text)
    if control is not None:  # PostgreSQL stores no NUL: refused alike on both databases
        raise BadQuery(
            f"{name}: {_shown(text)} holds a control character ({control}); conditions take "
            "printable text."
        )
    positives: list[Test] = []
    negatives: list[Test] = []
    plain: list[str] = []
    terms: list[str] = []
    negated_terms: list[str] = []
    for term in (t.strip() for t in text.split(",")):
        negated = term.startswith("!")
        term = term[1:].strip() if negated else term
        if not term:
            continue
        (negatives if negated else positives).append(_term(col, term))
        (negated_terms if negated else terms).append(term)
        if not negated and not any(mark in term for mark in ("*", "..", "<", ">")):
            plain.append(term)
    if not positives and not negatives:
        raise BadQuery(f"{name}: the condition is empty.")
    exact = tuple(plain) if len(plain) == len(positives) and not negatives else None
    return Condition(col, tuple(positives), tuple(negatives), text, exact, tuple(terms),
                     tuple(negated_terms))  # fmt: skip


def _term(col: MissionColumn, term: str) -> Test:
    if col.numeric or col.qual_type == "datetime":
        read = _number_reader(col) if col.numeric else _date_reader(col)
        if ".." in term:
            low_text, _, high_text = term.partition("..")
            low, high = read(low_text), read(high_text)
            return lambda v: v is not None and low <= _comparable(col, v) <= high
        compared = _COMPARISON.fullmatch(term)
        if compared:
            op, bound = compared.group(1), read(compared.group(2))
            return _compare(col, op, bound)
        exact = read(term)
        if col.qual_type == "datetime":  # a date without a time is the whole day (or month)
            day = str(exact)
            return lambda v: v is not None and str(v).startswith(day)
        return lambda v: v is not None and _comparable(col, v) == exact
    pattern = term.lower()
    if "*" in pattern:
        matches = glob_matcher(pattern)  # read once, tried on every row
        return lambda v: v is not None and matches(str(v).lower())
    if col.qual_type == "substring":
        return lambda v: v is not None and pattern in str(v).lower()
    return lambda v: v is not None and str(v).lower() == pattern


def _check_rights(col: MissionColumn, value: Any) -> None:
    """Refuse an ``access`` condition holding anything but data rights (any case) or wildcard
    patterns matching one, each maybe negated: another term (a mistyped right, a number, a
    range, a long or unprintable text) would match no dataset (negated, every one), so a
    mistyped right would silently find nothing. Other values (``true``, ``null``, an object)
    are refused alike, naming the rights."""
    if not isinstance(value, str) or len(value) > MAX_CONDITION_TEXT:
        # a long value is no right: refused at once, before its terms are split and matched
        raise BadQuery(_no_right(col, value))
    for term in (t.strip() for t in value.split(",")):
        term = term[1:].strip() if term.startswith("!") else term
        # without a "*", glob_match is plain equality; an empty term is the loop's to refuse
        if term and not any(glob_match(term.lower(), r.lower()) for r in DATA_RIGHTS):
            raise BadQuery(_no_right(col, term))


def _no_right(col: MissionColumn, value: Any) -> str:
    rights = " or ".join(DATA_RIGHTS)
    return (f"{col.name}: {_shown(value)} is not a data right: give {rights} (any case; "
            "* is a wildcard matching either; a,b lists them, !a excludes one).")  # fmt: skip


def _compare(col: MissionColumn, op: str, bound: Any) -> Test:
    def test(value: Any) -> bool:
        if value is None:
            return False
        v = _comparable(col, value)
        if op == "<":
            return v < bound
        if op == ">":
            return v > bound
        if op == "<=":
            return v <= bound
        return v >= bound

    return test


def _comparable(col: MissionColumn, value: Any) -> Any:
    return float(value) if col.numeric else str(value)


def _number_reader(col: MissionColumn) -> Callable[[str], float]:
    def read(text: str) -> float:
        text = text.strip()
        if not _NUMBER.fullmatch(text):
            raise BadQuery(f"{col.name}: {_shown(text)} is not a number ({col.qual_type} column).")
        return float(text)

    return read


def _date_reader(col: MissionColumn) -> Callable[[str], str]:
    def read(text: str) -> str:
        text = text.strip()
        if not _DATE.fullmatch(text):
            raise BadQuery(
                f"{col.name}: {_shown(text)} is not a date; write YYYY[-MM[-DD[Thh:mm:ss]]]."
            )
        return text.replace(" ", "T")

    return read


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:30] + "...'"


# --- the search -------------------------------------------------------------------------


@dataclass
class MissionQuery:
    conditions: list[Condition] = field(default_factory=list)
    cones: list[Cone] = field(default_factory=list)
    columns: Sequence[MissionColumn] = ()
    sort_by: Sequence[MissionColumn] = ()
    sort_desc: Sequence[bool] = ()
    limit: int = 5000
    offset: int = 0


@dataclass
class MissionPage:
    columns: Sequence[MissionColumn]
    rows: list[dict[str, Any]]
    total: int


def output_columns(select_cols: Sequence[str] | None, *, positional: bool) -> list[MissionColumn]:
    """The result's columns, in ``column_list`` order: the default set, or the chosen ones
    plus ``ArchiveFileID`` and ``s_region``; ``'*'`` or ``'all'`` chooses every column.

    Raises
    ------
    UnknownColumn
        For a name not in the column list.
    """
    if select_cols is None:
        return [c for c in COLUMNS if c.default or (positional and c.name == "ang_sep")]
    if any(name in ("*", "all") for name in select_cols):
        return [c for c in COLUMNS if positional or c.name not in ("ang_sep", "search_pos")]
    wanted = {column(name).name for name in select_cols} | set(ALWAYS)
    return [c for c in COLUMNS if c.name in wanted]


def search_datasets(conn: Connection, query: MissionQuery, *, now: float) -> MissionPage:
    """The datasets matching ``query``: one page and the number of all matches.

    Rows are ordered by ``fileSetName`` unless ``query.sort_by`` says otherwise. The database
    hands over only the files of datasets that may match (:func:`dataset_files`); every
    condition is then checked exactly on the dataset rows.
    """
    if _paged_in_sql(query):
        return _page_from_sql(conn, query, now=now)
    files = dataset_files(conn, conditions=query.conditions, cones=query.cones)
    matched = [row for row in datasets(files, now=now) if _matches(row, query)]
    if query.cones:
        _add_separations(matched, query.cones)
    matched.sort(key=lambda row: row["fileSetName"])
    for col, descending in reversed(list(zip(query.sort_by, query.sort_desc, strict=False))):
        present = [r for r in matched if r.get(col.name) is not None]
        missing = [r for r in matched if r.get(col.name) is None]
        present.sort(key=itemgetter(col.name), reverse=descending)
        matched = present + missing
    page = matched[query.offset : query.offset + query.limit]
    rows = [{c.name: row.get(c.name) for c in query.columns} for row in page]
    return MissionPage(query.columns, rows, len(matched))


def _paged_in_sql(query: MissionQuery) -> bool:
    """Whether the database can order and cut the page: no cone (its footprint test is
    exact only here), every condition exact in SQL, and the datasets in name order."""
    by_name = not query.sort_by or query.sort_by[0].name == DATASET_COLUMN
    return by_name and not query.cones and all(exact_in_sql(c) for c in query.conditions)


def _page_from_sql(conn: Connection, query: MissionQuery, *, now: float) -> MissionPage:
    """The page as :func:`search_datasets` makes it, reading only the page's files."""
    descending = bool(query.sort_by) and bool(query.sort_desc) and query.sort_desc[0]
    names = dataset_page(conn, conditions=query.conditions, descending=descending,
                         limit=query.limit, offset=query.offset)  # fmt: skip
    total = count_datasets(conn, conditions=query.conditions)
    found = datasets(dataset_files(conn, conditions=query.conditions, names=names), now=now)
    by_name = {row["fileSetName"]: row for row in found}
    rows = [{c.name: by_name[name].get(c.name) for c in query.columns} for name in names]
    return MissionPage(query.columns, rows, total)


def _matches(row: dict[str, Any], query: MissionQuery) -> bool:
    return all(condition.matches(row) for condition in query.conditions)


def _add_separations(rows: list[dict[str, Any]], cones: Sequence[Cone]) -> None:
    """Keep the rows whose footprint touches a cone; ``ang_sep`` is the distance in arcmin
    from the nearest cone's centre to the footprint (0 when the centre is inside it)."""
    placed = [index for index, row in enumerate(rows) if row.get("s_region")]
    regions = [rows[index]["s_region"] for index in placed]
    best: list[tuple[float, Cone] | None] = [None] * len(rows)
    for cone in cones:
        if not regions:
            break
        distances = s_region_distances_arcsec(regions, cone.ra, cone.dec)
        for index, distance in zip(placed, distances, strict=True):
            if distance <= cone.radius_arcsec:
                current = best[index]
                if current is None or distance < current[0]:
                    best[index] = (float(distance), cone)
    kept = []
    for row, found in zip(rows, best, strict=True):
        if found is not None:
            row["ang_sep"] = round(found[0] / 60.0, 6)
            row["search_pos"] = found[1].text
            row["search_key"] = f"{row['ArchiveFileID']}{found[1].text}"
            kept.append(row)
    rows[:] = kept


def datasets(files: Iterable[Any], *, now: float) -> Iterator[dict[str, Any]]:
    """Dataset rows (:data:`COLUMNS` values, positional ones left out) from ``files`` ordered
    by dataset, as :func:`dataset_files` gives them."""
    group: list[Any] = []
    for file_row in files:
        if group and file_row.dataset != group[0].dataset:
            yield _dataset(group, now)
            group = []
        group.append(file_row)
    if group:
        yield _dataset(group, now)


def _dataset(files: list[Any], now: float) -> dict[str, Any]:
    levels = {f.product_level for f in files}
    top = max(files, key=lambda f: (_LEVEL_ORDER.index(f.product_level), -f.product_id))
    # Headers of the top level's files (parsed once): the optical setups of all of them, the
    # other columns from ``top``'s.
    headers = {f.product_id: json.loads(f.header or "{}") for f in files
               if f.product_level == top.product_level}  # fmt: skip
    header = headers[top.product_id]
    row: dict[str, Any] = {
        "ArchiveFileID": min(f.product_id for f in files),
        "fileSetName": top.dataset,
        "productLevel": ", ".join(level for level in _LEVEL_ORDER if level in levels),
        "opticalElements": _optical_elements(headers.values()),
        "date_obs": _date_obs(header),
        "publicReleaseDate": _iso_of_mjd(top.t_obs_release),
        "access": data_rights(top.t_obs_release, now=now),
        "s_region": top.s_region,
    }
    instrument = str(header.get("INSTRUME") or "").upper()
    for col in COLUMNS:
        if col.keyword is not None and col.instrument in (None, instrument):
            row[col.name] = _typed(header.get(col.keyword), col)
    return row


def _optical_elements(headers: Iterable[dict[str, Any]]) -> str | None:
    """Each distinct optical setup (``F444W;CLEAR``) in the headers, comma-separated as MAST
    writes a dataset's several (NIRCam's short- and long-wave detectors, a level-3 product's
    filters)."""
    elements = {";".join(str(h[k]) for k in _optics(h) if h.get(k)) for h in headers}
    return ", ".join(sorted(e for e in elements if e)) or None


def _optics(header: dict[str, Any]) -> tuple[str, ...]:
    # NIRCam's CHANNEL says which detector (SHORT or LONG), not an optical element: MAST's
    # NIRCam values read "F115W;CLEAR, F444W;CLEAR".
    if str(header.get("INSTRUME", "")).upper() == "NIRCAM":
        return tuple(k for k in _OPTICS if k != "CHANNEL")
    return _OPTICS


def _typed(value: Any, col: MissionColumn) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        if col.qual_type == "integer":
            return int(str(value).strip())
        if col.numeric:
            return float(value)
    except ValueError:
        return None
    return str(value).strip()


def _date_obs(header: dict[str, Any]) -> str | None:
    date = header.get("DATE-OBS")
    if not isinstance(date, str) or not date.strip():
        return None
    if "T" in date:
        return date.strip()
    time = str(header.get("TIME-OBS") or "00:00:00").strip()
    whole, _, fraction = time.partition(".")
    return f"{date.strip()}T{whole}.{(fraction + '0000000')[:7]}"


def _iso_of_mjd(mjd: float | None) -> str | None:
    if mjd is None:
        return None
    moment = _MJD_EPOCH + timedelta(days=float(mjd))
    return moment.strftime("%Y-%m-%dT%H:%M:%S")
