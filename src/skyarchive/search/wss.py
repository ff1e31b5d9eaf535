"""Wavefront sensing (WSS) products as ``Mast.Jwst.Filtered.Wss`` lists them.

Columns are those STScI's PSF tools read (``ap_type``, ``apername``, ``date_obs_mjd``,
``visitId``, ``corr_id``, ``obs_id``, ``fileName``, ``dataURI``), plus the date as text, the
file size and the RMS of the OPD in nm. Filters work as for the keyword tables; the typical
query is ``ap_type = OPD`` and ``date_obs_mjd`` within ±1.5 days of a date (then ±6).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, func, select, true

from skyarchive.db.tables import products, wss_products
from skyarchive.errors import UnknownColumn
from skyarchive.search.columns import ColumnInfo
from skyarchive.search.criteria import Criterion, criterion_clause
from skyarchive.search.paging import total_from_page

WSS_COLUMNS = (
    ColumnInfo("ap_type", "string", "Type", "Product type: OPD for wavefront maps"),
    ColumnInfo("apername", "string", "Aperture", "Sensing aperture, e.g. NRCA3_FP1"),
    ColumnInfo("date_obs", "string", "Date", "Start of the sensing exposure, ISO UTC"),
    ColumnInfo("date_obs_mjd", "float", "Date (MJD)", "Start of the sensing exposure", unit="d"),
    ColumnInfo("visitId", "string", "Visit", "Visit id without the leading V"),
    ColumnInfo("corr_id", "string", "Analysis", "Wavefront analysis id, e.g. R2022083106"),
    ColumnInfo("obs_id", "string", "Observation", "Last five characters: the OSS activity"),
    ColumnInfo("fileName", "string", "File", "File name"),
    ColumnInfo("dataURI", "string", "Data URI", "Download with /api/v0.1/Download/file"),
    ColumnInfo("fileSize", "int", "Size", "File size", unit="byte"),
    ColumnInfo("rms_nm", "float", "RMS", "RMS wavefront error of the OPD over the pupil",
               unit="nm"),
)  # fmt: skip
_BY_NAME = {c.name.lower(): c for c in WSS_COLUMNS}
_EXPRESSIONS: dict[str, Any] = {
    "ap_type": wss_products.c.ap_type,
    "apername": wss_products.c.apername,
    "date_obs_mjd": wss_products.c.date_obs_mjd,
    "visitId": wss_products.c.visit_id,
    "corr_id": wss_products.c.corr_id,
    "obs_id": wss_products.c.obs_id,
    "fileName": products.c.productFilename,
    "dataURI": products.c.dataURI,
    "fileSize": products.c.size,
    "rms_nm": wss_products.c.rms_nm,
}


def wss_column(name: str) -> ColumnInfo:
    """The column ``name`` (any case); UnknownColumn naming the columns there are."""
    found = _BY_NAME.get(name.strip().lower())
    if found is None or found.name not in _EXPRESSIONS:
        known = ", ".join(c.name for c in WSS_COLUMNS if c.name in _EXPRESSIONS)
        raise UnknownColumn(
            f"Unknown column '{name}' of Mast.Jwst.Filtered.Wss; give one of: {known}."
        )
    return found


@dataclass(frozen=True)
class WssPage:
    rows: list[dict[str, Any]]
    total: int


def _where(criteria: Sequence[Criterion]) -> Any:
    return and_(true(), *(criterion_clause(c, _EXPRESSIONS[c.column.name]) for c in criteria))


def search_wss(
    conn: Connection, criteria: Sequence[Criterion], *, page: int = 1, pagesize: int = 50_000
) -> WssPage:
    """The WSS products matching every criterion, oldest first, one page of them."""
    from astropy.time import Time

    joined = wss_products.join(products, products.c.product_id == wss_products.c.product_id)
    where = _where(criteria)
    query = (
        select(*(expr.label(name) for name, expr in _EXPRESSIONS.items()))
        .select_from(joined).where(where)
        .order_by(wss_products.c.date_obs_mjd, products.c.productFilename)
        .limit(pagesize).offset((page - 1) * pagesize)
    )  # fmt: skip
    rows = []
    for row in conn.execute(query).mappings():
        entry = dict(row)
        entry["date_obs"] = Time(entry["date_obs_mjd"], format="mjd").isot
        rows.append({c.name: entry[c.name] for c in WSS_COLUMNS})
    told = total_from_page(page, pagesize, len(rows))
    total = told if told is not None else count_wss(conn, criteria)
    return WssPage(rows, total)


def count_wss(conn: Connection, criteria: Sequence[Criterion]) -> int:
    joined = wss_products.join(products, products.c.product_id == wss_products.c.product_id)
    return conn.execute(
        select(func.count()).select_from(joined).where(_where(criteria))
    ).scalar_one()
