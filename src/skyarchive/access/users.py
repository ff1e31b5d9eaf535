"""User accounts: creation, passwords (argon2), lookup, disabling."""

from __future__ import annotations

import time
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, bindparam, delete, func, select, update

from skyarchive.access.sessions import end_all_sessions
from skyarchive.db.tables import password_resets, users
from skyarchive.errors import BadQuery, NotFound

_HASHER = PasswordHasher()
# Verifying against this keeps "no such user" as slow as "wrong password".
_DUMMY_HASH = _HASHER.hash("not a password anyone has")
MIN_PASSWORD_LENGTH = 10


@dataclass(frozen=True)
class User:
    user_id: int
    email: str
    display_name: str
    is_admin: bool
    disabled: bool


def _user(row) -> User:  # type: ignore[no-untyped-def]
    return User(row.user_id, row.email, row.display_name, bool(row.is_admin), bool(row.disabled))


def normalise_email(email: str) -> str:
    email = (email or "").strip().lower()
    local, at, domain = email.partition("@")
    odd = any(c.isspace() or not c.isprintable() or c in '<>,;"' for c in email)
    if not at or not local or "." not in domain or "@" in domain or len(email) > 254 or odd:
        raise BadQuery(f"{email[:100]!r} is not an email address (name@example.org).")
    return email


def check_password_strength(password: str) -> None:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise BadQuery(f"Passwords need at least {MIN_PASSWORD_LENGTH} characters.")


def create_user(
    conn: Connection,
    *,
    email: str,
    display_name: str | None = None,
    password: str | None = None,
    is_admin: bool = False,
) -> User:
    """Add an account; BadQuery if the email is taken or invalid, or the password too short."""
    email = normalise_email(email)
    if password is not None:
        check_password_strength(password)
    # Hashed before the lookup, so a taken email costs the same time as a free one.
    password_hash = _HASHER.hash(password) if password else None
    if conn.execute(select(users.c.user_id).where(users.c.email == email)).first():
        raise BadQuery(f"An account for {email} already exists.")
    conn.execute(
        users.insert().values(
            email=email,
            display_name=(display_name or email.split("@")[0]).strip()[:200],
            password_hash=password_hash,
            is_admin=is_admin,
            disabled=False,
            created_at=time.time(),
        )
    )
    return find_user(conn, email)


# Built once: every request with credentials runs it (see tokens._TOKEN_BY_HASH).
_USER_BY_ID = select(users).where(users.c.user_id == bindparam("user_id"))


def get_user(conn: Connection, user_id: int) -> User:
    row = conn.execute(_USER_BY_ID, {"user_id": user_id}).first()
    if row is None:
        raise NotFound(f"No user {user_id}.")
    return _user(row)


def find_user(conn: Connection, email: str) -> User:
    row = conn.execute(select(users).where(users.c.email == (email or "").strip().lower())).first()
    if row is None:
        raise NotFound(f"No account for {email}.")
    return _user(row)


def list_users(conn: Connection) -> list[User]:
    return [_user(r) for r in conn.execute(select(users).order_by(users.c.email))]


def authenticate(conn: Connection, email: str, password: str) -> User | None:
    """The user if the password is right and the account usable, else None (no reason given)."""
    row = conn.execute(select(users).where(users.c.email == (email or "").strip().lower())).first()
    stored = row.password_hash if row is not None and row.password_hash else _DUMMY_HASH
    try:
        _HASHER.verify(stored, password or "")
    except (VerificationError, InvalidHashError):
        return None
    if row is None or not row.password_hash or row.disabled:
        return None
    if _HASHER.check_needs_rehash(stored):
        conn.execute(
            update(users)
            .where(users.c.user_id == row.user_id)
            .values(password_hash=_HASHER.hash(password))
        )
    return _user(row)


def set_password(
    conn: Connection, user_id: int, password: str, *, keep_session: str | None = None
) -> int:
    """Change a password; every session of the user ends except ``keep_session`` (its id).

    Outstanding password-reset links of the user stop working too. Returns how many sessions
    ended. Raises BadQuery when the password is too short.
    """
    check_password_strength(password)
    conn.execute(
        update(users).where(users.c.user_id == user_id).values(password_hash=_HASHER.hash(password))
    )
    conn.execute(delete(password_resets).where(password_resets.c.user_id == user_id))
    return end_all_sessions(conn, user_id, keep=keep_session)


def set_disabled(conn: Connection, email: str, disabled: bool = True) -> User:
    user = find_user(conn, email)
    conn.execute(update(users).where(users.c.user_id == user.user_id).values(disabled=disabled))
    return get_user(conn, user.user_id)


def count_users(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(users)).scalar_one())
