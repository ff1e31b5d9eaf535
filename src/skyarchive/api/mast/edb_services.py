"""The JWST engineering database's invoke services, as jwql and MAST's EDB portal call them.

* ``Mast.JwstEdb.Mnemonics`` (params ``{}``): the inventory; public, as at MAST.
* ``Mast.JwstEdb.Dictionary`` (``{mnemonic}``): one mnemonic's description, unit, type.
* ``Mast.JwstEdb.GetTimeseries.All`` (``{mnemonic, start, end}``, ISO UTC such as astropy's
  ``Time.iso``, or MJD): the samples in the window, signed-in callers only.
"""

from __future__ import annotations

from typing import Any

from skyarchive.api.mast.registry import (
    Fields,
    MastRequest,
    ServiceContext,
    TableResult,
    mast_service,
)
from skyarchive.delivery.telemetry import telemetry_samples
from skyarchive.search.columns import ColumnInfo
from skyarchive.search.edb_store import find_mnemonic, iso_time, list_mnemonics, mjd_from_us

INVENTORY_COLUMNS = (
    ColumnInfo("tlmMnemonic", "string", "Mnemonic", "Telemetry mnemonic, upper case"),
    ColumnInfo("tlmIdentifier", "int", "Identifier", "This archive's number of the mnemonic"),
    ColumnInfo("description", "string", "Description", "What the mnemonic measures"),
    ColumnInfo("unit", "string", "Unit", "Unit of the engineering values"),
    ColumnInfo("subsystem", "string", "Subsystem", "Name part before the first underscore"),
    ColumnInfo("sqlDataType", "string", "Type", "float, int or tinyint"),
    ColumnInfo("sampleCount", "int", "Samples", "Samples stored"),
    ColumnInfo("firstTime", "string", "First", "Time of the first stored sample (UTC)"),
    ColumnInfo("lastTime", "string", "Last", "Time of the last stored sample (UTC)"),
)
SAMPLE_COLUMNS = (
    ColumnInfo("theTime", "string", "Time", "Sample time, UTC"),
    ColumnInfo("MJD", "float", "MJD", "Sample time, MJD (UTC)", unit="d"),
    ColumnInfo("euvalue", "float", "Value", "Engineering-unit value"),
    ColumnInfo("sqldataType", "string", "Type", "float, int or tinyint"),
)


def _table(
    request: MastRequest, columns: tuple[ColumnInfo, ...], rows: list[dict[str, Any]]
) -> TableResult:
    first = (request.page - 1) * request.pagesize
    return TableResult(
        Fields.of(columns), rows[first : first + request.pagesize], len(rows), request.page,
        request.pagesize, columns=columns,
    )  # fmt: skip


@mast_service("Mast.JwstEdb.Mnemonics")
def edb_mnemonics(ctx: ServiceContext, request: MastRequest) -> TableResult:
    rows = [m.as_row() for m in list_mnemonics(ctx.conn, text=str(request.params.get("text", "")))]
    return _table(request, INVENTORY_COLUMNS, rows)


@mast_service("Mast.JwstEdb.Dictionary")
def edb_dictionary(ctx: ServiceContext, request: MastRequest) -> TableResult:
    mnemonic = find_mnemonic(ctx.conn, request.params.get("mnemonic"))
    return _table(request, INVENTORY_COLUMNS, [mnemonic.as_row()])


@mast_service("Mast.JwstEdb.GetTimeseries.All")
def edb_timeseries(ctx: ServiceContext, request: MastRequest) -> TableResult:
    params = request.params
    mnemonic, samples = telemetry_samples(
        ctx.archive, caller=ctx.caller, mnemonic=str(params.get("mnemonic") or ""),
        start=params.get("start"), end=params.get("end"),
    )  # fmt: skip
    kind = mnemonic.sql_data_type
    rows = [
        {"theTime": iso_time(t_us, sep=" "), "MJD": mjd_from_us(t_us),
         "euvalue": int(value) if mnemonic.is_integer else value, "sqldataType": kind}
        for t_us, value in samples
    ]  # fmt: skip
    return _table(request, SAMPLE_COLUMNS, rows)
