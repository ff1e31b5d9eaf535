"""Asynchronous TAP jobs in the catalogue: phases, limits, ownership, destruction and the run,
on SQLite and PostgreSQL, with a stand-in executor (the TAP executor is tested with the server).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from sqlalchemy import select

from skyarchive.access import users
from skyarchive.access.caller import caller_for_user
from skyarchive.access.policy import ANONYMOUS, Caller
from skyarchive.archive import Archive
from skyarchive.db import leases
from skyarchive.db.tables import uws_jobs
from skyarchive.errors import (
    BadQuery,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    TooManyRequests,
    Unauthorized,
)
from skyarchive.vo import uws
from skyarchive.vo.tap import TapAnswer
from skyarchive.vo.uws_run import (
    abandoned_jobs,
    destroy_expired,
    run_job,
    unfinished_jobs,
)

QUERY = [("LANG", "ADQL"), ("QUERY", "SELECT TOP 5 * FROM ivoa.obscore")]


class Recorder:
    """An executor that answers the query text back, remembering whom it ran for."""

    def __init__(self, *, pause: float = 0.0, size: int = 0, fail: Exception | None = None):
        self.pause, self.size, self.fail = pause, size, fail
        self.calls: list[dict[str, Any]] = []
        self.release = threading.Event()

    def __call__(self, archive: Archive, caller: Caller, adql: str, **options: Any) -> TapAnswer:
        self.calls.append({"caller": caller, "adql": adql, **options})
        if self.pause:
            self.release.wait(self.pause)
        if self.fail is not None:
            raise self.fail
        body = adql.encode() + b"x" * self.size
        return TapAnswer(chunks=tuple(body[i : i + 7] for i in range(0, len(body), 7)),
                         media_type="text/csv", rows=1)  # fmt: skip


@pytest.fixture
def user(archive: Archive) -> Caller:
    with archive.engine.begin() as conn:
        made = users.create_user(conn, email="astro@example.org")
        return caller_for_user(conn, made.user_id, via_token=True)


@pytest.fixture
def other(archive: Archive) -> Caller:
    with archive.engine.begin() as conn:
        made = users.create_user(conn, email="other@example.org")
        return caller_for_user(conn, made.user_id, via_token=True)


def submit(archive: Archive, caller: Caller, extra: list[tuple[str, str]] | None = None,
           client: str = "192.0.2.1") -> uws.Job:  # fmt: skip
    return uws.create_job(
        archive.engine, archive.settings, caller=caller, client=client,
        parameters=QUERY + (extra or []), base_url="http://archive.test",
    )  # fmt: skip


def reread(archive: Archive, job: uws.Job) -> uws.Job:
    with archive.engine.connect() as conn:
        return uws.get_job(conn, job.job_id)


def test_a_job_runs_with_its_owners_rights_and_its_result_is_stored(
    archive: Archive, user: Caller
) -> None:
    job = submit(archive, user, [("phase", "RUN"), ("maxrec", "3"), ("RUNID", "mine")])
    assert job.phase == uws.QUEUED and job.run_id == "mine" and job.owner_id == user.user_id
    assert "PHASE" not in job.parameters and job.parameters["MAXREC"] == "3"
    executor = Recorder()
    assert run_job(archive, job_id=job.job_id, execute=executor) == uws.COMPLETED
    done = reread(archive, job)
    assert done.phase == uws.COMPLETED and done.started_at and done.finished_at
    assert done.result_type == "text/csv" and done.result_size == len(QUERY[1][1])
    key = uws.result_of(done)
    assert b"".join(archive.storage.open_range(key)).decode() == QUERY[1][1]
    [call] = executor.calls
    assert call["caller"].user_id == user.user_id and call["maxrec"] == 3
    assert call["base_url"] == "http://archive.test"
    # finished: a second run (a re-enqueue) changes nothing and runs nothing
    assert run_job(archive, job_id=job.job_id, execute=executor) == uws.COMPLETED
    assert len(executor.calls) == 1


def test_maxrec_is_capped_by_the_operators_row_limit(archive: Archive) -> None:
    archive.settings.tap_async_max_rows = 10
    job = submit(archive, ANONYMOUS, [("MAXREC", "100000"), ("PHASE", "RUN")])
    executor = Recorder()
    run_job(archive, job_id=job.job_id, execute=executor)
    [call] = executor.calls
    assert call["maxrec"] == 100000 and call["hard_maxrec"] == 10 and call["caller"] == ANONYMOUS
    assert call["timeout_seconds"] == archive.settings.tap_async_execution_seconds


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ([("DESTRUCTION", "yesterday")], "ISO 8601"),
        ([("DESTRUCTION", "2000-01-01T00:00:00Z")], "past"),
        ([("EXECUTIONDURATION", "-5")], "negative"),
        ([("PHASE", "ABORT")], "PHASE"),
        ([("QUERY", "x" * 100_001)], "characters"),
    ],
)
def test_bad_parameters_are_refused_with_the_value(
    archive: Archive, extra: list[tuple[str, str]], words: str
) -> None:
    with pytest.raises(BadQuery, match=words):
        submit(archive, ANONYMOUS, extra)


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ([("LANG", "SQL")], "LANG"),
        ([("MAXREC", "-1")], "MAXREC"),
        ([("MAXREC", "many")], "MAXREC"),
        ([("UPLOAD", "t,http://x/t.xml")], "UPLOAD"),
        ([("QUERY", " ")], "no QUERY"),
    ],
)
def test_bad_tap_parameters_end_the_job_in_error_with_the_value(
    archive: Archive, extra: list[tuple[str, str]], words: str
) -> None:
    job = submit(archive, ANONYMOUS, [*extra, ("PHASE", "RUN")])
    executor = Recorder()
    assert run_job(archive, job_id=job.job_id, execute=executor) == uws.ERROR
    assert words in (reread(archive, job).error or "") and executor.calls == []


def test_duration_and_destruction_are_bounded_by_the_settings(archive: Archive) -> None:
    before = time.time()
    job = submit(archive, ANONYMOUS, [("EXECUTIONDURATION", "0")])
    assert job.execution_duration == archive.settings.tap_async_execution_seconds
    longest = archive.settings.tap_async_destruction_days * 86400
    assert before + longest <= job.destruction_at <= time.time() + longest
    later = submit(archive, ANONYMOUS, [("EXECUTIONDURATION", "5"),
                                        ("DESTRUCTION", "2999-01-01T00:00:00Z")])  # fmt: skip
    assert later.execution_duration == 5
    assert later.destruction_at <= time.time() + longest


def test_owned_jobs_are_the_owners_and_anonymous_ones_anyones(
    archive: Archive, user: Caller, other: Caller
) -> None:
    mine = submit(archive, user)
    anyones = submit(archive, ANONYMOUS)
    uws.check_owner(mine, user)
    for caller in (ANONYMOUS, user, other):
        uws.check_owner(anyones, caller)
    with pytest.raises(Unauthorized):
        uws.check_owner(mine, ANONYMOUS)
    with pytest.raises(Forbidden):
        uws.check_owner(mine, other)
    uws.check_owner(mine, Caller(user_id=999_999, is_admin=True))
    assert [job.job_id for job in uws.list_jobs(archive.engine, user)] == [mine.job_id]
    assert uws.list_jobs(archive.engine, other) == []
    assert uws.list_jobs(archive.engine, ANONYMOUS) == []  # reached by URL only
    assert uws.list_jobs(archive.engine, user, phases=["COMPLETED"]) == []
    assert len(uws.list_jobs(archive.engine, user, phases=["pending"], last="1")) == 1
    with pytest.raises(BadQuery, match="RUNNING"):
        uws.list_jobs(archive.engine, user, phases=["RUNNING"])


def test_jobs_per_owner_are_limited(archive: Archive, user: Caller) -> None:
    archive.settings.tap_async_jobs_per_owner = 2
    submit(archive, user)
    submit(archive, user)
    with pytest.raises(TooManyRequests, match="delete finished ones") as refused:
        submit(archive, user)
    assert refused.value.headers["Retry-After"]
    submit(archive, ANONYMOUS, client="192.0.2.7")  # others are not held back
    submit(archive, ANONYMOUS, client="192.0.2.7")
    with pytest.raises(TooManyRequests, match="Your address"):
        submit(archive, ANONYMOUS, client="192.0.2.7")


def test_abort_while_running_ends_the_run_and_keeps_no_result(archive: Archive) -> None:
    job = submit(archive, ANONYMOUS, [("PHASE", "RUN")])
    executor = Recorder(pause=30)
    outcome: list[str] = []
    runner = threading.Thread(
        target=lambda: outcome.append(run_job(archive, job_id=job.job_id, execute=executor))
    )
    runner.start()
    deadline = time.monotonic() + 10
    while reread(archive, job).phase != uws.EXECUTING and time.monotonic() < deadline:
        time.sleep(0.05)
    uws.change_phase(archive.engine, reread(archive, job), "ABORT", enqueue=lambda _id: None)
    runner.join(10)
    executor.release.set()
    assert outcome == [uws.ABORTED]
    assert reread(archive, job).phase == uws.ABORTED and reread(archive, job).result_key is None
    with pytest.raises(BadQuery, match="ABORTED|finished"):
        uws.change_phase(archive.engine, submit_done(archive), "ABORT", enqueue=print)


def submit_done(archive: Archive) -> uws.Job:
    job = submit(archive, ANONYMOUS, [("PHASE", "RUN")])
    run_job(archive, job_id=job.job_id, execute=Recorder())
    return reread(archive, job)


def test_execution_duration_is_enforced(archive: Archive) -> None:
    job = submit(archive, ANONYMOUS, [("PHASE", "RUN"), ("EXECUTIONDURATION", "1")])
    executor = Recorder(pause=20)
    started = time.monotonic()
    assert run_job(archive, job_id=job.job_id, execute=executor) == uws.ERROR
    executor.release.set()
    assert time.monotonic() - started < 5
    failed = reread(archive, job)
    assert "execution duration (1 s)" in (failed.error or "") and failed.result_key is None


def test_failures_and_oversized_results_end_in_error(archive: Archive) -> None:
    job = submit(archive, ANONYMOUS, [("PHASE", "RUN")])
    bad = BadQuery("Unknown table 'ivoa.nothing'.")
    assert run_job(archive, job_id=job.job_id, execute=Recorder(fail=bad)) == uws.ERROR
    assert reread(archive, job).error == "Unknown table 'ivoa.nothing'."
    archive.settings.tap_async_max_result_bytes = 100
    big = submit(archive, ANONYMOUS, [("PHASE", "RUN")])
    assert run_job(archive, job_id=big.job_id, execute=Recorder(size=500)) == uws.ERROR
    assert "larger than this archive keeps (100 bytes)" in (reread(archive, big).error or "")
    assert PayloadTooLarge.status == 413
    crash = submit(archive, ANONYMOUS, [("PHASE", "RUN")])
    run_job(archive, job_id=crash.job_id, execute=Recorder(fail=ZeroDivisionError("secret")))
    message = reread(archive, crash).error or ""
    assert "reference" in message and "secret" not in message


def test_a_job_another_worker_holds_is_left_alone_until_its_lease_runs_out(
    archive: Archive,
) -> None:
    job = submit(archive, ANONYMOUS, [("PHASE", "RUN")])
    with archive.engine.begin() as conn:  # a worker took it and died
        conn.execute(uws_jobs.update().where(uws_jobs.c.job_id == job.job_id)
                     .values(phase=uws.EXECUTING))  # fmt: skip
    leases.take(archive.engine, f"uws:{job.job_id}", holder="elsewhere:1:x", seconds=60)
    with archive.engine.connect() as conn:
        assert unfinished_jobs(conn) == [job.job_id]
        assert abandoned_jobs(conn) == []
        assert abandoned_jobs(conn, now=time.time() + 120) == [job.job_id]
    executor = Recorder()
    assert run_job(archive, job_id=job.job_id, execute=executor) == uws.EXECUTING
    assert executor.calls == []
    leases.take(archive.engine, f"uws:{job.job_id}", holder="elsewhere:1:x", seconds=-1)
    assert run_job(archive, job_id=job.job_id, execute=executor) == uws.COMPLETED


def test_destruction_deletes_the_job_and_its_result(archive: Archive) -> None:
    done = submit_done(archive)
    key = uws.result_of(done)
    assert archive.storage.exists(key)
    assert destroy_expired(archive) == 0
    # past its time it is gone at once, before the clean-up
    with pytest.raises(NotFound), archive.engine.connect() as conn:
        uws.get_job(conn, done.job_id, now=done.destruction_at + 1)
    assert destroy_expired(archive, now=done.destruction_at + 1) == 1
    assert not archive.storage.exists(key)
    with archive.engine.connect() as conn:
        assert conn.scalar(select(uws_jobs.c.job_id)) is None


def test_parameters_change_only_while_pending(archive: Archive, user: Caller) -> None:
    job = submit(archive, user)
    uws.set_parameters(archive.engine, job, [("maxrec", "7"), ("Query", "SELECT 1")])
    changed = reread(archive, job)
    assert changed.parameters["MAXREC"] == "7" and changed.query == "SELECT 1"
    uws.set_limits(archive.engine, archive.settings, changed, EXECUTIONDURATION="9")
    assert reread(archive, job).execution_duration == 9
    queued: list[str] = []
    uws.change_phase(archive.engine, changed, "RUN", enqueue=queued.append)
    uws.change_phase(archive.engine, reread(archive, job), "RUN", enqueue=queued.append)
    assert queued == [job.job_id]  # a repeated RUN queues nothing more
    with pytest.raises(BadQuery, match="PENDING"):
        uws.set_parameters(archive.engine, reread(archive, job), [("MAXREC", "1")])
    with pytest.raises(BadQuery, match="PENDING"):
        uws.set_limits(archive.engine, archive.settings, reread(archive, job),
                           EXECUTIONDURATION="1")  # fmt: skip
