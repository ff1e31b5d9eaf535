"""Result VOTables of the DAL services (cone search, DataLink): one ``RESOURCE type="results"``.

A service describes its columns as :class:`FieldSpec` values and hands rows (tuples in that
order, ``None`` for an empty cell) to :func:`results_votable`, which astropy writes as
TABLEDATA or BINARY2, with DALI's ``INFO name="QUERY_STATUS"``: ``OK`` before the table and,
when the service cut the answer at ``MAXREC``, ``OVERFLOW`` after it (clients take the last).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import quoteattr

from skyarchive.errors import BadQuery

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
#: Characters XML 1.0 cannot carry (C0 controls other than tab, newline, return).
_NOT_XML = dict.fromkeys(c for c in range(32) if c not in (9, 10, 13))


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
    infos: Sequence[tuple[str, str]] = (),
    extra_resources: Sequence[str] = (),
) -> bytes:
    """The VOTable (1.4) document of a result table.

    Parameters
    ----------
    fields
        The columns, in the order of each row's values.
    rows
        The rows; ``None`` cells are written empty (masked).
    fmt
        ``tabledata`` or ``binary2`` (see :func:`serialisation`).
    overflow
        Whether the service stopped at ``MAXREC`` with more rows to give.
    infos
        Further ``INFO`` (name, value) pairs of the results resource (the request's echo).
    extra_resources
        Further ``RESOURCE`` elements, as XML text, written after the results (DataLink's
        service descriptors).
    """
    import numpy as np
    from astropy.io.votable.tree import Field, Info, Resource, TableElement, VOTableFile

    votable = VOTableFile(version="1.4")
    resource = Resource(type="results")
    votable.resources.append(resource)
    resource.infos.append(Info(name="QUERY_STATUS", value="OK"))
    for name, value in infos:
        resource.infos.append(Info(name=name, value=_xml_text(value)))
    table = TableElement(votable)
    resource.tables.append(table)
    for spec in fields:
        field = Field(
            votable, name=spec.name, datatype=spec.datatype,
            arraysize="*" if spec.datatype in ("char", "unicodeChar") else None,
            unit=spec.unit, ucd=spec.ucd, utype=spec.utype, xtype=spec.xtype,
        )  # fmt: skip
        if spec.description:
            field.description = spec.description
        table.fields.append(field)
    table.create_arrays(len(rows))
    for i, row in enumerate(rows):
        values = []
        mask = []
        for spec, value in zip(fields, row, strict=True):
            empty = value is None or (isinstance(value, float) and np.isnan(value))
            mask.append(empty)
            if empty:
                values.append(_empty(spec.datatype))
            elif spec.datatype in ("char", "unicodeChar"):
                values.append(_xml_text(str(value)))
            else:
                values.append(value)
        table.array[i] = tuple(values)
        table.array.mask[i] = tuple(mask)
    out = io.BytesIO()
    votable.to_xml(out, tabledata_format=SERIALISATIONS.get(fmt, "tabledata"))
    document = out.getvalue()
    inside = b'<INFO name="QUERY_STATUS" value="OVERFLOW"/>\n' if overflow else b""
    outside = "".join(extra_resources).encode("utf-8")
    if inside or outside:
        # astropy writes every INFO before the table: OVERFLOW goes after it by hand
        head, end, rest = document.rpartition(b"</RESOURCE>")
        if not end:
            raise RuntimeError("astropy wrote a VOTable without a RESOURCE element")
        document = head + inside + end + b"\n" + outside + rest
    return document


def attribute(value: str) -> str:
    """An XML attribute value, quoted (for hand-written service descriptors)."""
    return quoteattr(_xml_text(value))


def _xml_text(value: str) -> str:
    return value.translate(_NOT_XML)


def _empty(datatype: str) -> Any:
    if datatype in ("char", "unicodeChar"):
        return ""
    if datatype == "boolean":
        return False
    if datatype in ("float", "double"):
        return float("nan")
    return 0
