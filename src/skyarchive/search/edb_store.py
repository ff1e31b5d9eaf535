"""Reading the engineering database: the mnemonic inventory, time windows, decimated plots.

Times are integer microseconds since 1970-01-01 UTC (``t_us``) inside; MJD and ISO text only
at the edges. The samples table is keyed (mnemonic_id, t_us), so every read here is a range of
that key: a window of 43,000 samples costs the same among 10^4 or 10^8 stored ones.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Connection, Select, func, or_, select

from skyarchive.db.tables import edb_mnemonics, edb_rollups, edb_samples
from skyarchive.errors import BadQuery, NotFound

#: Bucket widths (seconds) of the stored min/max rollups, finest first.
ROLLUP_WIDTHS_S = (60, 3600, 86400)
MJD_UNIX_EPOCH_DAY = 40587  # MJD of 1970-01-01T00:00:00 UTC (POSIX time has no leap seconds)
MJD_UNIX_EPOCH = float(MJD_UNIX_EPOCH_DAY)
US_PER_DAY = 86_400_000_000
_EPOCH = datetime(1970, 1, 1)
MNEMONIC_PATTERN = re.compile(r"^[A-Z][A-Z0-9_]{1,63}$")
#: Most buckets a decimated plot asks for (a screen is a few thousand pixels wide).
MAX_BUCKETS = 10_000
#: Samples per block of a window read: large enough that numpy and Arrow work on whole
#: arrays, small enough that a month's window streams (20,000 samples: 320 kB of arrays).
WINDOW_BLOCK_ROWS = 20_000


@dataclass(frozen=True)
class Mnemonic:
    mnemonic_id: int
    mnemonic: str
    description: str | None
    unit: str | None
    subsystem: str | None
    sql_data_type: str
    sample_count: int
    first_us: int | None
    last_us: int | None

    @property
    def is_integer(self) -> bool:
        return self.sql_data_type in INTEGER_TYPES

    def as_row(self) -> dict[str, object]:
        """The inventory row MAST's ``Mast.JwstEdb.Mnemonics`` answers, plus our facts."""
        return {
            "tlmMnemonic": self.mnemonic,
            "tlmIdentifier": self.mnemonic_id,
            "description": self.description,
            "unit": self.unit,
            "subsystem": self.subsystem,
            "sqlDataType": self.sql_data_type,
            "sampleCount": self.sample_count,
            "firstTime": iso_time(self.first_us) if self.first_us is not None else None,
            "lastTime": iso_time(self.last_us) if self.last_us is not None else None,
        }


INTEGER_TYPES = frozenset({"int", "tinyint", "smallint", "bigint"})
SQL_DATA_TYPES = INTEGER_TYPES | {"float", "real"}


def normal_mnemonic(name: object) -> str:
    """``name`` stripped and upper-cased, as the pipeline sends it; BadQuery if it cannot be one."""
    text = str(name or "").strip().upper()
    if not MNEMONIC_PATTERN.match(text):
        raise BadQuery(
            f"{name!r} is not a mnemonic: give letters, digits and underscores starting with a "
            "letter, e.g. SA_ZATTEST1 or INRSD_ALG_ACC_P1_EXPT."
        )
    return text


def find_mnemonic(conn: Connection, name: object) -> Mnemonic:
    """The inventory entry of mnemonic ``name`` (any case).

    Raises
    ------
    BadQuery
        ``name`` cannot be a mnemonic.
    NotFound
        The archive holds no such mnemonic.
    """
    mnemonic = normal_mnemonic(name)
    row = conn.execute(select(edb_mnemonics).where(edb_mnemonics.c.mnemonic == mnemonic)).first()
    if row is None:
        raise NotFound(
            f"No mnemonic {mnemonic} in this archive's engineering database; "
            "Mast.JwstEdb.Mnemonics lists those it holds."
        )
    return Mnemonic(**row._mapping)


def list_mnemonics(conn: Connection, *, text: str = "", limit: int | None = None) -> list[Mnemonic]:
    """The inventory in name order; ``text`` keeps names starting with it or descriptions
    containing it (case-insensitive), as the portal's completion asks."""
    query = select(edb_mnemonics).order_by(edb_mnemonics.c.mnemonic)
    needle = text.strip()
    if needle:
        escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(
            or_(
                edb_mnemonics.c.mnemonic.like(escaped.upper() + "%", escape="\\"),
                func.lower(edb_mnemonics.c.description).like(
                    "%" + escaped.lower() + "%", escape="\\"
                ),
            )
        )
    if limit is not None:
        query = query.limit(limit)
    return [Mnemonic(**row._mapping) for row in conn.execute(query)]


def window_samples(
    conn: Connection, mnemonic: Mnemonic, start_us: int, end_us: int, *, bracket: bool = True
) -> Iterator[tuple[int, float]]:
    """The samples of ``mnemonic`` with start ≤ t ≤ end in time order, as (t_us, value).

    With ``bracket`` the last sample before the window and the first after it come too, as
    MAST's EDB service always sends them (the pipeline interpolates across the edges).
    """
    for times, values in window_blocks(conn, mnemonic, start_us, end_us, bracket=bracket):
        yield from zip(times.tolist(), values.tolist(), strict=True)


def window_blocks(
    conn: Connection,
    mnemonic: Mnemonic,
    start_us: int,
    end_us: int,
    *,
    bracket: bool = True,
    rows: int = WINDOW_BLOCK_ROWS,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """:func:`window_samples` as blocks of up to ``rows`` samples: (t_us int64, value float64).

    Read through the driver's cursor as plain tuples straight into numpy (no Row object per
    sample), a block at a time (a server-side cursor on PostgreSQL), so a month's window
    streams in bounded memory.
    """
    key = edb_samples.c.mnemonic_id == mnemonic.mnemonic_id
    columns = (edb_samples.c.t_us, edb_samples.c.value)
    if bracket:
        before = conn.execute(
            select(*columns).where(key, edb_samples.c.t_us < start_us)
            .order_by(edb_samples.c.t_us.desc()).limit(1)
        ).first()  # fmt: skip
        if before is not None:
            yield _block([tuple(before)])
    inside = (
        select(*columns)
        .where(key, edb_samples.c.t_us >= start_us, edb_samples.c.t_us <= end_us)
        .order_by(edb_samples.c.t_us)
    )
    if conn.dialect.name == "postgresql":
        yield from _copied_blocks(conn, inside, rows)
    else:
        for found in _driver_rows(conn, inside, rows):
            yield _block(found)
    if bracket:
        after = conn.execute(
            select(*columns).where(key, edb_samples.c.t_us > end_us)
            .order_by(edb_samples.c.t_us).limit(1)
        ).first()  # fmt: skip
        if after is not None:
            yield _block([tuple(after)])


def _block(rows: list[tuple[int, float]]) -> tuple[np.ndarray, np.ndarray]:
    pairs = np.fromiter(rows, dtype=_SAMPLE, count=len(rows))
    return pairs["t_us"], pairs["value"]


_SAMPLE = np.dtype([("t_us", "int64"), ("value", "float64")])


#: A row of PostgreSQL's binary COPY of (t_us, value), both NOT NULL: field count, then
#: length and big-endian bytes of each field.
_COPY_ROW = np.dtype(
    [("fields", ">i2"), ("t_len", ">i4"), ("t_us", ">i8"), ("v_len", ">i4"), ("value", ">f8")]
)
_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"


def _copied_blocks(
    conn: Connection, query: Select[Any], rows: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The (t_us, value) rows of ``query`` by binary ``COPY ... TO STDOUT`` on PostgreSQL: fixed
    26-byte rows that numpy reads as they are, where a SELECT makes a Python tuple per row."""
    compiled = query.compile(dialect=conn.dialect)
    driver = conn.connection.driver_connection
    assert driver is not None
    statement = f"COPY ({compiled}) TO STDOUT (FORMAT BINARY)"
    pending = bytearray()
    header_read = False
    block_bytes = rows * _COPY_ROW.itemsize
    with driver.cursor() as cursor, cursor.copy(statement, compiled.params) as copy:
        for data in copy:
            pending += data
            if not header_read and len(pending) >= 19:
                if bytes(pending[:11]) != _COPY_SIGNATURE:
                    raise RuntimeError("PostgreSQL's binary COPY did not start as documented.")
                extension = int.from_bytes(pending[15:19], "big")
                if len(pending) < 19 + extension:
                    continue
                del pending[: 19 + extension]
                header_read = True
            while header_read and len(pending) >= block_bytes:
                yield _copied(pending[:block_bytes])
                del pending[:block_bytes]
    if pending[-2:] == b"\xff\xff":  # the trailer: a field count of -1
        del pending[-2:]
    if pending:
        yield _copied(pending)


def _copied(data: bytearray) -> tuple[np.ndarray, np.ndarray]:
    found = np.frombuffer(bytes(data), dtype=_COPY_ROW)
    if not ((found["fields"] == 2) & (found["t_len"] == 8) & (found["v_len"] == 8)).all():
        raise RuntimeError("PostgreSQL's binary COPY rows are not (bigint, double) pairs.")
    return found["t_us"].astype("int64"), found["value"].astype("float64")


def _driver_rows(conn: Connection, query: Select[Any], rows: int) -> Iterator[list[Any]]:
    """The rows of ``query`` in lists of up to ``rows`` plain tuples from the DB-API cursor."""
    compiled = query.compile(dialect=conn.dialect)
    params = compiled.construct_params()
    arguments: Any = (
        tuple(params[name] for name in compiled.positiontup or ())
        if compiled.positional
        else params
    )
    driver = conn.connection.driver_connection
    assert driver is not None
    # psycopg: a named (server-side) cursor sends the rows as they are fetched
    named = conn.dialect.name == "postgresql"
    cursor = driver.cursor(name="edb_window") if named else driver.cursor()
    try:
        cursor.execute(str(compiled), arguments)
        while found := cursor.fetchmany(rows):
            yield found
    finally:
        cursor.close()


@dataclass(frozen=True)
class Bucket:
    start_us: int
    min_value: float
    max_value: float
    samples: int


@dataclass(frozen=True)
class Decimated:
    """A plot's worth of a time span: min and max per bucket, and where they came from."""

    width_us: int
    source: str  # "samples" or "rollup:<seconds>"
    buckets: list[Bucket]


def decimated(
    conn: Connection, mnemonic: Mnemonic, start_us: int, end_us: int, *, buckets: int
) -> Decimated:
    """Min and max of ``mnemonic`` in ``buckets`` equal buckets of [start, end].

    The coarsest stored rollup no wider than a bucket is read when there is one (a year in
    1000 buckets reads 8,760 hourly rows, not 1.3e8 samples); else the samples themselves.
    Rollups are whole buckets of their width, so with them the span is widened to whole
    rollup buckets at both ends (at most one rollup width, never more than one plot bucket).
    Buckets without samples are left out, so a gap shows as a gap.
    """
    if end_us <= start_us:
        raise BadQuery("The end of the time range must come after its start.")
    if not 1 <= buckets <= MAX_BUCKETS:
        raise BadQuery(f"Ask for 1 to {MAX_BUCKETS} buckets, not {buckets}.")
    width_us = max(1, -(-(end_us - start_us) // buckets))
    fitting = [w for w in ROLLUP_WIDTHS_S if w * 1_000_000 <= width_us]
    if fitting:
        rollup_width = fitting[-1]
        source = f"rollup:{rollup_width}"
        table = edb_rollups
        slot = (table.c.bucket_us - start_us) // width_us
        query = (
            select(
                slot.label("slot"),
                func.min(table.c.min_value),
                func.max(table.c.max_value),
                func.sum(table.c.samples),
            )
            .where(
                table.c.mnemonic_id == mnemonic.mnemonic_id,
                table.c.width_s == rollup_width,
                # rollups overlapping the span: the first may start before it (its slot,
                # truncated toward zero, is the first bucket's)
                table.c.bucket_us > start_us - rollup_width * 1_000_000,
                table.c.bucket_us <= end_us,
            )
            .group_by(slot)
            .order_by(slot)
        )
    else:
        source = "samples"
        sample_slot = (edb_samples.c.t_us - start_us) // width_us
        query = (
            select(
                sample_slot.label("slot"),
                func.min(edb_samples.c.value),
                func.max(edb_samples.c.value),
                func.count(),
            )
            .where(
                edb_samples.c.mnemonic_id == mnemonic.mnemonic_id,
                edb_samples.c.t_us >= start_us,
                edb_samples.c.t_us <= end_us,
            )
            .group_by(sample_slot)
            .order_by(sample_slot)
        )
    rows = [
        Bucket(start_us + int(slot) * width_us, low, high, int(count))
        for slot, low, high, count in conn.execute(query)
    ]
    return Decimated(width_us=width_us, source=source, buckets=rows)


def us_from_datetime(moment: datetime) -> int:
    """Microseconds since 1970 of a naive-UTC or aware ``moment``."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def parse_time(text: object, *, what: str) -> int:
    """An ISO UTC time (``2022-07-01T00:00:00``, ``2022-07-01 00:00:00.5``, ``20220701T000000``)
    or an MJD number, as microseconds since 1970."""
    raw = str(text or "").strip()
    if not raw:
        raise BadQuery(f"Give the {what} time (ISO UTC, e.g. 2022-07-01T00:00:00, or an MJD).")
    try:
        number = float(raw)
    except ValueError:
        number = None
    if number is not None:
        return us_from_mjd(number)
    for pattern in ("%Y%m%dT%H%M%S", "%Y%m%dT%H%M%S.%f"):
        try:
            return us_from_datetime(datetime.strptime(raw, pattern))
        except ValueError:
            continue
    try:
        return us_from_datetime(datetime.fromisoformat(raw.replace("Z", "+00:00")))
    except (ValueError, OverflowError):  # OverflowError: a zone pushing year 9999 past it
        raise BadQuery(
            f"The {what} time {raw!r} is not a time: give ISO UTC such as "
            "2022-07-01T00:00:00 (or 20220701T000000), or an MJD such as 59761.5."
        ) from None


def us_from_mjd(mjd: float) -> int:
    if not 0 < mjd < 200_000:
        raise BadQuery(f"MJD {mjd} is outside the years this archive can hold.")
    return round((mjd - MJD_UNIX_EPOCH) * US_PER_DAY)


def mjd_from_us(t_us: int) -> float:
    return t_us / US_PER_DAY + MJD_UNIX_EPOCH


def iso_time(t_us: int, *, sep: str = "T") -> str:
    """``2022-07-01T00:00:00.095000`` (always six decimals, as MAST's EDB writes them)."""
    return (_EPOCH + timedelta(microseconds=t_us)).isoformat(sep=sep, timespec="microseconds")
