"""Parts of multi-valued columns, kept apart so that matching one part can use an index.

MAST's ``;``-separated columns (``filters = "F170LP;G235M"``, ``obs_collection``, ...) match a
criterion when the whole value or any one part matches. Parts of multi-valued entries are kept
in ``observation_tokens``; single-valued entries need no row there, so a column that holds no
multi-valued entry is searched by its (expression) index alone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, bindparam, delete, exists, or_, select

from skyarchive.db.catalogue_generation import generation_computed_under
from skyarchive.db.driver_rows import DriverRows
from skyarchive.db.tables import observation_tokens, observations
from skyarchive.db.upsert import insert_ignore
from skyarchive.search.columns import OBSERVATION_COLUMNS

SEPARATORS = {c.name: c.separator for c in OBSERVATION_COLUMNS if c.separator}


def token_rows(obsid: int, values: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The token rows of one observation's multi-valued entries (lower-case parts)."""
    rows = []
    for column, separator in SEPARATORS.items():
        parts = value_parts(values.get(column), separator)
        rows += [{"column_name": column, "token": p, "obsid": obsid} for p in sorted(parts)]
    return rows


def value_parts(value: Any, separator: str) -> set[str]:
    """The parts of one multi-valued entry as they are kept (lower-case, at most 120
    characters); none for a single-valued entry."""
    if not isinstance(value, str) or separator not in value:
        return set()
    parts = {part.strip().lower()[:120] for part in value.split(separator)}
    return {part for part in parts if part}


def replace_tokens(conn: Connection, obsid: int, values: Mapping[str, Any]) -> None:
    conn.execute(delete(observation_tokens).where(observation_tokens.c.obsid == obsid))
    insert_ignore(conn, observation_tokens, token_rows(obsid, values))


def column_has_tokens(conn: Connection, column: str) -> bool:
    """Whether any entry of ``column`` is multi-valued (an index seek, not a scan)."""
    return bool(_ANY_TOKEN.all(conn, {"column": column})[0][0])


#: Built once, the column bound at execution, and read on the driver's cursor: a criteria
#: search asks this for each ``;``-separated column it names, and SQLAlchemy's execution
#: cost several times the index seek.
_ANY_TOKEN = DriverRows(
    select(exists().where(observation_tokens.c.column_name == bindparam("column")).label("found"))
)


def asked_once(conn: Connection) -> Callable[[str], bool]:
    """:func:`column_has_tokens` for one search: each column asked once whatever the number of
    statements the search builds (its page, its count), and on an engine given
    :class:`TokenAnswers` (the search engines, :data:`ANSWERS_OPTION`), not at all while the
    catalogue's generation has not moved since the column was last asked."""
    kept: TokenAnswers | None = conn.get_execution_options().get(ANSWERS_OPTION)
    answers: dict[str, bool] | None = None

    def has_tokens(column: str) -> bool:
        nonlocal answers
        if answers is None:  # looked up at the first column asked: most searches ask none
            known = kept.current() if kept is not None else None
            answers = {} if known is None else known
        found = answers.get(column)
        if found is None:
            found = answers[column] = column_has_tokens(conn, column)
        return found

    return has_tokens


#: The execution option of an engine whose searches share a :class:`TokenAnswers`.
ANSWERS_OPTION = "skyarchive_token_answers"


class TokenAnswers:
    """:func:`column_has_tokens`'s answers at the catalogue's current generation, shared by
    the searches of a process.

    Whether a column holds a multi-valued entry changes only with a catalogue write, which
    moves the generation on (``db/catalogue_generation.py``); asked per search, it was one
    statement more for most criteria searches (on PostgreSQL a round trip: a sixth of a
    count). An answer is kept under the generation read before it was asked: it is at least
    as new as that generation, and every search runs on rows at least as new as it.
    """

    def __init__(self, generation: Callable[[], int | None]) -> None:
        """``generation()``: the catalogue's generation known without a query (a watch,
        ``db/generation_watch.py``), or None when it cannot tell (each search then asks)."""
        self._generation = generation
        self._kept: tuple[int, dict[str, bool]] | None = None  # replaced whole: threads share it

    def current(self) -> dict[str, bool] | None:
        """The answers of the current generation, to read and add to; None when the
        generation is not known without a query. For an answer the answer cache is to keep,
        the generation it learned before the search began (the same a read of the watch now
        would most likely give, and as good if a write came between: every row searched is
        at least as new)."""
        generation = generation_computed_under()  # the answer cache's, when it learned one
        if generation is None:
            generation = self._generation()
        if generation is None:
            return None
        kept = self._kept
        if kept is None or kept[0] != generation:
            kept = self._kept = (generation, {})
        return kept[1]


def token_match(column: str, values: Sequence[Any], patterns: Sequence[Any]) -> ColumnElement[bool]:
    """Observations with a part of ``column`` equal to a value or LIKE a pattern (the values
    and patterns written in or bound parameters)."""
    token = observation_tokens.c.token
    tests = [token.in_(list(values))] if values else []
    tests += [token.like(p, escape="\\") for p in patterns]
    parts = select(observation_tokens.c.obsid).where(
        observation_tokens.c.column_name == column, or_(*tests)
    )
    return observations.c.obsid.in_(parts.scalar_subquery())
