"""Each observation's MAST row stored as JSON (schema 0042): written by the upgrade for the
observations already there, then kept by the database's triggers through every write, and
always the very text the search would build."""

from __future__ import annotations

import importlib.util
import itertools
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, select, text

from skyarchive.db.engine import MIGRATIONS_DIR, make_engine, upgrade
from skyarchive.db.tables import STORED_JSON_HEAD, STORED_JSON_TAIL, observation_json, observations
from skyarchive.search.columns import OBSERVATION_COLUMNS
from skyarchive.search.observations import (
    STORED_ROW_NAMES,
    _json_row_template,
    _json_value,
    _stored_row,
)
from skyarchive.search.row_json import json_object

RELEASE = 60_000.0
#: Observations unlike each other: nulls, a JSON-escaped title, each state of the flag.
OBSERVATIONS: list[dict[str, Any]] = [
    {"obs_id": "plain", "obs_title": "A title", "mtFlag": True, "s_ra": 10.5, "s_dec": -20.25,
     "t_obs_release": RELEASE, "calib_level": 3, "srcDen": 5000.0,
     "s_region": "POLYGON 10 -20 10.1 -20 10.1 -19.9", "objID": 123},
    {"obs_id": "escaped", "obs_title": 'Quotes " and \\ and \u00e9 and \u6f22\ttab',
     "mtFlag": False, "t_obs_release": None, "target_name": "M57"},
    {"obs_id": "nulls", "mtFlag": None},
]  # fmt: skip


def _insert(conn: Connection, row: dict[str, Any]) -> int:
    values = {"status": "executed", "obs_collection": "JWST", **row}
    columns = ", ".join(f'"{name}"' for name in values)
    params = ", ".join(f":{name}" for name in values)
    conn.execute(text(f"INSERT INTO observations ({columns}) VALUES ({params})"), values)
    found = conn.execute(select(observations.c.obsid).where(observations.c.obs_id == row["obs_id"]))
    return int(found.scalar_one())


def _pairs(dialect: str, names: tuple[str, ...]) -> list[tuple[str, Any]]:
    return [(name, _json_value(name, dialect)) for name in names]


def _built(conn: Connection, now: float, extra: tuple[str, ...] = ()) -> dict[int, str]:
    """Each observation's row as the search builds it from the columns (the stored ones,
    then ``extra``)."""
    built = json_object(conn.dialect.name, _pairs(conn.dialect.name, STORED_ROW_NAMES + extra))
    rows = conn.execute(select(observations.c.obsid, built), {"now": now})
    return {obsid: row for obsid, row in rows}


def _stored(conn: Connection, now: float, extra: tuple[str, ...] = ()) -> dict[int, str | None]:
    """Each observation's stored row, its ``dataRights`` put in and ``extra`` joined on as
    the search does."""
    stored = _stored_row(conn.dialect.name, _pairs(conn.dialect.name, extra))
    rows = conn.execute(select(observations.c.obsid, stored), {"now": now})
    return {obsid: row for obsid, row in rows}


def _assert_stored_as_built(engine: Engine) -> None:
    with engine.connect() as conn:
        # before and after the release (both rights), and with a search's extra column
        for now, extra in itertools.product((RELEASE - 1, RELEASE + 1), ((), ("objID1",))):
            stored, built = _stored(conn, now, extra), _built(conn, now, extra)
            assert stored == built
            assert all(row is not None for row in stored.values())
            # and it is JSON, with every column
            names = [*STORED_ROW_NAMES, *extra]
            assert all(list(orjson.loads(row)) == names for row in built.values())
        orphans = conn.execute(
            select(observation_json.c.obsid).where(
                observation_json.c.obsid.not_in(select(observations.c.obsid))
            )
        ).all()
        assert orphans == []


def test_upgrade_stores_each_observations_row(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine, "0041")
    with engine.begin() as conn:
        obsids = [_insert(conn, row) for row in OBSERVATIONS]
    upgrade(engine)
    with engine.connect() as conn:
        assert sorted(conn.execute(select(observation_json.c.obsid)).scalars()) == sorted(obsids)
        rights = orjson.loads(_stored(conn, RELEASE + 1)[obsids[0]])
        assert rights["dataRights"] == "PUBLIC" and rights["obs_title"] == "A title"
        assert orjson.loads(_stored(conn, RELEASE - 1)[obsids[0]])["dataRights"] == (
            "EXCLUSIVE_ACCESS"
        )
    _assert_stored_as_built(engine)
    engine.dispose()


def test_the_triggers_keep_the_rows_through_every_write(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    with engine.begin() as conn:
        obsids = [_insert(conn, row) for row in OBSERVATIONS]
    _assert_stored_as_built(engine)
    first, second, third = obsids
    with engine.begin() as conn:
        conn.execute(
            observations.update().where(observations.c.obsid == first),
            {"obs_title": 'Renamed "again"', "t_obs_release": RELEASE + 10, "mtFlag": None},
        )
        conn.execute(observations.update().where(observations.c.obsid == second),
                     {"obsid": 10_000})  # fmt: skip
        conn.execute(observations.delete().where(observations.c.obsid == third))
    _assert_stored_as_built(engine)
    with engine.connect() as conn:
        kept = set(conn.execute(select(observation_json.c.obsid)).scalars())
        renamed = orjson.loads(_stored(conn, RELEASE + 1)[first])
    assert kept == {first, 10_000}
    assert renamed["obs_title"] == 'Renamed "again"' and renamed["dataRights"] == "EXCLUSIVE_ACCESS"
    assert renamed["mtFlag"] is None
    engine.dispose()


def test_a_search_without_a_stored_row_builds_it() -> None:
    # an observation the triggers missed (none should) is answered as before, not left out
    engine = make_engine("sqlite://")
    upgrade(engine)
    rows = [_json_row_template(names, "sqlite")
            for names in (STORED_ROW_NAMES, (*STORED_ROW_NAMES, "objID1"))]  # fmt: skip
    with engine.begin() as conn:
        obsids = [_insert(conn, r) for r in OBSERVATIONS]
        query = select(observations.c.obsid, *rows).order_by(observations.c.obsid)
        before = conn.execute(query, {"now": RELEASE + 1}).all()
        conn.execute(observation_json.delete().where(observation_json.c.obsid == obsids[0]))
        after = conn.execute(query, {"now": RELEASE + 1}).all()
    assert after == before and len(before) == len(OBSERVATIONS)
    assert all(value is not None for row in after for value in row)
    engine.dispose()


def test_the_default_columns_are_the_stored_ones() -> None:
    # the MAST API's default columns read the stored rows only while they are these: a change
    # of the columns needs a revision that rewrites the triggers and the rows
    assert tuple(c.name for c in OBSERVATION_COLUMNS) == STORED_ROW_NAMES
    path = MIGRATIONS_DIR / "versions" / "0042_observation_json.py"
    spec = importlib.util.spec_from_file_location("revision_0042", path)
    assert spec is not None and spec.loader is not None
    revision = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(revision)
    assert (revision._HEAD, revision._TAIL) == (STORED_JSON_HEAD, STORED_JSON_TAIL)
