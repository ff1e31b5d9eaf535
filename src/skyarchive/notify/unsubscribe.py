"""One-click unsubscribe links: signed, per subscription, with an expiry.

Every subscription e-mail carries ``<base>/unsubscribe/<token>`` in its text and in its
``List-Unsubscribe`` header (RFC 8058: a POST to it unsubscribes, no log-in). The token is
``<subscription id>.<expiry>.<signature>``: the signature is an HMAC-SHA256, with the archive's
link secret, of the id, the subscription's owner and creation time, and the expiry, so a link
names one subscription row (not a later one that reuses its id) and cannot be altered. The
secret is made at random on first use and kept in ``archive_state``, so every server and
worker process signs and checks alike; deleting that row voids every link sent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import Connection, select

from skyarchive.db.state import state_or_create
from skyarchive.db.tables import subscriptions, users
from skyarchive.errors import BadQuery, Gone, NotFound
from skyarchive.notify import subscriptions as subs

LINK_DAYS = 90  # a link in an old e-mail works this long; later ones carry fresh links
SECRET_NAME = "link_secret"
PATH = "/unsubscribe/"
_TOKEN = re.compile(r"^(\d{1,12})\.(\d{1,12})\.([A-Za-z0-9_-]{43})$")
NOT_VALID = (
    "This unsubscribe link is not valid: it was changed or cut short. Use the whole link from "
    "the e-mail, or remove the subscription on your account page."
)
EXPIRED = (
    "This unsubscribe link has expired (links work for {days} days). Use the link in a newer "
    "e-mail, or remove the subscription on your account page."
)
GONE = "There is no such subscription (any more): it has been removed already."


@dataclass(frozen=True)
class LinkTarget:
    """The subscription a valid link names, as the confirmation page describes it."""

    subscription: subs.Subscription
    email: str


def unsubscribe_token(conn: Connection, subscription: subs.Subscription, *, now: float) -> str:
    """A link token for ``subscription``, valid for ``LINK_DAYS`` from ``now`` (Unix time)."""
    expires = int(now + LINK_DAYS * 86400)
    signature = _sign(_secret(conn, now), subscription, expires)
    return f"{subscription.subscription_id}.{expires}.{signature}"


def unsubscribe_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}{PATH}{token}"


def check_link(conn: Connection, token: str, *, now: float | None = None) -> LinkTarget:
    """The subscription a link names.

    Raises
    ------
    BadQuery
        The token is malformed or its signature does not match (changed, cut short, or signed
        with another secret).
    Gone
        The link is genuine but has expired.
    NotFound
        The subscription is gone (already unsubscribed).
    """
    now = time.time() if now is None else now
    parts = _TOKEN.match(token)
    if parts is None:
        raise BadQuery(NOT_VALID)
    subscription_id, expires, presented = int(parts[1]), int(parts[2]), parts[3]
    row = conn.execute(
        select(subscriptions, users.c.email)
        .join(users, users.c.user_id == subscriptions.c.user_id)
        .where(subscriptions.c.subscription_id == subscription_id)
    ).mappings().first()  # fmt: skip
    if row is None:
        raise NotFound(GONE)
    found = subs.subscription_from_row(row)
    expected = _sign(_secret(conn, now), found, expires)
    if not hmac.compare_digest(expected, presented):
        raise BadQuery(NOT_VALID)
    if expires < now:
        raise Gone(EXPIRED.format(days=LINK_DAYS))
    return LinkTarget(found, row["email"])


def unsubscribe_by_link(conn: Connection, token: str, *, now: float | None = None) -> LinkTarget:
    """Remove the subscription a valid link names (see :func:`check_link` for the errors)."""
    target = check_link(conn, token, now=now)
    sub = target.subscription
    subs.unsubscribe(conn, sub.subscription_id, user_id=sub.user_id)
    return target


def _secret(conn: Connection, now: float) -> bytes:
    return state_or_create(conn, SECRET_NAME, lambda: secrets.token_hex(32), now=now).encode()


def _sign(secret: bytes, subscription: subs.Subscription, expires: int) -> str:
    message = (
        f"unsubscribe\n{subscription.subscription_id}\n{subscription.user_id}\n"
        f"{subscription.created_at!r}\n{expires}"
    )
    digest = hmac.new(secret, message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
