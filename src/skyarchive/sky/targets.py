"""Target names held in the archive, as the first resolver of the chain.

The index (one GROUP BY over every observation, about a second at 10^6 observations) is read
once, in a thread of its own when a server starts (:meth:`ArchiveTargets.start_loading`), else
in the first lookup; a lookup that comes while that first read is under way waits for it.
After that a lookup never waits for the database: it answers from the index it has and, when
the index is due, starts a refresh in a thread of its own (one at a time; a lookup while one
runs starts none). The index is due as soon as the archive's generation watch
(:mod:`skyarchive.db.generation_watch`, ``Archive.generation_watch``) tells of a catalogue
generation newer than the index's, so a new or renamed target is found by name a moment after
its write (SQLite: the next lookup; PostgreSQL: as the notification arrives); and, where there
is no watch or it cannot tell (``answer_cache_notify`` off, a read replica, the listener
reconnecting), once it is older than the refresh interval (a minute). The refresh first reads
the catalogue generation (:mod:`skyarchive.db.catalogue_generation`) and reads the names again
only when the catalogue has changed since; the new index replaces the old in one assignment,
with the generation it was read at. During a burst of writes at most one refresh runs: one that
ends behind the watch is followed by another at the next lookup. A refresh that fails (the
database gone for a moment) keeps the old index, logs once and tries again an interval later
(the watch does not hasten it meanwhile).

Each lookup notes the generation of the index it answered from
(:func:`~skyarchive.db.catalogue_generation.note_copy_read`): an answer that resolved a name on
an index older than the catalogue it was searched in is not kept by the answer cache, which
would otherwise send that stale answer again until the next write.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import NamedTuple

from sqlalchemy import Connection, Engine, func, select

from skyarchive import loop_budget
from skyarchive.db.catalogue_generation import note_copy_read, read_generation
from skyarchive.db.generation_watch import GenerationWatch
from skyarchive.db.tables import observations
from skyarchive.sky.resolver import (
    ResolverChain,
    default_chain,
    normalise_name,
)

log = logging.getLogger(__name__)

#: How old the index may grow before a lookup has it refreshed (seconds): the only trigger
#: where no generation watch tells of writes, a safety net where one does.
_REFRESH_SECONDS = 60.0

Index = dict[str, tuple[float, float, str]]


class _Snapshot(NamedTuple):
    """An index and the catalogue generation read just before it (so the index holds every
    write up to that generation, maybe a few more), replaced together in one assignment."""

    names: Index
    generation: int | None


class ArchiveTargets:
    """Normalised target name -> (mean ra, mean dec, name as archived), refreshed in the
    background when ``watch`` tells of a catalogue write, and once a minute when the catalogue
    has changed.

    ``engine`` should read each statement on its own (``Archive.search_engine``): the refresh
    reads the generation, then the names, and holds no transaction open between them.
    ``watch`` watches the catalogue ``engine`` reads (None: the interval alone).
    """

    def __init__(
        self, engine: Engine, *, refresh_seconds: float | None = None,
        watch: GenerationWatch | None = None,
    ) -> None:  # fmt: skip
        self.engine = engine
        self.refresh_seconds = _REFRESH_SECONDS if refresh_seconds is None else refresh_seconds
        self.watch = watch
        self._snapshot: _Snapshot | None = None  # replaced whole, never changed in place
        self._checked_at = 0.0  # when the index was last read or found current
        self._first_load = threading.Lock()  # held while the first index is read
        self._loader: threading.Thread | None = None  # the first load started at server start
        self._refreshing = threading.Lock()  # held while a refresh runs, by its thread
        self._refresh_thread: threading.Thread | None = None
        self._failing = False  # the last refresh failed (logged once until one succeeds)

    @property
    def generation(self) -> int | None:
        """The catalogue generation the current index was read at (None: none read yet)."""
        snapshot = self._snapshot
        return None if snapshot is None else snapshot.generation

    def lookup(self, normalised: str) -> tuple[float, float, str] | None:
        snapshot = self._snapshot
        if snapshot is None:
            snapshot = self._load_first()
        elif self._due(snapshot):
            self._start_refresh()
        note_copy_read(snapshot.generation)
        return snapshot.names.get(normalised)

    def _due(self, snapshot: _Snapshot) -> bool:
        """Whether ``snapshot`` should be read again: the interval has passed, or the watch
        knows of a newer generation (asked only while refreshes succeed: after a failure the
        interval paces the retries)."""
        if time.monotonic() - self._checked_at > self.refresh_seconds:
            return True
        if self.watch is None or self._failing:
            return False
        watched = self.watch.generation()  # no query: what the watch last learned
        if watched is None:
            return False  # it cannot tell: the interval will
        return snapshot.generation is None or watched > snapshot.generation

    def start_loading(self) -> None:
        """Read the first index in a thread of its own (a server starting), so that no request
        pays for it. A lookup that comes before it ends waits for this very load; one that
        fails is logged and left to the first lookup, as if never started."""
        # Taken here, released by the loader: a lookup never finds the lock free between the
        # thread's start and its first step, so it cannot start a second load.
        if self._snapshot is not None or not self._first_load.acquire(blocking=False):
            return  # loaded, or a load is under way
        self._loader = _started(self._first_load, self._load_at_start, "archive-targets-load")

    def wait_for_load(self, timeout: float | None = None) -> None:
        """Wait for the load :meth:`start_loading` started, if any, to end (tests)."""
        thread = self._loader
        if thread is not None:
            thread.join(timeout)

    def wait_for_refresh(self, timeout: float | None = None) -> None:
        """Wait for the refresh under way, if any, to end (tests; a clean shutdown)."""
        thread = self._refresh_thread
        if thread is not None:
            thread.join(timeout)

    def _load_at_start(self) -> None:
        try:
            if self._snapshot is None:
                self._read_first()
        except Exception:
            log.warning(
                "Could not read the archive's target names as the server started; the first "
                "name lookup reads them",
                exc_info=True,
            )
        finally:
            self._first_load.release()

    def _load_first(self) -> _Snapshot:
        """The first index, read in the lookup that needs it, unless a load is under way
        (concurrent lookups wait for the one load). A failure here has no index to fall back
        on: it is raised into the lookup."""
        loop_budget.must_not_wait()  # a search tried on the event loop goes to a thread
        with self._first_load:
            snapshot = self._snapshot
            if snapshot is None:
                snapshot = self._read_first()
            return snapshot

    def _read_first(self) -> _Snapshot:
        with self.engine.connect() as conn:
            generation = read_generation(conn)
            snapshot = _Snapshot(self._load(conn), generation)
        self._checked_at = time.monotonic()
        self._snapshot = snapshot
        return snapshot

    def _start_refresh(self) -> None:
        if not self._refreshing.acquire(blocking=False):
            return  # one refresh at a time: the one under way will do
        self._refresh_thread = _started(self._refreshing, self._refresh, "archive-targets-refresh")

    def _refresh(self) -> None:
        try:
            # The generation first: a write between the two reads makes the index newer than
            # its generation says, so the next refresh reads it again; never the reverse.
            with self.engine.connect() as conn:
                generation = read_generation(conn)
                if generation is None or generation != self.generation:
                    self._snapshot = _Snapshot(self._load(conn), generation)
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


def _started(held: threading.Lock, work: Callable[[], None], name: str) -> threading.Thread:
    """``work`` begun in a daemon thread of its own, which releases ``held`` (taken by the
    caller) when it ends; released here if the thread cannot start."""
    try:
        thread = threading.Thread(target=work, name=name, daemon=True)
        thread.start()
    except BaseException:
        held.release()
        raise
    return thread


def archive_resolver_chain(targets: ArchiveTargets, *, online: bool = False) -> ResolverChain:
    """The resolver chain of a running archive: its own target names (``targets``, read on
    ``Archive.search_engine``), OpenNGC, then (opt-in) Sesame."""
    return default_chain(archive_lookup=targets.lookup, online=online)
