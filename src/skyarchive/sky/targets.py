"""Target names held in the archive, as the first resolver of the chain."""

from __future__ import annotations

import threading
import time

from sqlalchemy import Engine, func, select

from skyarchive.db.tables import observations
from skyarchive.sky.resolver import (
    ResolverChain,
    default_chain,
    normalise_name,
)

_REFRESH_SECONDS = 60.0


class ArchiveTargets:
    """Normalised target name -> (mean ra, mean dec, name as archived), refreshed once a minute."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._index: dict[str, tuple[float, float, str]] = {}
        self._loaded_at = -_REFRESH_SECONDS
        self._lock = threading.Lock()

    def lookup(self, normalised: str) -> tuple[float, float, str] | None:
        with self._lock:
            if time.monotonic() - self._loaded_at > _REFRESH_SECONDS:
                self._index = self._load()
                self._loaded_at = time.monotonic()
            return self._index.get(normalised)

    def _load(self) -> dict[str, tuple[float, float, str]]:
        obs = observations.c
        query = (
            select(obs.target_name, func.avg(obs.s_ra), func.avg(obs.s_dec))
            .where(obs.target_name.is_not(None), obs.s_ra.is_not(None))
            .group_by(obs.target_name)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        index: dict[str, tuple[float, float, str]] = {}
        for name, ra, dec in rows:
            key = normalise_name(name)
            if key:
                index.setdefault(key, (float(ra), float(dec), name))
        return index


def archive_resolver_chain(engine: Engine, *, online: bool = False) -> ResolverChain:
    """The resolver chain of a running archive: its own targets, OpenNGC, then (opt-in) Sesame."""
    targets = ArchiveTargets(engine)
    chain = default_chain(archive_lookup=targets.lookup, online=online)
    return chain
