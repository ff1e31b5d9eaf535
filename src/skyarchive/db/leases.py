"""Leases on jobs, in the catalogue: one holder at a time, across every worker process.

A worker takes a job's lease before it runs the job, renews it while it works and gives it
back at the end. A worker that dies (``kill -9``, a lost machine) stops renewing, so its
lease runs out after ``seconds`` and another worker may take the job over; a job whose lease
someone else holds is simply skipped. With the job's own progress kept in the catalogue, this
makes "done exactly once" hold with any number of workers.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, delete, select, update

from skyarchive.db.tables import job_leases
from skyarchive.db.upsert import insert_ignore


def new_holder() -> str:
    """A name for one run of a job: the host and process (for operators) and a random part."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(6)}"


def take(engine: Engine, name: str, *, holder: str, seconds: float) -> bool:
    """Take (or renew) the lease on ``name`` for ``seconds``; False while another holds it."""
    now = time.time()
    lease = job_leases.c
    with engine.begin() as conn:
        insert_ignore(conn, job_leases, [{"name": name, "holder": holder, "expires_at": 0.0}])
        taken = conn.execute(
            update(job_leases)
            .where(lease.name == name, (lease.holder == holder) | (lease.expires_at < now))
            .values(holder=holder, expires_at=now + seconds)
        )
    return taken.rowcount == 1


def give_back(engine: Engine, name: str, *, holder: str) -> None:
    """End ``holder``'s lease on ``name`` (nothing happens if it ran out and was taken)."""
    with engine.begin() as conn:
        conn.execute(
            delete(job_leases).where(job_leases.c.name == name, job_leases.c.holder == holder)
        )


@contextmanager
def held(engine: Engine, name: str, *, seconds: float) -> Iterator[bool]:
    """``with held(engine, "notify", seconds=60) as mine:`` run the job only when ``mine``."""
    holder = new_holder()
    mine = take(engine, name, holder=holder, seconds=seconds)
    try:
        yield mine
    finally:
        if mine:
            give_back(engine, name, holder=holder)


def free_orphans(engine: Engine) -> int:
    """End leases held by processes of this host that no longer exist; return how many.

    A worker restarted after ``kill -9`` on the same machine need not wait for its old lease to
    run out. Leases of other hosts are left to run out: their processes cannot be seen here.
    """
    host = socket.gethostname()[:60]
    with engine.connect() as conn:
        holders = conn.scalars(
            select(job_leases.c.holder).where(job_leases.c.holder.startswith(f"{host}:"))
        ).all()
    dead = [holder for holder in set(holders) if not _alive(int(holder.split(":")[1]))]
    if dead:
        with engine.begin() as conn:
            conn.execute(delete(job_leases).where(job_leases.c.holder.in_(dead)))
    return len(dead)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True
