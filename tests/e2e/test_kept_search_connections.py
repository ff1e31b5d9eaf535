"""Each search thread keeps its connection from one search to the next
(``SearchThreads.run_search``, ``db/kept_connections.py``), through the real server: an answer
streamed to its client takes its connection over, so the searches its thread runs while the
stream is under way get another, and the stream reads on to its last row, on both databases.
On PostgreSQL the stream reads through a server-side cursor, which lives in a transaction:
had the thread kept that connection, its next search would have ended the transaction.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy import Connection

from skyarchive.api.streaming import chunked
from skyarchive.archive import Archive
from skyarchive.search import observations as observation_search
from tests.e2e.conftest import LiveServer

#: Seconds a client or a paused stream waits at most (a busy machine is slow).
WAIT = 30.0


def request(columns: str) -> dict[str, str]:
    jwst = [{"paramName": "obs_collection", "values": ["JWST"]}]
    body = {"service": "Mast.Caom.Filtered", "params": {"columns": columns, "filters": jwst}}
    return {"request": json.dumps(body)}


def test_a_streamed_answer_holds_its_connection_while_its_thread_searches_on(
    demo_archive_copy: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every answer past 10 rows is streamed, in small chunks; a page's rows past its first 5
    # are read through a stream of 3 rows a batch, which pauses at the first row it reads for
    # the stream to the client (past those the search read on its thread) until the thread
    # has run other searches.
    monkeypatch.setattr("skyarchive.api.mast.routes._BUFFERED_ROWS", 10)
    monkeypatch.setattr("skyarchive.search.observations._FIRST_ROWS", 5)
    monkeypatch.setattr("skyarchive.api.mast.routes.chunked",
                        lambda pieces: chunked(pieces, size=2_000))  # fmt: skip
    streaming, resume = threading.Event(), threading.Event()
    real_stream = observation_search.stream_rows

    def paused(conn: Connection, statement: Any, params: Any = None, *, batch: int) -> Iterator:
        for row in real_stream(conn, statement, params, batch=3):
            searching = threading.current_thread().name.startswith("skyarchive-search")
            if not searching and not streaming.is_set():
                streaming.set()
                assert resume.wait(WAIT)
            yield row

    monkeypatch.setattr("skyarchive.search.observations.stream_rows", paused)
    settings = demo_archive_copy.settings.model_copy(
        update={"search_threads": 1, "search_on_loop_ms": 0.0, "answer_cache": False}
    )
    archive = Archive.open(settings, migrate=False)
    try:
        with (
            LiveServer(archive) as server,
            httpx.Client(base_url=server.url, timeout=WAIT) as http,
            ThreadPoolExecutor(1) as client,
        ):
            expected = http.post("/api/v0/invoke", data=request("COUNT_BIG(*)")).json()
            total = expected["data"][0]["Column1"]
            assert total > 10 + 3  # streamed, past its first batch
            whole = client.submit(http.post, "/api/v0/invoke", data=request("*"))
            assert streaming.wait(WAIT), "the answer was not streamed"
            # the one search thread runs these while the stream holds its connection, in the
            # middle of its rows (on PostgreSQL, of its transaction)
            counts = [http.post("/api/v0/invoke", data=request("COUNT_BIG(*)")) for _ in range(3)]
            resume.set()
            streamed = whole.result(timeout=WAIT)
    finally:
        resume.set()
        archive.close()
    assert [answer.json() for answer in counts] == [expected] * 3
    assert streamed.status_code == 200
    rows = json.loads(streamed.content)["data"]
    assert len(rows) == total
    assert len({row["obsid"] for row in rows}) == total
