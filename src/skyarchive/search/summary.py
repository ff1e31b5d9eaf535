"""What the archive holds, for the home page and operators."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, func, select

from skyarchive.db.tables import observations, products, programs


@dataclass(frozen=True)
class ArchiveSummary:
    observations: int
    products: int
    total_bytes: int
    by_collection: list[tuple[str, int]]
    by_instrument: list[tuple[str, str, int]]
    by_program: list[tuple[str, str, str | None, int]]  # (proposal_id, collection, title, count)


def archive_is_empty(engine: Engine) -> bool:
    with engine.connect() as conn:
        return conn.execute(select(observations.c.obsid).limit(1)).first() is None


def archive_summary(engine: Engine) -> ArchiveSummary:
    obs = observations.c
    with engine.connect() as conn:
        n_obs = conn.execute(select(func.count()).select_from(observations)).scalar_one()
        n_files, n_bytes = conn.execute(
            select(func.count(), func.coalesce(func.sum(products.c.size), 0))
        ).one()
        by_collection = conn.execute(
            select(obs.obs_collection, func.count())
            .group_by(obs.obs_collection)
            .order_by(func.count().desc())
        ).all()
        by_instrument = conn.execute(
            select(obs.obs_collection, obs.instrument_name, func.count())
            .group_by(obs.obs_collection, obs.instrument_name)
            .order_by(obs.obs_collection, obs.instrument_name)
        ).all()
        by_program = conn.execute(
            select(obs.proposal_id, obs.obs_collection, programs.c.title, func.count())
            .join(programs, programs.c.proposal_id == obs.proposal_id, isouter=True)
            .group_by(obs.proposal_id, obs.obs_collection, programs.c.title)
            .order_by(obs.obs_collection, obs.proposal_id)
        ).all()
    return ArchiveSummary(
        observations=n_obs,
        products=n_files,
        total_bytes=int(n_bytes),
        by_collection=[tuple(r) for r in by_collection],
        by_instrument=[tuple(r) for r in by_instrument],
        by_program=[tuple(r) for r in by_program],
    )
