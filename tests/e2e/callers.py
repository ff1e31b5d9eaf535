"""The kinds of caller every download path is tested with, made in a real archive's catalog.

anonymous, malformed token, expired token, revoked token, outsider ("other"), granted
("coi"), PI and admin; :data:`EXPECTED` is the status each gets for an exclusive-access file.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from sqlalchemy import Engine, select, update

from skyarchive.access import grants, tokens, users
from skyarchive.db.tables import api_tokens

PASSWORD = "a long enough password"
ROLES = ("pi", "coi", "other", "admin", "expired", "revoked")

# caller -> expected status for an exclusive-access file
EXPECTED = {
    "anonymous": 401,
    "malformed": 401,
    "expired": 401,
    "revoked": 401,
    "other": 403,
    "coi": 200,
    "pi": 200,
    "admin": 200,
}


@dataclass
class Callers:
    tokens: dict[str, str]  # role -> API token
    emails: dict[str, str]
    user_ids: dict[str, int]


def create_callers(engine: Engine, program: str) -> Callers:
    """One user per role with a 5-day token; ``program``'s PI, a colleague the PI authorised,
    and two more the PI authorised whose tokens are expired and revoked."""
    tag = uuid.uuid4().hex[:6]
    emails = {role: f"{role}-{tag}@example.org" for role in ROLES}
    issued: dict[str, str] = {}
    ids: dict[str, int] = {}
    with engine.begin() as conn:
        for role, email in emails.items():
            ids[role] = users.create_user(
                conn, email=email, display_name=f"{role.title()} Person", password=PASSWORD,
                is_admin=role == "admin",
            ).user_id  # fmt: skip
            issued[role], _info = tokens.create_token(
                conn, user_id=ids[role], name=role, days=5, max_days=60
            )
        grants.set_pi(conn, program, user_id=ids["pi"])
        for role in ("coi", "expired", "revoked"):
            grants.grant(conn, program, user_id=ids[role], granted_by=ids["pi"])
        conn.execute(
            update(api_tokens)
            .where(api_tokens.c.user_id == ids["expired"])
            .values(expires_at=time.time() - 60)
        )
        revoked_id = conn.execute(
            select(api_tokens.c.token_id).where(api_tokens.c.user_id == ids["revoked"])
        ).scalar_one()
        tokens.revoke_token(conn, revoked_id, user_id=ids["revoked"])
    return Callers(issued, emails, ids)


def headers_for(callers: Callers, who: str, style: str = "token") -> dict[str, str]:
    """The credentials ``who`` sends: token header (token or Bearer scheme) or cookie."""
    if who == "anonymous":
        return {}
    token = "not-a-token!" if who == "malformed" else callers.tokens[who]
    if style == "cookie":
        return {"Cookie": f"mast_token={token}"}
    return {"Authorization": f"{'Bearer' if style == 'bearer' else 'token'} {token}"}
