"""A list of ids bound as one value (db/id_lists.py) selects the rows an IN list would."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, MetaData, Table, create_engine, insert, select

from skyarchive.db.id_lists import in_ids

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
