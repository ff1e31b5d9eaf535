"""The files MastMissions' ``jwst`` datasets are made of, narrowed in SQL where it is cheap.

A dataset (MAST's file set) is an exposure (``jw01189001001_02101_00001``: every detector and
level) or a level-3 product named as MAST names it, up to the instrument
(``jw01073-o001_t001_nircam``: every filter of that observation and target).

A search should not read every stored header of the archive, so the database is asked only
for the files of datasets that may match:

* ``program``, ``instrume``, ``exp_type`` and ``targname`` conditions become SQL on indexed or
  typed columns. They describe the exposure, so every file of a dataset has the same value
  and filtering files keeps each dataset whole. Values, wildcards and their negations
  (``!NRC_IMAGE``: files without a value stay, as the check keeps them) are written in SQL;
  ranges and the other columns are left to the exact check.
* A cone keeps the datasets with a file whose observation's footprint has a HEALPix cell in
  the cone's cover (:mod:`skyarchive.search.cone`): a superset of those the exact
  footprint test (done by the caller) keeps.

The caller checks every condition on the dataset rows, so narrowing never changes an answer.
When the SQL of every condition is exact (:func:`exact_in_sql`) and there is no cone, the
database also orders the datasets by name and cuts the page (:func:`dataset_page`,
:func:`count_datasets`), so only the page's files are read and parsed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    case,
    func,
    literal,
    not_,
    or_,
    select,
)
from sqlalchemy.sql.expression import literal_column

from skyarchive.db.tables import EXPOSURE_NAME_LENGTH, footprint_cells, observations
from skyarchive.db.tables import product_keywords as k
from skyarchive.db.tables import products as p
from skyarchive.search.cone import Cone as SkyCone
from skyarchive.search.cone import cells_clause
from skyarchive.search.keyword_search import guide_star_sql, product_level_sql
from skyarchive.search.mission_columns import Condition, Cone

o = observations
_FOLDED_COLUMNS = {"instrume": k.c.instrume, "exp_type": k.c.exp_type, "targname": k.c.targname}


def dataset_files(
    conn: Connection,
    *,
    conditions: Sequence[Condition] = (),
    cones: Sequence[Cone] = (),
    names: Sequence[str] | None = None,
) -> Any:
    """The JWST files (guide-star files aside) of every dataset that may match (or of the
    datasets ``names``), ordered by dataset name. Rows carry ``product_id``, ``dataset``,
    ``product_level``, ``header`` (JSON text) and the owning observation's ``t_obs_release``,
    ``s_region`` and ``obs_id``."""
    query = files_query(conn, conditions=conditions, cones=cones)
    if names is not None:
        query = query.where(dataset_name(postgres=conn.dialect.name == "postgresql").in_(names))
    return conn.execute(query)


def files_query(
    conn: Connection, *, conditions: Sequence[Condition] = (), cones: Sequence[Cone] = ()
) -> Select:
    """The SQL of :func:`dataset_files` (tests read its plan: the indexes it uses)."""
    postgres = conn.dialect.name == "postgresql"
    narrowing = _narrowing(conditions)
    query = (
        select(
            p.c.product_id,
            dataset_name(postgres=postgres).label("dataset"),
            product_level_sql().label("product_level"),
            k.c.header,
            o.c.t_obs_release,
            o.c.s_region,
            o.c.obs_id,
        )  # fmt: skip
        .select_from(_joined())
        .where(_SCOPE, *narrowing)
    )
    if cones:
        near = or_(*(cells_clause(SkyCone(c.ra, c.dec, c.radius_arcsec / 3600.0)) for c in cones))
        touched = p.c.owner_obsid.in_(select(footprint_cells.c.obsid).where(near))
        # Uncorrelated: these read the same tables as the outer query, for other rows.
        near_files = and_(_SCOPE, touched, *narrowing)
        names = select(dataset_name(postgres=postgres)).select_from(_joined()).where(near_files)
        programs = select(p.c.proposal_id).select_from(_joined()).where(near_files)
        query = query.where(
            p.c.proposal_id.in_(programs.correlate(None)),  # an index narrows the outer scan
            dataset_name(postgres=postgres).in_(names.correlate(None)),
        )
    return query.order_by(literal_column("dataset"), p.c.product_id)


#: The files datasets are made of: JWST's, guide-star files aside.
_SCOPE = and_(p.c.obs_collection == "JWST", not_(guide_star_sql()))


def _narrowing(conditions: Sequence[Condition]) -> list[ColumnElement[bool]]:
    return [clause for c in conditions if (clause := _clause(c)) is not None]


def exact_in_sql(condition: Condition) -> bool:
    """Whether the SQL of ``condition`` keeps exactly the datasets its check keeps: values or
    wildcards, negated or not, on a column every file of a dataset shares."""
    return _clause(condition) is not None


def _sorted_name(postgres: bool) -> ColumnElement[str]:
    # Python orders names by code point: so do SQLite's BINARY and PostgreSQL's "C" collation
    # (a database's own collation may sort "-" and "_" otherwise).
    name = dataset_name(postgres=postgres)
    return name.collate("C") if postgres else name


def dataset_page(
    conn: Connection,
    *,
    conditions: Sequence[Condition],
    descending: bool,
    limit: int,
    offset: int,
) -> list[str]:
    """The names of one page of the datasets whose files meet ``conditions`` (each of them
    :func:`exact_in_sql`), in name order."""
    name = _sorted_name(conn.dialect.name == "postgresql")
    query = (
        select(name.label("dataset"))
        .select_from(_joined())
        .where(_SCOPE, *_narrowing(conditions))
        .group_by(name)
        .order_by(name.desc() if descending else name)
        .limit(limit)
        .offset(offset)
    )
    return list(conn.execute(query).scalars())


def count_datasets(conn: Connection, *, conditions: Sequence[Condition]) -> int:
    """How many datasets have files meeting ``conditions`` (each :func:`exact_in_sql`)."""
    name = dataset_name(postgres=conn.dialect.name == "postgresql")
    query = (
        select(func.count(name.distinct())).select_from(_joined())
        .where(_SCOPE, *_narrowing(conditions))
    )  # fmt: skip
    return int(conn.scalar(query) or 0)


def _joined():  # type: ignore[no-untyped-def]
    return p.join(k, k.c.product_id == p.c.product_id).outerjoin(o, o.c.obsid == p.c.owner_obsid)


def dataset_name(*, postgres: bool) -> ColumnElement[str]:
    """A file's dataset: its exposure name, or for level-3 files the name up to the instrument
    (``jw01073-o001_t001_nircam``); the observation id when the name does not hold it."""
    name = p.c.productFilename
    marker = literal("_") + k.c.instrume + literal("_")  # instrume is stored lower-case
    at = func.strpos(name, marker) if postgres else func.instr(name, marker)
    short = case((at > 0, func.substr(name, 1, at + func.length(k.c.instrume))), else_=None)
    exposure = func.substr(name, literal_column("1"), literal_column(str(EXPOSURE_NAME_LENGTH)))
    return case((p.c.calib_level == 3, func.coalesce(short, o.c.obs_id)), else_=exposure)


def _clause(condition: Condition) -> ColumnElement[bool] | None:
    """SQL that the files of exactly the matching datasets meet, or None when the condition
    is left to Python. A negated term keeps the files without a value, as the check does."""
    name, terms, negated = condition.column.name, condition.terms, condition.negated
    written = (*terms, *negated)
    column: ColumnElement | None
    match: Callable[[Sequence[str]], ColumnElement[bool]]
    if name == "program":
        if not all(term.isdigit() for term in written):
            return None
        column, match = p.c.proposal_id, _program_match
    else:
        column = _FOLDED_COLUMNS.get(name)
        if column is None or any(mark in t for t in written for mark in ("..", "<", ">")):
            return None
        match = partial(_text_match, column)
    parts: list[ColumnElement[bool]] = []
    if terms:
        parts.append(match(terms))
    if negated:
        parts.append(or_(column.is_(None), not_(match(negated))))
    return and_(*parts) if parts else None


def _program_match(terms: Sequence[str]) -> ColumnElement[bool]:
    return p.c.proposal_id.in_(sorted({str(int(term)) for term in terms}))


def _text_match(column: ColumnElement, terms: Sequence[str]) -> ColumnElement[bool]:
    """``column`` (stored lower-case) equal to a plain term or like a wildcard one."""
    parts: list[ColumnElement[bool]] = []
    plain = [term.lower() for term in terms if "*" not in term]
    if plain:
        parts.append(column.in_(plain))
    for term in terms:
        if "*" in term:
            parts.append(column.like(_like(term.lower()), escape="\\"))
    return or_(*parts)


def _like(pattern: str) -> str:
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%")
