"""Portal sessions: a random cookie value, stored as a hash, with a CSRF token per session."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import Connection, delete, select

from skyarchive.db.tables import login_failures, sessions, users

SESSION_COOKIE = "skyarchive_session"
SESSION_SECONDS = 14 * 86_400.0
FAILURE_WINDOW = 15 * 60.0
MAX_FAILURES = 5


@dataclass(frozen=True)
class Session:
    user_id: int
    csrf_token: str


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def start_session(conn: Connection, user_id: int) -> tuple[str, Session]:
    """A new session; returns the cookie value (shown to the browser only) and the session."""
    cookie = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(24)
    now = time.time()
    conn.execute(
        sessions.insert().values(
            session_hash=_digest(cookie), user_id=user_id, csrf_token=csrf, created_at=now,
            expires_at=now + SESSION_SECONDS,
        )
    )  # fmt: skip
    return cookie, Session(user_id, csrf)


def session_for(conn: Connection, cookie: str | None) -> Session | None:
    if not cookie or len(cookie) > 200:
        return None
    row = conn.execute(
        select(sessions.c.user_id, sessions.c.csrf_token, sessions.c.expires_at, users.c.disabled)
        .join(users, users.c.user_id == sessions.c.user_id)
        .where(sessions.c.session_hash == _digest(cookie))
    ).first()
    if row is None or row.expires_at <= time.time() or row.disabled:
        return None
    return Session(row.user_id, row.csrf_token)


def end_session(conn: Connection, cookie: str | None) -> None:
    if cookie:
        conn.execute(delete(sessions).where(sessions.c.session_hash == _digest(cookie)))


def end_all_sessions(conn: Connection, user_id: int) -> None:
    conn.execute(delete(sessions).where(sessions.c.user_id == user_id))


def csrf_matches(expected: str, presented: str | None) -> bool:
    return bool(presented) and hmac.compare_digest(expected, presented or "")


def too_many_failures(conn: Connection, *keys: str) -> bool:
    """True when any key (an email, a client address) failed to log in too often lately."""
    since = time.time() - FAILURE_WINDOW
    for key in keys:
        recent = conn.execute(
            select(login_failures.c.failure_id)
            .where(login_failures.c.key == _digest(key), login_failures.c.at > since)
            .limit(MAX_FAILURES)
        ).all()
        if len(recent) >= MAX_FAILURES:
            return True
    return False


def record_failure(conn: Connection, *keys: str) -> None:
    now = time.time()
    conn.execute(login_failures.insert(), [{"key": _digest(k), "at": now} for k in keys])
    conn.execute(delete(login_failures).where(login_failures.c.at < now - FAILURE_WINDOW))


def clear_failures(conn: Connection, *keys: str) -> None:
    conn.execute(delete(login_failures).where(login_failures.c.key.in_([_digest(k) for k in keys])))
