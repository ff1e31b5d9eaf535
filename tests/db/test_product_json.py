"""Each product's pieces of a product list row stored as JSON (schema 0044): written by the
upgrade for the files already there, then kept by the database's triggers through every
write, and always the very text the database would build for them."""

from __future__ import annotations

import importlib.util
import json
from typing import Any

from sqlalchemy import Connection, Engine, select, text

from skyarchive.db.engine import MIGRATIONS_DIR, make_engine, upgrade
from skyarchive.db.tables import (
    STORED_PRODUCT_BODY,
    STORED_PRODUCT_HEAD,
    product_json,
    products,
)
from skyarchive.products.listing import stored_product_pieces
from skyarchive.search.columns import PRODUCT_COLUMNS

#: Files unlike each other: nulls, JSON-escaped text, values ending in the characters the
#: pieces' trimming removes ("null}"), a file with its own type and filters.
PRODUCTS: list[dict[str, Any]] = [
    {"productFilename": "plain.fits", "description": "A calibrated image", "size": 100,
     "calib_level": 2, "type": "S", "project": "CALJWST", "proposal_id": "1073"},
    {"productFilename": "escaped.fits", "description": 'Quotes " and \\ and \u00e9 \u6f22\ttab',
     "size": 0, "calib_level": None, "dataproduct_type": "image", "filters": "F200W;CLEAR"},
    {"productFilename": "trimmed.fits", "description": "ends in null", "prvversion": "1.0 {null}",
     "size": 7, "calib_level": 3, "productGroupDescription": "ul}"},
]  # fmt: skip


def _insert(conn: Connection, row: dict[str, Any]) -> int:
    values = {"dataURI": f"mast:JWST/product/{row['productFilename']}", "obs_collection": "JWST",
              "productType": "SCIENCE", "sha256": "0" * 64, "storage_key": row["productFilename"],
              **row}  # fmt: skip
    columns = ", ".join(f'"{name}"' for name in values)
    params = ", ".join(f":{name}" for name in values)
    conn.execute(text(f"INSERT INTO products ({columns}) VALUES ({params})"), values)
    found = select(products.c.product_id).where(
        products.c.productFilename == row["productFilename"]
    )
    return int(conn.execute(found).scalar_one())


def _assert_stored_as_built(engine: Engine) -> dict[int, dict[str, Any]]:
    """Each file's stored pieces are those the database builds from its columns, and with
    values put in between they are its members as JSON; those objects, by product id."""
    objects = {}
    with engine.connect() as conn:
        head, body = stored_product_pieces(conn.dialect.name, products)
        stored = product_json.c
        rows = conn.execute(
            select(products.c.product_id, stored.head, stored.body, head, body).outerjoin(
                product_json, stored.product_id == products.c.product_id
            )
        ).all()
        for product_id, kept_head, kept_body, built_head, built_body in rows:
            assert (kept_head, kept_body) == (built_head, built_body)
            whole = json.loads(f'{kept_head}"kind"{kept_body}"filters"}}')
            assert list(whole) == ["obs_collection", "dataproduct_type", *STORED_PRODUCT_BODY,
                                   "filters"]  # fmt: skip
            assert whole["dataproduct_type"] == "kind" and whole["filters"] == "filters"
            objects[product_id] = whole
        orphans = conn.execute(
            select(stored.product_id).where(stored.product_id.not_in(select(products.c.product_id)))
        ).all()
        assert orphans == []
    return objects


def test_upgrade_stores_each_products_pieces(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine, "0043")
    with engine.begin() as conn:
        ids = [_insert(conn, row) for row in PRODUCTS]
    upgrade(engine)
    objects = _assert_stored_as_built(engine)
    assert sorted(objects) == sorted(ids)
    for product_id, row in zip(ids, PRODUCTS, strict=True):
        for name, value in row.items():
            if name not in ("dataproduct_type", "filters"):  # put in as the list is made
                assert objects[product_id][name] == value
    engine.dispose()


def test_the_triggers_keep_the_pieces_through_every_write(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    with engine.begin() as conn:
        first, second, third = (_insert(conn, row) for row in PRODUCTS)
    _assert_stored_as_built(engine)
    with engine.begin() as conn:
        conn.execute(
            products.update().where(products.c.product_id == first),
            {"description": 'Renamed "again"', "size": 12345, "calib_level": None},
        )
        conn.execute(products.update().where(products.c.product_id == second),
                     {"product_id": 10_000})  # fmt: skip
        conn.execute(products.delete().where(products.c.product_id == third))
    objects = _assert_stored_as_built(engine)
    assert set(objects) == {first, 10_000}
    assert objects[first]["description"] == 'Renamed "again"'
    assert objects[first]["size"] == 12345 and objects[first]["calib_level"] is None
    assert objects[10_000]["description"] == PRODUCTS[1]["description"]
    engine.dispose()


def test_a_list_without_a_files_stored_pieces_builds_them(demo_archive_copy) -> None:  # type: ignore[no-untyped-def]
    # a file the triggers missed (none should) is listed as before, not left out
    from skyarchive.access.rights import now_mjd
    from skyarchive.products.listing import product_json_batches

    archive = demo_archive_copy
    with archive.engine.connect() as conn:
        every = list(conn.execute(select(products.c.owner_obsid).distinct()).scalars())
        every = [obsid for obsid in every if obsid is not None]
        now = now_mjd()
        before = [t for batch in product_json_batches(conn, every, now=now) for t in batch]
    with archive.engine.begin() as conn:
        conn.execute(product_json.delete())
    with archive.engine.connect() as conn:
        after = [t for batch in product_json_batches(conn, every, now=now) for t in batch]
    assert before and after == before


def test_the_product_columns_are_the_stored_ones() -> None:
    # a product list reads the stored pieces while a file's members are these: a change of
    # the columns needs a revision that rewrites the triggers and the rows
    names = [c.name for c in PRODUCT_COLUMNS]
    own = [name for name in names if name in products.c]
    assert own == [*STORED_PRODUCT_HEAD, "dataproduct_type", *STORED_PRODUCT_BODY, "filters"]
    path = MIGRATIONS_DIR / "versions" / "0044_product_json.py"
    spec = importlib.util.spec_from_file_location("revision_0044", path)
    assert spec is not None and spec.loader is not None
    revision = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(revision)
    assert (revision._HEAD, revision._BODY) == (STORED_PRODUCT_HEAD, STORED_PRODUCT_BODY)
