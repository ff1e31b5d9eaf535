"""An archive made before footprint vertices were stored (schema 0041) gets them on upgrade."""

from __future__ import annotations

import numpy as np
from sqlalchemy import select, text

from skyarchive.db.engine import make_engine, upgrade
from skyarchive.db.tables import footprint_vertices

FOOTPRINTS = {
    "plain": "POLYGON 283.38 33.02 283.41 33.02 283.41 33.04 283.38 33.04",
    "framed and closed": "POLYGON ICRS 10 -20 10.1 -20 10.1 -19.9 10 -20",
    "circle": "CIRCLE 83.63 22.01 0.1",
    "union": "UNION (POLYGON 1 1 1.1 1 1.1 1.1 POLYGON 2 2 2.1 2 2.1 2.1)",
    "none": None,
}


def test_upgrade_stores_the_vertices_of_each_plain_polygon(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine, "0040")
    with engine.begin() as conn:
        for obs_id, s_region in FOOTPRINTS.items():
            conn.execute(
                text("INSERT INTO observations (obs_id, status, obs_collection, s_region)"
                     " VALUES (:o, 'executed', 'JWST', :s)"),
                {"o": obs_id, "s": s_region},
            )  # fmt: skip
    upgrade(engine)
    with engine.connect() as conn:
        obsids = dict(conn.execute(text("SELECT obs_id, obsid FROM observations")).all())
        stored = dict(conn.execute(select(*footprint_vertices.c)).all())
    assert set(stored) == {obsids["plain"], obsids["framed and closed"]}
    vertices = {  # the open rings, as the texts list them
        "plain": [(283.38, 33.02), (283.41, 33.02), (283.41, 33.04), (283.38, 33.04)],
        "framed and closed": [(10, -20), (10.1, -20), (10.1, -19.9)],
    }
    for name, ring in vertices.items():
        got = np.frombuffer(bytes(stored[obsids[name]]), dtype="<f8").reshape(-1, 3)
        ra, dec = np.radians(np.array(ring, dtype=float).T)
        expected = np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)], -1)
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-15)
    engine.dispose()
