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

from skyarchive.access.policy import Caller, check_engineering_access
from skyarchive.archive import Archive
from skyarchive.errors import BadQuery
from skyarchive.search.edb_store import (
    MJD_UNIX_EPOCH,
    US_PER_DAY,
    Decimated,
    Mnemonic,
    decimated,
    find_mnemonic,
    parse_time,
    window_samples,
)

#: ``mast:jwstedb/<MNEMONIC>-<YYYYMMDDThhmmss>-<YYYYMMDDThhmmss>.csv``, as jwst.lib.engdb_mast
#: builds it (the mnemonic has no ``-``, so the two times are the last two parts).
EDB_URI_PREFIX = "mast:jwstedb/"
_EDB_NAME = re.compile(r"^(?P<mnemonic>[^-/]+)-(?P<start>\d{8}T\d{6})-(?P<end>\d{8}T\d{6})\.csv$")
CSV_HEADER = "theTime,MJD,euvalue,sqldataType\r\n"
_ROWS_PER_CHUNK = 4_000


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
    mnemonic = window.mnemonic
    yield CSV_HEADER.encode()
    batch: list[tuple[int, float]] = []
    with archive.engine.connect() as conn:
        for sample in window_samples(conn, mnemonic, window.start_us, window.end_us):
            batch.append(sample)
            if len(batch) >= _ROWS_PER_CHUNK:
                yield _csv_block(batch, mnemonic)
                batch = []
    if batch:
        yield _csv_block(batch, mnemonic)


def _csv_block(batch: list[tuple[int, float]], mnemonic: Mnemonic) -> bytes:
    """Rows of the pipeline's CSV; the times are formatted by numpy, a block at a time (a
    datetime per row costs three times as much)."""
    times = np.fromiter((t for t, _ in batch), dtype="int64", count=len(batch))
    stamps = np.datetime_as_string(times.astype("datetime64[us]")).tolist()
    mjds = (times / US_PER_DAY + MJD_UNIX_EPOCH).tolist()
    kind = mnemonic.sql_data_type
    show = _integer_text if mnemonic.is_integer else repr
    block = "".join(
        f"{stamp},{mjd:.10f},{show(value)},{kind}\r\n"
        for stamp, mjd, (_, value) in zip(stamps, mjds, batch, strict=True)
    )
    # ISO's "T" between date and time becomes MAST's space; no other field holds a "T"
    return block.replace("T", " ").encode()


def _integer_text(value: float) -> str:
    return str(int(value))


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
