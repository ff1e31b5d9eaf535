"""Asynchronous TAP across processes: a job submitted to one server process is run by a
``skyarchive worker`` process and answered, with its result, by another server process, on
SQLite and PostgreSQL; the result is what the same query answers when run directly.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from astropy.io.votable import parse_single_table
from benchmarks.bench_load import Served, served_together

from skyarchive.access.caller import caller_for_user
from skyarchive.archive import Archive
from skyarchive.vo.tap import execute_adql
from tests.e2e.callers import create_callers, headers_for

# among the slowest files: handed out first (tests/suite.py)
pytestmark = pytest.mark.slow

QUERY = (
    "SELECT obs_id, obs_publisher_did, data_rights, s_ra FROM ivoa.obscore "
    "WHERE proposal_id = '4567' ORDER BY obs_publisher_did"
)


def start_worker(archive: Archive, log: Path) -> subprocess.Popen:
    env = {**os.environ, "SKYARCHIVE_DATABASE_URL": archive.settings.resolved_database_url}
    return subprocess.Popen(  # noqa: S603  (our own command line)
        [sys.executable, "-m", "skyarchive", "--home", str(archive.settings.home), "worker"],
        env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip


@pytest.mark.slow
def test_submitted_to_one_process_run_by_a_worker_answered_by_another(
    demo_archive_copy: Archive, tmp_path: Path
) -> None:
    import pyvo

    archive = demo_archive_copy
    callers = create_callers(archive.engine, "4567")
    with archive.engine.connect() as conn:
        pi = caller_for_user(conn, callers.user_ids["pi"], via_token=True)
    session = requests.Session()
    session.headers.update(headers_for(callers, "pi"))
    home, database = archive.settings.home, archive.settings.resolved_database_url
    with served_together(Served(home, database, 1), Served(home, database, 1)) as (first, second):
        submitted = pyvo.dal.TAPService(f"{first.url}/vo/tap", session=session).submit_job(
            QUERY, maxrec=50
        )
        submitted.run()
        url = submitted.url.replace(first.url, second.url)
        answered = pyvo.dal.AsyncTAPJob(url, session=session)
        assert answered.phase == "QUEUED"  # no worker runs yet: it waits in the queue
        worker = start_worker(archive, tmp_path / "worker.log")
        try:
            answered.wait(timeout=120)
        finally:
            os.killpg(worker.pid, signal.SIGINT)
            worker.wait(timeout=30)
        assert answered.phase == "COMPLETED", (tmp_path / "worker.log").read_text()[-3000:]
        assert answered.result_uri.startswith(second.url)
        table = answered.fetch_result().to_table()
        others = requests.get(url, headers=headers_for(callers, "other"), timeout=30)
        assert others.status_code == 403
        answered.delete()
        assert requests.get(url, headers=headers_for(callers, "pi"), timeout=30).status_code == 404

    direct = execute_adql(archive, pi, QUERY, maxrec=50, response_format=None,
                          base_url=second.url)  # fmt: skip
    expected = parse_single_table(io.BytesIO(direct.body)).to_table()
    assert len(table) == len(expected) > 0
    assert list(table["obs_publisher_did"]) == list(expected["obs_publisher_did"])
    assert set(table["data_rights"]) == set(expected["data_rights"])
