"""Running asynchronous TAP jobs in a worker process, and deleting them when their time is up.

``skyarchive worker`` runs :func:`run_job` for each job id the server enqueues. The run holds
the job's lease (``db/leases.py``) and renews it while the query runs, so with several workers
exactly one runs a job, and a job whose worker was killed is taken over once its lease runs out
(:func:`abandoned_jobs`). The query runs in a thread of its own while the run watches the
clock (``executionduration``) and the catalogue (an abort or a delete from any server process
ends the watch at once; the query's late answer is thrown away).

The result goes to the archive's storage (``vo-uws/<job id>/result.<ext>``), not the catalogue:
results reach a gigabyte, and a blob of that size in SQLite's write-ahead log or a PostgreSQL
row would slow every other writer; storage is shared by every process (a directory, or an
object store for several machines) and streams ranged reads.
"""

from __future__ import annotations

import logging
import secrets
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import Connection, literal, select, update

from skyarchive.access.caller import caller_for_user
from skyarchive.access.policy import ANONYMOUS, Caller
from skyarchive.db import leases
from skyarchive.db.tables import job_leases, uws_jobs
from skyarchive.errors import BadQuery, NotFound, PayloadTooLarge, SkyArchiveError
from skyarchive.vo.uws import (
    ABORTED,
    COMPLETED,
    ERROR,
    EXECUTING,
    QUEUED,
    RESULT_ID,
    Job,
    check_tap_parameters,
    get_job,
    maxrec_of,
)

if TYPE_CHECKING:
    from skyarchive.archive import Archive

log = logging.getLogger("skyarchive.vo.uws")
LEASE_PREFIX = "uws:"
#: How often a run looks at the catalogue for an abort or a delete, in seconds.
WATCH_SECONDS = 0.25
#: How long past its duration a query that has not stopped itself is waited for.
GRACE_SECONDS = 2.0


class QueryAnswer(Protocol):
    """What a TAP query answered (``vo.tap.TapAnswer``): the body's chunks, its media type,
    and its rows when known."""

    @property
    def chunks(self) -> Iterable[bytes]: ...

    @property
    def media_type(self) -> str: ...

    @property
    def rows(self) -> int | None: ...


#: ``execute(archive, caller, adql, *, maxrec, response_format, base_url, hard_maxrec,
#: timeout_seconds) -> QueryAnswer``: :func:`skyarchive.vo.tap.execute_adql`.
Execute = Callable[..., QueryAnswer]

_SUFFIXES = {"text/csv": ".csv", "text/tab-separated-values": ".tsv"}


def result_key(job_id: str, media_type: str) -> str:
    suffix = _SUFFIXES.get(media_type.split(";")[0].strip(), ".xml")
    return f"vo-uws/{job_id}/{RESULT_ID}{suffix}"


def run_job(archive: Archive, *, job_id: str, execute: Execute) -> str:
    """Run one job (or finish a run a dead worker left); return the phase it ended in.

    A job another worker holds, or one not QUEUED or EXECUTING, is left as it is.
    """
    holder = leases.new_holder()
    name = LEASE_PREFIX + job_id
    seconds = archive.settings.job_lease_seconds
    if not leases.take(archive.engine, name, holder=holder, seconds=seconds):
        return EXECUTING
    try:
        with archive.engine.begin() as conn:
            started = conn.execute(
                update(uws_jobs)
                .where(uws_jobs.c.job_id == job_id, uws_jobs.c.phase.in_((QUEUED, EXECUTING)))
                .values(phase=EXECUTING, started_at=time.time(), finished_at=None, error=None)
            ).rowcount
            if not started:
                try:
                    return get_job(conn, job_id).phase
                except NotFound:
                    return ABORTED
            job = get_job(conn, job_id)
            caller = _submitter(conn, job)
        renew = _Renewal(archive, name, holder, seconds)
        return _Run(archive, job, caller, execute, renew).watch()
    finally:
        leases.give_back(archive.engine, name, holder=holder)


def _submitter(conn: Connection, job: Job) -> Caller:
    """The rights the job runs with: its owner's today (a token user's job sees what their
    sync query would), or an anonymous caller's."""
    if job.owner_id is None:
        return ANONYMOUS
    try:
        return caller_for_user(conn, job.owner_id, via_token=True)
    except NotFound:  # the account was removed since: no more than anyone's rights
        return ANONYMOUS


class _Renewal:
    def __init__(self, archive: Archive, name: str, holder: str, seconds: float) -> None:
        self.engine, self.name, self.holder, self.seconds = archive.engine, name, holder, seconds
        self.last = time.monotonic()

    def due(self) -> bool:
        """Renew a third of the way through the lease; False when another worker took it."""
        if time.monotonic() - self.last < self.seconds / 3:
            return True
        self.last = time.monotonic()
        return leases.take(self.engine, self.name, holder=self.holder, seconds=self.seconds)


class _Run:
    """One execution: the query in a thread, watched until it ends, is aborted or runs out."""

    def __init__(self, archive: Archive, job: Job, caller: Caller, execute: Execute,
                 renewal: _Renewal) -> None:  # fmt: skip
        self.archive, self.job, self.caller = archive, job, caller
        self.execute, self.renewal = execute, renewal
        self.lock = threading.Lock()
        self.abandoned = False
        self.answer: tuple[Path, QueryAnswer, int] | None = None
        self.failure: BaseException | None = None
        self.deadline = time.monotonic() + job.execution_duration
        folder = archive.settings.home / "tmp"
        folder.mkdir(parents=True, exist_ok=True)
        self.path = Path(tempfile.mkdtemp(prefix="uws-", dir=folder)) / "result"

    def watch(self) -> str:
        thread = threading.Thread(target=self._query, name=f"uws-{self.job.job_id}", daemon=True)
        thread.start()
        # The query stops itself at the duration (``timeout_seconds``); the watch gives it a
        # moment to, then stops waiting for a query that does not (writing the result).
        self.deadline = time.monotonic() + self.job.execution_duration
        while True:
            thread.join(WATCH_SECONDS)
            if not thread.is_alive():
                return self._finish()
            if time.monotonic() >= self.deadline + GRACE_SECONDS:
                self._abandon()
                return self._fail(self._too_long())
            if not self.renewal.due():
                self._abandon()
                log.warning("uws %s: lease lost, another worker runs it", self.job.job_id)
                return EXECUTING
            if self._phase() != EXECUTING:  # aborted or deleted by a client
                self._abandon()
                return ABORTED

    def _too_long(self) -> str:
        return (f"The query ran longer than the job's execution duration "
                f"({self.job.execution_duration} s) and was stopped; narrow it (a smaller "
                "region, fewer rows with MAXREC or TOP) and submit it again.")  # fmt: skip

    def _query(self) -> None:
        job, settings = self.job, self.archive.settings
        try:
            check_tap_parameters(job.parameters)
            if not (job.query or "").strip():
                raise BadQuery("The job has no QUERY; give the ADQL query as QUERY=...")
            answer = self.execute(
                self.archive, self.caller, job.query or "", maxrec=maxrec_of(job),
                response_format=job.parameters.get("RESPONSEFORMAT"),
                base_url=job.base_url or settings.base_url or "",
                hard_maxrec=settings.tap_async_max_rows,
                timeout_seconds=float(job.execution_duration),
            )  # fmt: skip
            size = self._write(answer.chunks, settings.tap_async_max_result_bytes)
            outcome: Any = (self.path, answer, size)
        except BaseException as exc:  # handed to the watcher, which records it
            outcome = exc
        with self.lock:
            if self.abandoned:
                self._clean()
            elif isinstance(outcome, BaseException):
                self.failure = outcome
            else:
                self.answer = outcome

    def _write(self, chunks: Iterable[bytes], most: int) -> int:
        size = 0
        with self.path.open("wb") as out:
            for chunk in chunks:
                size += len(chunk)
                if size > most:
                    raise PayloadTooLarge(
                        f"The result is larger than this archive keeps ({most} bytes); ask "
                        "for fewer rows (MAXREC, TOP) or fewer columns."
                    )
                out.write(chunk)
        return size

    def _abandon(self) -> None:
        with self.lock:
            self.abandoned = True
            if self.answer is not None or self.failure is not None:
                self._clean()

    def _clean(self) -> None:
        self.path.unlink(missing_ok=True)
        if self.path.parent.exists():
            self.path.parent.rmdir()

    def _phase(self) -> str | None:
        with self.archive.engine.connect() as conn:
            return conn.scalar(select(uws_jobs.c.phase).where(uws_jobs.c.job_id == self.job.job_id))

    def _finish(self) -> str:
        if self.failure is not None:
            self._clean()
            if time.monotonic() >= self.deadline:  # the query's own time limit stopped it
                return self._fail(self._too_long())
            return self._fail(_message(self.failure, self.job.job_id))
        assert self.answer is not None
        path, answer, size = self.answer
        key = result_key(self.job.job_id, answer.media_type)
        try:
            self.archive.storage.put_file(key, path)
        except SkyArchiveError as exc:
            return self._fail(f"The result could not be stored: {exc.message}")
        finally:
            self._clean()
        with self.archive.engine.begin() as conn:
            done = conn.execute(
                update(uws_jobs)
                .where(uws_jobs.c.job_id == self.job.job_id, uws_jobs.c.phase == EXECUTING)
                .values(phase=COMPLETED, finished_at=time.time(), result_key=key,
                        result_type=answer.media_type, result_size=size,
                        result_rows=answer.rows)
            ).rowcount  # fmt: skip
        if not done:  # aborted or deleted while the result was stored
            self.archive.storage.delete(key)
            return ABORTED
        return COMPLETED

    def _fail(self, message: str) -> str:
        with self.archive.engine.begin() as conn:
            conn.execute(
                update(uws_jobs)
                .where(uws_jobs.c.job_id == self.job.job_id, uws_jobs.c.phase == EXECUTING)
                .values(phase=ERROR, finished_at=time.time(), error=message)
            )
        return ERROR


def _message(exc: BaseException, job_id: str) -> str:
    """What the client reads in the job's error: our errors say what was wrong; anything else
    is logged with a reference the operators can find."""
    if isinstance(exc, SkyArchiveError):
        return exc.message
    reference = secrets.token_hex(4)
    log.error("uws %s failed [%s]", job_id, reference, exc_info=exc)
    return (f"The query failed on our side (reference {reference}); tell the archive's "
            "operators the reference, or try again later.")  # fmt: skip


def unfinished_jobs(conn: Connection) -> list[str]:
    """Jobs queued or running: a starting worker hands them to the queue again."""
    query = select(uws_jobs.c.job_id).where(uws_jobs.c.phase.in_((QUEUED, EXECUTING)))
    return list(conn.scalars(query.order_by(uws_jobs.c.created_at)))


def abandoned_jobs(conn: Connection, *, now: float | None = None) -> list[str]:
    """Running jobs no live worker holds: their worker died mid-query."""
    now = time.time() if now is None else now
    lease_name = literal(LEASE_PREFIX) + uws_jobs.c.job_id
    held = select(job_leases.c.name).where(
        job_leases.c.name == lease_name, job_leases.c.expires_at >= now
    )
    query = select(uws_jobs.c.job_id).where(uws_jobs.c.phase == EXECUTING, ~held.exists())
    return list(conn.scalars(query))


def destroy_expired(archive: Archive, *, now: float | None = None) -> int:
    """Delete jobs past their destruction time, with their results; return how many."""
    now = time.time() if now is None else now
    with archive.engine.begin() as conn:
        doomed = conn.execute(
            select(uws_jobs.c.job_id, uws_jobs.c.result_key).where(uws_jobs.c.destruction_at <= now)
        ).all()
        if doomed:
            conn.execute(
                uws_jobs.delete().where(uws_jobs.c.job_id.in_([job_id for job_id, _ in doomed]))
            )
    for _job_id, key in doomed:
        if key:
            archive.storage.delete(key)
    return len(doomed)


def tap_executor() -> Execute:
    """The archive's TAP query execution (the same one as ``/vo/tap/sync``)."""
    from skyarchive.vo.tap import execute_adql

    return execute_adql
