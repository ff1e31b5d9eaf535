"""In-portal notices and the per-user Atom feed: the subscription events, read in the portal.

There is one source: the ``notification_events`` that ingest and release dates write, which
the e-mails are made from too. A user's notices are the events matching their subscriptions
(program, kinds, and not older than the subscription), grouped by program and by the moment
they were recorded (one ingest batch, one release check), so one notice says what one e-mail
would: the program, the kinds, the observations and each file once. Every subscriber of a
program sees the same notices; sending an e-mail does not consume them. Notices live as long
as their events (the worker drops events after ``digest.KEEP_DAYS``).

Reading state is one time per user (``notice_reads``): notices recorded up to it are read.
The feed's secret address is a random token stored as SHA-256 (``feed_tokens``), one per
user; making a new one revokes the old address.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from sqlalchemy import Connection, and_, delete, func, literal, select

from skyarchive.access.tokens import token_hash
from skyarchive.db.tables import (
    feed_tokens,
    notice_reads,
    notification_events,
    observations,
    products,
    subscriptions,
    users,
)
from skyarchive.db.upsert import insert_ignore
from skyarchive.notify.subscriptions import KINDS

MENU_NOTICES = 10  # notices the account menu lists
FEED_NOTICES = 50  # entries of the Atom feed


@dataclass(frozen=True)
class NoticeFile:
    filename: str
    kinds: tuple[str, ...]


@dataclass(frozen=True)
class Notice:
    """What happened to one program's data at one moment, as a subscriber is told."""

    obs_collection: str
    proposal_id: str
    created_at: float
    kinds: tuple[str, ...]
    observations: tuple[str, ...]
    files: tuple[NoticeFile, ...]
    unread: bool

    @property
    def title(self) -> str:
        files = len(self.files)
        return (
            f"{self.obs_collection} program {self.proposal_id}: {', '.join(self.kinds)} "
            f"({files} file{'' if files == 1 else 's'})"
        )

    @property
    def key(self) -> str:
        """Stable identity of the notice (program and moment), e.g. for the feed's entry ids."""
        return f"{self.obs_collection}/{self.proposal_id}/{self.created_at!r}"


def _matching(user_id: int):  # type: ignore[no-untyped-def]
    """Events of the user's subscriptions: their programs and kinds, not before subscribing."""
    wrapped = literal(",") + subscriptions.c.kinds + literal(",")  # ",New,Public,"
    return (
        select()
        .select_from(notification_events)
        .join(
            subscriptions,
            and_(
                subscriptions.c.obs_collection == notification_events.c.obs_collection,
                subscriptions.c.proposal_id == notification_events.c.proposal_id,
            ),
        )
        .where(
            subscriptions.c.user_id == user_id,
            notification_events.c.created_at >= subscriptions.c.created_at,
            wrapped.like(literal("%,") + notification_events.c.kind + literal(",%")),
        )
    )


def read_until(conn: Connection, *, user_id: int) -> float:
    """Notices recorded up to this Unix time are read (0: none read yet)."""
    value = conn.scalar(select(notice_reads.c.read_until).where(notice_reads.c.user_id == user_id))
    return float(value or 0.0)


def unread_count(conn: Connection, *, user_id: int) -> int:
    """How many notices the user has not read."""
    moments = (
        _matching(user_id)
        .with_only_columns(
            notification_events.c.obs_collection,
            notification_events.c.proposal_id,
            notification_events.c.created_at,
        )
        .where(notification_events.c.created_at > read_until(conn, user_id=user_id))
        .distinct()
        .subquery()
    )
    return int(conn.scalar(select(func.count()).select_from(moments)) or 0)


def list_notices(conn: Connection, *, user_id: int, limit: int = MENU_NOTICES) -> list[Notice]:
    """The user's newest notices, newest first, each with its observations and files once."""
    seen_until = read_until(conn, user_id=user_id)
    moments = conn.execute(
        _matching(user_id)
        .with_only_columns(
            notification_events.c.obs_collection,
            notification_events.c.proposal_id,
            notification_events.c.created_at,
        )
        .distinct()
        .order_by(
            notification_events.c.created_at.desc(),
            notification_events.c.obs_collection,
            notification_events.c.proposal_id,
        )
        .limit(limit)
    ).all()
    owner = observations.alias("owner")
    found: list[Notice] = []
    for collection, program, created_at in moments:
        rows = conn.execute(
            _matching(user_id)
            .with_only_columns(
                notification_events.c.filename, notification_events.c.kind, owner.c.obs_id
            )
            .outerjoin(products, products.c.productFilename == notification_events.c.filename)
            .outerjoin(owner, owner.c.obsid == products.c.owner_obsid)
            .where(
                notification_events.c.obs_collection == collection,
                notification_events.c.proposal_id == program,
                notification_events.c.created_at == created_at,
            )
            .order_by(notification_events.c.filename)
        ).all()
        kinds_of: dict[str, set[str]] = {}
        observed: set[str] = set()
        for filename, kind, obs_id in rows:
            kinds_of.setdefault(filename, set()).add(kind)
            if obs_id:
                observed.add(obs_id)
        found.append(
            Notice(
                obs_collection=collection,
                proposal_id=program,
                created_at=float(created_at),
                kinds=_ordered(set().union(*kinds_of.values())),
                observations=tuple(sorted(observed)),
                files=tuple(NoticeFile(name, _ordered(k)) for name, k in kinds_of.items()),
                unread=float(created_at) > seen_until,
            )
        )
    return found


def mark_read(conn: Connection, *, user_id: int, upto: float, now: float | None = None) -> None:
    """Mark the user's notices recorded up to ``upto`` (never later than now) as read."""
    now = time.time() if now is None else now
    upto = min(upto, now)
    if upto <= read_until(conn, user_id=user_id):
        return
    conn.execute(delete(notice_reads).where(notice_reads.c.user_id == user_id))
    conn.execute(notice_reads.insert().values(user_id=user_id, read_until=upto))


def new_feed_token(conn: Connection, *, user_id: int, now: float | None = None) -> str:
    """A new secret feed address token for the user; the previous one stops working."""
    token = secrets.token_urlsafe(32)
    conn.execute(delete(feed_tokens).where(feed_tokens.c.user_id == user_id))
    insert_ignore(
        conn,
        feed_tokens,
        [{"user_id": user_id, "token_hash": token_hash(token),
          "created_at": time.time() if now is None else now}],
    )  # fmt: skip
    return token


def has_feed(conn: Connection, *, user_id: int) -> bool:
    query = select(feed_tokens.c.user_id).where(feed_tokens.c.user_id == user_id)
    return conn.scalar(query) is not None


def feed_owner(conn: Connection, token: str) -> int | None:
    """The user whose feed ``token`` opens, or None (unknown, replaced, or account disabled)."""
    if not token or len(token) > 100:
        return None
    row = conn.execute(
        select(feed_tokens.c.user_id, users.c.disabled)
        .join(users, users.c.user_id == feed_tokens.c.user_id)
        .where(feed_tokens.c.token_hash == token_hash(token))
    ).first()
    if row is None or row.disabled:
        return None
    return int(row.user_id)


def _ordered(kinds: set[str]) -> tuple[str, ...]:
    return tuple(k for k in KINDS if k in kinds) + tuple(sorted(kinds - set(KINDS)))
