"""Delivery requests: a selection snapshot plus a method (zip, tar, tar.gz, curl, staging).

A request is recorded with one row per included file, so a staging job can record progress
file by file and a download link made from the basket always delivers what was selected.
Request ids are random and unguessable; only the owner (user or basket) and admins see them.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, select, update

from skyarchive.access.policy import Caller
from skyarchive.access.rights import now_mjd
from skyarchive.db.tables import delivery_files, delivery_requests, products
from skyarchive.delivery.selection import (
    Excluded,
    Selection,
    require_deliverable,
    resolve_selection,
)
from skyarchive.errors import NotFound

if TYPE_CHECKING:
    from skyarchive.archive import Archive

METHODS = ("zip", "tar", "tar.gz", "curl", "staging")
QUEUED, RUNNING, DONE, FAILED, EXPIRED = "queued", "running", "done", "failed", "expired"
PENDING, MISSING = "pending", "missing"


@dataclass(frozen=True)
class DeliveryRequest:
    request_id: str
    user_id: int | None
    basket_id: int | None
    method: str
    status: str
    email: str | None
    remove_completed: bool
    files_total: int
    bytes_total: int
    error: str | None
    excluded: list[Excluded]
    created_at: float
    started_at: float | None
    finished_at: float | None
    expires_at: float | None
    notified_at: float | None


def create_request(
    conn: Connection,
    *,
    selection: Selection,
    method: str,
    user_id: int | None,
    basket_id: int | None = None,
    email: str | None = None,
    remove_completed: bool = False,
) -> str:
    """Record a delivery request with its files (state ``pending``); return its id."""
    request_id = secrets.token_urlsafe(18)
    conn.execute(
        delivery_requests.insert().values(
            request_id=request_id, user_id=user_id, basket_id=basket_id, format=method,
            status=QUEUED, email=email, remove_completed=remove_completed,
            files_total=len(selection.items), bytes_total=selection.total_bytes,
            excluded=json.dumps([[e.name, e.path, e.reason, e.size] for e in selection.excluded]),
            created_at=time.time(),
        )
    )  # fmt: skip
    rows = [
        {"request_id": request_id, "product_id": i.product_id, "path": i.path, "state": PENDING}
        for i in selection.items
    ]
    for start in range(0, len(rows), 1000):
        conn.execute(delivery_files.insert(), rows[start : start + 1000])
    return request_id


def get_request(conn: Connection, request_id: str) -> DeliveryRequest:
    row = conn.execute(
        select(delivery_requests).where(delivery_requests.c.request_id == str(request_id)[:40])
    ).first()
    if row is None:
        raise NotFound(f"No delivery request {request_id!r}.")
    values = row._asdict()
    values["method"] = values.pop("format")
    values["excluded"] = [Excluded(*e) for e in json.loads(values["excluded"] or "[]")]
    return DeliveryRequest(**values)


def owned_request(
    conn: Connection, request_id: str, *, caller: Caller, basket_id: int | None
) -> DeliveryRequest:
    """The request if ``caller`` (or the caller's basket) made it; NotFound otherwise."""
    found = get_request(conn, request_id)
    mine = (found.user_id is not None and found.user_id == caller.user_id) or (
        found.user_id is None and basket_id is not None and found.basket_id == basket_id
    )
    if not (mine or caller.is_admin):
        raise NotFound(f"No delivery request {request_id!r}.")
    return found


def request_product_ids(conn: Connection, request_id: str) -> list[int]:
    query = select(delivery_files.c.product_id).where(delivery_files.c.request_id == request_id)
    return [int(pid) for pid in conn.scalars(query.order_by(delivery_files.c.path))]


def set_status(conn: Connection, request_id: str, status: str, **values: Any) -> None:
    conn.execute(
        update(delivery_requests)
        .where(delivery_requests.c.request_id == request_id)
        .values(status=status, **values)
    )


def finish_download(conn: Connection, request_id: str) -> None:
    """A zip/tar/script request whose stream was sent to its end: every file is delivered."""
    conn.execute(
        update(delivery_files)
        .where(delivery_files.c.request_id == request_id, delivery_files.c.state == PENDING)
        .values(state=DONE)
    )
    set_status(conn, request_id, DONE, finished_at=time.time())


def progress(conn: Connection, request_id: str) -> dict[str, int]:
    """Files and bytes per state (``pending``, ``done``, ``missing``)."""
    query = (
        select(delivery_files.c.state, func.count(), func.coalesce(func.sum(products.c.size), 0))
        .join(products, products.c.product_id == delivery_files.c.product_id)
        .where(delivery_files.c.request_id == request_id)
        .group_by(delivery_files.c.state)
    )
    counts: dict[str, int] = {}
    for state, files, size in conn.execute(query):
        counts[f"files_{state}"] = int(files)
        counts[f"bytes_{state}"] = int(size)
    return counts


def describe(conn: Connection, found: DeliveryRequest, *, base_url: str) -> dict[str, Any]:
    """The JSON shape of a request for the APIs (status, progress, where to get it)."""
    base = base_url.rstrip("/")
    counts = progress(conn, found.request_id)
    info: dict[str, Any] = {
        "request_id": found.request_id,
        "method": found.method,
        "status": found.status,
        "files_total": found.files_total,
        "bytes_total": found.bytes_total,
        "files_done": counts.get("files_done", 0),
        "bytes_done": counts.get("bytes_done", 0),
        "files_missing": counts.get("files_missing", 0),
        "not_included": [{"file": e.path or e.name, "reason": e.reason} for e in found.excluded],
        "created_at": found.created_at,
        "started_at": found.started_at,
        "finished_at": found.finished_at,
        "expires_at": found.expires_at,
        "error": found.error,
        "status_url": f"{base}/api/portal/deliveries/{found.request_id}",
    }
    if found.method == "staging":
        info["location"] = f"{base}/staging/{found.request_id}/"
    else:
        info["download_url"] = f"{base}/api/portal/deliveries/{found.request_id}/download"
    return info


def list_requests(conn: Connection, *, user_id: int, limit: int = 100) -> list[DeliveryRequest]:
    ids = conn.scalars(
        select(delivery_requests.c.request_id)
        .where(delivery_requests.c.user_id == user_id)
        .order_by(delivery_requests.c.created_at.desc())
        .limit(limit)
    ).all()
    return [get_request(conn, rid) for rid in ids]


def unfinished_staging(conn: Connection) -> list[str]:
    """Staging requests a worker must (re)start: queued, or running when a worker died."""
    query = select(delivery_requests.c.request_id).where(
        delivery_requests.c.format == "staging",
        delivery_requests.c.status.in_((QUEUED, RUNNING)),
    )
    return list(conn.scalars(query.order_by(delivery_requests.c.created_at)))


def start_staging(
    archive: Archive,
    caller: Caller,
    *,
    uris: list[str] = [],  # noqa: B006
    obsids: list[int] = [],  # noqa: B006
    product_ids: list[int] = [],  # noqa: B006
    mrp_only: bool = False,
    basket_id: int | None = None,
    remove_completed: bool = False,
    base_url: str,
) -> dict[str, Any]:
    """Record a staging request for ``caller``, hand it to the worker and describe it.

    ``base_url`` is the archive's public URL as the caller reached it (for the links).
    """
    from skyarchive.jobs.queue import enqueue_staging  # the staging job itself imports this module

    now = now_mjd()
    with archive.engine.begin() as conn:
        selection = resolve_selection(
            conn, archive.storage, caller=caller, now=now, uris=uris, obsids=obsids,
            product_ids=product_ids, mrp_only=mrp_only,
        )  # fmt: skip
        require_deliverable(selection, caller, now=now)
        request_id = create_request(
            conn, selection=selection, method="staging", user_id=caller.user_id,
            basket_id=basket_id, email=caller.email, remove_completed=remove_completed,
        )  # fmt: skip
    enqueue_staging(archive.settings, request_id)
    with archive.engine.connect() as conn:
        return describe(conn, owned_request(conn, request_id, caller=caller, basket_id=None),
                        base_url=base_url)  # fmt: skip
