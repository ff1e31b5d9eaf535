"""One-time password-reset links: a random secret, stored only as SHA-256, valid for an hour.

Asking for a link answers the same whether or not the email has an account; only the caller
that sends the e-mail learns the difference. Using a link sets the new password, which ends
every session of the account and every other link.
"""

from __future__ import annotations

import hashlib
import secrets
import time

from sqlalchemy import Connection, delete, func, select

from skyarchive.access.users import User, get_user, normalise_email, set_password
from skyarchive.db.tables import password_resets, users
from skyarchive.errors import BadQuery

RESET_SECONDS = 3600.0
# At most this many live links per account: asking again and again mails nobody more often.
MAX_LIVE_LINKS = 3
_TOKEN_LENGTH = 43  # secrets.token_urlsafe(32)
INVALID_LINK = "This password-reset link is not valid or has expired; ask for a new one."


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def request_reset(conn: Connection, email: str) -> tuple[str, User] | None:
    """A new link secret and its user; None when no usable account has this email, or when it
    already has ``MAX_LIVE_LINKS`` unexpired links (so nobody can flood an inbox)."""
    try:
        email = normalise_email(email)
    except BadQuery:
        return None
    row = conn.execute(
        select(users.c.user_id).where(users.c.email == email, users.c.disabled.is_(False))
    ).first()
    now = time.time()
    conn.execute(delete(password_resets).where(password_resets.c.expires_at <= now))
    if row is None:
        return None
    live = conn.execute(
        select(func.count()).where(password_resets.c.user_id == row.user_id)
    ).scalar_one()
    if live >= MAX_LIVE_LINKS:
        return None
    token = secrets.token_urlsafe(32)
    conn.execute(
        password_resets.insert().values(
            token_hash=_digest(token), user_id=row.user_id, created_at=now,
            expires_at=now + RESET_SECONDS,
        )
    )  # fmt: skip
    return token, get_user(conn, row.user_id)


def check_reset(conn: Connection, token: str) -> User:
    """The user a live link belongs to; BadQuery saying the link is no good otherwise."""
    if not token or len(token) != _TOKEN_LENGTH:
        raise BadQuery(INVALID_LINK)
    row = conn.execute(
        select(password_resets.c.user_id).where(
            password_resets.c.token_hash == _digest(token),
            password_resets.c.expires_at > time.time(),
        )
    ).first()
    if row is None:
        raise BadQuery(INVALID_LINK)
    user = get_user(conn, row.user_id)
    if user.disabled:
        raise BadQuery(INVALID_LINK)
    return user


def reset_password(conn: Connection, token: str, password: str) -> User:
    """Set a new password through a link; all the user's sessions and links end.

    Raises BadQuery when the link is not valid or the password is too short.
    """
    user = check_reset(conn, token)
    set_password(conn, user.user_id, password)
    return user
