"""The portal's results at archive scale: facet counts and a page of a 200,000-row result.

Part of ``make bench`` (``python -m benchmarks.run --only-portal``; ``--skip-portal``). A fresh
archive holds ``--observations`` synthetic observations (``skyarchive synthesize``, one
program per 2,000); the result is every observation of the first 100 programs (200,000 rows
at 10^6). Measured in the benchmark's process, each beside a bare-SQL reference of the same
run on the same database:

* facet counts (:func:`skyarchive.search.portal_search.facet_counts`, every facet, read from
  the stored counts of schema 0032) beside the same grouped from the observations' index
  (``stored=False``, the path before 0032; the two answers must be equal), the bare
  ``COUNT(*)`` of the result and a bare ``GROUP BY instrument_name``;
* the same with one facet value chosen (both counts: shown and total): an instrument, then
  each facet of :data:`TICKED` alone (its most frequent value), beside the same grouped from
  the observations (the answers must be equal), and the exclusive rows ticked at a time
  within the catalogue's observing span (15% of the result not yet public);
* one page of 50 rows sorted by exposure time with its total (``run_search`` without facets)
  beside the bare ``SELECT *`` of the same 50 rows sorted (the rows must be the same);
* the export of the whole result (the rows of ``GET /api/portal/export``, the grid's visible
  columns, read by :func:`~skyarchive.search.portal_search.matching_rows` and written as CSV by
  the export's own writer) beside the bare ``SELECT`` of the same columns of the same rows in
  obsid order, fetched whole (once each: seconds at 10^6; the row counts must agree);
* then, served by ``skyarchive serve``, the same search in Chromium from the search to the grid,
  facets and sky view drawn, beside the page's own request from httpx
  (:mod:`benchmarks.bench_portal_browser`; ``--no-browser`` leaves it out).

``python -m benchmarks.bench_portal --home DIR`` measures an archive already synthesized.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text

from benchmarks.bench_portal_browser import measure_in_chromium, render_columns
from benchmarks.harness import verdict
from skyarchive.access.rights import now_mjd
from skyarchive.api.mast.formats import table_pieces
from skyarchive.api.mast.registry import Fields, TableResult
from skyarchive.archive import Archive
from skyarchive.config import Settings
from skyarchive.db.tables import observations as observations_table
from skyarchive.demo.synthetic_catalog import FIRST_PROPOSAL, OBS_PER_PROGRAM
from skyarchive.search.columns import OBSERVATION_COLUMNS
from skyarchive.search.portal_search import (
    PortalQuery,
    base_criteria,
    facet_counts,
    facet_criteria,
    matching_rows,
    run_search,
)

TARGET_MS = 300.0
RESULT_ROWS = 200_000


def _median_ms(run: Callable[[], Any], count: int) -> tuple[float, Any]:
    run()  # warm-up
    times, answer = [], None
    for _ in range(count):
        began = time.perf_counter()
        answer = run()
        times.append((time.perf_counter() - began) * 1000)
    return round(statistics.median(times), 1), answer


def result_programs(observations: int) -> list[str]:
    """The programs whose observations are the measured result (200,000 rows at 10^6)."""
    programs = max(1, min(observations, RESULT_ROWS) // OBS_PER_PROGRAM)
    return [str(FIRST_PROPOSAL + i) for i in range(programs)]


#: The facets a person ticks on a large result, each measured alone with its most frequent value.
TICKED = ("obs_collection", "filters", "wavelength_region", "target_name", "dataRights")
#: A moment within the synthetic catalogue's observing span: 15% of the result not yet public,
#: so a ticked data right counts restricted rows (at the real time every row is public).
CATALOGUE_NOW = 61_000.0


def measure(conn: Connection, observations: int, requests: int) -> dict[str, Any]:
    """The figures of one archive (its observations already loaded)."""
    ids = result_programs(observations)
    query = PortalQuery(filters=[{"paramName": "proposal_id", "values": ids}], pagesize=50)
    criteria = base_criteria(query)
    now = now_mjd()
    listed = ", ".join(f"'{i}'" for i in ids)
    count_sql = text(f"SELECT count(*) FROM observations WHERE proposal_id IN ({listed})")
    group_sql = text(f"SELECT instrument_name, count(*) FROM observations "
                     f"WHERE proposal_id IN ({listed}) GROUP BY 1")  # fmt: skip
    rows = int(conn.execute(count_sql).scalar_one())
    facets_ms, facets = _median_ms(lambda: facet_counts(conn, criteria, None, None, now=now),
                                   requests)  # fmt: skip
    grouped_ms, grouped = _median_ms(
        lambda: facet_counts(conn, criteria, None, None, now=now, stored=False), requests
    )
    if grouped != facets:
        raise AssertionError("the stored facet counts differ from those of the observations")
    instrument = facets["instrument_name"][0]["value"]
    chosen_ms = _ticked_ms(conn, criteria, "instrument_name", instrument, now, requests)[0]
    ticked: dict[str, dict[str, Any]] = {}
    for name in TICKED:
        value = facets[name][0]["value"]
        stored_ms, grouped_ticked_ms = _ticked_ms(conn, criteria, name, value, now, requests)
        ticked[name] = {"value": value, "ms": stored_ms, "grouped_ms": grouped_ticked_ms}
    exclusive_ms = _ticked_ms(conn, criteria, "dataRights", "EXCLUSIVE_ACCESS", CATALOGUE_NOW,
                              requests)  # fmt: skip
    ticked["dataRights at the catalogue's time"] = {
        "value": "EXCLUSIVE_ACCESS", "ms": exclusive_ms[0], "grouped_ms": exclusive_ms[1]
    }  # fmt: skip
    sorted_query = PortalQuery(filters=query.filters, sort="t_exptime", descending=True,
                               pagesize=50, with_facets=False)  # fmt: skip
    page_ms, page = _median_ms(lambda: run_search(conn, sorted_query, now=now), requests)
    sorted_sql = text(f"SELECT * FROM observations WHERE proposal_id IN ({listed}) "
                      "ORDER BY t_exptime DESC NULLS LAST, obsid LIMIT 50")  # fmt: skip
    sorted_sql_ms, bare_page = _median_ms(lambda: conn.execute(sorted_sql).all(), requests)
    if [int(json.loads(row)["obsid"]) for row, _ in page.rows] != [r.obsid for r in bare_page]:
        raise AssertionError("the sorted page differs from the bare sorted SELECT's")
    count_ms, _ = _median_ms(lambda: conn.execute(count_sql).scalar_one(), requests)
    group_ms, _ = _median_ms(lambda: conn.execute(group_sql).all(), requests)
    ticked_ms = max(t["ms"] for t in ticked.values())
    export = measure_export(conn, query, listed, now)
    return {
        **export,
        "observations": observations, "result_rows": rows, "requests": requests,
        "facets_ms": facets_ms, "facets_grouped_ms": grouped_ms, "facets_chosen_ms": chosen_ms,
        "ticked": ticked, "ticked_ms": ticked_ms,
        "sorted_page_ms": page_ms, "sql_sorted_ms": sorted_sql_ms,
        "sql_count_ms": count_ms, "sql_group_ms": group_ms, "target_ms": TARGET_MS,
        "met": max(facets_ms, ticked_ms) <= TARGET_MS,
    }  # fmt: skip


def _seconds(run: Callable[[], Any]) -> tuple[float, Any]:
    began = time.perf_counter()
    answer = run()
    return round(time.perf_counter() - began, 2), answer


def measure_export(conn: Connection, query: PortalQuery, listed: str, now: float) -> dict:
    """The whole result exported as CSV (the export route's rows and writer, in process) beside
    the bare SELECT of the same columns in obsid order, once each (s)."""
    columns = [c for c in OBSERVATION_COLUMNS if c.visible]
    names = [c.name for c in columns]
    table = TableResult(fields=Fields.of(columns), rows=(),
                        total=0, page=1, pagesize=1, columns=columns)  # fmt: skip
    export_query = PortalQuery(filters=query.filters, with_facets=False)
    rows_s, count = _seconds(
        lambda: sum(1 for _ in matching_rows(conn, export_query, now=now, columns=names))
    )
    csv_s, size = _seconds(lambda: sum(
        len(piece) for piece in table_pieces(
            "csv", table, matching_rows(conn, export_query, now=now, columns=names))
    ))  # fmt: skip
    stored = [n for n in names if n in observations_table.c]
    bare_sql = text(f"SELECT {', '.join(stored)} FROM observations "
                    f"WHERE proposal_id IN ({listed}) ORDER BY obsid")  # fmt: skip
    sql_s, bare = _seconds(lambda: conn.execute(bare_sql).all())
    if len(bare) != count:
        raise AssertionError(f"the export read {count:,} rows, the bare SELECT {len(bare):,}")
    return {"export_rows_s": rows_s, "export_csv_s": csv_s, "export_csv_mb": round(size / 1e6, 1),
            "sql_export_s": sql_s, "export_columns": len(names),
            "export_stored_columns": len(stored)}  # fmt: skip


def _ticked_ms(conn: Connection, criteria: list, name: str, value: Any, now: float,
               requests: int) -> tuple[float, float]:  # fmt: skip
    """The facet counts with ``value`` of facet ``name`` ticked, from the stored rows and
    grouped from the observations (ms); the two answers must be equal."""
    narrowed = [*criteria, *facet_criteria({name: [value]})]
    stored_ms, stored = _median_ms(
        lambda: facet_counts(conn, criteria, narrowed, None, now=now), requests
    )
    grouped_ms, grouped = _median_ms(
        lambda: facet_counts(conn, criteria, narrowed, None, now=now, stored=False), requests
    )
    if stored != grouped:
        raise AssertionError(f"ticked {name}={value!r}: stored and grouped counts differ")
    return stored_ms, grouped_ms


def bench_portal(label: str, work: Path, database_url: str | None, observations: int,
                 requests: int) -> dict[str, Any]:  # fmt: skip
    """Build a synthetic archive of ``observations`` and measure it."""
    from skyarchive.demo.synthetic_catalog import build_synthetic_catalog

    home = work / f"portal-{label}"
    archive = Archive.open(Settings(home=home, database_url=database_url))
    print(f"[{label}] synthesize: {observations:,} observations ...", flush=True)
    build_synthetic_catalog(archive.engine, observations=observations, products_per_obs=0, seed=1)
    with archive.engine.connect() as conn:
        figures = measure(conn, observations, requests)
    archive.engine.dispose()
    figures["browser"] = measure_in_chromium(home, database_url, result_programs(observations),
                                             requests)  # fmt: skip
    print(f"[{label}] portal: {figures}", flush=True)
    return {"database": label, **figures}


def render(results: list[dict[str, Any]]) -> list[str]:
    lines = ["", "## Portal results at archive scale", "",
             "| database | observations | result rows | facet counts ms | the same grouped from "
             "the observations ms | with a facet chosen ms | a facet ticked, slowest ms "
             "| sorted page of 50 ms | bare sorted SELECT of 50 ms "
             "| bare COUNT(*) ms | bare GROUP BY one column ms | target | met? "
             "| searched to drawn in Chromium ms | its request (httpx) ms | drawn target |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---:"
             "|---|"]  # fmt: skip
    for r in results:
        met = verdict(r["met"])
        lines.append(
            f"| {r['database']} | {r['observations']:,} | {r['result_rows']:,} | {r['facets_ms']} "
            f"| {r.get('facets_grouped_ms', '')} | {r['facets_chosen_ms']} "
            f"| {r.get('ticked_ms', '')} | {r['sorted_page_ms']} | {r.get('sql_sorted_ms', '')} "
            f"| {r['sql_count_ms']} "
            f"| {r['sql_group_ms']} | <= {r['target_ms']:g} ms | {met} "
            + render_columns(r.get("browser"))
        )
    ticked = [r for r in results if r.get("ticked")]
    if ticked:
        lines += ["", "One facet value ticked (its most frequent value; the last at the synthetic "
                  "catalogue's time, 15% of the rows exclusive), from the stored rows against "
                  "the same grouped from the observations, ms:", "",
                  "| database | ticked | value | stored rows ms | grouped ms |",
                  "|---|---|---|---:|---:|"]  # fmt: skip
        for r in ticked:
            for name, t in r["ticked"].items():
                lines.append(f"| {r['database']} | {name} | {t['value']} | {t['ms']} "
                             f"| {t['grouped_ms']} |")  # fmt: skip
    exported = [r for r in results if r.get("export_csv_s") is not None]
    if exported:
        lines += ["", "The export of the whole result (`GET /api/portal/export`'s rows and CSV "
                  "writer, in process, once each) beside the bare SELECT of the stored columns "
                  "among them, same rows, obsid order, fetched whole:", "",
                  "| database | rows | columns (stored) | rows read s | written as CSV s "
                  "| CSV MB | bare SELECT s |", "|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
        for r in exported:
            lines.append(f"| {r['database']} | {r['result_rows']:,} | {r['export_columns']} "
                         f"({r['export_stored_columns']}) | {r['export_rows_s']} "
                         f"| {r['export_csv_s']} | {r['export_csv_mb']} "
                         f"| {r['sql_export_s']} |")  # fmt: skip
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description="Portal facet counts on an existing archive")
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--database-url")
    parser.add_argument("--requests", type=int, default=5)
    parser.add_argument("--no-browser", action="store_true", help="Leave Chromium out.")
    args = parser.parse_args()
    archive = Archive.open(Settings(home=args.home, database_url=args.database_url))
    with archive.engine.connect() as conn:
        count = int(conn.execute(text("SELECT count(*) FROM observations")).scalar_one())
        result = {"database": archive.engine.dialect.name, **measure(conn, count, args.requests)}
    archive.engine.dispose()
    if not args.no_browser:
        result["browser"] = measure_in_chromium(args.home, args.database_url,
                                                result_programs(count), args.requests)  # fmt: skip
    print(result)
    print("\n".join(render([result])))


if __name__ == "__main__":
    main()
