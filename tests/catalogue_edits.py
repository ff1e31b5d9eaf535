"""Edits tests make to an archive's catalogue before they look at what it answers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from skyarchive.archive import Archive
from skyarchive.db.tables import observations


def change_first_observations(archive: Archive, *changes: dict[str, Any]) -> list[int]:
    """Give the first observations (in obsid order) the columns' values of ``changes``, one
    dict each, in one transaction; their obsids."""
    with archive.engine.begin() as conn:
        chosen = select(observations.c.obsid).order_by(observations.c.obsid)
        obsids = list(conn.execute(chosen.limit(len(changes))).scalars())
        for obsid, values in zip(obsids, changes, strict=True):
            conn.execute(update(observations).where(observations.c.obsid == obsid).values(values))
    return obsids
