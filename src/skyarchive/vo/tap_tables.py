"""The tables the TAP service offers: ``ivoa.obscore``, the ``jwst`` schema (the catalog's
observations, products and keyword files, read-only) and ``TAP_SCHEMA``.

The ``jwst`` tables are the catalog tables under a whitelist of columns: what the MAST API
shows of them (storage keys and the raw FITS headers stay inside). Their rows are every
caller's to read, as the portal's are (exclusive access governs files, not metadata).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from sqlalchemy import BigInteger, Boolean, Float, Integer, Subquery, Table, select

from skyarchive.db.tables import observations, product_keywords, products
from skyarchive.vo.obscore import OBSCORE
from skyarchive.vo.tap_columns import QueryContext, TapColumn, TapTable

# column name -> (unit, UCD, description); others get a description from the table comment
_KNOWN: dict[str, tuple[str | None, str | None, str]] = {
    "obsid": (None, "meta.id", "Observation key in this archive (MAST's obsid)"),
    "obs_id": (None, "meta.id", "Observation identifier"),
    "s_ra": ("deg", "pos.eq.ra", "Right ascension (ICRS) of the footprint's centre"),
    "s_dec": ("deg", "pos.eq.dec", "Declination (ICRS) of the footprint's centre"),
    "s_region": (None, "pos.outline;obs.field", "Footprint as STC-S text"),
    "t_min": ("d", "time.start;obs.exposure", "Start time (MJD)"),
    "t_max": ("d", "time.end;obs.exposure", "End time (MJD)"),
    "t_exptime": ("s", "time.duration;obs.exposure", "Exposure time"),
    "t_obs_release": ("d", "time.release", "Release date (MJD): public from then on"),
    "em_min": ("nm", "em.wl;stat.min", "Shortest wavelength"),
    "em_max": ("nm", "em.wl;stat.max", "Longest wavelength"),
    "calib_level": (None, "meta.code;obs.calib", "Calibration level"),
    "target_name": (None, "meta.id;src", "Target name"),
    "instrument_name": (None, "meta.id;instr", "Instrument and mode"),
    "proposal_id": (None, "meta.id;obs.proposal", "Program (proposal) identifier"),
    "size": ("byte", "phys.size;meta.file", "File size"),
    "productFilename": (None, "meta.id;meta.file", "File name"),
    "dataURI": (None, "meta.ref.uri", "MAST data URI of the file"),
    "product_id": (None, "meta.id", "Product key in this archive"),
    "owner_obsid": (None, "meta.id", "The observation whose release date governs the file"),
    "effexptm": ("s", "time.duration", "Effective exposure time (EFFEXPTM)"),
    "expstart": ("d", "time.start", "Exposure start (EXPSTART, MJD)"),
}

_HIDDEN = {"storage_key", "crc32", "header", "mtFlag", "srcDen", "objID",
           # a keyword file's stored forms of what the MAST keyword tables show, internal
           # (schemas 0043-0045): TAP's keyword_files has the typed keyword columns
           "keyword_columns", "keyword_column_set", "keyword_columns_stamp",
           "archive_members"}  # fmt: skip
_INDEXED = {"obsid", "obs_id", "proposal_id", "obs_collection", "instrument_name",
            "target_name", "calib_level", "t_min", "product_id", "productFilename", "dataURI",
            "owner_obsid", "listed_in", "exp_type", "filter", "detector"}  # fmt: skip


def _datatype(sql_type: object) -> tuple[str, str | None]:
    if isinstance(sql_type, Boolean):
        return "boolean", None
    if isinstance(sql_type, BigInteger):
        return "long", None
    if isinstance(sql_type, Integer):
        return "int", None
    if isinstance(sql_type, Float):
        return "double", None
    return "char", "*"


def _catalog_table(
    table: Table, name: str, description: str, rename: dict[str, str] | None = None
) -> TapTable:
    rename = rename or {}
    columns = []
    kept = []
    for col in table.columns:
        if col.name in _HIDDEN:
            continue
        datatype, arraysize = _datatype(col.type)
        unit, ucd, text = _KNOWN.get(col.name, (None, None, col.comment or col.name))
        shown = rename.get(col.name, col.name)
        columns.append(
            TapColumn(
                shown,
                datatype,
                text,
                unit=unit,
                ucd=ucd,
                arraysize=arraysize,
                indexed=col.name in _INDEXED,
                principal=col.name in _KNOWN,
            )  # fmt: skip
        )
        kept.append((col, shown))

    @cache
    def built() -> Subquery:
        return select(*[col.label(shown) for col, shown in kept]).subquery(name)

    def rows(_context: QueryContext) -> Subquery:
        return built()

    has_position = "s_ra" in table.c and "obsid" in table.c
    return TapTable(
        schema="jwst",
        name=name,
        description=description,
        columns=tuple(columns),
        rows=rows,
        obsid_column="obsid" if has_position else None,
        position_columns=("s_ra", "s_dec") if has_position else None,
    )


JWST_OBSERVATIONS = _catalog_table(
    observations,
    "observations",
    "The archive's observations, as MAST's CAOM observation table (all missions).",
)
JWST_PRODUCTS = _catalog_table(
    products,
    "products",
    "One row per file; owner_obsid is the observation whose release date governs it.",
)
JWST_KEYWORD_FILES = _catalog_table(
    product_keywords,
    "keyword_files",
    "FITS header keywords of JWST science files (typed keyword text is stored lower-case); "
    "listed_in names the instrument keyword table that lists the file.",
)

#: Tables with rows from the catalog, in the order TAP_SCHEMA lists them.
CATALOG_TABLES: tuple[TapTable, ...] = (
    OBSCORE,
    JWST_OBSERVATIONS,
    JWST_PRODUCTS,
    JWST_KEYWORD_FILES,
)

#: Foreign keys TAP_SCHEMA.keys declares: (id, from table, target table, [(from, target)]).
KEYS: tuple[tuple[str, str, str, tuple[tuple[str, str], ...]], ...] = (
    ("products_owner", "jwst.products", "jwst.observations", (("owner_obsid", "obsid"),)),
    ("keyword_files_product", "jwst.keyword_files", "jwst.products",
     (("product_id", "product_id"),)),
    ("obscore_observation", "ivoa.obscore", "jwst.observations", (("obs_id", "obs_id"),)),
    ("tables_schema", "TAP_SCHEMA.tables", "TAP_SCHEMA.schemas",
     (("schema_name", "schema_name"),)),
    ("columns_table", "TAP_SCHEMA.columns", "TAP_SCHEMA.tables", (("table_name", "table_name"),)),
    ("keys_from", "TAP_SCHEMA.keys", "TAP_SCHEMA.tables", (("from_table", "table_name"),)),
    ("keys_target", "TAP_SCHEMA.keys", "TAP_SCHEMA.tables", (("target_table", "table_name"),)),
    ("key_columns_key", "TAP_SCHEMA.key_columns", "TAP_SCHEMA.keys", (("key_id", "key_id"),)),
)  # fmt: skip

SCHEMAS: tuple[tuple[str, str], ...] = (
    ("ivoa", "IVOA standard data models: ObsCore 1.1"),
    ("jwst", "The archive's own catalog tables, read-only"),
    ("TAP_SCHEMA", "What this TAP service offers (TAP 1.1)"),
)


RowsOf = Callable[[QueryContext], Subquery]
