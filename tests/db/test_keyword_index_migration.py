"""Schemas 0019 and 0022: an archive made before them upgrades in place; its keyword counts
then read the covering index and the facet indexes, and every row stays."""

from __future__ import annotations

from sqlalchemy import inspect, text

from skyarchive.access.rights import now_mjd
from skyarchive.db.engine import make_engine, upgrade
from skyarchive.db.tables import FACET_INDEX_COLUMNS, facet_index_name
from skyarchive.search.criteria import parse_criteria
from skyarchive.search.keyword_search import KeywordTable, count_keywords, value_counts

_PRODUCT = (
    'INSERT INTO products (product_id, "productFilename", "dataURI", obs_collection,'
    ' "productType", size, sha256, storage_key, calib_level, "productSubGroupDescription")'
    " VALUES (:id, :name, :uri, 'JWST', 'SCIENCE', 1, 'x', :name, 2, 'CAL')"
)
_KEYWORDS = (
    "INSERT INTO product_keywords (product_id, header, instrume, exp_type, subarray, listed_in)"
    " VALUES (:id, '{}', 'miri', :exp_type, :subarray, 'MIRI')"
)


def test_an_older_archive_upgrades_and_counts_from_the_covering_index(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine, "0021")
    kinds = [("mir_image", "full"), ("mir_image", "sub256"), ("mir_mrs", "full")]
    with engine.begin() as conn:
        for n, (exp_type, subarray) in enumerate(kinds, start=1):
            name = f"jw01558001001_02101_0000{n}_mirimage_cal.fits"
            conn.execute(
                text(_PRODUCT), {"id": n, "name": name, "uri": f"mast:JWST/product/{name}"}
            )
            conn.execute(text(_KEYWORDS), {"id": n, "exp_type": exp_type, "subarray": subarray})
    upgrade(engine)

    indexes = {index["name"] for index in inspect(engine).get_indexes("product_keywords")}
    assert "ix_product_keywords_listed_in_exp_type_covering" in indexes
    assert "ix_product_keywords_listed_in_exp_type_product_id" not in indexes
    assert {facet_index_name(column) for column in FACET_INDEX_COLUMNS} <= indexes
    table = KeywordTable.for_service("Mast.Jwst.Filtered.Miri")
    images = parse_criteria([{"paramName": "exp_type", "values": ["MIR_IMAGE"]}], table.column)
    with engine.connect() as conn:
        assert count_keywords(conn, table, images, now=now_mjd()) == 2
        counted = value_counts(conn, table, images, "subarray", now=now_mjd())
    assert counted["matching"] == 2
    assert {(v["value"], v["count"]) for v in counted["values"]} == {("FULL", 1), ("SUB256", 1)}
    engine.dispose()
