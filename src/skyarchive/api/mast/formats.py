"""The formats a table answer of ``/api/v0/invoke`` can be written in: MAST's JSON, CSV and
VOTable (TABLEDATA, with the units, UCDs and descriptions of our column facts).

Each writer turns a :class:`TableResult` and its rows into pieces of bytes, one row at a
time; ``api.streaming.chunked`` groups them into ~256 KiB chunks, so however many rows a page
has, no more than one chunk is held.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import islice
from typing import Any
from xml.sax.saxutils import escape

import orjson

from skyarchive.api.mast.registry import TableResult
from skyarchive.errors import BadQuery
from skyarchive.search.columns import ColumnInfo

JSON_FORMATS = ("json", "extjs")
TABLE_FORMATS = ("csv", "votable")
MEDIA_TYPES = {
    "json": "application/json",
    "extjs": "application/json",
    "csv": "text/csv; charset=utf-8",
    "votable": "application/x-votable+xml",
}


def requested_format(value: Any) -> str:
    """The response format a request names (``json`` when absent), lower-cased."""
    return str(value if value is not None else "json").strip().lower()


def check_format(fmt: str) -> None:
    """BadQuery unless this archive writes format ``fmt``."""
    if fmt not in MEDIA_TYPES:
        raise BadQuery(f"Unknown format {fmt!r}. This archive writes: json, csv, votable.")


def table_pieces(fmt: str, result: TableResult, rows: Iterable[Any]) -> Iterator[bytes]:
    """The table answer in format ``fmt``, piece by piece."""
    if fmt in TABLE_FORMATS:
        decoded = (orjson.loads(row) for row in rows) if result.encoded else rows
        return _WRITERS[fmt](result, decoded)
    return _json_pieces(result, rows)


def _json_pieces(result: TableResult, rows: Iterable[Any]) -> Iterator[bytes]:
    yield b'{"status": "COMPLETE", "msg": "", "data": ['
    count = 0
    if result.encoded:
        # Rows already JSON text are joined a batch at a time: per row, a piece of its own
        # (encoded, prefixed, then gathered again into a chunk) cost more than writing it.
        rows = iter(rows)
        while batch := list(islice(rows, _JSON_BATCH_ROWS)):
            text = ", ".join(batch)
            yield (", " + text).encode() if count else text.encode()
            count += len(batch)
    else:
        for row in rows:
            yield b", " + _encode_row(row) if count else _encode_row(row)
            count += 1
    total = result.total_rows()
    pages = -(-total // result.pagesize) if total else 0
    paging = {
        "page": result.page, "pageSize": result.pagesize, "pagesFiltered": pages,
        "rows": count, "rowsFiltered": total, "rowsTotal": total,
    }  # fmt: skip
    # as orjson writes {"fields": ..., "paging": ...}, with the fields written once
    yield b'], "fields":' + result.fields.json + b"," + orjson.dumps({"paging": paging})[1:]


#: Rows of JSON text joined into one piece (a few hundred kB at most for wide rows).
_JSON_BATCH_ROWS = 256


def _encode_row(row: dict) -> bytes:
    return orjson.dumps(row, default=str)


def _names(result: TableResult) -> list[str]:
    return [field["name"] for field in result.fields]


def _csv_pieces(result: TableResult, rows: Iterable[dict]) -> Iterator[bytes]:
    """A header line of column names, then one line per row; null is an empty field,
    booleans are ``true``/``false`` and numbers are written exactly as in the JSON."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    names = _names(result)
    writer.writerow(names)
    for row in rows:
        writer.writerow([_csv_value(row.get(name)) for name in names])
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue().encode()


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


#: VOTable datatypes of MAST's wire types; integers are ``long`` (file sizes pass 2**31).
_VOT_DATATYPES = {"float": "double", "int": "long", "boolean": "boolean", "string": "unicodeChar"}
#: Our units as VOUnits, where MAST's spelling is not one (MJD values are days).
_VO_UNITS = {"sec": "s", "bytes": "byte", "MJD": "d"}
#: Characters XML 1.0 cannot carry at all (C0 controls other than tab, newline, return).
_NOT_XML = dict.fromkeys(c for c in range(32) if c not in (9, 10, 13))


def _votable_pieces(result: TableResult, rows: Iterable[dict]) -> Iterator[bytes]:
    """VOTable 1.4 with one TABLE: the header (FIELDs with unit, UCD and description) is
    written by astropy, the rows as TABLEDATA here, one ``<TR>`` at a time."""
    head, tail = _votable_frame(result)
    yield head
    names = _names(result)
    for row in rows:
        cells = "".join(f"<TD>{_td(row.get(name))}</TD>" for name in names)
        yield f"<TR>{cells}</TR>\n".encode()
    yield tail


def _td(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "T" if value else "F"
    if isinstance(value, float):
        return repr(value)
    return escape(str(value).translate(_NOT_XML))


def _votable_frame(result: TableResult) -> tuple[bytes, bytes]:
    """The document before and after the table's rows."""
    from astropy.io.votable.tree import Field, Resource, TableElement, VOTableFile

    facts = {column.name: column for column in result.columns}
    votable = VOTableFile()
    resource = Resource()
    votable.resources.append(resource)
    table = TableElement(votable)
    resource.tables.append(table)
    for field in result.fields:
        table.fields.append(_field(Field, votable, field, facts.get(field["name"])))
    out = io.BytesIO()
    votable.to_xml(out, tabledata_format="tabledata")
    head, end, rest = out.getvalue().partition(b"</TABLE>")
    if not end:
        raise RuntimeError("astropy wrote a VOTable without a TABLE element")
    return head + b"<DATA><TABLEDATA>\n", b"</TABLEDATA></DATA>\n" + end + rest


def _field(
    field_class: Any, votable: Any, field: Mapping[str, str], info: ColumnInfo | None
) -> Any:
    datatype = _VOT_DATATYPES.get(field["type"], "unicodeChar")
    made = field_class(
        votable, name=field["name"], datatype=datatype,
        arraysize="*" if datatype == "unicodeChar" else None,
        unit=_VO_UNITS.get(info.unit, info.unit) if info and info.unit else None,
        ucd=info.ucd if info else None,
    )  # fmt: skip
    if info is not None and info.description:
        made.description = info.description
    return made


_WRITERS: dict[str, Callable[[TableResult, Iterable[dict]], Iterator[bytes]]] = {
    "csv": _csv_pieces,
    "votable": _votable_pieces,
}
