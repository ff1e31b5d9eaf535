"""Cone search through the cell index agrees with brute force over every footprint.

The reference is independent of the code under test: astropy separations to densely sampled
edges and a gnomonic inside test (tests/sky/reference.py), applied to every observation without
any index. Observations are clustered near the poles, across RA 0/360 and at mid latitudes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, insert, select

from skyarchive.db.engine import make_engine, upgrade
from skyarchive.db.tables import footprint_vertices, observations
from skyarchive.ingest.catalog import replace_footprint
from skyarchive.search.cone import Cone, cone_matches
from skyarchive.sky.regions import Polygon, format_s_region
from tests.sky import reference

CENTRES = [(0.05, 10.0), (359.95, -10.0), (120.0, 89.9), (250.0, -89.95), (283.396, 33.029)]
TOLERANCE_ARCSEC = 0.05


def footprints(seed: int = 7) -> list[list[tuple[float, float]]]:
    rng = np.random.default_rng(seed)
    polys = []
    for ra0, dec0 in CENTRES:
        for _ in range(12):
            pa, sep = rng.uniform(0, 360), rng.uniform(0, 0.3)
            ra, dec = reference.offset(ra0, dec0, pa, sep)
            half_w, half_h, roll = (
                rng.uniform(0.001, 0.05),
                rng.uniform(0.001, 0.05),
                rng.uniform(0, 360),
            )
            corners = []
            for dx, dy in (
                (-half_w, -half_h),
                (half_w, -half_h),
                (half_w, half_h),
                (-half_w, half_h),
            ):
                angle = np.degrees(np.arctan2(dx, dy)) + roll
                corners.append(reference.offset(ra, dec, angle, float(np.hypot(dx, dy))))
            polys.append(corners)
    return polys


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    path: Path = tmp_path_factory.mktemp("cone") / "cone.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    polys = footprints()
    with engine.begin() as conn:
        for i, vertices in enumerate(polys, start=1):
            s_region = format_s_region(Polygon(tuple(vertices)))
            conn.execute(insert(observations).values(
                obsid=i, obs_id=f"obs{i:03d}", obs_collection="TEST", status="executed",
                s_region=s_region))  # fmt: skip
            replace_footprint(conn, i, s_region)
    yield engine, polys
    engine.dispose()


cones = st.builds(
    lambda centre, pa, sep, radius: (*reference.offset(*centre, pa, sep), radius),
    st.sampled_from(CENTRES),
    st.floats(0, 360),
    st.floats(0, 0.4),
    st.one_of(st.floats(1 / 3600, 0.01), st.floats(0.01, 0.2), st.floats(0.2, 10.0)),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cone=cones)
def test_cone_matches_equal_brute_force(catalog, cone) -> None:  # type: ignore[no-untyped-def]
    engine, polys = catalog
    ra, dec, radius = cone
    with engine.connect() as conn:
        found = dict(cone_matches(conn, Cone(ra % 360.0, dec, radius)))
    limit = radius * 3600.0
    for obsid, vertices in enumerate(polys, start=1):
        expected = reference.distance_arcsec(vertices, ra, dec)
        if abs(expected - limit) < TOLERANCE_ARCSEC:
            continue  # on the boundary within the reference's own accuracy
        assert (obsid in found) == (expected < limit), (obsid, expected, limit)
        if obsid in found:
            assert found[obsid] == pytest.approx(expected, abs=TOLERANCE_ARCSEC)


def test_results_are_nearest_first(catalog) -> None:  # type: ignore[no-untyped-def]
    engine, _ = catalog
    with engine.connect() as conn:
        found = cone_matches(conn, Cone(283.396, 33.029, 1.0))
    distances = [d for _, d in found]
    assert len(found) == 12 and distances == sorted(distances)


def test_footprints_without_stored_vertices_match_alike(catalog) -> None:  # type: ignore[no-untyped-def]
    # an archive's footprints read from their text (no stored vertices: an unusual footprint,
    # or a row the writer missed) match as those read from their stored vertices
    engine, _ = catalog
    cone = Cone(283.396, 33.029, 0.2)
    with engine.connect() as conn:
        stored = cone_matches(conn, cone)
        assert conn.scalar(select(func.count()).select_from(footprint_vertices)) == 60
        conn.execute(delete(footprint_vertices))
        from_texts = cone_matches(conn, cone)
        conn.rollback()
    assert stored and [o for o, _ in stored] == [o for o, _ in from_texts]
    assert [d for _, d in stored] == pytest.approx([d for _, d in from_texts], abs=1e-9)
