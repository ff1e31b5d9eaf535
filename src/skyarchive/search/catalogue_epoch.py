"""What a search answer depends on besides its request: the catalogue's epoch.

An answer computed now stays the answer while the catalogue's generation (bumped by every
write, :mod:`skyarchive.db.catalogue_generation`) is unchanged and no release date has been
reached since: ``dataRights`` and the released/restricted criteria compare release dates with
the time, and nothing else in a search depends on it, but for the copies of the catalogue kept
in memory that it may read (the target names a name is resolved in), which note their own
generation (:class:`CopiesRead`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import AbstractContextManager

from sqlalchemy import Connection, func, select

from skyarchive.config import Settings
from skyarchive.db.catalogue_generation import CopiesRead as CopiesRead
from skyarchive.db.catalogue_generation import noting_copies_read as noting_copies_read
from skyarchive.db.catalogue_generation import read_generation
from skyarchive.db.generation_watch import GenerationWatch as GenerationWatch
from skyarchive.db.generation_watch import watch_generation
from skyarchive.db.tables import observations

#: (catalogue generation, the next release date (MJD) after the epoch began).
Epoch = tuple[int, float]


def next_release_after(conn: Connection, now: float) -> float:
    """The first release date (MJD) later than ``now``; infinity when none is to come."""
    column = observations.c.t_obs_release
    found = conn.scalar(select(func.min(column)).where(column > now))
    return math.inf if found is None else float(found)


class EpochClock:
    """The current epoch. With a :class:`GenerationWatch` that knows the generation and no
    release date reached, no query at all; else one primary-key read, and the next release
    date looked up (one index probe) only when the generation has changed or that date has
    come."""

    def __init__(self, watch: GenerationWatch | None = None) -> None:
        self._seen: Epoch | None = None
        self._watch = watch

    def current(
        self, connect: Callable[[], AbstractContextManager[Connection]], now: float
    ) -> Epoch | None:
        """The epoch at ``now``; None when the catalogue keeps no generation. ``connect``
        gives the connection the search will use (or one of the same database), opened only
        when something must be read."""
        generation = self._watch.generation() if self._watch is not None else None
        seen = self._seen
        if seen is not None and generation == seen[0] and now < seen[1]:
            return seen  # the watch knows: nothing to read
        with connect() as conn:
            if generation is None:
                generation = read_generation(conn)
                if generation is None:
                    return None
            if seen is None or seen[0] != generation or now >= seen[1]:
                seen = (generation, next_release_after(conn, now))
                self._seen = seen
            return seen


def generation_watch(settings: Settings) -> GenerationWatch | None:
    """How this process learns of catalogue writes without a read per cached request
    (``db/generation_watch.py``); None: each cached request reads the generation."""
    if not settings.answer_cache_notify:
        return None
    read_url = settings.database_read_url
    if read_url and not read_url.startswith("sqlite"):
        # A standby applies a write after the primary announced it: an answer computed in
        # between would be kept under the new generation. Read it per request instead.
        return None
    return watch_generation(read_url or settings.resolved_database_url)
