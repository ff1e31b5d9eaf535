"""The PostgreSQL cursor of the searches tried on the event loop (``db/engine.make_loop_engine``).

The loop waits for each of their statements, so the database stops one that runs longer than
the loop budget (the engine's ``statement_timeout``). This cursor tells the budget when it does
(:func:`skyarchive.loop_budget.statement_stopped`), whatever the search then makes of the error,
and begins no statement once the budget is spent or a statement was stopped: the search is
thrown away and runs again in a thread (``api/search_threads.py``). Imported only for a
PostgreSQL archive.
"""

from __future__ import annotations

from typing import Any, Self

import psycopg
from psycopg.errors import QueryCanceled

from skyarchive import loop_budget


class StoppableCursor(psycopg.Cursor[Any]):
    """A cursor that begins no statement past the loop budget and marks it for one stopped."""

    def execute(self, query: Any, params: Any = None, *, prepare: bool | None = None,
                binary: bool | None = None) -> Self:  # fmt: skip
        if loop_budget.statement_refused():
            # the error the database gives a stopped statement: a database error, so
            # SQLAlchemy keeps the connection, as for one the timeout stopped
            raise QueryCanceled("not begun: the search outgrew its budget on the event loop")
        try:
            return super().execute(query, params, prepare=prepare, binary=binary)
        except QueryCanceled:
            loop_budget.statement_stopped()
            raise
