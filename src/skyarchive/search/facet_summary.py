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

import functools
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Float,
    Integer,
    Table,
    and_,
    bindparam,
    case,
    cast,
    delete,
    func,
    literal_column,
    null,
    or_,
    select,
    true,
    union_all,
)

from skyarchive.access.rights import EXCLUSIVE_ACCESS, PUBLIC, released_clause, restricted_ranges
from skyarchive.db.driver_rows import DriverRows
from skyarchive.db.id_lists import in_texts
from skyarchive.db.tables import (
    RELEASE_BUCKET_DAYS,
    observations,
    summary_facets,
    summary_release_targets,
    summary_releases,
    summary_targets,
)
from skyarchive.search.columns import observation_column
from skyarchive.search.criteria import Criterion, criterion_clause
from skyarchive.search.facet_values import listed_values, token_counts
from skyarchive.search.observations import where_clause
from skyarchive.search.tokens import SEPARATORS, asked_once, value_parts

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
        _recount(conn, table, of_programs, {})
    refresh_release_summary(conn, of_programs)


def refresh_release_summary(
    conn: Connection, of_programs: Callable[[ColumnElement[Any]], ColumnElement[bool]]
) -> None:
    """Recount the per-release-bucket rows (``summary_releases``, ``summary_release_targets``)
    of the programs ``of_programs`` selects: after any write to their observations, and after
    their release dates change (:func:`skyarchive.ingest.linking.apply_release_dates`)."""
    bucket = release_bucket(conn, observations.c.t_obs_release)
    for table in (summary_releases, summary_release_targets):
        _recount(conn, table, of_programs, {"release_bucket": bucket})


def _recount(
    conn: Connection,
    table: Table,
    of_programs: Callable[[ColumnElement[Any]], ColumnElement[bool]],
    derived: dict[str, ColumnElement[Any]],
) -> None:
    """Replace the selected programs' rows of the stored ``table`` by their observations
    grouped by its columns: the column of the same name, or the expression ``derived`` gives."""
    names = _grouped_columns(table)
    grouped = [derived[n] if n in derived else observations.c[n] for n in names]
    counts = (
        select(*grouped, func.count())
        .where(of_programs(observations.c.proposal_id))
        .group_by(*grouped)
    )
    conn.execute(delete(table).where(of_programs(table.c.proposal_id)))
    conn.execute(table.insert().from_select([*names, "observations"], counts))


def release_bucket(conn: Connection, release: ColumnElement[Any]) -> ColumnElement[Any]:
    """floor(release / RELEASE_BUCKET_DAYS) in SQL, NULL for NULL; equal to
    :func:`bucket_of` (division by a power of two is exact in floating point). PostgreSQL's
    cast rounds, SQLite's truncates toward zero (and its ``floor`` is optional), so each
    dialect gets its own floor."""
    days: ColumnElement[Any] = literal_column(str(RELEASE_BUCKET_DAYS))
    if conn.dialect.name == "postgresql":
        return cast(func.floor(release / days), Integer)
    truncated = cast(release / days, Integer)
    return truncated - case((and_(release < 0, truncated != release / days), 1), else_=0)


def bucket_of(moment: float) -> int:
    """The release bucket holding ``moment`` (MJD)."""
    return math.floor(moment / RELEASE_BUCKET_DAYS)


#: Facets whose chosen values the stored combinations test: the whole value by the database as
#: on the observations, the parts of a ``;``-separated value here, split as ingest splits them.
_COMBINED = frozenset(_grouped_columns(summary_facets))
#: Facets whose chosen values the stored rows answer with a little counting among the
#: observations: data rights (the restricted rows, few, counted anyway) and targets (the chosen
#: targets' rows, from the index that leads with the program and the target).
_COUNTED_LIVE = frozenset({"dataRights", "target_name"})


def counts_are_stored(criteria: Sequence[Criterion], chosen: Sequence[Criterion] = ()) -> bool:
    """Whether the stored rows answer a search with these criteria (no position) and these
    chosen facet values: every criterion is on the program, which the stored rows hold as it
    is, and every chosen value on a facet of the grid but the few the stored rows cannot
    test (none today: every facet beside the grid is one of them)."""
    return (
        bool(criteria)
        and all(c.column.name == "proposal_id" for c in criteria)
        and all(c.column.name in _COMBINED | _COUNTED_LIVE for c in chosen)
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
    has_tokens: Callable[[str], bool] | None = None,
) -> StoredCounts:
    """The facet counts of the observations ``criteria`` match, and of those the ``chosen``
    facet values leave, from the stored rows where they can tell, at ``now`` (MJD).

    Only for what :func:`counts_are_stored` accepts. The programs' combinations are read once,
    each with whether it passes the chosen values of the facets it holds, and summed here per
    facet; the targets are read per program. What the stored rows cannot tell is counted among
    the observations, each time from an index and over few rows:

    * the restricted observations (in an archive most are public, an exclusive-access period
      lasting a year; two ranges of ``ix_observations_program_release`` per program, after
      the release date and without one, hold the others), grouped by combination, each with
      whether it passes the other chosen values: the data rights facet, and the rows a chosen
      data right leaves (public: the passing combinations less their restricted rows);
    * with a target chosen, the rows it leaves (``ix_observations_program_targets`` leads
      with the program and the target), which are then every shown count;
    * otherwise, with values chosen, the shown count of the targets the facet will list
      (:func:`~skyarchive.search.facet_values.listed_values`, the 500 most frequent), by
      their (program, target) pairs: never the other targets' rows.
    """
    names = _grouped_columns(summary_facets)
    chosen = [c for c in chosen if not c.empty]
    programs = None if chosen else listed_programs(criteria)
    if programs is not None:
        return _program_counts(conn, programs, names, now)
    has_tokens = asked_once(conn) if has_tokens is None else has_tokens
    combined = [c for c in chosen if c.column.name in _COMBINED]
    tests = [_CombinationTest.of(c, names.index(c.column.name), has_tokens) for c in combined]
    rights = _chosen_rights(chosen)
    total: dict[str, Counter[Any]] = {name: Counter() for name in names}
    passing: Counter[tuple[Any, ...]] = Counter()
    flags = [case((t.whole, 1), else_=0) for t in tests]
    combinations = select(
        *(summary_facets.c[n] for n in names), summary_facets.c.observations, *flags
    ).where(_on(summary_facets, criteria))
    width = len(names)
    for row in conn.execute(combinations):
        values, count = tuple(row[:width]), int(row[width])
        for name, value in zip(names, values, strict=True):
            total[name][value] += count
        if all(t.passes(values, flag) for t, flag in zip(tests, row[width + 1 :], strict=True)):
            passing[values] += count
    pairs = conn.execute(
        select(summary_targets.c.proposal_id, summary_targets.c.target_name,
               summary_targets.c.observations).where(_on(summary_targets, criteria))
    ).all()  # fmt: skip
    total["target_name"] = Counter()
    for _, target, count in pairs:
        total["target_name"][target] += int(count)

    where = where_clause(criteria, now=now, has_tokens=has_tokens)
    others = [c for c in chosen if c.column.name != "dataRights"]
    # the restricted rows per target serve only data rights ticked alone (below)
    restricted, restricted_targets = _restricted_counts(
        conn, criteria, where, names, now, per_target=bool(chosen) and not others
    )
    total["dataRights"] = _rights(sum(total["proposal_id"].values()), sum(restricted.values()))
    if not chosen:
        return StoredCounts(total, total)
    if any(c.column.name == "target_name" for c in chosen):
        chosen_where = where_clause(chosen, now=now, has_tokens=has_tokens)
        shown = _chosen_targets_counts(conn, and_(where, chosen_where), names, now)
        return StoredCounts(total, shown)
    shown = {name: Counter() for name in names}
    restricted_shown = 0
    for values, count in passing.items():
        # a combination passes the other chosen values or not, whatever its rows' release dates
        held_back = restricted.get(values, 0)
        left = (count - held_back if PUBLIC in rights else 0) + (
            held_back if EXCLUSIVE_ACCESS in rights else 0
        )
        restricted_shown += held_back if EXCLUSIVE_ACCESS in rights else 0
        for name, value in zip(names, values, strict=True):
            shown[name][value] += left
    shown["dataRights"] = _rights(sum(shown["proposal_id"].values()), restricted_shown)
    if not others:
        # data rights alone ticked: each target's rows are its restricted rows or the others
        shown["target_name"] = Counter()
        for target, count in total["target_name"].items():
            held_back = restricted_targets.get(target, 0)
            left = (count - held_back if PUBLIC in rights else 0) + (
                held_back if EXCLUSIVE_ACCESS in rights else 0
            )
            if left:
                shown["target_name"][target] = left
        return StoredCounts(total, shown)
    listed = set(listed_values(observation_column("target_name"),
                               token_counts(observation_column("target_name"),
                                            total["target_name"].items())))  # fmt: skip
    counted = [(p, t) for p, t, _ in pairs if t is not None and str(t).strip() in listed]
    left_rows = and_(where, where_clause(chosen, now=now, has_tokens=has_tokens))
    shown["target_name"] = _pair_counts(conn, left_rows, counted)
    return StoredCounts(total, shown)


def listed_programs(criteria: Sequence[Criterion]) -> list[str] | None:
    """The program IDs of a search by programs alone as the portal sends it (one criterion on
    the program listing values, each without letters, so :func:`criterion_clause` compares
    them exactly: ``proposal_id IN (...)``), else None."""
    live = [c for c in criteria if not c.empty]
    if len(live) != 1:
        return None
    (criterion,) = live
    if criterion.column.name != "proposal_id" or criterion.ranges or criterion.patterns:
        return None
    values = [str(v) for v in criterion.values]
    if not values or any(any(ch.isalpha() for ch in v) for v in values):
        return None
    return values


@functools.lru_cache(maxsize=4)
def _program_statement(dialect: str) -> DriverRows:
    """The statement of :func:`_program_counts`, built once per dialect and read on the
    driver's cursor: the programs bound as one value ``programs`` (:func:`in_texts`; as an
    expanding list, SQLAlchemy rendered it per search), the moment as ``now``, the release
    bucket holding it as ``current`` and that bucket's end as ``bucket_end``. Built per
    search with the criteria, the four parts' expressions and cache keys cost more than the
    few stored rows they read; run as four statements, each its own round trip and result set.

    Its rows: a part number, the program, the facets with few values, the target, and a
    count. Part 0 is the stored combinations, 1 the stored targets (the facets NULL); 2 sums
    the matching observations in later release buckets or none (``summary_releases``), 3
    counts live those of the bucket holding ``now`` (``ix_observations_program_release``):
    together the restricted observations, which is all the data rights facet needs when
    nothing is chosen."""
    names = _grouped_columns(summary_facets)

    def of_programs(column: ColumnElement[Any]) -> ColumnElement[bool]:
        return in_texts(column, "programs", dialect)

    few = names[1:]  # after the program

    def part(number: int) -> ColumnElement[Any]:
        return literal_column(str(number), Integer).label("part")

    def nothing(name: str) -> ColumnElement[Any]:
        return null().label(name)

    combinations = select(
        part(0), *(summary_facets.c[n] for n in names), nothing("target_name"),
        summary_facets.c.observations,
    ).where(of_programs(summary_facets.c.proposal_id))  # fmt: skip
    targets = select(
        part(1), summary_targets.c.proposal_id, *(nothing(n) for n in few),
        summary_targets.c.target_name, summary_targets.c.observations,
    ).where(of_programs(summary_targets.c.proposal_id))  # fmt: skip
    bucket = summary_releases.c.release_bucket
    later = select(
        part(2), *(nothing(n) for n in (*names, "target_name")),
        func.sum(summary_releases.c.observations),
    ).where(
        of_programs(summary_releases.c.proposal_id),
        or_(bucket > bindparam("current", type_=Integer), bucket.is_(None)),
    )  # fmt: skip
    release = observations.c.t_obs_release
    not_yet, _ = restricted_ranges(release, bindparam("now", type_=Float))
    live = select(
        part(3), *(nothing(n) for n in (*names, "target_name")), func.count(),
    ).where(
        of_programs(observations.c.proposal_id),
        not_yet,
        release < bindparam("bucket_end", type_=Float),
    )  # fmt: skip
    return DriverRows(union_all(combinations, targets, later, live))


def _program_counts(
    conn: Connection, programs: list[str], names: Sequence[str], now: float
) -> StoredCounts:
    """:func:`stored_facet_values` of a search by programs alone, nothing chosen: the stored
    combinations and targets, and the restricted observations (those of later release
    buckets stored, those of the bucket holding ``now`` counted live), in one statement
    built once (:func:`_program_statement`)."""
    current = bucket_of(now)
    params = {"programs": programs, "now": now, "current": current,
              "bucket_end": float((current + 1) * RELEASE_BUCKET_DAYS)}  # fmt: skip
    total: dict[str, Counter[Any]] = {name: Counter() for name in names}
    targets: Counter[Any] = Counter()
    restricted = 0
    statement = _program_statement(conn.dialect.name)
    for part, *values, target, count in statement.tuples(conn, params):
        if part == 0:
            for name, value in zip(names, values, strict=True):
                total[name][value] += int(count)
        elif part == 1:
            targets[target] += int(count)
        else:  # a sum over no rows is NULL
            restricted += int(count or 0)
    total["target_name"] = targets
    total["dataRights"] = _rights(sum(total["proposal_id"].values()), restricted)
    return StoredCounts(total, total)


def _on(table: Table, tested: Sequence[Criterion]) -> ColumnElement[bool]:
    clauses = [criterion_clause(c, table.c[c.column.name]) for c in tested if not c.empty]
    return and_(*clauses) if clauses else true()


def _rights(everything: int, exclusive: int) -> Counter[Any]:
    return Counter({PUBLIC: everything - exclusive, EXCLUSIVE_ACCESS: exclusive})


def _chosen_rights(chosen: Sequence[Criterion]) -> frozenset[str]:
    """The data rights the chosen values leave (both when none is chosen), as the observations'
    criterion reads them (:func:`skyarchive.search.observations.where_clause`)."""
    left = frozenset({PUBLIC, EXCLUSIVE_ACCESS})
    for criterion in chosen:
        if criterion.column.name == "dataRights":
            left &= {str(v).upper() for v in criterion.values}
    return left


@dataclass(frozen=True)
class _CombinationTest:
    """One chosen criterion on a stored combination: the whole value compared by the database
    (``whole``, selected as a flag beside the combination) or, for a ``;``-separated column
    whose archive holds multi-valued entries, one part of it (``part``, tested here on the
    parts :func:`~skyarchive.search.tokens.value_parts` keeps, as the observations' criterion
    tests the kept parts)."""

    whole: ColumnElement[bool]
    position: int
    part: Callable[[str], bool] | None

    @classmethod
    def of(
        cls, criterion: Criterion, position: int, has_tokens: Callable[[str], bool]
    ) -> _CombinationTest:
        name = criterion.column.name
        whole = criterion_clause(criterion, summary_facets.c[name])
        if name not in SEPARATORS or not has_tokens(name):
            return cls(whole, position, None)
        values = {str(v) for v in criterion.values}
        patterns = [_like_regex(p) for p in criterion.patterns]
        separator = SEPARATORS[name]

        def part(value: str) -> bool:
            return any(
                kept in values or any(p.fullmatch(kept) for p in patterns)
                for kept in value_parts(value, separator)
            )

        return cls(whole, position, part)

    def passes(self, values: Sequence[Any], flag: int) -> bool:
        return bool(flag) or (self.part is not None and self.part(values[self.position]))


def _like_regex(pattern: str) -> re.Pattern[str]:
    """A SQL LIKE pattern with ``\\`` as its escape (:mod:`.criteria`) as a regular expression,
    for lower-case text (both databases compare the kept parts as they are)."""
    out, escaped = [], False
    for char in pattern:
        if escaped:
            out.append(re.escape(char))
            escaped = False
        elif char == "\\":
            escaped = True
        else:
            out.append({"%": ".*", "_": "."}.get(char) or re.escape(char))
    return re.compile("".join(out), re.DOTALL)


def _restricted_counts(
    conn: Connection,
    criteria: Sequence[Criterion],
    where: ColumnElement[bool],
    names: Sequence[str],
    now: float,
    *,
    per_target: bool,
) -> tuple[Counter[tuple[Any, ...]], Counter[Any]]:
    """The matching observations not released by ``now``, per combination and per target.

    Those released in a later release bucket than the one holding ``now``, or never, are read
    from the stored rows (``summary_releases``, ``summary_release_targets``, schema 0040);
    those of the bucket holding ``now`` are counted live from the range of
    ``ix_observations_program_release`` between ``now`` and the bucket's end (at most
    RELEASE_BUCKET_DAYS of releases). Counting every restricted row live took 390-440 ms at
    10^6 observations when 15% of a 200,000-row result was exclusive. The counts per target
    are read only ``per_target`` (else empty but for the live bucket's)."""
    current = bucket_of(now)
    by_combination: Counter[tuple[Any, ...]] = Counter()
    by_target: Counter[Any] = Counter()
    width = len(names)
    stored_tables = [(summary_releases, names)]
    if per_target:
        stored_tables.append((summary_release_targets, ["target_name"]))
    for table, grouped in stored_tables:
        bucket = table.c.release_bucket
        keys = [table.c[n] for n in grouped]
        # summed by the database: the stored rows are many (a target's rows of one program and
        # bucket are few), the sums one per combination or target
        stored = (
            select(*keys, func.sum(table.c.observations))
            .where(_on(table, criteria), or_(bucket > current, bucket.is_(None)))
            .group_by(*keys)
        )
        for row in conn.execute(stored):
            if table is summary_releases:
                by_combination[tuple(row[:width])] += int(row[width])
            else:
                by_target[row[0]] += int(row[1])
    release = observations.c.t_obs_release
    not_yet, _ = restricted_ranges(release, now)  # the one rule; its other part is the NULLs
    keys = [observations.c[n] for n in (*names, "target_name")]
    live = (
        select(*keys, func.count())
        .where(where, not_yet, release < float((current + 1) * RELEASE_BUCKET_DAYS))
        .group_by(*keys)
    )
    for row in conn.execute(live):
        count = int(row[width + 1])
        by_combination[tuple(row[:width])] += count
        by_target[row[width]] += count
    return by_combination, by_target


def _chosen_targets_counts(
    conn: Connection, left: ColumnElement[bool], names: Sequence[str], now: float
) -> dict[str, Counter[Any]]:
    """Every facet's counts among the rows ``left`` selects, chosen targets among them, grouped
    by a prefix of ``ix_observations_program_targets`` (in its order, no sort)."""
    program, *few = names
    keys = [observations.c[n] for n in (program, "target_name", *few)]
    released = case((released_clause(observations.c.t_obs_release, now), 1), else_=0)
    shown: dict[str, Counter[Any]] = {n: Counter() for n in (*names, "target_name")}
    public = 0
    query = select(*keys, func.count(), func.sum(released)).where(left).group_by(*keys)
    for *values, count, public_here in conn.execute(query):
        for name, value in zip((program, "target_name", *few), values, strict=True):
            shown[name][value] += count
        public += int(public_here)
    everything = sum(shown[program].values())
    shown["dataRights"] = _rights(everything, everything - public)
    return shown


#: Most (program, target) index ranges one query seeks (programs x targets of its pairs).
_SEEKS_PER_QUERY = 20_000


def _pair_counts(
    conn: Connection, left: ColumnElement[bool], pairs: Sequence[tuple[Any, Any]]
) -> Counter[Any]:
    """The rows ``left`` selects per target, for the (program, target) ``pairs`` only: each
    query seeks its programs' and targets' ranges of ``ix_observations_program_targets``
    (every program with every target: a program holds few of another's targets, and a listed
    target's every pair within the search is among ``pairs``, so the extra ranges are empty).
    A list of row values or one OR-ed condition per program took 30-1,200 ms on SQLite for
    the 500 pairs a 200,000-row result lists; this, 12 ms."""
    targets_of: dict[Any, set[Any]] = {}
    for program, target in pairs:
        targets_of.setdefault(program, set()).add(target)
    batches: list[tuple[list[Any], set[Any]]] = []
    for program, more in sorted(targets_of.items()):
        if batches:
            programs, targets = batches[-1]
            if (len(programs) + 1) * len(targets | more) <= _SEEKS_PER_QUERY:
                programs.append(program)
                targets |= more
                continue
        batches.append(([program], set(more)))
    counts: Counter[Any] = Counter()
    for programs, targets in batches:
        query = (
            select(observations.c.target_name, func.count())
            .where(left, observations.c.proposal_id.in_(programs),
                   observations.c.target_name.in_(sorted(targets)))
            .group_by(observations.c.proposal_id, observations.c.target_name)
        )  # fmt: skip
        for target, count in conn.execute(query):
            counts[target] += count
    return counts
