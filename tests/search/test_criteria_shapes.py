"""Criteria statements kept per shape: the clause is the one built per search, values bound."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite

from skyarchive.archive import Archive
from skyarchive.db.tables import observations
from skyarchive.search import observations as observation_search
from skyarchive.search.columns import observation_column
from skyarchive.search.criteria import Criterion, parse_criteria
from skyarchive.search.criteria_shapes import MOST_VALUES, shaped_criteria
from skyarchive.search.observations import (
    ObservationQuery,
    count_observations,
    search_observations,
    where_clause,
)
from skyarchive.search.tokens import replace_tokens

NOW = 60_000.5


def _filter(name: str, *values: Any, free: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"paramName": name, "values": list(values)}
    return entry | ({"freeText": free} if free else {})


FILTERS = {
    "one collection": [_filter("obs_collection", "JWST")],
    "texts with and without letters": [_filter("obs_collection", "JWST", "hst", "1x", "12")],
    "patterns and values": [_filter("filters", "F2*", "F200W", "*G395M*")],
    "free text": [_filter("target_name", free="ngc%")],
    "programs and a collection": [
        _filter("proposal_id", "1073", "1366"),
        _filter("obs_collection", "JWST"),
    ],  # fmt: skip
    "numbers": [_filter("calib_level", 2, "3")],
    "identifiers": [_filter("obsid", 2, 3, 4), _filter("objID1", 5)],
    "flags": [_filter("mtFlag", "T", False, "yes")],
    "ranges": [_filter("t_min", {"min": 59000, "max": 60000}, {"max": 58000}, {"min": 60500})],
    "an open range": [_filter("s_ra", {"min": None, "max": None})],
    "dates": [_filter("t_min", {"min": "2021-01-01", "max": "2024-01-01"})],
    "public": [_filter("dataRights", "PUBLIC"), _filter("obs_collection", "JWST")],
    "both rights": [_filter("dataRights", "public", "exclusive_access")],
    "no right": [_filter("dataRights", "nobody")],
    "an empty criterion": [_filter("obs_collection"), _filter("instrument_name", "NIRCAM/IMAGE")],
    "none": [],
}


def _criteria(filters: list[dict[str, Any]]) -> list[Criterion]:
    return parse_criteria(filters, observation_column)


def _sent(clause: Any, dialect: Any, params: dict[str, Any]) -> tuple[str, list[Any] | None]:
    """The SQL as the driver gets it (names of parameters left out) and, if positional, the
    values in order."""
    compiled = clause.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    text = re.sub(r"%\(\w+\)s", "%s", str(compiled))
    values = {**compiled.params, **params}
    return text, [values[k] for k in compiled.positiontup] if compiled.positional else None


@pytest.mark.parametrize("tokens", [True, False], ids=["parts", "no parts"])
@pytest.mark.parametrize("name", list(FILTERS))
def test_the_kept_clause_is_the_clause_built_per_search(
    name: str, tokens: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    criteria = _criteria(FILTERS[name])
    monkeypatch.setattr(observation_search, "column_has_tokens", lambda conn, column: tokens)
    built = where_clause(criteria, now=NOW, conn=object())  # type: ignore[arg-type]
    shaped = shaped_criteria(criteria, now=NOW, has_tokens=lambda column: tokens)
    assert shaped is not None
    for dialect in (sqlite.dialect(), postgresql.dialect()):
        assert _sent(shaped.where, dialect, shaped.params) == _sent(built, dialect, {})


def test_criteria_of_one_shape_share_one_statement() -> None:
    def shaped(collection: str, program: str, level: int) -> Any:
        filters = [_filter("obs_collection", collection), _filter("proposal_id", program),
                   _filter("calib_level", {"min": level})]  # fmt: skip
        return shaped_criteria(_criteria(filters), now=NOW, has_tokens=lambda column: False)

    first, second = shaped("JWST", "1073", 2), shaped("HST", "12309", 3)
    assert first.shape == second.shape and first.where is second.where
    assert first.params != second.params
    # a value with letters is compared in lower case, one without exactly: another shape
    assert shaped("JWST", "jw1073", 2).shape != first.shape


def test_long_lists_of_values_are_not_kept() -> None:
    many = [str(n) for n in range(MOST_VALUES + 1)]
    criteria = _criteria([_filter("proposal_id", *many)])
    assert shaped_criteria(criteria, now=NOW, has_tokens=lambda column: False) is None
    fewer = _criteria([_filter("proposal_id", *many[:MOST_VALUES])])
    assert shaped_criteria(fewer, now=NOW, has_tokens=lambda column: False) is not None


def _answers(archive: Archive, criteria: list[Criterion]) -> tuple[Any, ...]:
    with archive.engine.connect() as conn:
        counted = count_observations(conn, criteria=criteria, now=NOW)
        dicts = search_observations(conn, ObservationQuery(criteria=criteria), now=NOW)
        texts = search_observations(
            conn, ObservationQuery(criteria=criteria, page=2, pagesize=3), now=NOW, as_json=True
        )
        return counted, list(dicts.rows), dicts.total, list(texts.rows), texts.total


@pytest.mark.parametrize(
    "name", [n for n in FILTERS if n not in ("numbers", "identifiers", "no right")]
)
def test_kept_statements_answer_as_built_ones(
    name: str, demo_archive_copy: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    criteria = _criteria(FILTERS[name])
    kept = _answers(demo_archive_copy, criteria)
    monkeypatch.setattr(observation_search, "_shaped", lambda criteria, now, conn: None)
    assert kept == _answers(demo_archive_copy, criteria)
    counted, rows, total, _texts, _texts_total = kept
    assert counted == total == len(rows)


def test_a_multi_valued_entry_ingested_later_is_found_by_its_parts(
    demo_archive_copy: Archive,
) -> None:
    # no entry of ``project`` is multi-valued in the demo: its kept shape has no part matching
    criteria = _criteria([_filter("project", "NEWPART")])
    assert _answers(demo_archive_copy, criteria)[0] == 0
    with demo_archive_copy.engine.begin() as conn:
        obsid = conn.scalar(select(observations.c.obsid).limit(1))
        values = {"project": "JWST;NewPart"}
        conn.execute(update(observations).where(observations.c.obsid == obsid).values(values))
        replace_tokens(conn, obsid, values)
    counted, rows, total, _texts, _texts_total = _answers(demo_archive_copy, criteria)
    assert (counted, total, [row["obsid"] for row in rows]) == (1, 1, [str(obsid)])
