"""The MAST API beside its floor: what each search costs above serving the same bytes.

Part of ``make bench`` (``python -m benchmarks.run --only floor``). For each MAST API query
astroquery sends (a 1′ cone, a criteria query, a count, a product list of about 1,000 files and
a keyword query), on the demo archive and on 10^6 synthetic observations, on SQLite and on
PostgreSQL, the real server (one worker) answers once; its answer is captured and served again
by the floor (:mod:`benchmarks.floor`: the same app, middleware and bytes with no work behind
them). Both are then measured with ``wrk``: median latency one request at a time and
throughput at 16 connections, in turn, over a few rounds; the report gives the ratios.

Targets (issue 20): throughput of each search at the demo size >= 0.5 x the floor's,
latency one at a time <= 1.5 x the floor's; at 10^6 observations the 1′ cone <= 2 ms median
on SQLite.

``python -m benchmarks.bench_floor --home DIR [--database-url URL] --size demo|million``
measures an archive built already (the demo ingested, or ``skyarchive synthesize``).
"""

from __future__ import annotations

import argparse
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, select, text

from benchmarks import bench_fileperf, bench_load
from benchmarks.bare_sql import bare_sql_ms
from benchmarks.floor import Ask, Exchange, capture, compare, same_answers, served
from benchmarks.harness import verdict
from benchmarks.in_process import COLD_BYTES, in_process_ms
from skyarchive.access.rights import now_mjd
from skyarchive.archive import Archive
from skyarchive.config import Settings
from skyarchive.db.tables import observation_products, observations
from skyarchive.demo import generate
from skyarchive.demo.synthetic_catalog import build_synthetic_catalog

CONNECTIONS = 16
THROUGHPUT_TARGET = 0.5  # service / floor, at the demo size
LATENCY_TARGET = 1.5  # service / floor, one at a time, at the demo size
MILLION_CONE_TARGET_MS = 2.0  # median, SQLite
M57 = (283.396, 33.029)
ARCMIN = 1 / 60
PRODUCT_LIST = 1_000  # files in the product list
MILLION = 1_000_000
#: Keyword files of the synthetic archive per observation: at 10^6 observations 200,000 files
#: spread over the first ones (one each), enough for keyword queries of realistic size and
#: 1,000-file product lists, built in a minute or two.
KEYWORD_FILES_PER_OBSERVATION = 0.2
KEYWORD_PAGE = 100


def _obsids_listing(conn: Any, count: int, *, where: Any = None) -> list[int]:
    """Public observations, in obsid order, whose own files add up to at least ``count``."""
    per_obs = (
        select(observation_products.c.obsid, func.count().label("n"))
        .group_by(observation_products.c.obsid)
        .subquery()
    )
    query = (
        select(per_obs.c.obsid, per_obs.c.n)
        .join(observations, observations.c.obsid == per_obs.c.obsid)
        .where(observations.c.t_obs_release <= now_mjd())
        .order_by(per_obs.c.n.desc(), per_obs.c.obsid)
    )
    if where is not None:
        query = query.where(where)
    chosen, total = [], 0
    for obsid, n in conn.execute(query.limit(5000)):
        chosen.append(int(obsid))
        total += int(n)
        if total >= count:
            break
    return chosen


def _keyword_ask(pagesize: int) -> Ask:
    filters = [{"paramName": "exp_type", "values": ["NRC_IMAGE"]}]
    return Ask.invoke("Mast.Jwst.Filtered.Nircam", {"columns": "*", "filters": filters},
                      label="keyword query, NIRCam NRC_IMAGE (Mast.Jwst.Filtered.Nircam)",
                      pagesize=pagesize)  # fmt: skip


def demo_asks(archive: Archive) -> list[Ask]:
    """The queries on the demo archive: a 1′ cone around M57 and the others over its data."""
    with archive.engine.connect() as conn:
        obsids = _obsids_listing(conn, PRODUCT_LIST)
    return _asks(
        cone=({"ra": M57[0], "dec": M57[1], "radius": ARCMIN}, "1′ around M57"),
        criteria=({"obs_collection": "JWST", "proposal_id": "1073"}, "JWST, program 1073"),
        count={"obs_collection": "JWST", "instrument_name": "NIRCAM/IMAGE"},
        obsids=obsids,
    )


def million_asks(archive: Archive) -> list[Ask]:
    """The same queries at 10^6 synthetic observations (a cone around one of them)."""
    with archive.engine.connect() as conn:
        middle = conn.execute(select(func.max(observations.c.obsid))).scalar_one() // 3
        o = observations.c
        ra, dec, proposal, instrument = conn.execute(
            select(o.s_ra, o.s_dec, o.proposal_id, o.instrument_name).where(o.obsid == middle)
        ).one()
        obsids = _obsids_listing(conn, PRODUCT_LIST)
    return _asks(
        cone=({"ra": ra + 0.2 * ARCMIN, "dec": dec, "radius": ARCMIN}, "1′"),
        criteria=(
            {"proposal_id": proposal, "instrument_name": instrument},
            "program + instrument",
        ),  # fmt: skip
        count={"obs_collection": "JWST", "instrument_name": instrument},
        obsids=obsids,
    )


def _asks(
    *, cone: tuple[dict, str], criteria: tuple[dict, str], count: dict, obsids: list[int]
) -> list[Ask]:
    """The five queries: ``criteria`` and ``count`` as {column: value} with a label."""

    def filters(chosen: dict) -> list[dict]:
        return [{"paramName": name, "values": [value]} for name, value in chosen.items()]

    counted = ", ".join(str(v) for v in count.values())
    return [
        Ask.invoke("Mast.Caom.Cone", cone[0], label=f"cone {cone[1]} (Mast.Caom.Cone)"),
        Ask.invoke(
            "Mast.Caom.Filtered",
            {"columns": "*", "filters": filters(criteria[0])},
            label=f"criteria: {criteria[1]} (Mast.Caom.Filtered)",
        ),  # fmt: skip
        Ask.invoke(
            "Mast.Caom.Filtered",
            {"columns": "COUNT_BIG(*)", "filters": filters(count)},
            label=f"count: {counted} (COUNT_BIG)",
        ),  # fmt: skip
        Ask.invoke(
            "Mast.Caom.Products",
            {"obsid": ",".join(map(str, obsids))},
            label=f"product list, {len(obsids)} obsids (Mast.Caom.Products)",
        ),  # fmt: skip
        _keyword_ask(KEYWORD_PAGE),
    ]


def measure_archive(
    home: Path, database_url: str | None, asks: list[Ask], *, seconds: float, rounds: int
) -> list[dict]:
    """Each ask on the real server beside its floor (each one process, over ``home``): the
    server computing every answer (answer cache off) and the server keeping them (on; wrk
    repeats one request, so nearly every request is a cache hit), each with ``cache`` set."""
    results = []
    archive = Archive.open(Settings(home=home, database_url=database_url, answer_cache=False),
                           migrate=False)  # fmt: skip
    try:
        bare = bare_sql_ms(archive, asks)
    finally:
        archive.engine.dispose()
        archive.search_engine.dispose()
    with served(home, database_url) as uncached, \
            served(home, database_url, answer_cache=True) as cached:  # fmt: skip
        exchanges = capture(uncached.url, asks)
        same_answers(cached.url, exchanges)  # a kept answer is the computed one, byte for byte
        in_process = _in_process(home, database_url, asks, exchanges)
        with served(home, database_url, replay=exchanges) as floor:
            for exchange in exchanges:
                for cache, real in (("off", uncached), ("on", cached)):
                    pids = (real.process.pid, floor.process.pid)
                    result = compare(real.url, floor.url, exchange, connections=CONNECTIONS,
                                     seconds=seconds, rounds=rounds, pids=pids)  # fmt: skip
                    result["rows"] = _rows(exchange.content)
                    result["cache"] = cache
                    if cache == "off":
                        result["bare_sql_ms"] = bare[exchange.ask.label]
                        result["in_process"] = in_process[exchange.ask.label]
                    print(f"  floor: {json.dumps(result)}", flush=True)
                    results.append(result)
    return results


def _in_process(
    home: Path, database_url: str | None, asks: list[Ask], exchanges: list[Exchange]
) -> dict[str, dict[str, float]]:
    """:func:`in_process_ms` of ``asks`` on an archive of its own over ``home`` (the
    servers, idle meanwhile, keep theirs)."""
    archive = Archive.open(Settings(home=home, database_url=database_url, answer_cache=False),
                           migrate=False)  # fmt: skip
    try:
        return in_process_ms(archive, asks, exchanges)
    finally:
        archive.close()


def _rows(content: bytes) -> int | None:
    answer = json.loads(content)
    return answer.get("paging", {}).get("rows") if isinstance(answer, dict) else None


def _demo_archive(work: Path, label: str, database_url: str | None) -> Archive:
    demo_dir = work / "floor-demo-output"
    if not demo_dir.exists():
        generate(demo_dir, seed=1, scale=1)
    (work / "floor").mkdir(exist_ok=True)
    return bench_load.ingested_demo(work / "floor", label, demo_dir, database_url)


def _million_archive(work: Path, label: str, database_url: str | None, size: int) -> Archive:
    home = work / f"floor-million-{label}"
    archive = Archive.open(Settings(home=home, database_url=database_url))
    build_synthetic_catalog(archive.engine, observations=size, products_per_obs=1, seed=1,
                            keyword_files=int(size * KEYWORD_FILES_PER_OBSERVATION))  # fmt: skip
    return archive


def bench_floor(
    label: str, work: Path, database_url: str | None, *, observations: int, quick: bool
) -> dict:
    """Both sizes on one database: the demo archive, then ``observations`` synthetic ones."""
    seconds, rounds = (1.0, 1) if quick else (3.0, 3)
    found: dict[str, Any] = {"database": label, "seconds": seconds, "rounds": rounds}
    for size, build, ask in (
        ("demo", lambda: _demo_archive(work, label, database_url), demo_asks),
        (f"{observations:,} observations",
         lambda: _million_archive(work, label, database_url, observations), million_asks),
    ):  # fmt: skip
        print(f"floor [{label}] {size}: building ...", flush=True)
        archive = build()
        asks = ask(archive)
        home = archive.settings.home
        archive.engine.dispose()
        found.setdefault("sizes", []).append(
            {"size": size, "queries": measure_archive(home, database_url, asks,
                                                      seconds=seconds, rounds=rounds)}
        )  # fmt: skip
        shutil.rmtree(home, ignore_errors=True)
        if database_url:  # one database for both sizes: the synthetic catalogue needs it empty
            _empty_database(database_url)
    # Download/file of a small file beside a plain FileResponse, the portal search beside its
    # captured answer (issue 20, part 3): the same demo output, an archive of its own
    print(f"floor [{label}]: Download/file and the portal search ...", flush=True)
    found["files"] = bench_fileperf.bench_fileperf(
        label, work, database_url, quick=quick, demo_dir=work / "floor-demo-output"
    )
    return found


def _empty_database(database_url: str) -> None:
    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()


def render(results: list[dict]) -> Iterator[str]:
    """The markdown section of the report."""
    yield "## The MAST API beside its floor (one worker, wrk)"
    yield ""
    yield (
        "The floor serves the bytes the real server answered, from the same app and middleware "
        "with no work behind them (benchmarks/floor.py). Latency: wrk's median with one "
        f"connection; throughput: {CONNECTIONS} connections. Ratios are service / floor, "
        "medians of each round's ratio. Targets at the demo size: throughput >= "
        f"{THROUGHPUT_TARGET}, latency <= {LATENCY_TARGET}; at 10^6 observations the 1′ cone "
        f"<= {MILLION_CONE_TARGET_MS:g} ms median on SQLite. CPU: the server process's CPU "
        f"time per request at {CONNECTIONS} connections (/proc), steadier than wall-clock "
        "figures on a machine busy with other work. Each query twice: answer cache off (every "
        "request runs the search: its real cost) and on (wrk repeats one request, so nearly "
        "all are answered from the cache: the cost of a repeated request only)."
    )
    for db in results:
        for size in db["sizes"]:
            demo = size["size"] == "demo"
            yield ""
            yield (f"### {db['database']}, {size['size']} ({db['rounds']} rounds of "
                   f"{db['seconds']:g} s)")  # fmt: skip
            yield ""
            yield ("| query | answer cache | rows | bytes | median ms | floor ms | ratio | req/s "
                   "| floor req/s | ratio | CPU ms/request (floor) | ratio | bare SQL ms "
                   "| best ratio with this SQL | met? |")  # fmt: skip
            yield "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
            for q in size["queries"]:
                real, floor = q["real"], q["floor"]
                if demo:
                    met = verdict(q["latency_ratio"] <= LATENCY_TARGET
                               and q["throughput_ratio"] >= THROUGHPUT_TARGET)  # fmt: skip
                elif q["query"].startswith("cone") and db["database"] == "sqlite":
                    met = verdict(real["p50_ms"] <= MILLION_CONE_TARGET_MS)
                else:
                    met = "report"
                yield (f"| {q['query']} | {q.get('cache', 'off')} | {q['rows']} "
                       f"| {q['bytes']:,} | {real['p50_ms']} | {floor['p50_ms']} "
                       f"| {q['latency_ratio']} | {real['req_per_s']} "
                       f"| {floor['req_per_s']} | {q['throughput_ratio']} "
                       f"| {real.get('cpu_ms', '-')} ({floor.get('cpu_ms', '-')}) "
                       f"| {q.get('cpu_ratio', '-')} | {q.get('bare_sql_ms', '-')} "
                       f"| {_best_ratio(db['database'], q)} | {met} |")  # fmt: skip
            yield from _in_process_table(size["queries"])
    yield ""
    yield (
        "Bare SQL: the statements the request ran, recorded in process and replayed on a bare "
        "DB-API connection of the same database, every row fetched, one at a time "
        "(benchmarks/bare_sql.py). Best ratio with this SQL (SQLite only, where the statements' "
        "time is the server process's own CPU): floor CPU / (floor CPU + bare SQL), the "
        "highest floor-to-service ratio of CPU per request a server issuing exactly these "
        "statements and doing nothing else could have; about the highest throughput ratio on "
        "an otherwise idle machine (a little more where the statements, which let go of the "
        "GIL, run on the other core beside the event loop). On PostgreSQL the database server "
        "does part of the work on the other core, so its bare SQL is a reference only."
    )
    files = [db["files"] for db in results if db.get("files")]
    if files:
        yield ""
        yield from bench_fileperf.render(files)


def _in_process_table(queries: list[dict]) -> Iterator[str]:
    """The uncached searches in process, warm and cold (benchmarks/in_process.py), with
    each one's own work (service less floor) and how much it grows cold."""
    measured = [q for q in queries if q.get("in_process")]
    if not measured:
        return
    yield ""
    yield (f"In process, answer cache off (the app's ASGI interface, no server; ms of CPU a "
           f"request): warm, back to back; cold, {COLD_BYTES >> 20} MiB of other memory walked "
           "between requests (benchmarks/in_process.py).")  # fmt: skip
    yield ""
    yield ("| query | warm: service (floor) | cold: service (floor) | own work warm "
           "| own work cold | cold / warm | served CPU less floor's, 16 connections |")  # fmt: skip
    yield "|---|---:|---:|---:|---:|---:|---:|"
    for q in measured:
        f = q["in_process"]
        warm = f["service_warm"] - f["floor_warm"]
        cold = f["service_cold"] - f["floor_cold"]
        real, floor = q["real"].get("cpu_ms"), q["floor"].get("cpu_ms")
        served = "-" if real is None or floor is None else f"{real - floor:.3f}"
        grown = f"{cold / warm:.2f}" if warm > 0 else "-"
        yield (f"| {q['query']} | {f['service_warm']} ({f['floor_warm']}) "
               f"| {f['service_cold']} ({f['floor_cold']}) | {warm:.3f} | {cold:.3f} "
               f"| {grown} | {served} |")  # fmt: skip


def _best_ratio(database: str, q: dict) -> str:
    """floor CPU / (floor CPU + bare SQL), on SQLite (see :func:`render`)."""
    bare, floor_cpu = q.get("bare_sql_ms"), q["floor"].get("cpu_ms")
    if database != "sqlite" or bare is None or not floor_cpu:
        return "-"
    return f"{floor_cpu / (floor_cpu + bare):.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description="One archive's MAST API beside its floor.")
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--size", choices=("demo", "million"), default="demo")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", help="just the queries whose label starts with this")
    args = parser.parse_args()
    archive = Archive.open(Settings(home=args.home, database_url=args.database_url),
                           migrate=False)  # fmt: skip
    asks = (demo_asks if args.size == "demo" else million_asks)(archive)
    if args.only:
        asks = [a for a in asks if a.label.startswith(args.only)]
    archive.engine.dispose()
    results = measure_archive(args.home, args.database_url, asks, seconds=args.seconds,
                              rounds=args.rounds)  # fmt: skip
    db = {"database": "postgresql" if args.database_url else "sqlite", "seconds": args.seconds,
          "rounds": args.rounds, "sizes": [{"size": args.size, "queries": results}]}  # fmt: skip
    print("\n".join(render([db])))


if __name__ == "__main__":
    main()
