"""The VO face's cone: ADQL over TAP sync beside the MAST API's cone and beside q3c.

At ``observations`` synthetic observations (three science files each: level-1 ``uncal``,
level-2 ``rate`` and ``cal``, so two ObsCore rows per observation), for the same 1-arcmin
cones around random observations:

* **ADQL cone (TAP sync)**: ``SELECT * FROM ivoa.obscore WHERE CONTAINS(POINT('ICRS', s_ra,
  s_dec), CIRCLE('ICRS', ra, dec, r)) = 1`` over HTTP (the server in its own process, BINARY2
  VOTable), against **the MAST API cone** (``Mast.Caom.Cone``, JSON) in the same run: target
  within 2x.
* **Translated SQL**: the statement the translator makes of that query, run on the database
  alone, against **q3c** (PostgreSQL: ``q3c_radial_query`` on a ``q3c_ang2ipix`` index of the
  same observations, the same ObsCore rows and columns selected): target below it. Three ways,
  each beside q3c in the same round: through SQLAlchemy (compiled cache included), as text on
  a DBAPI cursor, and the database's own planning + execution time (``EXPLAIN ANALYZE``). The
  first cone's plans of both are printed; a q3c plan without its index stops the run (a
  reference that scans is wrong, not slow).
* **VIEW**: the same rows as a database VIEW of the ObsCore select, queried with the same
  cone, beside the inlined subquery (why ObsCore is not a VIEW: docs/vo.md).

SIAv2 POS queries and the Simple Cone Search join this section (``extra_queries`` hook).
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from sqlalchemy import column, func, select, table, text

from benchmarks.harness import ServerProcess
from skyarchive.access.rights import now_mjd
from skyarchive.archive import Archive
from skyarchive.config import Settings
from skyarchive.demo.synthetic_catalog import build_synthetic_catalog
from skyarchive.vo import adql_geometry as geo
from skyarchive.vo.adql_sql import translate
from skyarchive.vo.identifiers import CONE_PATH, SIA_PATH
from skyarchive.vo.obscore import COLUMNS, OBSCORE, OBSID
from skyarchive.vo.tap_columns import QueryContext
from skyarchive.vo.tap_schema import all_tables

RADIUS_DEG = 1 / 60


def _sia_pos(ra: float, dec: float) -> tuple[str, dict[str, Any]]:
    """The same cone as a SIAv2 query (``vo/sia.py``): ObsCore rows whose footprint it meets."""
    return SIA_PATH, {"POS": f"CIRCLE {ra!r} {dec!r} {RADIUS_DEG!r}"}


def _scs_cone(ra: float, dec: float) -> tuple[str, dict[str, Any]]:
    """The same cone as a Simple Cone Search (``vo/scs.py``): observations, VERB=2 columns."""
    return CONE_PATH, {"RA": repr(ra), "DEC": repr(dec), "SR": repr(RADIUS_DEG)}


#: Further (name, make_request) pairs measured beside the cones, in the same rounds,
#: ``make_request(ra, dec) -> (path, params)``.
extra_queries: list[tuple[str, Callable[[float, float], tuple[str, dict[str, Any]]]]] = [
    ("SIAv2 POS=CIRCLE", _sia_pos),
    ("Cone search (SCS)", _scs_cone),
]


def _adql(ra: float, dec: float) -> str:
    return ("SELECT * FROM ivoa.obscore WHERE CONTAINS(POINT('ICRS', s_ra, s_dec), "
            f"CIRCLE('ICRS', {ra!r}, {dec!r}, {RADIUS_DEG!r})) = 1")  # fmt: skip


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 2)


def _p95(values: list[float]) -> float:
    return round(float(np.percentile(values, 95)), 2)


def _timed(call: Callable[[], Any]) -> tuple[float, Any]:
    began = time.perf_counter()
    out = call()
    return (time.perf_counter() - began) * 1000, out


def run(label: str, work: Path, database_url: str | None, observations: int,
        requests: int) -> dict[str, Any]:  # fmt: skip
    home = work / f"vo-{label}"
    archive = Archive.open(Settings(home=home, database_url=database_url))
    print(f"[vo {label}] building {observations:,} observations x 3 products ...", flush=True)
    summary = build_synthetic_catalog(
        archive.engine, observations=observations, products_per_obs=3, seed=1
    )
    engine = archive.engine
    rng = np.random.default_rng(3)
    picks = rng.integers(summary.first_obsid, summary.first_obsid + observations, requests)
    with engine.connect() as conn:
        centres = [
            conn.execute(
                text("SELECT s_ra, s_dec FROM observations WHERE obsid = :i"), {"i": int(i)}
            ).one()
            for i in picks
        ]
    jitter = rng.normal(0.0, 0.3 / 60.0, (len(centres), 2))
    cones = [
        (float((ra + j[0]) % 360), float(dec + j[1]))
        for (ra, dec), j in zip(centres, jitter, strict=True)
    ]
    postgres = engine.dialect.name == "postgresql"
    if postgres:
        _prepare_q3c_and_view(engine)
    http: dict[str, list[float]] = {"adql": [], "mast": []}
    extra_http: dict[str, list[float]] = {name: [] for name, _ in extra_queries}
    sql: dict[str, list[float]] = {
        "translated": [],
        "q3c": [],
        "view": [],
        "translated_raw": [],
        "q3c_raw": [],
        "translated_planning": [],
        "translated_execution": [],
        "q3c_planning": [],
        "q3c_execution": [],
    }
    rows: list[int] = []
    context = QueryContext(now_mjd(), archive.settings.vo_authority)
    with (
        ServerProcess(home, database_url) as server,
        httpx.Client(base_url=server.url, timeout=300) as client,
    ):
        for i, (ra, dec) in enumerate([*cones[:3], *cones]):  # three warm-up rounds
            warm = i < 3
            query = {"LANG": "ADQL", "QUERY": _adql(ra, dec)}
            t_adql, answer = _timed(partial(client.get, "/vo/tap/sync", params=query))
            answer.raise_for_status()
            body = {"service": "Mast.Caom.Cone", "format": "json", "pagesize": 50000, "page": 1,
                    "params": {"ra": ra, "dec": dec, "radius": RADIUS_DEG}}  # fmt: skip
            invoke = {"request": json.dumps(body)}
            t_mast, mast = _timed(partial(client.post, "/api/v0/invoke", data=invoke))
            mast.raise_for_status()
            extras = []
            for name, make in extra_queries:
                path, params = make(ra, dec)
                elapsed, extra = _timed(partial(client.get, path, params=params))
                extra.raise_for_status()  # a fast error must not pass for a fast answer
                extras.append((name, elapsed))
            values = context.parameters
            with engine.connect() as conn:
                statement = translate(_adql(ra, dec), tables=all_tables(), context=context,
                                      conn=conn).statement  # fmt: skip
                t_sql, fetched = _timed(partial(_all, conn, statement, values))
                t_raw = _raw_ms(engine, statement, values)
                if postgres:
                    q3c, view = _q3c_cone(context, ra, dec), _view_cone(ra, dec, conn)
                    t_q3c, q3c_rows = _timed(partial(_all, conn, q3c, values))
                    t_view, _ = _timed(partial(_all, conn, view, {}))
                    t_q3c_raw = _raw_ms(engine, q3c, values)
                    if {tuple(r) for r in q3c_rows} != {tuple(r) for r in fetched}:
                        raise RuntimeError(f"q3c and the translated cone differ at {ra}, {dec}")
                    if i == 0:
                        _print_plans(conn, engine, {"translated": statement, "q3c": q3c}, values)
                    t_plan, t_exec = _explain_ms(conn, engine, statement, values)
                    q_plan, q_exec = _explain_ms(conn, engine, q3c, values)
            if warm:
                continue
            http["adql"].append(t_adql)
            http["mast"].append(t_mast)
            for name, elapsed in extras:
                extra_http[name].append(elapsed)
            sql["translated"].append(t_sql)
            sql["translated_raw"].append(t_raw)
            rows.append(len(fetched))
            if postgres:
                sql["q3c"].append(t_q3c)
                sql["q3c_raw"].append(t_q3c_raw)
                sql["view"].append(t_view)
                sql["translated_planning"].append(t_plan)
                sql["translated_execution"].append(t_exec)
                sql["q3c_planning"].append(q_plan)
                sql["q3c_execution"].append(q_exec)
    engine.dispose()
    result: dict[str, Any] = {
        "database": label,
        "observations": summary.observations,
        "obscore_rows_per_cone": round(float(np.mean(rows)), 1),
        "requests": len(cones),
        "http_median_ms": {k: _median(v) for k, v in http.items()},
        "http_p95_ms": {k: _p95(v) for k, v in http.items()},
        "extra_http_median_ms": {k: _median(v) for k, v in extra_http.items() if v},
        "extra_http_p95_ms": {k: _p95(v) for k, v in extra_http.items() if v},
        "extra_over_mast": {
            k: round(statistics.median(v) / statistics.median(http["mast"]), 2)
            for k, v in extra_http.items()
            if v
        },  # fmt: skip
        "sql_median_ms": {k: _median(v) for k, v in sql.items() if v},
    }
    result["adql_over_mast"] = round(
        statistics.median(http["adql"]) / statistics.median(http["mast"]), 2
    )
    if sql["q3c"]:
        result["translated_over_q3c"] = round(
            statistics.median(sql["translated"]) / statistics.median(sql["q3c"]), 2
        )
        result["translated_over_q3c_raw"] = round(
            statistics.median(sql["translated_raw"]) / statistics.median(sql["q3c_raw"]), 2
        )
        database_ms = {
            name: [p + e for p, e in zip(sql[f"{name}_planning"], sql[f"{name}_execution"],
                                         strict=True)]
            for name in ("translated", "q3c")
        }  # fmt: skip
        result["database_median_ms"] = {k: _median(v) for k, v in database_ms.items()}
        result["translated_over_q3c_database"] = round(
            statistics.median(database_ms["translated"]) / statistics.median(database_ms["q3c"]),
            2,
        )
    print(f"[vo {label}] {result}", flush=True)
    return result


def _raw_ms(engine: Any, statement: Any, values: dict[str, Any]) -> float:
    """The statement's SQL text run on a DBAPI cursor (compiled beforehand): the database's
    own time, without SQLAlchemy's compilation."""
    sql = _literal_sql(engine, statement, values)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        elapsed, _ = _timed(lambda: (cursor.execute(sql), cursor.fetchall()))
        cursor.close()
    finally:
        raw.close()
    return elapsed


def _all(conn: Any, statement: Any, values: dict[str, Any]) -> list[Any]:
    return list(conn.execute(statement, values).all())


def _literal_sql(engine: Any, statement: Any, values: dict[str, Any]) -> str:
    return str(statement.params(values).compile(engine, compile_kwargs={"literal_binds": True}))


def _explain_ms(
    conn: Any, engine: Any, statement: Any, values: dict[str, Any]
) -> tuple[float, float]:
    """(planning, execution) ms of the statement as the database reports them."""
    sql = _literal_sql(engine, statement, values)
    plan = conn.execute(text(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}")).scalar_one()[0]
    return float(plan["Planning Time"]), float(plan["Execution Time"])


def _print_plans(
    conn: Any, engine: Any, statements: dict[str, Any], values: dict[str, Any]
) -> None:
    """Each statement's ``EXPLAIN (ANALYZE, BUFFERS)``, index probes of a BitmapOr counted
    rather than listed (q3c's has a hundred); q3c's must use its index."""
    for name, statement in statements.items():
        sql = _literal_sql(engine, statement, values)
        lines = conn.execute(text(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")).scalars().all()
        if name == "q3c" and not any("observations_q3c" in line for line in lines):
            raise RuntimeError("the q3c reference does not use its index:\n" + "\n".join(lines))
        probes = sum("Bitmap Index Scan" in line for line in lines)
        kept = [line if len(line) < 200 else line[:200] + " ..." for line in lines
                if not line.lstrip().startswith(("->  Bitmap Index Scan", "Index Cond: ((q3c",
                                                 "Index Cond: (cell", "Buffers: shared hit=3"))
                or "BitmapOr" in line]  # fmt: skip
        print(f"[vo plan: {name}, {probes} bitmap index probes]\n" + "\n".join(kept), flush=True)


def _prepare_q3c_and_view(engine: Any) -> None:
    """q3c's index on the observations' positions, and the ObsCore select as a VIEW."""
    with engine.begin() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS q3c"))
        conn.execute(
            text("CREATE INDEX observations_q3c ON observations (q3c_ang2ipix(s_ra, s_dec))")
        )
        conn.execute(text("CLUSTER observations USING observations_q3c"))
        context = QueryContext(now_mjd(), "bench.invalid")
        rows = OBSCORE.rows(context).element.params(context.parameters)
        compiled = rows.compile(engine, compile_kwargs={"literal_binds": True})
        conn.execute(text(f"CREATE VIEW obscore_view AS {compiled}"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE observations"))


def _q3c_cone(context: QueryContext, ra: float, dec: float) -> Any:
    """The ObsCore columns of ``SELECT *`` where q3c puts the position in the cone
    (``q3c_radial_query(ra, dec, centre_ra, centre_dec, radius)``, q3c's argument order)."""
    rows = OBSCORE.rows(context)
    cone = func.q3c_radial_query(rows.c.s_ra, rows.c.s_dec, ra, dec, RADIUS_DEG)
    return select(*[rows.c[c.name] for c in COLUMNS]).where(cone)


def _view_cone(ra: float, dec: float, conn: Any) -> Any:
    view = table("obscore_view", *[column(c.name) for c in COLUMNS], column(OBSID))
    point = geo.RowPoint(view.c.s_ra, view.c.s_dec, view.c[OBSID])
    return select(view).where(geo.contains(point, geo.circle(ra, dec, RADIUS_DEG), conn))


def render(results: list[dict[str, Any]]) -> list[str]:
    lines = [
        "",
        "## VO: ADQL cone (TAP sync) beside the MAST API cone and q3c",
        "",
        "| database | observations | ObsCore rows / cone | ADQL cone (TAP) median / p95 ms "
        "| MAST cone median / p95 ms | ratio (target <= 2) | translated SQL ms | q3c ms "
        "| ratio | VIEW ms | translated SQL, DBAPI ms | q3c, DBAPI ms | ratio "
        "| translated, database ms (planning + execution) | q3c, database ms "
        "| ratio (target < 1) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        h, p, s = r["http_median_ms"], r["http_p95_ms"], r["sql_median_ms"]
        lines.append(
            f"| {r['database']} | {r['observations']:,} | {r['obscore_rows_per_cone']} "
            f"| {h['adql']} / {p['adql']} | {h['mast']} / {p['mast']} | {r['adql_over_mast']} "
            f"| {s['translated']} | {s.get('q3c', 'n/a')} | {r.get('translated_over_q3c', 'n/a')} "
            f"| {s.get('view', 'n/a')} | {s.get('translated_raw', 'n/a')} "
            f"| {s.get('q3c_raw', 'n/a')} | {r.get('translated_over_q3c_raw', 'n/a')} "
            f"| {_database_ms(r, 'translated')} | {_database_ms(r, 'q3c')} "
            f"| {r.get('translated_over_q3c_database', 'n/a')} |"
        )
        for name, median in r.get("extra_http_median_ms", {}).items():
            p95 = r.get("extra_http_p95_ms", {}).get(name, "n/a")
            over = r.get("extra_over_mast", {}).get(name, "n/a")
            lines.append(f"| {r['database']} | | | {name}: {median} / {p95} | | {over} |"
                         + " |" * 10)  # fmt: skip
    lines += [
        "",
        "Cones of 1 arcmin around random observations (jittered 0.3'), the same for every "
        "column; HTTP times are wall time on the client to the last byte, SQL times run the "
        "statement on the same database through SQLAlchemy (compiling included) and fetch every "
        "row; DBAPI times run the statement's compiled text on a cursor (no compiling; the "
        "driver and the round trip included); database times are the planning and execution "
        "times EXPLAIN ANALYZE reports. q3c and the VIEW need PostgreSQL.",
    ]
    return lines


def _database_ms(result: dict[str, Any], name: str) -> str:
    total = result.get("database_median_ms", {}).get(name)
    if total is None:
        return "n/a"
    s = result["sql_median_ms"]
    return f"{total} ({s[name + '_planning']} + {s[name + '_execution']})"


def _main() -> None:  # pragma: no cover  (a developer's quick look)
    import argparse
    import tempfile

    parser = argparse.ArgumentParser()
    parser.add_argument("--observations", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print(run("cli", Path(tmp), args.database_url, args.observations, args.requests))


if __name__ == "__main__":
    _main()
