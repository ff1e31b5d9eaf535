"""Batch staging in a real ``skyarchive worker`` process: killed mid-job, restarted, finished.

The notice goes through a real SMTP server (aiosmtpd in a thread); the staged area is then
fetched the way the notice says, with ``wget -r``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import time
import uuid
from email import message_from_bytes
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import func, select

from skyarchive.access import users
from skyarchive.access.policy import Caller
from skyarchive.db.tables import delivery_files, delivery_requests, job_leases
from skyarchive.delivery.requests import start_staging
from skyarchive.jobs.queue import enqueue_staging
from tests.delivery.helpers import cli, make_archive, write_manifest
from tests.e2e.conftest import LiveServer
from tests.tools import require_tool

# among the slowest files: handed out first (tests/suite.py)
pytestmark = pytest.mark.slow

FILES = 30


def _counts(archive, request_id: str) -> tuple[str, int]:  # type: ignore[no-untyped-def]
    requested = delivery_requests.c.request_id == request_id
    staged = (delivery_files.c.request_id == request_id) & (delivery_files.c.state == "done")
    with archive.engine.connect() as conn:
        status = conn.scalar(select(delivery_requests.c.status).where(requested))
        done = conn.scalar(select(func.count()).select_from(delivery_files).where(staged))
    return status, int(done or 0)


def _assert_staged_once(area: Path, source: Path) -> list[str]:
    """Every requested file is in the area once, as archived; nothing else but the manifest."""
    staged = sorted(str(p.relative_to(area)) for p in area.rglob("*") if p.is_file())
    expected = sorted(f"HST/hst-test-obs/f{i:03d}_drz.dat" for i in range(FILES))
    assert staged == sorted(expected + ["MANIFEST.HTML"])  # no duplicates, no leftovers
    for rel in expected:
        assert (area / rel).read_bytes() == (source / rel.rsplit("/", 1)[1]).read_bytes()
    return expected


def _stop(process: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    if process.poll() is None:
        os.killpg(process.pid, sig)
        process.wait(timeout=20)


@pytest.mark.slow
@pytest.mark.parametrize("queue", ["sqlite", "redis"])
def test_staging_survives_a_killed_worker(tmp_path: Path, smtp, queue: str) -> None:  # type: ignore[no-untyped-def]
    if queue == "redis":
        require_tool("redis")
    port, inbox = smtp
    env = {
        "SKYARCHIVE_STAGING_PAUSE": "0.1", "SKYARCHIVE_SMTP_HOST": "127.0.0.1",
        "SKYARCHIVE_SMTP_PORT": str(port), "SKYARCHIVE_WORKER_THREADS": "2",
    }  # fmt: skip
    settings: dict[str, object] = {"smtp_host": "127.0.0.1", "smtp_port": port}
    if queue == "redis":
        env["SKYARCHIVE_REDIS_URL"] = settings["redis_url"] = "redis://127.0.0.1:6379/0"
    home = tmp_path / "home"
    source = write_manifest(
        tmp_path / "in", {f"f{i:03d}_drz.dat": 50_000 + i for i in range(FILES)}
    )
    archive = make_archive(home, source.parent, **settings)
    server = LiveServer(archive)
    env["SKYARCHIVE_BASE_URL"] = server.url  # the worker has no request: its links use base_url
    with archive.engine.begin() as conn:
        user = users.create_user(conn, email=f"stager-{uuid.uuid4().hex[:6]}@example.org")
    caller = Caller(user_id=user.user_id, email=user.email)
    info = start_staging(
        archive,
        caller,
        uris=[f"f{i:03d}_drz.dat" for i in range(FILES)],
        base_url=server.url,
        enqueue=partial(enqueue_staging, archive.settings),
    )
    request_id = info["request_id"]
    assert info["status"] == "queued" and info["files_total"] == FILES

    worker = cli(home, "worker", env=env)
    try:
        deadline = time.monotonic() + 30
        while _counts(archive, request_id)[1] < 5:
            assert time.monotonic() < deadline, worker.stderr.read().decode()  # type: ignore[union-attr]
            assert worker.poll() is None
            time.sleep(0.05)
        _stop(worker)  # kill -9 in the middle of the job
        status, done = _counts(archive, request_id)
        assert status == "running" and 5 <= done < FILES
        worker = cli(home, "worker", env=env)
        deadline = time.monotonic() + 60
        while _counts(archive, request_id)[0] != "done":
            assert time.monotonic() < deadline, "staging did not finish after the restart"
            assert worker.poll() is None
            time.sleep(0.1)
        deadline = time.monotonic() + 20
        while not inbox.messages and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        _stop(worker, signal.SIGINT)

    area = archive.settings.resolved_staging_path / request_id
    expected = _assert_staged_once(area, source.parent)

    assert len(inbox.messages) == 1
    notice = message_from_bytes(inbox.messages[0])
    assert notice["To"] == user.email and request_id in notice["Subject"]
    body = notice.get_payload()
    location = f"{server.url}/staging/{request_id}/"
    assert location in body and f"{FILES} staged" in body and "wget -r" in body

    if shutil.which("wget"):
        with server:
            fetched = tmp_path / "fetched"
            subprocess.run(
                ["wget", "-q", "-r", "-np", "-nH", "--cut-dirs=2", "-R", "index.html*",
                 "-P", str(fetched), location],
                check=True, timeout=60,
            )  # fmt: skip
        got = sorted(str(p.relative_to(fetched)) for p in fetched.rglob("*") if p.is_file())
        assert got == sorted(expected + ["MANIFEST.HTML"])
        for rel in expected:
            digest = hashlib.sha256((fetched / rel).read_bytes()).hexdigest()
            assert digest in (area / "MANIFEST.HTML").read_text()
    archive.engine.dispose()


def _holder_pid(archive, request_id: str) -> int | None:  # type: ignore[no-untyped-def]
    """The process holding the request's lease (``host:pid:random``), if one does."""
    with archive.engine.connect() as conn:
        holder = conn.scalar(
            select(job_leases.c.holder).where(job_leases.c.name == f"staging:{request_id}")
        )
    return int(holder.split(":")[1]) if holder else None


@pytest.mark.slow
def test_two_workers_on_redis_one_killed_mid_job_the_other_finishes_it_once(
    tmp_path: Path, smtp, database_url: str
) -> None:  # type: ignore[no-untyped-def]
    require_tool("redis")
    port, inbox = smtp
    lease = 3.0
    redis_url = "redis://127.0.0.1:6379/0"
    env = {
        "SKYARCHIVE_STAGING_PAUSE": "0.1", "SKYARCHIVE_SMTP_HOST": "127.0.0.1",
        "SKYARCHIVE_SMTP_PORT": str(port), "SKYARCHIVE_REDIS_URL": redis_url,
        "SKYARCHIVE_DATABASE_URL": database_url, "SKYARCHIVE_JOB_LEASE_SECONDS": str(lease),
        "SKYARCHIVE_BASE_URL": "http://archive.example.org",
    }  # fmt: skip
    home = tmp_path / "home"
    source = write_manifest(
        tmp_path / "in", {f"f{i:03d}_drz.dat": 50_000 + i for i in range(FILES)}
    )
    archive = make_archive(home, source.parent, database_url=database_url, redis_url=redis_url,
                           smtp_host="127.0.0.1", smtp_port=port)  # fmt: skip
    with archive.engine.begin() as conn:
        user = users.create_user(conn, email=f"stager-{uuid.uuid4().hex[:6]}@example.org")
    workers = [cli(home, "worker", env=env) for _ in range(2)]
    try:
        time.sleep(3)  # both consumers listening, so either may take the job
        info = start_staging(
            archive, Caller(user_id=user.user_id, email=user.email),
            uris=[f"f{i:03d}_drz.dat" for i in range(FILES)], base_url="http://archive.example.org",
            enqueue=partial(enqueue_staging, archive.settings),
        )  # fmt: skip
        request_id = info["request_id"]
        deadline = time.monotonic() + 30
        while _counts(archive, request_id)[1] < 5:
            assert time.monotonic() < deadline, "no worker started the job"
            assert all(w.poll() is None for w in workers)
            time.sleep(0.05)
        holder = _holder_pid(archive, request_id)
        killed = next(w for w in workers if w.pid == holder)
        survivor = next(w for w in workers if w is not killed)
        _stop(killed)  # kill -9 in the middle of the job
        status, done = _counts(archive, request_id)
        assert status == "running" and 5 <= done < FILES

        deadline = time.monotonic() + 60  # the lease runs out, the survivor takes the job over
        while _counts(archive, request_id)[0] != "done":
            assert time.monotonic() < deadline, "the surviving worker did not finish the job"
            assert survivor.poll() is None
            time.sleep(0.1)
        assert _holder_pid(archive, request_id) in (None, survivor.pid)
        time.sleep(2 * lease)  # a second notice, were one coming, would arrive by now
    finally:
        for worker in workers:
            _stop(worker, signal.SIGINT)

    area = archive.settings.resolved_staging_path / request_id
    _assert_staged_once(area, source.parent)
    assert len(inbox.messages) == 1
    assert request_id in message_from_bytes(inbox.messages[0])["Subject"]
    archive.engine.dispose()
