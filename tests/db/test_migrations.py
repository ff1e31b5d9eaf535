"""Every schema change is an Alembic revision, and upgrades keep every row."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, inspect, text

from skyarchive.db.engine import (
    MIGRATIONS_DIR,
    current_revision,
    head_revision,
    make_engine,
    upgrade,
)
from skyarchive.db.tables import metadata


def revisions() -> list[str]:
    script = ScriptDirectory(str(MIGRATIONS_DIR))
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


# SQLAlchemy cannot reflect expression indexes (lower(column)); their names are checked below.
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based")
def test_empty_database_upgrades_to_head_matching_the_tables(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    assert set(metadata.tables) <= set(inspect(engine).get_table_names())
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), metadata)
    # only differences alembic cannot see through (server-side comments) are tolerated
    assert [d for d in diffs if d[0] not in ("modify_comment", "remove_table_comment")] == []
    expression_indexes = {
        index.name
        for table in metadata.tables.values()
        for index in table.indexes
        if any(not isinstance(e, Column) for e in index.expressions)
    }
    assert expression_indexes
    query = (
        "SELECT name FROM sqlite_master WHERE type = 'index'"
        if engine.dialect.name == "sqlite"
        else "SELECT indexname FROM pg_indexes"
    )
    with engine.connect() as conn:
        present = {name for (name,) in conn.execute(text(query))}
    assert expression_indexes <= present
    engine.dispose()


def test_populated_archive_upgrades_step_by_step_without_losing_rows(database_url: str) -> None:
    engine = make_engine(database_url)
    steps = revisions()
    upgrade(engine, steps[0])
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO programs (proposal_id, obs_collection, category) "
                "VALUES ('1558', 'JWST', 'GO')"
            )  # fmt: skip
        )
        conn.execute(
            text(
                "INSERT INTO observations (obs_id, status, obs_collection, proposal_id, s_ra,"
                " s_dec, filters) VALUES ('jw01558001001_02101_00001_mirimage', 'executed',"
                " 'JWST', '1558', 283.396, 33.029, 'F277W;CLEAR')"
            )
        )
    for step in steps[1:]:
        upgrade(engine, step)
    upgrade(engine)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT obs_id, s_ra FROM observations")).all()
        assert rows == [("jw01558001001_02101_00001_mirimage", 283.396)]
        assert conn.execute(text("SELECT category FROM programs")).scalar() == "GO"
        tokens = conn.execute(text("SELECT column_name, token FROM observation_tokens")).all()
        assert sorted(tokens) == [("filters", "clear"), ("filters", "f277w")]
    upgrade(engine)  # a second upgrade at head is a no-op
    assert current_revision(engine) == head_revision()
    engine.dispose()
