"""A TAP answer's body: VOTable (BINARY2 by default, TABLEDATA on request), CSV or TSV.

VOTables are written by :mod:`skyarchive.vo.tap_votable` from the FIELDs TAP_SCHEMA
describes; values leave the database through the columns' conversions (DataLink URLs made
from the request's base URL, footprints as STC-S with their frame).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from skyarchive.sky.regions import Circle, MultiRegion, Polygon, parse_s_region
from skyarchive.sky.stored_footprints import simple_polygon_vertices
from skyarchive.vo.adql_values import OutputColumn
from skyarchive.vo.identifiers import datalink_url
from skyarchive.vo.tap_votable import votable

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
    simple = simple_polygon_vertices(text)  # the common case, read without the geometry
    if simple is not None:
        ras, decs = simple
        return "POLYGON ICRS " + " ".join(
            f"{ra!r} {dec!r}" for ra, dec in zip(ras, decs, strict=True)
        )
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


def write(
    fmt: OutputFormat,
    columns: Sequence[OutputColumn],
    rows: list[list[Any]],
    *,
    overflow: bool,
) -> bytes:
    if fmt.kind in ("csv", "tsv"):
        return _write_text(columns, rows, tab=fmt.kind == "tsv")
    return votable(columns, rows, overflow=overflow, binary=fmt.kind == "binary2")


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
