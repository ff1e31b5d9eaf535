"""An archive made before footprint vertices were stored (schema 0041) gets them on upgrade."""

from __future__ import annotations

import importlib.util

import numpy as np
from sqlalchemy import select, text

from skyarchive.db.engine import MIGRATIONS_DIR, make_engine, upgrade
from skyarchive.db.tables import footprint_vertices
from skyarchive.sky.stored_footprints import stored_vertices
from tests.search.test_region_batch import footprint_texts

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


def test_the_revisions_rule_stores_what_the_search_would_read() -> None:
    # the revision writes its rule out (a revision keeps the rules of its day): for every
    # footprint it stores vertices for, they are the search's own to the bit, and it stores
    # none where the search reads the text
    path = MIGRATIONS_DIR / "versions" / "0041_footprint_vertices.py"
    spec = importlib.util.spec_from_file_location("revision_0041", path)
    assert spec is not None and spec.loader is not None
    revision = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(revision)
    unusual = [
        "POLYGON 10 10 10.1 10 10.1 10 10.1 10.1 10 10.1", "POLYGON 10 10 10.1 nan 10.1 10.1",
        "POLYGON 10 91 10.1 10 10.1 10.1", "POLYGON 1 2 3 4 5", "POLYGON ICRS", "",
        "POLYGON GALACTIC 10 10 10.1 10 10.1 10.1", "polygon j2000 10 10 10.1 10 10.1 10.1",
    ]  # fmt: skip
    texts = [*footprint_texts(), *(t for t in FOOTPRINTS.values() if t), *unusual]
    assert [revision._vertices(t) for t in texts] == [stored_vertices(t) for t in texts]
    assert sum(stored_vertices(t) is not None for t in texts) > 200
