"""Portal sessions: a random cookie value, stored as a hash, with a CSRF token per session.

A session remembers when it started and was last used, and the client address and browser it
started from, so its owner can recognise it on the account page and end it there.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, delete, func, select, update

from skyarchive.db.tables import sessions, users

SESSION_COOKIE = "skyarchive_session"
SESSION_SECONDS = 14 * 86_400.0
# "Last seen" is written at most this often (seconds), not on every request.
SEEN_RESOLUTION = 60.0
MAX_USER_AGENT = 300


@dataclass(frozen=True)
class Session:
    user_id: int
    csrf_token: str
    session_id: str = ""


@dataclass(frozen=True)
class SessionInfo:
    """A session as its owner sees it; ``session_id`` names it in forms (not the cookie)."""

    session_id: str
    created_at: float
    last_seen_at: float
    expires_at: float
    client_address: str | None
    user_agent: str | None


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def start_session(
    conn: Connection, user_id: int, *, client_address: str | None = None,
    user_agent: str | None = None,
) -> tuple[str, Session]:  # fmt: skip
    """A new session; returns the cookie value (shown to the browser only) and the session."""
    cookie = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(24)
    now = time.time()
    conn.execute(delete(sessions).where(sessions.c.expires_at <= now))  # nobody can use them
    conn.execute(
        sessions.insert().values(
            session_hash=_digest(cookie), user_id=user_id, csrf_token=csrf, created_at=now,
            expires_at=now + SESSION_SECONDS, last_seen_at=now,
            client_address=(client_address or None) and client_address[:64],
            user_agent=(user_agent or None) and user_agent[:MAX_USER_AGENT],
        )
    )  # fmt: skip
    return cookie, Session(user_id, csrf, _digest(cookie))


# Built once: every request with a session cookie runs it (see tokens._TOKEN_BY_HASH).
_SESSION_BY_HASH = (
    select(
        sessions.c.user_id, sessions.c.csrf_token, sessions.c.expires_at,
        sessions.c.last_seen_at, users.c.disabled,
    )
    .join(users, users.c.user_id == sessions.c.user_id)
    .where(sessions.c.session_hash == bindparam("digest"))
)  # fmt: skip


def session_digest(cookie: str | None) -> str | None:
    """The hash a session cookie is looked up by; None for a value no session can have."""
    if not cookie or len(cookie) > 200:
        return None
    return _digest(cookie)


def session_for(conn: Connection, cookie: str | None) -> Session | None:
    """The live session of a cookie (and it is marked as seen now), else None."""
    digest = session_digest(cookie)
    if digest is None:
        return None
    return accept_session_row(
        conn, conn.execute(_SESSION_BY_HASH, {"digest": digest}).first(), digest
    )


def accept_session_row(conn: Connection, row, digest: str) -> Session | None:  # type: ignore[no-untyped-def]
    """The live session of the row found by ``digest`` (None: no such session), else None.
    ``row`` needs the session's ``user_id``, ``csrf_token``, ``expires_at`` and
    ``last_seen_at`` and the user's ``disabled``; the caller's lookup (``access/caller.py``)
    finds it in the same statement as the user and their programs. Records that the session
    was seen (at most once every :data:`SEEN_RESOLUTION`)."""
    now = time.time()
    if row is None or row.expires_at <= now or row.disabled:
        return None
    if row.last_seen_at is None or now - row.last_seen_at > SEEN_RESOLUTION:
        conn.execute(
            update(sessions).where(sessions.c.session_hash == digest).values(last_seen_at=now)
        )
    return Session(int(row.user_id), row.csrf_token, digest)


def list_sessions(conn: Connection, *, user_id: int) -> list[SessionInfo]:
    """The user's unexpired sessions, most recently used first."""
    last_seen = func.coalesce(sessions.c.last_seen_at, sessions.c.created_at)  # older rows
    rows = conn.execute(
        select(sessions, last_seen.label("seen"))
        .where(sessions.c.user_id == user_id, sessions.c.expires_at > time.time())
        .order_by(last_seen.desc(), sessions.c.created_at.desc())
    )
    return [
        SessionInfo(
            r.session_hash, r.created_at, r.seen, r.expires_at, r.client_address, r.user_agent
        )  # fmt: skip
        for r in rows
    ]


def end_session(conn: Connection, cookie: str | None) -> None:
    if cookie:
        conn.execute(delete(sessions).where(sessions.c.session_hash == _digest(cookie)))


def end_session_by_id(conn: Connection, session_id: str, *, user_id: int) -> bool:
    """End one of the user's own sessions; False if they have no such session."""
    result = conn.execute(
        delete(sessions).where(sessions.c.session_hash == session_id, sessions.c.user_id == user_id)
    )
    return bool(result.rowcount)


def end_all_sessions(conn: Connection, user_id: int, *, keep: str | None = None) -> int:
    """End every session of the user except ``keep`` (a session id); returns how many ended."""
    query = delete(sessions).where(sessions.c.user_id == user_id)
    if keep:
        query = query.where(sessions.c.session_hash != keep)
    return int(conn.execute(query).rowcount or 0)


def csrf_matches(expected: str, presented: str | None) -> bool:
    return bool(presented) and hmac.compare_digest(expected, presented or "")
