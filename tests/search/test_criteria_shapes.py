"""The criteria's one clause builder: the right rows for each kind of criterion, kept per
shape with the values bound or (long lists) with the values written in."""

from __future__ import annotations

import fnmatch
import time
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import select, update

from skyarchive.archive import Archive
from skyarchive.db.catalogue_generation import CopiesRead, noting_copies_read
from skyarchive.db.tables import observations
from skyarchive.errors import BadQuery
from skyarchive.search import criteria_shapes, tokens
from skyarchive.search.columns import observation_column
from skyarchive.search.criteria import Criterion, parse_criteria
from skyarchive.search.criteria_shapes import MOST_VALUES, criteria_shape
from skyarchive.search.observations import (
    ObservationQuery,
    count_observations,
    search_observations,
)
from skyarchive.search.portal_search import PortalQuery, run_search
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
    "a right by a pattern": [_filter("dataRights", "excl*"), _filter("dataRights", free="*_A%")],
    "an empty criterion": [_filter("obs_collection"), _filter("instrument_name", "NIRCAM/IMAGE")],
    "no right asked": [_filter("dataRights"), _filter("instrument_name", "NIRCAM/IMAGE")],
    "none": [],
}


def _criteria(filters: list[dict[str, Any]]) -> list[Criterion]:
    return parse_criteria(filters, observation_column)


def _parts(value: Any) -> set[str]:
    """A text value as MAST matches it: whole, and each ``;``-separated part (lower case)."""
    if value is None:
        return set()
    text = str(value).lower()
    return {text} | {part.strip() for part in text.split(";")}


def _any(value: Any, *wanted: str) -> bool:
    """Whether the value, or a part of it, is one of ``wanted`` (fnmatch patterns)."""
    return any(fnmatch.fnmatchcase(part, w) for part in _parts(value) for w in wanted)


_START, _END = 59215.0, 60310.0  # 2021-01-01 and 2024-01-01 as MJD

#: Which rows each criteria match, written from MAST's rules, not from our SQL.
EXPECTED: dict[str, Any] = {
    "one collection": lambda r: _any(r["obs_collection"], "jwst"),
    "texts with and without letters": lambda r: _any(r["obs_collection"], "jwst", "hst", "1x",
                                                     "12"),
    "patterns and values": lambda r: _any(r["filters"], "f2*", "f200w", "*g395m*"),
    "free text": lambda r: _any(r["target_name"], "ngc*"),
    "programs and a collection": lambda r: r["proposal_id"] in ("1073", "1366")
    and _any(r["obs_collection"], "jwst"),
    "numbers": lambda r: r["calib_level"] in (2, 3),
    "identifiers": lambda r: r["obsid"] in (2, 3, 4) and r["objID"] == 5,
    "flags": lambda r: r["mtFlag"] is not None,
    "ranges": lambda r: r["t_min"] is not None
    and (59000 <= r["t_min"] <= 60000 or r["t_min"] <= 58000 or r["t_min"] >= 60500),
    "an open range": lambda r: r["s_ra"] is not None,
    "dates": lambda r: r["t_min"] is not None and _START <= r["t_min"] <= _END,
    "public": lambda r: r["t_obs_release"] is not None and r["t_obs_release"] <= NOW
    and _any(r["obs_collection"], "jwst"),
    "both rights": lambda r: True,
    "a right by a pattern": lambda r: r["t_obs_release"] is None or r["t_obs_release"] > NOW,
    "an empty criterion": lambda r: _any(r["instrument_name"], "nircam/image"),
    "no right asked": lambda r: _any(r["instrument_name"], "nircam/image"),
    "none": lambda r: True,
}  # fmt: skip


def _matching(archive: Archive, criteria: list[Criterion]) -> list[int]:
    with archive.engine.connect() as conn:
        rows = search_observations(conn, ObservationQuery(criteria=criteria), now=NOW).rows
        return [int(row["obsid"]) for row in rows]


def _expected(archive: Archive, name: str) -> list[int]:
    with archive.engine.connect() as conn:
        rows = conn.execute(select(observations).order_by(observations.c.obsid)).mappings()
        return [row["obsid"] for row in rows if EXPECTED[name](row)]


@pytest.mark.parametrize("name", list(FILTERS))
def test_each_kind_of_criterion_finds_its_rows(name: str, demo_archive_copy: Archive) -> None:
    expected = _expected(demo_archive_copy, name)
    assert _matching(demo_archive_copy, _criteria(FILTERS[name])) == expected
    if name in (
        "one collection",
        "public",
        "free text",
        "an empty criterion",
        "no right asked",
        "a right by a pattern",
    ):
        assert expected  # the demo holds rows of these: the comparison is not vacuous


def test_a_data_rights_criterion_naming_no_right_has_no_clause() -> None:
    """parse_criteria never builds one (it refuses the value, naming the rights); one built
    by hand is not given a guessed clause (matching nothing, or everything)."""
    (rights,) = _criteria([_filter("dataRights", "PUBLIC")])
    for values in (("nobody",), ("public", "nobody")):
        with pytest.raises(ValueError, match="not the data rights"):
            criteria_shape([replace(rights, values=values)], now=NOW, has_tokens=lambda c: False)


def test_criteria_of_one_shape_share_one_statement() -> None:
    def shaped(collection: str, program: str, level: int) -> Any:
        filters = [_filter("obs_collection", collection), _filter("proposal_id", program),
                   _filter("calib_level", {"min": level})]  # fmt: skip
        return criteria_shape(_criteria(filters), now=NOW, has_tokens=lambda column: False)

    first, second = shaped("JWST", "1073", 2), shaped("HST", "12309", 3)
    assert first.shape == second.shape and first.where is second.where
    assert first.params != second.params
    # a value with letters is compared in lower case, one without exactly: another shape
    assert shaped("JWST", "jw1073", 2).shape != first.shape


def test_long_lists_of_values_are_not_kept() -> None:
    many = [str(n) for n in range(MOST_VALUES + 1)]
    criteria = _criteria([_filter("proposal_id", *many)])
    assert not criteria_shape(criteria, now=NOW, has_tokens=lambda column: False).kept
    fewer = _criteria([_filter("proposal_id", *many[:MOST_VALUES])])
    assert criteria_shape(fewer, now=NOW, has_tokens=lambda column: False).kept


def _answers(archive: Archive, criteria: list[Criterion]) -> tuple[Any, ...]:
    with archive.engine.connect() as conn:
        counted = count_observations(conn, criteria=criteria, now=NOW)
        dicts = search_observations(conn, ObservationQuery(criteria=criteria), now=NOW)
        texts = search_observations(
            conn, ObservationQuery(criteria=criteria, page=2, pagesize=3), now=NOW, as_json=True
        )
        return counted, list(dicts.rows), dicts.total, list(texts.rows), texts.total


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_kept_statements_answer_as_the_long_list_fallback(
    name: str, demo_archive_copy: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    criteria = _criteria(FILTERS[name])
    kept = _answers(demo_archive_copy, criteria)
    # every criterion now "lists too many values": the long-list fallback, values written in
    monkeypatch.setattr(criteria_shapes, "MOST_VALUES", 0)
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


def test_a_long_list_finds_the_rows_its_listed_programs_hold(demo_archive_copy: Archive) -> None:
    listed = ["1073", "1366"]
    unknown = [str(n) for n in range(900_000, 900_000 + MOST_VALUES)]
    long = _criteria([_filter("proposal_id", *unknown, *listed)])
    assert not criteria_shape(long, now=NOW, has_tokens=lambda column: False).kept
    found = _answers(demo_archive_copy, long)
    assert found == _answers(demo_archive_copy, _criteria([_filter("proposal_id", *listed)]))
    assert found[0] > 0


def _asked_tokens(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The columns searches ask :func:`tokens.column_has_tokens` of, from now on."""
    asked: list[str] = []
    really = tokens.column_has_tokens

    def counted(conn: Any, column: str) -> bool:
        asked.append(column)
        return really(conn, column)

    monkeypatch.setattr(tokens, "column_has_tokens", counted)
    return asked


@pytest.mark.parametrize("sort", [None, "t_min"], ids=["obsid order", "sorted"])
def test_a_search_asks_once_whether_a_column_holds_multi_valued_entries(
    sort: str | None, demo_archive_copy: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = _asked_tokens(monkeypatch)
    query = PortalQuery(
        filters=[_filter("obs_collection", "JWST"), _filter("filters", "F2*")],
        facets={"obs_collection": ["JWST"], "instrument_name": ["NIRCAM/IMAGE"]},
        sort=sort, pagesize=2,
    )  # fmt: skip
    with demo_archive_copy.engine.connect() as conn:
        found = run_search(conn, query, now=NOW)
    assert found.total > 2  # the page is full: its total was counted, not inferred
    assert sorted(asked) == ["filters", "obs_collection"]


@pytest.mark.parametrize(
    "values, free",
    [(["nobody"], None), (["PUBLIC", "public access"], None), ([12], None), ([True], None),
     ([""], None), (["pub"], None), (["x*"], None), ([], "abc"), (["PUBLIC"], "*nobody*")],
)  # fmt: skip
def test_a_value_no_data_right_is_refused_naming_the_rights(values: list[Any], free: Any) -> None:
    """Rather than matching no row: a mistyped right would silently find nothing."""
    entry = _filter("dataRights", *values, free=free)
    with pytest.raises(BadQuery) as refused:
        _criteria([entry])
    assert all(word in str(refused.value) for word in ("dataRights", "PUBLIC", "EXCLUSIVE_ACCESS"))


def test_data_rights_are_read_in_any_case_and_by_pattern() -> None:
    def asked(*values: Any, free: str | None = None) -> tuple[Any, ...]:
        return _criteria([_filter("dataRights", *values, free=free)])[0].values

    assert asked(" Public ", "EXCLUSIVE_access") == ("public", "exclusive_access")
    assert asked("*") == asked("p*", "E%") == ("public", "exclusive_access")
    assert asked(free="public") == asked("PUB*", "public") == ("public",)
    assert asked(free="*access") == ("exclusive_access",)


def test_searches_ask_whether_a_column_holds_multi_valued_entries_once_per_generation(
    demo_archive_copy: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = _asked_tokens(monkeypatch)
    criteria = _criteria([_filter("obs_collection", "JWST"), _filter("project", "NEWPART")])
    _until_the_watch_knows_the_generation(demo_archive_copy)
    for engine in (demo_archive_copy.search_engine, demo_archive_copy.loop_read_engine) * 2:
        with engine.connect() as conn:
            assert count_observations(conn, criteria=criteria, now=NOW) == 0
    # once for the searches of both engines (the loop's and the threads')
    assert sorted(asked) == ["obs_collection", "project"]

    with demo_archive_copy.engine.begin() as conn:  # a write moves the generation on
        obsid = conn.scalar(select(observations.c.obsid).limit(1))
        values = {"project": "JWST;NewPart"}
        conn.execute(update(observations).where(observations.c.obsid == obsid).values(values))
        replace_tokens(conn, obsid, values)
    asked.clear()
    with demo_archive_copy.search_engine.connect() as conn:
        assert count_observations(conn, criteria=criteria, now=NOW) == 1  # found by its part
    assert sorted(asked) == ["obs_collection", "project"]  # asked again
    _until_the_watch_knows_the_generation(demo_archive_copy)  # PostgreSQL: the write heard of
    with demo_archive_copy.loop_read_engine.connect() as conn:
        assert count_observations(conn, criteria=criteria, now=NOW) == 1


def test_an_answer_to_keep_is_searched_under_the_generation_the_cache_learned(
    demo_archive_copy: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The answer cache learned the generation as the request came (its epoch): the search
    whose answer it is to keep asks the watch no second time, and its columns' answers are
    kept under that generation for the searches that ask the watch."""
    _until_the_watch_knows_the_generation(demo_archive_copy)
    watch = demo_archive_copy.generation_watch()
    assert watch is not None
    learned = watch.generation()
    assert learned is not None
    reads: list[int | None] = []
    really = watch.generation
    monkeypatch.setattr(watch, "generation", lambda: reads.append(really()) or reads[-1])
    asked = _asked_tokens(monkeypatch)
    criteria = _criteria([_filter("project", "NEWPART")])
    for _ in range(2):
        under = noting_copies_read(CopiesRead(under=learned))
        with under, demo_archive_copy.search_engine.connect() as conn:
            assert count_observations(conn, criteria=criteria, now=NOW) == 0
    assert (reads, asked) == ([], ["project"])
    with demo_archive_copy.loop_read_engine.connect() as conn:  # no answer to keep: the watch
        assert count_observations(conn, criteria=criteria, now=NOW) == 0
    assert (reads, asked) == ([learned], ["project"])  # the same generation: not asked again


def _until_the_watch_knows_the_generation(archive: Archive) -> None:
    """PostgreSQL's watch knows it once its listener listens (until then each search asks)."""
    watch = archive.generation_watch()
    assert watch is not None
    deadline = time.monotonic() + 30
    while watch.generation() is None:
        assert time.monotonic() < deadline, "the generation watch never listened"
        time.sleep(0.02)


def test_without_a_watch_each_search_asks_for_itself(
    demo_archive_copy: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = demo_archive_copy.settings.model_copy(update={"answer_cache_notify": False})
    unwatched = Archive.open(settings, migrate=False)
    try:
        assert unwatched.generation_watch() is None
        asked = _asked_tokens(monkeypatch)
        criteria = _criteria([_filter("project", "NEWPART")])
        for _ in range(2):
            with unwatched.search_engine.connect() as conn:
                assert count_observations(conn, criteria=criteria, now=NOW) == 0
        assert asked == ["project", "project"]
    finally:
        unwatched.close()
