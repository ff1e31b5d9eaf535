"""Subscription e-mails: each subscription's pending events, batched by its frequency.

One e-mail per subscription and batch, with a text (``digest_text.py``) and the events as a
JSON attachment ``event_metadata_<mission>-program-<id>_<hourly|daily|weekly|monthly>_<YYYYMMDD_
HHMMSS>.json`` (a list of file-level events, the schema MAST's subscription e-mails use). A
subscription is sent at most once per period (Fast: an hour, Daily: a day, Weekly: a week,
Monthly: 30 days), and only when something happened. Each subscription is owed each matching
event once, whatever the other subscriptions of the program were sent. Every e-mail carries a
signed one-click unsubscribe link (``unsubscribe.py``) when a base URL is known (``links.py``).

Delivery is at least once: events are marked sent after the mail server accepted the message,
so a crash between the two sends them again. A subscription is claimed (``claimed_until``)
while its message is built and sent, so a worker and ``skyarchive notify-send`` running at the
same time do not both send it.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, delete, exists, func, literal, select, update

from skyarchive.db.tables import (
    notification_deliveries,
    notification_events,
    observations,
    products,
    subscriptions,
    users,
)
from skyarchive.notify.digest_text import Event, Links, message_text, subject
from skyarchive.notify.events import (
    count_released_files,
    iso_from_mjd,
    record_due_releases,
    release_watermark,
)
from skyarchive.notify.links import NO_BASE_URL, mail_base_url
from skyarchive.notify.mail import build_message, deliver
from skyarchive.notify.subscriptions import FREQUENCIES, subscription_from_row
from skyarchive.notify.unsubscribe import unsubscribe_token, unsubscribe_url

log = logging.getLogger("skyarchive.notify")
SLACK = 300.0  # the worker looks every 5 minutes: a batch due within that is sent now
CLAIM_SECONDS = 600.0
KEEP_DAYS = 35  # events sent to every subscriber are dropped after this
OWED_CAP_DAYS = 180  # ... and events still owed to someone after this


@dataclass
class DigestReport:
    files_released: int = 0  # files whose release date passed since the last check (all)
    public_events: int = 0  # Public events that check recorded (files someone follows)
    emails: int = 0
    events_sent: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)
    #: Why e-mails went out without links (no ``base_url``, no recorded URL); None if they had them
    missing_links: str | None = None


def run_notifications(archive, *, now: float | None = None, force: bool = False) -> DigestReport:  # type: ignore[no-untyped-def]
    """Record files made public since the last check, then send every subscription that is due.

    Parameters
    ----------
    archive : Archive
        Settings (mail, base URL) and catalog.
    now : float, optional
        Unix time (tests); default the clock.
    force : bool
        Send every pending event now, whatever each subscription's frequency.
    """
    now = time.time() if now is None else now
    report = DigestReport()
    with archive.engine.begin() as conn:
        since = release_watermark(conn)
        report.public_events = record_due_releases(conn, now=now)
        if since is not None and now > since:
            report.files_released = count_released_files(conn, since=since, until=now)
    send_due(archive, report, now=now, force=force)
    if report.missing_links:  # once per run, in the worker's log and notify-send's output
        log.warning(report.missing_links)
    with archive.engine.begin() as conn:
        prune(conn, now=now)
    return report


def send_due(archive, report: DigestReport, *, now: float, force: bool = False) -> None:  # type: ignore[no-untyped-def]
    with archive.engine.connect() as conn:
        rows = conn.execute(
            select(subscriptions, users.c.email, users.c.disabled)
            .join(users, users.c.user_id == subscriptions.c.user_id)
            .where(exists(_pending_query(subscriptions).with_only_columns(1)))
            .order_by(subscriptions.c.subscription_id)
        ).mappings()
        candidates = [dict(r) for r in rows]
    for sub in candidates:
        period = FREQUENCIES.get(sub["frequency"], FREQUENCIES["daily"])[0]
        last = sub["last_sent_at"]
        if sub["disabled"] or not (force or last is None or now - last >= period - SLACK):
            continue
        if not _claim(archive, sub["subscription_id"], now):
            continue
        try:
            sent = _send_one(archive, sub, now, report)
        except Exception as exc:  # the mail server refused or is down: try again next time
            log.exception("subscription %s: e-mail not sent", sub["subscription_id"])
            report.failed.append((sub["subscription_id"], f"{type(exc).__name__}: {exc}"))
            sent = 0
        finally:
            with archive.engine.begin() as conn:
                conn.execute(
                    update(subscriptions)
                    .where(subscriptions.c.subscription_id == sub["subscription_id"])
                    .values(claimed_until=None)
                )
        if sent:
            report.emails += 1
            report.events_sent += sent


def pending_events(conn: Connection, subscription_id: int) -> list[dict[str, Any]]:
    """Events a subscription has not been sent yet, as the attachment lists them."""
    return [event for event, _ in _pending_rows(conn, subscription_id)]


def _pending_rows(conn: Connection, subscription_id: int) -> list[tuple[dict[str, Any], Event]]:
    """Each pending event as the attachment lists it and as the e-mail's text tells it."""
    sub_table = subscriptions.alias("sub")
    query = _pending_query(sub_table).where(sub_table.c.subscription_id == subscription_id)
    owner = observations.alias("owner")
    release = func.coalesce(notification_events.c.release_mjd, owner.c.t_obs_release)
    rows = conn.execute(
        query.with_only_columns(
            notification_events, release.label("release"), owner.c.obs_id.label("owner_obs_id")
        )
        .outerjoin(products, products.c.productFilename == notification_events.c.filename)
        .outerjoin(owner, owner.c.obsid == products.c.owner_obsid)
        .order_by(
            notification_events.c.created_at,
            notification_events.c.filename,
            notification_events.c.kind,
        )
    ).mappings()
    return [
        (_as_json(row), Event(row["kind"], row["filename"],
                              row["owner_obs_id"] or row["fileset"], row["planned_obs_id"]))
        for row in rows
    ]  # fmt: skip


def attachment_name(collection: str, proposal_id: str, frequency: str, now: float) -> str:
    word = FREQUENCIES.get(frequency, FREQUENCIES["daily"])[1]
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%d_%H%M%S")
    return f"event_metadata_{collection.lower()}-program-{proposal_id}_{word}_{stamp}.json"


def prune(conn: Connection, *, now: float) -> int:
    """Drop the events nobody is waiting for; returns how many.

    An event older than ``KEEP_DAYS`` goes once every subscription it matches has been sent it
    (subscriptions of disabled accounts, which get no e-mail, do not count). One still owed to
    somebody stays until ``OWED_CAP_DAYS``: a mail address that fails for months, or a
    subscription whose period never comes round, must not keep events for ever.
    """
    sub = subscriptions.alias("owed_to")
    owed = exists(
        select(1)
        .select_from(sub.join(users, users.c.user_id == sub.c.user_id))
        .where(*_owed(sub, notification_events), users.c.disabled.is_(False))
    )
    done = (notification_events.c.created_at < now - KEEP_DAYS * 86400.0) & ~owed
    gone = done | (notification_events.c.created_at < now - OWED_CAP_DAYS * 86400.0)
    doomed = [str(e) for e in conn.scalars(select(notification_events.c.event_id).where(gone))]
    for start in range(0, len(doomed), 500):
        chunk = doomed[start : start + 500]
        conn.execute(
            delete(notification_deliveries).where(notification_deliveries.c.event_id.in_(chunk))
        )
        conn.execute(delete(notification_events).where(notification_events.c.event_id.in_(chunk)))
    return len(doomed)


def _pending_query(sub):  # type: ignore[no-untyped-def]
    """Events matching subscription row ``sub`` (a table or alias) and not yet sent to it."""
    return select(notification_events.c.event_id).where(*_owed(sub, notification_events))


def _owed(sub, event):  # type: ignore[no-untyped-def]
    """Conditions under which subscription row ``sub`` is owed event row ``event``.

    The "already sent" test names both outer rows explicitly: nested in another EXISTS (as in
    :func:`send_due` and :func:`prune`), automatic correlation would reach only the nearest
    enclosing query and leave ``sub`` unbound, asking whether *any* subscription was sent the
    event, so the first subscriber to be sent it would be its last.
    """
    sent = (
        exists()
        .where(
            notification_deliveries.c.subscription_id == sub.c.subscription_id,
            notification_deliveries.c.event_id == event.c.event_id,
        )
        .correlate(sub, event)
    )
    wrapped = literal(",") + sub.c.kinds + literal(",")  # ",New,Public,"
    return (
        event.c.obs_collection == sub.c.obs_collection,
        event.c.proposal_id == sub.c.proposal_id,
        event.c.created_at >= sub.c.created_at,
        wrapped.like(literal("%,") + event.c.kind + literal(",%")),
        ~sent,
    )


def _claim(archive, subscription_id: int, now: float) -> bool:  # type: ignore[no-untyped-def]
    with archive.engine.begin() as conn:
        claimed = conn.execute(
            update(subscriptions)
            .where(
                subscriptions.c.subscription_id == subscription_id,
                subscriptions.c.claimed_until.is_(None) | (subscriptions.c.claimed_until < now),
            )
            .values(claimed_until=now + CLAIM_SECONDS)
        )
    return claimed.rowcount == 1


def _send_one(archive, sub: dict[str, Any], now: float, report: DigestReport) -> int:  # type: ignore[no-untyped-def]
    with archive.engine.begin() as conn:
        rows = _pending_rows(conn, sub["subscription_id"])
        if not rows:
            return 0
        links = _links(conn, archive.settings, sub, now)
    if links.missing_reason:
        report.missing_links = links.missing_reason
    events = [event for event, _ in rows]
    told = [item for _, item in rows]
    collection, program = sub["obs_collection"], sub["proposal_id"]
    message = build_message(
        sender=archive.settings.mail_from, to=sub["email"],
        subject=subject(collection, program, told),
        body=message_text(collection, program, sub["frequency"], told, links),
    )  # fmt: skip
    if links.unsubscribe:  # RFC 2369 and RFC 8058: mail programs offer their own button
        message["List-Unsubscribe"] = f"<{links.unsubscribe}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    payload = json.dumps(events, indent=1).encode()
    message.add_attachment(
        payload, maintype="application", subtype="json",
        filename=attachment_name(collection, program, sub["frequency"], now),
    )  # fmt: skip
    deliver(archive.settings, message)
    sent_at = time.time()
    with archive.engine.begin() as conn:
        conn.execute(
            notification_deliveries.insert(),
            [{"subscription_id": sub["subscription_id"], "event_id": e["event_id"],
              "sent_at": sent_at} for e in events],
        )  # fmt: skip
        conn.execute(
            update(subscriptions)
            .where(subscriptions.c.subscription_id == sub["subscription_id"])
            .values(last_sent_at=now)
        )
    return len(events)


def _links(conn: Connection, settings, sub: dict[str, Any], now: float) -> Links:  # type: ignore[no-untyped-def]
    base = mail_base_url(conn, settings)
    if base is None:
        return Links(missing_reason=NO_BASE_URL)
    token = unsubscribe_token(conn, subscription_from_row(sub), now=now)
    return Links(
        program=f"{base}/search?collection=program&q={sub['proposal_id']}",
        subscriptions=f"{base}/account#subscriptions",
        unsubscribe=unsubscribe_url(base, token),
    )


def _as_json(row) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    program = row["proposal_id"]
    return {
        "event_id": row["event_id"],
        "mission": row["obs_collection"],
        "fileset": row["fileset"],
        "filename": row["filename"],
        "program": int(program) if str(program).isdigit() else program,
        "event_type": row["kind"],
        "archived_date": row["archived_date"],
        "public_release_date": iso_from_mjd(row["release"]),
    }
