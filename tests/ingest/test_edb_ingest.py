"""EDB ingest on SQLite and PostgreSQL: MAST-format CSV, Parquet, inventories, re-ingest, and
the min/max rollups checked against numpy over the same samples."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from skyarchive.archive import Archive
from skyarchive.errors import IngestError, NotFound
from skyarchive.ingest.edb import ingest_edb_files
from skyarchive.search.edb_store import (
    decimated,
    find_mnemonic,
    list_mnemonics,
    us_from_datetime,
    window_blocks,
    window_samples,
)

START = datetime(2022, 7, 1, 0, 0, 0)


def _mast_csv(path: Path, times: list[datetime], values: list[float], kind: str) -> Path:
    """A file as MAST's EDB service writes it, built with the standard library only."""
    lines = ["theTime,MJD,euvalue,sqldataType"]
    for moment, value in zip(times, values, strict=True):
        mjd = (moment - datetime(1858, 11, 17)).total_seconds() / 86400
        lines.append(f"{moment:%Y-%m-%d %H:%M:%S.%f},{mjd:.10f},{value!r},{kind}")
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode())
    return path


def _four_hz(count: int, *, start: datetime = START) -> list[datetime]:
    return [start + timedelta(microseconds=250_000 * i + 95_000) for i in range(count)]


def test_mast_csv_window_has_one_bracketing_sample_each_side(archive: Archive, tmp_path: Path):
    times = _four_hz(40)
    values = [0.15 + i / 1000 + 1e-17 * i for i in range(40)]  # 17 significant digits
    path = _mast_csv(tmp_path / "SA_ZATTEST1-20220701T000000-20220701T000010.csv", times,
                     values, "float")  # fmt: skip
    report = ingest_edb_files(archive.engine, [path])
    assert report.samples == 40 and report.mnemonics == {"SA_ZATTEST1"}
    start, end = us_from_datetime(times[10]), us_from_datetime(times[19])
    with archive.engine.connect() as conn:
        mnemonic = find_mnemonic(conn, "sa_zattest1")
        got = list(window_samples(conn, mnemonic, start, end))
        inside = list(window_samples(conn, mnemonic, start, end, bracket=False))
    assert [t for t, _ in got] == [us_from_datetime(t) for t in times[9:21]]
    assert [v for _, v in got] == values[9:21]  # exactly the file's values
    assert inside == got[1:-1]
    assert mnemonic.sample_count == 40 and mnemonic.sql_data_type == "float"
    assert mnemonic.first_us == us_from_datetime(times[0])


def test_windows_read_in_small_blocks_lose_and_repeat_nothing(archive: Archive, tmp_path: Path):
    """Blocks of 7 samples: on PostgreSQL the binary COPY stream is cut into rows across
    the chunks it arrives in; on SQLite the cursor is fetched 7 rows at a time."""
    times = _four_hz(100)
    values = [0.15 + i / 1000 + 1e-17 * i for i in range(100)]
    path = _mast_csv(tmp_path / "SA_ZATTEST1.csv", times, values, "float")
    ingest_edb_files(archive.engine, [path])
    start, end = us_from_datetime(times[3]), us_from_datetime(times[96])
    with archive.engine.connect() as conn:
        mnemonic = find_mnemonic(conn, "SA_ZATTEST1")
        blocks = list(window_blocks(conn, mnemonic, start, end, rows=7))
    assert max(len(t) for t, _ in blocks) == 7
    assert np.concatenate([t for t, _ in blocks]).tolist() == [
        us_from_datetime(t) for t in times[2:98]
    ]
    assert np.concatenate([v for _, v in blocks]).tolist() == values[2:98]


def test_ingesting_again_or_an_overlap_replaces_the_span(archive: Archive, tmp_path: Path):
    times = _four_hz(100)
    first = _mast_csv(tmp_path / "INIS_FWA_POS.csv", times, [1.0] * 100, "tinyint")
    ingest_edb_files(archive.engine, [first, first])
    overlap = _mast_csv(tmp_path / "INIS_FWA_POS-20220701T000005-20220701T000010.csv",
                        times[20:40], [7.0] * 20, "tinyint")  # fmt: skip
    ingest_edb_files(archive.engine, [overlap])
    with archive.engine.connect() as conn:
        mnemonic = find_mnemonic(conn, "INIS_FWA_POS")
        values = [v for _, v in window_samples(conn, mnemonic, 0, 2**62, bracket=False)]
    assert values == [1.0] * 20 + [7.0] * 20 + [1.0] * 60
    assert mnemonic.sample_count == 100 and mnemonic.is_integer


def test_rollups_agree_with_numpy_over_the_samples(archive: Archive, tmp_path: Path):
    rng = np.random.default_rng(5)
    seconds = np.sort(rng.uniform(0, 3 * 86400, 20_000))
    t_us = (us_from_datetime(START) + seconds * 1e6).astype("int64")
    values = rng.normal(6.4, 0.01, len(t_us))
    path = tmp_path / "temps.parquet"
    pd.DataFrame(
        {"mnemonic": "IMIR_HK_FPA_TEMP", "time": pd.to_datetime(t_us, unit="us"), "value": values}
    ).to_parquet(path)
    ingest_edb_files(archive.engine, [path])
    hour = 3_600_000_000
    aligned = us_from_datetime(START)  # a whole hour
    with archive.engine.connect() as conn:
        mnemonic = find_mnemonic(conn, "IMIR_HK_FPA_TEMP")
        hourly = decimated(conn, mnemonic, aligned, aligned + 48 * hour, buckets=48)
        fine = decimated(conn, mnemonic, aligned + 123, aligned + hour, buckets=100)
        shifted = decimated(conn, mnemonic, aligned + hour // 2, aligned + 30 * hour, buckets=10)
    assert (hourly.source, fine.source, shifted.source) == ("rollup:3600", "samples", "rollup:3600")
    for result in (hourly, fine):
        assert result.buckets
        for bucket in result.buckets:
            chosen = (t_us >= bucket.start_us) & (t_us < bucket.start_us + result.width_us)
            assert bucket.samples == chosen.sum()
            assert bucket.min_value == values[chosen].min()
            assert bucket.max_value == values[chosen].max()
    # an unaligned span is widened to whole hours at both ends
    widened = (t_us >= aligned) & (t_us < aligned + 30 * hour + hour)
    assert sum(b.samples for b in shifted.buckets) == widened.sum()
    assert min(b.min_value for b in shifted.buckets) == values[widened].min()


def test_inventory_sets_descriptions_and_units(archive: Archive, tmp_path: Path):
    inventory = tmp_path / "inventory.csv"
    inventory.write_text(
        'mnemonic,description,unit,sqlDataType\nsa_zadducmdx,"FSM commanded, X",arcsec,float\n'
    )
    ingest_edb_files(archive.engine, [inventory])
    with archive.engine.connect() as conn:
        (found,) = list_mnemonics(conn, text="fsm")
        assert list_mnemonics(conn, text="SA_Z") == [found]
        assert list_mnemonics(conn, text="nothing like it") == []
    assert (found.mnemonic, found.description, found.unit) == (
        "SA_ZADDUCMDX", "FSM commanded, X", "arcsec",
    )  # fmt: skip
    assert found.sample_count == 0


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("SA_X.csv", "theTime,euvalue\n2022-07-01 00:00:00,abc\n", "not numbers"),
        ("SA_X.csv", "theTime,reading\n2022-07-01 00:00:00,1\n", "euvalue"),
        ("SA_X.csv", "when,euvalue\nyesterday,1\n", "time column"),
        ("SA_X.csv", "theTime,euvalue\nyesterday,1\n", "ISO time"),
        ("bad-name!.csv", "theTime,euvalue\n2022-07-01 00:00:00,1\n", "mnemonic"),
    ],
)
def test_bad_files_are_refused_with_the_reason(
    archive: Archive, tmp_path: Path, name: str, text: str, message: str
):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(IngestError, match=message):
        ingest_edb_files(archive.engine, [path])
    with archive.engine.connect() as conn, pytest.raises(NotFound):
        find_mnemonic(conn, "SA_X")
