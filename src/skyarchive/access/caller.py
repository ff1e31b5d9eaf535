"""Who is calling: from an API token (header or cookie) or a portal session."""

from __future__ import annotations

from sqlalchemy import Connection

from skyarchive.access.grants import programs_readable_by
from skyarchive.access.policy import ANONYMOUS, Caller
from skyarchive.access.sessions import session_for
from skyarchive.access.tokens import user_for_token
from skyarchive.access.users import get_user
from skyarchive.errors import Unauthorized


def caller_from_credentials(
    conn: Connection, *, token: str | None, session_cookie: str | None
) -> Caller:
    """The caller; a bad token gives an anonymous caller that remembers why (for 401 messages)."""
    user_id = None
    csrf = session_id = None
    if token:
        try:
            user_id = user_for_token(conn, token)
        except Unauthorized as exc:
            return Caller(problem=exc.message)
    elif session_cookie:
        session = session_for(conn, session_cookie)
        if session is not None:
            user_id, csrf, session_id = session.user_id, session.csrf_token, session.session_id
    if user_id is None:
        return ANONYMOUS
    return caller_for_user(
        conn, user_id, via_token=bool(token), csrf_token=csrf, session_id=session_id
    )


def caller_for_user(
    conn: Connection,
    user_id: int,
    *,
    via_token: bool = False,
    csrf_token: str | None = None,
    session_id: str | None = None,
) -> Caller:
    """The user as a caller with today's rights (admin flag, programs granted to them).

    Also for work done later on a user's behalf (the staging job writing a manifest).
    """
    user = get_user(conn, user_id)
    return Caller(
        user_id=user.user_id,
        email=user.email,
        display_name=user.display_name,
        is_admin=user.is_admin,
        programs=programs_readable_by(conn, user.user_id),
        via_token=via_token,
        csrf_token=csrf_token,
        session_id=session_id,
    )


def token_from_headers(authorization: str | None, mast_cookie: str | None) -> str | None:
    """The token from ``Authorization: token|Bearer <t>`` or astroquery's ``mast_token`` cookie."""
    if authorization:
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() in ("token", "bearer") and value.strip():
            return value.strip()
        return authorization.strip()  # a malformed header still counts as a (bad) credential
    return mast_cookie or None
