"""Asynchronous TAP jobs (UWS 1.1): what a job is, who may see it, and how its phase moves.

A job is a row of ``uws_jobs``; nothing about it lives in a server process, so any process
answers its state and any worker process may run it (``vo/uws_run.py``). Phases move only by
conditional updates (``... WHERE phase IN (...)``), so an abort racing a completion, or two
workers racing for one job, is decided by the database, once.

Who sees a job: a job submitted by a signed-in user or with an API token belongs to that user;
only they (and admins) may read or change it, and their job list shows it. A job submitted
anonymously belongs to nobody: anyone holding its URL (an unguessable id) may read, run, abort
or delete it, and it is listed to nobody.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, select, update

from skyarchive.access.policy import Caller
from skyarchive.config import Settings
from skyarchive.db.tables import uws_jobs
from skyarchive.errors import BadQuery, Forbidden, NotFound, TooManyRequests, Unauthorized

PENDING, QUEUED, EXECUTING = "PENDING", "QUEUED", "EXECUTING"
COMPLETED, ERROR, ABORTED = "COMPLETED", "ERROR", "ABORTED"
#: Phases a job can still leave (by running, finishing, being aborted).
ACTIVE = (PENDING, QUEUED, EXECUTING)
PHASES = (PENDING, QUEUED, EXECUTING, COMPLETED, ERROR, ABORTED, "HELD", "SUSPENDED",
          "UNKNOWN", "ARCHIVED")  # fmt: skip
#: The one result of a TAP job (TAP 1.1 §2.2: ``results/result``).
RESULT_ID = "result"
#: TAP parameters a job keeps; any other parameter is kept too (UWS allows it) but unused.
LANGUAGES = ("ADQL", "ADQL-2.0", "ADQL-2.1")
MAX_PARAMETER_CHARS = 100_000
MAX_PARAMETERS = 50
#: How long one WAIT may block at most (UWS 1.1 §2.2.1.1 lets the service cut it short).
MAX_WAIT_SECONDS = 60.0

#: Puts a job's id on the worker's queue (bound to the archive's queue by ``web.py``).
Enqueue = Callable[[str], None]


@dataclass(frozen=True)
class Job:
    job_id: str
    owner_id: int | None
    run_id: str | None
    phase: str
    parameters: dict[str, str]
    execution_duration: int
    created_at: float
    started_at: float | None
    finished_at: float | None
    destruction_at: float
    base_url: str | None
    error: str | None
    result_type: str | None
    result_size: int | None
    result_rows: int | None
    result_key: str | None

    @property
    def quote(self) -> float | None:
        """The latest time the job should be done by (an upper bound: its duration limit)."""
        if self.phase in (PENDING, QUEUED):
            return time.time() + self.execution_duration
        if self.phase == EXECUTING and self.started_at is not None:
            return self.started_at + self.execution_duration
        return None

    @property
    def query(self) -> str | None:
        return self.parameters.get("QUERY")


def _job(row: Any) -> Job:
    values = dict(row._mapping)
    values.pop("client", None)
    values["parameters"] = json.loads(values["parameters"])
    return Job(**values)


def new_job_id() -> str:
    return secrets.token_urlsafe(18)


def iso_time(moment: float | None) -> str | None:
    """UWS times: ISO 8601 in UTC with milliseconds and a ``Z``."""
    if moment is None:
        return None
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def parse_iso_time(value: str, *, name: str) -> float:
    text = value.strip()
    try:
        moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        raise BadQuery(f"{name} {value[:60]!r} is not an ISO 8601 time "
                       "(e.g. 2026-12-24T18:00:00Z).") from None  # fmt: skip
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def normalise_parameters(given: Sequence[tuple[str, str]]) -> dict[str, str]:
    """Request parameters as a job keeps them: names upper-case (TAP names are
    case-insensitive), the last value of a repeated name, sizes bounded. Their values are
    checked when the job runs (:func:`check_tap_parameters`)."""
    out: dict[str, str] = {}
    for name, value in given:
        key = name.strip().upper()
        if not key:
            continue
        if len(value) > MAX_PARAMETER_CHARS:
            raise BadQuery(f"Parameter {key} is {len(value)} characters long; at most "
                           f"{MAX_PARAMETER_CHARS} are kept.")  # fmt: skip
        out[key] = value
    if len(out) > MAX_PARAMETERS:
        raise BadQuery(f"{len(out)} parameters given; a job takes at most {MAX_PARAMETERS}.")
    if "FORMAT" in out and "RESPONSEFORMAT" not in out:  # TAP 1.1's alias
        out["RESPONSEFORMAT"] = out.pop("FORMAT")
    return out


def check_tap_parameters(params: Mapping[str, str]) -> None:
    """The TAP parameters a job runs with, checked when it runs: a job with a bad one is still
    created (UWS), and ends in ERROR saying why (what taplint expects of a TAP service)."""
    lang = params.get("LANG")
    if lang is not None and lang.strip().upper() not in LANGUAGES:
        raise BadQuery(f"LANG {lang[:40]!r} is not supported; use LANG=ADQL.")
    maxrec = params.get("MAXREC")
    if maxrec is not None:
        try:
            if int(maxrec) < 0:
                raise ValueError
        except ValueError:
            raise BadQuery(f"MAXREC {maxrec[:40]!r} is not a whole number >= 0.") from None
    if "UPLOAD" in params:
        raise BadQuery("UPLOAD is not supported by this service; query its own tables.")


def maxrec_of(job: Job) -> int | None:
    """The job's MAXREC (None: the service's default); the operator's ``tap_async_max_rows``
    caps it where the query runs."""
    asked = job.parameters.get("MAXREC")
    return None if asked is None else int(asked)


def create_job(
    engine: Engine,
    settings: Settings,
    *,
    caller: Caller,
    client: str,
    parameters: Sequence[tuple[str, str]],
    base_url: str,
    now: float | None = None,
) -> Job:
    """Record a new job in PENDING (QUEUED at once when ``PHASE=RUN`` was among the
    parameters: the caller then hands it to the worker).

    Raises
    ------
    BadQuery
        A UWS parameter with a value UWS does not take (PHASE, EXECUTIONDURATION,
        DESTRUCTION), or more or longer parameters than a job keeps.
    TooManyRequests
        The owner (or the anonymous client address) holds ``tap_async_jobs_per_owner`` jobs.
    """
    now = time.time() if now is None else now
    params = normalise_parameters(parameters)
    phase = params.pop("PHASE", "").upper()
    if phase not in ("", "RUN"):
        raise BadQuery(f"PHASE={phase[:20]} cannot start a job; give PHASE=RUN or nothing.")
    run_id = params.pop("RUNID", None)
    duration = _duration(params.pop("EXECUTIONDURATION", None), settings)
    latest = now + settings.tap_async_destruction_days * 86400
    destruction = params.pop("DESTRUCTION", None)
    destruction_at = latest if destruction is None else _destruction(destruction, now, latest)
    job_id = new_job_id()
    row: dict[str, Any] = {
        "job_id": job_id, "owner_id": caller.user_id,
        "client": None if caller.user_id is not None else client[:64],
        "run_id": run_id[:200] if run_id else None,
        "phase": QUEUED if phase == "RUN" else PENDING, "parameters": json.dumps(params),
        "execution_duration": duration, "created_at": now, "destruction_at": destruction_at,
        "base_url": base_url[:400],
    }  # fmt: skip
    with engine.begin() as conn:
        _check_room(conn, settings, caller, client, now)
        conn.execute(uws_jobs.insert().values(**row))
        return get_job(conn, job_id, now=now)


def _check_room(conn: Connection, settings: Settings, caller: Caller, client: str,
                now: float) -> None:  # fmt: skip
    owned = (
        uws_jobs.c.owner_id == caller.user_id
        if caller.user_id is not None
        else (uws_jobs.c.owner_id.is_(None) & (uws_jobs.c.client == client[:64]))
    )
    held = conn.scalar(
        select(func.count()).select_from(uws_jobs).where(owned, uws_jobs.c.destruction_at > now)
    )
    most = settings.tap_async_jobs_per_owner
    if held is not None and held >= most:
        whose = "You hold" if caller.user_id is not None else "Your address holds"
        raise TooManyRequests(
            f"{whose} {held} asynchronous TAP jobs, the most this archive keeps at once; "
            "delete finished ones (DELETE on the job) before submitting more.",
            retry_after=60,
        )


def _duration(value: str | None, settings: Settings) -> int:
    """EXECUTIONDURATION in whole seconds; 0 (no limit) and more than the limit become the limit."""
    most = settings.tap_async_execution_seconds
    if value is None:
        return most
    try:
        seconds = int(float(value))
    except ValueError:
        raise BadQuery(f"EXECUTIONDURATION {value[:40]!r} is not a number of seconds.") from None
    if seconds < 0:
        raise BadQuery(f"EXECUTIONDURATION {seconds} is negative; give seconds, at most {most}.")
    return most if seconds == 0 else min(seconds, most)


def _destruction(value: str, now: float, latest: float) -> float:
    """A requested destruction time, never later than the archive keeps jobs."""
    moment = parse_iso_time(value, name="DESTRUCTION")
    if moment <= now:
        raise BadQuery(f"DESTRUCTION {value[:60]!r} is in the past.")
    return min(moment, latest)


def get_job(conn: Connection, job_id: str, *, now: float | None = None) -> Job:
    """A job that exists and is not past its destruction time (else NotFound)."""
    now = time.time() if now is None else now
    row = conn.execute(
        select(uws_jobs).where(uws_jobs.c.job_id == job_id[:40], uws_jobs.c.destruction_at > now)
    ).first()
    if row is None:
        raise NotFound(
            f"No asynchronous TAP job {job_id[:60]!r}: it never existed, was deleted, or "
            "reached its destruction time."
        )
    return _job(row)


def check_owner(job: Job, caller: Caller) -> None:
    """Anyone may use an anonymous job; an owned job only its owner and admins."""
    if job.owner_id is None or job.owner_id == caller.user_id or caller.is_admin:
        return
    if caller.anonymous:
        raise Unauthorized(
            f"{caller.problem + ' ' if caller.problem else ''}Job {job.job_id} belongs to a "
            "signed-in user; send their API token (Authorization: token <token>)."
        )
    raise Forbidden(f"Job {job.job_id} belongs to another user.")


def job_for(engine: Engine, job_id: str, caller: Caller) -> Job:
    """The job ``caller`` asks about (NotFound, Unauthorized or Forbidden otherwise)."""
    with engine.connect() as conn:
        job = get_job(conn, job_id)
    check_owner(job, caller)
    return job


def list_jobs(
    engine: Engine,
    caller: Caller,
    *,
    phases: Sequence[str] = (),
    after: str | None = None,
    last: str | None = None,
) -> list[Job]:
    """The caller's jobs, newest first, filtered as UWS 1.1 §2.2.1.1 says (PHASE, AFTER, LAST).

    An anonymous caller's list is empty: anonymous jobs are reached by their URLs only.
    """
    if caller.anonymous:
        return []
    wanted = [phase.strip().upper() for phase in phases]
    unknown = [phase for phase in wanted if phase not in PHASES]
    if unknown:
        raise BadQuery(f"PHASE {unknown[0][:20]!r} is not a UWS phase; one of {', '.join(PHASES)}.")
    query = select(uws_jobs).where(
        uws_jobs.c.owner_id == caller.user_id, uws_jobs.c.destruction_at > time.time()
    )
    if wanted:
        query = query.where(uws_jobs.c.phase.in_(wanted))
    elif last is None:  # UWS 1.1: without a PHASE filter, ARCHIVED jobs are left out
        query = query.where(uws_jobs.c.phase != "ARCHIVED")
    if after is not None:
        query = query.where(uws_jobs.c.created_at > parse_iso_time(after, name="AFTER"))
    query = query.order_by(uws_jobs.c.created_at.desc())
    if last is not None:
        try:
            count = int(last)
            if count < 0:
                raise ValueError
        except ValueError:
            raise BadQuery(f"LAST {last[:20]!r} is not a whole number >= 0.") from None
        query = query.limit(count)
    with engine.connect() as conn:
        return [_job(row) for row in conn.execute(query)]


def change_phase(engine: Engine, job: Job, action: str, *, enqueue: Enqueue) -> None:
    """``PHASE=RUN`` queues a pending job; ``PHASE=ABORT`` ends an active one as ABORTED.

    Running a job that is already queued, running or finished changes nothing (UWS lets a
    client repeat it); aborting a finished job is refused.
    """
    wanted = action.strip().upper()
    if wanted == "RUN":
        with engine.begin() as conn:
            started = conn.execute(
                update(uws_jobs)
                .where(uws_jobs.c.job_id == job.job_id, uws_jobs.c.phase == PENDING)
                .values(phase=QUEUED)
            ).rowcount
        if started:
            enqueue(job.job_id)
    elif wanted == "ABORT":
        with engine.begin() as conn:
            aborted = conn.execute(
                update(uws_jobs)
                .where(uws_jobs.c.job_id == job.job_id, uws_jobs.c.phase.in_(ACTIVE))
                .values(phase=ABORTED, finished_at=time.time())
            ).rowcount
        if not aborted:
            with engine.connect() as conn:
                now = get_job(conn, job.job_id).phase
            if now != ABORTED:  # aborting twice is no error; aborting a finished job is
                raise BadQuery(f"Job {job.job_id} is {now} already; only a job that has not "
                               "finished can be aborted.")  # fmt: skip
    else:
        raise BadQuery(f"PHASE={action[:20]!r} is not an action; give PHASE=RUN or PHASE=ABORT.")


def set_limits(engine: Engine, settings: Settings, job: Job, **changes: str) -> None:
    """Change a job's EXECUTIONDURATION (only while it is PENDING, UWS 1.1 §2.2.3.2) or its
    DESTRUCTION (an earlier time, at any time)."""
    values: dict[str, Any] = {}
    for name, value in changes.items():
        key = name.upper()
        if key == "DESTRUCTION":
            latest = job.created_at + settings.tap_async_destruction_days * 86400
            values["destruction_at"] = _destruction(value, time.time(), latest)
            continue
        if job.phase != PENDING:
            raise BadQuery(f"Job {job.job_id} is {job.phase}: its {key.lower()} can change only "
                           "while it is PENDING.")  # fmt: skip
        if key == "EXECUTIONDURATION":
            values["execution_duration"] = _duration(value, settings)
    if not values:
        return
    with engine.begin() as conn:
        conn.execute(update(uws_jobs).where(uws_jobs.c.job_id == job.job_id).values(**values))


def set_parameters(engine: Engine, job: Job, given: Sequence[tuple[str, str]]) -> None:
    """Add or replace a PENDING job's parameters (a POST to its ``parameters``)."""
    if job.phase != PENDING:
        raise BadQuery(f"Job {job.job_id} is {job.phase}: its parameters can change only while "
                       "it is PENDING.")  # fmt: skip
    merged = normalise_parameters(
        [*job.parameters.items(), *[(name, value) for name, value in given]]
    )
    with engine.begin() as conn:
        conn.execute(
            update(uws_jobs)
            .where(uws_jobs.c.job_id == job.job_id, uws_jobs.c.phase == PENDING)
            .values(parameters=json.dumps(merged))
        )


def result_of(job: Job) -> str:
    """The storage key of a finished job's result (NotFound while there is none)."""
    if job.phase != COMPLETED or not job.result_key:
        raise NotFound(f"Job {job.job_id} has no result: it is {job.phase}"
                       + (" (see its error)." if job.phase == ERROR else "."))  # fmt: skip
    return job.result_key


def delete_job(engine: Engine, job: Job, *, remove_result: Callable[[str], None]) -> None:
    """Delete a job (aborting it if it runs) and its result."""
    with engine.begin() as conn:
        conn.execute(delete(uws_jobs).where(uws_jobs.c.job_id == job.job_id))
    if job.result_key:
        remove_result(job.result_key)


async def wait_for_change(
    engine: Engine, job: Job, *, seconds: float, phase: str | None, pause: float = 0.25
) -> Job:
    """UWS 1.1 blocking: wait until the job leaves ``phase`` (its current one if not given)
    or ``seconds`` pass (-1: the longest wait), polling the catalogue, so a change made by
    any process ends the wait. Only an active job waits."""
    import asyncio

    awaited = (phase or job.phase).upper()
    if job.phase not in ACTIVE or job.phase != awaited:
        return job
    seconds = MAX_WAIT_SECONDS if seconds < 0 else min(seconds, MAX_WAIT_SECONDS)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        await asyncio.sleep(min(pause, max(deadline - time.monotonic(), 0)))
        job = await asyncio.to_thread(_reread, engine, job.job_id)
        if job.phase != awaited:
            break
    return job


def _reread(engine: Engine, job_id: str) -> Job:
    with engine.connect() as conn:
        return get_job(conn, job_id)
