"""A TAP answer's body: VOTable (BINARY2 by default, TABLEDATA on request), CSV or TSV.

VOTables are written by ``astropy.io.votable`` from the FIELDs TAP_SCHEMA describes (name,
datatype, arraysize, xtype, unit, UCD), inside ``RESOURCE type="results"`` with DALI's
``QUERY_STATUS`` INFO; a truncated answer (MAXREC) carries a second one, ``OVERFLOW``, after
the table, as DALI asks (astropy writes a resource's INFOs before its tables, so that one is
put in place after writing).
"""

from __future__ import annotations

import csv
import io
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from astropy.io.votable.exceptions import VOWarning
from astropy.io.votable.tree import Field, Info, Resource, TableElement, VOTableFile

from skyarchive.sky.regions import Circle, MultiRegion, Polygon, parse_s_region
from skyarchive.vo.adql_sql import OutputColumn
from skyarchive.vo.identifiers import datalink_url

VOTABLE = "application/x-votable+xml"


@dataclass(frozen=True)
class OutputFormat:
    media_type: str
    kind: str  # binary2, tabledata, csv, tsv


_FORMATS: dict[str, OutputFormat] = {}
for _names, _fmt in (
    (("votable", "application/x-votable+xml", "text/xml", "votable/b2", "vot",
      "application/x-votable+xml;serialization=binary2", "application/xml"),
     OutputFormat(VOTABLE, "binary2")),
    (("votable/td", "votabletd", "application/x-votable+xml;serialization=tabledata"),
     OutputFormat(f"{VOTABLE};serialization=TABLEDATA", "tabledata")),
    (("csv", "text/csv", "text/csv;header=present"),
     OutputFormat("text/csv;header=present", "csv")),
    (("tsv", "text/tab-separated-values", "text/tsv"),
     OutputFormat("text/tab-separated-values", "tsv")),
):  # fmt: skip
    for _name in _names:
        _FORMATS[_name] = _fmt

#: RESPONSEFORMAT values we answer, as the capabilities document lists them.
FORMAT_ALIASES = ("votable", "votable/td", "csv", "tsv")


def output_format(value: str | None) -> OutputFormat:
    """The format a RESPONSEFORMAT (or FORMAT) value names; VOTable when none is given."""
    from skyarchive.errors import BadQuery

    key = (value or "votable").strip().lower().replace(" ", "")
    if key in _FORMATS:
        return _FORMATS[key]
    raise BadQuery(
        f"RESPONSEFORMAT {value!r} is not offered; use one of {', '.join(FORMAT_ALIASES)} "
        "(or their MIME types)."
    )


# ---------------------------------------------------------------------------- conversions


def _stcs(text: str | None) -> str | None:
    """A stored footprint as STC-S with its frame (``POLYGON ICRS ra dec ...``), the form
    ADQL regions take; a union is ``UNION ICRS (part part ...)``."""
    if not text:
        return None
    region = parse_s_region(text)
    if isinstance(region, MultiRegion):
        return "UNION ICRS (" + " ".join(_shape(part) for part in region.regions) + ")"
    kind, _, numbers = _shape(region).partition(" ")
    return f"{kind} ICRS {numbers}"


def _shape(part: Polygon | Circle) -> str:
    if isinstance(part, Circle):
        return f"CIRCLE {part.ra!r} {part.dec!r} {part.radius!r}"
    return "POLYGON " + " ".join(f"{ra!r} {dec!r}" for ra, dec in part.vertices)


def converters(columns: Sequence[OutputColumn], base_url: str) -> list[Callable[[Any], Any] | None]:
    """Per column, how a database value becomes the answer's (None: as it is)."""
    out: list[Callable[[Any], Any] | None] = []
    for c in columns:
        if c.meta.conversion == "datalink":
            out.append(lambda did: None if did is None else datalink_url(base_url, did))
        elif c.meta.conversion == "stcs":
            out.append(_stcs)
        else:
            out.append(None)
    return out


def converted_rows(
    columns: Sequence[OutputColumn], rows: Sequence[Sequence[Any]], base_url: str
) -> list[list[Any]]:
    funcs = converters(columns, base_url)
    result = []
    for row in rows:
        result.append([f(v) if f is not None else v for f, v in zip(funcs, row, strict=True)])
    return result


# ------------------------------------------------------------------------------ writers


_NUMPY = {"boolean": bool, "short": np.int16, "int": np.int32, "long": np.int64,
          "float": np.float32, "double": np.float64}  # fmt: skip


def write(
    fmt: OutputFormat,
    columns: Sequence[OutputColumn],
    rows: list[list[Any]],
    *,
    overflow: bool,
) -> bytes:
    if fmt.kind in ("csv", "tsv"):
        return _write_text(columns, rows, tab=fmt.kind == "tsv")
    return _write_votable(columns, rows, overflow=overflow, binary=fmt.kind == "binary2")


def _write_votable(
    columns: Sequence[OutputColumn], rows: list[list[Any]], *, overflow: bool, binary: bool
) -> bytes:
    votable = VOTableFile(version="1.4")
    resource = Resource(type="results")
    votable.resources.append(resource)
    resource.infos.append(Info(name="QUERY_STATUS", value="OK"))
    table = TableElement(votable, name="result")
    resource.tables.append(table)
    for c in columns:
        meta = c.meta
        arraysize = meta.arraysize
        field = Field(
            votable, name=c.name, datatype=meta.datatype, arraysize=arraysize, unit=meta.unit,
            ucd=meta.ucd, utype=meta.utype, xtype=meta.xtype,
        )  # fmt: skip
        if meta.description:
            field.description = meta.description
        table.fields.append(field)
    table.create_arrays(len(rows))
    array = table.array
    for index, c in enumerate(columns):
        values = [row[index] for row in rows]
        array.mask[c.name] = np.array([v is None for v in values], dtype=bool)
        array.data[c.name] = _column_data(c, values)
    out = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VOWarning)
        votable.to_xml(out, tabledata_format="binary2" if binary else "tabledata")
    body = out.getvalue()
    if overflow:
        at = body.rindex(b"</TABLE>") + len(b"</TABLE>")
        body = body[:at] + b'\n<INFO name="QUERY_STATUS" value="OVERFLOW"/>' + body[at:]
    return body


def _column_data(c: OutputColumn, values: list[Any]) -> np.ndarray:
    meta = c.meta
    if meta.datatype == "char":
        return np.array(["" if v is None else str(v) for v in values], dtype=object)
    kind = _NUMPY[meta.datatype]
    if kind is bool:
        return np.array([bool(v) if v is not None else False for v in values], dtype=bool)
    if meta.datatype in ("float", "double"):
        return np.array([float(v) if v is not None else np.nan for v in values], dtype=kind)
    return np.array([int(v) if v is not None else 0 for v in values], dtype=kind)


def _text_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple | np.ndarray):
        return " ".join(repr(float(x)) for x in value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _write_text(columns: Sequence[OutputColumn], rows: list[list[Any]], *, tab: bool) -> bytes:
    out = io.StringIO()
    if tab:
        out.write("\t".join(c.name for c in columns) + "\n")
        for row in rows:
            cells = (_text_value(v).replace("\t", " ").replace("\n", " ") for v in row)
            out.write("\t".join(cells) + "\n")
    else:
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow([c.name for c in columns])
        for row in rows:
            writer.writerow([_text_value(v) for v in row])
    return out.getvalue().encode("utf-8")
