"""A list of ids bound as one value (db/id_lists.py) selects the rows an IN list would."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, MetaData, String, Table, create_engine, insert, select

from skyarchive.db.id_lists import in_ids, in_texts

_LARGEST = 2**63 - 1


def test_in_ids_selects_what_an_in_list_selects(database_url: str) -> None:
    metadata = MetaData()
    table = Table("ids_here", metadata, Column("id", BigInteger, primary_key=True))
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            metadata.create_all(conn)
            stored = [-_LARGEST, -3, 0, 1, 2, 5, 1_000, 2**53 + 1, _LARGEST]
            conn.execute(insert(table), [{"id": i} for i in stored])
            query = select(table.c.id).where(in_ids(table.c.id, "ids", engine.dialect.name))
            for asked in (
                [1],
                [5, 2, 5],
                [_LARGEST, -_LARGEST, 2**53 + 1, 7],
                [8],
                list(range(2_000)),
            ):
                found = conn.execute(query.order_by(table.c.id), {"ids": asked}).scalars().all()
                expected = sorted(i for i in stored if i in asked)
                assert found == expected, asked
            # One statement for every length: its text does not grow with the list.
            compiled = str(query.compile(dialect=engine.dialect))
            assert "POSTCOMPILE" not in compiled
    finally:
        engine.dispose()


def test_in_texts_selects_what_an_in_list_selects(database_url: str) -> None:
    metadata = MetaData()
    table = Table("texts_here", metadata, Column("text", String(80), primary_key=True))
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            metadata.create_all(conn)
            # what a JSON array or an array literal must quote: quotes, commas, braces,
            # backslashes, spaces, letters beyond ASCII, and digits that are not numbers here
            stored = ["1073", "01073", 'say "hi"', "a,b", "{x}", "back\\slash", " spaced ",
                      "Ωmega", "NULL", ""]  # fmt: skip
            conn.execute(insert(table), [{"text": t} for t in stored])
            query = select(table.c.text).where(in_texts(table.c.text, "texts", engine.dialect.name))
            for asked in (["1073"], ["1073", "1073"], stored, ["a", "b", "1073.0", "null"], []):
                found = conn.execute(query, {"texts": asked}).scalars().all()
                assert sorted(found) == sorted(t for t in stored if t in asked), asked
            compiled = str(query.compile(dialect=engine.dialect))
            assert "POSTCOMPILE" not in compiled
    finally:
        engine.dispose()
