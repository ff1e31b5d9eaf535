"""The portal's facet counts (grouped in the database, two passes) against the same rows
listed one by one and counted in Python, on SQLite and PostgreSQL, with and without chosen
facet values, by program and by other columns."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from sqlalchemy import select

from skyarchive.access.rights import now_mjd
from skyarchive.db.tables import observations
from skyarchive.search.columns import observation_column
from skyarchive.search.portal_query import PositionQuery
from skyarchive.search.portal_search import (
    FACETS,
    PortalQuery,
    base_criteria,
    cone_of,
    facet_counts,
    facet_criteria,
    matching_rows,
)

COLUMNS = [name for name in FACETS]


def _counted_one_by_one(archive, query: PortalQuery, now: float) -> dict[str, Counter[str]]:  # type: ignore[no-untyped-def]
    """Each facet's values counted over the rows the page query lists, parts of `;`-separated
    values once each; data rights from the release date."""
    counts: dict[str, Counter[str]] = {name: Counter() for name in FACETS}
    with archive.engine.connect() as conn:
        obsids = [
            int(row["obsid"]) for row in matching_rows(conn, query, now=now, columns=["obsid"])
        ]
        rows = conn.execute(select(observations).where(observations.c.obsid.in_(obsids))).all()
    for row in rows:
        values: dict[str, Any] = dict(row._mapping)
        public = values["t_obs_release"] is not None and values["t_obs_release"] <= now
        values["dataRights"] = "PUBLIC" if public else "EXCLUSIVE_ACCESS"
        for name in FACETS:
            value = values[name]
            if value is None or value == "":
                continue
            separator = observation_column(name).separator
            parts = str(value).split(separator) if separator else [str(value)]
            for part in dict.fromkeys(p.strip() for p in parts if p.strip()):
                counts[name][part] += 1
    return counts


@pytest.mark.parametrize(
    ("filters", "chosen"),
    [
        ([{"paramName": "proposal_id", "values": ["1073", "1558", "4567"]}], {}),
        ([{"paramName": "proposal_id", "values": ["1073", "1558", "4567"]}],
         {"instrument_name": ["MIRI/IMAGE", "NIRCAM/IMAGE"]}),
        ([{"paramName": "proposal_id", "values": ["1558", "4567"]}],
         {"dataRights": ["EXCLUSIVE_ACCESS"], "calib_level": [3]}),
        ([{"paramName": "obs_collection", "values": ["JWST"]}], {"filters": ["F1000W"]}),
        ([{"paramName": "calib_level", "values": [2, 3]}], {}),
    ],
)  # fmt: skip
def test_facet_counts_match_the_rows_counted_one_by_one(demo_archive_copy, filters, chosen) -> None:  # type: ignore[no-untyped-def]
    now = now_mjd()
    query = PortalQuery(filters=filters, facets=chosen)
    criteria = base_criteria(query)
    narrowed = [*criteria, *facet_criteria(chosen)] if chosen else None
    with demo_archive_copy.engine.connect() as conn:
        got = facet_counts(conn, criteria, narrowed, None, now=now)
    total = _counted_one_by_one(demo_archive_copy, PortalQuery(filters=filters), now)
    shown = _counted_one_by_one(demo_archive_copy, query, now)
    assert sum(total["obs_collection"].values()) > 0
    for name in FACETS:
        assert {v["value"]: v["total"] for v in got[name]} == dict(total[name]), name
        assert {v["value"]: v["shown"] for v in got[name] if v["shown"]} == dict(shown[name]), name


@pytest.mark.parametrize(
    ("filters", "chosen"),
    [
        ([], {"instrument_name": ["NIRCAM/IMAGE"]}),
        ([{"paramName": "obs_collection", "values": ["JWST"]}], {"calib_level": [3]}),
        ([{"paramName": "obs_collection", "values": ["JWST"]}], {"calib_level": [2]}),
    ],
)  # fmt: skip
def test_facet_counts_of_a_cone_match_its_rows_counted_one_by_one(
    demo_archive_copy, filters, chosen
) -> None:  # type: ignore[no-untyped-def]
    # a position search's facets: the cone's matches under the search's criteria and under
    # the chosen values, each read through the cone statement kept per shape of criteria
    now = now_mjd()
    position = PositionQuery("m57 r=1m", 283.396, 33.029, 1 / 60)
    query = PortalQuery(position=position, filters=filters, facets=chosen)
    criteria = base_criteria(query)
    narrowed = [*criteria, *facet_criteria(chosen)]
    with demo_archive_copy.engine.connect() as conn:
        got = facet_counts(conn, criteria, narrowed, cone_of(position), now=now)
    total = _counted_one_by_one(
        demo_archive_copy, PortalQuery(position=position, filters=filters), now
    )
    shown = _counted_one_by_one(demo_archive_copy, query, now)
    assert sum(total["obs_collection"].values()) > sum(shown["obs_collection"].values()) > 0
    for name in FACETS:
        assert {v["value"]: v["total"] for v in got[name]} == dict(total[name]), name
        assert {v["value"]: v["shown"] for v in got[name] if v["shown"]} == dict(shown[name]), name
