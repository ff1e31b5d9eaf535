"""Tables written as FITS binary tables (``BINTABLE``), streamed a block of rows at a time.

A FITS table states its row count and every column's width in its header, before any row, so
the rows are read twice: once to count them and measure the longest text of each string
column, once to write them. Memory stays flat however many rows there are; the header cards
(units as ``TUNITn``, descriptions as comments) are written by astropy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from skyarchive.search.columns import ColumnInfo

MEDIA_TYPE = "application/fits"
_BLOCK = 2880
_ROWS_PER_PIECE = 2000
#: The null value of integer columns (``TNULLn``), as astropy reads it back as masked.
_INT_NULL = -(2**63)
#: Our units as FITS writes them (MJD values are days).
_FITS_UNITS = {"sec": "s", "bytes": "byte", "MJD": "d"}


def fits_table_pieces(
    columns: Sequence[ColumnInfo], rows: Callable[[], Iterable[dict[str, Any]]]
) -> Iterator[bytes]:
    """A FITS file (empty primary HDU, one BINTABLE) of ``rows()``, read twice, piece by piece.

    Floats are 64-bit (null: NaN), integers 64-bit (null: ``TNULLn``), booleans ``L`` (null:
    0), text ASCII as wide as its longest value (other characters become ``?``).
    """
    from astropy.io import fits

    count, widths = _measure(columns, rows())
    dtype = np.dtype([(f"c{i}", _numpy_type(c, widths)) for i, c in enumerate(columns)])
    definitions = [
        fits.Column(
            name=c.name, format=_fits_format(c, widths), unit=_unit(c),
            null=_INT_NULL if c.type == "int" else None,
        )
        for c in columns
    ]  # fmt: skip
    table = fits.BinTableHDU.from_columns(definitions, nrows=0)
    header = table.header
    header["NAXIS2"] = count
    for i, column in enumerate(columns, start=1):
        if column.description:
            header.comments[f"TTYPE{i}"] = column.description[:47]
        if column.ucd:
            header[f"TUCD{i}"] = column.ucd  # as the VOTable writer's UCD (a common extension)
    yield fits.PrimaryHDU().header.tostring().encode("ascii")
    yield header.tostring().encode("ascii")
    written = 0
    batch: list[tuple] = []
    for row in rows():
        batch.append(tuple(_cell(row.get(c.name), c) for c in columns))
        if len(batch) >= _ROWS_PER_PIECE:
            yield np.array(batch, dtype=dtype).tobytes()
            written += len(batch)
            batch = []
    if batch:
        yield np.array(batch, dtype=dtype).tobytes()
        written += len(batch)
    if written != count:  # the rows changed between the two readings: refuse a corrupt file
        raise RuntimeError(f"the table had {count} rows when measured and {written} when written")
    size = written * dtype.itemsize
    yield b"\0" * (-size % _BLOCK)


def _measure(columns: Sequence[ColumnInfo], rows: Iterable[dict[str, Any]]) -> tuple[int, dict]:
    texts = [c.name for c in columns if c.type == "string"]
    widths = dict.fromkeys(texts, 1)
    count = 0
    for row in rows:
        count += 1
        for name in texts:
            value = row.get(name)
            if value is not None:
                widths[name] = max(widths[name], len(str(value)))
    return count, widths


def _numpy_type(column: ColumnInfo, widths: dict[str, int]) -> str:
    return {"float": ">f8", "int": ">i8", "boolean": "S1"}.get(
        column.type, f"S{widths.get(column.name, 1)}"
    )


def _fits_format(column: ColumnInfo, widths: dict[str, int]) -> str:
    return {"float": "D", "int": "K", "boolean": "L"}.get(
        column.type, f"{widths.get(column.name, 1)}A"
    )


def _unit(column: ColumnInfo) -> str | None:
    return _FITS_UNITS.get(column.unit, column.unit) if column.unit else None


def _cell(value: Any, column: ColumnInfo) -> Any:
    if column.type == "float":
        return float("nan") if value is None else float(value)
    if column.type == "int":
        return _INT_NULL if value is None else int(value)
    if column.type == "boolean":
        return b"\0" if value is None else (b"T" if value else b"F")
    return b"" if value is None else str(value).encode("ascii", errors="replace")
