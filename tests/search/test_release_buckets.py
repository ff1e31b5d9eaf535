"""The data rights facet read from the counts per release bucket (schema 0040) equals the rows
counted one by one and the grouped path, at every moment that matters: each release date, just
before it, and the edges of the 64-day buckets (the bucket holding the moment is counted live,
the later ones read from the stored rows), on SQLite and PostgreSQL."""

from __future__ import annotations

import math
from typing import Any

import pytest
from sqlalchemy import select, update

from skyarchive.archive import Archive
from skyarchive.db.tables import observations
from skyarchive.search import portal_search
from skyarchive.search.portal_search import (
    FACETS,
    PortalQuery,
    base_criteria,
    facet_counts,
    facet_criteria,
)
from skyarchive.search.summary import refresh_summary
from tests.search.test_portal_facets import _counted_one_by_one
from tests.search.test_summary import assert_true_figures

_PROGRAMS = [{"paramName": "proposal_id", "values": ["1073", "1558", "4567"]}]
_TICKINGS: list[dict[str, list[Any]]] = [
    {},
    {"dataRights": ["EXCLUSIVE_ACCESS"]},
    {"dataRights": ["PUBLIC"]},
    {"dataRights": ["EXCLUSIVE_ACCESS"], "instrument_name": ["MIRI/IMAGE"]},
]
_BUCKET = 64.0  # days, as the schema defines the buckets (written out: the test's own yardstick)


def _assert_exact(archive: Archive, chosen: dict[str, list[Any]], now: float) -> None:
    query = PortalQuery(filters=_PROGRAMS)
    criteria = base_criteria(query)
    narrowed = [*criteria, *facet_criteria(chosen)] if chosen else None
    with archive.engine.connect() as conn:
        got = facet_counts(conn, criteria, narrowed, None, now=now)
        assert facet_counts(conn, criteria, narrowed, None, now=now, stored=False) == got, now
    total = _counted_one_by_one(archive, query, now)
    shown = _counted_one_by_one(archive, PortalQuery(filters=_PROGRAMS, facets=chosen), now)
    for name in FACETS:
        assert {v["value"]: v["total"] for v in got[name]} == dict(total[name]), (name, now)
        assert {v["value"]: v["shown"] for v in got[name] if v["shown"]} == dict(shown[name]), (
            name, now, chosen
        )  # fmt: skip


def _releases(archive: Archive) -> list[float]:
    with archive.engine.connect() as conn:
        held = conn.execute(
            select(observations.c.t_obs_release)
            .where(observations.c.proposal_id.in_(["1073", "1558", "4567"]))
            .distinct()
        ).scalars()
        return sorted(float(r) for r in held if r is not None)


def test_counts_are_exact_at_release_dates_and_bucket_edges(
    demo_archive_copy: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    releases = _releases(demo_archive_copy)
    assert len(releases) >= 2
    # two observations released exactly on a bucket's first instant and just before it, in a
    # later bucket than the others (as a writer changes them: rows, then the recount)
    edge = (math.floor(releases[-1] / _BUCKET) + 2) * _BUCKET
    with demo_archive_copy.engine.begin() as conn:
        obsids = conn.execute(
            select(observations.c.obsid)
            .where(observations.c.proposal_id == "4567", observations.c.t_obs_release.is_not(None))
            .order_by(observations.c.obsid)
            .limit(2)
        ).scalars().all()  # fmt: skip
        for obsid, moment in zip(obsids, (edge, edge - 1e-6), strict=True):
            conn.execute(update(observations).where(observations.c.obsid == obsid)
                         .values(t_obs_release=moment))  # fmt: skip
        refresh_summary(conn, ["4567"])
    assert_true_figures(demo_archive_copy.engine)
    moments = {edge, edge - 1e-6, edge - 2e-6, edge + _BUCKET, edge - _BUCKET}
    for release in (releases[0], releases[len(releases) // 2], releases[-1]):
        start = math.floor(release / _BUCKET) * _BUCKET
        moments |= {release, release - 1e-6, start, start - 1e-6, start + _BUCKET - 1e-6}
    calls = 0
    grouped = portal_search._grouped_facets

    def counting(*args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        return grouped(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(portal_search, "_grouped_facets", counting)
    for now in sorted(moments):
        for chosen in _TICKINGS:
            _assert_exact(demo_archive_copy, chosen, now)
    # the grouped path ran only as the reference (stored=False), once per comparison
    assert calls == len(moments) * len(_TICKINGS)


def test_a_ticked_exclusive_reads_no_restricted_row_of_a_later_bucket(
    demo_archive_copy: Archive,
) -> None:
    """The rows of the buckets after the one holding ``now`` come from the stored counts: with
    every observation's release date moved far into a later bucket (without telling the stored
    rows), the counts still see them where they were counted."""
    releases = _releases(demo_archive_copy)
    now = releases[0] - 2 * _BUCKET  # every release in a later bucket than now's
    query = PortalQuery(filters=_PROGRAMS)
    criteria = base_criteria(query)
    narrowed = [*criteria, *facet_criteria({"dataRights": ["EXCLUSIVE_ACCESS"]})]
    with demo_archive_copy.engine.connect() as conn:
        before = facet_counts(conn, criteria, narrowed, None, now=now)
    exclusive = {v["value"]: v["shown"] for v in before["dataRights"]}["EXCLUSIVE_ACCESS"]
    assert exclusive > 0
    with demo_archive_copy.engine.begin() as conn:
        later = observations.c.t_obs_release + 10 * _BUCKET
        conn.execute(update(observations).where(observations.c.t_obs_release.is_not(None))
                     .values(t_obs_release=later))  # fmt: skip
    with demo_archive_copy.engine.connect() as conn:
        assert facet_counts(conn, criteria, narrowed, None, now=now) == before
