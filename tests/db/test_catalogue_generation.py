"""The catalogue generation: bumped once by every transaction that writes a catalogue table,
never by other writes, and undone with the write it came with."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, update

from skyarchive.archive import Archive
from skyarchive.config import Settings
from skyarchive.db.catalogue_generation import (
    mark_catalogue_written,
    read_generation,
    writes_catalogue,
)
from skyarchive.db.tables import archive_state, programs


@pytest.fixture
def engine(database_url: str, tmp_path: Path) -> Iterator[Engine]:
    archive = Archive.open(Settings(home=tmp_path / "home", database_url=database_url))
    yield archive.engine
    archive.engine.dispose()


def generation(engine: Engine) -> int | None:
    with engine.connect() as conn:
        return read_generation(conn)


@pytest.mark.parametrize(
    ("statement", "writes"),
    [
        ("SELECT * FROM observations", False),
        ("INSERT INTO observations (obsid) VALUES (1)", True),
        ('INSERT INTO "products" (product_id) VALUES (?)', True),
        ("insert or ignore into product_keywords (product_id) values (1)", True),
        ("REPLACE INTO keyword_counts VALUES (1)", True),
        ("UPDATE observations SET t_obs_release = 1", True),
        ("\n  DELETE FROM footprint_cells WHERE obsid = 1", True),
        ("INSERT INTO sessions (session_id) VALUES (1)", False),
        ("UPDATE rate_events SET at = 1", False),
        ("DELETE FROM login_failures", False),
        ("WITH gone AS (SELECT 1) DELETE FROM summary_files", True),
        ("WITH chosen AS (SELECT obsid FROM observations) SELECT updated_at FROM chosen", False),
    ],
)
def test_writes_catalogue_tells_catalogue_writes_from_the_rest(
    statement: str, writes: bool
) -> None:
    assert writes_catalogue(statement) is writes


def test_one_bump_per_transaction_that_writes_the_catalogue(engine: Engine) -> None:
    start = generation(engine)
    assert start is not None
    with engine.begin() as conn:  # two catalogue writes in one transaction
        conn.execute(insert(programs).values(proposal_id="9001", obs_collection="JWST"))
        conn.execute(update(programs).where(programs.c.proposal_id == "9001").values(title="x"))
    assert generation(engine) == start + 1
    with engine.begin() as conn:  # a write elsewhere
        conn.execute(insert(archive_state).values(name="n", value="v", updated_at=0.0))
    assert generation(engine) == start + 1
    with engine.begin() as conn:
        conn.execute(update(programs).values(title="y"))
    assert generation(engine) == start + 2


def test_a_rolled_back_write_leaves_the_generation_and_the_next_write_bumps_it(
    engine: Engine,
) -> None:
    start = generation(engine)
    with engine.connect() as conn:
        conn.execute(insert(programs).values(proposal_id="9002", obs_collection="JWST"))
        conn.rollback()
    assert generation(engine) == start
    with engine.begin() as conn:
        savepoint = conn.begin_nested()
        conn.execute(insert(programs).values(proposal_id="9003", obs_collection="JWST"))
        savepoint.rollback()  # the mark stays: one bump too many is harmless, one too few is not
        conn.execute(insert(programs).values(proposal_id="9004", obs_collection="JWST"))
    assert generation(engine) == start + 1


def test_writers_beside_sqlalchemy_bump_it_themselves(engine: Engine) -> None:
    start = generation(engine)
    with engine.begin() as conn:
        mark_catalogue_written(conn)
    assert generation(engine) == start + 1
