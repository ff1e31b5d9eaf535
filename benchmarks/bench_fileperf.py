"""Per-request cost of ``Download/file`` of a small file and of the portal's search, beside
their floors (issue 20, part 3).

Part of the floor section: ``python -m benchmarks.run --only floor`` runs it on SQLite and
PostgreSQL beside the MAST API rows; ``python -m benchmarks.bench_fileperf [--database-url URL]``
on one database alone, printing the table.

* Archive: the demo pipeline output (``demo.generate``, scale 1) ingested into SQLite and into
  a scratch PostgreSQL database, with one user (an API token) who is the PI of the program
  still in its exclusive-access period.
* ``Download/file`` of a small file (the largest public file under 64 KiB), as an anonymous
  caller and as a token caller, and an exclusive-access file of the same size class fetched by
  its PI's token (the access decision needs the caller's programs). The reference is a plain
  FastAPI ``FileResponse`` of the same stored file, from a route put in front of the real app
  (so the same middleware stack, error handlers and uvicorn configuration), parsing the same
  ``uri`` query parameter and doing nothing else.
* The portal's search (``POST /api/portal/search`` as the portal's JavaScript sends it: the
  position ``m57 r=1m`` and the program ``1073``, first page of 50 rows with the facet
  counts), beside its floor from :mod:`benchmarks.floor` (the captured answer served back by
  the same app), by a server with the answer cache off and by one with it on.

Both sides are one uvicorn process each (one worker, access log off); :func:`benchmarks.floor.
compare` measures latency one request at a time and throughput at 16 connections with ``wrk``,
each side in turn, round by round, and gives the ratios as medians of each round's ratio.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from sqlalchemy import Connection, select

from benchmarks.bench_delivery import free_port
from benchmarks.bench_load import ingested_demo
from benchmarks.floor import Ask, Exchange, capture, compare, same_answers, served
from benchmarks.harness import verdict
from skyarchive.access import grants, sessions, tokens, users
from skyarchive.access.rights import now_mjd
from skyarchive.access.sessions import SESSION_COOKIE
from skyarchive.archive import Archive
from skyarchive.config import Settings
from skyarchive.db.tables import observations, products
from skyarchive.demo import generate

SMALL_BYTES = 64 * 1024
CONNECTIONS = 16
DOWNLOAD_TARGET = 0.7  # throughput: Download/file / a plain FileResponse
SEARCH_THROUGHPUT_TARGET = 0.5  # throughput: portal search / its floor
SEARCH_LATENCY_TARGET = 1.5  # one at a time: portal search / its floor
PAGE_SIZE = 50  # the portal grid's first page
PORTAL_SEARCHES = (("portal search, position 'm57 r=1m'", "position", "m57 r=1m"),
                   ("portal search, program 1073", "program", "1073"))  # fmt: skip


@dataclass(frozen=True)
class Prepared:
    """An ingested archive and what the benchmark asks of it."""

    home: Path
    database_url: str | None
    token: str  # of the PI of the program whose file is exclusive
    session_cookie: str  # of a portal session of the same PI
    public_uri: str
    exclusive_uri: str

    def downloads(self) -> list[Ask]:
        return [
            _download(self.public_uri, None, "Download/file, public, anonymous"),
            _download(self.public_uri, self.token, "Download/file, public, token"),
            _download(self.exclusive_uri, self.token, "Download/file, exclusive, its PI's token"),
            _download(
                self.exclusive_uri,
                None,
                "Download/file, exclusive, its PI's session",
                cookie=self.session_cookie,
            ),  # fmt: skip
        ]


def _download(uri: str, token: str | None, label: str, *, cookie: str | None = None) -> Ask:
    headers: list[tuple[str, str]] = []
    if token:
        headers.append(("Authorization", f"token {token}"))
    if cookie:
        headers.append(("Cookie", f"{SESSION_COOKIE}={cookie}"))
    path = f"/api/v0.1/Download/file?uri={quote(uri, safe=':/')}"
    return Ask("GET", path, tuple(headers), b"", label)


def portal_searches() -> list[Ask]:
    """``POST /api/portal/search`` as the portal's JavaScript sends a new search."""
    asks = []
    for label, collection, text in PORTAL_SEARCHES:
        body: dict[str, Any] = {"collection": collection, "text": text, "filters": [], "facets": {},
                "sort": None, "descending": False, "page": 1, "pagesize": PAGE_SIZE}  # fmt: skip
        asks.append(Ask("POST", "/api/portal/search", (("Content-Type", "application/json"),),
                        json.dumps(body).encode(), label))  # fmt: skip
    return asks


def prepare(work: Path, demo_dir: Path, label: str, database_url: str | None) -> Prepared:
    """The demo archive ingested for ``label``, a PI with a token, the files to fetch."""
    archive = ingested_demo(work, f"fileperf-{label}", demo_dir, database_url)
    now = now_mjd()
    with archive.engine.begin() as conn:
        public_uri = _small_file(conn, released=True, now=now)
        exclusive_uri = _small_file(conn, released=False, now=now)
        program = conn.scalar(
            select(products.c.proposal_id).where(products.c.dataURI == exclusive_uri)
        )
        pi = users.create_user(conn, email="pi@example.org", display_name="PI", password=None)
        grants.set_pi(conn, str(program), user_id=pi.user_id)
        token, _info = tokens.create_token(conn, user_id=pi.user_id, name="bench", days=5,
                                           max_days=60)  # fmt: skip
        cookie, _session = sessions.start_session(conn, pi.user_id)
    archive.engine.dispose()
    return Prepared(archive.settings.home, database_url, token, cookie, public_uri, exclusive_uri)


def _small_file(conn: Connection, *, released: bool, now: float) -> str:
    """The largest file under :data:`SMALL_BYTES` that is public (or still exclusive)."""
    release = observations.c.t_obs_release
    query = (
        select(products.c.dataURI)
        .join(observations, observations.c.obsid == products.c.owner_obsid)
        .where(products.c.size < SMALL_BYTES, release <= now if released else release > now)
        .order_by(products.c.size.desc(), products.c.dataURI)
        .limit(1)
    )
    uri = conn.scalar(query)
    if uri is None:
        raise RuntimeError("the demo archive lacks a small file of each kind")
    return str(uri)


# --------------------------------------------------------------- the plain FileResponse


def file_floor_app(archive: Archive, uris: list[str]):  # type: ignore[no-untyped-def]
    """The real app with a plain ``FileResponse`` in front of ``Download/file`` for each of
    ``uris``: the same query parameter is parsed, nothing is looked up or checked."""
    from fastapi import APIRouter
    from fastapi.responses import FileResponse, Response

    from skyarchive.delivery.files import find_product
    from skyarchive.web import create_app

    files = {}
    with archive.engine.connect() as conn:
        for uri in uris:
            product = find_product(conn, uri)
            path = archive.storage.local_path(product.storage_key)
            if path is None:
                raise RuntimeError("the plain FileResponse needs the archive's files on local disk")
            files[uri] = (path, product.filename, product.media_type)

    async def plain_file(uri: str = "") -> Response:
        path, filename, media_type = files[uri]
        return FileResponse(path, media_type=media_type, filename=filename)

    app = create_app(archive)
    front = APIRouter()
    front.add_api_route("/api/v0.1/Download/file", plain_file, methods=["GET"])
    app.router.routes[:0] = front.routes  # first: the real route is never reached
    return app


def _serve_file_floor(home: Path, database_url: str | None, uris: list[str], port: int) -> None:
    import uvicorn

    from skyarchive.web import server_config

    archive = Archive.open(Settings(home=home, database_url=database_url), migrate=False)
    app = file_floor_app(archive, uris)
    config = server_config(archive, host="127.0.0.1", port=port, app=app, log_level="warning",
                           lifespan="off")  # fmt: skip
    uvicorn.Server(config).run()


@contextmanager
def file_floor(prepared: Prepared) -> Iterator[tuple[str, int]]:
    """The plain ``FileResponse`` server of the prepared files in its own process (one
    uvicorn worker, as the real one); yields its URL and process id."""
    port = free_port()
    command = [sys.executable, "-m", "benchmarks.bench_fileperf", "--serve-file-floor",
               "--home", str(prepared.home), "--port", str(port),
               "--uri", prepared.public_uri, "--uri", prepared.exclusive_uri]  # fmt: skip
    if prepared.database_url:
        command += ["--database-url", prepared.database_url]
    process = subprocess.Popen(command)  # noqa: S603  (our own command line)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180  # imports take long on a machine busy with others
        while True:
            try:
                httpx.get(url + "/whoami", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the FileResponse server did not start") from None
                time.sleep(0.1)
        yield url, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


# ------------------------------------------------------------------------------ measure


def measure(
    prepared: Prepared, *, seconds: float, rounds: int, searches_too: bool = True
) -> dict[str, list[dict]]:
    """Each download beside the plain FileResponse, each portal search beside its floor
    (unless not ``searches_too``): computed every time (``cache`` "off") and by a server
    keeping its answers ("on": wrk repeats one request, so nearly every one is a hit)."""
    downloads, searches = prepared.downloads(), portal_searches() if searches_too else []
    found: dict[str, list[dict]] = {"downloads": [], "searches": []}
    with served(prepared.home, prepared.database_url) as real:
        exchanges = capture(real.url, [*downloads, *searches])
        download_answers, search_answers = exchanges[: len(downloads)], exchanges[len(downloads) :]
        with file_floor(prepared) as (plain, plain_pid):
            found["downloads"] = _compare_all(real.url, plain, download_answers, seconds, rounds,
                                              pids=(real.process.pid, plain_pid))  # fmt: skip
        if not search_answers:
            return found
        home, url = prepared.home, prepared.database_url
        with served(home, url, replay=search_answers) as floor, \
                served(home, url, answer_cache=True) as keeping:  # fmt: skip
            same_answers(keeping.url, search_answers)  # a kept answer is the computed one
            for cache, server in (("off", real), ("on", keeping)):
                pids = (server.process.pid, floor.process.pid)
                for result in _compare_all(server.url, floor.url, search_answers, seconds, rounds,
                                           pids=pids):  # fmt: skip
                    found["searches"].append({**result, "cache": cache})
    return found


def _compare_all(
    real_url: str,
    floor_url: str,
    exchanges: list[Exchange],
    seconds: float,
    rounds: int,
    *,
    pids: tuple[int, int],
) -> list[dict]:
    """Each exchange, real beside its reference; ``pids`` (real, reference) give the CPU time
    per request of each server (``/proc/PID/stat`` before and after the wrk run)."""
    results = []
    for exchange in exchanges:
        result = compare(real_url, floor_url, exchange, connections=CONNECTIONS, seconds=seconds,
                         rounds=rounds, pids=pids)  # fmt: skip
        print(f"  fileperf: {json.dumps(result)}", flush=True)
        results.append(result)
    return results


def bench_fileperf(
    label: str,
    work: Path,
    database_url: str | None,
    *,
    quick: bool,
    demo_dir: Path | None = None,
    searches_too: bool = True,
) -> dict:
    """The figures on one database (``label``); part of the floor section
    (``bench_floor.bench_floor``), which passes the demo output it generated as ``demo_dir``."""
    seconds, rounds = (1.0, 1) if quick else (3.0, 3)
    demo_dir = demo_dir or work / "fileperf-demo-output"
    if not demo_dir.exists():
        generate(demo_dir, seed=1, scale=1)
    print(f"fileperf [{label}]: ingesting the demo archive ...", flush=True)
    prepared = prepare(work, demo_dir, label, database_url)
    try:
        found = measure(prepared, seconds=seconds, rounds=rounds, searches_too=searches_too)
    finally:
        shutil.rmtree(prepared.home, ignore_errors=True)
    return {"database": label, "seconds": seconds, "rounds": rounds, **found}


# ------------------------------------------------------------------------------- report


def render(results: list[dict]) -> Iterator[str]:
    """The markdown section of the report."""
    yield "## Download/file and the portal search beside their floors (one worker, wrk)"
    yield ""
    yield (
        "Download/file of a small file beside a plain FastAPI `FileResponse` of the same stored "
        "file, in front of the same app (middleware, error handlers, uvicorn configuration); "
        "the portal search beside its floor (benchmarks/floor.py: the captured answer served "
        f"back by the same app). Latency: wrk's median with one connection; throughput: "
        f"{CONNECTIONS} connections; ratios are ours / the reference, medians of each round's "
        f"ratio. Targets: download throughput >= {DOWNLOAD_TARGET}; portal search throughput >= "
        f"{SEARCH_THROUGHPUT_TARGET} and latency <= {SEARCH_LATENCY_TARGET}. CPU: each server "
        f"process's CPU time per request at {CONNECTIONS} connections (/proc/PID/stat)."
    )
    for db in results:
        yield ""
        yield f"### {db['database']} ({db['rounds']} rounds of {db['seconds']:g} s)"
        yield ""
        yield ("| request | answer cache | bytes | median ms | reference ms | ratio "
               "| req/s | reference req/s | ratio | CPU ms/request (reference) | ratio "
               "| met? |")  # fmt: skip
        yield "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
        for kind in ("downloads", "searches"):
            for q in db[kind]:
                if kind == "downloads":
                    met = verdict(q["throughput_ratio"] >= DOWNLOAD_TARGET)
                else:
                    met = verdict(q["throughput_ratio"] >= SEARCH_THROUGHPUT_TARGET
                               and q["latency_ratio"] <= SEARCH_LATENCY_TARGET)  # fmt: skip
                real, floor = q["real"], q["floor"]
                yield (f"| {q['query']} | {q.get('cache', '-')} | {q['bytes']:,} "
                       f"| {real['p50_ms']} | {floor['p50_ms']} "
                       f"| {q['latency_ratio']} | {real['req_per_s']} | {floor['req_per_s']} "
                       f"| {q['throughput_ratio']} "
                       f"| {real.get('cpu_ms', '-')} ({floor.get('cpu_ms', '-')}) "
                       f"| {q.get('cpu_ratio', '-')} | {met} |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None, help="PostgreSQL (default: SQLite)")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--work", type=Path, help="keep the demo output here between runs")
    parser.add_argument("--downloads-only", action="store_true", help="leave out the portal search")
    # the plain FileResponse server's own process (file_floor)
    parser.add_argument("--serve-file-floor", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--uri", action="append", default=[], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_file_floor:
        _serve_file_floor(args.home, args.database_url, args.uri, args.port)
        return
    import tempfile

    with tempfile.TemporaryDirectory(prefix="skyarchive-fileperf-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        label = "postgresql" if args.database_url else "sqlite"
        result: Any = bench_fileperf(label, work, args.database_url, quick=args.quick,
                                     searches_too=not args.downloads_only)  # fmt: skip
    print("\n".join(render([result])))


if __name__ == "__main__":
    main()
