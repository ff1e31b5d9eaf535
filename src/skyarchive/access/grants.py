"""Programs' PIs and the people they authorise for exclusive-access data."""

from __future__ import annotations

import time

from sqlalchemy import Connection, bindparam, delete, select, union, update

from skyarchive.db.tables import observations, program_access, programs, users
from skyarchive.db.upsert import insert_ignore
from skyarchive.errors import Forbidden, NotFound


def program_row(conn: Connection, proposal_id: str):  # type: ignore[no-untyped-def]
    row = conn.execute(select(programs).where(programs.c.proposal_id == str(proposal_id))).first()
    if row is None:
        raise NotFound(f"No program {proposal_id} in this archive.")
    return row


#: Where a user's readable programs come from, as (table, its user column, its program
#: column): the programs they lead, and those their PI authorised them for. The one source of
#: both :func:`programs_readable_by` and the caller's single-statement lookup
#: (``access/caller.py``).
READABLE_PROGRAM_SOURCES = (
    (programs, programs.c.pi_user_id, programs.c.proposal_id),
    (program_access, program_access.c.user_id, program_access.c.proposal_id),
)

# Built once: every request with credentials runs it (see tokens._TOKEN_BY_HASH).
_READABLE_PROGRAMS = union(
    *(
        select(program).where(user == bindparam("user_id"))
        for _table, user, program in READABLE_PROGRAM_SOURCES
    )
)


def programs_readable_by(conn: Connection, user_id: int) -> frozenset[str]:
    """Programs whose exclusive-access files ``user_id`` may retrieve (as PI or authorised)."""
    return frozenset(r for (r,) in conn.execute(_READABLE_PROGRAMS, {"user_id": user_id}))


def programs_led_by(conn: Connection, user_id: int) -> list[str]:
    rows = conn.execute(
        select(programs.c.proposal_id)
        .where(programs.c.pi_user_id == user_id)
        .order_by(programs.c.proposal_id)
    )
    return [r for (r,) in rows]


def ensure_may_manage(conn: Connection, proposal_id: str, *, user_id: int, is_admin: bool) -> None:
    """Only the program's PI and admins manage its authorisations."""
    program = program_row(conn, proposal_id)
    if not is_admin and program.pi_user_id != user_id:
        raise Forbidden(f"Only the PI of program {proposal_id} or an admin can change its access.")


def grant(conn: Connection, proposal_id: str, *, user_id: int, granted_by: int | None) -> None:
    program_row(conn, proposal_id)
    insert_ignore(
        conn,
        program_access,
        [{"proposal_id": str(proposal_id), "user_id": user_id, "granted_by": granted_by,
          "granted_at": time.time()}],
    )  # fmt: skip


def revoke(conn: Connection, proposal_id: str, *, user_id: int) -> None:
    program_row(conn, proposal_id)
    conn.execute(
        delete(program_access).where(
            program_access.c.proposal_id == str(proposal_id), program_access.c.user_id == user_id
        )
    )


def authorised_users(conn: Connection, proposal_id: str) -> list[tuple[int, str, str]]:
    """(user_id, email, display name) of everyone the PI has authorised."""
    rows = conn.execute(
        select(users.c.user_id, users.c.email, users.c.display_name)
        .join(program_access, program_access.c.user_id == users.c.user_id)
        .where(program_access.c.proposal_id == str(proposal_id))
        .order_by(users.c.email)
    )
    return [tuple(r) for r in rows]


def set_pi(conn: Connection, proposal_id: str, *, user_id: int | None) -> None:
    program_row(conn, proposal_id)
    conn.execute(
        update(programs)
        .where(programs.c.proposal_id == str(proposal_id))
        .values(pi_user_id=user_id)
    )


def program_ids(conn: Connection) -> list[str]:
    return [
        r for (r,) in conn.execute(select(programs.c.proposal_id).order_by(programs.c.proposal_id))
    ]


def program_release_summary(
    conn: Connection, proposal_id: str
) -> tuple[float | None, float | None]:
    """(earliest, latest) t_obs_release of the program's observations."""
    from sqlalchemy import func

    return tuple(  # type: ignore[return-value]
        conn.execute(
            select(
                func.min(observations.c.t_obs_release), func.max(observations.c.t_obs_release)
            ).where(observations.c.proposal_id == str(proposal_id))
        ).one()
    )
