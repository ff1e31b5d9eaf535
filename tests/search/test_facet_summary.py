"""The portal's stored facet counts of a search by program (schema 0032), on SQLite and
PostgreSQL: the stored rows equal a fresh count of the observations after ingests, planned rows
carried out and release changes, and the counts a program search reads from them equal the
matching rows counted one by one, whatever the time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from skyarchive.access.rights import now_mjd
from skyarchive.archive import Archive
from skyarchive.db.tables import observations
from skyarchive.ingest import release
from skyarchive.search import portal_search
from skyarchive.search.portal_search import (
    FACETS,
    PortalQuery,
    base_criteria,
    facet_counts,
    facet_criteria,
)
from tests.search.test_portal_facets import _counted_one_by_one
from tests.search.test_summary import assert_true_figures, ingest, write_manifest


def _jwst(obs_id: str, status: str, target: str, instrument: str) -> dict[str, Any]:
    return {"obs_id": obs_id, "obs_collection": "JWST", "proposal_id": "9100", "status": status,
            "target_name": target, "instrument_name": instrument, "calib_level": 2,
            "t_max": 60000.0}  # fmt: skip


def test_stored_rows_follow_planned_observations_carried_out(
    archive: Archive, tmp_path: Path
) -> None:
    """A planned observation is counted; the executed one that carries it out replaces it
    (the planned row is deleted), with another target and instrument."""
    planned = _jwst("jw09100001001_02101_00001_mirimage", "planned", "M57", "MIRI/IMAGE")
    other = _jwst("jw09100002001_02101_00001_nrca1", "planned", "M57", "NIRCAM/IMAGE")
    ingest(archive, write_manifest(tmp_path / "plan", "plan", [planned, other]))
    assert_true_figures(archive.engine)
    executed = _jwst("jw09100001001_02101_00002_nrca1", "executed", "NGC 6720", "NIRCAM/IMAGE")
    ingest(archive, write_manifest(tmp_path / "done", "done", [executed]))
    with archive.engine.connect() as conn:
        held = conn.execute(
            select(observations.c.obs_id).where(observations.c.proposal_id == "9100")
        ).scalars()
        assert sorted(held) == sorted([other["obs_id"], executed["obs_id"]])
    assert_true_figures(archive.engine)


_PROGRAMS = [{"paramName": "proposal_id", "values": ["1073", "1558", "4567"]}]


@pytest.mark.parametrize(
    ("filters", "chosen"),
    [
        (_PROGRAMS, {}),
        ([{"paramName": "proposal_id", "values": ["1*"]}], {}),
        ([{"paramName": "proposal_id", "values": ["4567", "no such program"]}], {}),
        (_PROGRAMS, {"instrument_name": ["MIRI/IMAGE", "nircam/image"]}),
        (_PROGRAMS, {"calib_level": [3], "proposal_id": ["1558", "4567"]}),
        (_PROGRAMS, {"dataproduct_type": ["image"], "intentType": ["science"]}),
        # ticked values of the `;`-separated facets: a whole value, a part, a pattern
        (_PROGRAMS, {"obs_collection": ["JWST"]}),
        (_PROGRAMS, {"filters": ["CLEAR"]}),
        (_PROGRAMS, {"filters": ["F1000W", "ch12;long"], "calib_level": [2, 3]}),
        (_PROGRAMS, {"filters": ["CH3*"], "wavelength_region": ["infrared"]}),
        # data rights: the exclusive-access rows of 1558 and 4567 counted among the observations
        (_PROGRAMS, {"dataRights": ["EXCLUSIVE_ACCESS"]}),
        (_PROGRAMS, {"dataRights": ["PUBLIC"], "filters": ["F770W", "F2550W", "F1000W"]}),
        (_PROGRAMS, {"dataRights": ["PUBLIC", "EXCLUSIVE_ACCESS"], "instrument_name": ["MIRI/IMAGE"]}),  # noqa: E501
        # targets: the chosen targets' rows counted
        (_PROGRAMS, {"target_name": ["NGC 6720"]}),
        (_PROGRAMS, {"target_name": ["NGC6720", "HD 189733"], "dataRights": ["EXCLUSIVE_ACCESS"]}),
        (_PROGRAMS, {"target_name": ["HD 189733"], "filters": ["F770W"]}),
    ],
)  # fmt: skip
def test_program_search_counts_come_from_the_stored_rows_and_stay_exact(  # type: ignore[no-untyped-def]
    demo_archive_copy, monkeypatch, filters, chosen
) -> None:
    """Counted without grouping the observations (that path is switched off here, but for the
    comparison with it), before and after a program's release dates change, now and a century
    later (data rights by time: then none is exclusive)."""

    grouped_facets = portal_search._grouped_facets

    def grouped(*args: object, **kwargs: object) -> None:
        raise AssertionError("a search by program grouped the observations")

    monkeypatch.setattr(portal_search, "_grouped_facets", grouped)
    query = PortalQuery(filters=filters)
    criteria = base_criteria(query)
    narrowed = [*criteria, *facet_criteria(chosen)] if chosen else None

    def assert_exact(now: float) -> None:
        with demo_archive_copy.engine.connect() as conn:
            got = facet_counts(conn, criteria, narrowed, None, now=now)
            with monkeypatch.context() as grouping:
                grouping.setattr(portal_search, "_grouped_facets", grouped_facets)
                assert facet_counts(conn, criteria, narrowed, None, now=now, stored=False) == got
        total = _counted_one_by_one(demo_archive_copy, query, now)
        shown = _counted_one_by_one(demo_archive_copy, PortalQuery(filters=filters,
                                                                   facets=chosen), now)  # fmt: skip
        assert sum(total["obs_collection"].values()) > 0
        assert sum(shown["obs_collection"].values()) > 0
        for name in FACETS:
            assert {v["value"]: v["total"] for v in got[name]} == dict(total[name]), name
            assert {v["value"]: v["shown"] for v in got[name] if v["shown"]} == dict(shown[name]), (
                name
            )

    assert_exact(now_mjd())
    assert_exact(now_mjd() + 36525.0)
    with demo_archive_copy.engine.begin() as conn:
        release.set_eap_months(conn, "4567", 0, default_months=12)
        opened = conn.execute(
            select(func.count()).where(
                observations.c.proposal_id == "4567", observations.c.t_obs_release <= now_mjd()
            )
        ).scalar_one()
    assert opened > 0  # the change made some of the program's observations public
    assert_exact(now_mjd())
    assert_true_figures(demo_archive_copy.engine)
