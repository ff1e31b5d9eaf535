"""Synthetic engineering telemetry for the demo: a few mnemonics around the demo's exposures.

The names follow the EDB scheme (``<X><Y>_<Z>``: ``S``/``I``, subsystem, telemetry name) and
the values behave like their kind (a slowly turning attitude quaternion at 4 Hz, a focal plane
temperature per minute, a filter wheel that reports only when it moves); they are not real
telemetry. Files are written as MAST's EDB service sends them (CRLF CSV ``theTime, MJD,
euvalue, sqldataType``), so the demo ingests through the same reader as downloaded files.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd  # type: ignore[import-untyped]

#: Spans of telemetry, each around a day of demo exposures (see demo/programs.py).
DEMO_SPANS = (
    (datetime(2022, 5, 11, 13, 0, 0), timedelta(hours=6)),
    (datetime(2022, 7, 4, 8, 0, 0), timedelta(hours=8)),
    (datetime(2022, 7, 26, 15, 0, 0), timedelta(hours=4)),
    (datetime(2023, 1, 14, 21, 0, 0), timedelta(hours=4)),
    (datetime(2026, 10, 20, 2, 0, 0), timedelta(hours=4)),
)


@dataclass(frozen=True)
class DemoMnemonic:
    name: str
    description: str
    unit: str
    sql_data_type: str
    period_s: float  # sampling period; on-change mnemonics are thinned afterwards


DEMO_MNEMONICS = (
    DemoMnemonic("SA_ZATTEST1", "Attitude estimate quaternion, component 1", "", "float", 0.25),
    DemoMnemonic(
        "SA_ZADUCMDX", "Fine steering mirror commanded position, X", "arcsec", "float", 1.0
    ),
    DemoMnemonic("IMIR_HK_FPA_TEMP", "MIRI focal plane array temperature", "K", "float", 60.0),
    DemoMnemonic("INIS_FWA_POS", "NIRISS filter wheel position index", "", "tinyint", 10.0),
)


def write_demo_telemetry(out_dir: Path, *, seed: int = 1) -> list[Path]:
    """Write the inventory and one sample file per mnemonic and span; return the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    inventory = out_dir / "inventory.csv"
    with inventory.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["mnemonic", "description", "unit", "sqlDataType"])
        writer.writerows((m.name, m.description, m.unit, m.sql_data_type) for m in DEMO_MNEMONICS)
    written = [inventory]
    for start, length in DEMO_SPANS:
        for mnemonic in DEMO_MNEMONICS:
            times, values = _series(mnemonic, start, length, rng)
            end = start + length
            name = f"{mnemonic.name}-{start:%Y%m%dT%H%M%S}-{end:%Y%m%dT%H%M%S}.csv"
            path = out_dir / name
            _write_mast_csv(path, times, values, mnemonic.sql_data_type)
            written.append(path)
    return written


def _series(
    mnemonic: DemoMnemonic, start: datetime, length: timedelta, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    count = int(length.total_seconds() / mnemonic.period_s)
    start_us = int((start - datetime(1970, 1, 1)).total_seconds()) * 1_000_000
    jitter = rng.integers(0, 2_000, count)  # telemetry stamps are not exactly periodic
    times = start_us + (np.arange(count) * mnemonic.period_s * 1e6).astype("int64") + jitter
    hours = np.arange(count) * mnemonic.period_s / 3600.0
    if mnemonic.name == "SA_ZATTEST1":
        values = 0.1507 + 0.02 * np.sin(hours / 3.0) + rng.normal(0, 2e-6, count)
    elif mnemonic.name == "SA_ZADUCMDX":
        values = np.round(0.004 * np.sin(hours * 2.1) + rng.normal(0, 1e-4, count), 6)
    elif mnemonic.name == "IMIR_HK_FPA_TEMP":
        values = 6.39 + 0.004 * np.sin(hours * 0.8) + rng.normal(0, 3e-4, count)
    else:  # a filter wheel: holds a position, moves now and then, reported on change
        positions = np.repeat(rng.integers(0, 12, max(1, count // 90 + 1)), 90)[:count]
        changed = np.ones(count, dtype=bool)
        changed[1:] = positions[1:] != positions[:-1]
        return times[changed], positions[changed].astype("float64")
    return times, values


def _write_mast_csv(path: Path, times: np.ndarray, values: np.ndarray, kind: str) -> None:
    stamps = np.char.replace(np.datetime_as_string(times.astype("datetime64[us]")), "T", " ")
    frame = pd.DataFrame(
        {
            "theTime": stamps,
            "MJD": times / 86_400_000_000 + 40587.0,
            "euvalue": values if kind == "float" else values.astype("int64"),
            "sqldataType": kind,
        }
    )
    frame.to_csv(path, index=False, lineterminator="\r\n")
