"""The portal's facet counts of a search by program, read from stored counts (schema 0032).

A search by program ID is the portal's commonest, and at archive scale its result is large
(200,000 of a million observations for a hundred programs). Grouping that many index entries
on every search took about a second, so the writers keep the counts instead: one row per
program and combination of the facets with few values (``summary_facets``) and one per
program and target (``summary_targets``), recounted for the programs a write touched in the
write's own transaction (:func:`refresh_facet_summary`, called by
:func:`skyarchive.search.summary.refresh_summary`). Whether an observation is public changes
with time, not with a write, so that facet is counted live: one count of the matching
observations not released by now, from ``ix_observations_program_release``.

The stored rows keep NULL as NULL, so the search's own program criterion, applied to them,
selects exactly the programs it selects among the observations. Searches with other criteria,
a position, or chosen facet values are counted from the observations
(:mod:`skyarchive.search.portal_search`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, and_, delete, func, select, true

from skyarchive.access.rights import EXCLUSIVE_ACCESS, PUBLIC, restricted_clause
from skyarchive.db.tables import observations, summary_facets, summary_targets
from skyarchive.search.criteria import Criterion, criterion_clause
from skyarchive.search.tokens import SEPARATORS

_STORED = (summary_facets, summary_targets)


def _grouped_columns(table: Table) -> list[str]:
    return [c.name for c in table.columns if c.name != "observations"]


def refresh_facet_summary(
    conn: Connection, of_programs: Callable[[ColumnElement[Any]], ColumnElement[bool]]
) -> None:
    """Recount the stored facet rows of the programs ``of_programs`` selects.

    Parameters
    ----------
    conn : sqlalchemy.Connection
        The writer's connection, inside the transaction that changed the observations.
    of_programs : callable
        Given a ``proposal_id`` column (of ``observations`` or of a stored table), the
        condition that selects the recounted programs' rows.
    """
    for table in _STORED:
        names = _grouped_columns(table)
        grouped = [observations.c[name] for name in names]
        counts = (
            select(*grouped, func.count())
            .where(of_programs(observations.c.proposal_id))
            .group_by(*grouped)
        )
        conn.execute(delete(table).where(of_programs(table.c.proposal_id)))
        conn.execute(table.insert().from_select([*names, "observations"], counts))


def counts_are_stored(criteria: Sequence[Criterion]) -> bool:
    """Whether the stored rows answer a search with these criteria (no position, no facet
    value chosen): every criterion is on the program, which the stored rows hold as it is."""
    return bool(criteria) and all(
        c.column.name == "proposal_id" and c.column.name not in SEPARATORS for c in criteria
    )


def stored_facet_values(
    conn: Connection, criteria: Sequence[Criterion], where: ColumnElement[bool], *, now: float
) -> dict[str, Counter[Any]]:
    """Per facet, the observations ``criteria`` match per value, from the stored rows, and
    their data rights at ``now`` (MJD) counted among the observations (``where``: the same
    criteria on ``observations``).

    Only for criteria :func:`counts_are_stored` accepts. The program's combinations are read
    once and summed here per facet (a few per program: one query, not one per facet); the
    targets are summed over the programs by the database. The restricted observations are
    counted, not the public ones: in an archive most are public (an exclusive-access period
    lasts a year), and two ranges of ``ix_observations_program_release`` per program, after
    the release date and without one, hold only the others.
    """

    def chosen(table: Table) -> ColumnElement[bool]:
        clauses = [criterion_clause(c, table.c.proposal_id) for c in criteria if not c.empty]
        return and_(*clauses) if clauses else true()

    names = _grouped_columns(summary_facets)
    out: dict[str, Counter[Any]] = {name: Counter() for name in names}
    combinations = select(*(summary_facets.c[n] for n in names), summary_facets.c.observations)
    for *values, count in conn.execute(combinations.where(chosen(summary_facets))):
        for name, value in zip(names, values, strict=True):
            out[name][value] += count
    target, n = summary_targets.c.target_name, func.sum(summary_targets.c.observations)
    targets = select(target, n).where(chosen(summary_targets)).group_by(target)
    out["target_name"] = Counter({value: int(count) for value, count in conn.execute(targets)})
    total = sum(out["proposal_id"].values())
    restricted_now = and_(where, restricted_clause(observations.c.t_obs_release, now))
    restricted = int(
        conn.execute(select(func.count()).select_from(observations).where(restricted_now))
        .scalar_one()
    )  # fmt: skip
    out["dataRights"] = Counter({PUBLIC: total - restricted, EXCLUSIVE_ACCESS: restricted})
    return out
