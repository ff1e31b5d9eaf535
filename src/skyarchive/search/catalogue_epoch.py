"""What a search answer depends on besides its request: the catalogue's epoch.

An answer computed now stays the answer while the catalogue's generation (bumped by every
write, :mod:`skyarchive.db.catalogue_generation`) is unchanged and no release date has been
reached since: ``dataRights`` and the released/restricted criteria compare release dates with
the time, and nothing else in a search depends on it.
"""

from __future__ import annotations

import math

from sqlalchemy import Connection, func, select

from skyarchive.db.catalogue_generation import read_generation
from skyarchive.db.tables import observations

#: (catalogue generation, the next release date (MJD) after the epoch began).
Epoch = tuple[int, float]


def next_release_after(conn: Connection, now: float) -> float:
    """The first release date (MJD) later than ``now``; infinity when none is to come."""
    column = observations.c.t_obs_release
    found = conn.scalar(select(func.min(column)).where(column > now))
    return math.inf if found is None else float(found)


class EpochClock:
    """The current epoch, read on the connection a search will use. One primary-key read per
    call; the next release date is looked up (one index probe) only when the generation has
    changed or that date has come."""

    def __init__(self) -> None:
        self._seen: Epoch | None = None

    def current(self, conn: Connection, now: float) -> Epoch | None:
        """The epoch at ``now``; None when the catalogue keeps no generation."""
        generation = read_generation(conn)
        if generation is None:
            return None
        seen = self._seen
        if seen is None or seen[0] != generation or now >= seen[1]:
            seen = (generation, next_release_after(conn, now))
            self._seen = seen
        return seen
