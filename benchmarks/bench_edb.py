"""Engineering telemetry (EDB): a 3-hour window of a 4 Hz mnemonic and a one-year plot, in the
archive's table beside the same samples in a Parquet file.

``python -m benchmarks.bench_edb [--samples N] [--database-url URL] [--keep DIR]`` prints
JSON; ``run(...)`` returns it.

One archive is filled with N samples (default 10^7; the issue's figure is 10^8) of a 4 Hz
mnemonic (``SA_ZATTEST1``, 289 days at 10^8) by bulk SQL, a day per statement (a recursive CTE
on SQLite, ``generate_series`` on PostgreSQL: the database makes the rows, no Python per
sample), each day's rollups rebuilt by the ingest's own :func:`rebuild_rollups`. The same
series goes to a Parquet file (pyarrow, one row group per day, sorted by time, so the row
groups' min/max statistics prune a time filter). ``skyarchive serve`` then answers, each
beside bare SQL in the same run:

* ``window``: the pipeline's CSV of 3 hours (43,200 samples plus the two bracketing ones):
  ``GET /api/v0.1/Download/file?uri=mast:jwstedb/...`` through HTTP, and the same through the
  service in process, beside ``SELECT t_us, value ... BETWEEN`` through the DB-API cursor, and
  beside the same window read from the Parquet file with a pushed-down filter;
* ``plot``: min/max in 1,000 buckets of one year, the portal's plot query
  (:func:`skyarchive.delivery.telemetry.telemetry_plot`, which reads the hourly rollups),
  beside the bare GROUP BY over the raw samples that it replaces and the same buckets computed
  by scanning the Parquet file.

Medians of several rounds, run in turn, so each ratio meets the same machine; a reference
that takes longer than ``SLOW_S`` runs once (a GROUP BY over 10^8 rows takes minutes).
``--keep DIR`` keeps the filled SQLite archive (and PostgreSQL database) for the next run of
the same N, so a change to the read path is measured without filling again.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]
from sqlalchemy import create_engine, text

from benchmarks.bench_load import Served
from skyarchive.access.policy import Caller
from skyarchive.access.tokens import create_token
from skyarchive.access.users import create_user
from skyarchive.archive import Archive
from skyarchive.config import Settings
from skyarchive.delivery.telemetry import telemetry_csv, telemetry_plot
from skyarchive.ingest.edb import ensure_mnemonic, rebuild_rollups, refresh_mnemonic_facts
from skyarchive.search.edb_store import us_from_datetime

START = datetime(2023, 1, 1)
ROUNDS = 7
SLOW_S = 5.0
DAY_US = 86_400_000_000
PERIOD_US = 250_000  # 4 Hz
PER_DAY = DAY_US // PERIOD_US
MNEMONIC = "SA_ZATTEST1"
SIGNED_IN = Caller(user_id=1, email="bench@example.org")

# A day of samples per statement, made by the database: a slow sine and noise, as an attitude
# mnemonic looks (values of 17 significant digits, as real telemetry's CSV carries).
_FILL_SQL = {
    "sqlite": (
        "WITH RECURSIVE n(i) AS (SELECT :first UNION ALL SELECT i + 1 FROM n WHERE i < :last) "
        "INSERT INTO edb_samples (mnemonic_id, t_us, value) "
        "SELECT :mnemonic_id, :start_us + i * :period_us, "
        "0.15 + 0.02 * sin(i / 14400.0) + (random() % 100000) * 1e-9 FROM n"
    ),
    "postgresql": (
        "INSERT INTO edb_samples (mnemonic_id, t_us, value) "
        "SELECT :mnemonic_id, CAST(:start_us AS bigint) + i * CAST(:period_us AS bigint), "
        "0.15 + 0.02 * sin(i / 14400.0) + (random() - 0.5) * 2e-4 "
        "FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) AS i"
    ),
}


def fill(archive: Archive, samples: int) -> float:
    """Write ``samples`` of the 4 Hz mnemonic, a day per transaction; the seconds it took."""
    start_us = us_from_datetime(START)
    began = time.perf_counter()
    dialect = archive.engine.dialect.name
    with archive.engine.begin() as conn:
        mnemonic_id = ensure_mnemonic(conn, MNEMONIC, "float")
    for first in range(0, samples, PER_DAY):
        last = min(first + PER_DAY, samples) - 1
        with archive.engine.begin() as conn:
            conn.execute(
                text(_FILL_SQL[dialect]),
                {"first": first, "last": last, "mnemonic_id": mnemonic_id,
                 "start_us": start_us, "period_us": PERIOD_US},
            )  # fmt: skip
            rebuild_rollups(
                conn, mnemonic_id, start_us + first * PERIOD_US, start_us + last * PERIOD_US
            )
    with archive.engine.begin() as conn:
        refresh_mnemonic_facts(conn, mnemonic_id)
    if dialect == "postgresql":  # fresh statistics and visibility map, as autovacuum leaves them
        with archive.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE edb_samples"))
            conn.execute(text("VACUUM ANALYZE edb_rollups"))
    return time.perf_counter() - began


def write_parquet(path: Path, samples: int) -> float:
    """The same series in one Parquet file, a row group per day; the seconds it took."""
    start_us = us_from_datetime(START)
    rng = np.random.default_rng(3)
    schema = pa.schema([("t_us", pa.int64()), ("value", pa.float64())])
    began = time.perf_counter()
    with pq.ParquetWriter(
        path, schema, compression="zstd", use_dictionary=False,
        column_encoding={"t_us": "DELTA_BINARY_PACKED", "value": "BYTE_STREAM_SPLIT"},
    ) as writer:  # fmt: skip
        for first in range(0, samples, PER_DAY):
            i = np.arange(first, min(first + PER_DAY, samples), dtype="int64")
            values = 0.15 + 0.02 * np.sin(i / 14400.0) + rng.uniform(-1e-4, 1e-4, len(i))
            writer.write_table(
                pa.table({"t_us": start_us + i * PERIOD_US, "value": values}, schema=schema),
                row_group_size=PER_DAY,
            )
    return time.perf_counter() - began


def parquet_window(path: Path, first_us: int, last_us: int) -> int:
    """The samples of [first, last]: row groups outside are skipped by their statistics."""
    table = pq.read_table(
        path, columns=["t_us", "value"],
        filters=[("t_us", ">=", first_us), ("t_us", "<=", last_us)],
    )  # fmt: skip
    return table.num_rows


def parquet_plot(path: Path, start_us: int, end_us: int, width_us: int) -> int:
    """Min/max per bucket of [start, end] by scanning the file a row group at a time."""
    lows: dict[int, float] = {}
    highs: dict[int, float] = {}
    file = pq.ParquetFile(path)
    for group in range(file.num_row_groups):
        batch = file.read_row_group(group, columns=["t_us", "value"])
        t = batch.column("t_us").to_numpy()
        v = batch.column("value").to_numpy()
        keep = (t >= start_us) & (t <= end_us)
        t, v = t[keep], v[keep]
        if not len(t):
            continue
        slots = (t - start_us) // width_us  # sorted: the file is in time order
        edges = np.flatnonzero(np.diff(slots)) + 1
        starts = np.concatenate(([0], edges))
        for slot, low, high in zip(
            slots[starts].tolist(),
            np.minimum.reduceat(v, starts).tolist(),
            np.maximum.reduceat(v, starts).tolist(),
            strict=True,
        ):
            lows[slot] = min(low, lows.get(slot, low))
            highs[slot] = max(high, highs.get(slot, high))
    return len(lows)


def _paired(commands: dict[str, Callable[[], Any]]) -> tuple[dict[str, float], dict[str, int]]:
    """Median seconds of each command, the commands run in turn each round; a command slower
    than ``SLOW_S`` the first time is not run again. Also the rounds each command ran."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    for round_ in range(ROUNDS):
        for name, command in commands.items():
            if round_ and times[name][0] > SLOW_S:
                continue
            began = time.perf_counter()
            command()
            times[name].append(time.perf_counter() - began)
    return (
        {name: statistics.median(v) for name, v in times.items()},
        {name: len(v) for name, v in times.items()},
    )


@contextmanager
def _archive_home(
    samples: int, database_url: str | None, keep: Path | None
) -> Iterator[tuple[Path, str | None, bool]]:
    """(home, database URL, already filled): a temporary archive, or one kept in ``keep`` for
    the next run of the same N (its PostgreSQL database named after N)."""
    if keep is None:
        with tempfile.TemporaryDirectory(prefix="skyarchive-edb-bench-") as tmp:
            yield Path(tmp) / "home", database_url, False
        return
    kind = "postgresql" if database_url else "sqlite"
    home = keep / f"{kind}-{samples}"
    url = database_url
    if database_url:  # a database of our own beside the scratch one, kept between runs
        name = f"skyarchive_edb_bench_{samples}"
        admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            exists = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
            ).first()
            if not exists or not (home / "filled").exists():
                shutil.rmtree(home, ignore_errors=True)
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        url = database_url.rsplit("/", 1)[0] + "/" + name
    elif not (home / "filled").exists():
        shutil.rmtree(home, ignore_errors=True)
    yield home, url, (home / "filled").exists()


def run(
    *, samples: int = 10_000_000, database_url: str | None = None, keep: Path | None = None
) -> dict[str, Any]:
    with _archive_home(samples, database_url, keep) as (home, url, filled):
        settings = Settings(home=home, database_url=url) if url else Settings(home=home)
        archive = Archive.open(settings)
        parquet = home / "telemetry" / f"{MNEMONIC}.parquet"
        if filled:
            fill_s = json.loads((home / "filled").read_text())
        else:
            parquet.parent.mkdir(parents=True, exist_ok=True)
            fill_s = {
                "database": fill(archive, samples),
                "parquet": write_parquet(parquet, samples),
            }
            (home / "filled").write_text(json.dumps(fill_s))
        with archive.engine.begin() as conn:
            user = create_user(conn, email=f"bench{time.time_ns()}@example.org",
                               display_name="Bench", password="a long enough password")  # fmt: skip
            token, _info = create_token(conn, user_id=user.user_id, name="bench", days=1,
                                        max_days=60)  # fmt: skip
            stored_bytes = _stored_bytes(conn, archive)
        covered_days = samples // PER_DAY
        window_start = START + timedelta(days=covered_days // 2, hours=5)
        window_end = window_start + timedelta(hours=3)
        uri = (f"mast:jwstedb/{MNEMONIC}-{window_start:%Y%m%dT%H%M%S}-"
               f"{window_end:%Y%m%dT%H%M%S}.csv")  # fmt: skip
        first, last = us_from_datetime(window_start), us_from_datetime(window_end)
        year_start, year_end = us_from_datetime(START), us_from_datetime(START + timedelta(365))
        width = (year_end - year_start) // 1000 + 1
        raw = archive.engine.raw_connection()
        marker = "?" if archive.engine.dialect.name == "sqlite" else "%s"

        def bare_window() -> int:
            cursor = raw.cursor()
            cursor.execute(
                "SELECT t_us, value FROM edb_samples WHERE mnemonic_id = "
                f"(SELECT mnemonic_id FROM edb_mnemonics WHERE mnemonic = '{MNEMONIC}') "
                f"AND t_us BETWEEN {marker} AND {marker} ORDER BY t_us",
                (first, last),
            )
            return len(cursor.fetchall())

        def service_window() -> int:
            answer = telemetry_csv(archive, caller=SIGNED_IN, uri=uri)
            return sum(len(chunk) for chunk in answer.chunks)

        def bare_plot() -> int:
            cursor = raw.cursor()
            cursor.execute(
                f"SELECT (t_us - {marker}) / {marker}, MIN(value), MAX(value), COUNT(*) "
                "FROM edb_samples WHERE mnemonic_id = (SELECT mnemonic_id FROM edb_mnemonics "
                f"WHERE mnemonic = '{MNEMONIC}') AND t_us BETWEEN {marker} AND {marker} "
                "GROUP BY 1 ORDER BY 1",
                (year_start, width, year_start, year_end),
            )  # fmt: skip
            return len(cursor.fetchall())

        def service_plot() -> int:
            _m, result = telemetry_plot(
                archive, caller=SIGNED_IN, mnemonic=MNEMONIC,
                start=START.isoformat(), end=(START + timedelta(365)).isoformat(), buckets=1000,
            )  # fmt: skip
            return len(result.buckets)

        rows = bare_window()
        assert rows == 3 * 3600 * 4 + 1, rows
        assert parquet_window(parquet, first, last) == rows
        plotted = service_plot()
        # rollups put each hour in the bucket where it starts: a bucket or so may differ
        assert abs(plotted - parquet_plot(parquet, year_start, year_end, width)) <= 2
        with Served(home, url, 1) as served, httpx.Client(timeout=600) as client:
            headers = {"Authorization": f"token {token}"}

            def http_window() -> int:
                answer = client.get(served.url + "/api/v0.1/Download/file", params={"uri": uri},
                                    headers=headers)  # fmt: skip
                answer.raise_for_status()
                return len(answer.content)

            csv_bytes = http_window()
            window, _ = _paired(
                {
                    "http": http_window,
                    "service": service_window,
                    "bare_sql": bare_window,
                    "parquet": lambda: parquet_window(parquet, first, last),
                }
            )
            plot, plot_rounds = _paired(
                {
                    "service": service_plot,
                    "bare_sql_raw_samples": bare_plot,
                    "parquet_scan": lambda: parquet_plot(parquet, year_start, year_end, width),
                }
            )
        raw.close()
        archive.engine.dispose()
        parquet_bytes = parquet.stat().st_size
    return {
        "database": "postgresql" if database_url else "sqlite",
        "samples_per_mnemonic": samples,
        "fill_s": {k: round(v, 1) for k, v in fill_s.items()},
        "stored_mb": {"database": round(stored_bytes / 1e6), "parquet": round(parquet_bytes / 1e6)},
        "window_rows": rows + 1,
        "window_csv_bytes": csv_bytes,
        "window_ms": {k: round(v * 1000, 1) for k, v in window.items()},
        "window_http_over_bare": round(window["http"] / window["bare_sql"], 2),
        "window_parquet_over_bare": round(window["parquet"] / window["bare_sql"], 2),
        "plot_buckets": plotted,
        "plot_ms": {k: round(v * 1000, 1) for k, v in plot.items()},
        "plot_rounds": plot_rounds,
        "plot_bare_over_service": round(plot["bare_sql_raw_samples"] / plot["service"], 1),
        "plot_parquet_over_service": round(plot["parquet_scan"] / plot["service"], 1),
    }


def _stored_bytes(conn: Any, archive: Archive) -> int:
    """Bytes the samples and rollups take: the SQLite file, or the two PostgreSQL tables."""
    if archive.engine.dialect.name == "postgresql":
        return int(conn.execute(text(
            "SELECT pg_total_relation_size('edb_samples') + pg_total_relation_size('edb_rollups')"
        )).scalar())  # fmt: skip
    database = archive.engine.url.database
    return Path(database).stat().st_size if database else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=10_000_000)
    parser.add_argument("--database-url")
    parser.add_argument("--keep", type=Path, help="keep the filled archives here for next time")
    args = parser.parse_args()
    result = run(samples=args.samples, database_url=args.database_url, keep=args.keep)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()


def render(results: list[dict[str, Any]]) -> list[str]:
    lines = [
        "## Engineering telemetry (EDB)",
        "",
        "A 3-hour window of a 4 Hz mnemonic (43,200 samples and the two bracketing ones) as the "
        "jwst pipeline fetches it, and a one-year plot of min/max in 1,000 buckets, each beside "
        "bare SQL on a DB-API cursor of the same database and beside the same samples in a "
        f"Parquet file, in the same run (medians of up to {ROUNDS} rounds, the commands in turn; "
        f"a command over {SLOW_S:.0f} s runs once).",
        "",
        "| database | samples | fill s (db / Parquet) | MB (db / Parquet) | window: HTTP CSV ms "
        "| service ms | bare SQL ms | Parquet ms | HTTP / bare | year plot ms "
        "| bare GROUP BY ms | Parquet scan ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        w, p, f, mb = r["window_ms"], r["plot_ms"], r["fill_s"], r["stored_mb"]
        lines.append(
            f"| {r['database']} | {r['samples_per_mnemonic']:,} | {f['database']} / "
            f"{f['parquet']} | {mb['database']:,} / {mb['parquet']:,} | {w['http']} "
            f"| {w['service']} | {w['bare_sql']} | {w['parquet']} "
            f"| {r['window_http_over_bare']} | {p['service']} | {p['bare_sql_raw_samples']} "
            f"| {p['parquet_scan']} |"
        )
    return lines
