"""What the archive holds, for the home page and operators.

The figures are stored (``summary_observations``, ``summary_files``: one row per collection,
program and instrument; the portal's facet counts per program, :mod:`.facet_summary`) and kept
true by whoever writes the rows they count: :func:`refresh_summary` recounts the programs a
write touched, in the write's transaction.
Reading them costs the same at a million observations as at a thousand; nothing here depends
on the time or on the caller, so no stored figure can go stale by itself.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Select,
    Table,
    delete,
    func,
    literal_column,
    select,
    true,
)

from skyarchive.db.tables import (
    observations,
    products,
    programs,
    summary_digest,
    summary_files,
    summary_observations,
    wss_products,
)
from skyarchive.search.facet_summary import refresh_facet_summary

NO_KEY = ""  # what a NULL program or instrument is stored as
LISTED_PROGRAMS = 50  # the home page lists the programs with the most observations


@dataclass(frozen=True)
class ArchiveSummary:
    observations: int
    products: int
    total_bytes: int
    by_collection: list[tuple[str, int]]
    by_instrument: list[tuple[str, str | None, int]]
    by_program: list[tuple[str | None, str, str | None, int]]  # (proposal_id, collection, title, n)
    programs: int  # (collection, program) pairs in all; by_program may list only the largest
    wss_products: int  # of ``products``: wavefront sensing maps, which belong to no observation


def archive_is_empty(engine: Engine) -> bool:
    with engine.connect() as conn:
        return conn.execute(select(observations.c.obsid).limit(1)).first() is None


def archive_summary(engine: Engine) -> ArchiveSummary:
    """What the archive holds, as the home page shows it; reads a few stored rows.

    ``by_program`` lists the :data:`LISTED_PROGRAMS` programs with the most observations
    (ordered by collection and program); ``programs`` counts them all.
    """
    with engine.connect() as conn:
        body = conn.execute(
            select(summary_digest.c.figures).where(summary_digest.c.name == _DIGEST)
        ).scalar()
        digest = json.loads(body) if body is not None else _digest(conn)  # not built yet
        listed = [p for p, _, _ in digest["by_program"] if p != NO_KEY]
        named = select(programs.c.proposal_id, programs.c.title).where(
            programs.c.proposal_id.in_(listed)
        )
        titles: dict[str, str | None] = {p: title for p, title in conn.execute(named)}
        # counted as they are read: a few maps a week, never enough to need a stored figure
        wss = conn.execute(select(func.count()).select_from(wss_products)).scalar_one()
    return ArchiveSummary(
        observations=digest["observations"],
        products=digest["products"],
        total_bytes=digest["total_bytes"],
        by_collection=[(c, n) for c, n in digest["by_collection"]],
        by_instrument=[(c, _key(i), n) for c, i, n in digest["by_instrument"]],
        by_program=[(_key(p), c, titles.get(p), n) for p, c, n in digest["by_program"]],
        programs=digest["programs"],
        wss_products=int(wss),
    )


def _digest(conn: Connection) -> dict[str, Any]:
    """The home page's figures from the summary rows (one row per program and instrument)."""
    held = summary_observations.c
    n = func.sum(held.observations)
    n_files, n_bytes = conn.execute(
        select(func.coalesce(func.sum(summary_files.c.files), 0),
               func.coalesce(func.sum(summary_files.c.bytes), 0))
    ).one()  # fmt: skip
    by_collection = conn.execute(
        select(held.obs_collection, n).group_by(held.obs_collection).order_by(n.desc())
    ).all()
    by_instrument = conn.execute(
        select(held.obs_collection, held.instrument_name, n)
        .group_by(held.obs_collection, held.instrument_name)
        .order_by(held.obs_collection, held.instrument_name)
    ).all()
    largest = conn.execute(
        select(held.proposal_id, held.obs_collection, n)
        .group_by(held.proposal_id, held.obs_collection)
        .order_by(n.desc(), held.obs_collection, held.proposal_id)
        .limit(LISTED_PROGRAMS)
    ).all()
    n_programs = conn.execute(
        select(func.count()).select_from(
            select(held.proposal_id, held.obs_collection).distinct().subquery()
        )
    ).scalar_one()
    return {
        "observations": sum(int(count) for _, count in by_collection),
        "products": int(n_files),
        "total_bytes": int(n_bytes),
        "by_collection": [(c, int(count)) for c, count in by_collection],
        "by_instrument": [(c, i, int(count)) for c, i, count in by_instrument],
        "by_program": sorted(((p, c, int(n)) for p, c, n in largest), key=lambda r: (r[1], r[0])),
        "programs": int(n_programs),
    }


def refresh_summary(conn: Connection, programs: Iterable[str | None] | None = None) -> None:
    """Recount the stored figures of ``programs`` from the catalog rows.

    Call it in the transaction that wrote the rows, after writing, with every program whose
    observations or files were added, changed or removed (including a program an
    observation or file moved away from). ``None`` recounts the whole archive (bulk loads).

    Parameters
    ----------
    conn : sqlalchemy.Connection
        The writer's connection, inside its transaction.
    programs : iterable of str or None, optional
        ``proposal_id`` values; ``None`` among them stands for rows without a program.
    """
    keys = None if programs is None else sorted({_stored(p) for p in programs})
    if keys == []:
        return
    if conn.dialect.name == "postgresql":
        # Writers recount one after the other, so the later one counts the earlier one's
        # committed rows and builds the digest from them (held until this transaction ends).
        conn.execute(select(func.pg_advisory_xact_lock(_LOCK_KEY)))
    obs = observations.c
    group = (obs.obs_collection, _stored_sql(obs.proposal_id), _stored_sql(obs.instrument_name))
    _replace(
        conn,
        summary_observations,
        keys,
        select(*group, func.count()).where(_in_programs(obs.proposal_id, keys)).group_by(*group),
    )
    files = products.c
    by_program = (files.obs_collection, _stored_sql(files.proposal_id))
    _replace(
        conn,
        summary_files,
        keys,
        select(*by_program, func.count(), func.coalesce(func.sum(files.size), 0))
        .where(_in_programs(files.proposal_id, keys))
        .group_by(*by_program),
    )
    # the portal's facet counts of a search by program are stored beside these figures
    refresh_facet_summary(conn, lambda column: _in_programs(column, keys))
    conn.execute(delete(summary_digest).where(summary_digest.c.name == _DIGEST))
    conn.execute(summary_digest.insert().values(name=_DIGEST, figures=json.dumps(_digest(conn))))


_LOCK_KEY = 0x534B59_53554D  # our advisory lock ("SKY", "SUM")
_DIGEST = "home"


def _replace(conn: Connection, table: Table, keys: list[str] | None, counts: Select[Any]) -> None:
    conn.execute(delete(table).where(true() if keys is None else table.c.proposal_id.in_(keys)))
    conn.execute(table.insert().from_select([c.name for c in table.columns], counts))


def _in_programs(column: ColumnElement, keys: list[str] | None) -> ColumnElement[bool]:
    if keys is None:
        return true()
    condition = column.in_(keys)
    return condition | column.is_(None) if NO_KEY in keys else condition


def _stored_sql(column: ColumnElement[str]) -> ColumnElement[str]:
    # a literal, not a bound parameter: GROUP BY must repeat the selected expression exactly
    return func.coalesce(column, literal_column("''"))


def _stored(value: str | None) -> str:
    return NO_KEY if value is None else str(value)


def _key(value: str) -> str | None:
    return None if value == NO_KEY else value
