"""Exports read every matching row once, by keyset pagination over obsid: the same rows in the
same order as one plain ordered query, whatever the step sizes, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from skyarchive.access.rights import now_mjd
from skyarchive.archive import Archive
from skyarchive.db.tables import observations
from skyarchive.search.observations import every_observation
from skyarchive.search.portal_search import PortalQuery, base_criteria, matching_rows


@pytest.mark.parametrize(("keys", "batch"), [(7, 3), (5, 5), (1, 1), (50_000, 5_000)])
def test_keyset_steps_give_every_row_once_in_obsid_order(
    demo_archive_copy: Archive, keys: int, batch: int
) -> None:
    programs = ["1073", "1558", "4567"]
    criteria = base_criteria(PortalQuery(filters=[{"paramName": "proposal_id",
                                                   "values": programs}]))  # fmt: skip
    with demo_archive_copy.engine.connect() as conn:
        expected = conn.execute(
            select(observations.c.obsid, observations.c.obs_id)
            .where(observations.c.proposal_id.in_(programs))
            .order_by(observations.c.obsid)
        ).all()
        got = [(int(r["obsid"]), r["obs_id"]) for r in every_observation(
            conn, criteria, now=now_mjd(), columns=["obsid", "obs_id"], keys=keys, batch=batch
        )]  # fmt: skip
    assert len(expected) > 10
    assert got == [tuple(r) for r in expected]


def test_an_export_without_a_sort_reads_by_keyset(demo_archive_copy: Archive) -> None:
    """matching_rows (the exports) gives the rows of the plain ordered query, with every
    column the grid shows (data rights derived at the time given)."""
    query = PortalQuery(filters=[{"paramName": "instrument_name", "values": ["MIRI/IMAGE"]}])
    now = now_mjd()
    with demo_archive_copy.engine.connect() as conn:
        rows = list(matching_rows(conn, query, now=now))
        expected = conn.execute(
            select(observations.c.obsid, observations.c.t_obs_release)
            .where(observations.c.instrument_name == "MIRI/IMAGE")
            .order_by(observations.c.obsid)
        ).all()
    assert [int(r["obsid"]) for r in rows] == [r.obsid for r in expected]
    rights = [r["dataRights"] for r in rows]
    assert rights == [
        "PUBLIC" if r.t_obs_release is not None and r.t_obs_release <= now else "EXCLUSIVE_ACCESS"
        for r in expected
    ]
