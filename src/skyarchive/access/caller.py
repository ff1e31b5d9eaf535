"""Who is calling: from an API token (header or cookie) or a portal session."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import CompoundSelect, Connection, bindparam, select, union_all

from skyarchive.access.grants import READABLE_PROGRAM_SOURCES, programs_readable_by
from skyarchive.access.policy import ANONYMOUS, Caller
from skyarchive.access.sessions import session_for
from skyarchive.access.tokens import accept_token_row, token_digest
from skyarchive.access.users import get_user
from skyarchive.db.tables import api_tokens, users
from skyarchive.errors import Unauthorized


def _caller_by_token() -> CompoundSelect:
    """Token, user and the user's readable programs in one statement: a row per program (the
    first arm's outer join keeps one row, program NULL, for a user who reads none). The
    program arms come from ``grants.READABLE_PROGRAM_SOURCES``, as ``programs_readable_by``'s
    do, so there is one definition of whose programs a user reads."""
    columns = (
        api_tokens.c.token_id, api_tokens.c.token_hash, api_tokens.c.revoked_at,
        api_tokens.c.expires_at, api_tokens.c.last_used_at, api_tokens.c.user_id,
        users.c.email, users.c.display_name, users.c.is_admin, users.c.disabled,
    )  # fmt: skip
    token_user = api_tokens.join(users, users.c.user_id == api_tokens.c.user_id)
    arms = []
    for i, (table, user, program) in enumerate(READABLE_PROGRAM_SOURCES):
        on = user == api_tokens.c.user_id
        joined = token_user.outerjoin(table, on) if i == 0 else token_user.join(table, on)
        arms.append(
            select(*columns, program.label("proposal_id"))
            .select_from(joined)
            .where(api_tokens.c.token_hash == bindparam("digest"))
        )
    return union_all(*arms)


# Built once: every request with a token runs it (see tokens._TOKEN_BY_HASH).
CALLER_BY_TOKEN = _caller_by_token()
#: The columns of :data:`CALLER_BY_TOKEN`'s rows, as :func:`caller_from_token_rows` reads them.
CALLER_FIELDS = tuple(CALLER_BY_TOKEN.selected_columns.keys())


def caller_from_token(conn: Connection, token: str) -> Caller:
    """The caller an API token stands for, found in one statement (token, user, programs);
    an anonymous caller that remembers why when the token is refused."""
    try:
        digest = token_digest(token)
    except Unauthorized as exc:
        return Caller(problem=exc.message)
    rows = conn.execute(CALLER_BY_TOKEN, {"digest": digest}).all()
    return caller_from_token_rows(conn, rows, digest)


def caller_from_token_rows(conn: Connection, rows: Sequence[Any], digest: str) -> Caller:
    """The caller from :data:`CALLER_BY_TOKEN`'s rows for ``digest`` (none: no such token),
    wherever they were read (``Download/file`` reads them with the file's row, in one
    statement); an anonymous caller that remembers why when the token is refused."""
    try:
        user_id = accept_token_row(conn, rows[0] if rows else None, digest)
    except Unauthorized as exc:
        return Caller(problem=exc.message)
    user = rows[0]
    return Caller(
        user_id=user_id,
        email=user.email,
        display_name=user.display_name,
        is_admin=bool(user.is_admin),
        programs=frozenset(r.proposal_id for r in rows if r.proposal_id is not None),
        via_token=True,
    )


def caller_from_credentials(
    conn: Connection, *, token: str | None, session_cookie: str | None
) -> Caller:
    """The caller; a bad token gives an anonymous caller that remembers why (for 401 messages)."""
    user_id = None
    csrf = session_id = None
    if token:
        return caller_from_token(conn, token)
    if session_cookie:
        session = session_for(conn, session_cookie)
        if session is not None:
            user_id, csrf, session_id = session.user_id, session.csrf_token, session.session_id
    if user_id is None:
        return ANONYMOUS
    return caller_for_user(conn, user_id, csrf_token=csrf, session_id=session_id)


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
