"""The synthetic benchmark catalogue holds what its summary says and searches like real data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from skyarchive.access.rights import now_mjd
from skyarchive.archive import Archive
from skyarchive.config import Settings
from skyarchive.db.tables import (
    footprint_cells,
    footprint_vertices,
    observation_products,
    observations,
    product_keywords,
    products,
    programs,
)
from skyarchive.demo.synthetic_catalog import SyntheticSummary, build_synthetic_catalog
from skyarchive.products.listing import product_rows
from skyarchive.search.columns import observation_column
from skyarchive.search.cone import Cone
from skyarchive.search.criteria import parse_criteria
from skyarchive.search.observations import ObservationQuery, search_observations
from skyarchive.search.summary import archive_summary
from skyarchive.sky.cells import region_cells
from skyarchive.sky.regions import parse_s_region
from skyarchive.sky.stored_footprints import stored_vertices
from tests.search.test_summary import assert_true_figures

N_OBS = 2_000


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Archive, SyntheticSummary]:
    home: Path = tmp_path_factory.mktemp("synthetic")
    archive = Archive.open(Settings(home=home))
    summary = build_synthetic_catalog(
        archive.engine, observations=N_OBS, products_per_obs=[2, 3], seed=7, big_obs_products=300
    )
    yield archive, summary
    archive.engine.dispose()


def _count(archive: Archive, table) -> int:  # type: ignore[no-untyped-def]
    with archive.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_counts_match_the_summary(built: tuple[Archive, SyntheticSummary]) -> None:
    archive, summary = built
    expected_products = (N_OBS // 2) * 2 + (N_OBS // 2) * 3 - 2 + 300  # big obs has an even index
    assert summary.observations == _count(archive, observations) == N_OBS
    assert summary.products == _count(archive, products) == expected_products
    assert _count(archive, observation_products) == expected_products
    assert summary.programs == _count(archive, programs) == 1
    assert summary.footprint_cells == _count(archive, footprint_cells) >= N_OBS
    with archive.engine.connect() as conn:
        texts = dict(conn.execute(select(observations.c.obsid, observations.c.s_region)).all())
        vertices = dict(conn.execute(select(*footprint_vertices.c)).all())
    assert vertices == {obsid: stored_vertices(text) for obsid, text in texts.items()}
    with archive.engine.connect() as conn:
        big = conn.execute(
            select(func.count()).where(observation_products.c.obsid == summary.big_obsid)
        ).scalar_one()
        rows = list(product_rows(conn, [summary.big_obsid], now=now_mjd()))
    assert big == len(rows) == 300
    assert len({r["productFilename"] for r in rows}) == 300


def test_cells_cover_what_region_cells_gives(built: tuple[Archive, SyntheticSummary]) -> None:
    archive, _ = built
    with archive.engine.connect() as conn:
        regions = dict(conn.execute(select(observations.c.obsid, observations.c.s_region)).all())
        stored: dict[int, set[int]] = {}
        for cell, obsid in conn.execute(select(footprint_cells.c.cell, footprint_cells.c.obsid)):
            stored.setdefault(obsid, set()).add(cell)
    missing = [
        obsid
        for obsid, text in list(regions.items())[:500]
        if not set(region_cells(parse_s_region(text)).tolist()) <= stored[obsid]
    ]
    assert len(missing) <= 5  # only slivers narrower than the edge sampling may be missed


def test_a_cone_at_an_observation_centre_finds_it(built: tuple[Archive, SyntheticSummary]) -> None:
    archive, _ = built
    with archive.engine.connect() as conn:
        sample = conn.execute(
            select(observations.c.obsid, observations.c.s_ra, observations.c.s_dec)
            .order_by(observations.c.obsid)
            .limit(20)
        ).all()
        for obsid, ra, dec in sample:
            page = search_observations(
                conn, ObservationQuery(cone=Cone(ra, dec, 1 / 60)), now=now_mjd()
            )
            rows = list(page.rows)
            assert str(obsid) in {r["obsid"] for r in rows}
            assert next(r for r in rows if r["obsid"] == str(obsid))["distance"] == 0.0


def test_proposal_and_instrument_select_a_few(built: tuple[Archive, SyntheticSummary]) -> None:
    archive, _ = built
    criteria = parse_criteria(
        [
            {"paramName": "proposal_id", "values": ["10000"]},
            {"paramName": "instrument_name", "values": ["NIRCAM/IMAGE"]},
        ],
        observation_column,
    )
    with archive.engine.connect() as conn:
        page = search_observations(conn, ObservationQuery(criteria=criteria), now=now_mjd())
        assert 0 < page.total < N_OBS / 2
        assert {r["instrument_name"] for r in page.rows} == {"NIRCAM/IMAGE"}


def test_same_seed_same_catalogue(tmp_path: Path) -> None:
    positions = []
    for name in ("a", "b"):
        archive = Archive.open(Settings(home=tmp_path / name))
        build_synthetic_catalog(archive.engine, observations=50, products_per_obs=1, seed=3)
        with archive.engine.connect() as conn:
            positions.append(
                conn.execute(select(observations.c.s_ra).order_by(observations.c.obsid)).all()
            )
        archive.engine.dispose()
    assert np.allclose(positions[0], positions[1])


def test_refuses_a_catalogue_that_is_not_empty(built: tuple[Archive, SyntheticSummary]) -> None:
    archive, _ = built
    with pytest.raises(ValueError, match="not empty"):
        build_synthetic_catalog(archive.engine, observations=5, products_per_obs=1, seed=1)


def test_bulk_load_stores_the_home_page_figures(built: tuple[Archive, SyntheticSummary]) -> None:
    archive, summary = built
    assert_true_figures(archive.engine)
    assert archive_summary(archive.engine).products == summary.products


def test_a_keyword_load_keeps_counts_the_search_agrees_with(tmp_path: Path) -> None:
    """The totals read from ``keyword_counts`` (schema 0026) are those a search counts from
    the rows: by a wildcard on the exposure type, which the stored counts cannot answer."""
    from skyarchive.search.keyword_search import TABLES, KeywordTable, count_keywords

    archive = Archive.open(Settings(home=tmp_path / "keywords"))
    build_synthetic_catalog(archive.engine, observations=100, products_per_obs=0, seed=5,
                            keyword_files=2_000)  # fmt: skip
    with archive.engine.connect() as conn:

        def total(table: KeywordTable, values: list) -> int:
            filters = [{"paramName": "exp_type", "values": values}] if values else []
            criteria = parse_criteria(filters, table.column)
            return count_keywords(conn, table, criteria, now=now_mjd())

        for name in TABLES[:4]:
            table = KeywordTable.for_service(f"Mast.Jwst.Filtered.{name}")
            every = total(table, ["*"])  # counted from the rows
            assert every > 0 and total(table, []) == every  # read from the stored counts
            empty = parse_criteria([{"paramName": "exp_type", "values": []}], table.column)
            assert count_keywords(conn, table, empty, now=now_mjd()) == every  # matches all
            listed = product_keywords.c.listed_in == table.instrument
            kinds = conn.execute(select(product_keywords.c.exp_type).where(listed).distinct())
            for kind in [k for k in kinds.scalars() if k]:
                assert total(table, [kind.upper()]) == total(table, [f"{kind}*"])
    archive.engine.dispose()
