"""Query plans for tests that check a query can be served by an index (SQLite and PostgreSQL).

PostgreSQL is told not to scan whole tables (``enable_seqscan = off``): a test archive is small
enough that a sequential scan is cheapest, and the question is whether an index *can* serve the
query, as it must at a million rows. A ``Seq Scan`` left in such a plan means none can.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Select


def plan_of(conn: Connection, query: Select) -> str:
    """The plan of a SQLAlchemy query, one line per plan node."""
    compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    params: Any = compiled.params
    if conn.dialect.name == "sqlite":
        params = tuple(compiled.params[name] for name in compiled.positiontup or ())
    return plan_of_statement(conn, str(compiled), params)


def plan_of_statement(conn: Connection, statement: str, params: Any) -> str:
    """The plan of a statement as the driver received it (``params`` in the driver's form)."""
    if conn.dialect.name == "sqlite":
        rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params)
        return "\n".join(str(row[-1]) for row in rows)
    conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
    return "\n".join(str(row[0]) for row in conn.exec_driver_sql(f"EXPLAIN {statement}", params))


def uses_index(plan: str, index: str) -> bool:
    return any(index in line and ("INDEX" in line or "Index" in line) for line in plan.split("\n"))
