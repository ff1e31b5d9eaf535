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
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, and_, case, delete, func, select, true

from skyarchive.access.rights import EXCLUSIVE_ACCESS, PUBLIC, restricted_clause
from skyarchive.db.tables import observations, summary_facets, summary_targets
from skyarchive.search.criteria import Criterion, criterion_clause
from skyarchive.search.observations import where_clause
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


#: Facets whose chosen values the stored combinations can test as the observations would
#: (columns of ``summary_facets`` compared whole, not by ``;``-separated parts).
_TESTED_WHOLE = frozenset(
    name for name in _grouped_columns(summary_facets) if name not in SEPARATORS
)


def counts_are_stored(criteria: Sequence[Criterion], chosen: Sequence[Criterion] = ()) -> bool:
    """Whether the stored rows answer a search with these criteria (no position) and these
    chosen facet values: every criterion is on the program, which the stored rows hold as it
    is, and every chosen value on a facet the stored combinations hold whole."""
    return (
        bool(criteria)
        and all(c.column.name == "proposal_id" for c in criteria)
        and all(c.column.name in _TESTED_WHOLE for c in chosen)
    )


@dataclass
class StoredCounts:
    """Per facet, the matching observations per value (``total``) and those the chosen values
    leave (``shown``; the same counters when none is chosen)."""

    total: dict[str, Counter[Any]]
    shown: dict[str, Counter[Any]]


def stored_facet_values(
    conn: Connection,
    criteria: Sequence[Criterion],
    chosen: Sequence[Criterion],
    *,
    now: float,
) -> StoredCounts:
    """The facet counts of the observations ``criteria`` match, and of those the ``chosen``
    facet values leave, from the stored rows where they can tell, at ``now`` (MJD).

    Only for what :func:`counts_are_stored` accepts. The programs' combinations are read once
    (with whether each passes the chosen values) and summed here per facet; the targets are
    summed over the programs by the database. What the stored rows cannot tell is counted
    among the observations: the restricted ones (in an archive most are public, an
    exclusive-access period lasting a year, and two ranges of
    ``ix_observations_program_release`` per program, after the release date and without one,
    hold only the others), and, with values chosen, the targets of the rows they leave.
    """

    def on(table: Table, tested: Sequence[Criterion]) -> ColumnElement[bool]:
        clauses = [criterion_clause(c, table.c[c.column.name]) for c in tested if not c.empty]
        return and_(*clauses) if clauses else true()

    names = _grouped_columns(summary_facets)
    total: dict[str, Counter[Any]] = {name: Counter() for name in names}
    shown: dict[str, Counter[Any]] = {name: Counter() for name in names} if chosen else total
    passes = case((on(summary_facets, chosen), 1), else_=0)
    combinations = select(
        *(summary_facets.c[n] for n in names), summary_facets.c.observations, passes
    ).where(on(summary_facets, criteria))
    for *values, count, passed in conn.execute(combinations):
        for name, value in zip(names, values, strict=True):
            total[name][value] += count
            if passed and chosen:
                shown[name][value] += count
    target, n = summary_targets.c.target_name, func.sum(summary_targets.c.observations)
    targets = select(target, n).where(on(summary_targets, criteria)).group_by(target)
    total["target_name"] = Counter({value: int(count) for value, count in conn.execute(targets)})
    where = where_clause(criteria, now=now, conn=conn)
    if chosen:
        # grouped by the program too, so the groups are a prefix of an index (portal_search)
        leading = (observations.c.proposal_id, observations.c.target_name)
        left = and_(where, where_clause(chosen, now=now, conn=conn))
        counted = select(*leading, func.count()).where(left).group_by(*leading)
        shown["target_name"] = Counter()
        for _, value, count in conn.execute(counted):
            shown["target_name"][value] += count
    # The restricted rows found once by their release dates (few, as above), each tested for
    # the chosen values: by the values' own index, every chosen row would be read.
    restricted_now = and_(where, restricted_clause(observations.c.t_obs_release, now))
    passes_chosen = case((where_clause(chosen, now=now, conn=conn), 1), else_=0)
    restricted, restricted_shown = conn.execute(
        select(func.count(), func.coalesce(func.sum(passes_chosen), 0)).where(restricted_now)
    ).one()
    for counts, exclusive in ((total, int(restricted)), (shown, int(restricted_shown))):
        everything = sum(counts["proposal_id"].values())
        counts["dataRights"] = Counter({PUBLIC: everything - exclusive,
                                        EXCLUSIVE_ACCESS: exclusive})  # fmt: skip
    return StoredCounts(total, shown)
