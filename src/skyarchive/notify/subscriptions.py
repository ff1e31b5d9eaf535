"""Subscriptions to a program's data: what a user follows, and how often they hear about it.

A subscription names a collection (JWST or HST) and a program ID, which need not be in the
archive yet. Every function takes the signed-in user's id and touches only that user's rows:
another user's subscription is "not found", exactly like one that does not exist.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, delete, func, select, update

from skyarchive.db.tables import notification_deliveries, subscriptions
from skyarchive.db.upsert import insert_ignore
from skyarchive.errors import BadQuery, NotFound

NEW, FIRST, REPROCESSED, PUBLIC = "New", "First", "Reprocessed", "Public"
KINDS = (NEW, FIRST, REPROCESSED, PUBLIC)
KIND_HELP = {
    NEW: "any data of the program archived for the first time",
    FIRST: "the program's first data",
    REPROCESSED: "a newer version of an archived file replaced the old one",
    PUBLIC: "files moved from exclusive access to public",
}
# frequency -> (seconds between e-mails, the word in the attachment's name), as MAST offers
FREQUENCIES = {"fast": (3600.0, "hourly"), "daily": (86400.0, "daily"),
               "weekly": (7 * 86400.0, "weekly"), "monthly": (30 * 86400.0, "monthly")}  # fmt: skip
#: How each frequency is shown to users (forms, lists, e-mails).
FREQUENCY_LABELS = {"fast": "Fast (hourly)", "daily": "Daily", "weekly": "Weekly",
                    "monthly": "Monthly"}  # fmt: skip
COLLECTIONS = ("JWST", "HST")
MAX_PER_USER = 200
_PROGRAM = re.compile(r"^\d{1,6}$")


@dataclass(frozen=True)
class Subscription:
    subscription_id: int
    user_id: int
    obs_collection: str
    proposal_id: str
    kinds: tuple[str, ...]
    frequency: str
    created_at: float
    last_sent_at: float | None


def parse_program_ids(text: str) -> list[str]:
    """Program IDs from "1558, 04567 ..." (commas or spaces), unpadded, in order, no repeats."""
    found: list[str] = []
    for part in re.split(r"[,\s]+", text.strip()):
        if not part:
            continue
        if not _PROGRAM.match(part):
            raise BadQuery(f"{part!r} is not a program ID (digits only, e.g. 1558).")
        program = str(int(part))
        if program == "0":  # no program is numbered 0 (nor 00000)
            raise BadQuery(f"{part!r} is not a program ID: program IDs start at 1.")
        if program not in found:
            found.append(program)
    if not found:
        raise BadQuery("Give at least one program ID.")
    return found


def check_kinds(kinds: Iterable[str]) -> tuple[str, ...]:
    chosen = {k.strip().lower() for k in kinds}
    ordered = tuple(k for k in KINDS if k.lower() in chosen)
    unknown = chosen - {k.lower() for k in KINDS}
    if unknown:
        raise BadQuery(f"Unknown notification kind {sorted(unknown)[0]!r}; use {', '.join(KINDS)}.")
    if not ordered:
        raise BadQuery("Choose at least one kind of notification.")
    return ordered


def check_frequency(frequency: str) -> str:
    value = frequency.strip().lower()
    if value not in FREQUENCIES:
        choices = ", ".join(FREQUENCIES)
        raise BadQuery(f"Unknown frequency {frequency!r}; use one of {choices}.")
    return value


def check_collection(collection: str) -> str:
    value = collection.strip().upper()
    if value not in COLLECTIONS:
        raise BadQuery(f"Subscriptions are for {' and '.join(COLLECTIONS)} programs only.")
    return value


def subscribe(
    conn: Connection,
    *,
    user_id: int,
    program_ids: Sequence[str],
    kinds: Iterable[str],
    frequency: str,
    collection: str = "JWST",
    now: float | None = None,
) -> list[Subscription]:
    """Follow programs; an existing subscription to one of them takes the new kinds and frequency.

    Returns the user's subscriptions to ``program_ids``.
    """
    chosen = ",".join(check_kinds(kinds))
    how_often = check_frequency(frequency)
    collection = check_collection(collection)
    programs = [str(int(p)) if str(p).isdigit() else p for p in program_ids]
    for program in programs:
        if not _PROGRAM.match(program) or program == "0":
            raise BadQuery(f"{program!r} is not a program ID (digits only, e.g. 1558).")
    mine = subscriptions.c.user_id == user_id
    have = set(conn.scalars(select(subscriptions.c.proposal_id).where(
        mine, subscriptions.c.obs_collection == collection)))  # fmt: skip
    total = conn.scalar(select(func.count()).select_from(subscriptions).where(mine)) or 0
    if total + len(set(programs) - have) > MAX_PER_USER:
        raise BadQuery(f"At most {MAX_PER_USER} subscriptions per account.")
    now = time.time() if now is None else now
    insert_ignore(
        conn,
        subscriptions,
        [{"user_id": user_id, "obs_collection": collection, "proposal_id": p, "kinds": chosen,
          "frequency": how_often, "created_at": now} for p in programs],
    )  # fmt: skip
    conn.execute(
        update(subscriptions)
        .where(mine, subscriptions.c.obs_collection == collection,
               subscriptions.c.proposal_id.in_(programs))
        .values(kinds=chosen, frequency=how_often)
    )  # fmt: skip
    return [
        s
        for s in list_subscriptions(conn, user_id=user_id)
        if s.obs_collection == collection and s.proposal_id in programs
    ]


def list_subscriptions(conn: Connection, *, user_id: int) -> list[Subscription]:
    """The user's own subscriptions, by collection and program."""
    rows = conn.execute(
        select(subscriptions)
        .where(subscriptions.c.user_id == user_id)
        .order_by(subscriptions.c.obs_collection, func.length(subscriptions.c.proposal_id),
                  subscriptions.c.proposal_id)
    ).mappings()  # fmt: skip
    return [subscription_from_row(row) for row in rows]


def unsubscribe(conn: Connection, subscription_id: int, *, user_id: int) -> None:
    """Remove one of the user's subscriptions; NotFound if it is not theirs (or not there)."""
    owned = conn.scalar(
        select(subscriptions.c.subscription_id).where(
            subscriptions.c.subscription_id == subscription_id, subscriptions.c.user_id == user_id
        )
    )
    if owned is None:
        raise NotFound(f"You have no subscription {subscription_id}.")
    conn.execute(
        delete(notification_deliveries).where(
            notification_deliveries.c.subscription_id == subscription_id
        )
    )
    conn.execute(delete(subscriptions).where(subscriptions.c.subscription_id == subscription_id))


def subscribed_programs(conn: Connection, collection: str, programs: Iterable[str]) -> set[str]:
    """Which of ``programs`` (of ``collection``) anyone follows: events are kept only for those."""
    wanted = sorted(set(programs))
    if not wanted:
        return set()
    rows = conn.scalars(
        select(subscriptions.c.proposal_id.distinct()).where(
            subscriptions.c.obs_collection == collection, subscriptions.c.proposal_id.in_(wanted)
        )
    )
    return set(rows)


def subscription_from_row(row) -> Subscription:  # type: ignore[no-untyped-def]
    return Subscription(
        subscription_id=int(row["subscription_id"]),
        user_id=int(row["user_id"]),
        obs_collection=row["obs_collection"],
        proposal_id=row["proposal_id"],
        kinds=tuple(k for k in row["kinds"].split(",") if k),
        frequency=row["frequency"],
        created_at=float(row["created_at"]),
        last_sent_at=row["last_sent_at"],
    )
