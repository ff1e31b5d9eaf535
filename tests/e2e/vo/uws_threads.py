"""A live server whose asynchronous TAP jobs run in threads of the test process, each as
``skyarchive worker`` runs one (:func:`run_job`), with the executor a test chooses."""

from __future__ import annotations

import threading

from skyarchive.archive import Archive
from skyarchive.vo.uws_run import Execute, run_job
from tests.e2e.conftest import LiveServer


def run_jobs_in_threads(live: LiveServer, archive: Archive, execute: Execute) -> None:
    """Replace the server's queue: each enqueued job starts at once in a thread of its own."""

    def run_soon(job_id: str) -> None:
        worker = threading.Thread(
            target=run_job, args=(archive,), kwargs={"job_id": job_id, "execute": execute},
            daemon=True,
        )  # fmt: skip
        worker.start()

    live.server.config.app.state.enqueue_tap_job = run_soon
