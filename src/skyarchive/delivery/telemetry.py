"""Engineering telemetry (EDB) leaving the archive: the pipeline's CSV, windows, plots.

Every use-case takes the ``caller`` and applies the EDB rule
(:func:`skyarchive.access.policy.check_engineering_access`: signed-in users only) before it
reads a sample; the inventory (names, descriptions, units) is public, as at MAST.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]

from skyarchive.access.policy import Caller, check_engineering_access
from skyarchive.archive import Archive
from skyarchive.errors import BadQuery
from skyarchive.search.edb_store import (
    MJD_UNIX_EPOCH_DAY,
    US_PER_DAY,
    Decimated,
    Mnemonic,
    decimated,
    find_mnemonic,
    parse_time,
    window_blocks,
    window_samples,
)

#: ``mast:jwstedb/<MNEMONIC>-<YYYYMMDDThhmmss>-<YYYYMMDDThhmmss>.csv``, as jwst.lib.engdb_mast
#: builds it (the mnemonic has no ``-``, so the two times are the last two parts).
EDB_URI_PREFIX = "mast:jwstedb/"
_EDB_NAME = re.compile(r"^(?P<mnemonic>[^-/]+)-(?P<start>\d{8}T\d{6})-(?P<end>\d{8}T\d{6})\.csv$")
CSV_HEADER = "theTime,MJD,euvalue,sqldataType\r\n"


def is_telemetry_uri(uri: str) -> bool:
    return uri.strip().lower().startswith(EDB_URI_PREFIX)


@dataclass(frozen=True)
class TelemetryWindow:
    mnemonic: Mnemonic
    start_us: int
    end_us: int


@dataclass(frozen=True)
class TelemetryCsv:
    filename: str
    chunks: Iterator[bytes]


def parse_telemetry_uri(uri: str) -> tuple[str, int, int]:
    """(mnemonic, start µs, end µs) of an EDB data URI; BadQuery naming the expected form."""
    name = uri.strip()[len(EDB_URI_PREFIX) :]
    match = _EDB_NAME.match(name)
    if match is None:
        raise BadQuery(
            f"{uri!r} is not an EDB data URI: give mast:jwstedb/<MNEMONIC>-<YYYYMMDDThhmmss>-"
            "<YYYYMMDDThhmmss>.csv, e.g. mast:jwstedb/SA_ZATTEST1-20220701T000000-"
            "20220701T030000.csv (times UTC)."
        )
    start = parse_time(match["start"], what="start")
    end = parse_time(match["end"], what="end")
    if end < start:
        raise BadQuery(f"{uri!r}: the end time comes before the start time.")
    return match["mnemonic"], start, end


def telemetry_csv(archive: Archive, *, caller: Caller, uri: str) -> TelemetryCsv:
    """The samples an EDB data URI names, as MAST's EDB service sends them to the pipeline.

    CRLF-ended CSV ``theTime,MJD,euvalue,sqldataType`` in time order, with the last sample
    before the window and the first after it added (the pipeline drops them unless asked).

    Raises
    ------
    Unauthorized
        An anonymous caller.
    BadQuery
        A malformed URI.
    NotFound
        No such mnemonic.
    """
    check_engineering_access(caller)
    name, start, end = parse_telemetry_uri(uri)
    with archive.engine.connect() as conn:
        mnemonic = find_mnemonic(conn, name)
    filename = uri.strip()[len(EDB_URI_PREFIX) :]
    return TelemetryCsv(filename, _csv_chunks(archive, TelemetryWindow(mnemonic, start, end)))


def _csv_chunks(archive: Archive, window: TelemetryWindow) -> Iterator[bytes]:
    yield CSV_HEADER.encode()
    with archive.engine.connect() as conn:
        for times, values in window_blocks(conn, window.mnemonic, window.start_us, window.end_us):
            yield csv_rows(times, values, window.mnemonic)


def csv_rows(times_us: np.ndarray, values: np.ndarray, mnemonic: Mnemonic) -> bytes:
    """CRLF rows ``theTime,MJD,euvalue,sqldataType`` of these samples, formatted by Arrow's
    compute kernels a block at a time: no Python object or string per sample.

    ``theTime`` is ``2022-07-04 08:59:59.751149`` (Arrow writes microsecond timestamps with
    six decimals and a space, as MAST does), ``MJD`` has ten decimals (:func:`mjd_texts`),
    ``euvalue`` is the shortest text that reads back as the stored double (an integer for
    integer mnemonics).
    """
    stamps = pc.cast(_arrow(times_us, pa.timestamp("us")), pa.string())
    if mnemonic.is_integer:
        shown = pc.cast(_arrow(values.astype("int64"), pa.int64()), pa.string())
    else:
        shown = float_texts(values)
    lines = pc.binary_join_element_wise(
        stamps, mjd_texts(times_us), shown, f"{mnemonic.sql_data_type}\r\n", ","
    )
    return _string_bytes(lines)


def mjd_texts(times_us: np.ndarray) -> pa.Array:
    """MJD with ten decimals (``59764.3749971198``), rounded half up from the exact
    microseconds in integers: a double MJD near 60000 carries only ~11 decimals, and
    formatting it rounds the tenth wrongly about once in fifty samples (astropy's MJD of
    the same UTC time agrees with this text)."""
    days, within = np.divmod(times_us, US_PER_DAY)
    # ten decimals of within / US_PER_DAY = within * 10^10 / 8.64*10^10 = within * 25 / 216
    tenths = (within * 50 + 216) // 432
    carry = tenths == 10**10
    days = days + carry + MJD_UNIX_EPOCH_DAY
    tenths = np.where(carry, 0, tenths)
    # 10^10 + tenths has eleven digits: dropping the leading 1 pads the decimals with zeros
    decimals = pc.utf8_slice_codeunits(pc.cast(_arrow(tenths + 10**10, pa.int64()), pa.string()), 1)
    return pc.binary_join_element_wise(
        pc.cast(_arrow(days, pa.int64()), pa.string()), decimals, "."
    )


def float_texts(values: np.ndarray) -> pa.Array:
    """The shortest text that reads back as each double (Arrow's, as Python's ``repr``), with
    ``.0`` after an integral value, so a float mnemonic's column reads back as floats."""
    texts = pc.cast(_arrow(values, pa.float64()), pa.string())
    integral = values == np.floor(values)
    if not integral.any():  # the usual float telemetry: no text to look at again
        return texts
    plain = pc.invert(pc.match_substring(texts, "e"))  # 1e+21 stays as Arrow wrote it
    return pc.if_else(
        pc.and_(pa.array(integral.tolist()), plain),
        pc.binary_join_element_wise(texts, ".0", ""),
        texts,
    )


def _arrow(values: np.ndarray, kind: pa.DataType) -> pa.Array:
    """``values`` (int64 or float64) as an Arrow array of ``kind`` over the same memory
    (``pa.array`` would first import pandas to check what it was given: seconds of a server
    process's first CSV)."""
    contiguous = np.ascontiguousarray(values)
    return pa.Array.from_buffers(kind, len(contiguous), [None, pa.py_buffer(contiguous)])


def _string_bytes(lines: pa.Array) -> bytes:
    """The concatenated values of a string array: its data buffer between the first and last
    offsets."""
    if not len(lines):
        return b""
    offsets = np.frombuffer(lines.buffers()[1], dtype="int32")[
        lines.offset : lines.offset + len(lines) + 1
    ]
    first, last = int(offsets[0]), int(offsets[-1])
    return lines.buffers()[2].slice(first, last - first).to_pybytes()


def telemetry_samples(
    archive: Archive, *, caller: Caller, mnemonic: str, start: object, end: object
) -> tuple[Mnemonic, list[tuple[int, float]]]:
    """The samples of ``mnemonic`` in [start, end] (ISO UTC or MJD), no bracketing ones."""
    check_engineering_access(caller)
    start_us, end_us = _span(start, end)
    with archive.engine.connect() as conn:
        found = find_mnemonic(conn, mnemonic)
        return found, list(window_samples(conn, found, start_us, end_us, bracket=False))


def telemetry_plot(
    archive: Archive, *, caller: Caller, mnemonic: str, start: object, end: object, buckets: int
) -> tuple[Mnemonic, Decimated]:
    """Min and max of ``mnemonic`` in ``buckets`` buckets of [start, end], for a plot."""
    check_engineering_access(caller)
    start_us, end_us = _span(start, end)
    with archive.engine.connect() as conn:
        found = find_mnemonic(conn, mnemonic)
        return found, decimated(conn, found, start_us, end_us, buckets=buckets)


def _span(start: object, end: object) -> tuple[int, int]:
    start_us = parse_time(start, what="start")
    end_us = parse_time(end, what="end")
    if end_us < start_us:
        raise BadQuery("The end of the time range comes before its start.")
    return start_us, end_us
