"""VOTable 1.4 answers of the VO services, BINARY2 or TABLEDATA: TAP's, and through
:mod:`skyarchive.vo.votables` the cone search's and DataLink's.

Written here rather than through ``astropy.io.votable``: astropy builds its BINARY2 stream a
value at a time in Python, 170 ms for a 60-row ObsCore answer (measured, docs/vo.md), which
alone put an ADQL cone far behind the MAST API's; and its C TABLEDATA writer now and then
writes past its buffer (astropy issue 20419), which corrupted the server's heap and crashed
it at random places in full test runs. The document is the minimal one DALI asks
for: ``RESOURCE type="results"`` with the ``QUERY_STATUS`` INFO, one TABLE whose FIELDs carry
what TAP_SCHEMA says (datatype, arraysize, xtype, unit, UCD, utype, description), and a
second INFO, ``OVERFLOW``, after the table when MAXREC cut the answer. astropy, pyvo, STILTS
and TOPCAT read it (tests/vo/test_adql.py, tests/e2e/vo/test_tap_sync.py).

BINARY2 (VOTable 1.3, 5.5): per row, a bit per field saying NULL (first field in the most
significant bit), then each value big-endian; variable-length text is a 4-byte length and
its bytes. ``char`` holds ASCII: other characters are written as ``?``.
"""

from __future__ import annotations

import base64
import math
import struct
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from skyarchive.vo.adql_values import OutputColumn
from skyarchive.vo.tap_columns import TapColumn

_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<VOTABLE version="1.4" xmlns="http://www.ivoa.net/xml/VOTable/v1.3">\n'
    '<RESOURCE type="results">\n'
    '<INFO name="QUERY_STATUS" value="OK"/>\n'
    '<TABLE name="result">\n'
)
_OVERFLOW = '<INFO name="QUERY_STATUS" value="OVERFLOW"/>\n'
_FIXED = {"short": ">h", "int": ">i", "long": ">q", "float": ">f", "double": ">d"}


#: Characters XML 1.0 cannot carry (C0 controls other than tab, newline, return).
NOT_XML = dict.fromkeys(c for c in range(32) if c not in (9, 10, 13))


def votable(
    columns: Sequence[OutputColumn], rows: Sequence[Sequence[Any]], *, overflow: bool,
    binary: bool, extra_resources: Sequence[str] = (), field_ids: bool = False,
) -> bytes:  # fmt: skip
    """The document; ``extra_resources`` are further ``RESOURCE`` elements as XML text,
    written after the results (DataLink's service descriptors, whose PARAMs refer to FIELDs
    by ID: ``field_ids`` gives each FIELD its name as ID, so names must be unique XML names,
    which a TAP query's select list need not be)."""
    parts = [_HEAD, *(_field(c.name, c.meta, field_ids) for c in columns), "<DATA>"]
    if binary:
        stream = base64.encodebytes(_binary2(columns, rows)).decode("ascii")
        parts.append(f'<BINARY2><STREAM encoding="base64">\n{stream}</STREAM></BINARY2>')
    else:
        parts.append(_tabledata(columns, rows))
    parts.append("</DATA>\n</TABLE>\n")
    if overflow:
        parts.append(_OVERFLOW)
    parts.append("</RESOURCE>\n")
    parts.extend(extra_resources)
    parts.append("</VOTABLE>\n")
    return "".join(parts).encode("utf-8")


@lru_cache(maxsize=4096)  # the same columns answer query after query (their FIELDs too)
def _field(name: str, meta: TapColumn, with_id: bool) -> str:
    attrs = {"ID": name if with_id else None, "name": name, "datatype": meta.datatype,
             "arraysize": meta.arraysize, "xtype": meta.xtype, "unit": meta.unit, "ucd": meta.ucd,
             "utype": meta.utype}  # fmt: skip
    text = " ".join(f"{k}={quoteattr(v)}" for k, v in attrs.items() if v)
    inner = []
    if meta.description:
        inner.append(f"<DESCRIPTION>{escape(meta.description)}</DESCRIPTION>")
    if meta.datatype in _NULLS and meta.arraysize is None:
        inner.append(f'<VALUES null="{_NULLS[meta.datatype]}"/>')
    if not inner:
        return f"<FIELD {text}/>\n"
    return f"<FIELD {text}>\n" + "\n".join(inner) + "\n</FIELD>\n"


# the in-band NULL of integer columns (TABLEDATA readers need one; BINARY2 has its flags)
_NULLS = {"short": -32768, "int": -2147483648, "long": -9223372036854775808}


@lru_cache(maxsize=4096)
def _packer(meta: TapColumn) -> Callable[[Any], bytes]:
    if meta.datatype == "char":

        def text(value: Any) -> bytes:
            data = str(value).encode("ascii", "replace")
            return struct.pack(">i", len(data)) + data

        return text
    if meta.datatype == "boolean":
        return lambda value: b"T" if value else b"F"
    fmt = struct.Struct(_FIXED[meta.datatype])
    if meta.datatype in ("float", "double"):
        return lambda value: fmt.pack(float(value))
    return lambda value: fmt.pack(int(value))


@lru_cache(maxsize=4096)
def _null_value(meta: TapColumn) -> bytes:
    if meta.datatype == "char":
        return b"\x00\x00\x00\x00"
    if meta.datatype == "boolean":
        return b"?"
    if meta.datatype in ("float", "double"):
        return struct.pack(_FIXED[meta.datatype], math.nan)
    return struct.pack(_FIXED[meta.datatype], _NULLS[meta.datatype])


def _binary2(columns: Sequence[OutputColumn], rows: Sequence[Sequence[Any]]) -> bytes:
    packers = [_packer(c.meta) for c in columns]
    nulls = [_null_value(c.meta) for c in columns]
    flag_bytes = (len(columns) + 7) // 8
    out = bytearray()
    for row in rows:
        flags = 0
        body = bytearray()
        for index, (value, pack) in enumerate(zip(row, packers, strict=True)):
            if value is None or (isinstance(value, float) and math.isnan(value)):
                flags |= 1 << (flag_bytes * 8 - 1 - index)
                body += nulls[index]
            else:
                body += pack(value)
        out += flags.to_bytes(flag_bytes, "big")
        out += body
    return bytes(out)


def _cell(value: Any, datatype: str) -> str:
    if value is None:
        return "<TD/>"
    if datatype in ("float", "double"):
        number = float(value)
        return "<TD/>" if math.isnan(number) else f"<TD>{number!r}</TD>"
    if datatype == "boolean":
        return "<TD>T</TD>" if value else "<TD>F</TD>"
    if datatype in _FIXED:
        return f"<TD>{int(value)}</TD>"
    return f"<TD>{escape(_ascii(value))}</TD>"


def _ascii(value: Any) -> str:
    return str(value).translate(NOT_XML).encode("ascii", "replace").decode("ascii")


def _tabledata(columns: Sequence[OutputColumn], rows: Sequence[Sequence[Any]]) -> str:
    kinds = [c.meta.datatype for c in columns]
    lines = ["<TABLEDATA>"]
    for row in rows:
        cells = "".join(_cell(v, k) for v, k in zip(row, kinds, strict=True))
        lines.append(f"<TR>{cells}</TR>")
    lines.append("</TABLEDATA>")
    return "\n".join(lines)
