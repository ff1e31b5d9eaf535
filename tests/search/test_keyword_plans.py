"""Keyword queries use the keyword store's indexes, on SQLite and on PostgreSQL (EXPLAIN).

PostgreSQL is told not to scan whole tables (``enable_seqscan = off``): the demo archive is
small enough that a sequential scan is cheapest, and the question here is whether an index
*can* serve the query, as it must at a million files.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from skyarchive.access.rights import now_mjd
from skyarchive.db.tables import FACET_INDEX_COLUMNS, facet_index_name, observations
from skyarchive.search.cone import Cone
from skyarchive.search.criteria import parse_criteria
from skyarchive.search.keyword_search import (
    KeywordTable,
    count_query,
    page_query,
    sorted_ids_query,
    value_count_query,
)
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


def _index_only(plan: str, index: str) -> bool:
    """The plan reads ``index`` alone, never the wide keyword rows (their JSON headers)."""
    return any(
        index in line and ("COVERING INDEX" in line or "Index Only Scan" in line)
        for line in plan.split("\n")
    )


def _statement_plan(archive, make) -> str:  # type: ignore[no-untyped-def]
    if archive.engine.dialect.name == "postgresql":
        # Index-only scans need the visibility map, which VACUUM (or autovacuum, or the
        # synthetic loader) fills; a freshly ingested test archive has none yet. Bitmap scans
        # are turned off like sequential scans: the question is what the index can serve.
        with archive.engine.connect() as conn:
            autocommit = conn.execution_options(isolation_level="AUTOCOMMIT")
            autocommit.exec_driver_sql("VACUUM (ANALYZE) product_keywords")
    with archive.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL enable_bitmapscan = off")
        return _plan(conn, make(conn))


_FACETS = "ix_product_keywords_listed_in_exp_type_covering"


@pytest.mark.parametrize(
    "filters",
    [[], [{"paramName": "exp_type", "values": ["NRC_IMAGE"]}],
     [{"paramName": "subarray", "values": ["FULL", "SUB640"]},
      {"paramName": "nints", "values": [{"min": 1, "max": 10}]}]],
)  # fmt: skip
def test_counts_read_the_covering_index_alone(keyword_archive, filters: list) -> None:  # type: ignore[no-untyped-def]
    table = KeywordTable.for_service("Mast.Jwst.Filtered.Nircam")
    criteria = parse_criteria(filters, table.column)
    plan = _statement_plan(
        keyword_archive, lambda conn: count_query(conn, table, criteria, now=now_mjd())
    )
    # The count needs neither products nor observations, so no join is planned.
    assert "products" not in plan and "observations" not in plan, plan
    indexes = (_FACETS, "ix_product_keywords_listed_in")  # any index holding the criteria
    assert any(_index_only(plan, index) for index in indexes), plan


@pytest.mark.parametrize("column", ["exp_type", "subarray", "readpatt", "nints", "expstart"])
def test_facet_counts_read_the_covering_index_alone(keyword_archive, column: str) -> None:  # type: ignore[no-untyped-def]
    table = KeywordTable.for_service("Mast.Jwst.Filtered.Nircam")
    criteria = parse_criteria(
        [{"paramName": "exp_type", "values": ["NRC_IMAGE"]},
         {"paramName": "detector", "values": ["NRCA1", "NRCB1"]}], table.column
    )  # fmt: skip
    plan = _statement_plan(
        keyword_archive,
        lambda conn: value_count_query(conn, table, criteria, column, now=now_mjd()),
    )
    # The facet indexes (schema 0022) carry every typed keyword too: any of them may serve.
    facet_index = any(_index_only(plan, facet_index_name(c)) for c in FACET_INDEX_COLUMNS)
    assert (
        facet_index
        or _index_only(plan, _FACETS)
        or (column == "exp_type" and _index_only(plan, "ix_product_keywords_listed_in"))
    ), plan
    assert "products" not in plan, plan


@pytest.mark.parametrize("column", FACET_INDEX_COLUMNS)
def test_a_facet_under_an_exposure_type_comes_grouped_from_its_own_index(
    keyword_archive, column: str
) -> None:  # type: ignore[no-untyped-def]
    """The portal's dialog count of a keyword's values under an exposure type (schema 0022)."""
    service, exp_type = (
        ("Nirspec", "NRS_MSASPEC") if column == "grating" else ("Nircam", "NRC_IMAGE")
    )
    table = KeywordTable.for_service(f"Mast.Jwst.Filtered.{service}")
    criteria = parse_criteria([{"paramName": "exp_type", "values": [exp_type]}], table.column)
    plan = _statement_plan(
        keyword_archive,
        lambda conn: value_count_query(conn, table, criteria, column, now=now_mjd()),
    )
    assert "products" not in plan, plan
    if keyword_archive.engine.dialect.name == "sqlite":
        # Read in value order from the facet's index: no temporary table to group in.
        assert _index_only(plan, facet_index_name(column)), plan
        assert "TEMP B-TREE FOR GROUP BY" not in plan, plan
    else:  # PostgreSQL may group either index's entries; both are read alone
        assert _index_only(plan, facet_index_name(column)) or _index_only(plan, _FACETS), plan


def test_a_keyword_cone_query_uses_indexes_only(keyword_archive) -> None:  # type: ignore[no-untyped-def]
    table = KeywordTable.for_service("Mast.Jwst.Filtered.Miri")
    with keyword_archive.engine.connect() as conn:
        miri = observations.c.instrument_name.like("MIRI%")
        centre = select(observations.c.s_ra, observations.c.s_dec).where(miri)
        ra, dec = conn.execute(centre).first()  # type: ignore[misc]
    cone = Cone(ra, dec, 0.01)
    plan = _statement_plan(
        keyword_archive,
        lambda conn: page_query(conn, table, [], page=1, pagesize=50, now=now_mjd(), cone=cone),
    )
    # Either side may lead (the files of the cone's observations, or the table's listing in
    # page order), but through an index, and with no per-row subquery.
    assert _uses(plan, "ix_products_owner_obsid") or _uses(plan, "ix_product_keywords_listed_in")
    assert "SCAN products" not in plan and "Seq Scan" not in plan, plan
    assert not any(word in plan for word in _PER_ROW_SUBQUERY), plan


@pytest.mark.parametrize("descending", [False, True])
def test_a_sort_on_the_date_reads_the_date_index_alone(keyword_archive, descending: bool) -> None:  # type: ignore[no-untyped-def]
    """The portal's sort on ``date_obs_mjd`` under an exposure type: the page's ids come from
    the date index (schema 0026), never from the wide rows with their headers."""
    table = KeywordTable.for_service("Mast.Jwst.Filtered.Nircam")
    criteria = parse_criteria([{"paramName": "exp_type", "values": ["NRC_IMAGE"]}], table.column)
    plan = _statement_plan(
        keyword_archive,
        lambda conn: sorted_ids_query(
            conn,
            table,
            criteria,
            sort="date_obs_mjd",
            descending=descending,
            page=2,
            pagesize=20,
            now=now_mjd(),
        ),  # fmt: skip
    )
    assert _index_only(plan, facet_index_name("date_obs_mjd")), plan
    assert "products" not in plan and "observations" not in plan, plan
