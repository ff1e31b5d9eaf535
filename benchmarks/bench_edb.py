"""Engineering telemetry (EDB): a 3-hour window of a 4 Hz mnemonic and a one-year plot.

``python -m benchmarks.bench_edb [--samples N] [--postgres]`` prints JSON; ``run(...)``
returns it.

One archive is filled with N samples (default 10^7) of a 4 Hz mnemonic (``SA_ZATTEST1``,
29 days at 10^7) and a year of a slower one (``IMIR_HK_FPA_TEMP``, the same N spread over
365 days), through the ingest's own writer (:func:`skyarchive.ingest.edb.store_samples`, a day
per call). ``skyarchive serve`` then answers, each beside bare SQL in the same run:

* ``window``: the pipeline's CSV of 3 hours (43,200 samples plus the two bracketing ones):
  ``GET /api/v0.1/Download/file?uri=mast:jwstedb/...`` through HTTP, and the same through the
  service in process, beside ``SELECT t_us, value ... BETWEEN`` through the DB-API cursor;
* ``plot``: min/max in 1,000 buckets of one year, the portal's plot query
  (:func:`skyarchive.delivery.telemetry.telemetry_plot`, which reads the hourly rollups),
  beside the bare GROUP BY over the raw samples that it replaces.

Medians of several rounds, run in turn, so each ratio meets the same machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from benchmarks.bench_load import Served
from skyarchive.access.policy import Caller
from skyarchive.access.tokens import create_token
from skyarchive.access.users import create_user
from skyarchive.archive import Archive
from skyarchive.config import Settings
from skyarchive.delivery.telemetry import telemetry_csv, telemetry_plot
from skyarchive.ingest.edb import store_samples
from skyarchive.search.edb_store import us_from_datetime

START = datetime(2023, 1, 1)
ROUNDS = 7
DAY_US = 86_400_000_000
SIGNED_IN = Caller(user_id=1, email="bench@example.org")


def fill(archive: Archive, samples: int) -> dict[str, float]:
    """Write ``samples`` at 4 Hz and ``samples`` over a year; seconds each took."""
    rng = np.random.default_rng(3)
    start_us = us_from_datetime(START)
    took = {}
    for name, period_us in (
        ("SA_ZATTEST1", 250_000),
        ("IMIR_HK_FPA_TEMP", max(1, 365 * DAY_US // samples)),
    ):
        began = time.perf_counter()
        written = 0
        while written < samples:  # a million samples per call, as files of a day or a month
            count = min(1_000_000, samples - written)
            times = start_us + (written + np.arange(count, dtype="int64")) * period_us
            values = 0.15 + 0.02 * np.sin(times / 3.6e9) + rng.normal(0, 1e-4, count)
            with archive.engine.begin() as conn:
                store_samples(conn, name, times, values)
            written += count
        took[name] = time.perf_counter() - began
    return took


def _median_s(command: Callable[[], Any], rounds: int = ROUNDS) -> float:
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        command()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def _paired(commands: dict[str, Callable[[], Any]]) -> dict[str, float]:
    """Median seconds of each command, the commands run in turn each round."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(ROUNDS):
        for name, command in commands.items():
            began = time.perf_counter()
            command()
            times[name].append(time.perf_counter() - began)
    return {name: statistics.median(v) for name, v in times.items()}


def run(*, samples: int = 10_000_000, database_url: str | None = None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="skyarchive-edb-bench-") as tmp:
        home = Path(tmp) / "home"
        settings = (
            Settings(home=home, database_url=database_url) if database_url else Settings(home=home)
        )
        archive = Archive.open(settings)
        fill_s = fill(archive, samples)
        with archive.engine.begin() as conn:
            user = create_user(conn, email="bench@example.org", display_name="Bench",
                               password="a long enough password")  # fmt: skip
            token, _info = create_token(conn, user_id=user.user_id, name="bench", days=1,
                                        max_days=60)  # fmt: skip
        covered_days = samples // (4 * 86_400)  # of the 4 Hz mnemonic
        window_start = START + timedelta(days=covered_days // 2, hours=5)
        window_end = window_start + timedelta(hours=3)
        uri = (f"mast:jwstedb/SA_ZATTEST1-{window_start:%Y%m%dT%H%M%S}-"
               f"{window_end:%Y%m%dT%H%M%S}.csv")  # fmt: skip
        first, last = us_from_datetime(window_start), us_from_datetime(window_end)
        year_end = START + timedelta(days=365)
        raw = archive.engine.raw_connection()
        marker = "?" if archive.engine.dialect.name == "sqlite" else "%s"

        def bare_window() -> int:
            cursor = raw.cursor()
            cursor.execute(
                "SELECT t_us, value FROM edb_samples WHERE mnemonic_id = "
                f"(SELECT mnemonic_id FROM edb_mnemonics WHERE mnemonic = 'SA_ZATTEST1') "
                f"AND t_us BETWEEN {marker} AND {marker} ORDER BY t_us",
                (first, last),
            )
            return len(cursor.fetchall())

        def service_window() -> int:
            answer = telemetry_csv(archive, caller=SIGNED_IN, uri=uri)
            return sum(len(chunk) for chunk in answer.chunks)

        width = (us_from_datetime(year_end) - us_from_datetime(START)) // 1000 + 1

        def bare_plot() -> int:
            cursor = raw.cursor()
            cursor.execute(
                f"SELECT (t_us - {marker}) / {marker}, MIN(value), MAX(value), COUNT(*) "
                "FROM edb_samples WHERE mnemonic_id = (SELECT mnemonic_id FROM edb_mnemonics "
                f"WHERE mnemonic = 'IMIR_HK_FPA_TEMP') AND t_us BETWEEN {marker} AND {marker} "
                "GROUP BY 1 ORDER BY 1",
                (us_from_datetime(START), width, us_from_datetime(START),
                 us_from_datetime(year_end)),
            )  # fmt: skip
            return len(cursor.fetchall())

        def service_plot() -> int:
            _m, result = telemetry_plot(
                archive, caller=SIGNED_IN, mnemonic="IMIR_HK_FPA_TEMP",
                start=START.isoformat(), end=year_end.isoformat(), buckets=1000,
            )  # fmt: skip
            return len(result.buckets)

        rows = bare_window()
        assert rows == 3 * 3600 * 4 + 1, rows
        # rollups put each hour in the bucket where it starts: a bucket or so may differ
        assert abs(service_plot() - bare_plot()) <= 2, (service_plot(), bare_plot())
        with Served(home, database_url, 1) as served, httpx.Client(timeout=600) as client:
            headers = {"Authorization": f"token {token}"}

            def http_window() -> int:
                answer = client.get(served.url + "/api/v0.1/Download/file", params={"uri": uri},
                                    headers=headers)  # fmt: skip
                answer.raise_for_status()
                return len(answer.content)

            window = _paired(
                {"http": http_window, "service": service_window, "bare_sql": bare_window}
            )
            plot = _paired({"service": service_plot, "bare_sql_raw_samples": bare_plot})
        raw.close()
        archive.engine.dispose()
    return {
        "database": "postgresql" if database_url else "sqlite",
        "samples_per_mnemonic": samples,
        "fill_s": {k: round(v, 1) for k, v in fill_s.items()},
        "window_rows": rows + 1,
        "window_ms": {k: round(v * 1000, 1) for k, v in window.items()},
        "window_http_over_bare": round(window["http"] / window["bare_sql"], 2),
        "plot_ms": {k: round(v * 1000, 1) for k, v in plot.items()},
        "plot_bare_over_service": round(plot["bare_sql_raw_samples"] / plot["service"], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=10_000_000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    print(json.dumps(run(samples=args.samples, database_url=args.database_url), indent=2))


if __name__ == "__main__":
    main()


def render(results: list[dict[str, Any]]) -> list[str]:
    lines = [
        "## Engineering telemetry (EDB)",
        "",
        "A 3-hour window of a 4 Hz mnemonic (43,200 samples and the two bracketing ones) as the "
        "jwst pipeline fetches it, and a one-year plot of min/max in 1,000 buckets, each beside "
        "bare SQL on a DB-API cursor of the same database in the same run (medians of "
        f"{ROUNDS} rounds, the commands in turn).",
        "",
        "| database | samples per mnemonic | window: HTTP CSV ms | service ms | bare SQL ms "
        "| HTTP / bare | year plot ms | bare GROUP BY over samples ms | bare / plot |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        w, p = r["window_ms"], r["plot_ms"]
        lines.append(
            f"| {r['database']} | {r['samples_per_mnemonic']:,} | {w['http']} | {w['service']} "
            f"| {w['bare_sql']} | {r['window_http_over_bare']} | {p['service']} "
            f"| {p['bare_sql_raw_samples']} | {r['plot_bare_over_service']} |"
        )
    return lines
