"""Changing a program's exclusive-access period: release dates follow, subscribers hear of it.

This lives in ingest (not access) because it rewrites catalogue release dates and records the
Public events of notify; access only answers who may retrieve what. A change that takes images
of the archive's sky (HiPS) out of the public set withholds that sky until it is built anew
(:mod:`skyarchive.ingest.hips_store`).
"""

from __future__ import annotations

from sqlalchemy import Connection, update

from skyarchive.access.grants import program_row
from skyarchive.access.rights import now_mjd
from skyarchive.db.tables import programs
from skyarchive.ingest.hips import program_sky_images
from skyarchive.ingest.hips_store import hold_sky, in_sky, mark_stale
from skyarchive.ingest.linking import apply_release_dates
from skyarchive.notify.digest_text import counted
from skyarchive.notify.events import Opened, record_release_changes, release_snapshot


def set_eap_months(
    conn: Connection, proposal_id: str, months: int | None, *, default_months: int
) -> Opened:
    """Change a program's exclusive-access period; release dates follow at once.

    Returns how many files the change made public, and the Public events it recorded.
    """
    program = str(proposal_id)
    hold_sky(conn)  # a build publishing now either sees this change or is seen by it
    program_row(conn, program)  # NotFound for an unknown program
    before = release_snapshot(conn, program)
    now = now_mjd()
    # a program whose images are not in the built HiPS (exclusive when it was built) cannot
    # take any out of it, whatever its period does in between
    sky_before = program_sky_images(conn, program, now=now) if in_sky(conn, program) else set()
    conn.execute(
        update(programs).where(programs.c.proposal_id == program).values(eap_months=months)
    )
    apply_release_dates(conn, program, default_eap_months=default_months)
    if sky_before - program_sky_images(conn, program, now=now):
        # images in the HiPS are exclusive again: it is withheld until it is built anew
        mark_stale(conn, [program])
    return record_release_changes(conn, program, before)  # Public events for subscribers


def opened_sentence(opened: Opened) -> str:
    """What a change did, as the CLI and the admin form both say it."""
    return (
        f"{counted(opened.files, 'file')} became public "
        f"({counted(opened.events, 'Public event')} for subscribers)"
    )
