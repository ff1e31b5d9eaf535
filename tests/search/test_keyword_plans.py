"""Keyword queries use the keyword store's indexes, on SQLite and on PostgreSQL (EXPLAIN).

PostgreSQL is told not to scan whole tables (``enable_seqscan = off``): the demo archive is
small enough that a sequential scan is cheapest, and the question here is whether an index
*can* serve the query, as it must at a million files.
"""

from __future__ import annotations

import pytest

from skyarchive.access.rights import now_mjd
from skyarchive.search.criteria import parse_criteria
from skyarchive.search.keyword_search import KeywordTable, page_query
from tests.plans import plan_of as _plan
from tests.plans import uses_index as _uses


def _query_plan(archive, service: str, filters: list) -> str:  # type: ignore[no-untyped-def]
    table = KeywordTable.for_service(f"Mast.Jwst.Filtered.{service}")
    criteria = parse_criteria(filters, table.column)
    with archive.engine.begin() as conn:
        query = page_query(conn, table, criteria, page=1, pagesize=100, now=now_mjd())
        return _plan(conn, query)


# A correlated subquery per file (the old "highest level" rule) shows as one of these.
_PER_ROW_SUBQUERY = ("CORRELATED", "SubPlan", "sibling")


@pytest.mark.parametrize(
    ("filters", "index"),
    [
        ([{"paramName": "exp_type", "values": ["MIR_IMAGE"]}],
         "ix_product_keywords_listed_in_exp_type"),
        ([{"paramName": "exp_type", "values": ["mir_image", "Mir_Mrs"]}],
         "ix_product_keywords_listed_in_exp_type"),
        ([{"paramName": "filter", "values": ["F770W"]}], "ix_product_keywords_listed_in_filter"),
        ([{"paramName": "detector", "values": ["MIRIMAGE"]}],
         "ix_product_keywords_listed_in_detector"),
    ],
)  # fmt: skip
def test_typed_keyword_criteria_are_served_by_an_index(
    keyword_archive, filters: list, index: str
) -> None:  # type: ignore[no-untyped-def]
    plan = _query_plan(keyword_archive, "Miri", filters)
    if keyword_archive.engine.dialect.name == "sqlite" and len(filters[0]["values"]) > 1:
        # With its statistics SQLite may rightly read the (small) table in product_id order
        # instead of sorting the rows of several exp_type values; either way by an index.
        index = "ix_product_keywords_listed_in"
    assert _uses(plan, index), plan
    assert not any(word in plan for word in _PER_ROW_SUBQUERY), plan
    assert "lower(" not in plan.lower().replace(" ", ""), plan


@pytest.mark.parametrize("service", ["Nircam", "GuideStar"])
def test_a_whole_table_is_read_through_its_listing_index(keyword_archive, service: str) -> None:  # type: ignore[no-untyped-def]
    plan = _query_plan(keyword_archive, service, [])
    assert _uses(plan, "ix_product_keywords_listed_in"), plan
    assert not any(word in plan for word in _PER_ROW_SUBQUERY), plan
