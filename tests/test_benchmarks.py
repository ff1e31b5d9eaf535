"""The delivery benchmark's arithmetic, report and in-process zip (no timing judged)."""

from __future__ import annotations

import socket
import subprocess

import pytest
from benchmarks import bench_delivery
from benchmarks.run import render, render_delivery

from skyarchive.archive import Archive
from skyarchive.config import Settings
from skyarchive.ingest.run import ingest_paths
from tests.tools import needs


def test_ratios_are_medians_of_each_rounds_ratio() -> None:
    speeds = {"zip": [100.0, 300.0, 90.0], "cat": [200.0, 300.0, 100.0]}
    # round by round: 0.5, 1.0, 0.9; their median is 0.9 (the ratio of medians would be 0.5)
    assert bench_delivery._paired(speeds, "zip", "cat") == 0.9
    assert bench_delivery._medians(speeds, "cold_") == {"cold_zip_MBps": 100, "cold_cat_MBps": 200}


def test_rounds_run_every_command_in_turn(tmp_path) -> None:  # type: ignore[no-untyped-def]
    log = tmp_path / "order"
    commands = {name: ["sh", "-c", f"echo {name} >> {log}"] for name in ("a", "b")}
    speeds = bench_delivery._interleaved(commands, 1000, cold=False)
    assert log.read_text().split() == ["a", "b"] * bench_delivery.REPEATS
    assert all(len(values) == bench_delivery.REPEATS for values in speeds.values())


def test_cat_to_the_client_sends_the_files_after_the_header(tmp_path) -> None:  # type: ignore[no-untyped-def]
    files = [tmp_path / "one", tmp_path / "two"]
    files[0].write_bytes(b"first ")
    files[1].write_bytes(b"second")
    listener = bench_delivery._cat_server(files)
    try:
        port = listener.getsockname()[1]
        got = subprocess.run(["curl", "-s", "-f", f"http://127.0.0.1:{port}/"],
                             capture_output=True, check=True).stdout  # fmt: skip
        assert got == b"first second"
    finally:
        listener.close()
    assert isinstance(listener, socket.socket)


def _figures(zip_ratio: float, cold_ratio: float) -> dict:
    figures = {
        "files": 2, "bytes": 2 << 30, "http_parser": "h11", "load_average_1min": 0.5,
        "rounds": 5, "cold_rounds": 9, "zip_vs_loopback": 0.9, "raw_cat_MBps": 10000,
        "loopback_MBps": 2500, "loopback_vs_raw": 0.25,
        "cat_to_client_MBps": 2400, "cat_to_client_vs_raw": 0.24, "zip_MBps": 2000,
        "zip_vs_raw": 0.2, "zip_vs_cat_to_client": zip_ratio, "tar_MBps": 1900,
        "tar_vs_raw": 0.19, "tar_vs_cat_to_client": 0.79, "cold_raw_cat_MBps": 900,
        "cold_cat_to_client_MBps": 800, "cold_cat_to_client_vs_raw": 0.89,
        "cold_zip_MBps": 700, "cold_zip_vs_raw": 0.78, "cold_zip_vs_cat_to_client": cold_ratio,
        "server_peak_rss_MB": 150, "curl_script_10k_s": 0.5, "curl_script_10k_lines": 10000,
    }  # fmt: skip
    return figures


def test_the_report_judges_the_zip_against_cat_to_the_client() -> None:
    text = "\n".join(render_delivery(_figures(0.83, 0.79)))
    warm = next(line for line in text.splitlines() if line.startswith("| zip, warm"))
    cold = next(line for line in text.splitlines() if line.startswith("| zip, cold"))
    assert "| 0.83 |" in warm and warm.endswith(">= 0.8: yes |")
    assert "| 0.79 |" in cold and cold.endswith(">= 0.8: **no** |")
    assert "target < 1 s: yes" in text


def test_the_report_says_when_cold_runs_were_not_possible() -> None:
    figures = {k: v for k, v in _figures(0.9, 0.9).items() if not k.startswith("cold_")}
    assert "skipped: emptying the page cache needs root" in "\n".join(render_delivery(figures))


def test_a_delivery_only_report_has_no_empty_sections() -> None:
    machine = {"date": "d", "cpu": "c", "cores": 2, "memory": "m", "python": "3",
               "sqlite": "3", "platform": "p"}  # fmt: skip
    report = {"machine": machine, "mode": "full", "command": "c", "notes": [], "ingest": [],
              "latency": [], "delivery": _figures(0.9, 0.9)}  # fmt: skip
    text = render(report)
    assert "## Delivery" in text
    assert "Ingest rate" not in text and "Latency is wall time" not in text


def test_zip_to_null_builds_the_whole_bundle_as_the_server_does(tmp_path) -> None:  # type: ignore[no-untyped-def]
    names = bench_delivery._write_files(tmp_path / "in", 3, 100_000)
    archive = Archive.open(Settings(home=tmp_path / "home"))
    report = ingest_paths([tmp_path / "in"], engine=archive.engine, storage=archive.storage,
                          default_eap_months=12)  # fmt: skip
    assert report.ok
    assert bench_delivery._timed(bench_delivery._zip_to_null(archive, names)) > 0
    assert bench_delivery._timed(bench_delivery._zip_to_null(archive, names, hop=True)) > 0
    with pytest.raises(RuntimeError, match="incomplete"):  # a file it may not send is noticed
        bench_delivery._zip_to_null(archive, [*names, "not-in-the-archive_drz.dat"])()
    archive.engine.dispose()


def test_the_report_judges_zip_to_null_against_cat_to_null() -> None:
    figures = _figures(0.9, 0.9) | {
        "zip_to_null_MBps": 9000, "zip_to_null_vs_raw": 1.3,
        "cold_zip_to_null_MBps": 600, "cold_zip_to_null_vs_raw": 0.7,
    }  # fmt: skip
    lines = render_delivery(figures)
    warm = next(line for line in lines if line.startswith("| zip to /dev/null, no HTTP, warm"))
    cold = next(line for line in lines if line.startswith("| zip to /dev/null, no HTTP, cold"))
    assert "| 1.3 |" in warm and warm.endswith(">= 0.8: yes |")
    assert "| 0.7 |" in cold and cold.endswith(">= 0.8: **no** |")


def test_home_page_figures_are_measured_and_reported(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from benchmarks.harness import BareSql
    from benchmarks.run import HOME_SQL, _html_rows, whole_table_counts_ms

    from skyarchive.demo.synthetic_catalog import build_synthetic_catalog

    archive = Archive.open(Settings(home=tmp_path))
    build_synthetic_catalog(archive.engine, observations=50, products_per_obs=2, seed=1,
                            big_obs_products=3)  # fmt: skip
    archive.engine.dispose()
    bare = BareSql(None, tmp_path)
    assert bare.time(HOME_SQL, ())[1] == 1
    assert whole_table_counts_ms(bare) > 0
    bare.engine.dispose()
    assert _html_rows(b"<tr><td>a</td></tr><tr><td>b</td></tr>") == 2
    machine = {"date": "d", "cpu": "c", "cores": 2, "memory": "m", "python": "3",
               "sqlite": "3", "platform": "p"}  # fmt: skip
    row = {"query": "home page (GET /)", "requests": 9, "rows": 12, "median_ms": 2.0,
           "p95_ms": 3.0, "sql_median_ms": 0.1, "ratio": 20, "target_ms": 20.0, "met": True,
           "extra": {"whole_table_counts_ms": 6100.0}}  # fmt: skip
    page = {**row, "query": "page", "target_ms": None, "met": None,
            "extra": {"rss_before_mb": 1, "rss_after_mb": 1, "peak_growth_mb": 0,
                      "peak_mb": 1, "peak_was_reset": True}}  # fmt: skip
    catalogue = {"observations": 50, "products": 103, "footprint_cells": 99,
                 "build_total_seconds": 1, "build_seconds": {}, "database_mb": 1}  # fmt: skip
    report = {"machine": machine, "mode": "full", "command": "c", "notes": [], "ingest": [],
              "latency": [{"database": "sqlite", "catalogue": catalogue,
                           "latency": [row, page]}], "delivery": None}  # fmt: skip
    text = render(report)
    assert "| home page (GET /) | 9 | 12 | 2.0 | 3.0 | 0.1 | 20 | <= 20 ms median | yes |" in text
    assert "counting the tables as it did before takes 6,100.0 ms" in text


def test_the_keyword_report_judges_both_the_time_and_the_caom_comparison() -> None:
    from benchmarks.bench_keywords import render as render_keywords

    def figure(query: str, median: float, vs_caom: float | None) -> dict:
        found = {"query": query, "requests": 5, "rows": 50, "median_ms": median,
                 "p95_ms": median, "sql_median_ms": 1.0, "target_ms": 50.0,
                 "met": median <= 50.0}  # fmt: skip
        return found if vs_caom is None else {**found, "vs_caom": vs_caom}

    big = {"rows": 100_000, "mb_sent": 350.0, "seconds": 9.0, "sql_seconds": 2.0,
           "rss_before_mb": 150.0, "rss_after_mb": 160.0, "peak_growth_mb": 60.0,
           "target_mb": 50.0, "met": False}  # fmt: skip
    db = {"database": "sqlite", "files": 1_000_000, "observations": 50_000,
          "build_seconds": 90.0, "big_answer": big,
          "latency": [figure("fast and close", 20.0, 2.0), figure("fast but far", 20.0, 4.0),
                      figure("slow", 60.0, 1.0)]}  # fmt: skip
    lines = {line.split(" |")[0]: line for line in render_keywords([db]) if line.startswith("|")}
    assert lines["| fast and close"].endswith("| yes |")
    assert lines["| fast but far"].endswith("| **no** |")
    assert lines["| slow"].endswith("| **no** |")
    assert "peak grew by 60.0 MB (target < 50 MB: **no**)" in "\n".join(render_keywords([db]))


@needs("weed")
def test_the_storage_bench_measures_s3_beside_the_local_disk_and_reports_it() -> None:
    from benchmarks import bench_storage

    large, mib, small, kib = 2, 1, 3, 8
    figures = bench_storage.run(storage_mib=mib, large=large, small=small, small_kib=kib)
    assert figures is not None
    assert figures["single_bytes"] == large * mib * 2**20
    assert figures["bundle_bytes"] == large * mib * 2**20 + small * kib * 2**10
    for name in ("local_cat", "local_stream", "s3_get_object", "s3_stream", "s3_redirect",
                 "local_cat_all", "local_zip", "s3_get_object_all", "s3_zip"):  # fmt: skip
        assert figures[f"{name}_MBps"] > 0, name
    for server in ("local", "s3"):
        assert figures[f"{server}_peak_MB"] >= figures[f"{server}_rss_before_MB"] > 0
    machine = {"date": "d", "cpu": "c", "cores": 2, "memory": "m", "python": "3",
               "sqlite": "3", "platform": "p"}  # fmt: skip
    report = {"machine": machine, "mode": "full", "command": "c", "notes": [], "ingest": [],
              "latency": [], "delivery": None, "storage": figures}  # fmt: skip
    text = render(report)
    assert "## Object storage throughput" in text
    assert f"| S3: single files, redirect to the store | {figures['s3_redirect_MBps']} |" in text
    assert "Mixed load" not in text  # a storage-only run has no empty load section


def test_the_floor_serves_the_captured_bytes_through_the_same_middleware(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    import httpx
    from benchmarks.floor import Ask, Exchange, floor_app, read_exchanges, write_exchanges

    from skyarchive.web import create_app

    async def post(app, ask: Ask, body: bytes | None = None) -> httpx.Response:  # type: ignore[no-untyped-def]
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            if ask.method == "GET":
                return await client.get(ask.target)
            return await client.post(ask.target, content=body or ask.body,
                                     headers=dict(ask.headers))  # fmt: skip

    archive = Archive.open(Settings(home=tmp_path / "home"))
    ask = Ask.invoke("Mast.Caom.Cone", {"ra": 283.396, "dec": 33.029, "radius": 1 / 60})
    answer = asyncio.run(post(create_app(archive), ask))
    assert answer.json()["status"] == "COMPLETE"
    kept = tuple((k, v) for k, v in answer.headers.items() if k != "content-length")
    captured = Exchange(ask, answer.status_code, kept, answer.content)
    exchanges = read_exchanges(write_exchanges([captured], tmp_path / "exchanges.json"))
    assert exchanges == [captured]
    floor = floor_app(archive, exchanges)
    again = asyncio.run(post(floor, ask))
    other = asyncio.run(post(floor, ask, b"request=%7B%7D"))
    root = asyncio.run(post(floor, Ask.get("/api/")))  # every other route is the real app's
    assert (again.status_code, again.content) == (answer.status_code, answer.content)
    for name in ("content-type", "content-security-policy", "x-content-type-options"):
        assert again.headers[name] == answer.headers[name]
    assert other.status_code == 404 and root.json()["invoke"] == "/api/v0/invoke"
    archive.engine.dispose()


def test_the_floor_report_judges_ratios_at_the_demo_size_and_the_cone_at_scale() -> None:
    from benchmarks.bench_floor import render

    def query(name: str, latency: float, throughput: float, median: float) -> dict:
        return {"query": name, "rows": 1, "bytes": 10, "latency_ratio": latency,
                "throughput_ratio": throughput, "real": {"p50_ms": median, "req_per_s": 1},
                "floor": {"p50_ms": 1, "req_per_s": 2}}  # fmt: skip

    demo = [query("cone a", 1.4, 0.6, 1), query("count", 1.6, 0.9, 1)]
    scale = [query("cone b", 9, 0.1, 1.9), query("count", 9, 0.1, 9)]
    sizes = [{"size": "demo", "queries": demo}, {"size": "10^6", "queries": scale}]
    lines = list(render([{"database": "sqlite", "rounds": 1, "seconds": 1, "sizes": sizes}]))
    row = {line.split(" | ")[0][2:]: line for line in lines if line.startswith("| ")}
    assert row["cone a"].endswith("| yes |") and row["count"].endswith("| report |")
    assert row["cone b"].endswith("| yes |")
    assert any(line.startswith("| count") and line.endswith("| **no** |") for line in lines)


def test_the_floor_report_has_the_download_and_portal_rows_with_cpu() -> None:
    from benchmarks.bench_floor import render

    def side(cpu: float) -> dict:
        return {"p50_ms": 1, "req_per_s": 10, "cpu_ms": cpu}

    download = {
        "query": "Download/file, public, anonymous",
        "bytes": 10,
        "latency_ratio": 1.1,
        "throughput_ratio": 0.8,
        "cpu_ratio": 1.2,
        "real": side(1.2),
        "floor": side(1.0),
    }
    computed = {**download, "query": "portal search, program 1073", "throughput_ratio": 0.4,
                "cache": "off"}  # fmt: skip
    kept = {**computed, "throughput_ratio": 0.9, "cache": "on"}
    files = {"database": "sqlite", "rounds": 1, "seconds": 1, "downloads": [download],
             "searches": [computed, kept]}  # fmt: skip
    db = {"database": "sqlite", "rounds": 1, "seconds": 1, "sizes": [], "files": files}
    row = {
        tuple(line.split(" | ")[:2]): line for line in render([db]) if line.startswith("| ")
    }  # (request, answer cache)
    assert row["| Download/file, public, anonymous", "-"].endswith("| 1.2 (1.0) | 1.2 | yes |")
    assert row["| portal search, program 1073", "off"].endswith("| **no** |")
    assert row["| portal search, program 1073", "on"].endswith("| yes |")


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--only", "hips", "--only", "edb"], ["hips", "edb"]),
        (["--only-hips", "--keywords-only"], ["keywords", "hips"]),
        (["--skip", "load", "--skip-ingest"], None),  # None: every section but those two
        (["--only", "fileperf"], ["floor"]),  # folded into floor; the old name still works
    ],
)
def test_only_and_skip_choose_sections_from_the_one_table(
    argv: list[str], expected: list[str] | None, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    from benchmarks import run

    ran: list[str] = []
    fakes = tuple(
        run.Section(s.name, s.help, lambda args, work, report, pg, name=s.name: ran.append(name))
        for s in run.SECTIONS
    )
    monkeypatch.setattr(run, "SECTIONS", fakes)
    monkeypatch.setattr(run, "machine", lambda: {
        "date": "d", "cpu": "c", "cores": 2, "memory": "m", "python": "3", "sqlite": "3",
        "platform": "p"})  # fmt: skip
    run.main([*argv, "--skip-postgres", "--out", str(tmp_path)])
    if expected is None:
        expected = [name for name in run.SECTION_NAMES if name not in {"load", "ingest"}]
    assert ran == expected
    assert (tmp_path / "report.md").exists()


def test_the_portal_bench_exports_every_row_of_its_result_and_reports_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from benchmarks import bench_portal
    from sqlalchemy import text

    from skyarchive.demo.synthetic_catalog import OBS_PER_PROGRAM, build_synthetic_catalog

    observations = 2 * OBS_PER_PROGRAM
    archive = Archive.open(Settings(home=tmp_path))
    build_synthetic_catalog(archive.engine, observations=observations, products_per_obs=0, seed=1)
    with archive.engine.connect() as conn:
        figures = bench_portal.measure(conn, observations, requests=1)
        in_result = conn.execute(text("SELECT count(*) FROM observations")).scalar_one()
    archive.engine.dispose()
    assert figures["result_rows"] == in_result  # both programs are the result
    assert figures["export_csv_mb"] > 0
    assert 0 < figures["export_stored_columns"] <= figures["export_columns"]
    lines = bench_portal.render([{"database": "sqlite", **figures}])
    columns = f"{figures['export_columns']} ({figures['export_stored_columns']})"
    export_row = next(line for line in lines if line.startswith(f"| sqlite | 4,000 | {columns} |"))
    assert f"| {figures['sql_export_s']} |" in export_row


def test_the_floor_sets_each_search_beside_its_own_sql_on_the_bare_driver(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import asyncio
    import json

    import httpx
    from benchmarks.bare_sql import replay, request_statements
    from benchmarks.bench_floor import million_asks

    from skyarchive.demo.synthetic_catalog import build_synthetic_catalog
    from skyarchive.web import create_app

    archive = Archive.open(Settings(home=tmp_path, answer_cache=False))
    build_synthetic_catalog(archive.engine, observations=60, products_per_obs=2, seed=1,
                            keyword_files=12)  # fmt: skip
    app = create_app(archive)

    async def answered(ask):  # type: ignore[no-untyped-def]
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            sent = await client.post(ask.target, content=ask.body, headers=dict(ask.headers))
            return json.loads(sent.content)

    for ask in million_asks(archive):
        statements = request_statements(archive, ask)
        assert statements, ask.label
        assert all(sql.lstrip().upper().startswith(("SELECT", "WITH")) for _, sql, _ in statements)
        answer = asyncio.run(answered(ask))
        replayed = replay(statements, seconds=0.05)
        assert replayed.ms > 0
        if not ask.label.startswith("cone"):  # (the cone reads candidates, tests them here)
            assert replayed.rows[-1] == answer["paging"]["rows"] > 0, ask.label
    archive.engine.dispose()


def test_the_floor_report_gives_the_best_ratio_the_sql_allows_on_sqlite() -> None:
    from benchmarks.bench_floor import render

    query = {"query": "criteria", "rows": 1, "bytes": 10, "latency_ratio": 3,
             "throughput_ratio": 0.2, "cache": "off", "bare_sql_ms": 0.3,
             "real": {"p50_ms": 1, "req_per_s": 1, "cpu_ms": 0.9},
             "floor": {"p50_ms": 1, "req_per_s": 2, "cpu_ms": 0.1}}  # fmt: skip
    sizes = [{"size": "demo", "queries": [query]}]

    def row(database: str) -> str:
        lines = render([{"database": database, "rounds": 1, "seconds": 1, "sizes": sizes}])
        return next(line for line in lines if line.startswith("| criteria"))

    assert row("sqlite").endswith("| 0.3 | 0.25 | **no** |")  # 0.1 / (0.1 + 0.3)
    assert row("postgresql").endswith("| 0.3 | - | **no** |")


def test_the_floor_report_sets_each_search_in_process_warm_beside_cold() -> None:
    from benchmarks.bench_floor import render

    in_process = {"service_warm": 0.3, "floor_warm": 0.1, "service_cold": 0.7, "floor_cold": 0.2}
    query = {"query": "count", "rows": 1, "bytes": 10, "latency_ratio": 3,
             "throughput_ratio": 0.2, "cache": "off", "in_process": in_process,
             "real": {"p50_ms": 1, "req_per_s": 1, "cpu_ms": 0.9},
             "floor": {"p50_ms": 1, "req_per_s": 2, "cpu_ms": 0.25}}  # fmt: skip
    cached = {**query, "cache": "on"}
    del cached["in_process"]
    sizes = [{"size": "demo", "queries": [query, cached]}]
    lines = list(render([{"database": "sqlite", "rounds": 1, "seconds": 1, "sizes": sizes}]))
    rows = [line for line in lines if line.startswith("| count | 0.3 (0.1) |")]
    # own work 0.3 - 0.1 warm, 0.7 - 0.2 cold: 2.5 times as much; served 0.9 - 0.25
    assert rows == ["| count | 0.3 (0.1) | 0.7 (0.2) | 0.200 | 0.500 | 2.50 | 0.650 |"]


def test_in_process_figures_are_the_apps_own_and_refuse_an_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    from benchmarks import in_process
    from benchmarks.floor import Ask, Exchange

    from skyarchive.web import create_app

    archive = Archive.open(Settings(home=tmp_path / "home", answer_cache=False))
    ask = Ask.invoke("Mast.Caom.Cone", {"ra": 283.396, "dec": 33.029, "radius": 1 / 60})
    exchanges = [Exchange(ask, 200, (("content-type", "application/json"),), b"{}")]
    figures = in_process.in_process_ms(archive, [ask], exchanges)[ask.label]
    assert set(figures) == {"service_warm", "service_cold", "floor_warm", "floor_cold"}
    assert figures["service_warm"] > 0 and figures["floor_warm"] > 0  # (cold: the walk taken off)
    missing = Ask.get("/api/v0/no-such-route")
    with pytest.raises(RuntimeError, match="HTTP 404"):  # a figure of an error measures nothing
        asyncio.run(in_process._cpu_ms(create_app(archive), missing, between=None))
    archive.close()
