"""Delivery requests: a selection snapshot plus a method (zip, tar, tar.gz, curl, urls, staging).

A request is recorded with one row per included file, so a staging job can record progress
file by file and a download link made from the basket always delivers what was selected.
Request ids are random and unguessable; only the owner (user or basket) and admins see them.
"""

from __future__ import annotations

import json
import secrets
import shlex
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, literal, select, update

from skyarchive.access import rate_limits
from skyarchive.access.policy import Caller
from skyarchive.access.rate_limits import Limit
from skyarchive.access.rights import now_mjd
from skyarchive.access.users import normalise_email
from skyarchive.db.tables import (
    delivery_files,
    delivery_requests,
    job_leases,
    products,
)
from skyarchive.delivery.bundles import check_bundle_size
from skyarchive.delivery.files import FILE_RELEASE, joined_to_owner
from skyarchive.delivery.selection import Excluded, Selection, resolve_selection
from skyarchive.errors import BadQuery, NotFound, TooManyRequests

if TYPE_CHECKING:
    from skyarchive.archive import Archive

#: Methods that hand out a list of the files (no bytes), so no bundle size limit applies.
LISTS = ("curl", "urls")
METHODS = ("zip", "tar", "tar.gz", "curl", "urls", "staging")
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
    base_url: str | None  # the public URL the request was made through (for later links)


def create_request(
    conn: Connection,
    *,
    selection: Selection,
    method: str,
    user_id: int | None,
    basket_id: int | None = None,
    email: str | None = None,
    remove_completed: bool = False,
    base_url: str | None = None,
) -> str:
    """Record a delivery request with its files (state ``pending``); return its id.

    The id is 144 random bits (URL-safe base64) and the only thing a link to the request
    carries: no e-mail address, no file name.
    """
    request_id = secrets.token_urlsafe(18)
    conn.execute(
        delivery_requests.insert().values(
            request_id=request_id, user_id=user_id, basket_id=basket_id, format=method,
            status=QUEUED, email=email, remove_completed=remove_completed,
            files_total=len(selection.items), bytes_total=selection.total_bytes,
            excluded=json.dumps([[e.name, e.path, e.reason, e.size] for e in selection.excluded]),
            created_at=time.time(), base_url=base_url,
        )
    )  # fmt: skip
    rows = [
        {"request_id": request_id, "product_id": i.product_id, "path": i.path, "state": PENDING}
        for i in selection.items
    ]
    for start in range(0, len(rows), 1000):
        conn.execute(delivery_files.insert(), rows[start : start + 1000])
    return request_id


def record_download(
    conn: Connection,
    archive: Archive,
    *,
    caller: Caller,
    method: str,
    product_ids: list[int],
    basket_id: int | None,
    remove_completed: bool = False,
) -> str:
    """Record a zip/tar/tar.gz/curl/urls request of ``product_ids`` for ``caller``; return its id.

    The files are resolved for the caller now (and again when the link is followed); a
    selection with nothing deliverable is refused, a bundle above ``max_bundle_bytes`` too.
    """
    selection = resolve_selection(
        conn, archive.storage, caller=caller, now=now_mjd(), product_ids=product_ids,
        deliverable=True,
    )  # fmt: skip
    if method not in LISTS:
        check_bundle_size(selection, limit=archive.settings.max_bundle_bytes)
    return create_request(
        conn, selection=selection, method=method, user_id=caller.user_id, basket_id=basket_id,
        remove_completed=remove_completed,
    )  # fmt: skip


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
    """The request if ``caller`` (or the caller's basket) made it; NotFound otherwise.

    A request made anonymously outside a basket (batch staging with an e-mail address) has no
    owner to check: its unguessable id, sent to that address, is what proves the right to it.
    """
    found = get_request(conn, request_id)
    mine = (
        (found.user_id is not None and found.user_id == caller.user_id)
        or (found.user_id is None and basket_id is not None and found.basket_id == basket_id)
        or (found.user_id is None and found.basket_id is None)
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


def needs_token(conn: Connection, request_id: str, *, now: float | None = None) -> bool:
    """Whether any file of the request is in an exclusive-access period (so fetching the
    staged area needs the caller's API token)."""
    release = FILE_RELEASE.element
    query = (
        joined_to_owner(
            select(delivery_files.c.product_id)
            .select_from(delivery_files)
            .join(products, products.c.product_id == delivery_files.c.product_id)
        )
        .where(
            delivery_files.c.request_id == request_id,
            release.is_(None) | (release > (now_mjd() if now is None else now)),
        )
        .limit(1)
    )
    return conn.execute(query).first() is not None


def link_base(found: DeliveryRequest, fallback: str | None) -> str:
    """The public URL links to ``found`` start with: as requested, else ``fallback``."""
    return (found.base_url or fallback or "").rstrip("/")


def staging_location(found: DeliveryRequest, base_url: str) -> str:
    return f"{base_url}/staging/{found.request_id}/"


def fetch_command(location: str, *, token: bool) -> str:
    """The ``wget`` line that fetches a staged area; with the token header when needed.

    The location is shell-quoted: it holds the host name the request came in with.
    """
    header = '--header "Authorization: token $MAST_API_TOKEN" ' if token else ""
    return f"wget {header}-r -np -nH --cut-dirs=2 -R 'index.html*' {shlex.quote(location)}"


def describe(conn: Connection, found: DeliveryRequest, *, base_url: str) -> dict[str, Any]:
    """The JSON shape of a request for the APIs (status, progress, where to get it).

    Links start with the URL the request was made through when it was recorded, else
    ``base_url`` (the URL of the asking request).
    """
    base = link_base(found, base_url)
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
        info["location"] = staging_location(found, base)
        token = needs_token(conn, found.request_id)
        info["needs_token"] = token
        info["fetch_command"] = fetch_command(info["location"], token=token)
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


def abandoned_staging(conn: Connection, *, now: float | None = None) -> list[str]:
    """Running staging requests no live worker holds: their worker died mid-job."""
    now = time.time() if now is None else now
    lease_name = literal("staging:") + delivery_requests.c.request_id
    held = select(job_leases.c.name).where(
        job_leases.c.name == lease_name, job_leases.c.expires_at >= now
    )
    query = select(delivery_requests.c.request_id).where(
        delivery_requests.c.format == "staging",
        delivery_requests.c.status == RUNNING,
        ~held.exists(),
    )
    return list(conn.scalars(query.order_by(delivery_requests.c.created_at)))


def start_staging(
    archive: Archive,
    caller: Caller,
    *,
    base_url: str,
    enqueue: Callable[[str], None],
    email: str | None = None,
    uris: Sequence[str] = (),
    obsids: Sequence[int] = (),
    product_ids: Sequence[int] = (),
    mrp_only: bool = False,
    basket_id: int | None = None,
    remove_completed: bool = False,
    client: str = "unknown",
) -> dict[str, Any]:
    """Record a staging request for ``caller``, hand it to the worker and describe it.

    Parameters
    ----------
    base_url : str
        The archive's public URL as the client reached it; the e-mail and the manifest the
        worker writes later link to it.
    enqueue : callable
        Hands the new request's id to the worker. The composition root (``web.py``) binds it
        to the archive's queue, so delivery never imports the job system that runs it.
    email : str, optional
        Where the notice goes; required from an anonymous caller (who may stage public
        data only), defaults to a signed-in caller's address.
    client : str
        The caller's network address. Anonymous callers may make only so many staging
        requests per hour for one e-mail address and from one client address (settings
        ``anonymous_staging_per_recipient`` and ``..._per_address``), so nobody can have
        the archive mail an address without limit.

    Raises
    ------
    BadQuery
        Nothing selected, or an anonymous caller without a valid e-mail address.
    TooManyRequests
        An anonymous caller over a staging limit (it carries ``Retry-After``).
    Unauthorized, Forbidden, NotFound
        As :func:`require_deliverable`: nothing of the selection may be delivered.
    """
    notify = normalise_email(email) if email else caller.email
    if not notify:
        raise BadQuery(
            "Give an e-mail address (email=...) for the notice, or log in to stage files."
        )
    limits = _anonymous_staging_limits(archive, notify, client) if caller.anonymous else []
    counted = _admit(archive, limits)
    try:
        request_id = _record_staging(
            archive, caller, email=notify, uris=uris, obsids=obsids, product_ids=product_ids,
            mrp_only=mrp_only, basket_id=basket_id, remove_completed=remove_completed,
            base_url=base_url,
        )  # fmt: skip
    except BaseException:
        rate_limits.forget(archive.engine, counted)  # only requests that will mail someone count
        raise
    enqueue(request_id)
    with archive.engine.connect() as conn:
        return describe(conn, get_request(conn, request_id), base_url=base_url)


def _record_staging(
    archive: Archive,
    caller: Caller,
    *,
    email: str,
    uris: Sequence[str],
    obsids: Sequence[int],
    product_ids: Sequence[int],
    mrp_only: bool,
    basket_id: int | None,
    remove_completed: bool,
    base_url: str,
) -> str:
    now = now_mjd()
    with archive.engine.begin() as conn:
        selection = resolve_selection(
            conn, archive.storage, caller=caller, now=now, uris=uris, obsids=obsids,
            product_ids=product_ids, mrp_only=mrp_only, deliverable=True,
        )  # fmt: skip
        request_id = create_request(
            conn, selection=selection, method="staging", user_id=caller.user_id,
            basket_id=basket_id, email=email, remove_completed=remove_completed,
            base_url=base_url,
        )  # fmt: skip
    return request_id


def _anonymous_staging_limits(archive: Archive, email: str, client: str) -> list[Limit]:
    settings = archive.settings
    return [
        Limit("staging-recipient", email, settings.anonymous_staging_per_recipient),
        Limit("staging-client", client, settings.anonymous_staging_per_address),
    ]


def _admit(archive: Archive, limits: list[Limit]) -> list[int]:
    """Count the request against ``limits`` (committed at once); TooManyRequests if over."""
    admission = rate_limits.admit(archive.engine, limits)
    limit = admission.refused_by
    if limit is None:
        return admission.events
    whom = "this e-mail address" if limit.name == "staging-recipient" else "your address"
    raise TooManyRequests(
        f"Too many staging requests for {whom} in the last hour (at most {limit.most} without "
        f"logging in); try again in {admission.wait} seconds, or log in.",
        retry_after=admission.wait,
    )
