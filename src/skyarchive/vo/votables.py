"""Result VOTables of the DAL services (cone search, DataLink): one ``RESOURCE type="results"``.

A service describes its columns as :class:`FieldSpec` values and hands rows (tuples in that
order, ``None`` for an empty cell) to :func:`results_votable`, which the TAP service's writer
(:mod:`skyarchive.vo.tap_votable`) writes as TABLEDATA or BINARY2, with DALI's
``INFO name="QUERY_STATUS"``: ``OK`` before the table and, when the service cut the answer
at ``MAXREC``, ``OVERFLOW`` after it (clients take the last).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import quoteattr

from skyarchive.errors import BadQuery
from skyarchive.vo.adql_values import OutputColumn
from skyarchive.vo.tap_columns import TapColumn
from skyarchive.vo.tap_votable import NOT_XML, votable

#: The VOTable media type, and the serialisations ``RESPONSEFORMAT`` may choose.
VOTABLE_MEDIA_TYPE = "application/x-votable+xml"
SERIALISATIONS = {"tabledata": "tabledata", "binary2": "binary2"}
_RESPONSEFORMATS = {
    "votable": "tabledata",
    "application/x-votable+xml": "tabledata",
    "text/xml": "tabledata",
    "application/x-votable+xml;serialization=tabledata": "tabledata",
    "application/x-votable+xml;serialization=binary2": "binary2",
    "votable/td": "tabledata",
    "votable/b2": "binary2",
}


@dataclass(frozen=True)
class FieldSpec:
    """One column of a result table: VOTable datatype (``char`` strings are ``arraysize="*"``),
    unit (VOUnit), UCD, utype and a description."""

    name: str
    datatype: str
    ucd: str | None = None
    unit: str | None = None
    description: str | None = None
    utype: str | None = None
    xtype: str | None = None


def serialisation(responseformat: str | None, media_types: Sequence[str] = ()) -> str:
    """``tabledata`` or ``binary2`` for a ``RESPONSEFORMAT`` value: TABLEDATA unless BINARY2
    is asked for by name (DataLink demands it; the others follow, so all agree).

    ``media_types`` are further spellings the service answers as VOTable (DataLink's
    ``application/x-votable+xml;content=datalink``).

    Raises
    ------
    BadQuery
        For a format the service does not write, naming those it does.
    """
    if responseformat is None or not responseformat.strip():
        return "tabledata"
    wanted = "".join(responseformat.split()).lower()
    if wanted in _RESPONSEFORMATS:
        return _RESPONSEFORMATS[wanted]
    extra = {"".join(m.split()).lower() for m in media_types}
    if wanted in extra:
        return "tabledata"
    if extra and wanted.startswith(tuple(extra)) and "serialization=binary2" in wanted:
        return "binary2"
    known = ", ".join([*_RESPONSEFORMATS, *media_types])
    raise BadQuery(
        f"RESPONSEFORMAT {responseformat[:80]!r} is not written here; give one of: {known}."
    )


def results_votable(
    fields: Sequence[FieldSpec],
    rows: Sequence[Sequence[Any]],
    *,
    fmt: str = "tabledata",
    overflow: bool = False,
    extra_resources: Sequence[str] = (),
) -> bytes:
    """The VOTable (1.4) document of a result table, written by the TAP service's writer.

    Parameters
    ----------
    fields
        The columns, in the order of each row's values.
    rows
        The rows; ``None`` cells are written empty (NULL).
    fmt
        ``tabledata`` or ``binary2`` (see :func:`serialisation`).
    overflow
        Whether the service stopped at ``MAXREC`` with more rows to give.
    extra_resources
        Further ``RESOURCE`` elements, as XML text, written after the results (DataLink's
        service descriptors).
    """
    columns = [OutputColumn(spec.name, _described(spec)) for spec in fields]
    binary = fmt == "binary2"
    return votable(
        columns, rows, overflow=overflow, binary=binary, extra_resources=extra_resources,
        field_ids=True,
    )  # fmt: skip


def _described(spec: FieldSpec) -> TapColumn:
    return TapColumn(
        spec.name, spec.datatype, spec.description or "", unit=spec.unit, ucd=spec.ucd,
        utype=spec.utype, arraysize="*" if spec.datatype == "char" else None, xtype=spec.xtype,
    )  # fmt: skip


def attribute(value: str) -> str:
    """An XML attribute value, quoted (for hand-written service descriptors)."""
    return quoteattr(_xml_text(value))


def _xml_text(value: str) -> str:
    return value.translate(NOT_XML)
