"""The home page's figures: true after every ingest, and read without counting the catalog.

A real server (uvicorn on a free port) on SQLite and PostgreSQL; data are ingested by the
operator's command in another process while it runs, as an operator does.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import event, select

from skyarchive.archive import Archive
from skyarchive.db.tables import observations, products
from skyarchive.search.summary import LISTED_PROGRAMS
from tests.e2e.conftest import LiveServer
from tests.search.test_summary import ingest, write_manifest

# among the slowest files: handed out first (tests/suite.py)
pytestmark = pytest.mark.slow


@pytest.fixture
def server(archive: Archive) -> Iterator[LiveServer]:
    with LiveServer(archive) as live:
        yield live


def ingest_in_another_process(archive: Archive, path: Path) -> None:
    env = {**os.environ, "SKYARCHIVE_DATABASE_URL": archive.settings.resolved_database_url}
    command = [sys.executable, "-m", "skyarchive", "--home", str(archive.settings.home),
               "ingest", str(path)]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr


def page_figures(html: str) -> dict:
    """What the home page says the archive holds."""
    totals = re.search(
        r"<strong>([\d,]+)</strong> observations,\s*<strong>([\d,]+)</strong> files\s*"
        r"\(([\d.]+) MB\)",
        html,
    )
    assert totals, "the totals are missing from the page"
    collections = re.search(r"<caption>By collection</caption>.*?</table>", html, re.S)
    assert collections
    rows = re.findall(r'<tr><td>([^<]+)</td><td class="num">(\d+)</td></tr>', collections[0])
    return {
        "observations": int(totals[1].replace(",", "")),
        "files": int(totals[2].replace(",", "")),
        "MB": totals[3],
        "by_collection": Counter({name: int(n) for name, n in rows}),
    }


def counted(archive: Archive) -> dict:
    """The same figures, counted from the rows now."""
    with archive.engine.connect() as conn:
        collections = conn.execute(select(observations.c.obs_collection)).scalars().all()
        sizes = conn.execute(select(products.c.size)).scalars().all()
    return {
        "observations": len(collections),
        "files": len(sizes),
        "MB": f"{sum(sizes) / 1e6:.1f}",
        "by_collection": Counter(collections),
    }


@pytest.mark.slow
def test_home_page_shows_what_was_ingested_into_the_running_server(  # type: ignore[no-untyped-def]
    archive: Archive, server: LiveServer, demo_output
) -> None:
    out = Path(demo_output[0])
    with httpx.Client(base_url=server.url, timeout=60) as client:
        empty = page_figures(client.get("/").text)
        assert empty["observations"] == empty["files"] == 0

        ingest_in_another_process(archive, out / "hst.skyarchive.json")
        first = page_figures(client.get("/").text)
        assert first == counted(archive)
        assert first["observations"] > 0 and set(first["by_collection"]) == {"HST"}

        ingest_in_another_process(archive, out / "jwst" / "jw01366")
        second = page_figures(client.get("/").text)
        assert second == counted(archive)
        assert second["by_collection"]["HST"] == first["by_collection"]["HST"]
        assert second["by_collection"]["JWST"] > 0 and second["files"] > first["files"]


def test_home_page_reads_stored_figures_not_the_catalog(  # type: ignore[no-untyped-def]
    archive: Archive, server: LiveServer, demo_output
) -> None:
    """Its cost does not grow with the catalog: no statement reads observations or products."""
    out = Path(demo_output[0])
    ingest_in_another_process(archive, out / "spitzer.skyarchive.json")
    statements: list[str] = []

    def record(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(archive.engine, "before_cursor_execute", record)
    try:
        page = httpx.get(server.url + "/", timeout=60)
    finally:
        event.remove(archive.engine, "before_cursor_execute", record)
    assert page.status_code == 200 and page_figures(page.text) == counted(archive)
    assert any("summary_digest" in s for s in statements)
    catalog = re.compile(r'\b(FROM|JOIN)\s+"?(observations|products)\b', re.I)
    assert [s for s in statements if catalog.search(s)] == []


def test_home_page_lists_the_largest_programs_of_many(  # type: ignore[no-untyped-def]
    archive: Archive, server: LiveServer, tmp_path
) -> None:
    programs = [str(5000 + i) for i in range(LISTED_PROGRAMS + 5)]
    observations_ = [
        {"obs_id": f"obs-{p}-{i}", "obs_collection": "HST", "proposal_id": p}
        for p in programs
        for i in range(2 if p == programs[-1] else 1)  # the last program is the largest
    ]
    ingest(archive, write_manifest(tmp_path, "many", observations_))
    page = httpx.get(server.url + "/", timeout=60).text
    table = re.search(r"<caption>By program.*?</table>", page, re.S)
    assert table and f"of {len(programs)}" in table[0]
    listed = re.findall(r"collection=program&amp;q=(\d+)", table[0])
    assert len(listed) == LISTED_PROGRAMS and programs[-1] in listed
    assert page_figures(page)["observations"] == len(programs) + 1
