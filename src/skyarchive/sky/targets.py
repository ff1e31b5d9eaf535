"""Target names held in the archive, as the first resolver of the chain.

The index (one GROUP BY over every observation, about a second at 10^6 observations) is read
once before the first lookup; after that a lookup never waits for the database. Once the index
is older than the refresh interval, a lookup answers from it and starts a refresh in a thread
of its own (one at a time), which first reads the catalogue generation
(:mod:`skyarchive.db.catalogue_generation`) and reads the names again only when the catalogue
has changed since; the new index replaces the old in one assignment. A refresh that fails
(the database gone for a moment) keeps the old index, logs once and tries again an interval
later.
"""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import Connection, Engine, func, select

from skyarchive.db.catalogue_generation import read_generation
from skyarchive.db.tables import observations
from skyarchive.sky.resolver import (
    ResolverChain,
    default_chain,
    normalise_name,
)

log = logging.getLogger(__name__)

_REFRESH_SECONDS = 60.0

Index = dict[str, tuple[float, float, str]]


class ArchiveTargets:
    """Normalised target name -> (mean ra, mean dec, name as archived), refreshed in the
    background once a minute when the catalogue has changed.

    ``engine`` should read each statement on its own (``Archive.search_engine``): the refresh
    reads the generation, then the names, and holds no transaction open between them.
    """

    def __init__(self, engine: Engine, *, refresh_seconds: float | None = None) -> None:
        self.engine = engine
        self.refresh_seconds = _REFRESH_SECONDS if refresh_seconds is None else refresh_seconds
        self._index: Index | None = None  # replaced whole, never changed in place
        self._generation: int | None = None  # the catalogue's, as the index was read
        self._checked_at = 0.0  # when the index was last read or found current
        self._first_load = threading.Lock()
        self._refreshing = threading.Lock()  # held while a refresh runs, by its thread
        self._refresh_thread: threading.Thread | None = None
        self._failing = False  # the last refresh failed (logged once until one succeeds)

    def lookup(self, normalised: str) -> tuple[float, float, str] | None:
        index = self._index
        if index is None:
            index = self._load_first()
        elif time.monotonic() - self._checked_at > self.refresh_seconds:
            self._start_refresh()
        return index.get(normalised)

    def wait_for_refresh(self, timeout: float | None = None) -> None:
        """Wait for the refresh under way, if any, to end (tests; a clean shutdown)."""
        thread = self._refresh_thread
        if thread is not None:
            thread.join(timeout)

    def _load_first(self) -> Index:
        """The first index, read in the lookup that needs it (concurrent ones wait for it).
        A failure here has no index to fall back on: it is raised into the lookup."""
        with self._first_load:
            if self._index is None:
                with self.engine.connect() as conn:
                    generation = read_generation(conn)
                    index = self._load(conn)
                self._generation = generation
                self._checked_at = time.monotonic()
                self._index = index
            return self._index

    def _start_refresh(self) -> None:
        if not self._refreshing.acquire(blocking=False):
            return  # one refresh at a time: the one under way will do
        try:
            thread = threading.Thread(
                target=self._refresh, name="archive-targets-refresh", daemon=True
            )
            self._refresh_thread = thread
            thread.start()
        except BaseException:
            self._refreshing.release()
            raise

    def _refresh(self) -> None:
        try:
            # The generation first: a write between the two reads makes the index newer than
            # its generation says, so the next refresh reads it again; never the reverse.
            with self.engine.connect() as conn:
                generation = read_generation(conn)
                if generation is None or generation != self._generation:
                    index = self._load(conn)
                    self._index, self._generation = index, generation
        except Exception:
            if not self._failing:
                log.warning(
                    "Could not refresh the archive's target names; still answering from the "
                    "index read before",
                    exc_info=True,
                )
                self._failing = True
        else:
            if self._failing:
                log.info("The archive's target names are refreshed again")
                self._failing = False
        finally:
            self._checked_at = time.monotonic()
            self._refreshing.release()

    def _load(self, conn: Connection) -> Index:
        obs = observations.c
        query = (
            select(obs.target_name, func.avg(obs.s_ra), func.avg(obs.s_dec))
            .where(obs.target_name.is_not(None), obs.s_ra.is_not(None))
            .group_by(obs.target_name)
        )
        rows = conn.execute(query).all()
        index: Index = {}
        for name, ra, dec in rows:
            key = normalise_name(name)
            if key:
                index.setdefault(key, (float(ra), float(dec), name))
        return index


def archive_resolver_chain(
    engine: Engine, *, online: bool = False, refresh_seconds: float | None = None
) -> ResolverChain:
    """The resolver chain of a running archive: its own targets, OpenNGC, then (opt-in) Sesame.

    ``engine`` is the one the target names are read on: ``Archive.search_engine``."""
    targets = ArchiveTargets(engine, refresh_seconds=refresh_seconds)
    chain = default_chain(archive_lookup=targets.lookup, online=online)
    return chain
