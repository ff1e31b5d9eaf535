"""Keyword filters → CAOM observations on each database: the observation search restricted
by the keyword search's owners (a subquery) lists, pages and counts the same observations as
the owners of the files the keyword search lists."""

from __future__ import annotations

from sqlalchemy import select

from skyarchive.access.rights import now_mjd
from skyarchive.db.tables import products
from skyarchive.search.criteria import parse_criteria
from skyarchive.search.keyword_search import KeywordTable, owning_observations, search_keywords
from skyarchive.search.observations import (
    ObservationQuery,
    count_observations,
    search_observations,
)


def test_observations_of_keyword_matches(keyword_archive) -> None:  # type: ignore[no-untyped-def]
    table = KeywordTable.for_service("Mast.Jwst.Filtered.Miri")
    criteria = parse_criteria([{"paramName": "exp_type", "values": ["MIR_IMAGE", "MIR_MRS"]}],
                              table.column)  # fmt: skip
    now = now_mjd()
    with keyword_archive.engine.connect() as conn:
        files = search_keywords(conn, table, criteria, columns=table.chosen("filename"), page=1,
                                pagesize=10_000, now=now)  # fmt: skip
        names = [row["filename"] for row in files.rows]
        owning = select(products.c.owner_obsid).where(products.c.productFilename.in_(names))
        expected = sorted({str(obsid) for obsid in conn.scalars(owning) if obsid is not None})
        owners = owning_observations(conn, table, criteria, now=now)

        page = search_observations(conn, ObservationQuery(obsids=owners), now=now)
        found = [row["obsid"] for row in page.rows]
        assert found == expected and len(found) > 2
        assert page.total == len(expected)
        assert count_observations(conn, obsids=owners, now=now) == len(expected)

        second = search_observations(
            conn, ObservationQuery(obsids=owners, page=2, pagesize=2, columns=["obsid"]), now=now
        )
        assert [row["obsid"] for row in second.rows] == expected[2:4]
        assert second.total == len(expected)

        as_json = search_observations(conn, ObservationQuery(obsids=owners), now=now, as_json=True)
        assert sum(1 for _ in as_json.rows) == len(expected)
