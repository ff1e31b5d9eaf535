"""Ready-made accounts of the demo archive, so a newcomer can try exclusive access at once.

Program 4567 (HD 189733, observed two weeks before the demo archive was built, 12 months of
exclusive access) has a PI, a co-investigator the PI authorised, and an outsider with no access.
Their passwords are random, made when the accounts are first created, and kept in
``demo-accounts.json`` in the archive home (readable by its owner only), so every start of
``skyarchive demo`` can print them again.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy.engine import Engine

from skyarchive.access import grants, users
from skyarchive.access.rights import now_mjd
from skyarchive.errors import NotFound

ACCOUNTS_FILE = "demo-accounts.json"
EAP_PROGRAM = "4567"


@dataclass(frozen=True)
class DemoAccount:
    role: str
    email: str
    password: str
    display_name: str
    sees: str


_PEOPLE = (
    ("PI", "ana.rivera@example.org", "Ana Rivera",
     f"PI of program {EAP_PROGRAM}: its exclusive-access files, and all public data"),
    ("co-investigator", "coi@example.org", "Sam Coi",
     f"authorised by the PI for program {EAP_PROGRAM}, and all public data"),
    ("outsider", "outsider@example.org", "Alex Outsider",
     f"public data only (program {EAP_PROGRAM}'s files are refused)"),
)  # fmt: skip


def ensure_demo_accounts(engine: Engine, home: Path) -> list[DemoAccount]:
    """The demo accounts, created (with new passwords) the first time, then read back."""
    path = home / ACCOUNTS_FILE
    if path.exists():
        return [DemoAccount(**entry) for entry in json.loads(path.read_text(encoding="utf-8"))]
    accounts = [
        DemoAccount(role, email, secrets.token_urlsafe(12), name, sees)
        for role, email, name, sees in _PEOPLE
    ]
    with engine.begin() as conn:
        ids = {}
        for account in accounts:
            try:
                user_id = users.find_user(conn, account.email).user_id
                users.set_password(conn, user_id, account.password)
            except NotFound:
                user_id = users.create_user(
                    conn, email=account.email, display_name=account.display_name,
                    password=account.password,
                ).user_id  # fmt: skip
            ids[account.role] = user_id
        grants.set_pi(conn, EAP_PROGRAM, user_id=ids["PI"])
        grants.grant(conn, EAP_PROGRAM, user_id=ids["co-investigator"], granted_by=ids["PI"])
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump([asdict(account) for account in accounts], handle, indent=1)
    return accounts


def exclusive_access_ended(engine: Engine, home: Path) -> str | None:
    """A line for a demo archive built so long ago that program 4567 has become public.

    The demo's dates follow the day it was built (exclusive access ends about 11 months later),
    so an old ``demo-archive`` no longer shows exclusive access; a fresh home shows it again.
    """
    with engine.connect() as conn:
        first, _last = grants.program_release_summary(conn, EAP_PROGRAM)
    if first is None or first > now_mjd():
        return None
    return (
        f"Program {EAP_PROGRAM}'s exclusive-access period has ended in this demo archive, so "
        f"its files are public now; remove {home} and run the demo again for a fresh one."
    )
