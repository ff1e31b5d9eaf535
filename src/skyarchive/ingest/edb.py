"""Ingest of engineering telemetry (EDB): sample files and the mnemonic inventory.

Sample files are CSV or Parquet. Their columns, by name:

* time: ``theTime`` or ``time`` (ISO UTC, as MAST's EDB writes it), else ``MJD``;
* value: ``euvalue`` or ``value``;
* mnemonic: a ``mnemonic`` column, else the file name (``SA_ZATTEST1.csv`` or MAST's own
  ``SA_ZATTEST1-20220701T000000-20220701T030000.csv``);
* ``sqldataType`` (optional): ``float``, ``int``, ``tinyint``...; else guessed from the values.

A file with ``mnemonic`` and ``description`` columns and no values is an inventory: it sets
each mnemonic's description, unit (``unit``) and type (``sqlDataType``).

A file is the truth for the span it covers: a mnemonic's stored samples between the file's
first and last time are replaced by the file's, in one transaction, so ingesting a file again
changes nothing. The min/max rollups of that span are rebuilt in the same transaction.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd  # type: ignore[import-untyped]
from sqlalchemy import Connection, Engine, Integer, delete, func, insert, literal, select, update

from skyarchive.db.tables import edb_mnemonics, edb_rollups, edb_samples
from skyarchive.errors import IngestError
from skyarchive.search.edb_store import (
    MJD_UNIX_EPOCH,
    ROLLUP_WIDTHS_S,
    SQL_DATA_TYPES,
    US_PER_DAY,
    normal_mnemonic,
)

_INSERT_CHUNK = 100_000
_MAST_NAME = re.compile(r"^(?P<mnemonic>[A-Za-z][A-Za-z0-9_]*)(-\d{8}T\d{6}-\d{8}T\d{6})?$")


@dataclass
class EdbIngestReport:
    samples: int = 0
    mnemonics: set[str] = field(default_factory=set)
    described: int = 0  # inventory rows applied

    def summary(self) -> str:
        return (
            f"{self.samples} samples of {len(self.mnemonics)} mnemonics, "
            f"{self.described} inventory entries"
        )


@dataclass(frozen=True)
class InventoryEntry:
    mnemonic: str
    description: str | None = None
    unit: str | None = None
    sql_data_type: str | None = None


def ingest_edb_files(engine: Engine, paths: Sequence[Path]) -> EdbIngestReport:
    """Ingest each of ``paths`` (CSV or Parquet samples, or an inventory), one transaction each.

    Raises
    ------
    IngestError
        A file that cannot be read or lacks the columns above (files before it stay ingested).
    """
    report = EdbIngestReport()
    for path in paths:
        frame = _read_frame(Path(path))
        columns = {c.lower(): c for c in frame.columns}
        with engine.begin() as conn:
            if "description" in columns and not {"euvalue", "value"} & set(columns):
                entries = _inventory_entries(frame, columns, path)
                describe_mnemonics(conn, entries)
                report.described += len(entries)
                continue
            for mnemonic, times, values, sql_type in _series(frame, columns, Path(path)):
                store_samples(conn, mnemonic, times, values, sql_data_type=sql_type)
                report.samples += len(times)
                report.mnemonics.add(mnemonic)
    return report


def _read_frame(path: Path) -> pd.DataFrame:
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        # round_trip: each value as Python reads its text (pandas' default parser is off by an
        # ulp for most 17-digit values, and the CSV must give back what the file said)
        return pd.read_csv(path, skipinitialspace=True, float_precision="round_trip")
    except (OSError, ValueError, ImportError) as exc:
        raise IngestError(f"{path}: cannot read it as EDB CSV or Parquet ({exc}).") from exc


def _inventory_entries(
    frame: pd.DataFrame, columns: dict[str, str], path: Path
) -> list[InventoryEntry]:
    if "mnemonic" not in columns:
        raise IngestError(f"{path}: an inventory needs a 'mnemonic' column.")

    def text(row: pd.Series, name: str) -> str | None:
        value = row[columns[name]] if name in columns else None
        return None if value is None or pd.isna(value) else str(value).strip() or None

    entries = []
    for _, row in frame.iterrows():
        sql_type = text(row, "sqldatatype")
        if sql_type is not None and sql_type.lower() not in SQL_DATA_TYPES:
            raise IngestError(f"{path}: sqlDataType {sql_type!r} is not one of {SQL_DATA_TYPES}.")
        entries.append(
            InventoryEntry(
                mnemonic=_mnemonic(row[columns["mnemonic"]], path),
                description=text(row, "description"),
                unit=text(row, "unit"),
                sql_data_type=sql_type.lower() if sql_type else None,
            )
        )
    return entries


def _mnemonic(name: object, path: Path) -> str:
    try:
        return normal_mnemonic(name)
    except ValueError as exc:
        raise IngestError(f"{path}: {exc}") from None


def _series(
    frame: pd.DataFrame, columns: dict[str, str], path: Path
) -> Iterable[tuple[str, np.ndarray, np.ndarray, str]]:
    """(mnemonic, t_us sorted, values, sql type) for each mnemonic in the file."""
    value_column = columns.get("euvalue") or columns.get("value")
    if value_column is None:
        raise IngestError(f"{path}: no 'euvalue' (or 'value') column of samples.")
    times = _times_us(frame, columns, path)
    values = pd.to_numeric(frame[value_column], errors="coerce").to_numpy(dtype="float64")
    if np.isnan(values).any():
        raise IngestError(f"{path}: some values in {value_column!r} are not numbers.")
    if "mnemonic" in columns:
        names = frame[columns["mnemonic"]].astype(str).to_numpy()
        groups = {name: names == name for name in pd.unique(names)}
    else:
        match = _MAST_NAME.match(path.stem)
        if match is None:
            raise IngestError(
                f"{path}: name the file after its mnemonic (SA_ZATTEST1.csv) or add a "
                "'mnemonic' column."
            )
        groups = {match["mnemonic"]: np.ones(len(frame), dtype=bool)}
    declared = frame[columns["sqldatatype"]] if "sqldatatype" in columns else None
    for name, chosen in groups.items():
        mnemonic = _mnemonic(name, path)
        t, v = times[chosen], values[chosen]
        if declared is not None and chosen.any():
            sql_type = str(declared[chosen].iloc[0]).strip().lower()
            if sql_type not in SQL_DATA_TYPES:
                raise IngestError(
                    f"{path}: sqldataType {sql_type!r} is not one of {SQL_DATA_TYPES}."
                )
        else:
            sql_type = "int" if np.all(v == np.round(v)) else "float"
        order = np.argsort(t, kind="stable")
        t, v = t[order], v[order]
        keep = np.ones(len(t), dtype=bool)
        keep[:-1] = t[1:] != t[:-1]  # of samples at the same time, the last one written wins
        yield mnemonic, t[keep], v[keep], sql_type


def _times_us(frame: pd.DataFrame, columns: dict[str, str], path: Path) -> np.ndarray:
    text_column = columns.get("thetime") or columns.get("time")
    if text_column is not None:
        try:
            stamps = pd.to_datetime(frame[text_column], format="ISO8601", utc=True)
        except (ValueError, TypeError) as exc:
            raise IngestError(f"{path}: column {text_column!r} holds a value that is not an "
                              f"ISO time ({exc}).") from None  # fmt: skip
        return (stamps.dt.tz_convert(None).astype("datetime64[us]").astype("int64")).to_numpy()
    if "mjd" in columns:
        mjd = pd.to_numeric(frame[columns["mjd"]], errors="coerce").to_numpy(dtype="float64")
        if np.isnan(mjd).any():
            raise IngestError(f"{path}: some MJD values are not numbers.")
        return np.round((mjd - MJD_UNIX_EPOCH) * US_PER_DAY).astype("int64")
    raise IngestError(f"{path}: no time column: give 'theTime' (ISO UTC) or 'MJD'.")


def describe_mnemonics(conn: Connection, entries: Iterable[InventoryEntry]) -> None:
    """Create or update inventory entries (fields left None keep their stored value)."""
    for entry in entries:
        mnemonic_id = ensure_mnemonic(conn, entry.mnemonic, entry.sql_data_type or "float")
        changes = {
            key: value
            for key, value in (
                ("description", entry.description),
                ("unit", entry.unit),
                ("sql_data_type", entry.sql_data_type),
            )
            if value is not None
        }
        if changes:
            conn.execute(
                update(edb_mnemonics)
                .where(edb_mnemonics.c.mnemonic_id == mnemonic_id)
                .values(**changes)
            )


def ensure_mnemonic(conn: Connection, mnemonic: str, sql_data_type: str) -> int:
    """The id of ``mnemonic``'s inventory entry, created (with no samples) when missing."""
    found = conn.execute(
        select(edb_mnemonics.c.mnemonic_id).where(edb_mnemonics.c.mnemonic == mnemonic)
    ).scalar()
    if found is not None:
        return int(found)
    result = conn.execute(
        insert(edb_mnemonics).values(
            mnemonic=mnemonic, subsystem=mnemonic.split("_", 1)[0],
            sql_data_type=sql_data_type, sample_count=0,
        )
    )  # fmt: skip
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def store_samples(
    conn: Connection,
    mnemonic: str,
    times_us: np.ndarray,
    values: np.ndarray,
    *,
    sql_data_type: str = "float",
) -> None:
    """Replace ``mnemonic``'s samples between the first and last of ``times_us`` (sorted, unique)
    with these, and rebuild the rollups of that span; the caller's transaction holds it all."""
    if len(times_us) == 0:
        return
    mnemonic_id = ensure_mnemonic(conn, mnemonic, sql_data_type)
    first, last = int(times_us[0]), int(times_us[-1])
    key = edb_samples.c.mnemonic_id == mnemonic_id
    conn.execute(delete(edb_samples).where(key, edb_samples.c.t_us.between(first, last)))
    _insert_samples(conn, mnemonic_id, times_us, values)
    rebuild_rollups(conn, mnemonic_id, first, last)
    refresh_mnemonic_facts(conn, mnemonic_id)


def refresh_mnemonic_facts(conn: Connection, mnemonic_id: int) -> None:
    """Set the inventory's sample count, first and last time from the stored samples (the
    count from the daily rollups: a few rows per day, not a count of the samples)."""
    key = edb_samples.c.mnemonic_id == mnemonic_id
    facts = conn.execute(
        select(func.min(edb_samples.c.t_us), func.max(edb_samples.c.t_us)).where(key)
    ).one()
    count = conn.execute(
        select(func.coalesce(func.sum(edb_rollups.c.samples), 0)).where(
            edb_rollups.c.mnemonic_id == mnemonic_id,
            edb_rollups.c.width_s == ROLLUP_WIDTHS_S[-1],
        )
    ).scalar()
    conn.execute(
        update(edb_mnemonics).where(edb_mnemonics.c.mnemonic_id == mnemonic_id)
        .values(first_us=facts[0], last_us=facts[1], sample_count=int(count or 0))
    )  # fmt: skip


def _insert_samples(
    conn: Connection, mnemonic_id: int, times_us: np.ndarray, values: np.ndarray
) -> None:
    """Bulk insert through the driver: COPY on PostgreSQL, executemany on SQLite."""
    raw = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        copy_sql = "COPY edb_samples (mnemonic_id, t_us, value) FROM STDIN"
        with raw.cursor() as cursor, cursor.copy(copy_sql) as copy:  # type: ignore[union-attr]
            for start in range(0, len(times_us), _INSERT_CHUNK):
                t = times_us[start : start + _INSERT_CHUNK].tolist()
                v = values[start : start + _INSERT_CHUNK].tolist()
                copy.write(
                    "".join(f"{mnemonic_id}\t{ti}\t{vi!r}\n" for ti, vi in zip(t, v, strict=True))
                )
        return
    cursor = raw.cursor()  # type: ignore[union-attr]
    try:
        for start in range(0, len(times_us), _INSERT_CHUNK):
            t = times_us[start : start + _INSERT_CHUNK].tolist()
            v = values[start : start + _INSERT_CHUNK].tolist()
            cursor.executemany(
                "INSERT INTO edb_samples (mnemonic_id, t_us, value) VALUES (?, ?, ?)",
                zip([mnemonic_id] * len(t), t, v, strict=True),
            )
    finally:
        cursor.close()


def rebuild_rollups(conn: Connection, mnemonic_id: int, first_us: int, last_us: int) -> None:
    """Recount the min/max rollups of every bucket that [first, last] touches, each width from
    the next finer one (the finest from the samples)."""
    finer: int | None = None  # width of the finer level already rebuilt
    for width in ROLLUP_WIDTHS_S:
        width_us = width * 1_000_000
        low = (first_us // width_us) * width_us
        high = (last_us // width_us) * width_us + width_us  # exclusive
        conn.execute(
            delete(edb_rollups).where(
                edb_rollups.c.mnemonic_id == mnemonic_id,
                edb_rollups.c.width_s == width,
                edb_rollups.c.bucket_us >= low,
                edb_rollups.c.bucket_us < high,
            )
        )
        if finer is None:
            bucket = (edb_samples.c.t_us // width_us) * width_us
            source = select(
                edb_samples.c.mnemonic_id, literal(width, Integer),
                bucket, func.min(edb_samples.c.value), func.max(edb_samples.c.value),
                func.count(),
            ).where(
                edb_samples.c.mnemonic_id == mnemonic_id,
                edb_samples.c.t_us >= low, edb_samples.c.t_us < high,
            ).group_by(edb_samples.c.mnemonic_id, bucket)  # fmt: skip
        else:
            bucket = (edb_rollups.c.bucket_us // width_us) * width_us
            source = select(
                edb_rollups.c.mnemonic_id, literal(width, Integer),
                bucket, func.min(edb_rollups.c.min_value), func.max(edb_rollups.c.max_value),
                func.sum(edb_rollups.c.samples),
            ).where(
                edb_rollups.c.mnemonic_id == mnemonic_id,
                edb_rollups.c.width_s == finer,
                edb_rollups.c.bucket_us >= low, edb_rollups.c.bucket_us < high,
            ).group_by(edb_rollups.c.mnemonic_id, bucket)  # fmt: skip
        conn.execute(
            insert(edb_rollups).from_select(
                ["mnemonic_id", "width_s", "bucket_us", "min_value", "max_value", "samples"],
                source,
            )
        )
        finer = width
