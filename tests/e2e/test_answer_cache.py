"""The answer cache (MAST API and portal search) through the real server: every answer it
sends again is byte for byte the answer the server computes with the cache off, after writes,
across two worker processes, when an exclusive observation reaches its release date, and
whoever asks."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from benchmarks.bench_load import Served, connections_per_process, served_together
from sqlalchemy import event, select, update

from skyarchive.access.policy import ANONYMOUS
from skyarchive.access.rights import now_mjd
from skyarchive.api.answer_cache import open_answer_cache
from skyarchive.api.mast.registry import is_cached
from skyarchive.api.mast.routes import invoke
from skyarchive.api.portal.search import SearchRequest, search_answer
from skyarchive.archive import Archive
from skyarchive.db.catalogue_generation import CATALOGUE_TABLES
from skyarchive.db.tables import metadata, observations
from skyarchive.ingest.run import ingest_paths
from tests.e2e.callers import create_callers, headers_for

# among the slowest files: handed out first (tests/suite.py)
pytestmark = pytest.mark.slow

FIRST_PROGRAMS = ("jw01073", "jw04567")  # 4567 is the demo's exclusive-access program
LATER_PROGRAM = "jw01558"
M57 = (283.396, 33.029)
SECONDS_PER_DAY = 86_400.0


def invoke_body(service: str, params: dict, **extra: object) -> dict[str, str]:
    return {"request": json.dumps({"service": service, "params": params, **extra})}


def filters(**chosen: str) -> list[dict]:
    return [{"paramName": name, "values": [value]} for name, value in chosen.items()]


JWST_ROWS = invoke_body(
    "Mast.Caom.Filtered", {"columns": "*", "filters": filters(obs_collection="JWST")}
)
ASKS = {
    "every JWST row": JWST_ROWS,
    "JWST count": invoke_body(
        "Mast.Caom.Filtered", {"columns": "COUNT_BIG(*)", "filters": filters(obs_collection="JWST")}
    ),
    "cone": invoke_body("Mast.Caom.Cone", {"ra": M57[0], "dec": M57[1], "radius": 0.2}),
    "second page as CSV": invoke_body(
        "Mast.Caom.Filtered",
        {"columns": "*", "filters": filters(obs_collection="JWST")},
        format="csv",
        page=2,
        pagesize=3,
    ),  # fmt: skip
    "keyword query": invoke_body(
        "Mast.Jwst.Filtered.Nircam", {"columns": "*", "filters": filters(exp_type="NRC_IMAGE")}
    ),
}


def _ingest(archive: Archive, source: Path, *programs: str) -> None:
    paths = [source / "jwst" / program for program in programs]
    report = ingest_paths(paths, engine=archive.engine, storage=archive.storage,
                          default_eap_months=12)  # fmt: skip
    assert report.ok, report.failed


@pytest.fixture
def archive(
    archive_snapshots, database_kind: str, tmp_path: Path, demo_output
) -> Iterator[Archive]:  # type: ignore[no-untyped-def]
    """An archive of two demo programs (a third is ingested by the tests): ingested once per
    session and database, copied for each test (tests/archives.py)."""

    def build(empty: Archive) -> None:
        _ingest(empty, Path(demo_output[0]), *FIRST_PROGRAMS)

    with archive_snapshots.copy("two-demo-programs", build, kind=database_kind,
                                folder=tmp_path) as copied:  # fmt: skip
        yield copied


@pytest.fixture
def servers(archive: Archive, tmp_path: Path) -> Iterator[tuple[Served, Served]]:
    """Two worker processes keeping answers, and one server computing every answer afresh."""
    url = archive.settings.resolved_database_url
    with served_together(
        Served(archive.settings.home, url, 2, log=tmp_path / "kept.log"),
        Served(archive.settings.home, url, 1, env={"SKYARCHIVE_ANSWER_CACHE": "false"}),
    ) as (kept, fresh):
        yield kept, fresh


def answers(client: httpx.Client, asks: dict[str, dict[str, str]], **headers: str) -> dict:
    out = {}
    for name, body in asks.items():
        answer = client.post("/api/v0/invoke", data=body, headers=headers)
        assert answer.status_code == 200, (name, answer.text[:300])
        out[name] = (answer.headers["content-type"], answer.content)
    return out


def clients_on_both_processes(served: Served) -> list[httpx.Client]:
    """Keep-alive clients whose connections are held by both worker processes.

    The kernel places each connection by a hash of its addresses: 8 all landed on one
    process about once in 128 tries, so clients are added, 8 at a time, until both hold one
    (64 on one process alone: one chance in 10^19)."""
    clients: list[httpx.Client] = []
    while len(clients) < 64:
        more = [httpx.Client(base_url=served.url, timeout=60) for _ in range(8)]
        for client in more:
            client.get("/api/")
        clients += more
        held = connections_per_process(served.pids(), served.port)
        if len([pid for pid, n in held.items() if n > 0]) == 2:
            return clients
    raise AssertionError(f"{len(clients)} connections, all on one process: {held}")


def test_kept_answers_equal_fresh_ones_before_and_after_an_ingest_on_both_processes(
    archive: Archive, servers: tuple[Served, Served], demo_output
) -> None:  # type: ignore[no-untyped-def]
    kept_server, fresh_server = servers
    clients = clients_on_both_processes(kept_server)
    fresh = httpx.Client(base_url=fresh_server.url, timeout=60)
    before = answers(fresh, ASKS)
    for _ in range(2):  # the first round fills each process's cache, the second reads it
        for client in clients:
            assert answers(client, ASKS) == before
    jwst_before = json.loads(before["every JWST row"][1])["data"]
    obsids = ",".join(str(row["obsid"]) for row in jwst_before[:5])
    products = {"products": invoke_body("Mast.Caom.Products", {"obsid": obsids})}
    for client in clients:
        assert answers(client, products) == answers(fresh, products)

    _ingest(archive, Path(demo_output[0]), LATER_PROGRAM)  # another process writes

    after = answers(fresh, ASKS)
    jwst_after = json.loads(after["every JWST row"][1])["data"]
    assert {row["proposal_id"] for row in jwst_after} - {
        row["proposal_id"] for row in jwst_before
    } == {"1558"}
    for client in clients:
        assert answers(client, ASKS) == after
    for client in clients:
        client.close()


def test_an_exclusive_row_turns_public_at_its_release_date_without_a_write(
    archive: Archive, servers: tuple[Served, Served]
) -> None:
    kept_server, fresh_server = servers
    with archive.engine.begin() as conn:
        obsid = conn.scalar(
            select(observations.c.obsid).where(observations.c.proposal_id == "4567").limit(1)
        )
    program_rows = {"program 4567": invoke_body(
        "Mast.Caom.Filtered", {"columns": "*", "filters": filters(proposal_id="4567")}
    )}  # fmt: skip
    callers = create_callers(archive.engine, "4567")
    clients = clients_on_both_processes(kept_server)
    fresh = httpx.Client(base_url=fresh_server.url, timeout=60)

    def rights(answer: dict) -> str:
        rows = json.loads(answer["program 4567"][1])["data"]
        return next(row["dataRights"] for row in rows if str(row["obsid"]) == str(obsid))

    release_in = 15.0  # seconds from now: time for a few rounds on a busy machine
    with archive.engine.begin() as conn:
        conn.execute(
            update(observations).where(observations.c.obsid == obsid)
            .values(t_obs_release=now_mjd() + release_in / SECONDS_PER_DAY)
        )  # fmt: skip
    released_at = time.monotonic() + release_in
    compared = 0
    expected = answers(fresh, program_rows)
    assert rights(expected) == "EXCLUSIVE_ACCESS"
    while time.monotonic() < released_at - 4:  # keep asking: every process keeps the answer
        for who in ("anonymous", "other", "coi", "pi"):  # nobody's answer differs from another's
            for client in clients:
                answer = answers(client, program_rows, **headers_for(callers, who))
                if time.monotonic() >= released_at - 1:  # asked too near the release to judge
                    break
                assert answer == expected
                compared += 1
    assert compared >= len(clients)
    time.sleep(max(0.0, released_at - time.monotonic()) + 0.5)

    expected = answers(fresh, program_rows)
    assert rights(expected) == "PUBLIC"
    for client in clients:
        assert answers(client, program_rows) == expected
        assert answers(client, program_rows, **headers_for(callers, "pi")) == expected


def test_an_answer_is_served_again_until_a_write_the_watcher_sees(archive: Archive) -> None:
    """In process: a change written past SQLAlchemy (so no generation bump) is not seen, which
    shows the second answer came from the cache; the same change written through the archive's
    engine is seen at once."""
    body = JWST_ROWS["request"]
    cache = open_answer_cache(archive)
    first = invoke(archive, body, cache=cache).body
    with archive.engine.begin() as conn:
        obsid = conn.scalar(select(observations.c.obsid).limit(1))
    edit_past_skyarchive(archive, f"UPDATE observations SET target_name = 'UNSEEN' "
                                  f"WHERE obsid = {obsid}")  # fmt: skip
    assert invoke(archive, body, cache=cache).body == first
    with archive.engine.begin() as conn:
        conn.execute(
            update(observations).where(observations.c.obsid == obsid).values(target_name="SEEN")
        )
    answer = invoke(archive, body, cache=cache).body
    targets = {row["target_name"] for row in json.loads(answer)["data"]}
    assert "SEEN" in targets and "UNSEEN" not in targets


CACHED_SERVICE_ASKS = [
    *ASKS.values(),
    invoke_body("Mast.Caom.Filtered.Position", {"columns": "*", "filters": [],
                                                 "position": f"{M57[0]}, {M57[1]}, 0.2"}),
    invoke_body("Skyarchive.Jwst.Filtered.Observations",
                {"table": "Nircam", "columns": "*", "filters": filters(exp_type="NRC_IMAGE")}),
    invoke_body("Mast.Caom.Products", {"obsid": "1,2,3,4,5"}),
]  # fmt: skip


def test_cached_services_read_only_tables_whose_writes_bump_the_generation(
    demo_archive: Archive,
) -> None:
    """A cached service reading a table the watcher ignores would keep stale answers."""
    uncached = Archive.open(demo_archive.settings.model_copy(update={"answer_cache": False}),
                            migrate=False)  # fmt: skip
    statements: list[str] = []
    event.listen(uncached.read_engine, "before_cursor_execute",
                 lambda _c, _cur, statement, *_rest: statements.append(statement))  # fmt: skip
    try:
        for ask in CACHED_SERVICE_ASKS:
            assert is_cached(json.loads(ask["request"])["service"])
            assert invoke(uncached, ask["request"]).status_code == 200
    finally:
        uncached.engine.dispose()
    read = tables_named(statements)
    assert "observations" in read and "products" in read and "product_keywords" in read
    assert read - CATALOGUE_TABLES <= {"catalogue_generation"}


def program_rows(client: httpx.Client, proposal_id: str) -> list[dict]:
    """The MAST API's rows of one program, as the server answers them."""
    body = invoke_body("Mast.Caom.Filtered",
                       {"columns": "*", "filters": filters(proposal_id=proposal_id)})  # fmt: skip
    answer = client.post("/api/v0/invoke", data=body)
    assert answer.status_code == 200, answer.text[:300]
    return list(json.loads(answer.content)["data"])


def edit_past_skyarchive(archive: Archive, statement: str) -> None:
    """``statement`` run and committed on the bare driver, as an operator's sqlite3 or psql."""
    raw = archive.engine.raw_connection()
    try:
        raw.cursor().execute(statement)
        raw.commit()
    finally:
        raw.close()


def run_cli(archive: Archive, *args: str) -> subprocess.CompletedProcess[str]:
    """``skyarchive ARGS`` over the archive, in a process of its own."""
    return subprocess.run(
        [sys.executable, "-m", "skyarchive", "--home", str(archive.settings.home), *args],
        env={**os.environ, "SKYARCHIVE_DATABASE_URL": archive.settings.resolved_database_url},
        check=True, timeout=120, capture_output=True, text=True,
    )  # fmt: skip


@pytest.mark.parametrize("notify", ["true", "false"])
def test_a_cli_write_is_seen_by_the_next_request_with_the_watch_on_and_off(
    archive: Archive, tmp_path: Path, notify: str
) -> None:
    """``answer_cache_notify`` on (the server learns of writes from SQLite's data_version or
    PostgreSQL's notifications) and off (it reads the generation per request): a change made
    past skyarchive is not seen (the answer is the kept one), and the next request after
    ``skyarchive program set-eap`` in another process sees the write."""
    url = archive.settings.resolved_database_url
    env = {"SKYARCHIVE_ANSWER_CACHE_NOTIFY": notify}
    with Served(archive.settings.home, url, 1, env=env) as served, \
            httpx.Client(base_url=served.url, timeout=60) as client:  # fmt: skip
        before = program_rows(client, "4567")
        assert before and {row["dataRights"] for row in before} == {"EXCLUSIVE_ACCESS"}
        edit_past_skyarchive(archive, "UPDATE observations SET target_name = 'UNSEEN' "
                                      "WHERE proposal_id = '4567'")  # fmt: skip
        assert program_rows(client, "4567") == before  # kept: the generation did not move

        run_cli(archive, "program", "set-eap", "4567", "0")
        after = program_rows(client, "4567")  # the very next request
        assert {row["dataRights"] for row in after} == {"PUBLIC"}
        assert {row["target_name"] for row in after} == {"UNSEEN"}


def test_after_a_hand_edit_catalogue_changed_has_every_server_answer_afresh(
    archive: Archive,
) -> None:
    """An operator who edits rows with sqlite3 or psql runs ``skyarchive catalogue-changed``:
    the answers the server kept until then are dropped, and the next request reads the edit."""
    url = archive.settings.resolved_database_url
    with Served(archive.settings.home, url, 1) as served, \
            httpx.Client(base_url=served.url, timeout=60) as client:  # fmt: skip
        before = program_rows(client, "1073")
        assert before and "EDITED BY HAND" not in {row["target_name"] for row in before}
        edit_past_skyarchive(archive, "UPDATE observations SET target_name = 'EDITED BY HAND' "
                                      "WHERE proposal_id = '1073'")  # fmt: skip
        assert program_rows(client, "1073") == before  # kept: nothing told the server

        told = run_cli(archive, "catalogue-changed")
        assert "generation now" in told.stderr, told.stderr
        after = program_rows(client, "1073")  # the very next request
        assert {row["target_name"] for row in after} == {"EDITED BY HAND"}


# --- the portal's search: its answer tells each caller what they may retrieve -------------


def portal_body(collection: str, text: str, **more: object) -> dict:
    return {"collection": collection, "text": text, "filters": [], "facets": {}, "sort": None,
            "descending": False, "page": 1, "pagesize": 50, **more}  # fmt: skip


PORTAL_ASKS = {
    "program 4567 (exclusive)": portal_body("program", "4567"),
    "programs 1073, 4567": portal_body("program", "1073, 4567"),
    "position": portal_body("position", f"{M57[0]} {M57[1]} r=12m"),
    "filters, sorted": portal_body(
        "filters",
        "",
        filters=filters(obs_collection="JWST"),
        sort="proposal_id",
        descending=True,
    ),  # fmt: skip
}
PORTAL_CALLERS = ("pi", "anonymous", "other", "coi", "admin", "expired")


def portal_answers(client: httpx.Client, headers: dict[str, str]) -> dict[str, bytes]:
    out = {}
    for name, body in PORTAL_ASKS.items():
        answer = client.post("/api/portal/search", json=body, headers=headers)
        assert answer.status_code == 200, (name, answer.text[:300])
        assert answer.headers["content-type"] == "application/json"
        out[name] = answer.content
    return out


def may_retrieve(answer: bytes) -> set[bool]:
    return {row["mayRetrieve"] for row in json.loads(answer)["rows"]}


def test_portal_search_answers_are_each_callers_own_and_equal_fresh_ones(
    archive: Archive, servers: tuple[Served, Served]
) -> None:
    """Whoever asks first, every caller gets, from either worker's cache, the bytes a server
    without the cache computes for that caller: the PI's answer (exclusive rows retrievable)
    never reaches an outsider or an anonymous caller, nor theirs the PI."""
    kept_server, fresh_server = servers
    callers = create_callers(archive.engine, "4567")
    clients = clients_on_both_processes(kept_server)
    fresh = httpx.Client(base_url=fresh_server.url, timeout=60)
    expected = {who: portal_answers(fresh, headers_for(callers, who)) for who in PORTAL_CALLERS}
    exclusive = "program 4567 (exclusive)"
    assert may_retrieve(expected["pi"][exclusive]) == {True}
    assert may_retrieve(expected["admin"][exclusive]) == {True}
    for who in ("anonymous", "other", "expired"):
        assert may_retrieve(expected[who][exclusive]) == {False}
    for order in (PORTAL_CALLERS, PORTAL_CALLERS[::-1]):  # the PI first, then last
        for who in order:
            for client in clients:
                assert portal_answers(client, headers_for(callers, who)) == expected[who], who
    for client in clients:
        client.close()


def test_portal_search_sees_catalogue_writes_and_release_dates(
    archive: Archive, servers: tuple[Served, Served]
) -> None:
    """A kept answer is served again (a change written past SQLAlchemy is not seen), until a
    catalogue write, a release date changed through the archive, or a release date reached."""
    kept_server, fresh_server = servers
    body = portal_body("program", "4567")
    kept = httpx.Client(base_url=kept_server.url, timeout=60)
    fresh = httpx.Client(base_url=fresh_server.url, timeout=60)

    def rows(client: httpx.Client) -> list[dict]:
        answer = client.post("/api/portal/search", json=body)
        assert answer.status_code == 200, answer.text[:300]
        return list(json.loads(answer.content)["rows"])

    # PostgreSQL's workers hear of another process's write by a notification, a moment after
    # its commit (docs/deployment.md, "Stale window"); SQLite's see it on the next request.
    window = 5.0 if archive.engine.dialect.name == "postgresql" else 0.0

    def same() -> list[dict]:
        """The kept server's answer, once equal to the fresh server's (within the window)."""
        deadline = time.monotonic() + window
        while True:
            answer = kept.post("/api/portal/search", json=body).content
            if answer == fresh.post("/api/portal/search", json=body).content:
                return list(json.loads(answer)["rows"])
            assert time.monotonic() < deadline, "the kept answer outlived a write"
            time.sleep(0.1)

    before = same()
    assert before and {row["mayRetrieve"] for row in before} == {False}
    edit_past_skyarchive(
        archive, "UPDATE observations SET target_name = 'UNSEEN' WHERE proposal_id = '4567'"
    )
    for _ in range(4):  # either worker: kept, the generation did not move
        assert rows(kept) == before
    with archive.engine.begin() as conn:  # a catalogue write through the archive
        conn.execute(update(observations).where(observations.c.proposal_id == "4567")
                     .values(target_name="SEEN"))  # fmt: skip
    for _ in range(4):
        assert {row["target_name"] for row in same()} == {"SEEN"}

    # A release date changed through the archive, then reached without a write. Whether the
    # answers before it were still exclusive is judged only if they came before the date: on
    # a loaded machine they may not, and then the date is set again further ahead.
    for release_in in (8.0, 20.0, 60.0):  # seconds from now
        release = now_mjd() + release_in / SECONDS_PER_DAY
        with archive.engine.begin() as conn:
            conn.execute(update(observations).where(observations.c.proposal_id == "4567")
                         .values(t_obs_release=release))  # fmt: skip
        released_at = time.monotonic() + release_in
        before_release = [same(), rows(kept)]
        if time.monotonic() < released_at - 1:
            break
    else:
        pytest.fail("no answer came before a release date a minute ahead")
    for answer in before_release:
        assert {row["mayRetrieve"] for row in answer} == {False}
    time.sleep(max(0.0, released_at - time.monotonic()) + 0.5)
    for _ in range(4):  # the release date reached, no write
        after = same()
        assert {row["mayRetrieve"] for row in after} == {True}
        assert {row["dataRights"] for row in after} == {"PUBLIC"}
    kept.close()
    fresh.close()


def test_a_kept_portal_answer_is_sent_only_for_the_bytes_and_content_type_it_answered(
    archive: Archive, tmp_path: Path
) -> None:
    """The portal search is looked up in the cache before its body is read: under the bytes
    and the content type as sent. The same bytes sent as another content type are never
    answered by the kept answer: refused when it is not JSON, computed when it is."""
    body = json.dumps(portal_body("program", "4567")).encode()
    url = archive.settings.resolved_database_url
    with Served(archive.settings.home, url, 1, log=tmp_path / "kept.log") as served, \
            httpx.Client(base_url=served.url, timeout=60) as client:  # fmt: skip

        def post(content_type: str) -> httpx.Response:
            return client.post("/api/portal/search", content=body,
                               headers={"Content-Type": content_type})  # fmt: skip

        def names(answer: httpx.Response) -> set[str]:
            assert answer.status_code == 200, answer.text[:300]
            return {row["target_name"] for row in answer.json()["rows"]}

        before = names(post("application/json"))
        assert before and "UNSEEN" not in before
        edit_past_skyarchive(  # the generation does not move: a kept answer stays
            archive, "UPDATE observations SET target_name = 'UNSEEN' WHERE proposal_id = '4567'"
        )
        assert names(post("application/json")) == before  # the kept answer
        refused = post("text/plain")
        assert refused.status_code == 400, refused.text[:300]
        assert refused.json()["error"]["message"].startswith("body")
        assert names(post("application/json; charset=utf-8")) == {"UNSEEN"}  # computed


@pytest.mark.parametrize("name", sorted(PORTAL_ASKS) + ["position by name"])
def test_a_kept_portal_search_reads_only_tables_whose_writes_bump_the_generation(
    demo_archive: Archive, name: str
) -> None:
    """As for the MAST services: a kept portal search reading a table the generation ignores
    (a name's resolution included) would keep stale answers."""
    body = portal_body("position", "m57 r=1m") if name == "position by name" else PORTAL_ASKS[name]
    uncached = Archive.open(demo_archive.settings, migrate=False)
    statements: list[str] = []
    for engine in {uncached.engine, uncached.read_engine}:
        event.listen(engine, "before_cursor_execute",
                     lambda _c, _cur, statement, *_rest: statements.append(statement))  # fmt: skip
    try:
        answer = search_answer(SearchRequest(**body), uncached, ANONYMOUS, now_mjd())
        assert json.loads(answer.body)["rows"]
    finally:
        uncached.engine.dispose()
    read = tables_named(statements)
    assert "observations" in read
    assert read - CATALOGUE_TABLES <= {"catalogue_generation"}, read - CATALOGUE_TABLES


def tables_named(statements: list[str]) -> set[str]:
    """The archive's tables that any of ``statements`` names."""
    return {
        table for table in metadata.tables
        for statement in statements if re.search(rf'\b"?{table}"?\b', statement)
    }  # fmt: skip
