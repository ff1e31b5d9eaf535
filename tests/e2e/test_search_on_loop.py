"""Searches tried on the event loop under a budget (loop_budget.py, SearchThreads.run_short),
through the real server on SQLite and PostgreSQL: whether a search ran on the loop, was stopped
and run again in a thread, or ran in a thread only, its answer is byte for byte the same; a kept
answer is the computed one; and a search that would wait (for the target names being read as
the server starts) waits in a thread, never on the loop."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import Connection, event, func, select
from sqlalchemy.exc import OperationalError

from skyarchive import loop_budget
from skyarchive.access.policy import ANONYMOUS
from skyarchive.access.rights import now_mjd
from skyarchive.api import search_threads as search_threads_module
from skyarchive.api.mast import formats
from skyarchive.api.mast.registry import is_cached
from skyarchive.api.mast.routes import invoke as mast_invoke
from skyarchive.api.portal.search import SearchRequest, search_answer
from skyarchive.api.search_threads import SearchThreads
from skyarchive.archive import Archive
from skyarchive.db.tables import observations
from tests.api.test_search_threads import burn
from tests.e2e.conftest import LiveServer
from tests.sky.test_archive_targets import slowed_loads

M57 = (283.396, 33.029)
#: Seconds a client waits at most for an answer (a busy machine is slow).
WAIT = 30.0
#: How soon a simple request must answer while a name search waits for the target names: far
#: less than the load, which lasts until the test ends it (at most WAIT).
PROMPTLY = 3.0
#: Budgets of the three servers compared: threads only; so small that every search that reads
#: a row is stopped and run again in a thread; the most the setting allows, so that each
#: search fits it even cold on a busy machine (the default's 2 ms decides where a search
#: runs, not its answer: at 2 ms a cold cone under a parallel test's load was stopped).
THREADS_ONLY, EVERY_SEARCH_STOPPED, GENEROUS_BUDGET = 0.0, 0.001, 50.0
#: CPU time a piece of an answer is made to cost, where its encoding is timed.
PIECE_SECONDS = 0.0002


def run_out_in(budget: loop_budget.Budget, seconds: float) -> None:
    """Make ``budget`` end ``seconds`` of CPU time from now: its clock's end too, which tells
    until when the CPU time need not be read (a thread's CPU time never outruns the clock)."""
    budget.deadline = time.thread_time() + seconds
    budget.clock_deadline = time.perf_counter() + seconds


def invoke(service: str, params: dict[str, Any], **extra: object) -> tuple[str, dict]:
    body = {"request": json.dumps({"service": service, "params": params, **extra})}
    return "/api/v0/invoke", {"data": body}


def portal(**body: object) -> tuple[str, dict]:
    return "/api/portal/search", {"json": body}


def filters(**chosen: str) -> list[dict[str, Any]]:
    return [{"paramName": name, "values": [value]} for name, value in chosen.items()]


def target_names(archive: Archive) -> dict[str, tuple[float, float]]:
    """Each target name of the archive, with its mean position (as the name index reads it)."""
    obs = observations.c
    query = (
        select(obs.target_name, func.avg(obs.s_ra), func.avg(obs.s_dec))
        .where(obs.target_name.is_not(None), obs.s_ra.is_not(None))
        .group_by(obs.target_name)
        .order_by(obs.target_name)
    )
    with archive.engine.connect() as conn:
        return {name: (float(ra), float(dec)) for name, ra, dec in conn.execute(query)}


def asks(archive: Archive) -> dict[str, tuple[str, dict]]:
    """Requests of every kind a search tried on the loop meets, named."""
    with archive.engine.connect() as conn:
        obsids = conn.scalars(
            select(observations.c.obsid).order_by(observations.c.obsid).limit(40)
        ).all()
    name = next(iter(target_names(archive)))
    jwst = {"columns": "*", "filters": filters(obs_collection="JWST")}
    return {
        "cone": invoke("Mast.Caom.Cone", {"ra": M57[0], "dec": M57[1], "radius": 0.2}),
        "position as text": invoke(
            "Mast.Caom.Filtered.Position",
            {"columns": "*", "filters": [], "position": f"{M57[0]}, {M57[1]}, 0.2"},
        ),
        "target name": invoke(
            "Mast.Caom.Filtered", {"columns": "*", "filters": filters(target_name=name)}
        ),
        "criteria": invoke(
            "Mast.Caom.Filtered",
            {
                "columns": "*",
                "filters": [
                    *filters(obs_collection="JWST"),
                    {"paramName": "calib_level", "values": [2, 3]},
                ],
            },
        ),
        "count": invoke(
            "Mast.Caom.Filtered", {"columns": "COUNT_BIG(*)", "filters": jwst["filters"]}
        ),
        "every JWST row": invoke("Mast.Caom.Filtered", jwst),
        "a page": invoke("Mast.Caom.Filtered", jwst, page=2, pagesize=7),
        "products": invoke(
            "Mast.Caom.Products", {"obsid": ",".join(str(obsid) for obsid in obsids)}
        ),
        "keywords": invoke(
            "Mast.Jwst.Filtered.Nircam", {"columns": "*", "filters": filters(exp_type="NRC_IMAGE")}
        ),
        "name lookup": invoke("Mast.Name.Lookup", {"input": name}),
        "name lookup by catalogue": invoke("Mast.Name.Lookup", {"input": "M57"}),
        "unknown name": invoke("Mast.Name.Lookup", {"input": "No Such Thing"}),
        "unknown column": invoke(
            "Mast.Caom.Filtered", {"columns": "*", "filters": filters(instrumnt_name="MIRI")}
        ),
        "unknown column as CSV": invoke(
            "Mast.Caom.Filtered",
            {"columns": "*", "filters": filters(instrumnt_name="MIRI")},
            format="csv",
        ),
        "CSV": invoke("Mast.Caom.Filtered", jwst, format="csv"),
        "VOTable": invoke(
            "Mast.Caom.Cone", {"ra": M57[0], "dec": M57[1], "radius": 0.2}, format="votable"
        ),  # fmt: skip
        "portal by position": portal(text=f"{M57[0]} {M57[1]} r=12m"),
        "portal by name": portal(text="m57 r=1m"),
        "portal by program": portal(collection="program", text="1073, 1558"),
        "portal by program and facet": portal(
            collection="program",
            text="1073, 1558",
            facets={"instrument_name": ["NIRCAM"]},
            sort="t_min",
            descending=True,
        ),
        "portal bad position": portal(text="999 999"),
    }


Answer = tuple[int, str, bytes]
#: Where a request's search ran: answered on the loop, stopped there and run in a thread, or
#: run in a thread only ("" when the request never reached a search: a parse error).
ON_LOOP, STOPPED, IN_THREAD = "on the loop", "stopped on the loop", "in a thread"
#: Requests that may be answered whole on the loop under any budget: they read no rows (a
#: name found in the index in memory, a request refused before its search).
NO_ROWS = {"name lookup", "name lookup by catalogue", "unknown name", "unknown column",
           "unknown column as CSV", "portal bad position"}  # fmt: skip


class Tries:
    """Where a server's searches ran, in order (the SearchThreads of its app, watched)."""

    def __init__(self, threads: SearchThreads) -> None:
        self.places: list[str] = []
        real = threads.run_short

        async def run_short(service: str, search: Callable[[Connection | None], Any]) -> Any:
            tried = moved = False

            def watched(conn: Connection | None) -> Any:
                nonlocal tried, moved
                if threading.current_thread().name.startswith("skyarchive-search"):
                    moved = True
                else:
                    tried = True
                return search(conn)

            answer = await real(service, watched)
            self.places.append(STOPPED if tried and moved else IN_THREAD if moved else ON_LOOP)
            return answer

        threads.run_short = run_short  # type: ignore[method-assign]


Places = dict[str, list[str]]


def answers(
    server: LiveServer, requests: dict[str, tuple[str, dict]], tries: Tries
) -> tuple[dict[str, Answer], Places]:
    """Each request's answer, and where its search ran (none when it never reached one)."""
    out, places = {}, {}
    with httpx.Client(base_url=server.url, timeout=WAIT) as client:
        for name, (path, kwargs) in requests.items():
            before = len(tries.places)
            got = client.post(path, **kwargs)
            out[name] = (got.status_code, got.headers["content-type"], got.content)
            places[name] = tries.places[before:]
    return out, places


@contextmanager
def served(
    demo_archive: Archive, search_on_loop_ms: float | None, *, answer_cache: bool = False
) -> Iterator[tuple[LiveServer, Tries]]:
    """A server over the demo archive with its own settings, and where its searches ran."""
    update: dict[str, object] = {"answer_cache": answer_cache}
    if search_on_loop_ms is not None:  # on either database
        update["search_on_loop_ms"] = update["postgres_search_on_loop_ms"] = search_on_loop_ms
    archive = Archive.open(demo_archive.settings.model_copy(update=update), migrate=False)
    try:
        with LiveServer(archive) as server:
            threads: SearchThreads = server.app.state.search_threads
            assert threads.loop_budget_ms == archive.search_on_loop_ms
            yield server, Tries(threads)
    finally:
        archive.close()


@pytest.fixture
def every_search_tried_on_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """No service is sent straight to the threads after an overrun: each search of the tests
    is tried on the loop first (and, under the smallest budget, stopped there)."""
    monkeypatch.setattr(search_threads_module, "THREADED_AFTER_OVERRUN", 0)


@pytest.mark.usefixtures("every_search_tried_on_the_loop")
def test_answers_are_the_same_on_the_loop_stopped_there_or_in_a_thread(
    demo_archive: Archive,
) -> None:
    answers_are_the_same_wherever_searched(demo_archive)


@pytest.mark.postgres
@pytest.mark.parametrize("database_kind", ["postgresql"])
@pytest.mark.usefixtures("every_search_tried_on_the_loop")
def test_on_postgresql_answers_are_the_same_on_the_loop_stopped_there_or_in_a_thread(
    demo_archive_copy: Archive,
) -> None:
    """The loop waits for the statements of a search tried there; the database stops each past
    the budget (Archive.loop_search_engine), the CPU budget stops the rest."""
    answers_are_the_same_wherever_searched(demo_archive_copy)


def answers_are_the_same_wherever_searched(archive: Archive) -> None:
    """Every kind of request answered alike by servers over ``archive`` whose searches run in a
    thread only, are all stopped on the loop, or (most of them) run there."""
    requests = asks(archive)
    got: dict[float | None, dict[str, Answer]] = {}
    places: dict[float | None, Places] = {}
    for budget in (THREADS_ONLY, EVERY_SEARCH_STOPPED, GENEROUS_BUDGET):
        with served(archive, budget) as (server, tries):
            got[budget], places[budget] = answers(server, requests, tries)

    threads_only = got[THREADS_ONLY]
    for name, answer in threads_only.items():
        for budget in (EVERY_SEARCH_STOPPED, GENEROUS_BUDGET):
            assert got[budget][name] == answer, (name, budget)
    # the answers say what they should, not merely the same thing thrice
    refused = {"unknown column as CSV", "portal bad position"}
    assert {name for name, (status, *_) in threads_only.items() if status != 200} == refused
    assert json.loads(threads_only["unknown column"][2])["status"] == "ERROR"
    assert threads_only["CSV"][1].startswith("text/csv")
    counted = json.loads(threads_only["count"][2])["data"][0]["Column1"]
    assert counted == len(json.loads(threads_only["every JWST row"][2])["data"]) > 0
    assert len(json.loads(threads_only["products"][2])["data"]) > 40  # a few per obsid

    # and each server ran its searches where its budget says
    assert all(where in ([], [IN_THREAD]) for where in places[THREADS_ONLY].values())
    stopped = places[EVERY_SEARCH_STOPPED]
    assert [name for name, where in stopped.items()
            if where != [STOPPED] and name not in NO_ROWS] == [], stopped  # fmt: skip
    on_loop = [name for name, where in places[GENEROUS_BUDGET].items() if where == [ON_LOOP]]
    assert len(on_loop) > len(requests) // 2, places[GENEROUS_BUDGET]


@pytest.mark.usefixtures("every_search_tried_on_the_loop")
def test_an_answer_kept_after_a_search_stopped_on_the_loop_is_the_computed_one(
    demo_archive: Archive,
) -> None:
    requests = asks(demo_archive)
    with served(demo_archive, THREADS_ONLY) as (server, tries):
        computed, _places = answers(server, requests, tries)
    with served(demo_archive, EVERY_SEARCH_STOPPED, answer_cache=True) as (server, tries):
        first, searched = answers(server, requests, tries)
        again, searched_again = answers(server, requests, tries)
    assert first == computed
    assert again == computed
    stopped = [name for name, where in searched.items() if where == [STOPPED]]
    assert "cone" in stopped and "portal by program" in stopped, searched
    # the second time, the cached services' answers were those kept, with no search at all
    kept = {name for name, where in searched_again.items() if not where}
    assert {name for name in stopped if is_cached_ask(requests[name])} <= kept, searched_again


def is_cached_ask(ask: tuple[str, dict]) -> bool:
    """Whether the answer cache keeps the answer of a request of :func:`asks`."""
    path, kwargs = ask
    if path == "/api/portal/search":
        return True
    return is_cached(json.loads(kwargs["data"]["request"])["service"])


@pytest.mark.usefixtures("every_search_tried_on_the_loop")
def test_a_streamed_answer_is_never_sent_from_the_loop(
    demo_archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An answer too long to send whole is streamed, and a stream waits for its client while
    it holds its connection: its search goes to a thread, however short. (The demo's answers
    are all short of the 5,000 rows past which one is streamed: the bar is lowered.)"""
    monkeypatch.setattr("skyarchive.api.mast.routes._BUFFERED_ROWS", 10)
    every = asks(demo_archive)
    requests = {name: every[name] for name in ("every JWST row", "products", "CSV", "count")}
    with served(demo_archive, THREADS_ONLY) as (server, tries):
        in_threads, _places = answers(server, requests, tries)
    with served(demo_archive, GENEROUS_BUDGET) as (server, tries):
        tried, places = answers(server, requests, tries)
    assert tried == in_threads
    assert places == {"every JWST row": [STOPPED], "products": [STOPPED], "CSV": [STOPPED],
                      "count": [ON_LOOP]}  # fmt: skip
    rows = json.loads(in_threads["every JWST row"][2])["data"]
    assert len(rows) == json.loads(in_threads["count"][2])["data"][0]["Column1"] > 10


@pytest.mark.parametrize("fmt", ["votable", "csv"])
def test_an_answer_is_stopped_while_it_is_encoded(
    demo_archive: Archive, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    """The encoding of an answer is a search's work too: on the loop, its budget is looked at
    every few pieces (a row each), not once the whole answer (under one 256 KiB chunk) is
    written. In process: each piece is made to cost a known CPU time, and the budget to run
    out ten pieces into the encoding. (JSON rows come encoded by the database and are joined a
    batch at a time: a few cheap pieces.)"""
    written: list[bytes] = []
    real_pieces = formats.table_pieces
    pieces_in_budget = 10

    def slow_pieces(*args: Any) -> Iterator[bytes]:
        budget = loop_budget._current.get()
        if budget is not None:  # what the search did before, however long, is not counted
            run_out_in(budget, pieces_in_budget * PIECE_SECONDS)
        for piece in real_pieces(*args):
            burn(PIECE_SECONDS)
            written.append(piece)
            yield piece

    monkeypatch.setattr(formats, "table_pieces", slow_pieces)
    raw = invoke("Mast.Caom.Filtered", {"columns": "*", "filters": filters(obs_collection="JWST")},
                 format=fmt)[1]["data"]["request"]  # fmt: skip
    everything = mast_invoke(demo_archive, raw)  # outside a budget: no look at all
    assert everything.status_code == 200
    whole = len(written)
    written.clear()
    with demo_archive.loop_read_engine.connect() as conn, pytest.raises(loop_budget.OverBudget), \
            loop_budget.spending(60.0) as budget:  # fmt: skip
        mast_invoke(demo_archive, raw, conn=conn)
    assert budget.interrupted
    # stopped at the first look past the budget: at most a check's worth of pieces later
    # (sooner when a piece costs more than made to: VOTable's header, written by astropy)
    assert 1 <= len(written) <= pieces_in_budget + loop_budget.ROWS_PER_CHECK
    assert len(written) < whole, (len(written), whole)


def test_a_portal_search_of_many_short_statements_is_stopped_between_them(
    demo_archive: Archive,
) -> None:
    """A portal search is a page, then its facets: several statements, each too short for
    SQLite's progress handler. On the loop's engine none begins once the budget is spent. In
    process: the budget is made to run out as the first facet statement ends, after the
    page's rows are made (whose own looks at the budget would stop it there)."""
    engine = demo_archive.loop_read_engine
    body = SearchRequest(collection="program", text="1073, 1558",
                         facets={"instrument_name": ["NIRCAM/IMAGE"]})  # fmt: skip
    begun: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        begun.append(statement)
        budget = loop_budget._current.get()
        if budget is not None and len(begun) == 2:  # the page's, then the first facets'
            run_out_in(budget, 0.0)

    event.listen(engine, "after_cursor_execute", note)
    try:
        with engine.connect() as conn:
            search_answer(body, demo_archive, ANONYMOUS, now_mjd(), conn=conn)
            whole = len(begun)
            begun.clear()
            # the statement not begun fails as one SQLite's progress handler stopped
            with pytest.raises(OperationalError, match="interrupted"), \
                    loop_budget.spending(60.0) as budget:  # fmt: skip
                search_answer(body, demo_archive, ANONYMOUS, now_mjd(), conn=conn)
    finally:
        event.remove(engine, "after_cursor_execute", note)
    assert budget.interrupted
    assert whole > 3 and len(begun) == 2, (whole, begun)


def test_a_name_search_while_the_names_are_read_at_start_waits_in_a_thread(
    demo_archive: Archive,
) -> None:
    names = target_names(demo_archive)
    name, (ra, dec) = next(iter(names.items()))
    archive = Archive.open(demo_archive.settings.model_copy(), migrate=False)
    targets = archive.target_names
    started, release = slowed_loads(targets)
    reached_lookup = threading.Event()
    real_load_first = targets._load_first

    def load_first() -> Any:
        reached_lookup.set()
        return real_load_first()

    targets._load_first = load_first  # type: ignore[method-assign]
    lookup = invoke("Mast.Name.Lookup", {"input": name})[1]["data"]
    count = invoke(
        "Mast.Caom.Filtered",
        {"columns": "COUNT_BIG(*)", "filters": filters(obs_collection="JWST")},
    )[1]["data"]
    found: list[httpx.Response | Exception] = []
    with ExitStack() as stack:
        stack.callback(archive.close)
        stack.callback(release.set)  # the load ends whatever happens, the server or not
        server = stack.enter_context(LiveServer(archive, lifespan="on"))
        stack.callback(release.set)  # and before the server stops (it waits for its loop)
        # a client that gives up soon: a blocked loop fails the test at once
        client = stack.enter_context(httpx.Client(base_url=server.url, timeout=PROMPTLY))
        assert started.wait(WAIT), "the server did not start reading the names"

        def search_by_name() -> None:
            try:
                with httpx.Client(base_url=server.url, timeout=WAIT) as own:
                    found.append(own.post("/api/v0/invoke", data=lookup))
            except httpx.HTTPError as exc:
                found.append(exc)

        searching = threading.Thread(target=search_by_name, daemon=True)
        searching.start()
        assert reached_lookup.wait(WAIT), "the name search never looked the name up"
        # the search waits for the load: the loop goes on answering meanwhile
        for simple in (lambda: client.get("/api/"),
                       lambda: client.post("/api/v0/invoke", data=count)):  # fmt: skip
            try:
                answer = simple()
            except httpx.TimeoutException:
                pytest.fail(f"no answer in {PROMPTLY} s: the name search blocks the event loop")
            assert answer.status_code == 200
        assert not found, "the name search answered before the names were read"
        release.set()
        searching.join(WAIT)
    (answer,) = found
    assert isinstance(answer, httpx.Response), answer
    assert answer.status_code == 200, answer.text
    (entry,) = answer.json()["resolvedCoordinate"]
    assert entry["resolver"] == "ARCHIVE" and entry["canonicalName"] == name
    assert entry["ra"] == pytest.approx(ra) and entry["decl"] == pytest.approx(dec)
