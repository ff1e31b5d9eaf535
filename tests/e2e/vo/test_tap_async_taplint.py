"""STILTS ``taplint``'s asynchronous stages (QAS: ADQL queries as UWS jobs; UWS: the job
protocol) against the real server, the jobs run with the TAP service's own execution, as
``skyarchive worker`` runs them (here in a thread of the test process)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from skyarchive.archive import Archive
from skyarchive.vo.uws_run import tap_executor
from tests.e2e.conftest import LiveServer
from tests.e2e.vo.conftest import stilts
from tests.e2e.vo.uws_threads import run_jobs_in_threads
from tests.tools import needs


@pytest.fixture(scope="module")
def server(demo_archive: Archive) -> Iterator[LiveServer]:
    with LiveServer(demo_archive) as live:
        run_jobs_in_threads(live, demo_archive, tap_executor())
        yield live


@needs("stilts")
def test_taplint_async_stages_report_no_errors(server: LiveServer) -> None:
    report = stilts("taplint", f"tapurl={server.url}/vo/tap", "stages=CAP QAS UWS",
                    "maxrepeat=20", "report=EWF")  # fmt: skip
    problems = [line for line in report.splitlines() if re.match(r"^[EF]-", line)]
    assert problems == [], report
    summary = re.search(r"Totals: Errors: (\d+); Warnings: (\d+)", report)
    assert summary is not None and summary.group(1) == "0", report
