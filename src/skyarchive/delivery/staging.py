"""Batch staging: put a request's files under ``<staging>/<request id>/`` and tell the user.

The job is idempotent. Each file is hard-linked (or, across file systems, copied) to a hidden
temporary name and renamed into place, then marked ``done`` in the catalog; a rerun after a
kill redoes only files not yet marked, and a file renamed but not yet marked is simply made
again under the same name. So a worker or server killed at any point leaves, after the rerun,
every file exactly once with its archived checksum.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from pathlib import Path

from sqlalchemy import select, update

from skyarchive.access.caller import caller_for_user
from skyarchive.access.policy import Caller
from skyarchive.access.rights import now_mjd
from skyarchive.archive import Archive
from skyarchive.db import leases
from skyarchive.db.tables import delivery_files, delivery_requests, products
from skyarchive.delivery.manifest import manifest_html
from skyarchive.delivery.requests import (
    DONE,
    EXPIRED,
    FAILED,
    MISSING,
    PENDING,
    RUNNING,
    DeliveryRequest,
    fetch_command,
    get_request,
    link_base,
    needs_token,
    request_product_ids,
    set_status,
    staging_location,
)
from skyarchive.delivery.selection import resolve_selection
from skyarchive.delivery.service import MANIFEST_NAME, staging_area
from skyarchive.errors import NotFound
from skyarchive.notify.mail import send_mail
from skyarchive.storage import Storage

log = logging.getLogger("skyarchive.delivery.staging")
_BATCH = 200


def run_staging(archive: Archive, *, request_id: str) -> str:
    """Stage one request (or finish staging it); return its final status.

    Parameters
    ----------
    archive : Archive
        The archive (settings, catalog, storage).
    request_id : str
        A ``staging`` delivery request.
    """
    lease = _Lease(archive, request_id)
    if not lease.renew():
        return RUNNING  # another worker (or thread) has it, and is alive
    try:
        return _run(archive, request_id, lease)
    finally:
        leases.give_back(archive.engine, lease.name, holder=lease.holder)


class _Lease:
    """This run's hold on one request: renewed after each file, so only one worker stages it."""

    def __init__(self, archive: Archive, request_id: str) -> None:
        self.engine = archive.engine
        self.seconds = archive.settings.job_lease_seconds
        self.name = f"staging:{request_id}"
        self.holder = leases.new_holder()

    def renew(self) -> bool:
        return leases.take(self.engine, self.name, holder=self.holder, seconds=self.seconds)

    def keep(self) -> None:
        """Renew, or stop this run: the lease ran out and another worker has the job now."""
        if not self.renew():
            raise LeaseLost(self.name)


class LeaseLost(RuntimeError):
    """This worker held a job too long without renewing; another took it over."""


def _run(archive: Archive, request_id: str, lease: _Lease) -> str:
    with archive.engine.begin() as conn:
        found = get_request(conn, request_id)
        if found.status in (DONE, FAILED, EXPIRED):
            if found.status == DONE and found.notified_at is None:
                _notify(archive, found)
            return found.status
        set_status(conn, request_id, RUNNING, started_at=found.started_at or time.time())
    area = staging_area(archive.settings, request_id)
    area.mkdir(parents=True, exist_ok=True)
    try:
        _copy_pending(archive, request_id, area, lease)
        _remove_leftovers(area)
        _write_manifest(archive, found, area)
    except LeaseLost:
        log.warning("staging %s: lease lost, another worker continues it", request_id)
        return RUNNING
    except Exception as exc:  # recorded for the user; the worker retries transient errors
        log.exception("staging %s failed", request_id)
        with archive.engine.begin() as conn:
            set_status(conn, request_id, FAILED, error=f"{type(exc).__name__}: {exc}")
        raise
    finished = time.time()
    with archive.engine.begin() as conn:
        set_status(
            conn, request_id, DONE, finished_at=finished,
            expires_at=finished + archive.settings.staging_days * 86400,
        )  # fmt: skip
        found = get_request(conn, request_id)
        if found.remove_completed and found.basket_id is not None:
            from skyarchive.delivery.basket import remove_products

            remove_products(conn, basket_id=found.basket_id, product_ids=_done_ids(conn, found))
    _notify(archive, found)
    return DONE


def _done_ids(conn, found: DeliveryRequest) -> list[int]:  # type: ignore[no-untyped-def]
    query = select(delivery_files.c.product_id).where(
        delivery_files.c.request_id == found.request_id, delivery_files.c.state == DONE
    )
    return [int(pid) for pid in conn.scalars(query)]


def _copy_pending(archive: Archive, request_id: str, area: Path, lease: _Lease) -> None:
    pause = archive.settings.staging_pause
    query = (
        select(delivery_files.c.product_id, delivery_files.c.path, products.c.storage_key)
        .join(products, products.c.product_id == delivery_files.c.product_id)
        .where(delivery_files.c.request_id == request_id, delivery_files.c.state == PENDING)
        .order_by(delivery_files.c.path)
        .limit(_BATCH)
    )
    while True:
        with archive.engine.connect() as conn:
            batch = conn.execute(query).all()
        if not batch:
            return
        for row in batch:
            target = (area / row.path).resolve()
            if not target.is_relative_to(area.resolve()):
                raise ValueError(f"unsafe path {row.path!r}")
            state = DONE if _place(archive.storage, row.storage_key, target) else MISSING
            with archive.engine.begin() as conn:
                conn.execute(
                    update(delivery_files)
                    .where(
                        delivery_files.c.request_id == request_id,
                        delivery_files.c.product_id == row.product_id,
                    )
                    .values(state=state)
                )
            if pause:
                time.sleep(pause)
            lease.keep()


def _place(storage: Storage, key: str, target: Path) -> bool:
    """Hard-link or copy the stored file to ``target`` atomically; False if storage lacks it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.part-{os.getpid()}-{threading.get_ident()}")
    temporary.unlink(missing_ok=True)
    try:
        source = storage.local_path(key)
        if source is not None:
            try:
                os.link(source, temporary)
            except OSError:  # another file system, or links not allowed: copy
                shutil.copyfile(source, temporary)
        else:
            with open(temporary, "wb") as out:  # from an object store: one chunk at a time
                for chunk in storage.open_range(key, 0, None):
                    out.write(chunk)
    except (NotFound, FileNotFoundError):
        temporary.unlink(missing_ok=True)
        return False
    os.replace(temporary, target)
    return True


def _remove_leftovers(area: Path) -> None:
    """Remove temporary files of a worker killed mid-copy (each run names its own)."""
    for leftover in area.rglob(".*.part-*"):
        leftover.unlink(missing_ok=True)


def _write_manifest(archive: Archive, found: DeliveryRequest, area: Path) -> None:
    """MANIFEST.HTML for the requester: only files they may have now, the rest as left out."""
    with archive.engine.connect() as conn:
        caller = _owner(conn, found)
        ids = request_product_ids(conn, found.request_id)
        selection = resolve_selection(conn, None, caller=caller, now=now_mjd(), product_ids=ids)
        states: dict[int, str] = {
            int(pid): state
            for pid, state in conn.execute(
                select(delivery_files.c.product_id, delivery_files.c.state).where(
                    delivery_files.c.request_id == found.request_id
                )
            )
        }
    from skyarchive.delivery.selection import MISSING as MISSING_REASON
    from skyarchive.delivery.selection import Excluded

    done = [i for i in selection.items if states.get(i.product_id) == DONE]
    excluded = (
        list(found.excluded)
        + selection.excluded
        + [
            Excluded(i.filename, i.path, MISSING_REASON, i.size)
            for i in selection.items
            if states.get(i.product_id) == MISSING
        ]
    )
    source = link_base(found, archive.settings.offline_base_url)
    page = manifest_html(done, excluded, caller=caller, source=source)
    temporary = area / f".{MANIFEST_NAME}.part"
    temporary.write_text(page, encoding="utf-8")
    os.replace(temporary, area / MANIFEST_NAME)


def _owner(conn, found: DeliveryRequest) -> Caller:  # type: ignore[no-untyped-def]
    """The requester with today's rights (anonymous: public data only)."""
    if found.user_id is None:
        return Caller(email=found.email)
    return caller_for_user(conn, found.user_id)


def notice_text(found: DeliveryRequest, counts: dict[str, int], *, base_url: str,
                needs_token: bool) -> str:  # fmt: skip
    """The e-mail telling the requester where the staged files are and how to fetch them."""
    location = staging_location(found, base_url)
    expires = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(found.expires_at or time.time()))
    lines = [
        "Your skyarchive batch staging request is complete.",
        "",
        f"Request:  {found.request_id}",
        f"Files:    {counts.get('done', 0)} staged, {found.bytes_total:,} bytes in all",
        f"Location: {location}",
        f"Expires:  {expires} (the files are removed then)",
        "",
        "Fetch everything with:",
        f"  {fetch_command(location, token=needs_token)}",
    ]
    if needs_token:
        lines.append("Some files are in an exclusive-access period: set MAST_API_TOKEN first.")
    lines.append("MANIFEST.HTML in that folder lists every file with its size and SHA-256.")
    left_out = counts.get("missing", 0) + len(found.excluded)
    if left_out:
        lines += ["", f"{left_out} requested files could not be staged; see MANIFEST.HTML."]
    return "\n".join(lines) + "\n"


def _notify(archive: Archive, found: DeliveryRequest) -> None:
    with archive.engine.connect() as conn:
        email = found.email or (_owner(conn, found).email)
        rows = conn.execute(
            select(delivery_files.c.state).where(delivery_files.c.request_id == found.request_id)
        ).scalars()
        counts: dict[str, int] = {}
        for state in rows:
            counts[state] = counts.get(state, 0) + 1
        token = needs_token(conn, found.request_id)
    if email:
        subject = f"skyarchive: your staged data is ready ({found.request_id})"
        base = link_base(found, archive.settings.offline_base_url)
        body = notice_text(found, counts, base_url=base, needs_token=token)
        send_mail(archive.settings, to=email, subject=subject, body=body)
    with archive.engine.begin() as conn:
        conn.execute(
            update(delivery_requests)
            .where(delivery_requests.c.request_id == found.request_id)
            .values(notified_at=time.time())
        )


def remove_expired(archive: Archive, *, now: float | None = None) -> int:
    """Delete staging areas past their expiry; mark their requests ``expired``."""
    now = time.time() if now is None else now
    with archive.engine.connect() as conn:
        ids = conn.scalars(
            select(delivery_requests.c.request_id).where(
                delivery_requests.c.format == "staging",
                delivery_requests.c.status == DONE,
                delivery_requests.c.expires_at < now,
            )
        ).all()
    for request_id in ids:
        shutil.rmtree(staging_area(archive.settings, request_id), ignore_errors=True)
        with archive.engine.begin() as conn:
            set_status(conn, request_id, EXPIRED)
    return len(ids)
