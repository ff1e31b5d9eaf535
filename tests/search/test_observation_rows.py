"""Rows rendered as JSON by the database agree with rows built in Python, on both backends.

The MAST API sends the database's JSON text (search/row_json.py); the portal builds dicts.
Both must say the same thing about every observation, including the derived columns
(dataRights, ids as text, booleans, distance) and NULLs.
"""

from __future__ import annotations

import json
import math

import pytest
from sqlalchemy import select

from skyarchive.access.rights import now_mjd
from skyarchive.db.tables import observations
from skyarchive.search import observations as observations_module
from skyarchive.search.columns import observation_column
from skyarchive.search.cone import Cone
from skyarchive.search.criteria import parse_criteria
from skyarchive.search.observations import (
    ObservationQuery,
    count_observations,
    search_observations,
)
from tests.catalogue_edits import change_first_observations


@pytest.fixture
def filled(demo_archive_copy):  # type: ignore[no-untyped-def]
    archive = demo_archive_copy
    # A moving target and an observation without a release date (exclusive access).
    change_first_observations(archive, {"mtFlag": True}, {"t_obs_release": None})
    return archive


def _both(conn, query: ObservationQuery) -> tuple[list[dict], list[dict]]:  # type: ignore[no-untyped-def]
    now = now_mjd()
    built = list(search_observations(conn, query, now=now).rows)
    rendered = [json.loads(text) for text in search_observations(conn, query, now=now,
                                                                 as_json=True).rows]  # fmt: skip
    return built, rendered


def _same(built: list[dict], rendered: list[dict]) -> None:
    assert len(built) == len(rendered) > 0
    for mine, theirs in zip(built, rendered, strict=True):
        assert mine.keys() == theirs.keys()
        for key, value in mine.items():
            if isinstance(value, float) and not isinstance(theirs[key], str):
                # SQLite writes 15 significant digits
                assert math.isclose(value, theirs[key], rel_tol=1e-14, abs_tol=1e-12), key
            else:
                assert theirs[key] == value, key


def test_every_column_agrees(filled) -> None:  # type: ignore[no-untyped-def]
    criteria = parse_criteria([{"paramName": "obs_collection", "values": ["JWST", "HST"]}],
                              observation_column)  # fmt: skip
    with filled.engine.connect() as conn:
        built, rendered = _both(conn, ObservationQuery(criteria=criteria))
    _same(built, rendered)
    rights = {row["dataRights"] for row in rendered}
    assert rights == {"PUBLIC", "EXCLUSIVE_ACCESS"}
    assert {row["mtFlag"] for row in rendered} == {True, False}
    assert all(isinstance(row["obsid"], str) and row["obsid"].isdigit() for row in rendered)


def test_projection_and_cone_with_distance_agree(filled) -> None:  # type: ignore[no-untyped-def]
    with filled.engine.connect() as conn:
        ra, dec = conn.execute(select(observations.c.s_ra, observations.c.s_dec)
                               .where(observations.c.s_ra.is_not(None)).limit(1)).one()  # fmt: skip
        cone = Cone(ra, dec, 0.2)
        for columns in (None, ["obs_id", "distance", "mtFlag", "objID1", "dataRights"],
                        ["distance"]):  # fmt: skip
            query = ObservationQuery(cone=cone, columns=columns, positional_extras=True)
            built, rendered = _both(conn, query)
            _same(built, rendered)
            assert all(row["distance"] >= 0 for row in rendered)


@pytest.mark.parametrize("first_rows", [2, 5000])
@pytest.mark.parametrize("pagesize", [1, 3, 7, 1000])
def test_totals_of_every_page(filled, pagesize: int, first_rows: int, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # A page longer than the first plain query goes on with a streamed one (first_rows=2),
    # on the faces' connection: in autocommit on PostgreSQL, a server-side cursor needs a
    # transaction of its own.
    monkeypatch.setattr(observations_module, "_FIRST_ROWS", first_rows)
    criteria = parse_criteria([{"paramName": "obs_collection", "values": ["JWST"]}],
                              observation_column)  # fmt: skip
    with filled.search_engine.connect() as conn:
        whole = ObservationQuery(criteria=criteria, pagesize=100_000)
        every = [row["obsid"] for row in search_observations(conn, whole, now=now_mjd()).rows]
        expected = len(every)
        assert expected > 7 and every == sorted(every, key=int)
        last = -(-expected // pagesize)
        for page in (1, 2, last, last + 1, last + 5):
            query = ObservationQuery(criteria=criteria, page=page, pagesize=pagesize)
            result = search_observations(conn, query, now=now_mjd(), as_json=True)
            rows = [json.loads(text)["obsid"] for text in result.rows]
            assert result.total == expected, (page, pagesize)
            start = (page - 1) * pagesize
            assert rows == every[start : start + pagesize]
            built = search_observations(conn, query, now=now_mjd())
            assert [row["obsid"] for row in built.rows] == rows


@pytest.mark.parametrize(
    "filters",
    [
        [{"paramName": "proposal_id", "values": ["4567", "1073", "1558", "no such program"]}],
        # two spellings of one value match the same rows: each row once
        [{"paramName": "instrument_name", "values": ["MIRI/IMAGE", "miri/image", "NIRSPEC/IFU"]}],
        [{"paramName": "calib_level", "values": [3, 2]}],
    ],
)
def test_pages_of_values_read_value_by_value_are_the_rows_in_obsid_order(  # type: ignore[no-untyped-def]
    filled, filters
) -> None:
    """A criterion listing values of an indexed column reads each value's first rows and
    pages their union: every page, and the total, as the rows listed in obsid order."""
    now = now_mjd()
    criteria = parse_criteria(filters, observation_column)
    column = observations.c[criteria[0].column.name]
    wanted = {str(v).lower() for v in criteria[0].values}
    with filled.engine.connect() as conn:
        listed = [
            str(obsid)
            for obsid, value in conn.execute(
                select(observations.c.obsid, column).order_by(observations.c.obsid)
            )
            if value is not None and str(value).lower() in wanted
        ]
        assert len(listed) > 7
        pages = []
        for number in range(1, len(listed) // 7 + 3):
            query = ObservationQuery(criteria=criteria, columns=["obsid"], page=number,
                                     pagesize=7)  # fmt: skip
            page = search_observations(conn, query, now=now)
            pages += [row["obsid"] for row in page.rows]
            assert page.total == len(listed)
    assert pages == listed


def test_a_cone_with_criteria_binds_each_searchs_values(filled) -> None:  # type: ignore[no-untyped-def]
    # a cone and a criterion of one shape, asked with each value in turn: the statements are
    # kept per shape, and each search gets the cone's rows of its own value, nearest first
    now = now_mjd()
    cone = Cone(283.396, 33.029, 1 / 60)  # M57, where the demo has observations of several kinds
    with filled.engine.connect() as conn:
        every = list(search_observations(conn, ObservationQuery(cone=cone), now=now).rows)
        values = sorted({row["instrument_name"] for row in every})
        assert len(values) >= 2 and len(every) > len(values)
        for value in [*values, "NO SUCH INSTRUMENT"]:
            criteria = parse_criteria([{"paramName": "instrument_name", "values": [value]}],
                                      observation_column)  # fmt: skip
            query = ObservationQuery(cone=cone, criteria=criteria, positional_extras=True)
            rows = [json.loads(text) for text in
                    search_observations(conn, query, now=now, as_json=True).rows]  # fmt: skip
            expected = [row["obs_id"] for row in every if row["instrument_name"] == value]
            assert [row["obs_id"] for row in rows] == expected
            assert all(row["objID1"] == row["objID"] for row in rows)
            # and the count (COUNT_BIG with a position) keeps its statement the same way
            assert count_observations(conn, criteria=criteria, cone=cone, now=now) == len(expected)
