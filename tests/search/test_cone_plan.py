"""SQLite finds a cone's candidates through the cell index however many cell ranges it has.

With ``SELECT DISTINCT obsid`` in the candidates' subquery, SQLite's planner chose, from about
six ranges on, to scan every footprint cell through the obsid index instead of searching the
ranges: at 10^6 observations (5.3 million cells) that was the cone's 5 s stalls. The plans here
are of the statements the cone search really sends (recorded as they are executed), on an
archive without statistics and on one whose statistics say it holds 10^6 observations.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, event

from skyarchive.archive import Archive
from skyarchive.config import Settings
from skyarchive.search.cone import Cone, cone_matches, cone_rows
from skyarchive.sky.cells import cone_ranges
from tests.plans import plan_of_statement

M57 = (283.396, 33.029)
RADII = (0.05, 0.1, 0.3, 1.0)  # degrees: 6, 7, 16 and 12 cell ranges around M57


@pytest.fixture
def sqlite_archive(tmp_path: Path) -> Iterator[Archive]:
    archive = Archive.open(Settings(home=tmp_path, database_url=f"sqlite:///{tmp_path}/c.db"))
    yield archive
    archive.engine.dispose()


def _statistics_of_a_million(conn: Connection) -> None:
    """Statistics as ANALYZE leaves them at 10^6 observations (5.3 million cells)."""
    conn.exec_driver_sql("ANALYZE")  # creates sqlite_stat1
    conn.exec_driver_sql("DELETE FROM sqlite_stat1")
    names = [
        row[0]
        for row in conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'footprint_cells'"
        )
    ]
    for name in names:
        # The primary key (cell, obsid): ~1.3 cells share a cell number; the obsid index:
        # ~5.3 cells per observation.
        stat = "5300000 2 1" if name.startswith("sqlite_autoindex") else "5300000 6"
        conn.exec_driver_sql(
            "INSERT INTO sqlite_stat1 VALUES ('footprint_cells', ?, ?)", (name, stat)
        )
    conn.exec_driver_sql("INSERT INTO sqlite_stat1 VALUES ('observations', NULL, '1000000')")
    conn.commit()


def _cone_statements(conn: Connection) -> list[tuple[str, Any]]:
    """The statements of cone searches with 6 to 16 cell ranges, as the driver got them."""
    sent: list[tuple[str, Any]] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        if "footprint_cells" in statement:
            sent.append((statement, parameters))

    event.listen(conn, "before_cursor_execute", record)
    try:
        for radius in RADII:
            cone = Cone(*M57, radius)
            cone_matches(conn, cone)
            cone_rows(conn, cone, [], shape="plan test")
    finally:
        event.remove(conn, "before_cursor_execute", record)
    return sent


@pytest.mark.parametrize("statistics", ["none", "a million observations"])
def test_cone_candidates_search_the_cell_index(sqlite_archive: Archive, statistics: str) -> None:
    assert [len(cone_ranges(*M57, r)) for r in RADII] == [6, 7, 16, 12]
    with sqlite_archive.engine.connect() as conn:
        if statistics != "none":
            _statistics_of_a_million(conn)
            conn.exec_driver_sql("ANALYZE sqlite_schema")  # reload the statistics
        statements = _cone_statements(conn)
        assert len(statements) == 2 * len(RADII)
        for statement, params in statements:
            plan = plan_of_statement(conn, statement, params)
            cells = [line for line in plan.split("\n") if "footprint_cells" in line]
            assert cells, plan
            # Every range searched in the (cell, obsid) key, never the table scanned.
            assert all(line.startswith("SEARCH") and "cell>" in line for line in cells), plan
            assert not any(line.startswith("SCAN") for line in plan.split("\n")), plan
