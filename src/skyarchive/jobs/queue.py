"""The job queue: huey over SQLite in the archive home, or over Redis when configured.

The server enqueues; ``skyarchive worker`` (a huey consumer, its own process) runs the jobs.
Jobs are idempotent and their progress lives in the catalog, so a worker killed mid-job loses
nothing: at start it re-enqueues every unfinished staging request.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from huey import Huey, RedisHuey, SqliteHuey, crontab

from skyarchive.config import Settings
from skyarchive.db import leases

log = logging.getLogger("skyarchive.jobs")


@dataclass(frozen=True)
class Queue:
    huey: Huey
    stage: Any  # the registered huey task: stage(request_id) enqueues
    tap_job: Any  # tap_job(job_id) enqueues an asynchronous TAP job (vo/uws_run.py)


def queue_name(settings: Settings) -> str:
    """One queue per archive, so archives may share a Redis server."""
    digest = hashlib.sha256(str(settings.home.resolve()).encode()).hexdigest()[:10]
    return f"skyarchive-{digest}"


def make_huey(settings: Settings) -> Huey:
    name = queue_name(settings)
    if settings.redis_url:
        return RedisHuey(name, url=settings.redis_url, results=False)
    settings.home.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(name, filename=str((settings.home / "jobs.db").resolve()), results=False)


def build_queue(settings: Settings) -> Queue:
    """A huey instance with skyarchive's tasks registered on it."""
    huey = make_huey(settings)

    @huey.task(name="stage", retries=2, retry_delay=5)
    def stage(request_id: str) -> None:
        from skyarchive.delivery.staging import run_staging

        run_staging(_archive(settings), request_id=request_id)

    @huey.task(name="tap-job", retries=1, retry_delay=5)
    def tap_job(job_id: str) -> None:
        from skyarchive.vo.uws_run import run_job, tap_executor

        run_job(_archive(settings), job_id=job_id, execute=tap_executor())

    # Every consumer schedules the periodic jobs, so with several workers each job is due
    # several times at once: a lease in the catalogue lets one of them run it (`_alone`).
    @huey.periodic_task(crontab(minute="*/10"), name="cleanup")
    def cleanup() -> None:
        from skyarchive.delivery.staging import remove_expired

        with _alone(settings, "cleanup") as mine:
            removed = remove_expired(_archive(settings)) if mine else 0
        if removed:
            log.info("removed %d expired staging areas", removed)

    @huey.periodic_task(crontab(minute="41"), name="basket-cleanup")
    def basket_cleanup() -> None:
        from skyarchive.delivery.basket import purge_expired_baskets

        engine = _archive(settings).engine
        days = settings.anonymous_basket_days
        with _alone(settings, "basket-cleanup") as mine:
            removed = purge_expired_baskets(engine, days=days) if mine else 0
        if removed:
            log.info("removed %d expired anonymous baskets", removed)

    @huey.periodic_task(crontab(minute="*/5"), name="notify")
    def notify() -> None:
        from skyarchive.notify.digest import run_notifications

        with _alone(settings, "notify") as mine:
            if not mine:
                return
            # says so in the log if links lack a base
            report = run_notifications(_archive(settings))
        if report.emails or report.failed:
            log.info("subscriptions: %d e-mails with %d events, %d failed", report.emails,
                     report.events_sent, len(report.failed))  # fmt: skip

    @huey.periodic_task(crontab(minute="*/10"), name="uws-cleanup")
    def uws_cleanup() -> None:
        from skyarchive.vo.uws_run import destroy_expired

        with _alone(settings, "uws-cleanup") as mine:
            removed = destroy_expired(_archive(settings)) if mine else 0
        if removed:
            log.info("removed %d asynchronous TAP jobs past their destruction time", removed)

    # After an upgrade whose code stores a keyword file's table columns otherwise (or to
    # schema 0043), every file is shaped per search until its columns are written again: the
    # worker does it by itself, in batches, one primary-key read a tick once nothing is left.
    @huey.periodic_task(crontab(minute="*/10"), name="keyword-columns")
    def keyword_columns() -> None:
        from skyarchive.search.keyword_store import keyword_columns_behind, write_keyword_columns

        engine = _archive(settings).engine
        if not keyword_columns_behind(engine):
            return
        with _alone(settings, "keyword-columns") as mine:
            written = write_keyword_columns(engine) if mine else 0
        if written:
            log.info("stored the keyword tables' columns of %d files", written)

    return Queue(huey, stage, tap_job)


@lru_cache(maxsize=8)
def _queue_for(key: str, settings_json: str) -> Queue:
    return build_queue(Settings.model_validate_json(settings_json))


def queue_for(settings: Settings) -> Queue:
    """The (per-process, cached) queue of an archive, for enqueueing from the server."""
    return _queue_for(queue_name(settings), settings.model_dump_json())


_archives: dict[str, Any] = {}


def _alone(settings: Settings, job: str) -> AbstractContextManager[bool]:
    """Hold the catalogue's lease on a periodic ``job``: True when this worker is to run it."""
    return leases.held(_archive(settings).engine, f"periodic:{job}",
                       seconds=settings.job_lease_seconds)  # fmt: skip


def _archive(settings: Settings):  # type: ignore[no-untyped-def]
    from skyarchive.archive import Archive

    key = settings.model_dump_json()
    if key not in _archives:
        _archives[key] = Archive.open(settings, migrate=False)
    return _archives[key]


def enqueue_staging(settings: Settings, request_id: str) -> None:
    """Hand a staging request to the worker (a worker not running leaves it queued)."""
    queue_for(settings).stage(request_id)


def enqueue_tap_job(settings: Settings, job_id: str) -> None:
    """Hand an asynchronous TAP job to the worker (a worker not running leaves it QUEUED)."""
    queue_for(settings).tap_job(job_id)


def run_worker(settings: Settings, *, threads: int | None = None) -> None:
    """Run the huey consumer in this process until interrupted (``skyarchive worker``)."""
    from skyarchive.archive import Archive
    from skyarchive.delivery.requests import unfinished_staging

    archive = Archive.open(settings)  # migrates once, before the threads start
    _archives[settings.model_dump_json()] = archive
    queue = build_queue(settings)
    leases.free_orphans(archive.engine)  # this host's workers killed before this start
    with archive.engine.connect() as conn:
        pending = unfinished_staging(conn)
    for request_id in pending:
        queue.stage(request_id)
    log.info("worker: %d unfinished staging requests re-enqueued", len(pending))
    _requeue_tap_jobs(archive, queue)
    threading.Thread(
        target=_rescue_abandoned, args=(archive, queue), name="rescue", daemon=True
    ).start()
    consumer = queue.huey.create_consumer(
        workers=threads or settings.worker_threads, worker_type="thread", periodic=True,
        initial_delay=0.05, max_delay=1.0,
    )  # fmt: skip
    consumer.run()


def _rescue_abandoned(archive: Any, queue: Queue) -> None:
    """Re-enqueue staging requests whose worker died mid-job (its lease ran out).

    A job a killed worker had taken from Redis is gone from the queue; every live worker looks
    for such requests a few times per lease period. Two workers may enqueue the same one: the
    lease lets only one run it, the other run ends at once.
    """
    from skyarchive.delivery.requests import abandoned_staging

    period = max(archive.settings.job_lease_seconds / 4, 0.5)
    while True:
        time.sleep(period)
        try:
            leases.free_orphans(archive.engine)
            with archive.engine.connect() as conn:
                abandoned = abandoned_staging(conn)
        except Exception:  # the catalogue away for a moment: look again next time
            log.exception("worker: looking for abandoned staging requests failed")
            continue
        for request_id in abandoned:
            log.info("worker: staging %s was abandoned by a worker; re-enqueued", request_id)
            queue.stage(request_id)
        _requeue_tap_jobs(archive, queue, abandoned_only=True)


def _requeue_tap_jobs(archive: Any, queue: Queue, *, abandoned_only: bool = False) -> None:
    """Asynchronous TAP jobs a starting worker finds queued or running, or (``abandoned_only``)
    running jobs whose worker died: enqueued again; the job's lease lets one worker run it."""
    from skyarchive.vo.uws_run import abandoned_jobs, unfinished_jobs

    try:
        with archive.engine.connect() as conn:
            found = abandoned_jobs(conn) if abandoned_only else unfinished_jobs(conn)
    except Exception:  # the catalogue away for a moment: look again next time
        log.exception("worker: looking for asynchronous TAP jobs to resume failed")
        return
    for job_id in found:
        log.info("worker: asynchronous TAP job %s re-enqueued", job_id)
        queue.tap_job(job_id)
