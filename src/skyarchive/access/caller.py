"""Who is calling: from an API token (header or cookie) or a portal session.

Either credential becomes a caller in one statement (:class:`CallerLookup`): the credential,
its user and the programs the user reads, built by one function (:func:`_caller_by`) for both
kinds, and judged by the credential's own rule (``tokens.accept_token_row``,
``sessions.accept_session_row``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from sqlalchemy import Column, CompoundSelect, Connection, Table, bindparam, select, union_all

from skyarchive.access.grants import READABLE_PROGRAM_SOURCES, programs_readable_by
from skyarchive.access.policy import ANONYMOUS, Caller
from skyarchive.access.sessions import accept_session_row, session_digest
from skyarchive.access.tokens import accept_token_row, token_digest
from skyarchive.access.users import get_user
from skyarchive.db.tables import api_tokens, sessions, users
from skyarchive.errors import Unauthorized


def _caller_by(credential: Table, key: Column[str], kept: Sequence[Column[Any]]) -> CompoundSelect:
    """The credential whose ``key`` is ``:digest`` (its ``kept`` columns), its user and the
    user's readable programs in one statement: a row per program (the first arm's outer join
    keeps one row, program NULL, for a user who reads none). The program arms come from
    ``grants.READABLE_PROGRAM_SOURCES``, as ``programs_readable_by``'s do, so there is one
    definition of whose programs a user reads."""
    owner = credential.c.user_id
    columns = (*kept, owner, users.c.email, users.c.display_name, users.c.is_admin,
               users.c.disabled)  # fmt: skip
    credential_user = credential.join(users, users.c.user_id == owner)
    arms = []
    for i, (table, user, program) in enumerate(READABLE_PROGRAM_SOURCES):
        on = user == owner
        joined = credential_user.outerjoin(table, on) if i == 0 else credential_user.join(table, on)
        arms.append(
            select(*columns, program.label("proposal_id"))
            .select_from(joined)
            .where(key == bindparam("digest"))
        )
    return union_all(*arms)


# Built once: every request with a token or a session cookie runs one (see tokens._TOKEN_BY_HASH).
CALLER_BY_TOKEN = _caller_by(
    api_tokens, api_tokens.c.token_hash,
    (api_tokens.c.token_id, api_tokens.c.token_hash, api_tokens.c.revoked_at,
     api_tokens.c.expires_at, api_tokens.c.last_used_at),
)  # fmt: skip
CALLER_BY_SESSION = _caller_by(
    sessions, sessions.c.session_hash,
    (sessions.c.csrf_token, sessions.c.expires_at, sessions.c.last_seen_at),
)  # fmt: skip

#: How a caller is made from the rows of a lookup: (connection, rows, digest) -> caller.
Judge = Callable[[Connection, Sequence[Any], str], Caller]


@dataclass(frozen=True, eq=False)
class CallerLookup:
    """One kind of credential as a caller: the statement that reads it with its user and
    programs (bound to ``:digest``) and the judge of its rows (none: no such credential)."""

    name: str
    statement: CompoundSelect
    judge: Judge

    @cached_property
    def fields(self) -> tuple[str, ...]:
        """The columns of the statement's rows, as the judge reads them."""
        return tuple(self.statement.selected_columns.keys())


@dataclass(frozen=True)
class Credential:
    """A credential a request presents, ready to look up: its kind and its digest."""

    lookup: CallerLookup
    digest: str

    def caller(self, conn: Connection, rows: Sequence[Any]) -> Caller:
        """The caller from the lookup's rows for this credential, wherever they were read
        (``Download/file`` reads them with the file's row, in one statement)."""
        return self.lookup.judge(conn, rows, self.digest)


def _user_caller(rows: Sequence[Any], **kind: Any) -> Caller:
    """The user of a lookup's rows (one per readable program) as a caller."""
    user = rows[0]
    return Caller(
        user_id=int(user.user_id),
        email=user.email,
        display_name=user.display_name,
        is_admin=bool(user.is_admin),
        programs=frozenset(r.proposal_id for r in rows if r.proposal_id is not None),
        **kind,
    )


def _token_caller(conn: Connection, rows: Sequence[Any], digest: str) -> Caller:
    """A token's caller; an anonymous caller that remembers why when the token is refused."""
    try:
        accept_token_row(conn, rows[0] if rows else None, digest)
    except Unauthorized as exc:
        return Caller(problem=exc.message)
    return _user_caller(rows, via_token=True)


def _session_caller(conn: Connection, rows: Sequence[Any], digest: str) -> Caller:
    """A live session's caller (with its CSRF token); anonymous for any other cookie."""
    session = accept_session_row(conn, rows[0] if rows else None, digest)
    if session is None:
        return ANONYMOUS
    return _user_caller(rows, csrf_token=session.csrf_token, session_id=session.session_id)


TOKEN = CallerLookup("token", CALLER_BY_TOKEN, _token_caller)
SESSION = CallerLookup("session", CALLER_BY_SESSION, _session_caller)
LOOKUPS = (TOKEN, SESSION)


def credential_of(token: str | None, session_cookie: str | None) -> Credential | Caller:
    """The credential to look up (a token before a session cookie), or the caller known
    without the catalogue: anonymous without credentials (or with a cookie that cannot be a
    session's), refused with the reason for a malformed token."""
    if token:
        try:
            return Credential(TOKEN, token_digest(token))
        except Unauthorized as exc:
            return Caller(problem=exc.message)
    digest = session_digest(session_cookie)
    return ANONYMOUS if digest is None else Credential(SESSION, digest)


def caller_from_credentials(
    conn: Connection, *, token: str | None, session_cookie: str | None
) -> Caller:
    """The caller, in one statement at most; a bad token gives an anonymous caller that
    remembers why (for 401 messages)."""
    found = credential_of(token, session_cookie)
    if isinstance(found, Caller):
        return found
    return found.caller(conn, conn.execute(found.lookup.statement, {"digest": found.digest}).all())


def caller_for_user(
    conn: Connection,
    user_id: int,
    *,
    via_token: bool = False,
) -> Caller:
    """The user as a caller with today's rights (admin flag, programs granted to them).

    For work done later on a user's behalf (the staging job writing a manifest).
    """
    user = get_user(conn, user_id)
    return Caller(
        user_id=user.user_id,
        email=user.email,
        display_name=user.display_name,
        is_admin=user.is_admin,
        programs=programs_readable_by(conn, user.user_id),
        via_token=via_token,
    )


def token_from_headers(authorization: str | None, mast_cookie: str | None) -> str | None:
    """The token from ``Authorization: token|Bearer <t>`` or astroquery's ``mast_token`` cookie."""
    if authorization:
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() in ("token", "bearer") and value.strip():
            return value.strip()
        return authorization.strip()  # a malformed header still counts as a (bad) credential
    return mast_cookie or None
