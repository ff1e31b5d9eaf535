"""API tokens: shown once, stored only as SHA-256, compared in constant time by hash lookup."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, select, update

from skyarchive.db.tables import api_tokens, users
from skyarchive.errors import BadQuery, NotFound, Unauthorized

_TOKEN_FORMAT = re.compile(r"^[A-Za-z0-9_-]{20,128}$")
DAY = 86_400.0


@dataclass(frozen=True)
class TokenInfo:
    token_id: int
    user_id: int
    name: str
    prefix: str
    created_at: float
    expires_at: float
    revoked_at: float | None
    last_used_at: float | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None and self.expires_at > time.time()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    conn: Connection, *, user_id: int, name: str, days: float, max_days: float
) -> tuple[str, TokenInfo]:
    """A new token (the plain text is returned once and never stored)."""
    name = (name or "").strip()[:100] or "token"
    if not 0 < days <= max_days:
        raise BadQuery(f"A token may last between 1 and {max_days:g} days, not {days:g}.")
    token = secrets.token_urlsafe(32)
    now = time.time()
    token_id = conn.execute(
        api_tokens.insert().values(
            user_id=user_id, name=name, token_hash=token_hash(token), prefix=token[:8],
            created_at=now, expires_at=now + days * DAY,
        ).returning(api_tokens.c.token_id)
    ).scalar_one()  # fmt: skip
    return token, get_token(conn, token_id, user_id=user_id)


def get_token(conn: Connection, token_id: int, *, user_id: int) -> TokenInfo:
    """A token of ``user_id``; NotFound for someone else's token (no hint that it exists)."""
    row = conn.execute(
        select(api_tokens).where(api_tokens.c.token_id == token_id, api_tokens.c.user_id == user_id)
    ).first()
    if row is None:
        raise NotFound(f"You have no token {token_id}.")
    return _info(row)


def list_tokens(conn: Connection, *, user_id: int) -> list[TokenInfo]:
    rows = conn.execute(
        select(api_tokens)
        .where(api_tokens.c.user_id == user_id)
        .order_by(api_tokens.c.created_at.desc())
    )
    return [_info(r) for r in rows]


def revoke_token(conn: Connection, token_id: int, *, user_id: int) -> TokenInfo:
    info = get_token(conn, token_id, user_id=user_id)
    if info.revoked_at is None:
        conn.execute(
            update(api_tokens)
            .where(api_tokens.c.token_id == token_id)
            .values(revoked_at=time.time())
        )
    return get_token(conn, token_id, user_id=user_id)


# Built once: every request with a token runs it, and building it cost more than running it.
_TOKEN_BY_HASH = (
    select(api_tokens, users.c.disabled)
    .join(users, users.c.user_id == api_tokens.c.user_id)
    .where(api_tokens.c.token_hash == bindparam("digest"))
)


def user_for_token(conn: Connection, token: str) -> int:
    """The user a presented token belongs to; Unauthorized saying what is wrong with it."""
    digest = token_digest(token)
    return accept_token_row(conn, conn.execute(_TOKEN_BY_HASH, {"digest": digest}).first(), digest)


def token_digest(token: str) -> str:
    """The hash a presented token is looked up by; Unauthorized when it is malformed."""
    token = (token or "").strip()
    if not _TOKEN_FORMAT.match(token):
        raise Unauthorized("The API token is malformed; create a new one on your account page.")
    return token_hash(token)


def accept_token_row(conn: Connection, row, digest: str) -> int:  # type: ignore[no-untyped-def]
    """The user of the token row found by ``digest`` (None: no such token), or Unauthorized
    saying what is wrong with it. ``row`` needs the token's columns and the user's
    ``disabled``; the caller's lookup (``access/caller.py``) finds it in the same statement as
    the user and their programs. Records the use (at most once a minute)."""
    # The lookup is by hash, so timing does not depend on how much of a token is right;
    # the final comparison is constant-time as well.
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        raise Unauthorized("The API token is not valid; create a new one on your account page.")
    now = time.time()
    if row.revoked_at is not None:
        raise Unauthorized("The API token was revoked; create a new one on your account page.")
    if row.expires_at <= now:
        raise Unauthorized("The API token has expired; create a new one on your account page.")
    if row.disabled:
        raise Unauthorized("The account this API token belongs to is disabled.")
    if row.last_used_at is None or now - row.last_used_at > 60:
        conn.execute(
            update(api_tokens).where(api_tokens.c.token_id == row.token_id).values(last_used_at=now)
        )
    return int(row.user_id)


def _info(row) -> TokenInfo:  # type: ignore[no-untyped-def]
    return TokenInfo(
        row.token_id, row.user_id, row.name, row.prefix, row.created_at, row.expires_at,
        row.revoked_at, row.last_used_at,
    )  # fmt: skip
