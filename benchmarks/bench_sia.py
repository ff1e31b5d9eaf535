"""SIAv2 ``POS=CIRCLE`` beside the MAST API's cone, over the same synthetic catalogue.

Both answer "what lies within 1 arcmin of here" from the footprint cell index with the exact
test; SIAv2 goes through the ADQL translator and writes ObsCore rows as a BINARY2 VOTable,
the MAST cone writes JSON. Each position is asked of both, in turn, on one server process;
the bare-SQL reference is the cells pre-selection of the same cone on a DBAPI cursor (what the
latency section uses for its cone).
"""

from __future__ import annotations

import io
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from astropy.io.votable import parse_single_table

from skyarchive.archive import Archive
from skyarchive.config import Settings
from skyarchive.demo.synthetic_catalog import build_synthetic_catalog
from skyarchive.vo.identifiers import SIA_PATH

RADIUS_DEG = 1 / 60


def _timed_get(client: httpx.Client, path: str, params: dict[str, Any]) -> tuple[float, bytes]:
    began = time.perf_counter()
    response = client.get(path, params=params)
    content = response.content
    elapsed = (time.perf_counter() - began) * 1000
    response.raise_for_status()
    return elapsed, content


def _summary(values: list[float]) -> dict[str, float]:
    return {"median_ms": round(statistics.median(values), 2),
            "p95_ms": round(float(np.percentile(values, 95)), 2)}  # fmt: skip


def bench_sia(label: str, work: Path, database_url: str | None, observations: int,
              requests: int) -> dict[str, Any]:  # fmt: skip
    """Median and p95 of SIAv2 POS and of Mast.Caom.Cone at the same positions, and the bare
    SQL of the cone's cell pre-selection."""
    from benchmarks.run import (
        BareSql,
        ServerProcess,
        _cone_sql,
        _invoke,
        _rows_of,
        cone_positions,
    )

    home = work / f"sia-{label}"
    archive = Archive.open(Settings(home=home, database_url=database_url))
    print(f"[{label}] sia: building {observations:,} observations ...", flush=True)
    summary = build_synthetic_catalog(archive.engine, observations=observations,
                                      products_per_obs=4, seed=1)  # fmt: skip
    archive.engine.dispose()
    bare = BareSql(database_url, home)
    positions = [(ra % 360, dec) for ra, dec in
                 cone_positions(bare, summary, requests, np.random.default_rng(3))]  # fmt: skip
    sia: list[float] = []
    mast: list[float] = []
    sql: list[float] = []
    sia_rows: list[int] = []
    mast_rows: list[int] = []
    with (
        ServerProcess(home, database_url) as server,
        httpx.Client(base_url=server.url, timeout=300) as client,
    ):
        for warm, (ra, dec) in enumerate(positions[:3] + positions):
            position = f"CIRCLE {ra} {dec} {RADIUS_DEG}"
            sia_ms, votable = _timed_get(client, SIA_PATH, {"POS": position})
            cone = {"ra": ra, "dec": dec, "radius": RADIUS_DEG}
            body = {"service": "Mast.Caom.Cone", "params": cone, "format": "json",
                    "pagesize": 50000, "page": 1}  # fmt: skip
            mast_ms, answer = _invoke(client, body)
            if warm < 3:
                continue
            sia.append(sia_ms)
            mast.append(mast_ms)
            sql.append(bare.time(*_cone_sql(ra, dec, RADIUS_DEG))[0])
            sia_rows.append(len(parse_single_table(io.BytesIO(votable)).array))
            mast_rows.append(_rows_of(answer))
    bare.engine.dispose()
    shutil.rmtree(home, ignore_errors=True)
    result: dict[str, Any] = {
        "database": label, "observations": summary.observations, "requests": len(positions),
        "sia": {**_summary(sia), "rows": round(float(np.mean(sia_rows)), 1)},
        "mast_cone": {**_summary(mast), "rows": round(float(np.mean(mast_rows)), 1)},
        "bare_sql_median_ms": round(statistics.median(sql), 2),
    }  # fmt: skip
    sia_ms = result["sia"]["median_ms"]
    result["sia_over_mast"] = round(sia_ms / result["mast_cone"]["median_ms"], 2)
    result["sia_over_sql"] = round(sia_ms / result["bare_sql_median_ms"], 2)
    print(f"[{label}] sia: {result}", flush=True)
    return result


def render(results: list[dict[str, Any]]) -> list[str]:
    lines = [
        "",
        "## SIAv2 POS beside the MAST API cone (1 arcmin)",
        "",
        "| database | observations | requests | SIAv2 median ms | p95 | rows | Mast.Caom.Cone "
        "median ms | p95 | rows | bare SQL median ms | SIAv2 / cone | SIAv2 / SQL |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        s, m = r["sia"], r["mast_cone"]
        lines.append(
            f"| {r['database']} | {r['observations']:,} | {r['requests']} | {s['median_ms']} "
            f"| {s['p95_ms']} | {s['rows']} | {m['median_ms']} | {m['p95_ms']} | {m['rows']} "
            f"| {r['bare_sql_median_ms']} | {r['sia_over_mast']} | {r['sia_over_sql']} |"
        )
    lines += [
        "",
        "SIAv2 rows are ObsCore rows (one per product level), the cone's are observations; "
        "the SQL reference is the cone's cell pre-selection alone.",
    ]
    return lines
