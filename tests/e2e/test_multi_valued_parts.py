"""A ``;``-separated column's parts through the real server: whether a column holds a
multi-valued entry is asked once per catalogue generation, and a multi-valued entry another
process writes is found by its parts at the server's next search, with the generation watch
on and off and the answer cache off (what is tested is the search, not a kept answer)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from benchmarks.bench_load import Served
from sqlalchemy import select, update

from skyarchive.archive import Archive
from skyarchive.config import Settings
from skyarchive.db.tables import observations
from skyarchive.ingest.run import ingest_paths
from skyarchive.search.tokens import replace_tokens


@pytest.fixture
def archive(database_url: str, tmp_path: Path, demo_output) -> Iterator[Archive]:  # type: ignore[no-untyped-def]
    opened = Archive.open(Settings(home=tmp_path / "home", database_url=database_url))
    report = ingest_paths([Path(demo_output[0]) / "jwst" / "jw01073"], engine=opened.engine,
                          storage=opened.storage, default_eap_months=12)  # fmt: skip
    assert report.ok, report.failed
    yield opened
    opened.close()


def found_by_project(client: httpx.Client, project: str) -> tuple[int, list[str]]:
    """The count and the rows' obsids of the observations whose ``project`` matches."""
    criteria = [{"paramName": "project", "values": [project]}]
    answers = []
    for columns in ("COUNT_BIG(*)", "*"):
        body = {"service": "Mast.Caom.Filtered", "params": {"columns": columns,
                                                            "filters": criteria}}  # fmt: skip
        answer = client.post("/api/v0/invoke", data={"request": json.dumps(body)})
        assert answer.status_code == 200, answer.text[:300]
        answers.append(json.loads(answer.content)["data"])
    counted, rows = answers
    return int(counted[0]["Column1"]), [row["obsid"] for row in rows]


@pytest.mark.parametrize("notify", ["true", "false"])
def test_a_multi_valued_entry_another_process_writes_is_found_by_its_parts(
    archive: Archive, notify: str
) -> None:
    env = {"SKYARCHIVE_ANSWER_CACHE": "false", "SKYARCHIVE_ANSWER_CACHE_NOTIFY": notify}
    url = archive.settings.resolved_database_url
    with Served(archive.settings.home, url, 1, env=env) as served, \
            httpx.Client(base_url=served.url, timeout=60) as client:  # fmt: skip
        for _ in range(3):  # no entry of ``project`` is multi-valued yet: asked, then known
            assert found_by_project(client, "NEWPART") == (0, [])
        with archive.engine.begin() as conn:  # this process, through skyarchive's engine
            obsid = conn.scalar(select(observations.c.obsid).order_by(observations.c.obsid))
            values = {"project": "JWST;NewPart"}
            conn.execute(update(observations).where(observations.c.obsid == obsid).values(values))
            replace_tokens(conn, obsid, values)
        if url.startswith("postgresql") and notify == "true":
            # the server hears of the write by PostgreSQL's notification: a search in the
            # moment before it arrives is as one that came before the write (deployment.md)
            _until_found(client, "NEWPART")
        assert found_by_project(client, "NEWPART") == (1, [str(obsid)])  # the next search
        assert found_by_project(client, "newpart") == (1, [str(obsid)])


def _until_found(client: httpx.Client, project: str, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while found_by_project(client, project)[0] == 0:
        assert time.monotonic() < deadline, f"{project} still not found after {seconds} s"
        time.sleep(0.01)
